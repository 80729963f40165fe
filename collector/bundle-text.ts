/**
 * The bundle's text files for the content check (src/verify/bundle-content.ts), read as a stream
 * of lines: 1 MiB reads, strict UTF-8 (bytes that are not UTF-8 are a finding at their line, never
 * replaced, so a row cannot pass with bytes that differ from the collector's), and no line held
 * beyond 16 MiB.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BundleTextError, type BundleTextReader } from '../src/verify/bundle-content.js';

const CHUNK = 1 << 20;
const MAX_LINE_BYTES = 16 << 20;

export class FolderTextReader implements BundleTextReader {
  /** `isRegularFile`: the bundle walk's answer (lstat), so a symlink or FIFO is never opened. */
  constructor(
    private readonly root: string,
    private readonly isRegularFile: (path: string) => boolean,
  ) {}

  lines(path: string): Iterable<string> | undefined {
    if (!this.isRegularFile(path)) return undefined;
    return readLines(join(this.root, path), path);
  }
}

function* readLines(file: string, path: string): Generator<string> {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(CHUNK);
    let carry = Buffer.alloc(0);
    let line = 1;
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      // Whole lines only ('\n' never occurs inside a UTF-8 sequence), everything at the end of the file.
      const end = n === 0 ? buf.length : buf.lastIndexOf(0x0a) + 1;
      if (end > 0) {
        const region = buf.subarray(0, end);
        if (!isUtf8(region)) {
          let at = 0;
          for (let l = line; ; l++) {
            const nl = region.indexOf(0x0a, at);
            const stop = nl === -1 ? region.length : nl + 1;
            if (!isUtf8(region.subarray(at, stop))) throw new BundleTextError(path, l, 'not_utf8', 'bytes that are not UTF-8');
            at = stop;
          }
        }
        const text = region.toString('utf8');
        let start = 0;
        for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
          yield text.slice(start, i + 1);
          start = i + 1;
          line++;
        }
        if (start < text.length) yield text.slice(start);
      }
      carry = Buffer.from(buf.subarray(end));
      if (carry.length > MAX_LINE_BYTES) throw new BundleTextError(path, line, 'line_too_long', `a line longer than ${MAX_LINE_BYTES} bytes`);
      if (n === 0) break;
    }
  } finally {
    closeSync(fd);
  }
}
