/**
 * End-to-end: `custody import` through the built CLI (`node dist/src/cli.js`): exit 0 with a summary
 * (and --json), exit 2 with a clear error naming the file when one is missing, nothing imported.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, custody } from '../helpers/cli.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const EVTX = `${FIX}Partition-4DiagnosticParser/sampleFile/Microsoft-Windows-Partition%4Diagnostic.evtx`;
const UTMP = `${FIX}plaso/test_data/utmp/utmp_corrupted`;
const AUTH = `${FIX}beats/filebeat/module/system/auth/test/test.log`;
let work: string;


beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-import-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('custody import (built CLI)', () => {
  it('creates the store, imports, prints the summary and the fingerprint; exit 0; the store verifies', () => {
    const store = join(work, 'store');
    const r = custody('import', '--store', store, '--host', 'ws-0147', EVTX, UTMP);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/enrollment key fingerprint: SHA256:/);
    expect(r.stdout).toContain('imported 2 files');
    expect(r.stdout).toContain(createHash('sha256').update(readFileSync(EVTX)).digest('hex'));
    expect(r.stdout).toContain('records: usb.connect 23, usb.disconnect 7');
    expect(r.stdout).toMatch(/gap \(seq \d+, truncated\)/);
    const v = custody('verify', store);
    expect(v.code).toBe(0);
  });

  it('--json into an existing store', () => {
    const store = join(work, 'store');
    const r = custody('import', '--store', store, '--json', AUTH);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { host: string; files: Array<{ path: string; records: Record<string, number> }>; totals: { files: number } };
    expect(s.host).toBe('ws-0147');
    expect(s.totals.files).toBe(1);
    expect(s.files[0]).toMatchObject({ path: resolve(AUTH), records: { 'auth.logon': 7 } });
  });

  it('issue 13: audit execve, nginx, IIS W3C and Squid logs become process.exec and net.access, by content; the store verifies', () => {
    const store = join(work, 'store-exec-net');
    const files = ['plaso/test_data/audit_enriched.log', 'lnav/test/logfile_shop_access_log.0', 'lnav/test/logfile_w3c_big.0', 'plaso/test_data/squid_access.log', 'plaso/test_data/apache_access.log'].map((f) => FIX + f);
    const r = custody('import', '--store', store, '--host', 'web-01', '--json', ...files);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { files: Array<{ path: string; records: Record<string, number>; failures?: Record<string, number> }> };
    expect(s.files.map((f) => [f.records['process.exec'] ?? 0, f.records['net.access'] ?? 0])).toEqual([
      [3, 0],
      [0, 1000],
      [0, 210],
      [0, 8],
      [0, 12],
    ]);
    expect(JSON.stringify(s.files[4])).toContain('access_log.bad_quoting');
    expect(custody('verify', store).code).toBe(0);
  });

  it('a missing file: exit 2, the file named, nothing imported', () => {
    const store = join(work, 'store-missing');
    const missing = join(work, 'no-such.log');
    const r = custody('import', '--store', store, '--host', 'h', AUTH, missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain('no such file; nothing was imported');
    expect(r.stderr).toContain('[E_IO]');
    expect(existsSync(store)).toBe(false);
  });

  it('usage errors: no file, no --store, a folder: exit 2', () => {
    expect(custody('import', '--store', join(work, 's2'), '--host', 'h').code).toBe(2);
    expect(custody('import', AUTH).code).toBe(2);
    const folder = custody('import', '--store', join(work, 's3'), '--host', 'h', work);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain('is a folder');
  });
});
