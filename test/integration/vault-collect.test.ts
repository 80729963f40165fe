/**
 * `collect --vault` against a real vault (Ceph RGW): three stores written as agents write them,
 * shipped with the agent's shipper; one store then deleted outright. The case collected from the
 * vault alone is a bundle that verifies, with every record of all three hosts byte for byte, each
 * host's provenance (object versions) in the manifest, a legal hold on every version it used
 * (listed in a case record and in the bundle, named in the custody entry), and a host silent for
 * longer than its policy allows named. `--store` and `--vault` combine. `vault release` lifts the
 * holds, except those another open case still needs.
 */
import Database from 'better-sqlite3';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase, type CollectProgress } from '../../collector/collect.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { releaseCase } from '../../collector/vault-case.js';
import { verifyBundle } from '../../collector/verify-bundle.js';
import type { Clock } from '../../src/clock.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { generatePersonalKey } from '../../src/bundle/personal-key.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { casePrefix, storePrefix } from '../../src/vault/layout.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';
import { closeAndShip, preserveRotatedLog } from '../helpers/shipped-store.js';
import { deleteCheckpointsAfterFirst, hideDeletedCheckpoints, openAsAttacker } from '../helpers/store-attacks.js';

const HOSTS = ['web-01', 'web-02', 'db-01'] as const;
const RECORDED_POLICY = { batch_records: 10, batch_ms: 250, checkpoint_records: 20, checkpoint_ms: 60_000, epoch_ms: 3_600_000, heartbeat_ms: 30_000 };
const SHA = 'a'.repeat(64);
const deps = (clock: Clock, lines?: string[]) => ({
  clock,
  collectorHost: 'ir-laptop',
  version: 'test',
  codeSha256: '0'.repeat(64),
  onProgress: (p: CollectProgress) => {
    if (p.line !== undefined) lines?.push(p.line);
  },
});

describe.skipIf(skipWithoutRgw())('collect --vault from a real vault', () => {
  const rgw = useRgw();
  let work: string;
  let client: VaultClient;
  const url = `s3://collect-${process.pid}/fleet`;
  const stores = new Map<string, { dir: string; records: string[]; storeId: string }>();
  const now: Clock = { nowMs: () => Date.now(), monoNs: () => process.hrtime.bigint() };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-vault-collect-'));
    await vaultInit({ url, retention: '1d', env: rgw.env });
    client = openVault({ url, env: rgw.env });
    for (const [h, host] of HOSTS.entries()) {
      const dir = join(work, host);
      const { store } = EvidenceStore.create(dir, { host, bootId: `boot-${h}`, policy: { batchRecords: 10, checkpointRecords: 20, checkpointMs: 3_600_000 } });
      store.append('agent.start', 'custody.agent', { version: '0.0.0-test', config_sha256: SHA, code_sha256: SHA, pid: 4242, node: 'v20', platform: 'linux-x64', policy: RECORDED_POLICY });
      let offset = 0;
      for (let i = 0; i < 70 + h * 15; i++) {
        const text = `Dec  5 10:${String(i % 60).padStart(2, '0')}:00 ${host} sshd[${1000 + i}]: Accepted publickey for alice from 10.0.${h}.${i}`;
        store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '77', offset, line_no: i + 1, length: Buffer.byteLength(text), text });
        offset += Buffer.byteLength(text) + 1;
        if (i === 30) store.rotateKey();
      }
      if (host === 'web-02') preserveRotatedLog(store, host);
      await closeAndShip(store, dir, client);
      const reader = new SqliteStoreReader(dir);
      stores.set(host, { dir, storeId: reader.meta().get('store_id')!, records: [...reader.records()].map((r) => Buffer.from(r.bytes).toString('base64')) });
      reader.close();
    }
    // db-01's store is deleted outright: only the vault has it now.
    rmSync(stores.get('db-01')!.dir, { recursive: true, force: true });
  }, 180_000);
  afterAll(() => {
    client?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function bundleRecords(bundle: string, path: string): string[] {
    const reader = new SqliteStoreReader(join(bundle, path));
    try {
      return [...reader.records()].map((r) => Buffer.from(r.bytes).toString('base64'));
    } finally {
      reader.close();
    }
  }

  it('all three hosts from the vault (one store deleted): a bundle that verifies, with every record, provenance and legal holds', async () => {
    const out = join(work, 'case-a');
    const lines: string[] = [];
    const summary = await collectCase({ caseId: 'IR-VAULT-A', stores: [], out, report: false, vault: { access: { url, env: rgw.env }, hosts: [...HOSTS] } }, deps(now, lines));
    expect(summary.hosts).toHaveLength(3);
    // A progress line per host.
    for (const host of HOSTS) expect(lines.some((l) => l.includes(` ${host} `)), host).toBe(true);

    const verification = await verifyBundle(out);
    expect(verification.findings).toEqual([]);
    expect(verification.ok).toBe(true);
    const manifest = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json'))));
    for (const host of HOSTS) {
      const h = manifest.hosts.find((x) => x.host === host)!;
      expect(h.source).toBe('vault');
      expect(h.store_id).toBe(stores.get(host)!.storeId);
      expect(h.verified.ok).toBe(true);
      expect(h.verified.findings).toEqual([]);
      expect(bundleRecords(out, h.path)).toEqual(stores.get(host)!.records);
      expect(h.vault?.objects.length).toBeGreaterThan(3);
      expect(h.vault?.behind_policy).toBeUndefined();
      // Every version the case used is under a legal hold.
      for (const o of h.vault!.objects) expect((await client.head(o.key, o.version_id)).legalHold, o.key).toBe(true);
    }
    // The holds: a case record in the vault, the same bytes in the bundle, named by the custody entry.
    expect(summary.holds?.held).toBe(manifest.hosts.reduce((n, h) => n + h.vault!.objects.length, 0));
    const inBundle = readFileSync(join(out, 'evidence', 'vault-holds.json'));
    const recordKey = summary.holds!.record.replace(`s3://${client.bucket}/`, '');
    expect(recordKey.startsWith(casePrefix(client.vault.prefix, 'IR-VAULT-A'))).toBe(true);
    expect(Buffer.from((await client.get(recordKey)).body).equals(inBundle)).toBe(true);
    expect(readFileSync(join(out, 'custody.jsonl'), 'utf8')).toContain(`legal holds on ${summary.holds!.held} vault object versions`);
  });

  it('--store and --vault together; a host silent longer than its policy allows is named', async () => {
    const out = join(work, 'case-b');
    const lines: string[] = [];
    const later: Clock = { nowMs: () => Date.now() + 3 * 3_600_000, monoNs: () => process.hrtime.bigint() };
    const summary = await collectCase(
      { caseId: 'IR-VAULT-B', stores: [stores.get('web-01')!.dir], out, report: false, vault: { access: { url, env: rgw.env }, hosts: ['web-01', 'db-01'] } },
      deps(later, lines),
    );
    // web-01 is collected from its store folder (not twice); db-01 from the vault.
    expect(summary.hosts.map((h) => [h.host, h.source]).sort()).toEqual([['db-01', 'vault'], ['web-01', 'agent-store']]);
    expect(lines.some((l) => /web-01 .*also given with --store/.test(l))).toBe(true);
    const db = summary.hosts.find((h) => h.host === 'db-01')!;
    expect(db.vault?.behind_policy).toMatch(/newest checkpoint reached the vault \d+ min ago/);
    expect(lines.some((l) => l.includes('BEHIND ITS POLICY'))).toBe(true);
    expect((await verifyBundle(out)).ok).toBe(true);
    // The store folder was checked against what its agent shipped, and its provenance is in the manifest.
    const web = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json')))).hosts.find((h) => h.host === 'web-01')!;
    expect(web.verified.findings).toEqual([]);
    expect(web.vault?.objects.length).toBeGreaterThan(0);
  });

  it('a store folder rolled back with its traces erased, collected with --store and --vault: the rollback is named in the bundle', async () => {
    const copy = join(work, 'web-01-rolled-back');
    cpSync(stores.get('web-01')!.dir, copy, { recursive: true });
    const db = openAsAttacker(copy);
    deleteCheckpointsAfterFirst(db);
    hideDeletedCheckpoints(db);
    const first = (db.prepare('SELECT tree_size FROM checkpoints ORDER BY id LIMIT 1').get() as { tree_size: number }).tree_size;
    db.prepare('DELETE FROM records WHERE seq >= ?').run(first + 3);
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'`).run(first + 2);
    db.close();
    rmSync(join(copy, 'keys'), { recursive: true, force: true });
    const summary = await collectCase({ caseId: 'IR-VAULT-ROLLBACK', stores: [copy], out: join(work, 'case-rollback'), report: false, vault: { access: { url, env: rgw.env }, hosts: ['web-01'] } }, deps(now));
    expect(summary.hosts.map((h) => [h.host, h.source, h.verified])).toEqual([['web-01', 'agent-store', false]]);
    const h = parseManifest(new Uint8Array(readFileSync(join(work, 'case-rollback', 'manifest.json')))).hosts[0]!;
    expect(new Set(h.verified.findings.map((f) => f.code))).toEqual(new Set(['vault.checkpoint_missing', 'vault.store_behind']));
  });

  it('a store filed under a second host by hand (a forged copy): the collection goes on, the copy is its own host with its findings, the real host verifies', async () => {
    // What a host's credentials could do to its own prefix: put a copy of another host's store
    // (here web-02's shipped objects, byte for byte) under its own name, hoping to pass as that
    // host or to stop the fleet's collection with a clash.
    const forged = `s3://${client.bucket}/forged-${process.pid}`;
    const target = openVault({ url: forged, env: rgw.env });
    try {
      const from = storePrefix(client.vault.prefix, 'web-02', stores.get('web-02')!.storeId);
      const names = (await client.listPage(from)).objects.map((o) => o.key);
      for (const evilHost of ['web-02', 'evil-01']) {
        for (const key of names) {
          const body = (await client.get(key)).body;
          await target.putOnce(key.replace(from, storePrefix(target.vault.prefix, evilHost, stores.get('web-02')!.storeId)), body);
        }
      }
    } finally {
      target.destroy();
    }
    const out = join(work, 'case-forged');
    const lines: string[] = [];
    const summary = await collectCase({ caseId: 'IR-VAULT-FORGED', stores: [], out, report: false, vault: { access: { url: forged, env: rgw.env }, allHosts: true, hold: false } }, deps(now, lines));
    expect(summary.hosts.map((h) => [h.host, h.verified]).sort()).toEqual([['evil-01', false], ['web-02', true]]);
    const manifest = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json'))));
    const evil = manifest.hosts.find((h) => h.host === 'evil-01')!;
    expect(evil.verified.findings.map((f) => f.code)).toContain('vault.copy_invalid');
    expect(evil.verified.findings.find((f) => f.code === 'vault.copy_invalid')?.message).toContain('"web-02"');
    const verification = await verifyBundle(out);
    expect(verification.ok).toBe(false);
    // Every error names the forged copy; web-02's own records and rows are checked and clean.
    const errors = verification.findings.filter((f) => f.severity === 'error');
    expect(errors.length).toBeGreaterThan(0);
    for (const f of errors) expect(`${f.where} ${f.message}`, f.code).toContain('evil-01');
    expect(new Set(errors.map((f) => f.code))).toContain('host.mismatch');
    expect(verification.findings.filter((f) => !`${f.where} ${f.message}`.includes('evil-01'))).toEqual([]);
  });

  it('a collection that fails after legal holds were placed still records them, so release can lift them', async () => {
    // A store folder whose file has metadata but no records table: it fails in the snapshot, after the vault's hosts were read and held.
    const broken = join(work, 'broken-store');
    mkdirSync(broken);
    const db = new Database(join(broken, 'evidence.sqlite'));
    db.exec(`CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('store_id', '${'f'.repeat(32)}'), ('host', 'broken');`);
    db.close();
    const lines: string[] = [];
    await expect(collectCase({ caseId: 'IR-VAULT-FAIL', stores: [broken], out: join(work, 'case-fail'), report: false, vault: { access: { url, env: rgw.env }, hosts: ['web-02'] } }, deps(now, lines))).rejects.toThrow();
    expect(lines.some((l) => l.includes('the collection failed after legal holds were placed'))).toBe(true);
    const records = (await client.listPage(casePrefix(client.vault.prefix, 'IR-VAULT-FAIL'))).objects.map((o) => o.key);
    expect(records).toHaveLength(1);
    const released = await releaseCase({ url, env: rgw.env, caseId: 'IR-VAULT-FAIL', actor: 'Ada Examiner, IR', privateKey: generatePersonalKey().privateKey }, new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'));
    expect(released.released + released.kept.length).toBeGreaterThan(0);
    expect(existsSync(join(work, 'case-fail'))).toBe(false);
  });

  it('vault release lifts the holds of one case, keeping those another open case still holds', async () => {
    const manifestOf = (dir: string) => parseManifest(new Uint8Array(readFileSync(join(work, dir, 'manifest.json'))));
    const a = manifestOf('case-a').hosts.flatMap((h) => h.vault?.objects ?? []);
    const b = new Set(manifestOf('case-b').hosts.flatMap((h) => (h.vault?.objects ?? []).map((o) => `${o.key} ${o.version_id}`)));
    const key = generatePersonalKey();
    const released = await releaseCase({ url, env: rgw.env, caseId: 'IR-VAULT-A', actor: 'Ada Examiner, IR', privateKey: key.privateKey }, new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'));
    expect(released.released + released.kept.length).toBe(a.length);
    expect(released.kept.length).toBe(b.size);
    for (const o of a) {
      const held = (await client.head(o.key, o.version_id)).legalHold;
      expect(held, o.key).toBe(b.has(`${o.key} ${o.version_id}`));
    }
    expect(released.kept.every((k) => k.cases.includes('IR-VAULT-B'))).toBe(true);
    expect(released.record?.key).toMatch(/\/release-\d{8}T\d{6}\.\d+Z\.json$/);
    expect(existsSync(join(work, 'case-a', 'evidence', 'vault-holds.json'))).toBe(true);
  });
});
