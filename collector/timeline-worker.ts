/**
 * Worker-thread entry for rendering timeline batches (timeline-render.ts): it receives the render
 * context once, then batches of records in timeline order, and posts each rendered batch back.
 */
import { parentPort } from 'node:worker_threads';
import { messageOf } from '../src/errors.js';
import { renderBatch, type RecordBatch, type RenderContext, type RenderedBatch } from './timeline-render.js';

export type RenderRequest = { context: RenderContext } | { id: number; batch: RecordBatch };

export type RenderResponse = { id: number; rendered: RenderedBatch } | { id: number; error: string };

const port = parentPort;
if (port) {
  let context: RenderContext | undefined;
  port.on('message', (request: RenderRequest) => {
    if ('context' in request) {
      context = request.context;
      return;
    }
    let response: RenderResponse;
    try {
      if (context === undefined) throw new Error('no render context');
      response = { id: request.id, rendered: renderBatch(request.batch, context) };
    } catch (err) {
      // The collector's thread renders such a batch itself, and its error (if any) is thrown there.
      response = { id: request.id, error: messageOf(err) };
    }
    if ('rendered' in response && response.rendered.report) port.postMessage(response, [response.rendered.report.rows.buffer as ArrayBuffer]);
    else port.postMessage(response);
  });
}
