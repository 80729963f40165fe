/**
 * What the live sources (journald, USB, folder watch) share: appending to the one evidence store
 * without losing a record when a commit fails, numbering the lines they preserve, and finding where
 * each of them stopped from the evidence itself (the state database only caches that fold).
 *
 * The live sources record what they read as `log.line` records under a pseudo path
 * (`journald:system`, `udev:monitor`, `watch:/srv/data`): `dev` and `ino` are "0", `offset` is the
 * index of the line in that source's history (0, 1, 2, … across runs) and `line_no` is offset + 1.
 * Their `source` is the same pseudo path, never `file:…`, so the file ingestor's cursors ignore them.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { encodeRawText } from '../../src/records/canonical.js';
import type { PayloadOf, RecordKind } from '../../src/records/schema.js';
import type { EvidenceStore } from '../../src/store/evidence-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { StoreAppender } from '../store-appender.js';

export interface SourceDeps {
  store: EvidenceStore;
  state: StateStore;
  logger: Logger;
  clock: Clock;
  /**
   * The agent's one appender to the store (agent/store-appender.ts), shared with the file ingestor:
   * one view of a failing store, one backoff, one backpressure limit. Without one, the first
   * appenderOf() makes one for these deps, which the sources given the same deps then share.
   */
  appender?: StoreAppender;
}

/** The appender of these deps (made once, with the live sources' defaults, when none was given). */
export function appenderOf(deps: SourceDeps): StoreAppender {
  deps.appender ??= new StoreAppender(deps.store, deps, { maxPendingRecords: MAX_PENDING_RECORDS, retry: { initialMs: 500, maxMs: 30_000 } });
  return deps.appender;
}

/** What a live source says about itself in the agent's status. */
export interface LiveSourceStatus {
  name: string;
  state: 'running' | 'unavailable' | 'restarting' | 'error' | 'stopped' | 'disabled';
  detail?: string;
  records?: number;
  last_seq?: number;
  last_error?: string;
  [key: string]: unknown;
}

export interface LiveSource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): LiveSourceStatus;
}

/** Read no further ahead of the store than this many queued records (backpressure). */
export const MAX_PENDING_RECORDS = 4096;

/**
 * Appends one record. Returns its seq when the record is queued (the store keeps a record whose
 * commit failed queued and retries it, so it is not lost), and whether the store is now failing.
 * Throws only when the record was refused (invalid): a bug, never bytes lost quietly.
 */
export function appendRecord<K extends RecordKind>(appender: StoreAppender, kind: K, source: string, payload: PayloadOf<K>): { seq: number; storeFailing: boolean } {
  const { seq, ok } = appender.append(kind, source, payload);
  return { seq, storeFailing: !ok };
}

/** True when a source should stop reading for a while: the store is failing or far behind. */
export function storeBackedUp(appender: StoreAppender): boolean {
  return appender.backedUp;
}

/** After a failure, tries to commit again when the shared backoff says so; false while the store still fails. */
export function tryFlush(appender: StoreAppender): boolean {
  return appender.retry();
}

/** Where a line source stopped, per the evidence. */
export interface LineTail {
  /** Lines recorded so far (the next line's offset). */
  count: number;
  /** seq of the last line, if any. */
  lastSeq?: number;
  /** What the source's marker function found in its lines, last one wins (journald: the `__CURSOR`). */
  marker?: string;
}

/** Finds a source's resume marker in one of its lines (or undefined). */
export type MarkerOf = (text: string) => string | undefined;

const TAILS_STATE_KEY = 'sources.line_tails';

interface TailsCache {
  v: 1;
  /** Every record with seq < this is reflected. */
  seq: number;
  tails: Record<string, LineTail>;
}

/**
 * The tails of the given line sources as of the committed evidence: the cached fold (if it is not
 * ahead of the store) plus every record after it. A crash between a commit and the cache write
 * only means a longer fold. The cache is not written here; `saveLineTails` does that.
 */
export function foldLineTails(
  store: EvidenceStore,
  state: StateStore,
  sources: readonly string[],
  markers: Readonly<Record<string, MarkerOf>> = {},
): { tails: Map<string, LineTail>; fromSeq: number; folded: number } {
  const wanted = new Set(sources);
  const tails = new Map<string, LineTail>();
  let fromSeq = 0;
  let cached: TailsCache | undefined;
  try {
    cached = state.get<TailsCache>(TAILS_STATE_KEY);
  } catch {
    cached = undefined;
  }
  if (cached && cached.v === 1 && typeof cached.seq === 'number' && cached.seq <= store.size && typeof cached.tails === 'object' && cached.tails !== null) {
    const all = Object.keys(cached.tails);
    // Only usable when it covers every source asked for (a newly configured source needs a full fold).
    if (sources.every((s) => all.includes(s))) {
      fromSeq = cached.seq;
      for (const [name, tail] of Object.entries(cached.tails)) if (wanted.has(name)) tails.set(name, { ...tail });
    }
  }
  let folded = 0;
  // Canonical JSON: a record of one of these sources holds `"source":"<name>"` verbatim. Checking the
  // bytes first spares parsing every other line of a large store.
  const needles = sources.map((src) => Buffer.from(`"source":${JSON.stringify(src)}`, 'utf8'));
  for (const row of store.records(fromSeq)) {
    if (row.kind !== 'log.line') continue;
    const bytes = Buffer.from(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
    if (!needles.some((n) => bytes.includes(n))) continue;
    const record = JSON.parse(bytes.toString('utf8')) as {
      source?: string;
      payload?: { line_no?: number; text?: string };
    };
    if (typeof record.source !== 'string' || !wanted.has(record.source)) continue;
    const lineNo = record.payload?.line_no;
    const previous = tails.get(record.source);
    const tail: LineTail = { count: typeof lineNo === 'number' ? lineNo : (previous?.count ?? 0) + 1, lastSeq: row.seq };
    const markerOf = markers[record.source];
    const marker = markerOf !== undefined && typeof record.payload?.text === 'string' ? markerOf(record.payload.text) : undefined;
    if (marker !== undefined) tail.marker = marker;
    else if (previous?.marker !== undefined) tail.marker = previous.marker;
    tails.set(record.source, tail);
    folded++;
  }
  for (const s of sources) if (!tails.has(s)) tails.set(s, { count: 0 });
  return { tails, fromSeq, folded };
}

/** Caches the tails as of `seq` (every record below it is reflected). */
export function saveLineTails(state: StateStore, seq: number, tails: ReadonlyMap<string, LineTail>): void {
  const cache: TailsCache = { v: 1, seq, tails: Object.fromEntries(tails) };
  state.set(TAILS_STATE_KEY, cache);
}

/**
 * A numbered series of preserved lines under one pseudo path. `append` queues one `log.line`
 * (partial when it is a piece of a longer line) and returns its seq.
 */
export class LineSeries {
  readonly path: string;
  private next: number;
  /** Committed-or-queued lines, for status. */
  lines = 0;
  lastSeq: number | undefined;
  storeFailing = false;

  constructor(
    private readonly appender: StoreAppender,
    path: string,
    tail: LineTail,
  ) {
    this.path = path;
    this.next = tail.count;
    this.lastSeq = tail.lastSeq;
  }

  /** Index the next line gets. */
  get count(): number {
    return this.next;
  }

  append(bytes: Uint8Array, partial = false): number {
    const payload: PayloadOf<'log.line'> = {
      path: this.path,
      dev: '0',
      ino: '0',
      offset: this.next,
      line_no: this.next + 1,
      length: bytes.length,
      ...(partial ? { partial: true } : {}),
      ...encodeRawText(bytes),
    };
    const { seq, storeFailing } = appendRecord(this.appender, 'log.line', this.path, payload);
    this.storeFailing = storeFailing;
    // Pieces of one long line share its number, as the file ingestor's do.
    if (!partial) this.next++;
    this.lines++;
    this.lastSeq = seq;
    return seq;
  }

  /** The tail to cache (as of the records queued so far). */
  tail(marker?: string): LineTail {
    const t: LineTail = { count: this.next };
    if (this.lastSeq !== undefined) t.lastSeq = this.lastSeq;
    if (marker !== undefined) t.marker = marker;
    return t;
  }
}

/**
 * Splits a byte stream into lines (without their `\n`). A line longer than `maxLineBytes` comes out
 * in pieces flagged partial, never dropped. Bounded memory: at most one line of `maxLineBytes`.
 */
export class LineSplitter {
  private held: Buffer[] = [];
  private heldLen = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (bytes: Buffer, partial: boolean) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      this.hold(chunk.subarray(start, nl));
      const line = this.take();
      this.onLine(line, false);
      start = nl + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
  }

  private hold(bytes: Buffer): void {
    let rest = bytes;
    while (this.heldLen + rest.length > this.maxLineBytes) {
      const room = this.maxLineBytes - this.heldLen;
      this.held.push(rest.subarray(0, room));
      this.heldLen += room;
      this.onLine(this.take(), true);
      rest = rest.subarray(room);
    }
    if (rest.length > 0) {
      // Copy: the chunk's buffer may be reused by the stream.
      this.held.push(Buffer.from(rest));
      this.heldLen += rest.length;
    }
  }

  private take(): Buffer {
    const out = this.held.length === 1 ? (this.held[0] as Buffer) : Buffer.concat(this.held, this.heldLen);
    this.held = [];
    this.heldLen = 0;
    return out;
  }

  /** Bytes of an unfinished line (a child that died mid-line). */
  get pendingBytes(): number {
    return this.heldLen;
  }

  /** Drops an unfinished line and returns how many bytes it had. */
  discard(): number {
    const n = this.heldLen;
    this.held = [];
    this.heldLen = 0;
    return n;
  }

  /** Hands out an unfinished line as a partial piece (end of stream). */
  flushPartial(): void {
    if (this.heldLen > 0) this.onLine(this.take(), true);
  }
}

/** Exponential backoff for restarting a child process: 1 s doubling up to 60 s, reset after a minute of good running. */
export class Backoff {
  private delay: number;
  constructor(
    private readonly initialMs = 1000,
    private readonly maxMs = 60_000,
  ) {
    this.delay = initialMs;
  }
  next(ranForMs: number): number {
    if (ranForMs >= this.maxMs) this.delay = this.initialMs;
    const d = this.delay;
    this.delay = Math.min(this.maxMs, this.delay * 2);
    return d;
  }
}

/** A sleep that stop() can cut short, so a source waiting out a backoff stops at once. */
export class WakeableSleep {
  private wakeCurrent: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeCurrent = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeCurrent = done;
    });
  }

  /** Ends the current sleep now, if there is one. */
  wake(): void {
    this.wakeCurrent?.();
  }
}

/** Asks a source's child process to end, if it still runs. */
export function terminateChild(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    // A paused pipe (backpressure) must drain for the child's 'close' to come.
    child.stdout?.resume();
  }
}
