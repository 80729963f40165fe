/**
 * Worker-thread entry for rendering stores' timeline rows (timeline-render.ts). The collector's
 * thread opens a stream per store and pulls its batches one request at a time, so a worker never
 * runs further ahead than the batches asked for (memory stays bounded).
 */
import { parentPort } from 'node:worker_threads';
import { CustodyError, messageOf } from '../src/errors.js';
import type { TimelineSource } from '../src/bundle/timeline.js';
import { renderedBatches, type RenderedBatch, type RenderOptions } from './timeline-render.js';

export type RenderRequest =
  | { type: 'open'; stream: number; dir: string; src: TimelineSource; options: RenderOptions }
  | { type: 'next'; stream: number };

export type RenderResponse =
  | { stream: number; batch: RenderedBatch }
  | { stream: number; done: true }
  | { stream: number; error: { code: string | undefined; message: string; where: string | undefined } };

const port = parentPort;
if (port) {
  const streams = new Map<number, Generator<RenderedBatch>>();
  port.on('message', (request: RenderRequest) => {
    if (request.type === 'open') {
      streams.set(request.stream, renderedBatches(request.dir, request.src, request.options));
      return;
    }
    const it = streams.get(request.stream);
    if (it === undefined) {
      // Asked ahead past the end (or after an error was sent): nothing more comes.
      port.postMessage({ stream: request.stream, done: true } satisfies RenderResponse);
      return;
    }
    try {
      const next = it.next();
      if (next.done) {
        streams.delete(request.stream);
        port.postMessage({ stream: request.stream, done: true } satisfies RenderResponse);
      } else {
        port.postMessage({ stream: request.stream, batch: next.value } satisfies RenderResponse, [next.value.tables.buffer as ArrayBuffer]);
      }
    } catch (err) {
      streams.delete(request.stream);
      const response: RenderResponse = {
        stream: request.stream,
        error: { code: err instanceof CustodyError ? err.code : undefined, message: messageOf(err), where: err instanceof CustodyError ? err.where : undefined },
      };
      port.postMessage(response);
    }
  });
}
