/**
 * Least privilege on a real vault (Ceph RGW): the policy documents users are told to apply
 * (docs/vault/agent-policy.json, docs/vault/collector-policy.json) applied exactly, as one bucket
 * policy with a principal per statement (docs/vault/README.md says how), for two agents and a
 * collector. Each refusal is an attack a stolen key would try.
 *
 * Measured while writing this (RGW 16.2), and why the documents have one action per statement: a
 * statement listing the collector's actions together (GetObject, GetObjectVersion, PutObjectLegalHold,
 * GetObjectLegalHold, GetObjectRetention) was ignored as a whole, and so was one with ListBucket and
 * ListBucketVersions, while the same actions one per statement were honoured. An object belongs to
 * the user who uploaded it on RGW, so without the agent document's explicit Deny of
 * s3:PutObjectLegalHold an agent could lift a legal hold on its own objects (measured in an earlier
 * version of this test), and on a governance-mode vault it could delete its own locked version with
 * the bypass header (measured with the Denies removed); the Denies are checked here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutBucketPolicyCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { shipStore } from '../../agent/ship/shipper.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { CustodyError } from '../../src/errors.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { caseRecordKey, checkpointKey, encodeHost, rootOf } from '../../src/vault/layout.js';
import { generatePersonalKey } from '../../src/bundle/personal-key.js';
import { placeHolds, releaseCase } from '../../collector/vault-case.js';
import { s3ErrorCode } from '../../src/vault/s3.js';
import { createRgwUser, skipWithoutRgw, useRgw } from '../helpers/rgw.js';

const STORE = 'e'.repeat(32);
const DOCS = join(__dirname, '..', '..', 'docs', 'vault');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string;
  Resource: string;
  Principal?: { AWS: string[] };
}

/** A policy document of docs/vault with its placeholders filled in, as docs/vault/README.md tells a user to. */
function policyDocument(file: string, fill: { bucket: string; prefix: string; host?: string }): Statement[] {
  let text = readFileSync(join(DOCS, file), 'utf8').replaceAll('<BUCKET>', fill.bucket).replaceAll('<PREFIX/>', fill.prefix === '' ? '' : `${fill.prefix}/`);
  if (fill.host !== undefined) text = text.replaceAll('<HOST>', encodeHost(fill.host));
  expect(text, `${file}: every placeholder filled`).not.toMatch(/<[A-Z/]+>/);
  return (JSON.parse(text) as { Statement: Statement[] }).Statement;
}

/** The identity policy's statements as bucket-policy statements of one principal (RGW has no IAM users' policies). */
function forPrincipal(statements: Statement[], uid: string): Statement[] {
  return statements.map((s) => ({ ...s, Sid: `${s.Sid}${uid.replace(/[^A-Za-z0-9]/g, '')}`, Principal: { AWS: [`arn:aws:iam:::user/${uid}`] } }));
}

async function code(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    return err instanceof CustodyError ? err.code : s3ErrorCode(err).code;
  }
  return 'accepted';
}

describe.skipIf(skipWithoutRgw())('least privilege on a real vault', () => {
  const rgw = useRgw();

  it('the documented policies: an agent ships only under its own host, reads no other host, deletes nothing and lifts no hold; a collector reads, lists, holds and writes only case records', async () => {
    const url = `s3://lp-${process.pid}/fleet`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const owner = openVault({ url, env: rgw.env });
    const B = owner.bucket;
    const prefix = owner.vault.prefix;
    const webUser = createRgwUser(rgw, 'agent-web-01');
    const dbUser = createRgwUser(rgw, 'agent-db-01');
    const collectorUser = createRgwUser(rgw, 'collector');
    const statements = [
      ...forPrincipal(policyDocument('agent-policy.json', { bucket: B, prefix, host: 'web-01' }), 'agent-web-01'),
      ...forPrincipal(policyDocument('agent-policy.json', { bucket: B, prefix, host: 'db-01' }), 'agent-db-01'),
      ...forPrincipal(policyDocument('collector-policy.json', { bucket: B, prefix }), 'collector'),
    ];
    // Nothing in the documents may delete, shorten a retention or bypass governance.
    const allowed = statements.filter((s) => s.Effect === 'Allow').map((s) => s.Action);
    for (const a of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention', 's3:PutBucketPolicy', 's3:PutBucketObjectLockConfiguration', 's3:PutBucketVersioning']) expect(allowed).not.toContain(a);
    await owner.s3.send(new PutBucketPolicyCommand({ Bucket: B, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));
    const web = openVault({ url, env: webUser.env, maxAttempts: 1 });
    const db = openVault({ url, env: dbUser.env, maxAttempts: 1 });
    const collector = openVault({ url, env: collectorUser.env, maxAttempts: 1 });
    const own = checkpointKey(prefix, 'web-01', STORE, 10, 1);
    const dbKey = checkpointKey(prefix, 'db-01', STORE, 10, 1);

    // Each agent ships, and resumes (put-once's HEAD needs ListBucket to see 404, not 403).
    const put = await web.putOnce(own, bytes('note'));
    expect(put.outcome).toBe('written');
    expect((await web.putOnce(own, bytes('note'))).outcome).toBe('existed');
    const dbPut = await db.putOnce(dbKey, bytes('db note'));
    expect(dbPut.outcome).toBe('written');

    // The agent ships a real store with only these permissions (put-once's HEADs, the lock check).
    const work = mkdtempSync(join(tmpdir(), 'custody-lp-'));
    try {
      const dir = join(work, 'store');
      const { store } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'boot-lp' });
      for (let i = 0; i < 30; i++) store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: i * 10, line_no: i + 1, length: 9, text: `line ${i}` });
      store.close({ finalCheckpoint: true });
      const state = new StateStore(dir);
      const round = await shipStore(dir, web, state);
      expect(round.written).toBeGreaterThan(0);
      expect(round.acknowledged.segmentEnd).toBeGreaterThan(0);
      expect((await shipStore(dir, web, state)).written).toBe(0);
      state.close();
    } finally {
      rmSync(work, { recursive: true, force: true });
    }

    // A stolen agent key: write or read another host's evidence, delete its own, rewrite it.
    expect(await code(() => web.putOnce(checkpointKey(prefix, 'db-01', STORE, 11, 2), bytes('forged')))).toBe('E_VAULT_ACCESS_DENIED');
    expect(await code(() => web.get(dbKey))).toBe('E_VAULT_ACCESS_DENIED');
    expect(await code(() => web.s3.send(new DeleteObjectCommand({ Bucket: B, Key: own, VersionId: put.versionId })))).toBe('AccessDenied');
    expect(await code(() => web.s3.send(new DeleteObjectCommand({ Bucket: B, Key: own })))).toBe('AccessDenied');
    expect(await code(() => web.putOnce(own, bytes('rewritten')))).toBe('E_VAULT_OBJECT_EXISTS');
    expect(await code(() => web.s3.send(new PutObjectRetentionCommand({ Bucket: B, Key: own, VersionId: put.versionId, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 60_000) }, BypassGovernanceRetention: true })))).toBe('AccessDenied');

    // The collector reads, lists versions and places a legal hold on exactly the version it used.
    const listed = (await collector.listPage(rootOf(prefix))).objects.map((o) => o.key);
    expect(listed.filter((k) => k.includes(STORE)).sort()).toEqual([dbKey, own].sort());
    expect(listed.length).toBeGreaterThan(2); // and the shipped store's objects
    const versions = await collector.listVersions(rootOf(prefix));
    expect(versions.filter((v) => v.key.includes(STORE)).map((v) => v.versionId).sort()).toEqual([put.versionId, dbPut.versionId].sort());
    expect(versions).toHaveLength(listed.length);
    expect(Buffer.from((await collector.get(own, put.versionId)).body).toString()).toBe('note');
    expect(Buffer.from((await collector.get(dbKey)).body).toString()).toBe('db note');
    await collector.setLegalHold(own, put.versionId as string, true);
    expect((await collector.head(own, put.versionId)).legalHold).toBe(true);
    // The agent that uploaded (and on RGW owns) the object cannot lift the case's hold: the explicit Deny.
    expect(await code(() => web.setLegalHold(own, put.versionId as string, false))).toBe('E_VAULT_ACCESS_DENIED');
    expect((await collector.head(own, put.versionId)).legalHold).toBe(true);

    // The collector writes case records (which versions a case holds, when it released them) and
    // nothing else: collect --vault's holds and vault release run with exactly these permissions.
    const collectorKey = generatePersonalKey();
    const holds = await placeHolds(collector, { caseId: 'IR-LP', objects: [{ key: dbKey, version_id: dbPut.versionId as string }], at: '2026-12-05T10:00:00.000000Z', actor: 'Ada Examiner, IR', privateKey: collectorKey.privateKey });
    expect(holds.held).toBe(1);
    expect((await collector.head(dbKey, dbPut.versionId)).legalHold).toBe(true);
    const released = await releaseCase({ url, env: collectorUser.env, maxAttempts: 1, caseId: 'IR-LP', actor: 'Ada Examiner, IR', privateKey: collectorKey.privateKey }, '2026-12-05T11:00:00.000000Z');
    expect(released.released).toBe(1);
    expect((await collector.head(dbKey, dbPut.versionId)).legalHold).toBe(false);
    expect(await code(() => collector.putOnce(`${rootOf(prefix)}not-a-case-record`, bytes('x')))).toBe('E_VAULT_ACCESS_DENIED');
    // An agent writes no case record (it could otherwise forge a release of its own evidence's holds).
    expect(await code(() => web.putOnce(caseRecordKey(prefix, 'IR-LP', 'release', '2026-12-05T12:00:00.000000Z'), bytes('{}')))).toBe('E_VAULT_ACCESS_DENIED');

    // A stolen collector key: write evidence, delete it, shorten its retention.
    expect(await code(() => collector.putOnce(checkpointKey(prefix, 'web-01', STORE, 11, 2), bytes('forged')))).toBe('E_VAULT_ACCESS_DENIED');
    expect(await code(() => collector.s3.send(new DeleteObjectCommand({ Bucket: B, Key: own, VersionId: put.versionId })))).toBe('AccessDenied');
    expect(await code(() => collector.s3.send(new PutObjectRetentionCommand({ Bucket: B, Key: own, VersionId: put.versionId, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 60_000) }, BypassGovernanceRetention: true })))).toBe('AccessDenied');
    await collector.setLegalHold(own, put.versionId as string, false); // a case released
    for (const c of [owner, web, db, collector]) c.destroy();
  });

  it('on a governance-mode vault the agent policy still refuses deleting with the governance bypass, though on RGW the agent owns what it uploaded', async () => {
    const url = `s3://lpgov-${process.pid}`;
    await vaultInit({ url, retention: '1d', mode: 'governance', env: rgw.env });
    const owner = openVault({ url, env: rgw.env });
    const B = owner.bucket;
    const agentUser = createRgwUser(rgw, 'agent-gov-01');
    const statements = forPrincipal(policyDocument('agent-policy.json', { bucket: B, prefix: '', host: 'gov-01' }), 'agent-gov-01');
    await owner.s3.send(new PutBucketPolicyCommand({ Bucket: B, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));
    const agent = openVault({ url, env: agentUser.env, maxAttempts: 1 });
    const key = checkpointKey('', 'gov-01', STORE, 10, 1);
    const put = await agent.putOnce(key, bytes('note'));
    expect(await code(() => agent.s3.send(new DeleteObjectCommand({ Bucket: B, Key: key, VersionId: put.versionId, BypassGovernanceRetention: true })))).toBe('AccessDenied');
    expect(await code(() => agent.s3.send(new PutObjectRetentionCommand({ Bucket: B, Key: key, VersionId: put.versionId, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 1000) }, BypassGovernanceRetention: true })))).toBe('AccessDenied');
    expect((await owner.listVersions('custody/')).map((v) => v.versionId)).toEqual([put.versionId]);
    for (const c of [owner, agent]) c.destroy();
  });
});
