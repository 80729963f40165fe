/**
 * The worker's side of a WorkerPool (worker-pool.ts): answers each request with `handle`'s result
 * (its ArrayBuffers listed by `transfer` handed over, not copied), or with an error message, which
 * the pool turns into `undefined` for the caller to redo the work itself.
 */
import { parentPort } from 'node:worker_threads';
import type { PoolReady, PoolRequest, PoolResponse } from './worker-pool.js';

/** `announceReady`: post PoolReady once listening (for a pool made with `announcesReady`). */
export function serveRequests<Req, Res>(handle: (request: Req) => Res, transfer: (result: Res) => ArrayBuffer[] = () => [], options: { announceReady?: boolean } = {}): void {
  const port = parentPort;
  if (!port) return;
  port.on('message', ({ id, request }: PoolRequest<Req>) => {
    let result: Res;
    try {
      result = handle(request);
    } catch (err) {
      port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies PoolResponse<Res>);
      return;
    }
    port.postMessage({ id, result } satisfies PoolResponse<Res>, transfer(result));
  });
  if (options.announceReady === true) port.postMessage({ ready: true } satisfies PoolReady);
}
