/**
 * Attacks on the agent's saved read position (issue 11, item 8): someone with write access to
 * state.sqlite moves a file's cached cursor forward (the agent would skip lines silently), backward
 * (it would record lines twice) or onto another inode, while the agent is stopped. The real ingest
 * engine, a real store and a real state database are restarted over the edited file; every test
 * checks, from the records, that each byte of the log is preserved exactly once or named by an
 * agent.gap, and that `verify` finds the evidence continuous.
 */
import Database from 'better-sqlite3';
import { appendFileSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import { CURSOR_STATE_KEY } from '../../agent/tail/resume.js';
import type { CursorCache } from '../../agent/tail/cursor.js';
import { STATE_FILE } from '../../src/store/evidence-store.js';
import { formatMtime } from '../../agent/ingest.js';
import { compressedKey } from '../../agent/tail/cursor.js';
import { allRecords, idle, lineRecords, makeRig, payloads, reconstruct, tempDir, type Rig } from '../helpers/ingest-harness.js';

let tmp: { dir: string; cleanup: () => void };
let logs: string;
let storeDir: string;
let log: string;
let rigs: Rig[] = [];

beforeEach(() => {
  tmp = tempDir('cursor-tamper');
  logs = join(tmp.dir, 'logs');
  storeDir = join(tmp.dir, 'store');
  log = join(logs, 'app.log');
  mkdirSync(logs);
  rigs = [];
});

afterEach(async () => {
  for (const rig of rigs) {
    try {
      await rig.close();
    } catch {
      // already closed
    }
  }
  tmp.cleanup();
});

function lines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `app line ${i} ${'x'.repeat(i % 23)}\n`;
  return s;
}

async function run(create: boolean): Promise<Rig> {
  const r = await makeRig(storeDir, { watch: [join(logs, '*.log')], partialLineFlushMs: 60_000 }, { create });
  rigs.push(r);
  await r.start();
  await idle(r);
  return r;
}

/** First run: the agent preserves `first` lines, stops in order (saving its cursor cache), and the log grows while it is down. */
async function preserveThenGrow(first: number, total: number): Promise<void> {
  writeFileSync(log, lines(0, first));
  const r = await run(true);
  expect(lineRecords(allRecords(r.store))).toHaveLength(first);
  await r.close();
  appendFileSync(log, lines(first, total));
}

/** Edits the cached cursors in state.sqlite as an attacker with write access would. */
function tamperCache(edit: (cursor: CursorCache['cursors'][number]) => void): CursorCache {
  const db = new Database(join(storeDir, STATE_FILE));
  try {
    const row = db.prepare('SELECT value FROM kv WHERE name = ?').get(CURSOR_STATE_KEY) as { value: string };
    const cache = JSON.parse(row.value) as CursorCache;
    expect(cache.cursors).toHaveLength(1);
    edit(cache.cursors[0] as CursorCache['cursors'][number]);
    db.prepare('UPDATE kv SET value = ? WHERE name = ?').run(JSON.stringify(cache), CURSOR_STATE_KEY);
    return cache;
  } finally {
    db.close();
  }
}

/** Byte offset where line `n` (0-based) of `lines(0, …)` starts. */
function offsetOfLine(n: number): number {
  return Buffer.byteLength(lines(0, n));
}

async function verifyFindings(): Promise<Array<{ code: string; where: unknown }>> {
  const result = await verifyStoreDir(storeDir, {});
  return result.findings.map((f) => ({ code: f.code, where: f.where }));
}

describe('the cursor cache in state.sqlite is checked against the evidence', () => {
  it('moved forward (window emptied): the skipped lines are read on restart, nothing lost, no gap', async () => {
    await preserveThenGrow(10, 30);
    tamperCache((c) => {
      c.offset = offsetOfLine(25);
      c.lineNo = 26;
      c.window = '';
    });
    const r = await run(false);
    const records = allRecords(r.store);
    // Every byte of the file, once, in order: reconstruct throws on any jump.
    expect(reconstruct(lineRecords(records)).equals(readFileSync(log))).toBe(true);
    expect(lineRecords(records).map((l) => l.line_no)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(payloads(records, 'agent.gap')).toEqual([]);
    const rejected = r.events.find((e) => e.evt === 'ingest.cursor_cache_rejected');
    expect(rejected?.disagreements).toEqual([`${log} (dev ${String(statSync(log).dev)}, inode ${String(statSync(log).ino)}): the cache says offset ${offsetOfLine(25)}, the evidence says ${offsetOfLine(10)}`]);
    expect(r.events.find((e) => e.evt === 'ingest.resumed')).toMatchObject({ cache: 'disagrees_with_evidence', from_seq: 0 });
    await r.close();
    expect(await verifyFindings()).toEqual([]);
  });

  it('moved backward: the preserved lines are not recorded again', async () => {
    await preserveThenGrow(10, 15);
    tamperCache((c) => {
      c.offset = 0;
      c.lineNo = 1;
      c.window = '';
    });
    const r = await run(false);
    const records = allRecords(r.store);
    expect(lineRecords(records)).toHaveLength(15);
    expect(reconstruct(lineRecords(records)).equals(readFileSync(log))).toBe(true);
    expect(payloads(records, 'agent.gap')).toEqual([]);
    expect(r.events.some((e) => e.evt === 'ingest.cursor_cache_rejected')).toBe(true);
    await r.close();
    expect(await verifyFindings()).toEqual([]);
  });

  it('set on another inode: the real file keeps its cursor, and no gap is made up for the invented one', async () => {
    await preserveThenGrow(10, 20);
    tamperCache((c) => {
      c.ino = String(BigInt(c.ino) + 7919n);
    });
    const r = await run(false);
    const records = allRecords(r.store);
    expect(reconstruct(lineRecords(records)).equals(readFileSync(log))).toBe(true);
    expect(lineRecords(records)).toHaveLength(20);
    expect(payloads(records, 'agent.gap')).toEqual([]);
    const rejected = r.events.find((e) => e.evt === 'ingest.cursor_cache_rejected');
    expect(String((rejected?.disagreements as string[])[0])).toContain('the evidence before seq');
    await r.close();
    expect(await verifyFindings()).toEqual([]);
  });

  it('moved forward and the file deleted while down: an agent.gap from where the evidence stops, not from the forged offset', async () => {
    await preserveThenGrow(10, 30);
    const ino = String(statSync(log).ino);
    tamperCache((c) => {
      c.offset = offsetOfLine(30);
      c.lineNo = 31;
      c.window = '';
    });
    unlinkSync(log);
    const r = await run(false);
    const records = allRecords(r.store);
    expect(lineRecords(records)).toHaveLength(10);
    const gaps = payloads<{ reason: string; ino: string; from_offset: number }>(records, 'agent.gap');
    expect(gaps.map((g) => ({ reason: g.reason, ino: g.ino, from_offset: g.from_offset }))).toEqual([{ reason: 'file_gone', ino, from_offset: offsetOfLine(10) }]);
    await r.close();
    expect(await verifyFindings()).toEqual([]);
  });

  it('rewritten while down with the cursor moved forward: an agent.gap (rewritten), then the new content from offset 0', async () => {
    await preserveThenGrow(10, 10);
    tamperCache((c) => {
      c.offset = offsetOfLine(10) + 40;
      c.window = '';
    });
    // Same inode, other bytes before the true cursor: what was preserved cannot be re-read.
    writeFileSync(log, lines(100, 140));
    const r = await run(false);
    const records = allRecords(r.store);
    const gaps = payloads<{ reason: string; from_offset: number }>(records, 'agent.gap');
    expect(gaps.map((g) => ({ reason: g.reason, from_offset: g.from_offset }))).toEqual([{ reason: 'rewritten', from_offset: offsetOfLine(10) }]);
    const after = lineRecords(records).filter((l) => l.seq > (gaps[0] as { _seq: number })._seq);
    expect(reconstruct(after).equals(readFileSync(log))).toBe(true);
    await r.close();
    expect(await verifyFindings()).toEqual([]);
  });

  it('a compressed file listed as preserved that the evidence never preserved: preserved on restart, the cache rejected', async () => {
    // Without the check, the agent trusted the cache's set of preserved compressed rotations and
    // skipped a .gz planted in it for good, with no gap and a clean verify.
    writeFileSync(log, lines(0, 5));
    const first = await makeRig(storeDir, { watch: [join(logs, '*.log*')], partialLineFlushMs: 60_000 }, { create: true });
    rigs.push(first);
    await first.start();
    await idle(first);
    await first.close();
    const gzPath = join(logs, 'app.log.1.gz');
    const gz = gzipSync(Buffer.from(lines(1000, 1040)));
    writeFileSync(gzPath, gz);
    const st = statSync(gzPath, { bigint: true });
    const key = compressedKey(String(st.dev), String(st.ino), Number(st.size), formatMtime(st));
    const db = new Database(join(storeDir, STATE_FILE));
    let cacheSeq = -1;
    try {
      const row = db.prepare('SELECT value FROM kv WHERE name = ?').get(CURSOR_STATE_KEY) as { value: string };
      const cache = JSON.parse(row.value) as CursorCache;
      expect(cache.compressed).toEqual([]);
      cacheSeq = cache.seq;
      cache.compressed.push(key);
      db.prepare('UPDATE kv SET value = ? WHERE name = ?').run(JSON.stringify(cache), CURSOR_STATE_KEY);
    } finally {
      db.close();
    }
    const r = await makeRig(storeDir, { watch: [join(logs, '*.log*')], partialLineFlushMs: 60_000 }, { create: false });
    rigs.push(r);
    await r.start();
    await idle(r);
    const preserved = payloads<{ reason: string; path: string; sha256: string }>(allRecords(r.store), 'log.file').filter((f) => f.reason === 'compressed');
    expect(preserved.map((f) => ({ path: f.path, sha256: f.sha256 }))).toEqual([{ path: gzPath, sha256: createHash('sha256').update(gz).digest('hex') }]);
    const rejected = r.events.find((e) => e.evt === 'ingest.cursor_cache_rejected');
    expect(rejected?.disagreements).toEqual([`compressed file ${key} (dev:inode:size:mtime): the cache says it was preserved, but the evidence before seq ${cacheSeq} holds no log.file for it`]);
    expect(r.events.find((e) => e.evt === 'ingest.resumed')).toMatchObject({ cache: 'disagrees_with_evidence', from_seq: 0 });
    await r.close();
    expect(await verifyFindings()).toEqual([]);
  });

  it('an untouched cache is used as before (no full fold on a normal restart)', async () => {
    await preserveThenGrow(10, 20);
    const r = await run(false);
    expect(r.events.find((e) => e.evt === 'ingest.resumed')).toMatchObject({ cache: 'used' });
    expect(r.events.some((e) => e.evt === 'ingest.cursor_cache_rejected')).toBe(false);
    expect(reconstruct(lineRecords(allRecords(r.store))).equals(readFileSync(log))).toBe(true);
  });
});
