/**
 * `custody collect --vault` and `custody vault release` as a user runs them: the built CLI against a
 * real RGW holding two hosts shipped by the agent's shipper, one of whose stores is deleted. The
 * bundle verifies with `custody verify`; a progress line per host goes to stderr; release lifts the
 * case's holds. `--since/--until` collect a window that `custody verify` calls VALID for that window
 * only, saying what was not collected. Exit 2 with a stable code for usage and vault errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipStore } from '../../agent/ship/shipper.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import type { Clock } from '../../src/clock.js';
import { StateStore } from '../../src/store/state-store.js';
import { CLI } from '../helpers/cli.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';

function custody(env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...base, HOME: '/nonexistent', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(skipWithoutRgw())('custody collect --vault and vault release (built CLI, real RGW)', () => {
  const rgw = useRgw();
  let work: string;
  const url = `s3://collect-cli-${process.pid}`;
  const userEnv = (): Record<string, string> => ({ AWS_ENDPOINT_URL: rgw.endpoint, AWS_REGION: rgw.region, AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-collect-cli-'));
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = openVault({ url, env: rgw.env });
    for (const host of ['web-01', 'db-01']) {
      const dir = join(work, host);
      // One record a minute from 10:00 UTC (a driven clock), so a window selects some of them.
      let t = Date.parse('2026-12-05T10:00:00Z');
      const clock: Clock = { nowMs: () => t, monoNs: () => BigInt(t) * 1_000_000n };
      const { store } = EvidenceStore.create(dir, { host, bootId: 'boot-1', clock, policy: { batchRecords: 10, checkpointRecords: 10, checkpointMs: 3_600_000 } });
      for (let i = 0; i < 30; i++, t += 60_000) store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '1', ino: '1', offset: i * 8, line_no: i + 1, length: 7, text: `line ${String(i).padStart(2, '0')}` });
      store.close({ finalCheckpoint: true });
      const state = new StateStore(dir);
      await shipStore(dir, client, state);
      state.close();
    }
    client.destroy();
    rmSync(join(work, 'db-01'), { recursive: true, force: true });
  }, 120_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('collect --vault --all-hosts: exit 0, a line per host, a bundle that verifies; release lifts the holds', () => {
    const out = join(work, 'bundle');
    const r = custody(userEnv(), 'collect', '--case', 'IR-CLI-1', '--vault', url, '--all-hosts', '--out', out, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^collect: vault 1\/2 (web-01|db-01) [0-9a-f]{32}: \d+ objects/m);
    expect(r.stderr).toMatch(/^collect: vault 2\/2 /m);
    const summary = JSON.parse(r.stdout) as { hosts: { host: string; source: string; records: number; verified: boolean }[]; holds: { held: number }; report?: { files: string[] } };
    // The draft report is made from vault-sourced hosts as from store folders.
    expect(summary.report?.files).toContain('report/report.html');
    expect(summary.hosts.map((h) => [h.host, h.source, h.records, h.verified]).sort()).toEqual([
      ['db-01', 'vault', 30, true],
      ['web-01', 'vault', 30, true],
    ]);
    expect(summary.holds.held).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { collector: { key: { fingerprint: string } } };
    const verified = custody({}, 'verify', out, '--collector-key', manifest.collector.key.fingerprint);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/VALID/);

    const released = custody(userEnv(), 'vault', 'release', url, '--case', 'IR-CLI-1', '--examiner', 'Ada Examiner, IR');
    expect(released.stderr).toBe('');
    expect(released.code).toBe(0);
    expect(released.stdout).toContain(`legal holds lifted: ${summary.holds.held} object versions`);
    const again = custody(userEnv(), 'vault', 'release', url, '--case', 'NO-SUCH-CASE');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('[E_VAULT_NOT_FOUND]');
  });

  it('collect --vault --since/--until: a window that verifies VALID for its seqs only and says what it left out', () => {
    const out = join(work, 'window');
    // 10:12 to 10:16 UTC, the start written in +09:00.
    const r = custody(userEnv(), 'collect', '--case', 'IR-CLI-W', '--vault', url, '--host', 'web-01', '--since', '2026-12-05T19:12:00+09:00', '--until', '2026-12-05T10:16:00Z', '--out', out);
    expect(r.stderr).not.toContain('E_');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verified VALID for the window seq 10..19 only');
    expect(r.stdout).toContain('window observed 2026-12-05T10:12:00.000Z to 2026-12-05T10:16:00.000Z: holds seq 10..19');
    expect(r.stdout).toContain('records before seq 10 and records 20..29');
    const verified = custody({}, 'verify', out);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('store VALID for the window seq 10..19 only');
    expect(verified.stdout).toMatch(/records before seq 10 and records 20\.\.29 \(the vault's newest checkpoint covers 30\) were not collected/);
    expect(readFileSync(join(out, 'report', 'report.md'), 'utf8')).toContain('was collected for a time window only');

    const bad = custody(userEnv(), 'collect', '--case', 'X', '--vault', url, '--host', 'web-01', '--since', '2026-12-05 10:12', '--out', join(work, 'w1'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since "2026-12-05 10:12" is not an ISO 8601 time with a zone.*\[E_USAGE\]/);
    const local = custody(userEnv(), 'collect', '--case', 'X', '--store', join(work, 'web-01'), '--until', '2026-12-05T10:16:00Z', '--out', join(work, 'w2'));
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/--since and --until select vault segments.*\[E_USAGE\]/);
  });

  it('usage errors: --vault without hosts, --host without --vault, an unknown host', () => {
    const noHosts = custody(userEnv(), 'collect', '--case', 'X', '--vault', url, '--out', join(work, 'x1'));
    expect(noHosts.code).toBe(2);
    expect(noHosts.stderr).toContain('[E_USAGE]');
    const noVault = custody(userEnv(), 'collect', '--case', 'X', '--host', 'web-01', '--out', join(work, 'x2'));
    expect(noVault.code).toBe(2);
    expect(noVault.stderr).toContain('[E_USAGE]');
    const unknown = custody(userEnv(), 'collect', '--case', 'X', '--vault', url, '--host', 'nope', '--out', join(work, 'x3'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('[E_VAULT_NOT_FOUND]');
  });
});
