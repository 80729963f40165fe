/**
 * The deriver: turns the committed `log.line` records of a store into typed evidence (`usb.*`,
 * `file.access`, `auth.logon`, `process.exec`, `net.access`) appended to the same store, each naming the seq(s) of the line(s) it
 * was read from. Shared by the agent (continuously) and the collector; it is given a store, it never
 * opens one.
 *
 * - Input: committed `log.line` records in seq order, whatever their source; derived records and
 *   the agent's own records are never fed back. Parsers apply by content (see lines.ts), with state
 *   per file path. Pieces of one long line (`partial: true`) are joined (up to {@link MAX_JOIN_BYTES})
 *   before parsing, and the records read from them name every piece. A line that is not valid UTF-8
 *   (`raw_b64`) is read as latin1 and the records read from it say so in `extra.text_decoding`.
 * - Failures (a line a parser recognised but could not read) are counted by reason in the status
 *   and the log, not recorded as evidence: the line itself is preserved, nothing was lost.
 * - Crash safety, with the evidence as the source of truth: parsers are finished (everything still
 *   building is emitted) when the input has been idle for `idleFinishMs`, after
 *   `maxLinesBetweenFinishes` lines, and at stop. After the records of a finish are committed, the
 *   state database records `fed_through` (every line up to that seq has been fed and its records
 *   are committed) together with what the parsers keep after that finish (see below). A restart
 *   feeds from there with that parser context, and first reads the derived records after that
 *   point, so a record it would write again (same kind and derived_from) is skipped: a kill -9 at
 *   any instant neither loses nor duplicates a derived record. Without the state database (lost or
 *   new), the whole store is read again from fresh parser state, with the same protection.
 * - Memory is bounded: rows are read in batches, parser state is bounded per file, held partial
 *   lines are capped, and the duplicate table only spans the records after `fed_through`.
 *
 * Carried over a restart (a crash or a clean stop and start), per file: the open USB sessions with
 * the device identity their disconnect repeats, the boot id and kernel uptime that tell a reboot,
 * recent SCSI hosts, an IIS W3C file's current `#Fields:`, and the year of the last RFC 3164 line (so a December → January rollover across
 * the restart still moves to the next year). It is the context of the saved position: a kill -9
 * feeds again, from that position, the lines read since, with the context as it was then.
 * Known limits: a syslog continuation line right after the restart point is read on its own (the
 * previous message is not saved); a saved context that cannot be read (another version, damaged) is
 * ignored in part or in whole, as is one beyond its caps (sessions whose strings exceed 1024
 * characters, more than 64 per file or 1024 in all); and without the state database nothing is
 * carried: a disconnect whose connect came before the restart point is then recorded without the
 * device's identity (`extra.pairing`).
 */
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import type { DerivedRecord, ParseFailure, ParseOutput } from '../parsers/types.js';
import type { TextParsersOptions, TextParsersRestore } from '../parsers/text-dispatch.js';
import type { EvidenceStore } from '../store/evidence-store.js';
import type { StateStore } from '../store/state-store.js';
import { createLineDeriver, decodeLineBytes, LATIN1_NOTE, type LineDeriver } from './lines.js';

export { createLineDeriver, deriveFromLines, decodeLineBytes, isAuditLine } from './lines.js';

/** `source` of derived records: this prefix and the parser that produced them. */
export const DERIVE_SOURCE_PREFIX = 'derive:';
/** State database key of the deriver's position and counters. */
export const DERIVE_STATE_KEY = 'derive.position';
/** Kinds the parsers derive. */
export const DERIVED_KINDS: ReadonlySet<string> = new Set(['usb.connect', 'usb.disconnect', 'usb.present', 'file.access', 'file.change', 'auth.logon', 'process.exec', 'net.access']);
/** A long line's pieces are joined up to this many bytes for parsing (no parser reads longer lines). */
export const MAX_JOIN_BYTES = 1 << 20;
/** Lines whose records need a note (joined pieces, latin1) are remembered this long (in lines). */
const NOTE_MEMORY = 4096;
/** Failures kept as examples per reason for the status. */
const FAILURE_SAMPLES = 3;

export interface DeriverLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DeriverOptions {
  /** Finish the parsers when no new line has come for this long (ms). Default 5000. */
  idleFinishMs: number;
  /** …or after this many lines since the last finish. Default 50000. */
  maxLinesBetweenFinishes: number;
  /** Rows read from the store per batch. Default 1000. */
  batchRows: number;
  /** Background loop: wait this long when caught up (ms). Default 200. */
  intervalMs: number;
  /** Background loop: wait this long after a store error (ms). Default 2000. */
  retryMs: number;
  /** Passed to the text parsers (e.g. the UTC offset of year-less local times). */
  text?: TextParsersOptions;
}

export const DEFAULT_DERIVER_OPTIONS: DeriverOptions = {
  idleFinishMs: 5000,
  maxLinesBetweenFinishes: 50_000,
  batchRows: 1000,
  intervalMs: 200,
  retryMs: 2000,
};

export interface DeriverDeps {
  store: EvidenceStore;
  /** Where the position is kept; without one, every start reads the whole store (still exact). */
  state?: StateStore;
  logger?: DeriverLogger;
  clock?: Clock;
}

interface PersistedPosition {
  /** Every log.line with seq ≤ this was fed, finished, and its records committed. -1: none. */
  fed_through: number;
  store_id: string;
  /** The parsers' context right after that finish (LineDeriver.context()); absent before it was saved. */
  parser_context?: unknown;
}

/** What resume() found: where it continues, and what parser context it took from the saved position. */
export interface DeriverResume {
  fromSeq: number;
  existing: number;
  cache: 'used' | 'missing' | 'invalid';
  /** Only when the saved position was used and had a context. */
  context?: TextParsersRestore;
}

export interface DeriverStatus {
  /** Next seq to read. */
  next_seq: number;
  fed_through: number;
  lag_records: number;
  lines: number;
  records: Record<string, number>;
  duplicates_skipped: number;
  failures: Record<string, number>;
  failure_samples: ParseFailure[];
  finishes: { idle: number; forced: number; stop: number };
  resumed_from: number;
  pending_duplicates: number;
  last_error?: string;
}

interface Held {
  seqs: number[];
  parts: Uint8Array[];
  bytes: number;
  observedAt: string;
  truncated: boolean;
}

interface LineNote {
  pieces?: number[];
  latin1?: boolean;
}

function keyOf(kind: string, derivedFrom: readonly number[]): string {
  return `${kind}|${derivedFrom.join(',')}`;
}

function parseRow(bytes: Uint8Array): Record<string, unknown> {
  // The store's own committed bytes: JSON.parse is enough (verification is `custody verify`'s job).
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Record<string, unknown>;
}

export class Deriver {
  private readonly store: EvidenceStore;
  private readonly state: StateStore | undefined;
  private readonly log: DeriverLogger | undefined;
  private readonly clock: Clock;
  private readonly options: DeriverOptions;

  private parsers: LineDeriver;
  private nextSeq = 0;
  private fedThrough = -1;
  private resumedFrom = 0;
  private resumed = false;
  /** (kind, derived_from) → how many such records exist after fed_through (from before a restart). */
  private existing = new Map<string, number>();
  /** Records appended before this seq were in the store at resume; `existing` is useless after a finish beyond it. */
  private existingUntil = 0;
  private readonly held = new Map<string, Held>();
  private readonly notes = new Map<number, LineNote>();
  private linesSinceFinish = 0;
  private lastInputMono: bigint;
  private storeError: string | undefined;

  private readonly counters = {
    lines: 0,
    records: {} as Record<string, number>,
    duplicates: 0,
    failures: {} as Record<string, number>,
    samples: [] as ParseFailure[],
    finishes: { idle: 0, forced: 0, stop: 0 },
  };

  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(deps: DeriverDeps, options: Partial<DeriverOptions> = {}) {
    this.store = deps.store;
    this.state = deps.state;
    this.log = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.options = { ...DEFAULT_DERIVER_OPTIONS, ...options };
    this.parsers = createLineDeriver(this.options.text ?? {});
    this.lastInputMono = this.clock.monoNs();
  }

  /**
   * Finds where to continue (the state's fed_through, checked against the store), restores the
   * parser context saved with it, and reads the derived records written after it, so none is
   * written twice. Called by start() and pump().
   */
  resume(): DeriverResume {
    let cache: 'used' | 'missing' | 'invalid' = 'missing';
    let fedThrough = -1;
    let raw: unknown;
    try {
      raw = this.state?.get<unknown>(DERIVE_STATE_KEY);
    } catch {
      raw = undefined;
    }
    // The parsers as they were at the position resumed from: fresh, or with the context saved with it.
    this.parsers = createLineDeriver(this.options.text ?? {});
    let context: TextParsersRestore | undefined;
    if (raw !== undefined) {
      const p = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<PersistedPosition>;
      if (typeof p.fed_through === 'number' && Number.isSafeInteger(p.fed_through) && p.fed_through >= -1 && p.fed_through < this.store.size && p.store_id === this.store.storeId) {
        cache = 'used';
        fedThrough = p.fed_through;
        if (p.parser_context !== undefined) context = this.parsers.restore(p.parser_context);
      } else cache = 'invalid';
    }
    this.fedThrough = fedThrough;
    this.nextSeq = fedThrough + 1;
    this.resumedFrom = this.nextSeq;
    this.existing = new Map();
    let count = 0;
    for (const row of this.store.records(this.nextSeq)) {
      if (!DERIVED_KINDS.has(row.kind)) continue;
      const rec = parseRow(row.bytes);
      if (typeof rec['source'] !== 'string' || !rec['source'].startsWith(DERIVE_SOURCE_PREFIX)) continue;
      const df = (rec['payload'] as { derived_from?: unknown } | undefined)?.derived_from;
      if (!Array.isArray(df)) continue;
      const key = keyOf(row.kind, df as number[]);
      this.existing.set(key, (this.existing.get(key) ?? 0) + 1);
      count++;
    }
    this.existingUntil = this.store.nextSequence;
    this.resumed = true;
    const restored =
      context === undefined
        ? undefined
        : { files: context.files, usb_sessions: context.usbSessions, entries: context.restored, ignored: context.ignored };
    this.log?.info(
      { evt: 'derive.resumed', from_seq: this.nextSeq, cache, existing_derived: count, store_records: this.store.size, ...(restored ? { context: restored } : {}) },
      'deriving typed evidence from preserved lines',
    );
    if (context !== undefined && context.ignored > 0) {
      this.log?.warn(
        { evt: 'derive.context_ignored', ignored: context.ignored, restored: context.restored },
        'part of the saved parser context was not understood and is ignored: a disconnect whose connect it held is recorded without the device identity',
      );
    }
    const result: DeriverResume = { fromSeq: this.nextSeq, existing: count, cache };
    if (context !== undefined) result.context = context;
    return result;
  }

  /**
   * Reads up to `maxRows` committed records after the last one read, feeds the `log.line` ones to
   * the parsers and appends what they derive. Returns the number of rows read (0: caught up).
   */
  pump(maxRows = this.options.batchRows): number {
    if (!this.resumed) this.resume();
    const rows: Array<{ seq: number; kind: string; bytes: Uint8Array }> = [];
    for (const row of this.store.records(this.nextSeq)) {
      rows.push({ seq: row.seq, kind: row.kind, bytes: row.bytes });
      if (rows.length >= maxRows) break;
    }
    let read = 0;
    for (const row of rows) {
      read++;
      this.nextSeq = row.seq + 1;
      if (row.kind === 'log.line') this.feedRow(row.seq, parseRow(row.bytes));
      if (this.storeError !== undefined) break;
    }
    if (read > 0 && rows.some((r) => r.kind === 'log.line')) this.lastInputMono = this.clock.monoNs();
    return read;
  }

  /** Finishes the parsers when the input has been idle long enough, or too many lines came since the last finish. */
  maybeFinish(): boolean {
    if (this.linesSinceFinish === 0 && this.held.size === 0) {
      // Nothing fed since the last finish: only the position may need to move past non-line records.
      if (this.nextSeq - 1 > this.fedThrough && this.clock.monoNs() - this.lastInputMono >= BigInt(this.options.idleFinishMs) * 1_000_000n) {
        this.finishNow('idle');
        return true;
      }
      return false;
    }
    if (this.linesSinceFinish >= this.options.maxLinesBetweenFinishes) {
      this.finishNow('forced');
      return true;
    }
    if (this.clock.monoNs() - this.lastInputMono >= BigInt(this.options.idleFinishMs) * 1_000_000n) {
      this.finishNow('idle');
      return true;
    }
    return false;
  }

  /**
   * Feeds held partial lines, finishes the parsers, appends what they emit, commits, and records the
   * position. Throws E_STORE_WRITE_FAILED when the commit fails (the position is then not moved).
   */
  finishNow(why: 'idle' | 'forced' | 'stop'): void {
    if (!this.resumed) this.resume();
    for (const path of [...this.held.keys()]) this.releaseHeld(path);
    this.emit(this.parsers.finish());
    this.store.flush();
    if (this.storeError !== undefined) {
      // flush() succeeded, so what append could not commit is committed now.
      this.storeError = undefined;
    }
    this.fedThrough = this.nextSeq - 1;
    this.linesSinceFinish = 0;
    this.counters.finishes[why]++;
    if (this.existing.size > 0 && this.nextSeq >= this.existingUntil) this.existing.clear();
    this.persist();
    this.log?.debug({ evt: 'derive.finished', why, fed_through: this.fedThrough }, 'parsers finished; position saved');
  }

  /** Runs pump/maybeFinish in the background until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (!this.resumed) this.resume();
    this.schedule(0);
  }

  /**
   * Stops the background loop, derives from what is committed (at most `drainRows` more rows, so a
   * large backlog cannot hold up a shutdown; the rest is read on the next start), and finishes.
   */
  stop(options: { drainRows?: number } = {}): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    let budget = options.drainRows ?? 100_000;
    try {
      while (budget > 0) {
        const n = this.pump(Math.min(budget, this.options.batchRows));
        if (n === 0 || this.storeError !== undefined) break;
        budget -= n;
      }
      this.finishNow('stop');
      this.log?.info({ evt: 'derive.stopped', fed_through: this.fedThrough, lag_records: this.store.size - this.nextSeq }, 'deriver stopped');
    } catch (err) {
      this.log?.error({ evt: 'derive.stop_failed', code: (err as { code?: string }).code, err: messageOf(err) }, 'deriving at stop failed; the next start resumes from the last saved position');
    }
  }

  status(): DeriverStatus {
    const s: DeriverStatus = {
      next_seq: this.nextSeq,
      fed_through: this.fedThrough,
      lag_records: Math.max(0, this.store.size - this.nextSeq),
      lines: this.counters.lines,
      records: { ...this.counters.records },
      duplicates_skipped: this.counters.duplicates,
      failures: { ...this.counters.failures },
      failure_samples: [...this.counters.samples],
      finishes: { ...this.counters.finishes },
      resumed_from: this.resumedFrom,
      pending_duplicates: this.existing.size,
    };
    if (this.storeError !== undefined) s.last_error = this.storeError;
    return s;
  }

  // --- internals -------------------------------------------------------------------------------

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.turn(), ms);
    this.timer.unref();
  }

  private turn(): void {
    this.timer = undefined;
    if (!this.running) return;
    let delay = this.options.intervalMs;
    try {
      if (this.storeError !== undefined) {
        // Commit what append() left queued before reading further.
        this.store.flush();
        this.storeError = undefined;
      }
      const n = this.pump();
      this.maybeFinish();
      if (this.storeError !== undefined) delay = this.options.retryMs;
      else if (n >= this.options.batchRows) delay = 0;
    } catch (err) {
      this.storeError = messageOf(err);
      delay = this.options.retryMs;
      this.log?.error({ evt: 'derive.store_error', code: (err as { code?: string }).code, err: messageOf(err) }, 'deriving failed; retrying (nothing is lost: the lines stay in the store)');
    }
    this.schedule(delay);
  }

  private feedRow(seq: number, rec: Record<string, unknown>): void {
    const p = rec['payload'] as { path?: unknown; text?: unknown; raw_b64?: unknown; partial?: unknown } | undefined;
    const path = typeof p?.path === 'string' ? p.path : '';
    const observedAt = typeof rec['observed_at'] === 'string' ? rec['observed_at'] : '';
    let bytes: Uint8Array;
    if (typeof p?.text === 'string') bytes = Buffer.from(p.text, 'utf8');
    else if (typeof p?.raw_b64 === 'string') bytes = Buffer.from(p.raw_b64, 'base64');
    else {
      this.fail({ parser: 'derive', reason: 'derive.bad_line_record', detail: `log.line ${seq} has neither text nor raw_b64`, derived_from: [seq] });
      return;
    }
    const partial = p?.partial === true;
    const h = this.held.get(path);
    if (h === undefined && !partial) {
      // The common case: a whole line, fed as it is.
      if (typeof p?.text === 'string') this.feed(seq, path, p.text, observedAt, undefined, false);
      else {
        const d = decodeLineBytes(bytes);
        this.feed(seq, path, d.text, observedAt, undefined, d.latin1);
      }
      return;
    }
    const held = h ?? { seqs: [], parts: [], bytes: 0, observedAt, truncated: false };
    if (h === undefined) this.held.set(path, held);
    if (held.seqs.length < 1024) held.seqs.push(seq);
    if (held.bytes < MAX_JOIN_BYTES) {
      const room = MAX_JOIN_BYTES - held.bytes;
      const part = bytes.length > room ? bytes.subarray(0, room) : bytes;
      held.parts.push(part);
      held.bytes += part.length;
      if (part.length < bytes.length) held.truncated = true;
    } else if (bytes.length > 0) held.truncated = true;
    if (!partial) this.releaseHeld(path);
  }

  private releaseHeld(path: string): void {
    const held = this.held.get(path);
    if (held === undefined) return;
    this.held.delete(path);
    const first = held.seqs[0];
    if (first === undefined) return;
    if (held.truncated) {
      this.fail({ parser: 'derive', reason: 'derive.line_too_long', detail: `a line of more than ${MAX_JOIN_BYTES} bytes: only its first ${MAX_JOIN_BYTES} bytes were parsed`, derived_from: [first] });
    }
    const d = decodeLineBytes(Buffer.concat(held.parts));
    this.feed(first, path, d.text, held.observedAt, held.seqs.length > 1 ? held.seqs : undefined, d.latin1);
  }

  private feed(seq: number, path: string, text: string, observedAt: string, pieces: number[] | undefined, latin1: boolean): void {
    if (pieces !== undefined || latin1) {
      const note: LineNote = {};
      if (pieces !== undefined) note.pieces = pieces;
      if (latin1) note.latin1 = true;
      this.notes.set(seq, note);
      if (this.notes.size > NOTE_MEMORY) {
        const oldest = this.notes.keys().next();
        if (!oldest.done) this.notes.delete(oldest.value);
      }
    }
    this.counters.lines++;
    this.linesSinceFinish++;
    this.emit(this.parsers.push({ seq, path, text, observedAt }));
  }

  private emit(out: ParseOutput): void {
    for (const f of out.failures) this.fail(f);
    for (const r of out.records) this.append(r);
  }

  private fail(f: ParseFailure): void {
    this.counters.failures[f.reason] = (this.counters.failures[f.reason] ?? 0) + 1;
    if (this.counters.samples.filter((s) => s.reason === f.reason).length < FAILURE_SAMPLES) {
      this.counters.samples.push({ ...f, detail: f.detail.slice(0, 300) });
      this.log?.debug({ evt: 'derive.parse_failure', parser: f.parser, reason: f.reason, detail: f.detail.slice(0, 300), derived_from: f.derived_from }, 'a preserved line could not be read by the parser that recognised it');
    }
  }

  /** Adds what the notes say (every piece of a joined line, latin1 decoding) to a record's payload. */
  private annotate(r: DerivedRecord): DerivedRecord {
    if (this.notes.size === 0) return r;
    const payload = r.payload as { derived_from: number[]; extra?: Record<string, string> };
    let seqs: number[] | undefined;
    let latin1 = false;
    for (const s of payload.derived_from) {
      const n = this.notes.get(s);
      if (n === undefined) continue;
      if (n.pieces !== undefined) seqs = [...(seqs ?? payload.derived_from), ...n.pieces];
      if (n.latin1 === true) latin1 = true;
    }
    if (seqs === undefined && !latin1) return r;
    const next = { ...payload } as { derived_from: number[]; extra?: Record<string, string> };
    if (seqs !== undefined) next.derived_from = [...new Set(seqs)].sort((a, b) => a - b);
    if (latin1) next.extra = { ...(payload.extra ?? {}), text_decoding: LATIN1_NOTE };
    return { kind: r.kind, payload: next } as DerivedRecord;
  }

  private append(raw: DerivedRecord): void {
    const r = this.annotate(raw);
    const payload = r.payload as { derived_from: number[]; parser: string };
    if (this.existing.size > 0) {
      const key = keyOf(r.kind, payload.derived_from);
      const n = this.existing.get(key);
      if (n !== undefined) {
        if (n <= 1) this.existing.delete(key);
        else this.existing.set(key, n - 1);
        this.counters.duplicates++;
        return;
      }
    }
    try {
      this.store.append(r.kind, `${DERIVE_SOURCE_PREFIX}${payload.parser}`, r.payload);
      this.counters.records[r.kind] = (this.counters.records[r.kind] ?? 0) + 1;
    } catch (err) {
      if (err instanceof CustodyError && err.code === ErrorCodes.STORE_WRITE_FAILED) {
        // append() queued the record before its commit failed: it is not lost; back off.
        this.counters.records[r.kind] = (this.counters.records[r.kind] ?? 0) + 1;
        this.storeError = err.message;
        this.log?.error({ evt: 'derive.store_error', code: err.code, err: err.message }, 'committing derived records failed; they stay queued');
        return;
      }
      // A parser produced a record the schema refuses: a bug, counted and logged, never a crash.
      this.fail({ parser: payload.parser, reason: 'derive.invalid_record', detail: `${r.kind}: ${messageOf(err)}`, derived_from: payload.derived_from });
    }
  }

  private persist(): void {
    if (this.state === undefined) return;
    let context: unknown;
    try {
      // Called right after a finish: nothing is building, so this is all a restart at fed_through needs.
      context = this.parsers.context();
    } catch (err) {
      // A bug, not a reason to stop deriving: the next start then begins with fresh parsers.
      this.log?.warn({ evt: 'derive.context_error', err: messageOf(err) }, 'could not capture the parser context; a restart will not carry it');
    }
    const value: PersistedPosition & { updated_at: string; status: Omit<DeriverStatus, 'failure_samples'> } = {
      fed_through: this.fedThrough,
      store_id: this.store.storeId,
      ...(context === undefined ? {} : { parser_context: context }),
      updated_at: new Date(this.clock.nowMs()).toISOString(),
      status: (({ failure_samples: _s, ...rest }) => rest)(this.status()),
    };
    try {
      this.state.set(DERIVE_STATE_KEY, value);
    } catch (err) {
      // The state is a cache: without it the next start reads more, and still writes nothing twice.
      this.log?.warn({ evt: 'derive.state_error', err: messageOf(err) }, 'could not save the deriver position');
    }
  }
}
