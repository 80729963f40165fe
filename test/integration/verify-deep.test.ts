/**
 * Integrity and well-formedness are different questions (issue 14). A record that is not canonical
 * JSON, or does not match its kind's schema, but carries a valid seal (sealed by the agent's own
 * key: a bug in the agent, not an attack on the evidence) is intact evidence: default `verify`
 * says VALID and its `checks:` line says canonical JSON and schema were not checked for it;
 * `verify --deep` names it with its finding code. The same for a bundle collected from such a store
 * (collect itself checks deep, and records the finding in the manifest). Real store, real keys,
 * real collect, the built CLI.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase } from '../../collector/collect.js';
import { verifyBundle } from '../../collector/verify-bundle.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { systemClock } from '../../src/clock.js';
import { formatCheckpointBody, parseCheckpointBody, parseNote, signNote } from '../../src/integrity/checkpoint.js';
import { epochKeyName, rawPublicKey } from '../../src/integrity/keys.js';
import { leafHash, rootFromLeafHashes } from '../../src/integrity/merkle.js';
import { canonicalText, decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { readEpochKey } from '../../src/store/keyfiles.js';
import { custody } from '../helpers/cli.js';

let work: string;
let storeDir: string;
let bundle: string;
const NOT_CANONICAL_SEQ = 10;
const INVALID_SEQ = 20;
const RECORDS = 120;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-verify-deep-'));
  storeDir = join(work, 'store');
  const { store } = EvidenceStore.create(storeDir, { host: 'ws-07', bootId: 'boot-1', policy: { batchRecords: 10, checkpointRecords: 50, checkpointMs: 3_600_000 } });
  for (let seq = 0, offset = 0; seq < RECORDS; seq++) {
    const text = `Nov 23 09:${String(seq % 60).padStart(2, '0')}:00 ws-07 sshd[${4000 + seq}]: Failed password for root from 203.0.113.7 port ${50000 + seq} ssh2`;
    store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '77', offset, line_no: seq + 1, length: Buffer.byteLength(text), text });
    offset += Buffer.byteLength(text) + 1;
  }
  store.close({ finalCheckpoint: true });

  // The agent's own key re-seals two records it should never have written: what a bug in the
  // agent would leave. Every seal verifies; only well-formedness is wrong.
  const db = new Database(join(storeDir, EVIDENCE_FILE));
  for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as { name: string }[]) db.exec(`DROP TRIGGER ${name}`);
  const put = (seq: number, text: string): void => {
    const bytes = Buffer.from(text);
    db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = ?').run(bytes, leafHash(bytes), seq);
  };
  const recordAt = (seq: number): EvidenceRecord => decodeCanonical((db.prepare('SELECT bytes FROM records WHERE seq = ?').get(seq) as { bytes: Uint8Array }).bytes) as EvidenceRecord;
  // The payload's keys out of order: the same values, not canonical JSON.
  const first = canonicalText(recordAt(NOT_CANONICAL_SEQ));
  const swapped = first.replace('"payload":{"dev":"2049","ino":"77",', '"payload":{"ino":"77","dev":"2049",');
  expect(swapped).not.toBe(first);
  put(NOT_CANONICAL_SEQ, swapped);
  // A log.line with both text and raw_b64: canonical, but not valid against its schema.
  const second = recordAt(INVALID_SEQ);
  put(INVALID_SEQ, canonicalText({ ...second, payload: { ...second.payload, raw_b64: 'AAAA' } }));
  const storeId = (db.prepare(`SELECT value FROM meta WHERE name = 'store_id'`).get() as { value: string }).value;
  const privateKey = readEpochKey(storeDir, 0);
  const key = { name: epochKeyName(storeId, 0), privateKey, publicKeyRaw: rawPublicKey(privateKey) };
  const leaves = (db.prepare('SELECT leaf_hash FROM records ORDER BY seq').raw().all() as [Uint8Array][]).map((r) => r[0]);
  for (const cp of db.prepare('SELECT id, note FROM checkpoints').all() as { id: number; note: string }[]) {
    const body = parseCheckpointBody(parseNote(cp.note).text);
    db.prepare('UPDATE checkpoints SET note = ? WHERE id = ?').run(signNote(formatCheckpointBody({ ...body, rootHash: rootFromLeafHashes(leaves.slice(0, body.treeSize)) }), key), cp.id);
  }
  db.close();

  bundle = join(work, 'bundle');
  await collectCase({ caseId: 'IR-DEEP', stores: [storeDir], out: bundle, report: false }, { clock: systemClock, collectorHost: 'ir-laptop', version: 'test', codeSha256: '0'.repeat(64) });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('verify proves integrity; verify --deep also well-formedness', () => {
  it('default: VALID, every seal verifies, and the result says canonical JSON and schema were not checked for most records', async () => {
    const r = await verifyStoreDir(storeDir);
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.records).toBe(RECORDS);
    expect(r.sealed?.treeSize).toBe(RECORDS);
    expect(r.checks).toMatchObject({ integrity: true, canonical: false, schema: false });
    // Only records whose payload verify uses, and the unsealed tail, are decoded: here none.
    expect(r.checks.recordsFullyChecked).toBeLessThan(RECORDS);
  });

  it('--deep: names the non-canonical and the schema-invalid record by code and seq', async () => {
    const r = await verifyStoreDir(storeDir, { deep: true });
    expect(r.ok).toBe(false);
    expect(r.checks).toEqual({ integrity: true, canonical: true, schema: true, recordsFullyChecked: RECORDS });
    // Only these: the two records still state their read positions, so the lines after them in
    // the same file do not look like skipped bytes.
    expect(r.findings.map((f) => [f.code, f.where.seq])).toEqual([
      ['record.not_canonical', NOT_CANONICAL_SEQ],
      ['record.invalid', INVALID_SEQ],
    ]);
    // Integrity itself holds: everything is sealed.
    expect(r.sealed?.treeSize).toBe(RECORDS);
  });

  it('the built CLI: default exit 0 with a checks line saying what was not checked; --deep exit 1 naming both', () => {
    const plain = custody('verify', storeDir);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^checks: {7}integrity \(.*\); canonical JSON and schema: \d+ of 120 records .*not the others: --deep checks every record$/m);
    expect(plain.stdout).toMatch(/^result: {7}VALID/m);
    const deep = custody('verify', '--deep', storeDir);
    expect(deep.code).toBe(1);
    expect(deep.stdout).toMatch(/^checks: {7}integrity, canonical, schema \(--deep\)/m);
    expect(deep.stdout).toContain(`ERROR record.not_canonical at seq ${NOT_CANONICAL_SEQ}:`);
    expect(deep.stdout).toContain(`ERROR record.invalid at seq ${INVALID_SEQ}:`);
    const json = JSON.parse(custody('verify', '--deep', '--json', storeDir).stdout) as { checks: { canonical: boolean }; findings: { code: string }[] };
    expect(json.checks.canonical).toBe(true);
    expect(json.findings.map((f) => f.code)).toEqual(['record.not_canonical', 'record.invalid']);
  });

  it('a bundle: collect checked deep and recorded it; default bundle verify is VALID and says so, --deep names both records', async () => {
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as { hosts: { verified: { ok: boolean; findings: { code: string }[] } }[] };
    expect(manifest.hosts[0]?.verified.ok).toBe(false);
    expect(manifest.hosts[0]?.verified.findings.map((f) => f.code)).toEqual(['record.not_canonical', 'record.invalid']);
    const plain = await verifyBundle(bundle);
    expect(plain.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(plain.ok).toBe(true);
    expect(plain.checks).toMatchObject({ integrity: true, canonical: false, schema: false, records: RECORDS });
    expect(plain.hosts[0]?.witness.ok).toBe(true);
    const deep = await verifyBundle(bundle, { deep: true });
    expect(deep.ok).toBe(false);
    expect(deep.checks).toMatchObject({ canonical: true, schema: true, recordsFullyChecked: RECORDS, records: RECORDS });
    expect(deep.findings.map((f) => f.code)).toEqual(['store.record.not_canonical', 'store.record.invalid']);
    const cli = custody('verify', '--deep', bundle);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^checks: {7}integrity, canonical, schema \(--deep\)/m);
    expect(cli.stdout).toContain('store.record.not_canonical');
    const cliPlain = custody('verify', bundle);
    expect(cliPlain.code).toBe(0);
    expect(cliPlain.stdout).toMatch(/^checks: {7}integrity \(/m);
  });
});
