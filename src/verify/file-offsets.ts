/**
 * Continuity of each followed file's preserved bytes (issue 11, item 8). Pure: no I/O.
 *
 * The file ingestor records a file's lines in order: each `log.line` of one file identity
 * (device + inode) starts where the previous one ended (`offset + length`, plus one for the
 * newline of a complete line). Every place where it does not is supposed to be an `agent.gap` the
 * agent wrote about that identity: a truncation or a rewrite (reading restarts at 0), a start at the
 * end (reading starts at `to_offset`), a file that was gone (its identity is finished, and a new
 * file that reuses the inode starts at 0), or a rotated file finished by a `log.file`. A jump that
 * none of these explains means bytes were skipped silently (a forged read position, a tampered
 * agent) or read twice. Every record here is checked by signature and Merkle root elsewhere; this
 * check asks whether the sealed evidence is complete, which a signature cannot say.
 *
 * The facts are taken from each decoded record by `fileEventOf` (in record-check.ts, where the
 * record is decoded anyway, in whichever thread) and folded in seq order by `FileOffsetTracker`.
 * Only records whose `source` is `file:<path>` count: the live sources (journald, watched
 * folders) number their lines differently. The reasons and their effects mirror
 * agent/tail/cursor.ts, which folds the same records into the agent's read positions and builds on
 * `fileEventOf` (these constants are the one definition of the ingestor's reasons).
 */

/** `source` prefix of the file ingestor's records. */
export const FILE_SOURCE_PREFIX = 'file:';
/** Gap reasons after which reading restarts at offset 0 of the same identity. */
export const RESTART_REASONS: ReadonlySet<string> = new Set(['truncated', 'rewritten']);
/** Gap reason for content deliberately skipped; reading resumes at `to_offset`. */
export const SKIP_REASON = 'start_at_end';
/** Gap reason for a file that vanished: its identity is finished. */
export const GONE_REASON = 'file_gone';

/** A forward jump no gap explains: bytes of the file were never preserved. */
export const OFFSET_SKIPPED = 'file.offset_skipped';
/** A backward jump no gap explains: bytes already preserved were recorded again. */
export const OFFSET_REPEATED = 'file.offset_repeated';
export type FileOffsetFindingCode = typeof OFFSET_SKIPPED | typeof OFFSET_REPEATED;

/** What one record says about a followed file's read position (compact: posted between threads). */
export type FileEvent =
  | { t: 'line'; dev: string; ino: string; path: string; offset: number; end: number }
  | { t: 'reset'; dev: string; ino: string; offset: number }
  | { t: 'close'; dev: string; ino: string };

/** The file event of a decoded, schema-valid record, or undefined when it has none. */
export function fileEventOf(record: { kind: string; source: string; payload: unknown }): FileEvent | undefined {
  if (!record.source.startsWith(FILE_SOURCE_PREFIX)) return undefined;
  const p = record.payload as Record<string, unknown>;
  const dev = p.dev;
  const ino = p.ino;
  if (typeof dev !== 'string' || typeof ino !== 'string') return undefined;
  switch (record.kind) {
    case 'log.line': {
      const offset = p.offset as number;
      const length = p.length as number;
      return { t: 'line', dev, ino, path: String(p.path), offset, end: offset + length + (p.partial === true ? 0 : 1) };
    }
    case 'agent.gap': {
      const reason = String(p.reason);
      if (RESTART_REASONS.has(reason)) return { t: 'reset', dev, ino, offset: 0 };
      if (reason === SKIP_REASON && typeof p.to_offset === 'number') return { t: 'reset', dev, ino, offset: p.to_offset };
      if (reason === GONE_REASON) return { t: 'close', dev, ino };
      return undefined;
    }
    case 'log.file':
      return p.reason === 'rotated' ? { t: 'close', dev, ino } : undefined;
    default:
      return undefined;
  }
}

/**
 * A batch's file events in a form that is cheap to post between threads (record-check runs in
 * workers for large stores, one event per `log.line`): per event five numbers in `data` (index in
 * the batch, entry in `files`, kind, offset, end) and each file once in `files` as
 * `dev NUL ino NUL path` (dev and ino are digits, so the first two NULs split it whatever the path).
 */
export interface FileEventsOfBatch {
  files: string[];
  data: number[];
}

const EVENT_LINE = 0;
const EVENT_RESET = 1;
const EVENT_CLOSE = 2;

/** The file pushFileEvent filed last (per thread), and where. */
const lastPushed: { out: FileEventsOfBatch | undefined; dev: string; ino: string; path: string; f: number } = { out: undefined, dev: '', ino: '', path: '', f: 0 };
/** The entry of `files` fileEventAt split last (per thread). */
const lastSplit: { file: string | undefined; dev: string; ino: string; path: string } = { file: undefined, dev: '', ino: '', path: '' };

export function emptyFileEvents(): FileEventsOfBatch {
  return { files: [], data: [] };
}

/** Adds the event of the record at `index`; `fileIndex` (one per batch) maps a file to its entry in `files`. */
export function pushFileEvent(out: FileEventsOfBatch, fileIndex: Map<string, number>, index: number, event: FileEvent): void {
  const path = event.t === 'line' ? event.path : '';
  let f: number | undefined;
  // Most lines come from the same file as the line before: that file's entry, without building its key again.
  if (lastPushed.out === out && lastPushed.dev === event.dev && lastPushed.ino === event.ino && lastPushed.path === path) f = lastPushed.f;
  else {
    const file = `${event.dev}\u0000${event.ino}\u0000${path}`;
    f = fileIndex.get(file);
    if (f === undefined) {
      f = out.files.length;
      out.files.push(file);
      fileIndex.set(file, f);
    }
    lastPushed.out = out;
    lastPushed.dev = event.dev;
    lastPushed.ino = event.ino;
    lastPushed.path = path;
    lastPushed.f = f;
  }
  if (event.t === 'line') out.data.push(index, f, EVENT_LINE, event.offset, event.end);
  else if (event.t === 'reset') out.data.push(index, f, EVENT_RESET, event.offset, 0);
  else out.data.push(index, f, EVENT_CLOSE, 0, 0);
}

/** The event at position `at` (a multiple of 5) of `data`, as a FileEvent. */
export function fileEventAt(events: FileEventsOfBatch, at: number): { index: number; event: FileEvent } {
  const d = events.data;
  const file = events.files[d[at + 1] as number] as string;
  if (lastSplit.file !== file) {
    const a = file.indexOf('\u0000');
    const b = file.indexOf('\u0000', a + 1);
    lastSplit.file = file;
    lastSplit.dev = file.slice(0, a);
    lastSplit.ino = file.slice(a + 1, b);
    lastSplit.path = file.slice(b + 1);
  }
  const { dev, ino } = lastSplit;
  const kind = d[at + 2];
  const event: FileEvent =
    kind === EVENT_LINE
      ? { t: 'line', dev, ino, path: lastSplit.path, offset: d[at + 3] as number, end: d[at + 4] as number }
      : kind === EVENT_RESET
        ? { t: 'reset', dev, ino, offset: d[at + 3] as number }
        : { t: 'close', dev, ino };
  return { index: d[at] as number, event };
}

export interface FileOffsetFinding {
  code: FileOffsetFindingCode;
  severity: 'error' | 'warning';
  message: string;
  seq: number;
  file: string;
}

/** Jumps reported one by one; past this many, `rest` counts the others (a store of garbage must not flood the report). */
export const MAX_REPORTED_JUMPS = 100;

/** Folds file events in seq order; `observe` returns a finding when a line is not where it should be. */
export class FileOffsetTracker {
  /** Per identity: the offset the next line must start at, and the seq of what set it. */
  private readonly expected = new Map<string, { offset: number; seq: number; by: 'line' | 'gap' | 'start' }>();
  private reported = 0;
  private more: { count: number; firstSeq: number; lastSeq: number; skipped: boolean } | undefined;
  private lastKey = { dev: '', ino: '', key: ':' };

  /** `dev:ino`, without building it again for the same file as the event before. */
  private keyOf(dev: string, ino: string): string {
    const last = this.lastKey;
    if (last.dev !== dev || last.ino !== ino) this.lastKey = { dev, ino, key: `${dev}:${ino}` };
    return this.lastKey.key;
  }

  /**
   * `windowed`: the records are a window of a store (store-window.ts), so a file's first line in it
   * may continue a read that began before the window: only lines after it are held to its end.
   */
  constructor(private readonly options: { windowed?: boolean } = {}) {}

  observe(seq: number, event: FileEvent): FileOffsetFinding | undefined {
    const finding = this.check(seq, event);
    if (!finding) return undefined;
    if (this.reported < MAX_REPORTED_JUMPS) {
      this.reported++;
      return finding;
    }
    this.more ??= { count: 0, firstSeq: seq, lastSeq: seq, skipped: false };
    this.more.count++;
    this.more.lastSeq = seq;
    this.more.skipped ||= finding.code === OFFSET_SKIPPED;
    return undefined;
  }

  /** One finding for the jumps past MAX_REPORTED_JUMPS, once the stream has ended (undefined when there were none). */
  rest(): (Omit<FileOffsetFinding, 'seq' | 'file'> & { seqRange: [number, number] }) | undefined {
    if (!this.more) return undefined;
    const { count, firstSeq, lastSeq, skipped } = this.more;
    return {
      code: skipped ? OFFSET_SKIPPED : OFFSET_REPEATED,
      severity: skipped ? 'error' : 'warning',
      message: `${count} more lines after the first ${MAX_REPORTED_JUMPS} jumps do not start where their file's previous line ended, and no agent.gap explains them`,
      seqRange: [firstSeq, lastSeq],
    };
  }

  private check(seq: number, event: FileEvent): FileOffsetFinding | undefined {
    const key = this.keyOf(event.dev, event.ino);
    if (event.t === 'close') {
      this.expected.delete(key);
      return undefined;
    }
    if (event.t === 'reset') {
      this.expected.set(key, { offset: event.offset, seq, by: 'gap' });
      return undefined;
    }
    const known = this.expected.get(key);
    if (known === undefined && this.options.windowed === true) {
      // A window's first line of a file: where its earlier lines ended is outside the window.
      this.expected.set(key, { offset: event.end, seq, by: 'line' });
      return undefined;
    }
    if (known !== undefined && known.by === 'line' && event.offset === known.offset) {
      // The common case, a line right after the previous line of its file: updated in place.
      known.offset = event.end;
      known.seq = seq;
      return undefined;
    }
    const want = known ?? { offset: 0, seq: -1, by: 'start' as const };
    this.expected.set(key, { offset: event.end, seq, by: 'line' });
    if (event.offset === want.offset) return undefined;
    const since = want.by === 'line' ? `the previous line of this file (seq ${want.seq}) ended at offset ${want.offset}` : want.by === 'gap' ? `the agent.gap at seq ${want.seq} resumed reading at offset ${want.offset}` : 'the first line of a file starts at offset 0';
    const which = `${event.path} (dev ${event.dev}, inode ${event.ino})`;
    if (event.offset > want.offset) {
      return {
        code: OFFSET_SKIPPED,
        severity: 'error',
        message: `a line of ${which} starts at offset ${event.offset}, but ${since}: bytes ${want.offset}..${event.offset - 1} were never preserved and no agent.gap says so`,
        seq,
        file: event.path,
      };
    }
    return {
      code: OFFSET_REPEATED,
      severity: 'warning',
      message: `a line of ${which} starts at offset ${event.offset}, but ${since}: bytes ${event.offset}..${want.offset - 1} were recorded again and no agent.gap says why`,
      seq,
      file: event.path,
    };
  }
}
