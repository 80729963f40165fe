/**
 * `verify` checks that each followed file's preserved lines are contiguous unless an agent.gap says
 * why (issue 11, item 8). Stores made by the real ingest engine from real files: through rotations,
 * truncations, a copytruncate, a start at the end and split long lines they verify with no finding;
 * an attacker who removes lines from the unsealed tail (renumbering what follows, so seq has no gap
 * and no seal covers it) is named with the code and the seq, also by the built CLI.
 */
import Database from 'better-sqlite3';
import { appendFileSync, copyFileSync, cpSync, mkdirSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import { leafHash } from '../../src/integrity/merkle.js';
import { canonicalBytes, decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { emptyFileEvents, fileEventAt, FileOffsetTracker, MAX_REPORTED_JUMPS, OFFSET_REPEATED, OFFSET_SKIPPED, pushFileEvent, type FileEvent } from '../../src/verify/file-offsets.js';
import { custody } from '../helpers/cli.js';
import { allRecords, idle, lineRecords, makeRig, payloads, tempDir, waitFor } from '../helpers/ingest-harness.js';

let tmp: { dir: string; cleanup: () => void };
let logs: string;
/** A store the real engine wrote: the first lines sealed by a checkpoint, the rest unsealed. */
let tailStore: string;
let sealedSize: number;

function lines(prefix: string, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `${prefix} line ${i} ${'y'.repeat(i % 29)}\n`;
  return s;
}

beforeAll(async () => {
  tmp = tempDir('verify-offsets');
  logs = join(tmp.dir, 'logs');
  mkdirSync(logs);
  tailStore = join(tmp.dir, 'tail-store');
  const log = join(logs, 'auth.log');
  writeFileSync(log, lines('auth', 0, 20));
  const r = await makeRig(tailStore, { watch: [log], partialLineFlushMs: 60_000 });
  await r.start();
  await idle(r);
  sealedSize = r.store.checkpoint().tree_size;
  appendFileSync(log, lines('auth', 20, 40));
  await idle(r);
  await r.ingestor.stop();
  // No final checkpoint: the last 20 lines stay unsealed, as after a crash or between checkpoints.
  r.store.close();
  r.state.close();
});

afterAll(() => tmp?.cleanup());

describe('file offsets in stores the real agent wrote', () => {
  it('finds nothing in a store through rename + create, copytruncate, truncation, start at end and split long lines', async () => {
    const storeDir = join(tmp.dir, 'busy-store');
    const app = join(logs, 'busy', 'app.log');
    const web = join(logs, 'busy', 'web.log');
    const old = join(logs, 'busy', 'old.log');
    mkdirSync(join(logs, 'busy'));
    writeFileSync(app, lines('app', 0, 50));
    writeFileSync(old, lines('old', 0, 30));
    const r = await makeRig(storeDir, { watch: [app, web, old], partialLineFlushMs: 60_000, maxLineBytes: 256, startAt: 'beginning' });
    await r.start();
    await idle(r);
    // A line longer than maxLineBytes: consecutive partial pieces.
    appendFileSync(app, `${'z'.repeat(1000)}\n`);
    // rename + create
    const appIno = String(statSync(app).ino);
    renameSync(app, `${app}.1`);
    writeFileSync(app, lines('app2', 0, 10));
    await waitFor('the rotated file to be finished', () => payloads<{ reason: string; ino: string }>(allRecords(r.store), 'log.file').some((f) => f.reason === 'rotated' && f.ino === appIno));
    // copytruncate
    writeFileSync(web, lines('web', 0, 40));
    await idle(r);
    appendFileSync(web, lines('web', 40, 60));
    copyFileSync(web, `${web}.1`);
    truncateSync(web, 0);
    appendFileSync(web, lines('web-after', 0, 5));
    await waitFor('the copytruncate gap', () => payloads<{ reason: string }>(allRecords(r.store), 'agent.gap').some((g) => g.reason === 'truncated'));
    // plain truncation
    truncateSync(old, 0);
    await waitFor('the truncation of old.log', () => payloads<{ reason: string; path: string }>(allRecords(r.store), 'agent.gap').some((g) => g.reason === 'truncated' && g.path === old));
    appendFileSync(old, lines('old-after', 0, 3));
    await idle(r);
    await r.close();
    // A restart that starts new files at their end.
    const late = join(logs, 'busy', 'late.log');
    writeFileSync(late, lines('late', 0, 7));
    const again = await makeRig(storeDir, { watch: [app, web, old, late], partialLineFlushMs: 60_000, startAt: 'end' }, { create: false });
    await again.start();
    appendFileSync(late, lines('late', 7, 9));
    await idle(again);
    const records = allRecords(again.store);
    expect(payloads<{ reason: string }>(records, 'agent.gap').map((g) => g.reason).sort()).toEqual(['start_at_end', 'truncated', 'truncated']);
    expect(lineRecords(records).some((l) => l.partial)).toBe(true);
    await again.close();

    const result = await verifyStoreDir(storeDir);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('finds nothing in the pristine store with an unsealed tail', async () => {
    const result = await verifyStoreDir(tailStore);
    expect(result.findings).toEqual([]);
    expect(result.unsealed?.count).toBeGreaterThan(0);
  });
});

/**
 * The attack: with root, drop the triggers and remove lines 25..29 from the unsealed tail, moving
 * the later records down (each re-encoded canonically with its new seq and leaf hash) and setting
 * SQLite's high-water mark back, so seq runs without a gap and nothing sealed changes.
 */
function removeLinesFromTail(dir: string, from: number, count: number): number {
  const db = new Database(join(dir, EVIDENCE_FILE));
  try {
    for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as { name: string }[]) db.exec(`DROP TRIGGER ${name}`);
    const rows = (db.prepare('SELECT seq, bytes FROM records WHERE seq >= ? ORDER BY seq').all(sealedSize) as { seq: number; bytes: Uint8Array }[]).map((r) => decodeCanonical(r.bytes) as EvidenceRecord);
    const kept = rows.filter((r) => !(r.kind === 'log.line' && (r.payload as { line_no: number }).line_no > from && (r.payload as { line_no: number }).line_no <= from + count));
    expect(kept).toHaveLength(rows.length - count);
    db.prepare('DELETE FROM records WHERE seq >= ?').run(sealedSize);
    const insert = db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (?, ?, ?, ?, ?)');
    let firstMoved = -1;
    kept.forEach((record, i) => {
      const seq = sealedSize + i;
      if (firstMoved < 0 && record.seq !== seq) firstMoved = seq;
      const bytes = canonicalBytes({ ...record, seq });
      insert.run(seq, record.kind, record.observed_at, leafHash(bytes), bytes);
    });
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'`).run(sealedSize + kept.length - 1);
    return firstMoved;
  } finally {
    db.close();
  }
}

describe('lines removed from the unsealed tail', () => {
  it('verify names the jump: file.offset_skipped at the seq of the first line after the hole, with the file', async () => {
    const dir = join(tmp.dir, 'attacked');
    cpSync(tailStore, dir, { recursive: true });
    const seq = removeLinesFromTail(dir, 25, 5);
    const result = await verifyStoreDir(dir);
    expect(result.findings.map((f) => ({ code: f.code, severity: f.severity, where: f.where }))).toEqual([
      { code: OFFSET_SKIPPED, severity: 'error', where: { seq, file: join(logs, 'auth.log') } },
    ]);
    expect(result.findings[0]?.message).toMatch(/bytes \d+\.\.\d+ were never preserved and no agent\.gap says so/);
    expect(result.ok).toBe(false);
  });

  it('the built CLI: exit 1, the finding by code and seq in --json and in the text', async () => {
    const dir = join(tmp.dir, 'attacked-cli');
    cpSync(tailStore, dir, { recursive: true });
    const seq = removeLinesFromTail(dir, 25, 5);
    const json = custody('verify', dir, '--json');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { findings: Array<{ code: string; where: { seq?: number } }> };
    expect(parsed.findings.map((f) => [f.code, f.where.seq])).toEqual([[OFFSET_SKIPPED, seq]]);
    const text = custody('verify', dir);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`ERROR ${OFFSET_SKIPPED} at seq ${seq}: a line of ${join(logs, 'auth.log')}`);
  });
});

describe('FileOffsetTracker', () => {
  const line = (offset: number, length: number, partial = false) => ({ t: 'line' as const, dev: '1', ino: '2', path: '/l', offset, end: offset + length + (partial ? 0 : 1) });

  it("accepts what the agent's own gaps explain, and names what they do not", () => {
    const t = new FileOffsetTracker();
    expect(t.observe(0, line(0, 9))).toBeUndefined();
    expect(t.observe(1, line(10, 5, true))).toBeUndefined();
    expect(t.observe(2, line(15, 4))).toBeUndefined();
    expect(t.observe(3, { t: 'reset', dev: '1', ino: '2', offset: 0 })).toBeUndefined(); // truncated
    expect(t.observe(4, line(0, 3))).toBeUndefined();
    expect(t.observe(5, { t: 'reset', dev: '1', ino: '2', offset: 500 })).toBeUndefined(); // start_at_end
    expect(t.observe(6, line(500, 3))).toBeUndefined();
    expect(t.observe(7, { t: 'close', dev: '1', ino: '2' })).toBeUndefined(); // rotated or gone: the inode may be reused
    expect(t.observe(8, line(0, 3))).toBeUndefined();
    expect(t.observe(9, line(10, 3))).toMatchObject({ code: OFFSET_SKIPPED, severity: 'error', seq: 9, file: '/l' });
    expect(t.observe(10, line(0, 3))).toMatchObject({ code: OFFSET_REPEATED, severity: 'warning', seq: 10 });
    expect(t.observe(11, { ...line(7, 3), ino: '3' })).toMatchObject({ code: OFFSET_SKIPPED, message: expect.stringContaining('the first line of a file starts at offset 0') });
    expect(t.rest()).toBeUndefined();
  });

  it(`reports the first ${MAX_REPORTED_JUMPS} jumps one by one and the rest as one finding with their range`, () => {
    const t = new FileOffsetTracker();
    let reported = 0;
    for (let seq = 0; seq < MAX_REPORTED_JUMPS + 50; seq++) if (t.observe(seq, line(seq * 10 + 5, 1))) reported++;
    expect(reported).toBe(MAX_REPORTED_JUMPS);
    expect(t.rest()).toEqual({ code: OFFSET_SKIPPED, severity: 'error', message: expect.stringContaining('50 more lines'), seqRange: [MAX_REPORTED_JUMPS, MAX_REPORTED_JUMPS + 49] });
  });
});

describe('file events between threads', () => {
  it('come back exactly as they went in, each file once, whatever its path holds', () => {
    const events: FileEvent[] = [
      { t: 'line', dev: '2049', ino: '77', path: '/var/log/a\u0000b.log', offset: 0, end: 10 },
      { t: 'line', dev: '2049', ino: '77', path: '/var/log/a\u0000b.log', offset: 10, end: 25 },
      { t: 'reset', dev: '2049', ino: '77', offset: 0 },
      { t: 'line', dev: '1', ino: '2', path: '', offset: 3, end: 3 },
      { t: 'close', dev: '2049', ino: '77' },
    ];
    const out = emptyFileEvents();
    const index = new Map<string, number>();
    events.forEach((e, i) => pushFileEvent(out, index, i * 3, e));
    expect(out.files).toHaveLength(3);
    const back = events.map((_, k) => fileEventAt(structuredClone(out), k * 5));
    expect(back).toEqual(events.map((event, i) => ({ index: i * 3, event })));
  });
});
