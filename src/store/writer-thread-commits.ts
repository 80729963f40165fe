/**
 * The store's commits through its writer thread (writer-thread.ts): starting and stopping the
 * thread, the commits posted and not yet answered, their replies, and taking the tree back when the
 * thread fails or stops. The store decides when (bursts, idleness, its mode); this module does the
 * bookkeeping so that nothing appended is lost or committed twice whichever way it goes.
 */
import type Database from 'better-sqlite3';
import { CustodyError, ErrorCodes, type ErrorCode } from '../errors.js';
import type { SigningKey } from '../integrity/keys.js';
import { MerkleFrontier } from '../integrity/merkle.js';
import type { CheckpointRow } from '../verify/reader.js';
import { batchCount, type BatchBuilder, type RecordBatch } from './record-batch.js';
import type { CheckpointRequest, RecordCommitter } from './record-committer.js';
import { WriterThread, type WriterReply } from './writer-thread.js';

/**
 * Commits posted and not yet answered; past this many, or this many bytes, append waits for the
 * oldest (bounded memory). Enough to keep the thread busy through the appending thread's pauses
 * (GC, reads), and below the ingestor's 4096-record backpressure mark.
 */
const MAX_IN_FLIGHT = 12;
const MAX_IN_FLIGHT_BYTES = 64 << 20;
/** How long a synchronous wait for the writer thread may last before it is given up on. */
const WRITER_REPLY_TIMEOUT_MS = 120_000;

export type CommitMode = 'policy' | 'always' | 'force';

/** A commit posted to the writer thread and not yet answered. */
interface InFlight {
  id: number;
  batches: RecordBatch[];
  bytes: number;
  /** The checkpoint it asks for, if any (for the policy while it is in flight). */
  checkpoint: { tree_size: number; created_at: string } | undefined;
}

/** The store's state this module reads and moves (the store's own fields, through accessors). */
export interface WriterHost {
  readonly db: Database.Database;
  readonly dbPath: string;
  readonly origin: string;
  readonly writerMode: 'auto' | 'on' | 'off';
  readonly closed: boolean;
  readonly lastFullBatchMono: number;
  readonly maxPageCount: number | undefined;
  readonly builder: BatchBuilder;
  readonly committer: RecordCommitter;
  readonly onBackgroundError: ((err: CustodyError) => void) | undefined;
  /** Sealed batches not yet committed nor posted (in seq order, all before the builder's). */
  queued: RecordBatch[];
  committedSize: number;
  lastCheckpointRow: CheckpointRow | undefined;
  sealBuilder(): void;
  checkpointRequest(mode: CommitMode, key: SigningKey, size: number): CheckpointRequest | undefined;
  /** The store's commit in its own thread. */
  commitHere(mode: CommitMode, key: SigningKey): CheckpointRow | undefined;
  lastCheckpointInDatabase(): CheckpointRow | undefined;
}

/** Every leaf hash in the evidence file, in seq order, folded into a frontier. */
export function frontierFromDatabase(db: Database.Database): MerkleFrontier {
  const frontier = new MerkleFrontier();
  for (const row of db.prepare('SELECT leaf_hash FROM records ORDER BY seq').raw().iterate()) {
    frontier.push((row as [Uint8Array])[0]);
  }
  return frontier;
}

export class WriterThreadCommits {
  /** Posted to the writer thread, oldest first (all before the store's queue). */
  private inFlight: InFlight[] = [];
  private inFlightBytes = 0;
  /** Batches the writer thread answered with failure or refusal, waiting to go back to the store's queue. */
  private returned: RecordBatch[] = [];
  /** A commit the writer thread could not do, not yet reported to a caller. */
  private failure: CustodyError | undefined;
  private writer: WriterThread | undefined;
  /** The writer thread has the frontier and takes the commits. */
  private writerActive = false;
  /** The writer thread could not be started here; the store stays in its own thread. */
  private writerUnavailable = false;
  private writerIdleTimer: NodeJS.Timeout | undefined;
  private requestId = 0;
  /** Generation of the posts; bumped after a failure, so the thread takes the retried batches. */
  private generation = 0;

  constructor(
    private readonly host: WriterHost,
    private readonly writerIdleMs: number,
  ) {}

  /** The writer thread has the tree and takes the commits. */
  get active(): boolean {
    return this.writerActive;
  }

  /** Where commits run now: 'active' in the writer thread, 'starting' while it starts, else 'off'. */
  get state(): 'off' | 'starting' | 'active' {
    if (this.writerActive) return 'active';
    return this.writer !== undefined ? 'starting' : 'off';
  }

  /** No thread runs, and none failed to start here: a burst may start one. */
  get canStart(): boolean {
    return this.writer === undefined && !this.writerUnavailable;
  }

  /** Tells a running thread the evidence file's new size cap. */
  setMaxPageCount(maxPageCount: number): void {
    this.writer?.post({ t: 'limit', maxPageCount });
  }

  /** The newest checkpoint asked for by a commit in flight (the policy counts from it). */
  newestAskedCheckpoint(): { tree_size: number; created_at: string } | undefined {
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      const asked = this.inFlight[i]!.checkpoint;
      if (asked !== undefined) return asked;
    }
    return undefined;
  }

  /** Starts the writer thread; it takes over once it is ready (at once when `wait`). */
  startWriter(wait: boolean): void {
    const maxPageCount = this.host.maxPageCount ?? (this.host.db.pragma('max_page_count', { simple: true }) as number);
    const writer = WriterThread.start({ dbPath: this.host.dbPath, origin: this.host.origin, maxPageCount });
    if (writer === undefined) {
      this.writerUnavailable = true;
      return;
    }
    this.writer = writer;
    this.writerIdleTimer = setInterval(() => this.stopWriterWhenIdle(), Math.min(1000, this.writerIdleMs));
    this.writerIdleTimer.unref();
    if (wait) {
      const reply = writer.waitForReply(WRITER_REPLY_TIMEOUT_MS);
      if (reply === undefined) this.discardWriter();
      else this.handleReply(reply);
    }
  }

  /** Reads the writer thread's replies that have arrived, without waiting. */
  pollWriter(): void {
    const writer = this.writer;
    if (writer === undefined) return;
    for (let reply = writer.take(); reply !== undefined; reply = writer.take()) this.handleReply(reply);
    if (writer.hasExited && this.writer === writer) this.abandonWriter('the writer thread ended');
  }

  private handleReply(reply: WriterReply): void {
    switch (reply.t) {
      case 'ready':
        // Nothing is in flight before the thread is active, so the frontier here is the committed tree.
        if (!this.writerActive && this.writer !== undefined) {
          this.writer.post({ t: 'adopt', frontier: this.host.committer.frontierState() });
          this.writerActive = true;
        }
        return;
      case 'done': {
        const head = this.takeAnswered(reply.id);
        if (head === undefined) return;
        this.host.committedSize = reply.size;
        for (const batch of head.batches) this.host.builder.recycle(batch);
        if (reply.checkpoint !== undefined) this.host.lastCheckpointRow = reply.checkpoint;
        return;
      }
      case 'failed':
      case 'refused': {
        if (reply.t === 'failed') {
          this.failure ??= new CustodyError(reply.error.code as ErrorCode, reply.error.message, { where: reply.error.where });
          if (reply.id === -1) {
            // Not about a commit: the thread cannot work (e.g. it could not open the database).
            if (this.writerActive) this.abandonWriter(reply.error.message);
            else this.discardWriter();
            return;
          }
        }
        const head = this.takeAnswered(reply.id);
        if (head === undefined) return;
        this.returned.push(...head.batches);
        if (this.inFlight.length === 0) this.takeBackReturned();
        return;
      }
      case 'closed':
        return;
    }
  }

  /**
   * The oldest commit in flight, taken out, when the reply is about it. Replies come in the order
   * of the posts; one that does not means the thread cannot be trusted with more, and it is dropped
   * with everything still in flight (read back from the evidence file, the rest queued again).
   */
  private takeAnswered(id: number): InFlight | undefined {
    const head = this.inFlight[0];
    if (head === undefined || head.id !== id) {
      this.abandonWriter(`the writer thread answered commit ${id} out of turn`);
      return undefined;
    }
    this.inFlight.shift();
    this.inFlightBytes -= head.bytes;
    return head;
  }

  /** Puts batches the thread did not commit back in front of the queue, once nothing is in flight. */
  private takeBackReturned(): void {
    if (this.returned.length === 0) return;
    this.host.queued = [...this.returned, ...this.host.queued];
    this.returned = [];
    this.generation++;
  }

  /**
   * Posts what is queued (and the checkpoint `mode` asks for) to the writer thread. With `wait`,
   * returns when everything is committed and throws if anything failed (all of it queued again);
   * without, waits only when the pipeline is full, and throws a failure seen since the last call.
   */
  commitThroughWriter(mode: CommitMode, key: SigningKey, wait: boolean): CheckpointRow | undefined {
    if (this.failure !== undefined) {
      // A failed commit's batches come back only once everything after them has been answered.
      this.waitForWriter(0);
      if (!wait) throw this.takeFailure();
      this.failure = undefined; // a synchronous commit is the retry
    }
    if (!this.writerActive) return wait ? this.host.commitHere(mode, key) : undefined;
    this.host.sealBuilder();
    const size = this.host.builder.nextSeq;
    const checkpoint = this.host.checkpointRequest(mode, key, size);
    if (this.host.queued.length > 0 || checkpoint !== undefined) {
      const id = ++this.requestId;
      this.writer!.post({ t: 'commit', id, generation: this.generation, batches: this.host.queued, checkpoint });
      const bytes = this.host.queued.reduce((n, b) => n + b.data.byteLength, 0);
      this.inFlight.push({
        id,
        batches: this.host.queued,
        bytes,
        checkpoint: checkpoint === undefined ? undefined : { tree_size: size, created_at: checkpoint.createdAt },
      });
      this.inFlightBytes += bytes;
      this.host.queued = [];
    }
    this.waitForWriter(wait ? 0 : MAX_IN_FLIGHT);
    if (this.failure !== undefined) {
      this.waitForWriter(0);
      throw this.takeFailure();
    }
    if (!wait || checkpoint === undefined) return undefined;
    return this.host.lastCheckpointRow?.tree_size === size ? this.host.lastCheckpointRow : undefined;
  }

  /** Blocks until at most `maxInFlight` commits (and MAX_IN_FLIGHT_BYTES) are unanswered. */
  private waitForWriter(maxInFlight: number): void {
    while ((this.inFlight.length > maxInFlight || (this.inFlight.length > 0 && this.inFlightBytes > MAX_IN_FLIGHT_BYTES)) && this.writer !== undefined) {
      const reply = this.writer.waitForReply(WRITER_REPLY_TIMEOUT_MS);
      if (reply === undefined) {
        this.abandonWriter(`the writer thread did not answer within ${WRITER_REPLY_TIMEOUT_MS / 1000} s`);
        return;
      }
      this.handleReply(reply);
    }
  }

  private takeFailure(): CustodyError {
    const failure = this.failure ?? new CustodyError(ErrorCodes.STORE_WRITE_FAILED, 'a commit in the writer thread failed', { where: this.host.dbPath });
    this.failure = undefined;
    return failure;
  }

  /** Drops a thread that never took over; the store goes on in this thread. */
  discardWriter(): void {
    this.writer?.terminate();
    this.writer = undefined;
    this.writerActive = false;
    this.writerUnavailable = true;
    this.failure = undefined;
    if (this.writerIdleTimer !== undefined) clearInterval(this.writerIdleTimer);
    this.writerIdleTimer = undefined;
  }

  /**
   * The thread ended or stopped answering while it had the tree: learn from the evidence file what
   * was committed, keep everything else queued, and go on in this thread.
   */
  private abandonWriter(why: string): void {
    const wasActive = this.writerActive;
    this.discardWriter();
    if (!wasActive) return;
    // Taking the write lock first waits out a transaction the thread may still be finishing. (A
    // thread that stopped answering but commits later is refused by the gapless-seq check.)
    let frontier: MerkleFrontier;
    try {
      frontier = this.host.db.transaction(() => frontierFromDatabase(this.host.db)).immediate();
    } catch {
      frontier = frontierFromDatabase(this.host.db);
    }
    this.host.committer.adoptFrontier(frontier);
    this.host.committedSize = frontier.size;
    this.host.lastCheckpointRow = this.host.lastCheckpointInDatabase();
    const uncommitted = [...this.inFlight.flatMap((f) => f.batches), ...this.returned, ...this.host.queued].filter((b) => b.firstSeq >= frontier.size);
    this.inFlight = [];
    this.inFlightBytes = 0;
    this.returned = [];
    this.host.queued = uncommitted;
    const requeued = uncommitted.reduce((n, b) => n + batchCount(b), 0);
    // Nothing is lost (the uncommitted records are queued here again), so this is reported, not thrown.
    const err = new CustodyError(ErrorCodes.STORE_WRITE_FAILED, `${why}; ${requeued} records are queued again and will be committed in this thread`, { where: this.host.dbPath });
    this.host.onBackgroundError?.(err);
  }

  /** Waits for the thread's commits, takes the tree back, and ends it. */
  stopWriter(): void {
    const writer = this.writer;
    if (writer === undefined) return;
    if (!this.writerActive) {
      this.discardWriter();
      this.writerUnavailable = false;
      return;
    }
    this.waitForWriter(0);
    if (this.writer !== writer) return; // abandoned while waiting
    writer.post({ t: 'close' });
    for (;;) {
      const reply = writer.waitForReply(WRITER_REPLY_TIMEOUT_MS);
      if (reply === undefined) {
        this.abandonWriter('the writer thread did not close');
        return;
      }
      if (reply.t === 'closed') {
        if (reply.frontier === undefined) {
          this.abandonWriter('the writer thread closed without its tree');
          return;
        }
        this.host.committer.adoptFrontier(MerkleFrontier.fromState(reply.frontier));
        break;
      }
      this.handleReply(reply);
    }
    this.discardWriter();
    this.writerUnavailable = false;
  }

  private stopWriterWhenIdle(): void {
    if (this.host.closed || this.writer === undefined || this.host.writerMode === 'on') return;
    if (performance.now() - this.host.lastFullBatchMono < this.writerIdleMs) return;
    this.pollWriter();
    if (this.inFlight.length > 0 || this.failure !== undefined) return;
    this.stopWriter();
  }
}
