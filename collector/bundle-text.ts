/**
 * The bundle's text files for the content check (src/verify/bundle-content.ts), read as a stream
 * of lines: 1 MiB reads, strict UTF-8 (bytes that are not UTF-8 are a finding, never replaced, so
 * a row cannot pass with bytes that differ from the collector's), and no line held beyond 16 MiB.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BundleTextError, type BundleTextReader } from '../src/verify/bundle-content.js';

const CHUNK = 1 << 20;
const MAX_LINE_CHARS = 16 << 20;

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
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const buf = Buffer.alloc(CHUNK);
    let carry = '';
    let line = 1;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      let text: string;
      try {
        text = decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      } catch {
        throw new BundleTextError(path, line, 'not_utf8', 'bytes that are not UTF-8');
      }
      let start = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
        const l = carry + text.slice(start, i + 1);
        carry = '';
        start = i + 1;
        yield l;
        line++;
      }
      carry += text.slice(start);
      if (carry.length > MAX_LINE_CHARS) throw new BundleTextError(path, line, 'line_too_long', `a line longer than ${MAX_LINE_CHARS} characters`);
      if (n === 0) break;
    }
    if (carry !== '') yield carry;
  } finally {
    closeSync(fd);
  }
}
