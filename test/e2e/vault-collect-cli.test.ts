/**
 * `custody collect --vault` and `custody vault release` as a user runs them: the built CLI against a
 * real RGW holding two hosts shipped by the agent's shipper, one of whose stores is deleted. The
 * bundle verifies with `custody verify`; a progress line per host goes to stderr; release lifts the
 * case's holds. Exit 2 with a stable code for usage and vault errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipStore } from '../../agent/ship/shipper.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
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
      const { store } = EvidenceStore.create(dir, { host, bootId: 'boot-1', policy: { batchRecords: 10, checkpointRecords: 10, checkpointMs: 3_600_000 } });
      for (let i = 0; i < 30; i++) store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '1', ino: '1', offset: i * 8, line_no: i + 1, length: 7, text: `line ${String(i).padStart(2, '0')}` });
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
