/**
 * `collect --vault --since/--until` against a real vault (Ceph RGW): a store written on a driven
 * clock (one record a minute, a key rotation before the window, a preserved file inside it), shipped
 * with the agent's shipper, then collected for a window. The bundle holds every record observed in
 * the window, verifies VALID *for the window*, and says what it does not hold. A record removed
 * inside the window, a forged frontier, a segment edited in the vault's copy, and a manifest whose
 * window disagrees with the snapshot are each a named finding.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase } from '../../collector/collect.js';
import { parseWindowFlags } from '../../collector/collect-vault.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { formatBundleVerification, verifyBundle } from '../../collector/verify-bundle.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { formatStoreVerification } from '../../src/verify/format.js';
import type { Clock } from '../../src/clock.js';
import { manifestBytes, parseManifest } from '../../src/bundle/manifest.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { readVaultStore, windowSegments } from '../../src/vault/read.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { analyseVaultCopy } from '../../src/verify/vault-copy.js';
import type { PipelineStats } from '../../src/verify/record-pipeline.js';
import { verifyStore } from '../../src/verify/store-verify.js';
import { WINDOW_META } from '../../src/verify/store-window.js';
import { resealBundle } from '../helpers/reseal-bundle.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';
import { closeAndShip, preserveRotatedLog } from '../helpers/shipped-store.js';
import { openAsAttacker } from '../helpers/store-attacks.js';

const SHA = 'a'.repeat(64);
const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const MINUTE = 60_000;
const SINCE = '2026-12-05T19:50:00+09:00'; // T0 + 50 min, written with an offset
const UNTIL = '2026-12-05T11:05:00Z'; // T0 + 65 min

describe('window flags', () => {
  it('accepts ISO 8601 with a zone, refuses anything else naming the flag', () => {
    expect(parseWindowFlags(SINCE, UNTIL)).toEqual({ since: '2026-12-05T10:50:00.000Z', until: '2026-12-05T11:05:00.000Z' });
    expect(parseWindowFlags('2026-12-05T10:50Z', undefined)).toEqual({ since: '2026-12-05T10:50:00.000Z' });
    for (const bad of ['2026-12-05T10:50:00', '2026-12-05', 'yesterday', '2026-02-30T00:00:00Z', '2026-12-05T25:00:00Z']) {
      expect(() => parseWindowFlags(bad, undefined), bad).toThrow(/--since .* is not an ISO 8601 time with a zone/);
      expect(() => parseWindowFlags(undefined, bad), bad).toThrow(/--until /);
    }
    expect(() => parseWindowFlags(UNTIL, SINCE)).toThrow(/before --since/);
  });

  it('selects one contiguous run of segments, every one that can hold a window record', () => {
    const seg = (min: string, max: string) => ({ minObserved: min, maxObserved: max });
    const segs = [seg('2026-12-05T10:00:00Z', '2026-12-05T10:10:00Z'), seg('2026-12-05T10:11:00Z', '2026-12-05T10:20:00Z'), seg('2026-12-05T09:00:00Z', '2026-12-05T09:05:00Z'), seg('2026-12-05T10:21:00Z', '2026-12-05T10:30:00Z')];
    // The third segment's clock went back: it lies between two that meet the window, so it is read too.
    expect(windowSegments(segs, '2026-12-05T10:05:00Z', '2026-12-05T10:25:00Z')).toEqual([0, 1, 2, 3]);
    expect(windowSegments(segs, '2026-12-05T10:12:00Z', '2026-12-05T10:15:00Z')).toEqual([1]);
    // Nothing meets the window: the nearest before it, so the bundle shows where the window falls.
    expect(windowSegments(segs, '2026-12-06T00:00:00Z', undefined)).toEqual([3]);
    expect(windowSegments([seg('2026-12-05T10:00:00Z', '2026-12-05T10:10:00Z'), { minObserved: undefined, maxObserved: undefined }], '2026-12-05T11:00:00Z', undefined)).toEqual([1]);
  });
});

describe.skipIf(skipWithoutRgw())('collect --vault --since/--until from a real vault', () => {
  const rgw = useRgw();
  let work: string;
  let client: VaultClient;
  const url = `s3://window-${process.pid}/fleet`;
  let storeId = '';
  let records: { seq: number; observed_at: string; b64: string }[] = [];
  const window = parseWindowFlags(SINCE, UNTIL);
  const now: Clock = { nowMs: () => Date.now(), monoNs: () => process.hrtime.bigint() };
  const deps = { clock: now, collectorHost: 'ir-laptop', version: 'test', codeSha256: '0'.repeat(64) };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-vault-window-'));
    await vaultInit({ url, retention: '1d', env: rgw.env });
    client = openVault({ url, env: rgw.env });
    let t = T0;
    const clock: Clock = { nowMs: () => t, monoNs: () => BigInt(t) * 1_000_000n };
    const dir = join(work, 'web-01');
    const { store } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'boot-1', clock, policy: { batchRecords: 10, checkpointRecords: 20, checkpointMs: 3_600_000 } });
    store.append('agent.start', 'custody.agent', { version: '0.0.0-test', config_sha256: SHA, code_sha256: SHA, pid: 4242, node: 'v20', platform: 'linux-x64' });
    let offset = 0;
    for (let i = 0; i < 120; i++) {
      t = T0 + i * MINUTE;
      const text = `Dec  5 10:${String(i % 60).padStart(2, '0')}:00 web-01 sshd[${1000 + i}]: Accepted publickey for alice from 10.0.0.${i}`;
      store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '77', offset, line_no: i + 1, length: Buffer.byteLength(text), text });
      offset += Buffer.byteLength(text) + 1;
      if (i === 30) store.rotateKey();
      if (i === 55) preserveRotatedLog(store, 'web-01');
    }
    await closeAndShip(store, dir, client);
    const reader = new SqliteStoreReader(dir);
    storeId = reader.meta().get('store_id')!;
    records = [...reader.records()].map((r) => ({ seq: r.seq, observed_at: r.observed_at, b64: Buffer.from(r.bytes).toString('base64') }));
    reader.close();
    // Only the vault has it now.
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
  afterAll(() => {
    client?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function collectWindow(name: string): Promise<string> {
    const out = join(work, name);
    await collectCase({ caseId: `IR-WIN-${name}`, stores: [], out, report: false, vault: { access: { url, env: rgw.env }, hosts: ['web-01'], ...window } }, deps);
    return out;
  }

  function snapshotRows(bundle: string, path: string): { seq: number; b64: string }[] {
    const reader = new SqliteStoreReader(join(bundle, path));
    try {
      return [...reader.records()].map((r) => ({ seq: r.seq, b64: Buffer.from(r.bytes).toString('base64') }));
    } finally {
      reader.close();
    }
  }

  it('holds every record observed in the window, verifies VALID for the window and says what it left out', async () => {
    const out = await collectWindow('a');
    const manifest = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json'))));
    const h = manifest.hosts[0]!;
    expect(h.store_id).toBe(storeId);
    const w = h.window!;
    expect(w).toBeDefined();
    expect(w.since).toBe(window.since);
    expect(w.until).toBe(window.until);
    // Whole segments around the window: it starts after seq 0 and ends before the store does.
    expect(w.first_seq).toBeGreaterThan(0);
    expect(w.end_seq).toBeLessThan(records.length);
    expect(w.vault_tree_size).toBe(records.length);
    expect(w.start_checkpoint?.tree_size).toBe(w.first_seq);
    expect(w.end_checkpoint?.tree_size).toBe(w.end_seq);

    const rows = snapshotRows(out, h.path);
    expect(rows[0]!.seq).toBe(w.first_seq);
    expect(rows.map((r) => r.b64)).toEqual(records.slice(w.first_seq, w.end_seq).map((r) => r.b64));
    const inWindow = records.filter((r) => Date.parse(r.observed_at) >= Date.parse(window.since!) && Date.parse(r.observed_at) <= Date.parse(window.until!));
    expect(inWindow.length).toBeGreaterThan(10);
    const held = new Set(rows.map((r) => r.b64));
    for (const r of inWindow) expect(held.has(r.b64), `seq ${r.seq} observed ${r.observed_at}`).toBe(true);
    // The preserved file inside the window came with it; only blobs the window's records name are read.
    expect(h.vault!.objects.filter((o) => o.key.includes('/blobs/'))).toHaveLength(1);
    expect(h.vault!.objects.filter((o) => o.key.includes('/segments/')).length).toBeLessThan(records.length / 20);
    // Of the checkpoints, those of the window's sizes and the newest only.
    const notes = (await client.listVersions(h.vault!.prefix)).filter((v) => v.key.endsWith('.note'));
    const heldNotes = h.vault!.objects.filter((o) => o.key.endsWith('.note'));
    expect(heldNotes.length).toBeLessThan(notes.length);
    expect(heldNotes.length).toBeGreaterThanOrEqual(3); // at S, at E, the newest

    const verification = await verifyBundle(out);
    expect(verification.findings).toEqual([]);
    expect(verification.ok).toBe(true);
    expect(verification.hosts[0]!.store?.window).toEqual({ startSeq: w.first_seq, endSeq: w.end_seq, frontierProven: true });
    const text = formatBundleVerification(verification);
    expect(text).toContain(`store VALID for the window seq ${w.first_seq}..${w.end_seq - 1} only`);
    expect(text).toContain(`records before seq ${w.first_seq} and records ${w.end_seq}..${records.length - 1}`);
    expect(text).toContain('were not collected');

    // The snapshot verified on its own (`custody verify DIR`) says the same.
    const own = await verifyStoreDir(join(out, h.path), { key: h.enrollment.fingerprint });
    expect(own.findings).toEqual([]);
    expect(own.window).toEqual({ startSeq: w.first_seq, endSeq: w.end_seq, frontierProven: true });
    const ownText = formatStoreVerification(own);
    expect(ownText).toContain(`records:      ${w.end_seq - w.first_seq} (seq ${w.first_seq}..${w.end_seq - 1})`);
    expect(ownText).toContain(`window:       this snapshot is a window of its store: it holds seq ${w.first_seq}..${w.end_seq - 1} only`);
    expect(ownText).toMatch(new RegExp(`result: +VALID for the window seq ${w.first_seq}\\.\\.${w.end_seq - 1} only`));
  });

  it('a window verifies the same in worker threads, with batches that do not start on a power of two', async () => {
    const out = await collectWindow('g');
    const h = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json')))).hosts[0]!;
    const reader = new SqliteStoreReader(join(out, h.path));
    try {
      const stats: PipelineStats[] = [];
      const v = await verifyStore(reader, { trust: { fingerprint: h.enrollment.fingerprint, source: 'pinned' }, deep: true, workers: 2, parallelAfter: 0, batchSize: 7, onPipelineStats: (s) => stats.push(s) });
      expect(v.findings).toEqual([]);
      expect(v.window).toEqual({ startSeq: h.window!.first_seq, endSeq: h.window!.end_seq, frontierProven: true });
      expect(stats[0]!.checkedInWorkers).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
  });

  it('a window no record falls in: the nearest segment before it, verified, shows where it falls', async () => {
    const out = join(work, 'h');
    await collectCase({ caseId: 'IR-WIN-H', stores: [], out, report: false, vault: { access: { url, env: rgw.env }, hosts: ['web-01'], since: '2026-12-06T00:00:00.000Z' } }, deps);
    const h = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json')))).hosts[0]!;
    expect(h.window!.end_seq).toBe(records.length);
    expect(h.window!.first_seq).toBeGreaterThan(0);
    const rows = snapshotRows(out, h.path);
    expect(rows.every((r) => Date.parse(records[r.seq]!.observed_at) < Date.parse('2026-12-06T00:00:00Z'))).toBe(true);
    const v = await verifyBundle(out);
    expect(v.findings).toEqual([]);
    expect(formatBundleVerification(v)).toContain(`records before seq ${h.window!.first_seq} were not collected`);
  });

  it('a windowed snapshot given to collect as a store folder is named: its earlier records are not there', async () => {
    const bundle = await collectWindow('f');
    const h = parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json')))).hosts[0]!;
    const folder = join(work, 'posing-store');
    cpSync(join(bundle, h.path), folder, { recursive: true });
    rmSync(join(folder, 'witness.note'));
    const out = join(work, 'f-again');
    const summary = await collectCase({ caseId: 'IR-WIN-F', stores: [folder], out, report: false }, deps);
    expect(summary.hosts[0]!.verified).toBe(false);
    const m = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json'))));
    expect(m.hosts[0]!.verified.findings.map((f) => f.code)).toContain('window.in_store_folder');
    expect((await verifyBundle(out)).findings.map((f) => f.code)).toContain('window.manifest_mismatch');
  });

  it('a record removed inside the window is named', async () => {
    const out = await collectWindow('b');
    const h = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json')))).hosts[0]!;
    const db = openAsAttacker(join(out, h.path));
    db.prepare('DELETE FROM records WHERE seq = ?').run(h.window!.first_seq + 3);
    db.close();
    await resealBundle(out);
    const codes = (await verifyBundle(out)).findings.map((f) => f.code);
    expect(codes).toContain('store.record.seq_gap');
    expect(codes).toContain('store.checkpoint.root_mismatch');
  });

  it('a forged frontier is named', async () => {
    const out = await collectWindow('c');
    const h = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json')))).hosts[0]!;
    const db = openAsAttacker(join(out, h.path));
    const roots = JSON.parse((db.prepare('SELECT value FROM meta WHERE name = ?').get(WINDOW_META.frontier) as { value: string }).value) as string[];
    roots[0] = Buffer.alloc(32, 7).toString('base64');
    db.prepare('UPDATE meta SET value = ? WHERE name = ?').run(JSON.stringify(roots), WINDOW_META.frontier);
    db.close();
    await resealBundle(out);
    const v = await verifyBundle(out);
    const codes = v.findings.map((f) => f.code);
    expect(codes).toContain('store.window.frontier_mismatch');
    expect(codes).toContain('store.window.frontier_unproven');
    expect(v.ok).toBe(false);
  });

  it("the window's description tampered with: each change named", async () => {
    const tampered = async (name: string, edit: (db: ReturnType<typeof openAsAttacker>, w: NonNullable<ReturnType<typeof parseManifest>['hosts'][number]['window']>) => void): Promise<string[]> => {
      const out = await collectWindow(name);
      const h = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json')))).hosts[0]!;
      const db = openAsAttacker(join(out, h.path));
      edit(db, h.window!);
      db.close();
      await resealBundle(out);
      const v = await verifyBundle(out);
      expect(v.ok).toBe(false);
      return v.findings.map((f) => f.code);
    };
    // The key certificates of the epochs before the window dropped: its checkpoints' key is not certified.
    expect(await tampered('t1', (db) => db.prepare('UPDATE meta SET value = ? WHERE name = ?').run('[]', WINDOW_META.keyCertificates))).toContain('store.checkpoint.key_not_certified');
    // A frontier that does not fit the start seq.
    expect(await tampered('t2', (db) => db.prepare('UPDATE meta SET value = ? WHERE name = ?').run('[]', WINDOW_META.frontier))).toContain('store.window.frontier_invalid');
    // A checkpoint from before the window (the vault's own, signed) added to the snapshot.
    const whole = analyseVaultCopy(await readVaultStore(client, 'web-01', storeId), {});
    expect(
      await tampered('t3', (db, w) => {
        const early = whole.checkpoints.find((c) => c.treeSize > 0 && c.treeSize < w.first_seq)!;
        db.prepare('INSERT INTO checkpoints(id, tree_size, epoch, created_at, note) VALUES (?, ?, ?, ?, ?)').run(early.checkpointId, early.treeSize, early.epoch, early.time ?? '', early.note);
      }),
    ).toContain('store.window.checkpoint_before_start');
  });

  it('a manifest whose window disagrees with the snapshot, or states none, is named', async () => {
    const out = await collectWindow('d');
    const m = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json'))));
    const w = m.hosts[0]!.window!;
    writeFileSync(join(out, 'manifest.json'), manifestBytes({ ...m, hosts: [{ ...m.hosts[0]!, window: { ...w, first_seq: 0 } }] }));
    await resealBundle(out);
    expect((await verifyBundle(out)).findings.map((f) => f.code)).toContain('window.manifest_mismatch');

    const { window: _dropped, ...whole } = m.hosts[0]!;
    writeFileSync(join(out, 'manifest.json'), manifestBytes({ ...m, hosts: [whole] }));
    await resealBundle(out);
    const v = await verifyBundle(out);
    expect(v.findings.filter((f) => f.code === 'window.manifest_mismatch').map((f) => f.message)).toEqual([expect.stringMatching(/would read as the whole store/)]);
  });

  it('a segment edited in the vault copy is named, and its records are not used', async () => {
    const copy = await readVaultStore(client, 'web-01', storeId, window);
    const clean = analyseVaultCopy(copy, {});
    expect(clean.findings).toEqual([]);
    const seg = copy.segments[1]!;
    const bytes = Buffer.from(seg.bytes);
    const at = bytes.indexOf('alice');
    bytes.write('mallo', at);
    seg.bytes = new Uint8Array(bytes);
    const tampered = analyseVaultCopy(copy, {});
    expect(tampered.findings.map((f) => f.code)).toEqual(['vault.segment_invalid']);
    expect(tampered.recordsEnd).toBe(seg.start);
  });

  it('a segment whose name states other times than its records is named (a window chosen by names could miss records)', async () => {
    const copy = await readVaultStore(client, 'web-01', storeId, window);
    const seg = copy.segments[0]!;
    seg.maxObserved = '2026-12-05T09:00:00.000000Z';
    const analysis = analyseVaultCopy(copy, {});
    expect(analysis.findings.map((f) => [f.code, f.where.vaultObject])).toEqual([['vault.segment_misnamed', seg.key]]);
    // The records still verify and are used.
    expect(analysis.recordsEnd).toBe(copy.segments.at(-1)!.end);
  });

  it('--since/--until with --store is refused, naming why', async () => {
    await expect(
      collectCase({ caseId: 'IR-WIN-E', stores: [work], out: join(work, 'e'), report: false, vault: { access: { url, env: rgw.env }, hosts: ['web-01'], ...window } }, deps),
    ).rejects.toThrow(/--since\/--until apply to hosts read from the vault only/);
  });
});
