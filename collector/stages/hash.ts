/**
 * Collect's hash stage: the size and SHA-256 of every content file of the bundle, for the
 * manifest. Files finished early (each store's snapshot and witness note) are hashed in a worker
 * thread while the collector writes the timeline and the report; the timeline and the tables were
 * hashed as they were written (collector/timeline.ts); what is left is hashed here.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BundleManifest } from '../../src/bundle/manifest.js';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { workerScript } from '../../src/worker-script.js';
import { hashFile, walkBundleDir } from '../bundle-files.js';
import type { HashRequest, HashResponse } from './hash-worker.js';

export interface FileHash {
  size: number;
  sha256: string;
}

/** Hashes files in a worker thread, in the order asked; in this thread when the worker cannot start. */
export class BackgroundHasher {
  private readonly worker: Worker | undefined;
  private readonly waiting = new Map<number, { path: string; resolve: (h: FileHash) => void; reject: (e: unknown) => void }>();
  private readonly started = new Map<string, Promise<FileHash>>();
  private nextId = 0;

  constructor() {
    const script = workerScript('./hash-worker.js', import.meta.url);
    let worker: Worker | undefined;
    try {
      worker = script !== undefined ? new Worker(script) : undefined;
    } catch {
      worker = undefined;
    }
    this.worker = worker;
    // Never what keeps the process alive (a collection that fails midway has nothing more to
    // wait for); `take` holds it while its answer is awaited.
    worker?.unref();
    worker?.on('message', (m: HashResponse) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if ('error' in m) w.reject(new CustodyError(ErrorCodes.IO, `cannot read ${w.path}: ${m.error}`, { where: w.path }));
      else w.resolve({ size: m.size, sha256: m.sha256 });
    });
    const die = (): void => {
      // What the worker had not answered is hashed here instead.
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        hashFile(w.path).then(w.resolve, w.reject);
      }
    };
    worker?.on('error', die);
    worker?.on('exit', die);
  }

  /** Starts hashing `path` (absolute); the file must not change afterwards. */
  start(path: string): void {
    if (this.started.has(path)) return;
    let result: Promise<FileHash>;
    if (this.worker === undefined) result = hashFile(path);
    else {
      const id = this.nextId++;
      const worker = this.worker;
      result = new Promise((resolve, reject) => {
        this.waiting.set(id, { path, resolve, reject });
        worker.postMessage({ id, path } satisfies HashRequest);
      });
    }
    // Awaited by `take`; an error is thrown there, never left unhandled here.
    result.catch(() => undefined);
    this.started.set(path, result);
  }

  /** The hash of a file started earlier, or undefined. */
  take(path: string): Promise<FileHash> | undefined {
    const result = this.started.get(path);
    if (result === undefined || this.worker === undefined) return result;
    const worker = this.worker;
    worker.ref();
    return result.finally(() => worker.unref());
  }

  async close(): Promise<void> {
    await this.worker?.terminate().catch(() => undefined);
  }
}

/**
 * Every regular file under `work` with its size and SHA-256, in bundle order: from `known` (hashed
 * as written) when the size on disk agrees, from `hasher` when it was started there, else hashed now.
 */
export async function hashStage(work: string, known: ReadonlyMap<string, FileHash>, hasher: BackgroundHasher, onBytes: (bytes: number, total: number) => void): Promise<BundleManifest['files']> {
  const entries = walkBundleDir(work).filter((e) => e.type === 'file');
  const total = entries.reduce((n, e) => n + e.size, 0);
  onBytes(0, total);
  const files: BundleManifest['files'] = [];
  let done = 0;
  for (const e of entries) {
    const abs = join(work, e.path);
    const written = known.get(e.path);
    let h = written !== undefined && written.size === e.size ? written : await (hasher.take(abs) ?? hashFile(abs));
    // A file hashed early that has another size now was written again since: hashed again.
    if (h.size !== e.size) h = await hashFile(abs);
    files.push({ path: e.path, size: h.size, sha256: h.sha256 });
    done += h.size;
    onBytes(done, total);
  }
  return files;
}
