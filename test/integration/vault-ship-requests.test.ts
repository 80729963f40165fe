/**
 * What shipping asks the vault, against a real RGW (which ignores If-None-Match, so a PUT of a name
 * that exists stores a second version): in steady state a PUT per object and nothing else; a HEAD
 * only for the names the state database cannot vouch for, i.e. those sent without a recorded
 * acknowledgement (an answer lost) and, with no position at all, what one LIST finds. In every case
 * the vault ends with one version per name.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordShippingOrigin } from '../../agent/ship/origin.js';
import { loadAcknowledged, shipStore } from '../../agent/ship/shipper.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { hostsPrefix } from '../../src/vault/layout.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';

const line = (i: number) => ({ path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: i * 64, line_no: i + 1, length: 9, text: `line ${i}` });

/** Counts the S3 commands a client sends (once per send, whatever the SDK does inside it). */
function countRequests(client: VaultClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countRequestsForTest' },
  );
  return counts;
}

describe.skipIf(skipWithoutRgw())('what shipping asks the vault', () => {
  const rgw = useRgw();
  let work: string;
  let storeDir: string;
  let store: EvidenceStore;
  let state: StateStore;
  let appended = 0;
  const url = `s3://ship-requests-${process.pid}`;

  function grow(n: number): void {
    for (let i = 0; i < n; i++) store.append('log.line', 'file:/var/log/auth.log', line(appended++));
    store.flush();
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-ship-requests-'));
    storeDir = join(work, 'store');
    // A checkpoint every 10 records: many small segments, so a window of PUTs is really in flight.
    ({ store } = EvidenceStore.create(storeDir, { host: 'web-07', bootId: 'boot-1', policy: { batchRecords: 10, checkpointRecords: 10, checkpointMs: 3_600_000 } }));
    state = new StateStore(storeDir);
    recordShippingOrigin(state, store.storeId); // as the agent does when it creates its store
    grow(60);
    store.putBlob(Buffer.from('rotated log\n'.repeat(40)));
    store.checkpoint();
    await vaultInit({ url, retention: '1d', env: rgw.env });
  });
  afterAll(() => {
    store?.close({ finalCheckpoint: true });
    state?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function versionsPerName(client: VaultClient): Promise<{ names: number; versions: number }> {
    const versions = await client.listVersions(hostsPrefix(''));
    return { names: new Set(versions.map((v) => v.key)).size, versions: versions.length };
  }

  it('a store this state has known since its creation: one PUT per object, no LIST, one HEAD per client for the lock, acknowledged blobs as rows', async () => {
    const client = openVault({ url, env: rgw.env });
    const counts = countRequests(client);
    const round = await shipStore(storeDir, client, state);
    expect(round.written).toBeGreaterThan(8);
    expect(Object.fromEntries(counts)).toEqual({ PutObjectCommand: round.written, HeadObjectCommand: 1 });

    // The next round, same client: the lock was checked for this client already.
    grow(25);
    store.checkpoint();
    counts.clear();
    const next = await shipStore(storeDir, client, state);
    expect(next.written).toBeGreaterThanOrEqual(3);
    expect(Object.fromEntries(counts)).toEqual({ PutObjectCommand: next.written });
    expect(await versionsPerName(client)).toEqual({ names: round.written + next.written, versions: round.written + next.written });
    expect(loadAcknowledged(state, url).blobs.size).toBe(1);
    expect(state.entries('ship.blob.')).toHaveLength(1);
    client.destroy();
  });

  it('answers lost after the vault stored the objects: the next round asks about exactly the names in flight, finds them, and stores no second version', async () => {
    grow(40);
    store.checkpoint();
    const real = openVault({ url, env: rgw.env });
    // Every PUT reaches the vault; from the third on, its answer is lost on the way back.
    let puts = 0;
    const lossy = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'putOnce') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<VaultClient['putOnce']>) => {
          const r = await target.putOnce(...args);
          if (++puts >= 3) throw new CustodyError(ErrorCodes.VAULT_UNREACHABLE, 'put failed: the answer was lost (test)', { where: args[0] });
          return r;
        };
      },
    });
    let failed: unknown;
    try {
      await shipStore(storeDir, lossy, state, { window: 3 });
    } catch (err) {
      failed = err;
    }
    expect((failed as CustodyError).code).toBe('E_VAULT_UNREACHABLE');
    const inFlight = (state.get<{ inFlight: string[] }>('ship.acknowledged') as { inFlight: string[] }).inFlight;
    expect(inFlight.length).toBeGreaterThanOrEqual(1);
    // At most a few windows: answers that came before an earlier one's wait for it.
    expect(inFlight.length).toBeLessThanOrEqual(4 * 3);

    const counts = countRequests(real);
    const resumed = await shipStore(storeDir, real, state);
    // Each name in flight: a HEAD that finds it, a GET that compares the bytes; no PUT of it.
    expect(resumed.existed).toBe(inFlight.length);
    expect(counts.get('GetObjectCommand')).toBe(inFlight.length);
    expect(counts.get('HeadObjectCommand')).toBe(inFlight.length + 1); // + the lock check of a new client
    expect(counts.get('PutObjectCommand') ?? 0).toBe(resumed.written);
    expect(counts.get('ListObjectsV2Command')).toBeUndefined();
    const { names, versions } = await versionsPerName(real);
    expect(versions).toBe(names);
    expect((state.get<{ inFlight: string[] }>('ship.acknowledged') as { inFlight: string[] }).inFlight).toEqual([]);
    real.destroy();
  });

  it('a state database that lost its position: one LIST, every listed name compared, nothing written, one version per name', async () => {
    const client = openVault({ url, env: rgw.env });
    const before = await versionsPerName(client);
    state.delete('ship.acknowledged');
    const counts = countRequests(client);
    const round = await shipStore(storeDir, client, state);
    expect({ written: round.written, existed: round.existed }).toEqual({ written: 0, existed: before.names });
    expect(counts.get('ListObjectsV2Command')).toBe(1);
    expect(counts.get('PutObjectCommand')).toBeUndefined();
    expect(await versionsPerName(client)).toEqual(before);
    client.destroy();
  });

  it('a power loss that undid the newest state writes: the next boot asks one LIST and stores no second version; later rounds of that boot ask nothing', async () => {
    const client = openVault({ url, env: rgw.env });
    // A round in boot A, then the state as it was before that round: the writes a power loss can
    // take with it (the state database's commits are not synced one by one).
    await shipStore(storeDir, client, state, { bootId: 'boot-A' });
    const beforeRound = state.get('ship.acknowledged');
    grow(30);
    store.checkpoint();
    const lost = await shipStore(storeDir, client, state, { bootId: 'boot-A' });
    expect(lost.written).toBeGreaterThanOrEqual(3);
    state.set('ship.acknowledged', beforeRound);
    const before = await versionsPerName(client);

    const counts = countRequests(client);
    const rebooted = await shipStore(storeDir, client, state, { bootId: 'boot-B' });
    expect(counts.get('ListObjectsV2Command')).toBe(1);
    expect({ written: rebooted.written, existed: rebooted.existed }).toEqual({ written: 0, existed: lost.written });
    expect(counts.get('PutObjectCommand')).toBeUndefined();
    expect(await versionsPerName(client)).toEqual(before);
    expect(before.versions).toBe(before.names);

    grow(10);
    store.checkpoint();
    counts.clear();
    const next = await shipStore(storeDir, client, state, { bootId: 'boot-B' });
    expect(next.written).toBeGreaterThanOrEqual(1);
    expect(Object.fromEntries(counts)).toEqual({ PutObjectCommand: next.written });
    client.destroy();
  });
});
