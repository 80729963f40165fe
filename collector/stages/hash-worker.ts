/**
 * Worker-thread entry that hashes files (SHA-256, size) one after another, so the collector's
 * thread can go on writing the next part of the bundle meanwhile (collector/stages/hash.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { messageOf } from '../../src/errors.js';

export type HashRequest = { id: number; path: string };
export type HashResponse = { id: number; size: number; sha256: string } | { id: number; error: string };

const port = parentPort;
if (port) {
  const buffer = Buffer.allocUnsafe(4 << 20);
  port.on('message', ({ id, path }: HashRequest) => {
    let response: HashResponse;
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      const hash = createHash('sha256');
      let size = 0;
      for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) {
        hash.update(buffer.subarray(0, n));
        size += n;
      }
      response = { id, size, sha256: hash.digest('hex') };
    } catch (err) {
      response = { id, error: messageOf(err) };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    port.postMessage(response);
  });
}
