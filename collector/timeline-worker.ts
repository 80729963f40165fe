/**
 * Worker-thread entry for rendering timeline batches (timeline-render.ts): the render context
 * comes as workerData, then batches of records in timeline order, each answered rendered.
 */
import { workerData } from 'node:worker_threads';
import { serveRequests } from '../src/worker-pool-serve.js';
import { renderBatch, transferables, type RecordBatch, type RenderContext, type RenderedBatch } from './timeline-render.js';

serveRequests<RecordBatch, RenderedBatch>((batch) => renderBatch(batch, workerData as RenderContext), transferables);
