/**
 * Program executions and network/server access in a bundle (issue 13): real samples imported
 * (an auditd log with execve events, an nginx access log, a Windows Security log with 4688 and
 * 5140/5145), collected, and every process.exec and net.access record is one row of
 * tables/process-executions.csv and tables/net-access.csv; the bundle verifies with its content
 * bound to the stores, and a row edited in either table is named.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase } from '../../collector/collect.js';
import { importFiles } from '../../collector/import.js';
import { verifyBundle } from '../../collector/verify-bundle.js';
import { systemClock } from '../../src/clock.js';
import { tempDir } from '../helpers/ingest-harness.js';
import { resealBundle } from '../helpers/reseal-bundle.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const AUDIT = `${FIX}hub/.tests/auditd-suid-crash/auditd-suid-crash.log`;
const NGINX = `${FIX}lnav/test/logfile_shop_access_log.0`;
const WMIEXEC = `${FIX}EVTX-to-MITRE-Attack/EVTX_full_APT_attack_steps/ID4688,5140,5145-WMIexec execution via SMB (GLOBAL).evtx`;

let tmp: { dir: string; cleanup: () => void };
let bundle: string;
let counts: Record<string, number>;
beforeAll(async () => {
  tmp = tempDir('bundle-exec');
  const store = join(tmp.dir, 'store');
  const s = importFiles(store, [AUDIT, NGINX, WMIEXEC], { host: 'srv-01' });
  counts = s.totals.records;
  bundle = join(tmp.dir, 'bundle');
  await collectCase({ caseId: 'IR-EXEC', stores: [store], out: bundle, report: false }, { clock: systemClock, collectorHost: 'ir', version: 'test', codeSha256: '0'.repeat(64) });
});
afterAll(() => tmp.cleanup());

const rows = (table: string): string[] => readFileSync(join(bundle, 'tables', `${table}.csv`), 'utf8').split('\n').filter((l) => l !== '');

describe('program executions and access in the bundle', () => {
  it('every process.exec and net.access record is a row of its table, and the bundle verifies', async () => {
    // The samples hold 2 execve events (auditd), 6 4688s (WMIexec) and 1000 requests plus 48 share accesses.
    expect(counts['process.exec']).toBeGreaterThanOrEqual(8);
    expect(counts['net.access']).toBeGreaterThanOrEqual(1048);
    const exec = rows('process-executions');
    const access = rows('net-access');
    expect(exec[0]).toMatch(/^datetime,timestamp_desc,host,store_id,seq,record_sha256,action,user,/);
    expect(exec).toHaveLength(counts['process.exec']! + 1);
    expect(access).toHaveLength(counts['net.access']! + 1);
    // auditd's argv becomes the command line column; Windows' own command line is kept as written.
    expect(exec.some((r) => r.includes('/usr/bin/su --help'))).toBe(true);
    expect(exec.some((r) => r.includes('cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1619425227.894209 2>&1'))).toBe(true);
    expect(access.some((r) => r.includes(',smb,') && r.includes('ADMIN$'))).toBe(true);
    const v = await verifyBundle(bundle);
    expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('a row edited in either table (re-sealed by a forger) is named with its table and record', async () => {
    for (const table of ['process-executions', 'net-access']) {
      const forged = join(tmp.dir, `forged-${table}`);
      const { cpSync } = await import('node:fs');
      cpSync(bundle, forged, { recursive: true });
      const path = join(forged, 'tables', `${table}.csv`);
      const lines = readFileSync(path, 'utf8').split('\n');
      // The first row's last column (derived_from) no longer says what its record says.
      lines[1] = `${lines[1]!}9`;
      writeFileSync(path, lines.join('\n'));
      await resealBundle(forged);
      const v = await verifyBundle(forged);
      expect(v.ok).toBe(false);
      expect(v.findings.map((f) => f.code)).toContain('table.row_mismatch');
      expect(v.findings.find((f) => f.code === 'table.row_mismatch')!.where).toContain(`tables/${table}.csv`);
    }
  });
});
