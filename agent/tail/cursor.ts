/**
 * Read positions of followed files, derived from the evidence itself. Pure: no I/O.
 *
 * The evidence store is the source of truth for where reading stopped: every `log.line` record
 * says where its bytes were (`offset`, `length`, `partial`), so folding the records in `seq` order
 * gives, per file identity (device + inode), the first byte not yet recorded and the next line
 * number. `agent.gap` and `log.file` records written by the ingestor move or retire a cursor
 * (a truncation restarts at 0, a skipped start resumes at its end, a file that is gone or was
 * finished is forgotten). The state database only caches the result of this fold together with
 * the `seq` it was computed at, so a restart folds just the tail written after it.
 */

import { fileEventOf, FILE_SOURCE_PREFIX, GONE_REASON, RESTART_REASONS, SKIP_REASON } from '../../src/verify/file-offsets.js';

/** Records the ingestor writes carry `source` = FILE_SOURCE_PREFIX + the file's path; a truncation or
 * rewrite restarts at 0 (RESTART_REASONS), a skipped start resumes at `to_offset` (SKIP_REASON), a file
 * that vanished is retired (GONE_REASON), as is a rotated one. One definition, in the verifier's
 * file-offset check, because both fold the same records. */
export { FILE_SOURCE_PREFIX, GONE_REASON, RESTART_REASONS, SKIP_REASON };
/** How many bytes of a file just before the cursor are remembered to detect rewritten files. */
export const WINDOW_BYTES = 64;

export interface Cursor {
  /** The path the file was followed under (its logical name; it may have been renamed since). */
  path: string;
  dev: string;
  ino: string;
  /** First byte not yet recorded. */
  offset: number;
  /** Line number the next record gets (1-based; continuation pieces of one long line share it). */
  lineNo: number;
  /** Up to WINDOW_BYTES bytes of the file that end exactly at `offset` (empty when unknown). */
  window: Buffer;
}

export type CursorMap = Map<string, Cursor>;

export function identityKey(dev: string | number | bigint, ino: string | number | bigint): string {
  return `${String(dev)}:${String(ino)}`;
}

/** What one committed record does to the cursors. */
export type CursorEffect =
  | { t: 'line'; path: string; dev: string; ino: string; end: number; nextLineNo: number; window: Buffer }
  | { t: 'reset'; path: string; dev: string; ino: string; offset: number }
  | { t: 'close'; dev: string; ino: string }
  | { t: 'compressed'; key: string };

/** The identity of a preserved compressed file, for not preserving it twice. */
export function compressedKey(dev: string, ino: string, size: number, mtime: string): string {
  return `${dev}:${ino}:${size}:${mtime}`;
}

/** The last WINDOW_BYTES bytes of `bytes` (+ '\n' for a complete line), copied. */
export function windowOf(bytes: Uint8Array, complete: boolean): Buffer {
  const total = bytes.length + (complete ? 1 : 0);
  const take = Math.min(WINDOW_BYTES, total);
  const out = Buffer.allocUnsafe(take);
  if (complete) {
    out[take - 1] = 0x0a;
    const fromLine = take - 1;
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(out, 0, bytes.length - fromLine);
  } else {
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(out, 0, bytes.length - take);
  }
  return out;
}

function rawBytes(payload: { text?: unknown; raw_b64?: unknown }): Buffer {
  if (typeof payload.text === 'string') return Buffer.from(payload.text, 'utf8');
  if (typeof payload.raw_b64 === 'string') return Buffer.from(payload.raw_b64, 'base64');
  return Buffer.alloc(0);
}

/** The effect of a committed record (decoded JSON) on the cursors, or undefined when it has none. */
export function effectOfRecord(record: { kind?: unknown; source?: unknown; payload?: unknown }): CursorEffect | undefined {
  const { kind, source } = record;
  const p = record.payload as Record<string, unknown> | undefined;
  if (typeof kind !== 'string' || typeof source !== 'string' || !p) return undefined;
  if (kind === 'log.file' && p.reason === 'compressed' && source.startsWith(FILE_SOURCE_PREFIX) && typeof p.dev === 'string' && typeof p.ino === 'string') {
    return { t: 'compressed', key: compressedKey(p.dev, p.ino, p.size as number, p.mtime as string) };
  }
  // Where the bytes were, and what moves or retires a cursor: the same fold as the verifier's.
  const event = fileEventOf({ kind, source, payload: p });
  if (!event) return undefined;
  switch (event.t) {
    case 'line': {
      const partial = p.partial === true;
      const lineNo = p.line_no as number;
      return { t: 'line', path: event.path, dev: event.dev, ino: event.ino, end: event.end, nextLineNo: partial ? lineNo : lineNo + 1, window: windowOf(rawBytes(p), !partial) };
    }
    case 'reset':
      return { t: 'reset', path: String(p.path ?? ''), dev: event.dev, ino: event.ino, offset: event.offset };
    case 'close':
      return event;
  }
}

/** Applies an effect to the cursors (and the set of preserved compressed files). */
export function applyEffect(cursors: CursorMap, compressed: Set<string>, effect: CursorEffect): void {
  switch (effect.t) {
    case 'line': {
      const key = identityKey(effect.dev, effect.ino);
      const c = cursors.get(key);
      if (c) {
        c.offset = effect.end;
        c.lineNo = effect.nextLineNo;
        c.window = effect.window;
      } else {
        cursors.set(key, { path: effect.path, dev: effect.dev, ino: effect.ino, offset: effect.end, lineNo: effect.nextLineNo, window: effect.window });
      }
      return;
    }
    case 'reset': {
      const key = identityKey(effect.dev, effect.ino);
      const c = cursors.get(key);
      if (c) {
        c.offset = effect.offset;
        c.lineNo = 1;
        c.window = Buffer.alloc(0);
      } else {
        cursors.set(key, { path: effect.path, dev: effect.dev, ino: effect.ino, offset: effect.offset, lineNo: 1, window: Buffer.alloc(0) });
      }
      return;
    }
    case 'close':
      cursors.delete(identityKey(effect.dev, effect.ino));
      return;
    case 'compressed':
      compressed.add(effect.key);
      return;
  }
}

/** The cached form kept in the state database. */
export interface CursorCache {
  v: 1;
  /** Every record with seq < this is reflected, none at or after it. */
  seq: number;
  cursors: Array<{ path: string; dev: string; ino: string; offset: number; lineNo: number; window: string }>;
  compressed: string[];
}

export function toCache(seq: number, cursors: CursorMap, compressed: Set<string>): CursorCache {
  return {
    v: 1,
    seq,
    cursors: [...cursors.values()].map((c) => ({ path: c.path, dev: c.dev, ino: c.ino, offset: c.offset, lineNo: c.lineNo, window: c.window.toString('base64') })),
    compressed: [...compressed],
  };
}

/** Reads a cache back; undefined when it is not one this version understands. */
export function fromCache(value: unknown): { seq: number; cursors: CursorMap; compressed: Set<string> } | undefined {
  const v = value as Partial<CursorCache> | undefined;
  if (!v || v.v !== 1 || typeof v.seq !== 'number' || !Array.isArray(v.cursors) || !Array.isArray(v.compressed)) return undefined;
  const cursors: CursorMap = new Map();
  for (const c of v.cursors) {
    if (typeof c?.dev !== 'string' || typeof c.ino !== 'string' || typeof c.offset !== 'number' || typeof c.lineNo !== 'number' || typeof c.path !== 'string') return undefined;
    cursors.set(identityKey(c.dev, c.ino), { path: c.path, dev: c.dev, ino: c.ino, offset: c.offset, lineNo: c.lineNo, window: Buffer.from(String(c.window ?? ''), 'base64') });
  }
  return { seq: v.seq, cursors, compressed: new Set(v.compressed.map(String)) };
}
