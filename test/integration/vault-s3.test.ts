/**
 * The vault against a real S3 with Object Lock (Ceph RGW from scripts/vault/rgw-start.sh): init and
 * its refusals, credentials, put-once, legal holds, `vault hosts` over objects written in the
 * documented layout — and the guarantees custody relies on, tested rather than assumed: the vault
 * itself refuses to delete or overwrite a locked version, and a retention of seconds expires.
 */
import { CreateBucketCommand, DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { openVault, vaultHosts, vaultInit, type VaultHostsResult } from '../../collector/vault.js';
import { CustodyError } from '../../src/errors.js';
import { checkpointKey, enrollmentKey, hostsPrefix, segmentKey, tsaTokenKey } from '../../src/vault/layout.js';
import { s3ErrorCode, type VaultClient } from '../../src/vault/s3.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';

async function failure(run: () => Promise<unknown>): Promise<CustodyError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof CustodyError) return err;
    throw err;
  }
  throw new Error('expected a CustodyError, got success');
}

/** The raw S3 error code of an SDK call that must fail (custody never deletes; the SDK is used directly). */
async function s3Refusal(run: () => Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await run();
  } catch (err) {
    return s3ErrorCode(err);
  }
  throw new Error('expected the vault to refuse, it accepted');
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const STORE_A = 'a'.repeat(32);
const STORE_B = 'b'.repeat(32);

describe.skipIf(skipWithoutRgw())('the evidence vault on a real S3 (Ceph RGW)', () => {
  const rgw = useRgw();
  let n = 0;
  const bucket = (): string => `vault-test-${process.pid}-${++n}`;
  const open = (url: string): VaultClient => openVault({ url, env: rgw.env });

  it('init creates a bucket with Object Lock, versioning and the default rule, then checks it unchanged', async () => {
    const url = `s3://${bucket()}`;
    const created = await vaultInit({ url, retention: '2d', mode: 'compliance', env: rgw.env });
    expect(created).toMatchObject({ created: true, ruleAdded: false, versioning: 'Enabled', objectLock: true, defaultRetention: { mode: 'COMPLIANCE', days: 2 }, warnings: [] });
    const client = open(url);
    expect(await client.lockConfiguration()).toEqual({ versioning: 'Enabled', objectLock: true, defaultRule: { mode: 'COMPLIANCE', days: 2 } });

    const again = await vaultInit({ url, retention: '2d', env: rgw.env });
    expect(again).toMatchObject({ created: false, ruleAdded: false, defaultRetention: { mode: 'COMPLIANCE', days: 2 }, warnings: [] });
    // Asked for another rule: the vault keeps its own and init says so.
    const other = await vaultInit({ url, retention: '1d', mode: 'governance', env: rgw.env });
    expect(other.defaultRetention).toEqual({ mode: 'COMPLIANCE', days: 2 });
    expect(other.warnings).toEqual([expect.stringContaining('keeps its own default retention (compliance, 2 days)')]);
    expect(await client.lockConfiguration()).toEqual({ versioning: 'Enabled', objectLock: true, defaultRule: { mode: 'COMPLIANCE', days: 2 } });
    client.destroy();
  });

  it('init adds a missing default rule to a lock bucket, and warns about governance mode', async () => {
    const name = bucket();
    const client = open(`s3://${name}`);
    await client.s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: true }));
    expect((await client.lockConfiguration()).defaultRule).toBeUndefined();
    const r = await vaultInit({ url: `s3://${name}`, retention: '1d', mode: 'governance', env: rgw.env });
    expect(r).toMatchObject({ created: false, ruleAdded: true, defaultRetention: { mode: 'GOVERNANCE', days: 1 } });
    expect(r.warnings).toEqual([expect.stringContaining('governance mode')]);
    client.destroy();
  });

  it('init refuses a bucket without Object Lock, saying why, and changes nothing', async () => {
    const plain = bucket();
    const versioned = bucket();
    const client = open(`s3://${plain}`);
    await client.s3.send(new CreateBucketCommand({ Bucket: plain }));
    await client.s3.send(new CreateBucketCommand({ Bucket: versioned }));
    await client.s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
    for (const name of [plain, versioned]) {
      const err = await failure(() => vaultInit({ url: `s3://${name}`, env: rgw.env }));
      expect(err.code).toBe('E_VAULT_NOT_LOCKABLE');
      expect(err.message).toContain('Object Lock is not enabled');
      expect(err.where).toBe(`s3://${name}`);
    }
    expect(await client.lockConfiguration()).toEqual({ versioning: 'Off', objectLock: false, defaultRule: undefined });
    client.destroy();
  });

  it('wrong credentials: E_VAULT_ACCESS_DENIED with a clear message and no secret in it', async () => {
    const url = `s3://${bucket()}`;
    const wrongSecret = 'Wr0ngSecretThatMustNeverBePrinted0123456';
    const attempts = [
      { ...rgw.env, AWS_SECRET_ACCESS_KEY: wrongSecret },
      { ...rgw.env, AWS_ACCESS_KEY_ID: 'NOSUCHKEY00000000000' },
    ];
    for (const env of attempts) {
      const err = await failure(() => vaultInit({ url, env, maxAttempts: 1 }));
      expect(err.code).toBe('E_VAULT_ACCESS_DENIED');
      // HEAD bucket comes first: its 403 has no body, so no S3 code; the message still names the cause.
      expect(err.message).toMatch(/credentials are not accepted|does not accept these credentials/);
      for (const secret of [wrongSecret, rgw.secretAccessKey]) expect(`${err.message} ${err.where ?? ''}`).not.toContain(secret);
    }
    // Nothing was created with the wrong keys.
    const client = open(url);
    expect(await client.bucketExists()).toBe(false);
    client.destroy();
  });

  it('an endpoint that does not answer: E_VAULT_UNREACHABLE', async () => {
    const err = await failure(() => vaultInit({ url: `s3://${bucket()}`, env: rgw.env, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }));
    expect(err.code).toBe('E_VAULT_UNREACHABLE');
  });

  it('the vault refuses deletion and overwrite of a locked version (403), with or without the governance bypass', async () => {
    const url = `s3://${bucket()}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = open(url);
    const key = checkpointKey('', 'web-01', STORE_A, 10, 1);
    const put = await client.putOnce(key, bytes('custody/web-01/…\n10\nroot\n'));
    expect(put.outcome).toBe('written');
    const versionId = put.versionId as string;
    const head = await client.head(key, versionId);
    expect(head.lockMode).toBe('COMPLIANCE');
    expect(head.retainUntil?.getTime()).toBeGreaterThan(head.lastModified?.getTime() ?? Infinity);

    const del = await s3Refusal(() => client.s3.send(new DeleteObjectCommand({ Bucket: client.bucket, Key: key, VersionId: versionId })));
    expect(del).toEqual({ code: 'AccessDenied', status: 403 });
    const bypass = await s3Refusal(() => client.s3.send(new DeleteObjectCommand({ Bucket: client.bucket, Key: key, VersionId: versionId, BypassGovernanceRetention: true })));
    expect(bypass).toEqual({ code: 'AccessDenied', status: 403 });
    // Shortening the retention is refused too.
    const shorten = await s3Refusal(() =>
      client.s3.send(new PutObjectRetentionCommand({ Bucket: client.bucket, Key: key, VersionId: versionId, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 1000) } })),
    );
    expect(shorten.status).toBe(403);

    // An "overwrite" (a plain PUT to the same name) only adds a version; the locked one is unchanged
    // and stays readable, and the second version is visible to whoever lists versions.
    await client.s3.send(new PutObjectCommand({ Bucket: client.bucket, Key: key, Body: bytes('rewritten') }));
    expect(Buffer.from((await client.get(key, versionId)).body).toString()).toBe('custody/web-01/…\n10\nroot\n');
    const versions = await client.listVersions(key);
    expect(versions.map((v) => [v.versionId === versionId, v.isLatest, v.deleteMarker])).toEqual([
      [true, false, false],
      [false, true, false],
    ]);
    // A delete without a version id only adds a delete marker; the locked version is still there.
    await client.s3.send(new DeleteObjectCommand({ Bucket: client.bucket, Key: key }));
    expect((await client.listVersions(key)).filter((v) => v.deleteMarker)).toHaveLength(1);
    expect(Buffer.from((await client.get(key, versionId)).body).toString()).toContain('10\nroot');
    client.destroy();
  });

  it('put-once: the same bytes again write nothing; different bytes are refused and nothing is written', async () => {
    const url = `s3://${bucket()}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = open(url);
    const key = enrollmentKey('', 'web-01', STORE_A);
    const first = await client.putOnce(key, bytes('enrollment v1'));
    const again = await client.putOnce(key, bytes('enrollment v1'));
    expect(first.outcome).toBe('written');
    expect(again).toEqual({ ...first, outcome: 'existed' });
    const err = await failure(() => client.putOnce(key, bytes('enrollment v2')));
    expect(err.code).toBe('E_VAULT_OBJECT_EXISTS');
    expect(err.where).toBe(`s3://${client.bucket}/${key}`);
    const versions = await client.listVersions(key);
    expect(versions.map((v) => v.versionId)).toEqual([first.versionId]);
    expect(Buffer.from((await client.get(key)).body).toString()).toBe('enrollment v1');
    client.destroy();
  });

  it('a retention of seconds expires; a legal hold keeps a version past it until the hold is lifted', async () => {
    const url = `s3://${bucket()}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = open(url);
    const retainUntil = new Date(Date.now() + 3000);
    const free = await client.putOnce('expiry/free', bytes('free'), { mode: 'COMPLIANCE', retainUntil });
    const held = await client.putOnce('expiry/held', bytes('held'), { mode: 'COMPLIANCE', retainUntil });
    await client.setLegalHold('expiry/held', held.versionId as string, true);
    expect((await client.head('expiry/held', held.versionId)).legalHold).toBe(true);
    expect((await client.head('expiry/free', free.versionId)).legalHold).toBe(false);
    const del = (key: string, versionId: string | undefined) => () => client.s3.send(new DeleteObjectCommand({ Bucket: client.bucket, Key: key, VersionId: versionId }));

    expect((await s3Refusal(del('expiry/free', free.versionId))).status).toBe(403);
    // Wait for the retention to pass (polling, no time asserted): then the free version can go.
    let deleted = false;
    for (let i = 0; i < 120 && !deleted; i++) {
      await new Promise((r) => setTimeout(r, 500));
      try {
        await del('expiry/free', free.versionId)();
        deleted = true;
      } catch (err) {
        expect(s3ErrorCode(err).status).toBe(403);
      }
    }
    expect(deleted).toBe(true);
    expect(await client.listVersions('expiry/free')).toEqual([]);
    // Same retain-until date, so past its retention on the vault's own clock too (RGW compares whole
    // seconds: it let the free version go up to a second before the date it reports). On legal hold:
    // still refused; hold lifted: deletable.
    expect(await s3Refusal(del('expiry/held', held.versionId))).toEqual({ code: 'AccessDenied', status: 403 });
    await client.setLegalHold('expiry/held', held.versionId as string, false);
    expect((await client.head('expiry/held', held.versionId)).legalHold).toBe(false);
    await del('expiry/held', held.versionId)();
    expect(await client.listVersions('expiry/held')).toEqual([]);
    client.destroy();
  });

  it('vault hosts: every host and store with its newest checkpoint, from objects in the documented layout', async () => {
    const url = `s3://${bucket()}/site/tokyo`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const client = open(url);
    const p = client.vault.prefix;
    expect(p).toBe('site/tokyo');
    const odd = 'db 01/ü';
    // web-01: two checkpoints (and a TSA token on the newer), a segment, the enrollment key.
    await client.putOnce(enrollmentKey(p, 'web-01', STORE_A), bytes('pub'));
    await client.putOnce(checkpointKey(p, 'web-01', STORE_A, 5, 1), bytes('note 5'));
    await client.putOnce(segmentKey(p, 'web-01', STORE_A, { start: 0, end: 5, minObserved: '2026-12-04T10:00:00.000000Z', maxObserved: '2026-12-04T10:00:01.000000Z' }), bytes('seg'));
    await client.putOnce(checkpointKey(p, 'web-01', STORE_A, 12, 2), bytes('note 12 longer'));
    await client.putOnce(tsaTokenKey(p, 'web-01', STORE_A, 12, 2, 1), bytes('tsr'));
    // the same host re-enrolled (a second store), nothing shipped yet but its key
    await client.putOnce(enrollmentKey(p, 'web-01', STORE_B), bytes('pub2'));
    // a host whose name needs encoding
    await client.putOnce(checkpointKey(p, odd, STORE_A, 1, 1), bytes('n'));
    // something custody never writes
    await client.putOnce(`${hostsPrefix(p)}README.txt`, bytes('not ours'));
    // the same layout under another prefix is another vault
    await client.putOnce(checkpointKey('', 'elsewhere', STORE_A, 1, 1), bytes('n'));

    const now = Date.now();
    const r: VaultHostsResult = await vaultHosts({ url, env: rgw.env }, now);
    expect(r.vault).toBe(url);
    const byHost = r.hosts.map((h) => [h.host, h.storeId, h.newestCheckpoint?.treeSize, h.newestCheckpoint?.checkpointId, h.newestCheckpoint?.bytes]);
    expect(byHost).toEqual([
      [odd, STORE_A, 1, 1, 1],
      ['web-01', STORE_A, 12, 2, 'note 12 longer'.length],
      ['web-01', STORE_B, undefined, undefined, undefined],
    ]);
    const web = r.hosts[1]!;
    expect(web.newestCheckpoint?.key).toBe(checkpointKey(p, 'web-01', STORE_A, 12, 2));
    expect(web.behindSeconds).toBe(Math.max(0, Math.round((now - Date.parse(web.newestCheckpoint!.receivedAt!)) / 1000)));
    expect(r.hosts[2]!.behindSeconds).toBeUndefined();
    expect(r.unrecognised).toEqual([`${hostsPrefix(p)}README.txt`]);
    client.destroy();
  });
});
