/**
 * The verifier reads records in chunks that SQLite hands over as a few joined values
 * (StoreReader.recordRows / recordChunk), and falls back to reading row by row wherever a chunk is
 * not plainly well-typed and gapless. Whatever an attacker with root wrote into the records table,
 * what the verifier gets must be exactly what a plain `SELECT seq, kind, observed_at, leaf_hash,
 * bytes … ORDER BY seq` returns: these tests compare the two on a real store, pristine and tampered.
 */
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import type { RecordRow } from '../../src/verify/reader.js';
import { openAsAttacker } from '../helpers/store-attacks.js';

const RECORDS = 2600; // more than two chunks of 1,024
let work: string;
let pristine: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-chunks-'));
  pristine = join(work, 'pristine');
  const { store } = EvidenceStore.create(pristine, { host: 'web-01', bootId: 'b' });
  for (let i = 0; i < RECORDS; i++) {
    const text = i % 5 === 0 ? `ユーザー ${i} ✓ "q" \\ ${'y'.repeat(i % 300)}` : `line ${i}`;
    store.append('log.line', 'file:/var/log/x', { path: '/var/log/x', dev: '1', ino: '2', offset: i * 400, line_no: i + 1, length: Buffer.byteLength(text), text });
  }
  store.close({ finalCheckpoint: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function plain(dir: string, from = -Infinity, to = Infinity): unknown[][] {
  const db = new Database(join(dir, EVIDENCE_FILE), { readonly: true });
  try {
    return (db.prepare('SELECT seq, kind, observed_at, leaf_hash, bytes FROM records ORDER BY seq').raw().all() as unknown[][]).filter((r) => (r[0] as number) >= from && (r[0] as number) < to);
  } finally {
    db.close();
  }
}

const asArrays = (rows: Iterable<RecordRow>): unknown[][] =>
  [...rows].map((r) => [r.seq, r.kind, r.observed_at, r.leaf_hash === null || r.leaf_hash === undefined ? r.leaf_hash : Buffer.from(r.leaf_hash as Uint8Array), r.bytes === null || typeof r.bytes !== 'object' ? r.bytes : Buffer.from(r.bytes)]);

function readerRows(dir: string, range?: { from: number; to: number }): unknown[][] {
  const reader = new SqliteStoreReader(dir);
  try {
    return asArrays(range === undefined ? reader.records() : reader.recordRowsBetween(range.from, range.to));
  } finally {
    reader.close();
  }
}

function tampered(name: string, attack: (db: Database.Database) => void): string {
  const dir = join(work, name);
  cpSync(pristine, dir, { recursive: true });
  const db = openAsAttacker(dir);
  try {
    attack(db);
  } finally {
    db.close();
  }
  return dir;
}

describe('records read in chunks', () => {
  it('are exactly the rows of a plain SELECT, whole and in ranges, on a pristine store', () => {
    const expected = plain(pristine);
    expect(expected).toHaveLength(RECORDS);
    expect(readerRows(pristine)).toEqual(expected);
    for (const [from, to] of [[0, 1024], [1000, 2100], [2599, 2600], [2600, 4000]] as const) expect(readerRows(pristine, { from, to })).toEqual(plain(pristine, from, to));
  });

  it('are exactly the rows of a plain SELECT whatever was written into the table', () => {
    const dir = tampered('hostile', (db) => {
      // The table is STRICT: an attacker rebuilds it without types to store what the agent never would.
      db.exec('CREATE TABLE r2 AS SELECT * FROM records; DROP TABLE records; ALTER TABLE r2 RENAME TO records;');
      db.prepare('DELETE FROM records WHERE seq IN (10, 11, 1500)').run(); // gaps
      db.prepare("UPDATE records SET kind = 'log.line' || char(10) || 'x' WHERE seq = 20").run();
      db.prepare("UPDATE records SET observed_at = '2026-01-01' || char(10) || 'T' WHERE seq = 1100").run();
      db.prepare('UPDATE records SET leaf_hash = ? WHERE seq = 2050').run(Buffer.alloc(31, 7));
      db.prepare("UPDATE records SET bytes = 'text, not a blob' WHERE seq = 2200").run();
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 30').run(Buffer.from([0x7b, 0x00, 0x3a, 0x0a, 0xff, 0x7d]));
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 31').run(Buffer.alloc(0));
      db.prepare('UPDATE records SET kind = ? WHERE seq = 2400').run('k\u0000ind');
      db.prepare('UPDATE records SET kind = NULL WHERE seq = 2401').run();
      db.prepare('UPDATE records SET observed_at = 12345 WHERE seq = 2402').run();
      db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) SELECT 5000, kind, observed_at, leaf_hash, bytes FROM records WHERE seq = 0').run();
    });
    const expected = plain(dir);
    expect(expected).toHaveLength(RECORDS - 3 + 1);
    expect(readerRows(dir)).toEqual(expected);
    for (const [from, to] of [[0, 1024], [1024, 2048], [2048, 3072], [4000, 6000]] as const) expect(readerRows(dir, { from, to })).toEqual(plain(dir, from, to));
  });

  it('are exactly the rows of a plain SELECT when the rows are stored out of seq order and a seq is written twice', () => {
    // Rebuilt without its primary key, the rows stored in another order than their seqs (so no
    // index gives seq order: SQLite must sort), and in one chunk seq 600 written twice where 601 is
    // missing: count, min and max of that chunk are those of a gapless one.
    const dir = tampered('reordered', (db) => {
      db.exec('CREATE TABLE r2 AS SELECT * FROM records ORDER BY (seq * 7919) % 2609; DROP TABLE records; ALTER TABLE r2 RENAME TO records;');
      db.prepare('UPDATE records SET seq = 600 WHERE seq = 601').run();
    });
    const expected = plain(dir);
    expect(expected.filter((r) => r[0] === 600)).toHaveLength(2);
    expect(readerRows(dir)).toEqual(expected);
    for (const [from, to] of [[0, 1024], [512, 1536]] as const) expect(readerRows(dir, { from, to })).toEqual(plain(dir, from, to));
  });

  it('a store whose seqs are far sparser than its file reads row by row, the same rows', () => {
    const dir = tampered('sparse', (db) => {
      db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) SELECT 1125899906842624, kind, observed_at, leaf_hash, bytes FROM records WHERE seq = 0').run();
    });
    expect(readerRows(dir)).toEqual(plain(dir));
  });
});
