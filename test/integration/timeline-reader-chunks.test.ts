/**
 * The timeline reads a store's records in time order (src/store/timeline-reader.ts), most of them
 * in chunks that SQLite hands over as a few joined values, and falls back to reading row by row
 * where a chunk is not plainly well-typed. Whatever the store holds, the records must come out
 * exactly as a plain reading sorted by (time, seq) gives them, with the time rule the bundle
 * verifier applies (recordTime): on a pristine store with raw lines and derived records, and on
 * one an attacker edited.
 */
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { recordsByTime } from '../../src/store/timeline-reader.js';
import { openAsAttacker } from '../helpers/store-attacks.js';

const LINES = 2600; // more than two chunks of 1,024 seqs
let work: string;
let pristine: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-timeline-chunks-'));
  pristine = join(work, 'pristine');
  const { store } = EvidenceStore.create(pristine, { host: 'web-01', bootId: 'b' });
  for (let i = 0; i < LINES; i++) {
    const text = i % 7 === 0 ? `ログイン ${i} "q" \\ ${'z'.repeat(i % 200)}` : `Nov 23 00:00:00 web-01 sshd[${i}]: line ${i}`;
    store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '1', ino: '2', offset: i * 300, line_no: i + 1, length: Buffer.byteLength(text), text });
    // Derived records whose event_time runs behind the lines (so their group is sorted, not read in seq order).
    if (i % 97 === 3) {
      store.append('auth.logon', 'file:/var/log/auth.log', { derived_from: [i], parser: 'test', service: 'sshd', action: 'logon', success: true, user: `u${i}`, event_time: `2026-01-01T00:00:${String(59 - (i % 60)).padStart(2, '0')}.000000Z` });
    }
  }
  store.close({ finalCheckpoint: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The plain reading: every row, its time by recordTime's rule, sorted by (time, seq). */
function reference(dir: string): unknown[][] {
  const db = new Database(join(dir, EVIDENCE_FILE), { readonly: true });
  try {
    const rows = db.prepare('SELECT seq, kind, observed_at, bytes FROM records ORDER BY seq').raw().all() as [number, string, string, Buffer][];
    const timed = rows.map(([seq, kind, observedAt, bytes]) => {
      let time: unknown = observedAt;
      if (kind !== 'log.line') {
        try {
          const t = (JSON.parse(bytes.toString('utf8')) as { payload?: { event_time?: unknown } }).payload?.event_time;
          if (typeof t === 'string') time = t;
        } catch {
          // not JSON: observed_at, as SQLite's json_valid says
        }
      }
      return [seq, kind, observedAt, time, Buffer.from(bytes)] as [number, string, string, string, Buffer];
    });
    return timed.sort((a, b) => (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : a[0] - b[0]));
  } finally {
    db.close();
  }
}

const read = (dir: string): unknown[][] => [...recordsByTime(dir)].map((r) => [r.seq, r.kind, r.observedAt, r.time, Buffer.from(r.bytes)]);

describe('the timeline reader', () => {
  it('gives every record of a pristine store in (time, seq) order, exactly as stored', () => {
    const expected = reference(pristine);
    expect(expected.length).toBeGreaterThan(LINES);
    expect(read(pristine)).toEqual(expected);
  });

  it('gives exactly what an edited store holds, where chunks fall back to rows', () => {
    const dir = join(work, 'edited');
    cpSync(pristine, dir, { recursive: true });
    const db = openAsAttacker(dir);
    try {
      db.prepare('DELETE FROM records WHERE seq IN (5, 6, 1500)').run(); // gaps
      db.prepare("UPDATE records SET observed_at = observed_at || char(10) WHERE seq = 1100").run();
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 30').run(Buffer.from([0x7b, 0x00, 0x3a, 0x0a, 0xff, 0x7d]));
      db.prepare('UPDATE records SET bytes = ? WHERE seq = 31').run(Buffer.alloc(0));
      db.prepare('UPDATE records SET kind = ? WHERE seq = 2050').run('log.line\nx');
      // A derived record whose event_time (the time SQLite extracts from its bytes) holds a newline
      // and a terminal escape, and a raw line whose kind is another kind with an escape in it.
      const derived = db.prepare("SELECT seq, bytes FROM records WHERE kind = 'auth.logon' ORDER BY seq LIMIT 1").raw().get() as [number, Buffer];
      const edited = JSON.parse(derived[1].toString('utf8')) as { payload: { event_time: string } };
      edited.payload.event_time = '2026-01-01T00:00:00.000000Z\n\u001b[2Jforged';
      db.prepare('UPDATE records SET bytes = ? WHERE seq = ?').run(Buffer.from(JSON.stringify(edited)), derived[0]);
      db.prepare('UPDATE records SET kind = ? WHERE seq = 40').run('auth.logon\u001b]0;x\u0007');
    } finally {
      db.close();
    }
    expect(read(dir)).toEqual(reference(dir));
  });
});
