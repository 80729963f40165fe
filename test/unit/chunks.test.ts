/**
 * The chunk reads of the verifier, the timeline and the shipper join a chunk's rows in SQLite
 * (group_concat over rowsInSeqOrder) with no ORDER BY inside the aggregates. That rests on two
 * things about the SQLite we ship, checked here on a real store: a FROM subquery's ORDER BY decides
 * the order every aggregate of the outer query sees (so the joined columns are in seq order and line
 * up row by row), and the seq order costs no sort (no temporary B-tree in the plan).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_FRAMED, rowsInSeqOrder, seqIsRowid } from '../../src/store/chunks.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { frameRecords } from '../../src/vault/segment.js';

describe('chunk reads joined in SQLite', () => {
  let work: string;
  let dir: string;
  let db: Database.Database;
  let rows: { seq: number; kind: string; bytes: Buffer }[];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'custody-chunks-'));
    dir = join(work, 'store');
    const { store } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'boot-1', policy: { batchRecords: 50, checkpointRecords: 100, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 250; i++) {
      // Lengths vary (1 to 3 digits of text more), and one line holds a NUL and a newline.
      const text = i === 77 ? 'nul\u0000 and\nnewline' : `line ${i} ${'x'.repeat(i % 13)}`;
      store.append('log.line', 'file:/var/log/syslog', { path: '/var/log/syslog', dev: '2049', ino: '7', offset: i * 40, line_no: i + 1, length: text.length, text });
    }
    store.rotateKey();
    store.close({ finalCheckpoint: true });
    db = new Database(join(dir, EVIDENCE_FILE), { readonly: true });
    rows = db.prepare('SELECT seq, kind, bytes FROM records ORDER BY seq').all() as typeof rows;
  });
  afterAll(() => {
    db.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('SQLite feeds the outer aggregates in the FROM subquery’s order, whatever that order is', () => {
    // Against the rowid order on purpose: were the subquery's ORDER BY dropped, this would come ascending.
    const got = db.prepare(`SELECT group_concat(seq, ','), group_concat(kind, ',') FROM (SELECT seq, kind FROM records ORDER BY seq DESC)`).raw().get() as [string, string];
    const descending = [...rows].reverse();
    expect(got[0]).toBe(descending.map((r) => r.seq).join(','));
    expect(got[1]).toBe(descending.map((r) => r.kind).join(','));
  });

  it('a chunk over rowsInSeqOrder is in seq order, lines up column by column and needs no sort', () => {
    const sql = `SELECT count(*), group_concat(seq, ','), ${RECORDS_FRAMED('bytes')} FROM ${rowsInSeqOrder('seq, bytes', 'seq >= ? AND seq < ?')}`;
    const [from, to] = [40, 220];
    const [count, seqs, framed] = db.prepare(sql).raw().get(from, to) as [number, string, Buffer];
    const expected = rows.filter((r) => r.seq >= from && r.seq < to);
    expect(count).toBe(expected.length);
    expect(seqs).toBe(expected.map((r) => r.seq).join(','));
    expect(Buffer.from(framed).equals(Buffer.from(frameRecords(expected.map((r) => new Uint8Array(r.bytes)))))).toBe(true);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(from, to) as { detail: string }[]).map((p) => p.detail);
    expect(plan.join('\n')).not.toMatch(/TEMP B-TREE/);
    expect(plan.join('\n')).toMatch(/INTEGER PRIMARY KEY/);
  });

  it('seqIsRowid holds for the agent’s table and for no other way of keying seq', () => {
    expect(seqIsRowid(db)).toBe(true);
    const keyedOtherwise = [
      'CREATE TABLE records (seq INTEGER PRIMARY KEY DESC, bytes BLOB)',
      'CREATE TABLE records (seq INTEGER PRIMARY KEY, bytes BLOB) WITHOUT ROWID',
      'CREATE TABLE records (seq INT PRIMARY KEY, bytes BLOB)',
      'CREATE TABLE records (seq INTEGER UNIQUE, bytes BLOB)',
      'CREATE TABLE records (seq INTEGER, bytes BLOB)',
      'CREATE TABLE r2 (seq INTEGER PRIMARY KEY, bytes BLOB); CREATE VIEW records AS SELECT * FROM r2',
      'CREATE TABLE other (seq INTEGER PRIMARY KEY)',
    ];
    for (const ddl of keyedOtherwise) {
      const other = new Database(':memory:');
      try {
        other.exec(ddl);
        expect(seqIsRowid(other), ddl).toBe(false);
      } finally {
        other.close();
      }
    }
  });

  it('the shipper’s framed segment is the records’ bytes in seq order', () => {
    const reader = new SqliteStoreReader(dir);
    try {
      const got = reader.framedRecords(10, 200);
      expect(got.count).toBe(190);
      expect(Buffer.from(got.framed).equals(Buffer.from(frameRecords(rows.slice(10, 200).map((r) => new Uint8Array(r.bytes)))))).toBe(true);
      expect(got.observedWellFormed).toBe(true);
    } finally {
      reader.close();
    }
  });
});
