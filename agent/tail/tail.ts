/**
 * One followed file (one identity: device + inode) and the line splitter that turns its bytes into
 * records. Reading is done by the ingestor; this class holds the positions and cuts lines.
 *
 * Positions: `recordedOffset` is the first byte not yet handed to the store (records are queued in
 * file order), `committedOffset` the first byte not yet committed. Bytes after `recordedOffset`
 * that have been read but have no newline yet are held (`held`), so `readOffset` is
 * `recordedOffset + heldLen`. Held bytes are never evidence until recorded: on stop they are
 * dropped and re-read by the next run.
 */
import type { FileHandle } from 'node:fs/promises';
import { FILE_SOURCE_PREFIX } from './cursor.js';

export type TailState = 'following' | 'draining';

/** Called for each record the splitter cuts; returns false when the caller must stop (store blocked). */
export type EmitLine = (tail: Tail, bytes: Buffer, partial: boolean) => boolean;

export class Tail {
  readonly key: string;
  readonly dev: string;
  readonly ino: string;
  /** The path this file was first followed under; records name it. */
  readonly path: string;
  /** Where it was last seen (differs from `path` after a rename into another watched name). */
  currentPath: string;
  fd: FileHandle | undefined;
  state: TailState = 'following';
  drainReason = '';

  recordedOffset = 0;
  lineNo = 1;
  window: Buffer = Buffer.alloc(0);
  held: Buffer[] = [];
  heldLen = 0;
  /** Clock time (ms) when the held partial line started; drives the partial-line flush timeout. */
  heldSince: number | undefined;

  committedOffset = 0;
  lastSeq: number | undefined;
  linesCommitted = 0;
  size = 0;
  /** performance.now() when the file last grew (or started draining). */
  lastGrowthMono = 0;
  error: string | undefined;

  constructor(init: { key: string; dev: string; ino: string; path: string; currentPath: string; fd: FileHandle }) {
    this.key = init.key;
    this.dev = init.dev;
    this.ino = init.ino;
    this.path = init.path;
    this.currentPath = init.currentPath;
    this.fd = init.fd;
  }

  get readOffset(): number {
    return this.recordedOffset + this.heldLen;
  }

  get source(): string {
    return FILE_SOURCE_PREFIX + this.path;
  }

  dropHeld(): void {
    this.held = [];
    this.heldLen = 0;
    this.heldSince = undefined;
  }

  /** Takes the held bytes out (for recording them as a partial line). */
  takeHeld(): Buffer {
    const all = this.held.length === 1 ? (this.held[0] as Buffer) : Buffer.concat(this.held, this.heldLen);
    this.dropHeld();
    return all;
  }

  /**
   * Cuts `data` (read at `readOffset`) into lines and emits them in order. A line longer than
   * `maxLineBytes` is emitted as consecutive partial pieces of exactly `maxLineBytes` bytes followed
   * by its last piece. Returns false when `emit` asked to stop; the caller then drops what is held
   * and re-reads from `recordedOffset` later.
   */
  consume(data: Buffer, maxLineBytes: number, nowMs: number, emit: EmitLine): boolean {
    let pos = 0;
    while (pos < data.length) {
      const nl = data.indexOf(0x0a, pos);
      if (nl === -1) {
        const rest = Buffer.from(data.subarray(pos));
        if (this.heldLen === 0) this.heldSince = nowMs;
        this.held.push(rest);
        this.heldLen += rest.length;
        while (this.heldLen > maxLineBytes) {
          const all = Buffer.concat(this.held, this.heldLen);
          const remain = all.subarray(maxLineBytes);
          this.held = [remain];
          this.heldLen = remain.length;
          this.heldSince = nowMs;
          // The held remainder sits after the piece: recordedOffset moves by the piece in emit.
          if (!emit(this, all.subarray(0, maxLineBytes), true)) return false;
        }
        return true;
      }
      let line = data.subarray(pos, nl);
      if (this.heldLen > 0) {
        line = Buffer.concat([...this.held, line], this.heldLen + line.length);
        this.dropHeld();
      }
      pos = nl + 1;
      while (line.length > maxLineBytes) {
        const piece = line.subarray(0, maxLineBytes);
        line = line.subarray(maxLineBytes);
        if (!emit(this, piece, true)) return false;
      }
      if (!emit(this, line, false)) return false;
    }
    return true;
  }
}
