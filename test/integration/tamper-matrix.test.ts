/**
 * The tamper matrix: attacks on a real store file, each of which `verify` must detect and name.
 * Every attack works on a fresh copy of one pristine store that has two key epochs, checkpoints
 * time-stamped by a real (openssl) TSA, a preserved file, and an unsealed tail.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import { formatCheckpointBody, parseCheckpointBody, parseNote, signNote } from '../../src/integrity/checkpoint.js';
import { epochKeyName, generateEd25519, privateKeyFromPem, rawPublicKey } from '../../src/integrity/keys.js';
import { leafHash, rootFromLeafHashes } from '../../src/integrity/merkle.js';
import { requestTimeStamp } from '../../src/net/tsa-http.js';
import { canonicalBytes, decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import type { StoreVerification } from '../../src/verify/store-verify.js';
import { startTestTsa, type TestTsa } from '../helpers/tsa-server.js';

let work: string;
let pristine: string;
let fingerprint: string;
let tsa: TestTsa;
let otherStore: string;
const UNSEALED = 30;

function lineBytes(i: number): { raw: Buffer; text?: string } {
  if (i % 97 === 5) return { raw: Buffer.from([0x66, 0x6f, 0xff, 0x00, 0xc3, 0x28, i & 0xff]) };
  const text = `Nov 23 14:${String(i % 60).padStart(2, '0')}:00 web-01 sshd[${1000 + i}]: Accepted publickey for alice from 10.0.0.${i % 250} port ${40000 + i}`;
  return { raw: Buffer.from(text), text };
}

/** Offsets as the agent records them: each line starts after the previous one and its newline (verify checks it). */
const offsets = [0];
function offsetOf(i: number): number {
  while (offsets.length <= i) offsets.push((offsets.at(-1) as number) + lineBytes(offsets.length - 1).raw.length + 1);
  return offsets[i] as number;
}

function line(i: number): { path: string; dev: string; ino: string; offset: number; line_no: number; length: number; text?: string; raw_b64?: string } {
  const base = { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: offsetOf(i), line_no: i + 1 };
  const { raw, text } = lineBytes(i);
  return text === undefined ? { ...base, length: raw.length, raw_b64: raw.toString('base64') } : { ...base, length: raw.length, text };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-tamper-'));
  pristine = join(work, 'pristine');
  tsa = await startTestTsa();
  const { store, enrollment } = EvidenceStore.create(pristine, {
    host: 'web-01',
    bootId: 'boot-1',
    policy: { batchRecords: 50, checkpointRecords: 100, checkpointMs: 3_600_000 },
  });
  fingerprint = enrollment.fingerprint;
  for (let i = 0; i < 250; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
  const content = Buffer.from('rotated log content\n'.repeat(100));
  const sha = store.putBlob(content);
  store.append('log.file', 'file:/var/log/auth.log', { path: '/var/log/auth.log.1', size: content.length, mtime: '2026-11-23T00:00:00.000000Z', sha256: sha, reason: 'rotated', content: 'stored' });
  const early = store.checkpoint();
  const earlyStamp = await requestTimeStamp(tsa.url, new TextEncoder().encode(early.note));
  store.attachTimestamp(early.id, tsa.url, earlyStamp.info.genTime, earlyStamp.tokenDer);
  store.rotateKey();
  for (let i = 250; i < 500; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
  const late = store.checkpoint();
  const lateStamp = await requestTimeStamp(tsa.url, new TextEncoder().encode(late.note));
  store.attachTimestamp(late.id, tsa.url, lateStamp.info.genTime, lateStamp.tokenDer);
  for (let i = 500; i < 500 + UNSEALED; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
  store.close();

  otherStore = join(work, 'other');
  const other = EvidenceStore.create(otherStore, { host: 'web-01', policy: { checkpointRecords: 100 } }).store;
  for (let i = 0; i < 300; i++) other.append('log.line', 'file:/var/log/auth.log', line(i));
  other.close({ finalCheckpoint: true });
});

afterAll(async () => {
  await tsa?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function verifyCopy(dir: string): Promise<StoreVerification> {
  return verifyStoreDir(dir, { key: fingerprint, tsaCa: [tsa.caCertPath] });
}

let attackCount = 0;
/** Copies the pristine store, opens it as an attacker would (triggers dropped), mutates it, verifies it. */
async function attack(mutate: (db: Database.Database, dir: string) => void): Promise<StoreVerification> {
  const dir = join(work, `attack-${++attackCount}`);
  cpSync(pristine, dir, { recursive: true });
  const db = new Database(join(dir, EVIDENCE_FILE));
  for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as { name: string }[]) db.exec(`DROP TRIGGER ${name}`);
  mutate(db, dir);
  db.close();
  return verifyCopy(dir);
}

function codes(result: StoreVerification): string[] {
  return result.findings.filter((f) => f.severity === 'error').map((f) => f.code);
}

function recordAt(db: Database.Database, seq: number): EvidenceRecord {
  const row = db.prepare('SELECT bytes FROM records WHERE seq = ?').get(seq) as { bytes: Uint8Array };
  return decodeCanonical(row.bytes) as EvidenceRecord;
}

/** Rewrites a record properly (canonical bytes, matching columns, recomputed leaf): what someone without the key can do. */
function rewrite(db: Database.Database, seq: number, record: EvidenceRecord): void {
  const bytes = canonicalBytes(record);
  db.prepare('UPDATE records SET bytes = ?, leaf_hash = ?, kind = ?, observed_at = ? WHERE seq = ?').run(bytes, leafHash(bytes), record.kind, record.observed_at, seq);
}

function leaves(db: Database.Database): Uint8Array[] {
  return (db.prepare('SELECT leaf_hash FROM records ORDER BY seq').raw().all() as [Uint8Array][]).map((r) => r[0]);
}

describe('verify on untouched stores', () => {
  it('finds nothing wrong with the pristine store, and says what is sealed, time-stamped and not yet sealed', async () => {
    const result = await verifyCopy(pristine);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.records).toBe(500 + 1 + 1 + UNSEALED); // lines, log.file, key.rotate, tail
    expect(result.epochs).toBe(2);
    expect(result.sealed?.treeSize).toBe(502);
    expect(result.sealed?.trustedTime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(result.unsealed).toEqual({ fromSeq: 502, toSeq: 531, count: UNSEALED });
    expect(result.tsa).toEqual({ tokens: 2, verified: 2, unverified: 0 });
  });

  it('trusts the enrollment file beside the store when nothing is pinned, and says so', async () => {
    const result = await verifyStoreDir(pristine, { tsaCa: [tsa.caCertPath] });
    expect(result.ok).toBe(true);
    expect(result.trust.source).toBe('enrollment-file');
  });

  it('reads time-stamp tokens without a TSA root but does not trust them', async () => {
    const result = await verifyStoreDir(pristine, { key: fingerprint });
    expect(result.ok).toBe(true);
    expect(result.tsa.unverified).toBe(2);
    expect(result.sealed?.trustedTime).toBeUndefined();
    expect(result.findings.map((f) => f.code)).toEqual(['tsa.unverified']);
  });
});

describe('tamper matrix: every attack is detected and named', () => {
  it('1. a payload byte changed through the sqlite3 CLI after dropping the triggers', async () => {
    const dir = join(work, 'attack-cli');
    cpSync(pristine, dir, { recursive: true });
    const triggers = execFileSync('sqlite3', [join(dir, EVIDENCE_FILE), `SELECT name FROM sqlite_master WHERE type='trigger';`]).toString().trim().split('\n');
    const sql = [...triggers.map((t) => `DROP TRIGGER ${t};`), `UPDATE records SET bytes = CAST(replace(CAST(bytes AS TEXT), 'alice', 'alicf') AS BLOB) WHERE seq = 42;`].join('\n');
    execFileSync('sqlite3', [join(dir, EVIDENCE_FILE)], { input: sql });
    const result = await verifyCopy(dir);
    expect(result.ok).toBe(false);
    expect(codes(result)).toContain('record.leaf_hash_mismatch');
    expect(result.findings.find((f) => f.code === 'record.leaf_hash_mismatch')?.where.seq).toBe(42);
    expect(codes(result)).toContain('checkpoint.root_mismatch');
  });

  it('2. a record in the middle deleted', async () => {
    const result = await attack((db) => db.prepare('DELETE FROM records WHERE seq = 120').run());
    expect(codes(result)).toContain('record.seq_gap');
    expect(result.findings.find((f) => f.code === 'record.seq_gap')?.where.seqRange).toEqual([120, 120]);
    expect(codes(result)).toContain('checkpoint.root_mismatch');
  });

  it('3. the unsealed tail after the last checkpoint deleted', async () => {
    const result = await attack((db) => db.prepare('DELETE FROM records WHERE seq >= 510').run());
    expect(codes(result)).toEqual(['record.tail_truncated']);
    expect(result.findings[0]?.where.seqRange).toEqual([510, 531]);
  });

  it('4. the tail before the last checkpoint deleted (sealed records)', async () => {
    const result = await attack((db) => db.prepare('DELETE FROM records WHERE seq >= 400').run());
    expect(codes(result)).toContain('checkpoint.beyond_end');
    expect(result.findings.find((f) => f.code === 'checkpoint.beyond_end')?.where.seqRange?.[0]).toBe(400);
  });

  it('5. two records swapped', async () => {
    const result = await attack((db) => {
      const a = db.prepare('SELECT bytes, leaf_hash FROM records WHERE seq = 30').get() as { bytes: Uint8Array; leaf_hash: Uint8Array };
      const b = db.prepare('SELECT bytes, leaf_hash FROM records WHERE seq = 31').get() as { bytes: Uint8Array; leaf_hash: Uint8Array };
      db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = 30').run(b.bytes, b.leaf_hash);
      db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = 31').run(a.bytes, a.leaf_hash);
    });
    expect(codes(result)).toContain('record.seq_mismatch');
    expect(codes(result)).toContain('checkpoint.root_mismatch');
  });

  it('6. a forged record inserted, later records renumbered and re-hashed', async () => {
    const result = await attack((db) => {
      const tail = (db.prepare('SELECT bytes FROM records WHERE seq >= 200 ORDER BY seq').all() as { bytes: Uint8Array }[]).map((r) => decodeCanonical(r.bytes) as EvidenceRecord);
      db.prepare('DELETE FROM records WHERE seq >= 200').run();
      const forged = { ...tail[0]!, payload: { ...line(9999) } } as EvidenceRecord;
      const insert = db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (?, ?, ?, ?, ?)');
      [forged, ...tail].forEach((record, i) => {
        const moved = { ...record, seq: 200 + i };
        const bytes = canonicalBytes(moved);
        insert.run(moved.seq, moved.kind, moved.observed_at, leafHash(bytes), bytes);
      });
    });
    expect(codes(result)).toContain('checkpoint.root_mismatch');
    expect(result.sealed?.treeSize).toBeLessThanOrEqual(200);
  });

  it('7. a record changed and its leaf hash recomputed by someone without the key', async () => {
    const result = await attack((db) => {
      const record = recordAt(db, 77);
      rewrite(db, 77, { ...record, payload: { ...record.payload, text: 'Nov 23 14:17:00 web-01 sshd[1077]: Accepted publickey for mallory' } });
    });
    expect(codes(result)).not.toContain('record.leaf_hash_mismatch');
    expect(codes(result)).toContain('checkpoint.root_mismatch');
    // Localised between the last checkpoint that still verifies and the first that does not.
    const [from, to] = result.findings.find((f) => f.code === 'checkpoint.root_mismatch')?.where.seqRange ?? [-1, -1];
    expect(from).toBeLessThanOrEqual(77);
    expect(to).toBeGreaterThanOrEqual(77);
    expect(to - from).toBeLessThan(150);
  });

  it('8. a checkpoint signature replaced with one by another key of the same name', async () => {
    const result = await attack((db) => {
      const row = db.prepare('SELECT id, note FROM checkpoints ORDER BY id LIMIT 1 OFFSET 1').get() as { id: number; note: string };
      const parsed = parseNote(row.note);
      const forger = generateEd25519();
      const name = parsed.signatures[0]!.name;
      db.prepare('UPDATE checkpoints SET note = ? WHERE id = ?').run(signNote(parsed.text, { name, ...forger }), row.id);
    });
    expect(codes(result)).toEqual(['checkpoint.signature_invalid']);
  });

  it('9. an older checkpoint replayed as the newest', async () => {
    const result = await attack((db) => {
      const first = db.prepare('SELECT tree_size, epoch, created_at, note FROM checkpoints ORDER BY id LIMIT 1').get() as Record<string, unknown>;
      db.prepare('INSERT INTO checkpoints(tree_size, epoch, created_at, note) VALUES (?, ?, ?, ?)').run(first['tree_size'], first['epoch'], first['created_at'], first['note']);
    });
    expect(codes(result)).toContain('checkpoint.rollback');
  });

  it('10. the past re-signed with a later epoch key (stolen after rotation)', async () => {
    const result = await attack((db, dir) => {
      const storeId = (db.prepare(`SELECT value FROM meta WHERE name = 'store_id'`).get() as { value: string }).value;
      const stolen = privateKeyFromPem(readFileSync(join(dir, 'keys', 'epoch-1.key'), 'utf8'));
      const key = { name: epochKeyName(storeId, 1), privateKey: stolen, publicKeyRaw: rawPublicKey(stolen) };
      const record = recordAt(db, 10);
      rewrite(db, 10, { ...record, payload: { ...record.payload, text: 'nothing happened' } });
      const all = leaves(db);
      for (const cp of db.prepare('SELECT id, note FROM checkpoints').all() as { id: number; note: string }[]) {
        const body = parseCheckpointBody(parseNote(cp.note).text);
        const text = formatCheckpointBody({ ...body, rootHash: rootFromLeafHashes(all.slice(0, body.treeSize)) });
        db.prepare('UPDATE checkpoints SET note = ?, epoch = 1 WHERE id = ?').run(signNote(text, key), cp.id);
      }
    });
    expect(codes(result)).toContain('checkpoint.key_not_certified');
    expect(codes(result)).toContain('key.rotation_unsealed');
    expect(result.sealed).toBeDefined();
    expect(result.sealed!.treeSize).toBeGreaterThan(251); // only what epoch 1 legitimately signed survives
  });

  it('11. a key certificate (key.rotate record) removed', async () => {
    const result = await attack((db) => db.prepare(`DELETE FROM records WHERE kind = 'key.rotate'`).run());
    expect(codes(result)).toContain('record.seq_gap');
    expect(codes(result)).toContain('checkpoint.key_not_certified');
  });

  it('12. a time-stamp token altered', async () => {
    const result = await attack((db) => {
      const row = db.prepare('SELECT id, token FROM tsa_tokens ORDER BY id LIMIT 1').get() as { id: number; token: Uint8Array };
      const token = Buffer.from(row.token);
      token[token.length - 10]! ^= 0x01; // inside the CMS signature
      db.prepare('UPDATE tsa_tokens SET token = ? WHERE id = ?').run(token, row.id);
    });
    expect(codes(result)).toEqual(['tsa.token_invalid']);
  });

  it('13. a time-stamp token moved to another checkpoint', async () => {
    const result = await attack((db) => {
      const other = db.prepare('SELECT id FROM checkpoints ORDER BY id LIMIT 1').get() as { id: number };
      db.prepare('UPDATE tsa_tokens SET checkpoint_id = ? WHERE id = (SELECT MAX(id) FROM tsa_tokens)').run(other.id);
    });
    expect(codes(result)).toEqual(['tsa.token_invalid']);
    expect(result.findings[0]?.message).toMatch(/imprint/);
  });

  it('14. observed_at edited (back-dating), bytes and column made consistent', async () => {
    const result = await attack((db) => {
      const record = recordAt(db, 150);
      rewrite(db, 150, { ...record, observed_at: '2020-01-01T00:00:00.000000Z' });
    });
    expect(codes(result)).toContain('checkpoint.root_mismatch');
  });

  it('15. the file corrupted on disk', async () => {
    const dir = join(work, 'attack-disk');
    cpSync(pristine, dir, { recursive: true });
    const file = join(dir, EVIDENCE_FILE);
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    const result = await verifyCopy(dir);
    expect(result.ok).toBe(false);
    expect(codes(result).some((c) => ['store.corrupt', 'checkpoint.root_mismatch', 'record.leaf_hash_mismatch', 'record.not_canonical', 'record.seq_gap'].includes(c))).toBe(true);
  });

  it('16. the file truncated on disk', async () => {
    const dir = join(work, 'attack-truncate');
    cpSync(pristine, dir, { recursive: true });
    const file = join(dir, EVIDENCE_FILE);
    writeFileSync(file, readFileSync(file).subarray(0, Math.floor(statSync(file).size / 3)));
    const result = await verifyCopy(dir);
    expect(result.ok).toBe(false);
    expect(codes(result).length).toBeGreaterThan(0);
  });

  it("17. the store swapped for another agent's", async () => {
    const dir = join(work, 'attack-swap');
    cpSync(pristine, dir, { recursive: true });
    cpSync(join(otherStore, EVIDENCE_FILE), join(dir, EVIDENCE_FILE));
    const result = await verifyCopy(dir);
    expect(codes(result)).toContain('store.enrollment_mismatch');
    // Swapping the enrollment file too does not help against a pinned fingerprint.
    cpSync(join(otherStore, 'enrollment.pub'), join(dir, 'enrollment.pub'));
    expect(codes(await verifyCopy(dir))).toContain('store.enrollment_mismatch');
  });

  it('18. a checkpoint row edited to claim a larger tree', async () => {
    const result = await attack((db) => db.prepare('UPDATE checkpoints SET tree_size = tree_size + 5 WHERE id = 1').run());
    expect(codes(result)).toContain('checkpoint.size_mismatch');
  });

  it('19. preserved file content altered', async () => {
    const result = await attack((db) => db.prepare('UPDATE blobs SET data = CAST(replace(CAST(data AS TEXT), \'rotated\', \'Rotated\') AS BLOB)').run());
    expect(codes(result)).toEqual(['blob.hash_mismatch']);
  });

  it('20. a record from another host spliced in with re-signed-looking columns', async () => {
    const result = await attack((db) => {
      const record = recordAt(db, 300);
      rewrite(db, 300, { ...record, host: 'db-02' });
    });
    expect(codes(result)).toContain('record.host_mismatch');
    expect(codes(result)).toContain('checkpoint.root_mismatch');
  });

  it('21. a key.rotate certificate forged for an attacker key', async () => {
    const result = await attack((db) => {
      const seq = (db.prepare(`SELECT seq FROM records WHERE kind = 'key.rotate'`).get() as { seq: number }).seq;
      const record = recordAt(db, seq);
      const attackerKey = generateEd25519();
      rewrite(db, seq, { ...record, payload: { ...record.payload, public_key: Buffer.from(attackerKey.publicKeyRaw).toString('base64') } });
    });
    expect(codes(result)).toContain('key.certificate_invalid');
  });

  it('22. the table rebuilt without its key, rows stored out of order, and a record moved onto its predecessor’s seq', async () => {
    // seq 120 twice and 121 missing, which a chunk's count, min and max cannot tell from a gapless
    // run (the verifier then numbered the rows itself and saw the pristine store); every record's
    // bytes and leaf and every seal are untouched.
    const result = await attack((db) => {
      db.exec('CREATE TABLE r2 AS SELECT * FROM records ORDER BY (seq * 7919) % 541; DROP TABLE records; ALTER TABLE r2 RENAME TO records;');
      db.prepare('UPDATE records SET seq = 120 WHERE seq = 121').run();
    });
    expect(result.ok).toBe(false);
    expect(codes(result)).toContain('record.seq_gap');
    expect(result.findings.find((f) => f.code === 'record.seq_gap')?.where.seqRange).toEqual([121, 121]);
  });
});

describe('an interrupted key rotation is unsealed, not tampered', () => {
  it('treats a key.rotate record that no checkpoint covers yet as part of the unsealed tail', async () => {
    // What a crash between the certificate's commit and its sealing leaves (stores written before
    // the store committed both in one transaction, or with a batch size of 1).
    const result = await attack((db) => {
      const rotateSeq = (db.prepare(`SELECT seq FROM records WHERE kind = 'key.rotate'`).get() as { seq: number }).seq;
      db.prepare('DELETE FROM tsa_tokens').run();
      db.prepare('DELETE FROM checkpoints WHERE tree_size > ?').run(rotateSeq);
      db.prepare('DELETE FROM records WHERE seq > ?').run(rotateSeq);
      db.prepare(`DELETE FROM sqlite_sequence`).run();
    });
    expect(codes(result)).toEqual([]);
    expect(result.unsealed?.count).toBe(1);
  });
});
