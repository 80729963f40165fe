/**
 * Records queued for one commit, packed for hashing and for handing to the writer thread: each
 * record is 0x00 || its canonical bytes, back to back in one buffer, so the RFC 6962 leaf hash is
 * taken over a record in place. The buffer is a SharedArrayBuffer: a batch posted to the writer
 * thread is not copied at all (a copy of a fresh 256 KiB ArrayBuffer per batch, with the page faults
 * of new memory, was most of the hand-off's cost), and the builder reuses a buffer only once the
 * batch that held it is committed (recycle), so the two threads never use one at the same time.
 */

/** A sealed batch: plain data, safe to post to a worker thread. */
export interface RecordBatch {
  /** seq of the first record; the others follow without gaps. */
  readonly firstSeq: number;
  /** 0x00 || canonical bytes of each record, back to back; exactly the used bytes. */
  readonly data: Uint8Array;
  /** Where each record's prefixed bytes end in `data` (the next one starts there). */
  readonly ends: readonly number[];
  readonly kinds: readonly string[];
  readonly observedAt: readonly string[];
}

export function batchCount(batch: RecordBatch): number {
  return batch.ends.length;
}

/** Starts with room for half a full default batch of typical records; grows for large ones. */
const INITIAL_BYTES = 128 * 1024;
/** Texts longer than this (in UTF-16 units) are measured exactly instead of reserving 3 bytes per unit. */
const MEASURE_ABOVE = 16 * 1024;
/** Buffers larger than this are not kept for reuse (a batch of very long lines is rare). */
const MAX_REUSED_BYTES = 1 << 20;
/** Bytes of committed batches' buffers kept for reuse: a burst then allocates (and pages in) a few buffers, not thousands. */
const SPARE_BYTES = 2 << 20;

function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/** Builds one batch; seal() hands it over and starts a new, empty one. */
export class BatchBuilder {
  private spare: Buffer[] = [];
  /** The size a batch's buffer starts at: what the last sealed batch needed (a power-of-two multiple of 128 KiB up to 1 MiB), so a batch does not grow (and copy) on its way. */
  private preferred = INITIAL_BYTES;

  private buffer: Buffer = Buffer.alloc(0);
  private used = 0;
  private ends: number[] = [];
  private kinds: string[] = [];
  private observedAt: string[] = [];
  private first: number;

  constructor(firstSeq: number) {
    this.first = firstSeq;
  }

  get count(): number {
    return this.ends.length;
  }

  /** Bytes the batch holds so far. */
  get bytes(): number {
    return this.used;
  }

  /** seq the next added record gets. */
  get nextSeq(): number {
    return this.first + this.ends.length;
  }

  /** Adds one record: 0x00 || the UTF-8 of its canonical text. */
  add(text: string, kind: string, observedAt: string): void {
    const room = 1 + (text.length > MEASURE_ABOVE ? Buffer.byteLength(text, 'utf8') : 3 * text.length);
    if (this.used + room > this.buffer.length) this.grow(this.used + room);
    const start = this.used;
    this.buffer[start] = 0x00;
    this.used = start + 1 + this.buffer.write(text, start + 1, 'utf8');
    this.ends.push(this.used);
    this.kinds.push(kind);
    this.observedAt.push(observedAt);
  }

  /**
   * Gives a committed batch's buffer back for reuse (only the preferred size is kept). Call it only
   * once nothing reads the batch any more: its bytes will be overwritten.
   */
  recycle(batch: RecordBatch): void {
    const buffer = batch.data.buffer;
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== this.preferred || (this.spare.length + 1) * this.preferred > SPARE_BYTES) return;
    this.spare.push(Buffer.from(buffer));
  }

  private grow(needed: number): void {
    let size = Math.max(this.preferred, this.buffer.length * 2);
    while (size < needed) size *= 2;
    const bigger = (size === this.preferred ? this.spare.pop() : undefined) ?? sharedBuffer(size);
    this.buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
  }

  /**
   * The batch so far, or undefined when empty; the builder starts over after it. The batch's
   * buffer is its own from then on (the builder takes another one), until recycle() gives it back.
   */
  seal(): RecordBatch | undefined {
    if (this.ends.length === 0) return undefined;
    const batch: RecordBatch = {
      firstSeq: this.first,
      data: this.buffer.subarray(0, this.used),
      ends: this.ends,
      kinds: this.kinds,
      observedAt: this.observedAt,
    };
    this.first += this.ends.length;
    // The size this batch's bytes needed (not its buffer's, which started at the preferred size):
    // after a burst of large batches, small ones bring it down again.
    let size = INITIAL_BYTES;
    while (size < this.used && size < MAX_REUSED_BYTES) size *= 2;
    if (size !== this.preferred) {
      this.preferred = size;
      this.spare = [];
    }
    this.buffer = Buffer.alloc(0);
    this.used = 0;
    this.ends = [];
    this.kinds = [];
    this.observedAt = [];
    return batch;
  }
}
