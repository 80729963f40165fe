/**
 * A few worker threads that answer requests, least busy first. Whatever goes wrong in a worker
 * (it cannot start, it dies, its handler throws) answers `undefined`, never an error: the caller
 * then does the work in its own thread with the same function, so results never depend on where
 * the work ran, and an error the work itself raises is raised there, in the caller's words.
 *
 * The worker's side is `serveRequests` (worker-pool-serve.ts). With `announcesReady`, a worker takes
 * requests only once it has said it is ready (its modules loaded, its state built): a caller that can
 * do the work itself meanwhile (the verifier) does not queue it behind a worker still starting.
 */
import { Worker } from 'node:worker_threads';

/** A request as posted to a worker, and its answer. */
export interface PoolRequest<Req> {
  id: number;
  request: Req;
}
export type PoolResponse<Res> = { id: number; result: Res } | { id: number; error: string };

interface PoolWorker {
  worker: Worker;
  alive: boolean;
  ready: boolean;
  outstanding: number;
}

/** What a worker started with `serveRequests(…, { announceReady: true })` posts once it can take requests. */
export interface PoolReady {
  ready: true;
}

export class WorkerPool<Req, Res> {
  private readonly workers: PoolWorker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Res | undefined) => void; worker: PoolWorker }>();
  private nextId = 0;
  private refs = 0;
  private notify: (() => void) | undefined;

  /**
   * `script`: from workerScript (undefined: no worker, everything answers undefined). `workerData`
   * is given to every worker (worker_threads' workerData). `unref`: the workers never keep the
   * process alive, except while an answer is awaited. `announcesReady`: the workers post PoolReady
   * when they can take requests, and until then none is given any.
   */
  constructor(script: URL | undefined, count: number, options: { workerData?: unknown; unref?: boolean; announcesReady?: boolean } = {}) {
    for (let i = 0; script !== undefined && i < count; i++) {
      let worker: Worker;
      try {
        worker = new Worker(script, options.workerData !== undefined ? { workerData: options.workerData } : {});
      } catch {
        continue;
      }
      if (options.unref === true) worker.unref();
      const entry: PoolWorker = { worker, alive: true, ready: options.announcesReady !== true, outstanding: 0 };
      this.workers.push(entry);
      worker.on('message', (m: PoolResponse<Res> | PoolReady) => {
        if ('ready' in m) {
          entry.ready = true;
          this.wake();
          return;
        }
        const w = this.waiting.get(m.id);
        if (w === undefined) return;
        this.waiting.delete(m.id);
        entry.outstanding--;
        w.resolve('result' in m ? m.result : undefined);
      });
      const die = (): void => {
        if (!entry.alive) return;
        entry.alive = false;
        for (const [id, w] of this.waiting) {
          if (w.worker !== entry) continue;
          this.waiting.delete(id);
          w.resolve(undefined);
        }
        if (this.failed) this.wake();
      };
      worker.on('error', die);
      worker.on('exit', die);
    }
    this.unrefd = options.unref === true;
  }

  private readonly unrefd: boolean;

  /** Workers alive. */
  get size(): number {
    return this.workers.filter((w) => w.alive).length;
  }

  /** Workers alive and ready to take requests (0 while they start, and for good when none could). */
  get readyCount(): number {
    return this.workers.filter((w) => w.alive && w.ready).length;
  }

  /** Workers started, whatever became of them. */
  get started(): number {
    return this.workers.length;
  }

  /** No worker is alive (or none could start). */
  get failed(): boolean {
    return this.workers.every((w) => !w.alive);
  }

  /** Resolves once a worker is ready, or none can be. */
  settled(): Promise<void> {
    if (this.readyCount > 0 || this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.notify;
      this.notify = () => {
        before?.();
        resolve();
      };
    });
  }

  private wake(): void {
    const notify = this.notify;
    this.notify = undefined;
    notify?.();
  }

  /** The answer of the least busy worker, or undefined when none could give one. */
  run(request: Req, transfer: readonly ArrayBuffer[] = []): Promise<Res | undefined> {
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (w.alive && w.ready && (best === undefined || w.outstanding < best.outstanding)) best = w;
    if (best === undefined) return Promise.resolve(undefined);
    const target = best;
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, worker: target });
      target.outstanding++;
      try {
        target.worker.postMessage({ id, request } satisfies PoolRequest<Req>, transfer as ArrayBuffer[]);
      } catch {
        this.waiting.delete(id);
        target.outstanding--;
        resolve(undefined);
      }
    });
  }

  /** `answer`, holding unref'd workers while it is awaited. */
  hold<T>(answer: Promise<T>): Promise<T> {
    if (!this.unrefd) return answer;
    if (this.refs++ === 0) for (const w of this.workers) w.worker.ref();
    return answer.finally(() => {
      if (--this.refs === 0) for (const w of this.workers) w.worker.unref();
    });
  }

  async close(): Promise<void> {
    for (const [, w] of this.waiting) w.resolve(undefined);
    this.waiting.clear();
    await Promise.all(this.workers.map((w) => w.worker.terminate().catch(() => undefined)));
  }
}
