/**
 * Shipping a real store (two key epochs, a TSA-stamped checkpoint, a preserved file) to a real vault
 * (Ceph RGW), and what resuming rests on: the vault alone recomputes every signed root from the
 * shipped segments and holds every record exactly once; a second round ships nothing; a round after
 * the state database forgot everything (a crash before the acknowledgements were recorded) writes
 * nothing and leaves one version per name; a store that grew ships only what is new.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/logger.js';
import { VaultShipLoop } from '../../agent/ship/loop.js';
import { loadAcknowledged, shipStore } from '../../agent/ship/shipper.js';
import { systemClock } from '../../src/clock.js';
import { openVault, vaultHosts, vaultInit } from '../../collector/vault.js';
import { parseCheckpointBody, parseNote } from '../../src/integrity/checkpoint.js';
import { requestTimeStamp } from '../../src/net/tsa-http.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { hostsPrefix, parseObjectKey, type VaultObject } from '../../src/vault/layout.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { decodeSegment, segmentRoot } from '../../src/vault/segment.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';
import { startTestTsa, type TestTsa } from '../helpers/tsa-server.js';

const line = (i: number) => ({ path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: i * 64, line_no: i + 1, length: 9, text: `line ${i}` });

describe.skipIf(skipWithoutRgw())('shipping a store to a real vault', () => {
  const rgw = useRgw();
  let work: string;
  let storeDir: string;
  let tsa: TestTsa;
  let client: VaultClient;
  const url = `s3://ship-${process.pid}/fleet`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-ship-'));
    storeDir = join(work, 'store');
    tsa = await startTestTsa();
    const { store } = EvidenceStore.create(storeDir, { host: 'web-01', bootId: 'boot-1', policy: { batchRecords: 20, checkpointRecords: 50, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 120; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    const content = Buffer.from('rotated log\n'.repeat(50));
    const sha = store.putBlob(content);
    store.append('log.file', 'file:/var/log/auth.log', { path: '/var/log/auth.log.1', size: content.length, mtime: '2026-11-23T00:00:00.000000Z', sha256: sha, reason: 'rotated', content: 'stored' });
    const stamped = store.checkpoint();
    const stamp = await requestTimeStamp(tsa.url, new TextEncoder().encode(stamped.note));
    store.attachTimestamp(stamped.id, tsa.url, stamp.info.genTime, stamp.tokenDer);
    store.rotateKey();
    for (let i = 120; i < 150; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    await vaultInit({ url, retention: '1d', env: rgw.env });
    client = openVault({ url, env: rgw.env });
  });
  afterAll(async () => {
    client?.destroy();
    await tsa?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Everything of this store in the vault, parsed, with the bodies. */
  async function vaultContents(): Promise<{ key: string; obj: VaultObject; body: Uint8Array }[]> {
    const out: { key: string; obj: VaultObject; body: Uint8Array }[] = [];
    for await (const page of client.list(hostsPrefix(client.vault.prefix))) {
      for (const o of page.objects) {
        const obj = parseObjectKey(client.vault.prefix, o.key);
        expect(obj, o.key).toBeDefined();
        out.push({ key: o.key, obj: obj as VaultObject, body: (await client.get(o.key)).body });
      }
    }
    return out;
  }

  function storeRecords(): Uint8Array[] {
    const reader = new SqliteStoreReader(storeDir);
    try {
      return [...reader.records()].map((r) => r.bytes);
    } finally {
      reader.close();
    }
  }

  it('ships everything once; the vault alone recomputes every signed root and holds every record exactly once', async () => {
    const state = new StateStore(storeDir);
    const first = await shipStore(storeDir, client, state);
    expect(first.existed).toBe(0);
    const contents = await vaultContents();
    expect(first.written).toBe(contents.length);
    const kinds = contents.map((c) => c.obj.type);
    for (const k of ['enrollment', 'checkpoint', 'tsa-token', 'key-certificate', 'segment', 'blob'] as const) expect(kinds, k).toContain(k);

    const notes = new Map<number, Uint8Array>();
    for (const c of contents) {
      if (c.obj.type !== 'checkpoint') continue;
      const body = parseCheckpointBody(parseNote(Buffer.from(c.body).toString('utf8')).text);
      expect(body.treeSize).toBe(c.obj.treeSize);
      notes.set(body.treeSize, body.rootHash);
    }
    const segments = contents.flatMap((c) => (c.obj.type === 'segment' ? [{ obj: c.obj, seg: decodeSegment(c.body) }] : [])).sort((a, b) => a.seg.start - b.seg.start);
    for (const { obj, seg } of segments) {
      expect([seg.start, seg.end]).toEqual([obj.start, obj.end]);
      const signed = notes.get(seg.end);
      expect(signed, `a checkpoint at ${seg.end}`).toBeDefined();
      expect(Buffer.from(segmentRoot(seg)).equals(Buffer.from(signed as Uint8Array))).toBe(true);
    }
    const shipped = segments.flatMap((s) => s.seg.records);
    expect(shipped.map((b) => Buffer.from(b).toString())).toEqual(storeRecords().map((b) => Buffer.from(b).toString()));
    state.close();
  });

  it('a second round ships nothing; a round after the state forgot everything writes nothing and leaves one version per name', async () => {
    const state = new StateStore(storeDir);
    const again = await shipStore(storeDir, client, state);
    expect({ written: again.written, existed: again.existed }).toEqual({ written: 0, existed: 0 });
    const before = (await vaultContents()).length;
    state.delete('ship.acknowledged'); // the crash: the vault has it all, the agent recorded nothing
    const resumed = await shipStore(storeDir, client, state);
    expect({ written: resumed.written, existed: resumed.existed }).toEqual({ written: 0, existed: before });
    const versions = await client.listVersions(hostsPrefix(client.vault.prefix));
    expect(versions).toHaveLength(before);
    expect(new Set(versions.map((v) => v.key)).size).toBe(before);
    state.close();
  });

  it('a store that grew ships only what is new, and vault hosts sees its newest checkpoint', async () => {
    const store = EvidenceStore.open(storeDir, { bootId: 'boot-2' });
    for (let i = 150; i < 175; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    const state = new StateStore(storeDir);
    const acked = loadAcknowledged(state, url);
    const round = await shipStore(storeDir, client, state);
    expect(round.existed).toBe(0);
    // The new checkpoint(s) and one segment per checkpoint that grew the tree, nothing else.
    const fresh = (await vaultContents()).filter((c) => (c.obj.type === 'checkpoint' && c.obj.checkpointId > acked.checkpointId) || (c.obj.type === 'segment' && c.obj.start >= acked.segmentEnd));
    expect(round.written).toBe(fresh.length);
    expect(fresh.some((c) => c.obj.type === 'segment')).toBe(true);
    const total = storeRecords().length;
    expect(round.acknowledged.segmentEnd).toBe(total);
    const hosts = await vaultHosts({ url, env: rgw.env }, Date.now());
    expect(hosts.hosts.map((h) => [h.host, h.newestCheckpoint?.treeSize])).toEqual([['web-01', total]]);
    state.close();
  });

  it('bounded rounds: a backlog ships in steps (more until done), the saved frontier carries each step on, and a damaged one is rebuilt, never shipped', async () => {
    const dir = join(work, 'backlog');
    const { store } = EvidenceStore.create(dir, { host: 'web-02', bootId: 'boot-b', policy: { batchRecords: 25, checkpointRecords: 25, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 600; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    const state = new StateStore(dir);
    const rounds: { written: number; more: boolean; segmentEnd: number }[] = [];
    for (;;) {
      const r = await shipStore(dir, client, state, { limits: { records: 100, objects: 1000 } });
      rounds.push({ written: r.written, more: r.more, segmentEnd: r.acknowledged.segmentEnd });
      if (rounds.length === 2) {
        // Damage the saved frontier (a cache): the next round must notice and rebuild it from the store.
        const stored = state.get<{ frontier: { size: number; levels: string[] } }>('ship.acknowledged');
        expect(stored?.frontier.size).toBe(r.acknowledged.segmentEnd);
        state.set('ship.acknowledged', { ...stored, frontier: { ...stored?.frontier, levels: stored?.frontier.levels.map(() => 'ab'.repeat(32)) } });
      }
      if (!r.more) break;
    }
    // 100 records a round (four segments of 25), the checkpoints all in the first.
    expect(rounds.map((r) => r.segmentEnd)).toEqual([100, 200, 300, 400, 500, 600]);
    expect(rounds.at(-1)?.more).toBe(false);
    expect(rounds.slice(0, -1).every((r) => r.more)).toBe(true);
    const reader = new SqliteStoreReader(dir);
    const want = [...reader.records()].map((r) => Buffer.from(r.bytes).toString('base64'));
    const storeId = reader.meta().get('store_id') as string;
    const notes = new Map(reader.checkpoints().map((c) => [c.tree_size, parseCheckpointBody(parseNote(c.note).text).rootHash]));
    reader.close();
    const segments: { start: number; end: number; root: Uint8Array; records: Uint8Array[] }[] = [];
    for await (const page of client.list(hostsPrefix(client.vault.prefix))) {
      for (const o of page.objects) {
        const obj = parseObjectKey(client.vault.prefix, o.key);
        if (obj?.type !== 'segment' || obj.storeId !== storeId) continue;
        const seg = decodeSegment((await client.get(o.key)).body);
        segments.push({ start: seg.start, end: seg.end, root: segmentRoot(seg), records: seg.records });
      }
    }
    segments.sort((a, b) => a.start - b.start);
    for (const seg of segments) expect(Buffer.from(seg.root).equals(Buffer.from(notes.get(seg.end) as Uint8Array)), `segment [${seg.start}, ${seg.end})`).toBe(true);
    expect(segments.flatMap((g) => g.records.map((b) => Buffer.from(b).toString('base64')))).toEqual(want);
    state.close();
  });

  it('the agent\'s loop ships a new checkpoint when nudged, not at the end of its interval (an hour here)', async () => {
    const dir = join(work, 'nudged');
    const { store } = EvidenceStore.create(dir, { host: 'web-03', bootId: 'boot-n', policy: { batchRecords: 10, checkpointRecords: 1000, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 10; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.flush();
    store.checkpoint();
    const state = new StateStore(dir);
    const loop = new VaultShipLoop(
      { storeDir: dir, state, client, logger: silentLogger(), clock: systemClock, append: (kind, payload) => store.append(kind, 'custody.agent', payload) },
      { intervalMs: 3_600_000, retryMaxMs: 3_600_000, limits: {} },
    );
    const shipped = async (size: number): Promise<void> => {
      while (loadAcknowledged(state, url).segmentEnd < size) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      loop.start(); // the first round starts at once
      await shipped(10);
      while (loop.status().rounds < 1) await new Promise((r) => setTimeout(r, 20)); // the first round has ended; the next is an hour away
      for (let i = 10; i < 25; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
      store.flush();
      expect(store.checkpoint().tree_size).toBe(25);
      loop.nudge();
      await shipped(25);
      expect(loop.status()).toMatchObject({ state: 'shipping', failures: 0, rounds: 2 });
    } finally {
      await loop.stop(5000);
      store.close({ finalCheckpoint: true });
      state.close();
    }
  });
});
