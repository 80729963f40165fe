/**
 * Records queued for one commit, packed for hashing and for handing to the writer thread: each
 * record is 0x00 || its canonical bytes, back to back in one buffer, so the RFC 6962 leaf hash is
 * taken over a record in place and a whole batch crosses to another thread as one copy.
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

/** Starts with room for a full default batch of typical records; grows for large ones. */
const INITIAL_BYTES = 128 * 1024;
/** Texts longer than this (in UTF-16 units) are measured exactly instead of reserving 3 bytes per unit. */
const MEASURE_ABOVE = 16 * 1024;

/** Buffers of committed batches, reused: a burst then allocates (and the GC tracks) a few, not thousands. */
const SPARE_BUFFERS = 8;

/** Builds one batch; seal() hands it over and starts a new, empty one. */
export class BatchBuilder {
  private readonly spare: Buffer[] = [];

  private buffer: Buffer = Buffer.allocUnsafeSlow(0);
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

  /** Gives a committed batch's buffer back for reuse (only the common size is kept). */
  recycle(batch: RecordBatch): void {
    const buffer = batch.data.buffer;
    if (buffer.byteLength !== INITIAL_BYTES || this.spare.length >= SPARE_BUFFERS || !(buffer instanceof ArrayBuffer)) return;
    this.spare.push(Buffer.from(buffer));
  }

  private grow(needed: number): void {
    let size = Math.max(INITIAL_BYTES, this.buffer.length * 2);
    while (size < needed) size *= 2;
    const bigger = (size === INITIAL_BYTES ? this.spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(size);
    this.buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
  }

  /**
   * The batch so far, or undefined when empty; the builder starts over after it. The batch's
   * buffer is its own from then on (the builder allocates a new one), so posting it copies
   * nothing but the used bytes' buffer.
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
    this.buffer = Buffer.allocUnsafeSlow(0);
    this.used = 0;
    this.ends = [];
    this.kinds = [];
    this.observedAt = [];
    return batch;
  }
}
