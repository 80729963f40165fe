/**
 * Shipping through faults, at the library level (agent/ship shipStore) against a real vault:
 * - radosgw killed (-9) while several stores ship, down for 30 s, then started again: each store's
 *   shipping fails with E_VAULT_UNREACHABLE while it is down and resumes after; in the end the vault
 *   holds exactly what each store holds (every record once, every checkpoint) and no name has two
 *   versions, even for a PUT the gateway may have stored as it died.
 * - wrong credentials: E_VAULT_ACCESS_DENIED naming the bucket, no secret in the message, and
 *   nothing acknowledged.
 * - a bucket without Object Lock: E_VAULT_NOT_LOCKABLE before anything is acknowledged (a bucket
 *   without Object Lock accepts every PUT and locks nothing; shipStore checks the first object of
 *   each round with a HEAD).
 * vault-s3.test.ts has the same faults for `vault init`.
 *
 * The 30 s is real time (the outage is the gateway's, not a clock's); nothing is asserted about how
 * long anything took.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAcknowledged, shipStore } from '../../agent/ship/shipper.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { CustodyError } from '../../src/errors.js';
import { parseCheckpointBody, parseNote } from '../../src/integrity/checkpoint.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { hostsPrefix, parseObjectKey, storePrefix } from '../../src/vault/layout.js';
import { decodeSegment } from '../../src/vault/segment.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';

const SCRIPTS = join(__dirname, '..', '..', 'scripts', 'vault');
const HOSTS = ['web-01', 'web-02', 'db-01', 'mail-01'];
const line = (i: number) => ({ path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: i * 64, line_no: i + 1, length: 9, text: `line ${i}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function codeOf(err: unknown): string {
  return err instanceof CustodyError ? err.code : `not a CustodyError: ${String(err)}`;
}

describe.skipIf(skipWithoutRgw())('shipping through faults on a real vault', () => {
  const rgw = useRgw();
  let work: string;
  const stores = new Map<string, string>();

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'custody-ship-outage-'));
    for (const host of HOSTS) {
      const dir = join(work, host);
      // A checkpoint every 25 records: many small objects, so the outage lands mid-store.
      const { store } = EvidenceStore.create(dir, { host, bootId: `boot-${host}`, policy: { batchRecords: 25, checkpointRecords: 25, checkpointMs: 3_600_000 } });
      for (let i = 0; i < 1500; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
      store.close({ finalCheckpoint: true });
      stores.set(host, dir);
    }
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function storeContents(dir: string): { records: string[]; checkpointSizes: number[]; storeId: string } {
    const reader = new SqliteStoreReader(dir);
    try {
      return {
        records: [...reader.records()].map((r) => Buffer.from(r.bytes).toString('base64')),
        checkpointSizes: reader.checkpoints().map((c) => c.tree_size).sort((a, b) => a - b),
        storeId: reader.meta().get('store_id') as string,
      };
    } finally {
      reader.close();
    }
  }

  function radosgwPid(): number {
    return Number(readFileSync(join(rgw.dir, 'run', 'ceph-client.rgw.a.pid'), 'utf8').trim());
  }

  it('radosgw down for 30 s mid-shipping: every store resumes, and the vault holds exactly what each store holds, one version per name', async () => {
    const url = `s3://outage-${process.pid}/fleet`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = openVault({ url, env: rgw.env, maxAttempts: 1 });
    const failures: string[] = [];
    const rounds = new Map<string, number>();
    let written = 0;

    // Each store ships in rounds until a round succeeds, as the agent's loop does: a failed round is
    // retried from the acknowledged watermarks after a pause.
    async function shipUntilDone(host: string): Promise<void> {
      const dir = stores.get(host) as string;
      for (;;) {
        rounds.set(host, (rounds.get(host) ?? 0) + 1);
        const state = new StateStore(dir);
        try {
          const r = await shipStore(dir, client, state);
          written += r.written;
          return;
        } catch (err) {
          failures.push(codeOf(err));
          await sleep(500);
        } finally {
          state.close();
        }
      }
    }
    const shipping = Promise.all(HOSTS.map((h) => shipUntilDone(h)));

    // Kill the gateway once some, not all, of the fleet's objects are in.
    const owner = openVault({ url, env: rgw.env });
    for (;;) {
      const page = await owner.listPage(hostsPrefix(owner.vault.prefix));
      if (page.objects.length >= 40) break;
      await sleep(20);
    }
    const pid = radosgwPid();
    process.kill(pid, 'SIGKILL');
    const downAt = Date.now();
    await sleep(30_000);
    const restart = spawnSync('bash', [join(SCRIPTS, 'rgw-start.sh'), rgw.dir], { encoding: 'utf8', env: { ...process.env, START_TIMEOUT: '100' } });
    expect(restart.status, restart.stderr).toBe(0);
    expect(radosgwPid()).not.toBe(pid);
    await shipping;
    process.stderr.write(`outage test: radosgw down ${((Date.now() - downAt) / 1000).toFixed(0)} s until every store finished; ${failures.length} failed rounds, rounds per store ${JSON.stringify(Object.fromEntries(rounds))}\n`);

    // The outage was met, and only as the typed error for it.
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set(['E_VAULT_UNREACHABLE']));

    // No name has two versions, no delete markers.
    const versions = await owner.listVersions(hostsPrefix(owner.vault.prefix));
    expect(versions.filter((v) => v.deleteMarker)).toEqual([]);
    const byKey = new Map<string, number>();
    for (const v of versions) byKey.set(v.key, (byKey.get(v.key) ?? 0) + 1);
    expect([...byKey].filter(([, n]) => n > 1)).toEqual([]);
    expect(written).toBeLessThanOrEqual(versions.length);

    // Per store: the segments hold every record once, in order; a checkpoint for every store checkpoint.
    for (const host of HOSTS) {
      const dir = stores.get(host) as string;
      const want = storeContents(dir);
      const segments: { start: number; records: Uint8Array[] }[] = [];
      const checkpointSizes: number[] = [];
      for await (const page of owner.list(storePrefix(owner.vault.prefix, host, want.storeId))) {
        for (const o of page.objects) {
          const obj = parseObjectKey(owner.vault.prefix, o.key);
          if (obj?.type === 'segment') {
            const seg = decodeSegment((await owner.get(o.key)).body);
            segments.push({ start: seg.start, records: seg.records });
          } else if (obj?.type === 'checkpoint') {
            const note = Buffer.from((await owner.get(o.key)).body).toString('utf8');
            checkpointSizes.push(parseCheckpointBody(parseNote(note).text).treeSize);
          }
        }
      }
      segments.sort((a, b) => a.start - b.start);
      const shipped = segments.flatMap((s) => s.records.map((r) => Buffer.from(r).toString('base64')));
      expect(shipped.length, host).toBe(want.records.length);
      expect(shipped, host).toEqual(want.records);
      expect(checkpointSizes.sort((a, b) => a - b), host).toEqual(want.checkpointSizes);
      const state = new StateStore(dir);
      expect(loadAcknowledged(state, url).segmentEnd, host).toBe(want.records.length);
      state.close();
    }
    owner.destroy();
    client.destroy();
  }, 400_000);

  it('wrong credentials: E_VAULT_ACCESS_DENIED naming the bucket, no secret in the message, nothing acknowledged', async () => {
    const url = `s3://badkeys-${process.pid}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const secret = 'not-the-secret-0123456789abcdefghijklmn';
    const client = openVault({ url, env: { ...rgw.env, AWS_SECRET_ACCESS_KEY: secret }, maxAttempts: 1 });
    const dir = join(work, 'badkeys');
    const { store } = EvidenceStore.create(dir, { host: 'web-09', bootId: 'boot-badkeys' });
    for (let i = 0; i < 10; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    const state = new StateStore(dir);
    let caught: unknown;
    try {
      await shipStore(dir, client, state);
    } catch (err) {
      caught = err;
    }
    expect(codeOf(caught)).toBe('E_VAULT_ACCESS_DENIED');
    const e = caught as CustodyError;
    expect(`${e.message} ${e.where ?? ''}`).toContain(`badkeys-${process.pid}`);
    expect(e.message).toMatch(/credentials/);
    expect(JSON.stringify(e)).not.toContain(secret);
    expect(e.message).not.toContain(secret);
    expect(loadAcknowledged(state, url).enrollment).toBe(false);
    state.close();
    client.destroy();
  });

  it('a bucket without Object Lock: E_VAULT_NOT_LOCKABLE before anything is acknowledged, and again on the next round', async () => {
    const bucket = `nolock-${process.pid}`;
    const owner = openVault({ url: `s3://${bucket}`, env: rgw.env, maxAttempts: 1 });
    await owner.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const dir = join(work, 'nolock');
    const { store } = EvidenceStore.create(dir, { host: 'web-10', bootId: 'boot-nolock' });
    for (let i = 0; i < 10; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    const state = new StateStore(dir);
    let outcome: string;
    try {
      const r = await shipStore(dir, owner, state);
      outcome = `shipped ${r.written}`;
    } catch (err) {
      outcome = codeOf(err);
    }
    expect(outcome).toBe('E_VAULT_NOT_LOCKABLE');
    expect(loadAcknowledged(state, `s3://${bucket}`)).toEqual(loadAcknowledged(state, 's3://never-shipped-to'));
    // The next round meets the object the first one left (unlocked, the enrollment key) and stops again.
    let again: string;
    try {
      await shipStore(dir, owner, state);
      again = 'shipped';
    } catch (err) {
      again = codeOf(err);
    }
    expect(again).toBe('E_VAULT_NOT_LOCKABLE');
    state.close();
    owner.destroy();
  });
});
