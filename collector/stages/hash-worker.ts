/**
 * Worker-thread entry that hashes files (SHA-256, size) one after another, so the collector's
 * thread can go on writing the next part of the bundle meanwhile (collector/stages/hash.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { serveRequests } from '../../src/worker-pool-serve.js';

const buffer = Buffer.allocUnsafe(4 << 20);

serveRequests<string, { size: number; sha256: string }>((path) => {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) {
      hash.update(buffer.subarray(0, n));
      size += n;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
});
