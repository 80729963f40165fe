/**
 * The streamed text import (collector/import-content.ts) against the whole-file reading it
 * replaces for plain text: for real log content cut into pieces at arbitrary places (a line, a
 * UTF-8 character, a byte order mark or an audit event split across pieces), scanContent hashes
 * and classifies it as the whole bytes would be, and deriveTextPieces hands out exactly the records
 * and failures, in the same order, that parseContent reads from the whole bytes.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveTextPieces, parseContent, readContent, scanContent } from '../../collector/import-content.js';
import type { DerivedRecord, ParseFailure } from '../../src/parsers/types.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const FILES = [
  'plaso/test_data/audit_enriched.log',
  'constructed/audit-execve-argv.log',
  'plaso/test_data/apache_access.log',
  'plaso/test_data/squid_access.log',
  'plaso/test_data/selinux.log',
  'constructed/kern-usb.log',
  'beats/filebeat/module/system/auth/test/test.log',
  'lnav/test/logfile_shop_access_log.0',
];
const LINES = FILES.flatMap((f) => readFileSync(join(FIXTURES, f), 'utf8').split('\n').filter((l) => l !== ''));
const MTIME = '2026-12-04T00:00:00.000000Z';

/** Cuts bytes at the given places (sorted, deduplicated, within the bytes). */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((a) => a % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

function streamed(pieces: Buffer[], fileSeq: number): { records: DerivedRecord[]; failures: ParseFailure[] } {
  const records: DerivedRecord[] = [];
  const failures: ParseFailure[] = [];
  deriveTextPieces(pieces, '/var/log/x.log', fileSeq, MTIME, { record: (r) => records.push(r), failure: (f) => failures.push(f) });
  return { records, failures };
}

/** Log content: real lines (audit events, access logs, syslog) in order, with a BOM, non-UTF-8 bytes and a final newline or not. */
const content = fc
  .record({
    start: fc.nat(LINES.length - 1),
    count: fc.integer({ min: 1, max: 120 }),
    bom: fc.boolean(),
    finalNewline: fc.boolean(),
    latin1At: fc.option(fc.nat(), { nil: undefined }),
    emptyLines: fc.array(fc.nat(), { maxLength: 3 }),
  })
  .map(({ start, count, bom, finalNewline, latin1At, emptyLines }) => {
    const lines = LINES.slice(start, start + count);
    for (const e of emptyLines) lines.splice(e % (lines.length + 1), 0, '');
    let bytes = Buffer.from(lines.join('\n') + (finalNewline ? '\n' : ''), 'utf8');
    if (latin1At !== undefined && bytes.length > 0) {
      bytes = Buffer.from(bytes);
      const i = latin1At % bytes.length;
      if (bytes[i] !== 0x0a) bytes[i] = 0xe9;
    }
    return bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]) : bytes;
  });

describe('streamed text import = whole-file import', () => {
  it('the same records and failures, in order, however the content is cut into pieces', () => {
    fc.assert(
      fc.property(content, fc.array(fc.nat(), { maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), (bytes, at, fileSeq) => {
        const pieces = cut(bytes, at);
        const scan = scanContent(pieces);
        expect(scan.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
        expect(scan.size).toBe(bytes.length);
        const whole = parseContent(bytes, '/var/log/x.log', fileSeq, MTIME);
        expect(scan.streamable).toBe(whole.format === 'text');
        if (!scan.streamable) return;
        const s = streamed(pieces, fileSeq);
        expect(s.records).toEqual(whole.out.records);
        expect(s.failures).toEqual(whole.out.failures);
      }),
      { numRuns: 2000 },
    );
  });

  it('one-byte pieces: every boundary at once, the BOM included', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(join(FIXTURES, 'constructed/audit-execve-argv.log'))]);
    const pieces = [...bytes].map((b) => Buffer.from([b]));
    const whole = parseContent(bytes, '/var/log/x.log', 7, MTIME);
    expect(whole.out.records.length).toBeGreaterThan(0);
    expect(streamed(pieces, 7)).toEqual(whole.out);
  });

  it('what is read whole is not streamed: EVTX, gzip, utmp, setupapi (its marker split across pieces too), UTF-16, binary, empty', () => {
    const setupapi = readFileSync(join(FIXTURES, 'plaso/test_data/setupapi.dev.log'));
    const at = setupapi.indexOf('>>>  [Device Install') + 7;
    expect(scanContent([setupapi.subarray(0, at), setupapi.subarray(at)]).streamable).toBe(false);
    for (const bytes of [
      readFileSync(join(FIXTURES, 'plaso/test_data/utmp/utmp')),
      Buffer.from([0x1f, 0x8b, 0x08, 0x00]),
      Buffer.from('ElfFile\0rest'),
      Buffer.from([0xff, 0xfe, 0x41, 0x00]),
      Buffer.from('text then\0 a NUL'),
      Buffer.alloc(0),
    ]) {
      expect(scanContent([bytes]).streamable).toBe(false);
    }
  });

  it('readContent gives a file back in full pieces, the last one short', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custody-readcontent-'));
    try {
      const path = join(dir, 'f');
      const bytes = Buffer.from(Array.from({ length: 10_001 }, (_, i) => i % 251));
      writeFileSync(path, bytes);
      const pieces = [...readContent(path, 4096)];
      expect(pieces.map((p) => p.length)).toEqual([4096, 4096, 1809]);
      expect(Buffer.concat(pieces)).toEqual(bytes);
      writeFileSync(path, '');
      expect([...readContent(path, 4096)]).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
