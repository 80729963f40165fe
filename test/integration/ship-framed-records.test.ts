/**
 * The shipper's records come out of SQLite already framed as a segment's body
 * (StoreReader.framedRecords: `<length>:<bytes>\n` built by `||` and group_concat). These tests hold
 * that framing to the JavaScript one (frameRecords, what a segment is defined as) on a real store,
 * also where an attacker with root wrote bytes no agent writes (NUL, invalid UTF-8, an empty record,
 * a time with a NUL in it, a time stored as a blob), and check that a store whose records do not
 * all have bytes is refused instead of shipped short.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framedFrom, segmentObject } from '../../agent/ship/plan.js';
import { CustodyError } from '../../src/errors.js';
import { leafHash, MerkleFrontier, rootFromLeafHashes } from '../../src/integrity/merkle.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { parseObjectKey } from '../../src/vault/layout.js';
import { decodeSegment, segmentRoot } from '../../src/vault/segment.js';
import { openAsAttacker } from '../helpers/store-attacks.js';

const RECORDS = 40;
let work: string;
let dir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-framed-'));
  dir = join(work, 'store');
  const { store } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b' });
  for (let i = 0; i < RECORDS; i++) {
    const text = i % 3 === 0 ? `ログイン ${i} ✓ "quoted" \\ back` : `line ${i} ${'x'.repeat(i * 50)}`;
    store.append('log.line', 'file:/var/log/x', { path: '/var/log/x', dev: '1', ino: '2', offset: i * 1000, line_no: i + 1, length: Buffer.byteLength(text), text });
  }
  store.close({ finalCheckpoint: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function rowsOf(path: string, from: number, to: number): { bytes: Uint8Array; observedAt: string }[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT bytes, observed_at FROM records WHERE seq >= ? AND seq < ? ORDER BY seq').raw().all(from, to) as [Uint8Array, string][]).map(([bytes, observedAt]) => ({ bytes, observedAt }));
  } finally {
    db.close();
  }
}

function framedBySqlite(from: number, to: number): ReturnType<SqliteStoreReader['framedRecords']> {
  const reader = new SqliteStoreReader(dir);
  try {
    return reader.framedRecords(from, to);
  } finally {
    reader.close();
  }
}

describe('records framed by SQLite for shipping', () => {
  it('are byte for byte the segment framing of the records, with their time range, for any range', () => {
    for (const [from, to] of [[0, RECORDS], [0, 1], [7, 23], [RECORDS - 1, RECORDS]] as const) {
      const sql = framedBySqlite(from, to);
      const js = framedFrom(rowsOf(join(dir, EVIDENCE_FILE), from, to));
      expect(Buffer.from(sql.framed).equals(Buffer.from(js.framed))).toBe(true);
      expect({ ...sql, framed: undefined }).toEqual({ ...js, framed: undefined });
      expect(sql.observedWellFormed).toBe(true);
    }
    const empty = framedBySqlite(RECORDS, RECORDS + 5);
    expect(empty.count).toBe(0);
    expect(empty.framed.length).toBe(0);
  });

  it('keep bytes no agent writes exactly (NUL, invalid UTF-8, empty), and call a malformed time unknown', () => {
    const db = openAsAttacker(dir);
    try {
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 3').run(Buffer.from([0x7b, 0x00, 0x0a, 0x3a, 0xff, 0xfe, 0x00, 0x7d]));
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 4').run(Buffer.alloc(0));
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 5').run(Buffer.from([0xc3, 0x28, 0xe2, 0x82]));
      db.prepare('UPDATE records SET observed_at = ? WHERE seq = 6').run('2026-12-04T10:00:00.000000Z\u0000junk');
    } finally {
      db.close();
    }
    const sql = framedBySqlite(0, 10);
    const js = framedFrom(rowsOf(join(dir, EVIDENCE_FILE), 0, 10));
    expect(Buffer.from(sql.framed).equals(Buffer.from(js.framed))).toBe(true);
    expect(sql.count).toBe(10);
    expect(sql.observedWellFormed).toBe(false);
    expect(js.observedWellFormed).toBe(false);
    // The segment made from them names no time range, and its records are exactly those bytes.
    const seg = segmentObject('', 'web-01', 'a'.repeat(32), new MerkleFrontier().toState(), sql);
    expect(parseObjectKey('', seg.key)).toMatchObject({ type: 'segment', start: 0, end: 10, minObserved: undefined, maxObserved: undefined });
    const rows = rowsOf(join(dir, EVIDENCE_FILE), 0, 10);
    expect(Buffer.from(segmentRoot(decodeSegment(seg.body))).equals(Buffer.from(rootFromLeafHashes(rows.map((r) => leafHash(r.bytes)))))).toBe(true);

  });

  it('a record without bytes is never shipped short, and a time stored as a blob is not a known range', () => {
    const db = openAsAttacker(dir);
    try {
      // The table is STRICT and bytes NOT NULL: an attacker rebuilds it without either.
      db.exec(`CREATE TABLE r2 AS SELECT * FROM records; DROP TABLE records; ALTER TABLE r2 RENAME TO records;`);
      db.prepare('UPDATE records SET bytes = NULL WHERE seq = 31').run();
      db.prepare('UPDATE records SET observed_at = ? WHERE seq = 12').run(Buffer.from('2026-12-04T10:00:00.000000Z'));
    } finally {
      db.close();
    }
    const framed = framedBySqlite(30, 35);
    expect(framed.count).toBe(5);
    let caught: unknown;
    try {
      segmentObject('', 'web-01', 'a'.repeat(32), new MerkleFrontier().toState(), framed);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CustodyError);
    expect((caught as CustodyError).code).toBe('E_STORE_CORRUPT');
    expect((caught as Error).message).toMatch(/records \[0, 5\): 1 of them have no bytes to ship/);
    expect(framedBySqlite(10, 20).observedWellFormed).toBe(false);
    expect(framedBySqlite(20, 30).observedWellFormed).toBe(true);
  });
});
