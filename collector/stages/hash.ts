/**
 * Collect's hash stage: the size and SHA-256 of every content file of the bundle, for the
 * manifest. Files finished early (each store's snapshot and witness note) are hashed in a worker
 * thread while the collector writes the timeline and the report; the timeline and the tables were
 * hashed as they were written (collector/timeline.ts); what is left is hashed here.
 */
import { join } from 'node:path';
import type { BundleManifest } from '../../src/bundle/manifest.js';
import { WorkerPool } from '../../src/worker-pool.js';
import { workerScript } from '../../src/worker-script.js';
import { hashFile, walkBundleDir } from '../bundle-files.js';

export interface FileHash {
  size: number;
  sha256: string;
}

/** Hashes files in a worker thread, in the order asked; in this thread when the worker cannot (start, or read a file). */
export class BackgroundHasher {
  // Unref'd: never what keeps the process alive (a collection that fails midway has nothing more to wait for).
  private readonly pool = new WorkerPool<string, FileHash>(workerScript('./hash-worker.js', import.meta.url), 1, { unref: true });
  private readonly started = new Map<string, Promise<FileHash>>();

  /** Starts hashing `path` (absolute); the file must not change afterwards. */
  start(path: string): void {
    if (this.started.has(path)) return;
    // What the worker does not answer is hashed here, whose error (if any) is the collection's.
    const result = this.pool.run(path).then((h) => h ?? hashFile(path));
    // Awaited by `take`; an error is thrown there, never left unhandled here.
    result.catch(() => undefined);
    this.started.set(path, result);
  }

  /** The hash of a file started earlier, or undefined. */
  take(path: string): Promise<FileHash> | undefined {
    const result = this.started.get(path);
    return result === undefined ? undefined : this.pool.hold(result);
  }

  async close(): Promise<void> {
    await this.pool.close();
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
