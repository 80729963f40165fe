/**
 * `custody verify STORE --vault` and `custody verify --vault --host` as a user runs them: the built
 * CLI against a real RGW holding a store shipped by the agent's shipper. Exit 0 valid, 1 integrity
 * failure (a rollback the store alone cannot show), 2 usage or vault errors by their stable code.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipStore } from '../../agent/ship/shipper.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { CLI } from '../helpers/cli.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';
import { deleteCheckpointsAfterFirst, hideDeletedCheckpoints, openAsAttacker } from '../helpers/store-attacks.js';

function custody(env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...base, HOME: '/nonexistent', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(skipWithoutRgw())('custody verify --vault (built CLI, real RGW)', () => {
  const rgw = useRgw();
  let work: string;
  let storeDir: string;
  let fingerprint: string;
  const url = `s3://verify-cli-${process.pid}`;
  const userEnv = (): Record<string, string> => ({ AWS_ENDPOINT_URL: rgw.endpoint, AWS_REGION: rgw.region, AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-verify-cli-'));
    storeDir = join(work, 'store');
    const created = EvidenceStore.create(storeDir, { host: 'web-01', bootId: 'boot-1', policy: { batchRecords: 10, checkpointRecords: 10, checkpointMs: 3_600_000 } });
    fingerprint = created.enrollment.fingerprint;
    for (let i = 0; i < 45; i++) created.store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '1', ino: '1', offset: i * 8, line_no: i + 1, length: 7, text: `line ${String(i).padStart(2, '0')}` });
    created.store.close({ finalCheckpoint: true });
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = openVault({ url, env: rgw.env });
    const state = new StateStore(storeDir);
    await shipStore(storeDir, client, state);
    state.close();
    client.destroy();
  }, 120_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('an untouched store against its vault: exit 0, VALID, the vault named', () => {
    const r = custody(userEnv(), 'verify', storeDir, '--vault', url, '--key', fingerprint);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vault: +s3:\/\/verify-cli-/m);
    expect(r.stdout).toMatch(/^result: +VALID/m);
  });

  it('newest seals removed from a copy of the store: exit 1 with --vault, exit 0 without', () => {
    const dir = join(work, 'rolled-back');
    cpSync(storeDir, dir, { recursive: true });
    const db = openAsAttacker(dir);
    deleteCheckpointsAfterFirst(db);
    hideDeletedCheckpoints(db);
    db.prepare('DELETE FROM records WHERE seq >= 12').run();
    db.prepare(`UPDATE sqlite_sequence SET seq = 11 WHERE name = 'records'`).run();
    db.close();
    expect(custody(userEnv(), 'verify', dir, '--key', fingerprint).code).toBe(0);
    const r = custody(userEnv(), 'verify', dir, '--vault', url, '--key', fingerprint, '--json');
    expect(r.code).toBe(1);
    const parsed = JSON.parse(r.stdout) as { ok: boolean; findings: { code: string }[] };
    expect(parsed.ok).toBe(false);
    expect(new Set(parsed.findings.map((f) => f.code))).toEqual(new Set(['vault.checkpoint_missing', 'vault.store_behind']));
  });

  it('the vault alone (no store folder): exit 0, every record; --json gives one result per store', () => {
    const r = custody(userEnv(), 'verify', '--vault', url, '--host', 'web-01', '--key', fingerprint, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as { ok: boolean; records: number; findings: unknown[] }[];
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ ok: true, records: 45, findings: [] });
    const text = custody(userEnv(), 'verify', '--vault', url, '--host', 'web-01');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("(from the vault's enrollment.pub");
  });

  it('usage and vault errors: exit 2 with a stable code', () => {
    const none = custody(userEnv(), 'verify', '--vault', url, '--host', 'no-such-host');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('[E_VAULT_NOT_FOUND]');
    const noVault = custody(userEnv(), 'verify', storeDir, '--host', 'web-01');
    expect(noVault.code).toBe(2);
    expect(noVault.stderr).toContain('[E_USAGE]');
    const nothing = custody(userEnv(), 'verify', '--vault', url);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('[E_USAGE]');
  });
});
