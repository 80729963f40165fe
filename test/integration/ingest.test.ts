/**
 * The ingest engine against real files, real chokidar and a real store: appends, new files,
 * every rotation kind, partial lines, bad bytes. Every check reconstructs file bytes from the
 * records and compares them with the file.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allRecords, idle, lineRecords, makeRig, ManualClock, payloads, reconstruct, tempDir, waitFor, type Rig } from '../helpers/ingest-harness.js';

let tmp: { dir: string; cleanup: () => void };
let logs: string;
let storeDir: string;
let rigs: Rig[] = [];

beforeEach(() => {
  tmp = tempDir('ingest');
  logs = join(tmp.dir, 'logs');
  storeDir = join(tmp.dir, 'store');
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

async function rig(options: Parameters<typeof makeRig>[1] = { watch: [] }, extra: Parameters<typeof makeRig>[2] = {}): Promise<Rig> {
  const r = await makeRig(storeDir, { partialLineFlushMs: 60_000, ...options, watch: options.watch.length ? options.watch : [join(logs, '*.log')] }, extra);
  rigs.push(r);
  await r.start();
  return r;
}

function inoOf(path: string): string {
  return String(statSync(path, { bigint: true }).ino);
}

function lines(prefix: string, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `${prefix} line ${i} ${'x'.repeat(i % 37)}\n`;
  return s;
}

describe('ingest: appends and new files', () => {
  it('records every line of an existing file, then appends, byte-exact and in order', async () => {
    const a = join(logs, 'a.log');
    writeFileSync(a, lines('a', 0, 500));
    const r = await rig();
    await idle(r);
    for (let i = 0; i < 20; i++) appendFileSync(a, lines('a', 500 + i * 50, 550 + i * 50));
    await idle(r);
    const recs = lineRecords(allRecords(r.store), { ino: inoOf(a) });
    expect(recs).toHaveLength(1500);
    expect(reconstruct(recs).equals(readFileSync(a))).toBe(true);
    expect(recs.map((l) => l.line_no)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(recs.every((l, i) => i === 0 || l.seq > (recs[i - 1]?.seq ?? -1))).toBe(true);
    const status = r.ingestor.status().find((s) => s.path === a);
    expect(status).toMatchObject({ state: 'following', committedOffset: statSync(a).size, lagBytes: 0 });
    expect(r.events.some((e) => e.evt === 'ingest.file_opened')).toBe(true);
  });

  it('picks up files that appear while running, from their beginning', async () => {
    const a = join(logs, 'a.log');
    writeFileSync(a, 'first\n');
    const r = await rig();
    await idle(r);
    const b = join(logs, 'b.log');
    writeFileSync(b, lines('b', 0, 100));
    writeFileSync(join(logs, 'ignored.txt'), 'not matched\n');
    await waitFor('b.log lines', () => lineRecords(allRecords(r.store), { path: b }).length === 100);
    appendFileSync(b, lines('b', 100, 150));
    await idle(r);
    const recs = lineRecords(allRecords(r.store), { path: b });
    expect(reconstruct(recs).equals(readFileSync(b))).toBe(true);
    expect(lineRecords(allRecords(r.store)).some((l) => l.path.endsWith('ignored.txt'))).toBe(false);
  });

  it('resumes after an orderly restart without duplicates, and continues line numbers', async () => {
    const a = join(logs, 'a.log');
    writeFileSync(a, lines('a', 0, 100));
    const r = await rig();
    await idle(r);
    await r.restart();
    appendFileSync(a, lines('a', 100, 200));
    await idle(r);
    await r.restart();
    await idle(r);
    const recs = lineRecords(allRecords(r.store), { ino: inoOf(a) });
    expect(recs.map((l) => l.line_no)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(reconstruct(recs).equals(readFileSync(a))).toBe(true);
    expect(r.events.filter((e) => e.evt === 'ingest.resumed').length).toBe(3);
  });

  it("startAt 'end' skips what is there (recorded as a gap) and records what comes after, also across restarts", async () => {
    const a = join(logs, 'a.log');
    writeFileSync(a, lines('old', 0, 10));
    const skipped = statSync(a).size;
    const r = await rig({ watch: [join(logs, '*.log')], startAt: 'end' });
    await idle(r);
    appendFileSync(a, 'new 1\n');
    await idle(r);
    await r.restart();
    appendFileSync(a, 'new 2\n');
    await idle(r);
    const records = allRecords(r.store);
    const gaps = payloads<{ reason: string; from_offset: number; to_offset: number }>(records, 'agent.gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ reason: 'start_at_end', from_offset: 0, to_offset: skipped });
    const recs = lineRecords(records, { ino: inoOf(a) });
    expect(recs.map((l) => l.bytes.toString())).toEqual(['new 1', 'new 2']);
    expect(recs[0]?.offset).toBe(skipped);
  });
});

describe('ingest: rotation', () => {
  it('rename + create: drains the renamed file (including late writes) before following the new one', async () => {
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('gen1', 0, 200));
    const oldIno = inoOf(a);
    const r = await rig();
    await idle(r);
    appendFileSync(a, lines('gen1', 200, 300));
    renameSync(a, join(logs, 'app.log.1'));
    writeFileSync(a, lines('gen2', 0, 50));
    // The writer has not reopened yet: a late write to the renamed file.
    appendFileSync(join(logs, 'app.log.1'), lines('gen1', 300, 310));
    await idle(r);
    const newIno = inoOf(a);
    const marker = await waitFor('the rotated file to be finished', () =>
      payloads<{ reason: string; ino: string; sha256: string; size: number }>(allRecords(r.store), 'log.file').find((f) => f.reason === 'rotated' && f.ino === oldIno),
    );
    const rotated = readFileSync(join(logs, 'app.log.1'));
    expect(marker.sha256).toBe(createHash('sha256').update(rotated).digest('hex'));
    expect(marker.size).toBe(rotated.length);
    const records = allRecords(r.store);
    const old = lineRecords(records, { ino: oldIno });
    const fresh = lineRecords(records, { ino: newIno });
    expect(reconstruct(old).equals(rotated)).toBe(true);
    expect(reconstruct(fresh).equals(readFileSync(a))).toBe(true);
    expect(old.every((l) => l.path === a)).toBe(true);
    expect(r.events.some((e) => e.evt === 'ingest.rotation')).toBe(true);
    expect(payloads(records, 'agent.gap')).toHaveLength(0);
  });

  it('copytruncate while running: the copy and the new content are both recorded, the truncation is a gap', async () => {
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('before', 0, 300));
    const ino = inoOf(a);
    const r = await rig();
    await idle(r);
    appendFileSync(a, lines('before', 300, 400));
    copyFileSync(a, join(logs, 'app.log.1'));
    truncateSync(a, 0);
    appendFileSync(a, 'after 0\nafter 1\n');
    await waitFor('the truncation gap', () => payloads(allRecords(r.store), 'agent.gap').length === 1);
    await idle(r);
    const records = allRecords(r.store);
    const gap = payloads<{ reason: string; seq: number; ino: string }>(records, 'agent.gap')[0];
    expect(gap).toMatchObject({ reason: 'truncated', ino });
    const recs = lineRecords(records, { ino });
    const before = recs.filter((l) => l.seq < (gap?._seq ?? 0));
    const after = recs.filter((l) => l.seq > (gap?._seq ?? 0));
    expect(reconstruct(before).equals(readFileSync(join(logs, 'app.log.1')))).toBe(true);
    expect(reconstruct(after).equals(readFileSync(a))).toBe(true);
    expect(after[0]).toMatchObject({ offset: 0, line_no: 1 });
  });

  it('copytruncate while the agent was down: the unread rest is preserved from the copy', async () => {
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('before', 0, 100));
    const ino = inoOf(a);
    const r = await rig();
    await idle(r);
    await r.ingestor.stop();
    appendFileSync(a, lines('unread', 0, 100));
    copyFileSync(a, join(logs, 'app.log.1'));
    truncateSync(a, 0);
    appendFileSync(a, 'after 0\n');
    await r.restart();
    await idle(r);
    const records = allRecords(r.store);
    const gaps = payloads<{ reason: string; from_offset: number; detail: string }>(records, 'agent.gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]?.reason).toBe('truncated');
    expect(gaps[0]?.from_offset).toBe(statSync(join(logs, 'app.log.1')).size);
    expect(gaps[0]?.detail).toContain('app.log.1');
    const recs = lineRecords(records, { ino });
    const gapSeq = gaps[0]?._seq ?? 0;
    expect(reconstruct(recs.filter((l) => l.seq < gapSeq)).equals(readFileSync(join(logs, 'app.log.1')))).toBe(true);
    expect(reconstruct(recs.filter((l) => l.seq > gapSeq)).equals(readFileSync(a))).toBe(true);
    expect(r.events.some((e) => e.evt === 'ingest.rotation' && e.kind === 'copytruncate')).toBe(true);
  });

  it('plain truncation is a gap with the offsets, then reading restarts at 0', async () => {
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('x', 0, 50));
    const size = statSync(a).size;
    const ino = inoOf(a);
    const r = await rig();
    await idle(r);
    truncateSync(a, 0);
    await waitFor('the truncation gap', () => payloads(allRecords(r.store), 'agent.gap').length === 1);
    appendFileSync(a, 'fresh\n');
    await idle(r);
    const records = allRecords(r.store);
    const gap = payloads<{ reason: string; from_offset: number; ino: string; path: string }>(records, 'agent.gap')[0];
    expect(gap).toMatchObject({ reason: 'truncated', from_offset: size, ino, path: a });
    const after = lineRecords(records, { ino }).filter((l) => l.seq > (gap?._seq ?? 0));
    expect(after.map((l) => [l.offset, l.line_no, l.bytes.toString()])).toEqual([[0, 1, 'fresh']]);
  });

  it('a line appended and truncated away inside the pause between two read passes is recorded, or the gap says where reading stopped', async () => {
    // An intruder hiding a line: written right after a pass (so the next waits out READ_PASS_MS),
    // then the file emptied 30 ms later. Whether the agent read it first or not, nothing is lost
    // silently: either the line is a record, or the truncation gap starts at the offset before it.
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('x', 0, 20));
    const r = await rig();
    await idle(r);
    appendFileSync(a, 'just before\n');
    await waitFor('the line before', () => lineRecords(allRecords(r.store), { path: a }).some((l) => l.bytes.toString() === 'just before'));
    const before = statSync(a).size;
    appendFileSync(a, 'the hidden line\n');
    await new Promise((res) => setTimeout(res, 30));
    truncateSync(a, 0);
    const gap = await waitFor('the truncation gap', () => payloads<{ reason: string; from_offset: number }>(allRecords(r.store), 'agent.gap')[0]);
    const hidden = lineRecords(allRecords(r.store), { path: a }).find((l) => l.bytes.toString() === 'the hidden line');
    expect(gap.reason).toBe('truncated');
    expect(gap.from_offset).toBe(hidden === undefined ? before : before + Buffer.byteLength('the hidden line\n'));
  });

  it('truncated and rewritten past the old size before the agent looked: detected by content, not size', async () => {
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('old', 0, 20));
    const ino = inoOf(a);
    const r = await rig();
    await idle(r);
    await r.ingestor.stop();
    writeFileSync(a, lines('NEW', 0, 40)); // same inode, truncated then longer than before
    await r.restart();
    await idle(r);
    const records = allRecords(r.store);
    const gaps = payloads<{ reason: string }>(records, 'agent.gap');
    expect(gaps.map((g) => g.reason)).toEqual(['rewritten']);
    const after = lineRecords(records, { ino }).filter((l) => l.seq > (gaps[0]?._seq ?? 0));
    expect(reconstruct(after).equals(readFileSync(a))).toBe(true);
  });

  it('compression of the rotated file: the .gz is preserved whole as a log.file with its hash', async () => {
    const a = join(logs, 'app.log');
    writeFileSync(a, lines('gen1', 0, 100));
    const oldIno = inoOf(a);
    const r = await rig();
    await idle(r);
    renameSync(a, join(logs, 'app.log.1'));
    writeFileSync(a, 'gen2 0\n');
    await idle(r);
    const gz = gzipSync(readFileSync(join(logs, 'app.log.1')));
    writeFileSync(join(logs, 'app.log.1.gz'), gz);
    unlinkSync(join(logs, 'app.log.1'));
    const preserved = await waitFor('the compressed file to be preserved', () =>
      payloads<{ reason: string; sha256: string; size: number; content: string; path: string }>(allRecords(r.store), 'log.file').find((f) => f.reason === 'compressed'),
    );
    expect(preserved).toMatchObject({ path: join(logs, 'app.log.1.gz'), size: gz.length, content: 'stored', sha256: createHash('sha256').update(gz).digest('hex') });
    r.store.flush();
    const db = new Database(join(storeDir, 'evidence.sqlite'), { readonly: true });
    const chunks = db.prepare('SELECT data FROM blobs WHERE sha256 = ? ORDER BY chunk').all(preserved.sha256) as Array<{ data: Buffer }>;
    db.close();
    expect(Buffer.concat(chunks.map((c) => c.data)).equals(gz)).toBe(true);
    // The gen1 lines were all recorded before the file was compressed away, and it was finished.
    await waitFor('gen1 finished', () => payloads<{ reason: string; ino: string }>(allRecords(r.store), 'log.file').some((f) => f.reason === 'rotated' && f.ino === oldIno));
    expect(reconstruct(lineRecords(allRecords(r.store), { ino: oldIno })).toString()).toBe(lines('gen1', 0, 100));
    // Not preserved twice across a restart.
    await r.restart();
    await idle(r);
    expect(payloads<{ reason: string }>(allRecords(r.store), 'log.file').filter((f) => f.reason === 'compressed')).toHaveLength(1);
  });

  it('deletion while the agent was down is a gap (once), a rename while down is followed to its end', async () => {
    const a = join(logs, 'a.log');
    const b = join(logs, 'b.log');
    writeFileSync(a, lines('a', 0, 10));
    writeFileSync(b, lines('b', 0, 10));
    const inoA = inoOf(a);
    const inoB = inoOf(b);
    const r = await rig();
    await idle(r);
    await r.ingestor.stop();
    appendFileSync(a, 'never read\n');
    const committedA = statSync(a).size - 'never read\n'.length;
    unlinkSync(a);
    appendFileSync(b, lines('b', 10, 20));
    renameSync(b, join(logs, 'b.log.1'));
    await r.restart();
    await idle(r);
    await waitFor('b finished', () => payloads<{ reason: string; ino: string }>(allRecords(r.store), 'log.file').some((f) => f.reason === 'rotated' && f.ino === inoB));
    await r.restart();
    await idle(r);
    const records = allRecords(r.store);
    const gaps = payloads<{ reason: string; ino: string; from_offset: number; path: string }>(records, 'agent.gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ reason: 'file_gone', ino: inoA, from_offset: committedA, path: a });
    expect(reconstruct(lineRecords(records, { ino: inoB })).equals(readFileSync(join(logs, 'b.log.1')))).toBe(true);
    expect(r.ingestor.status().some((s) => s.state === 'gone' && s.ino === inoA)).toBe(false); // this run saw nothing gone
  });
});

describe('ingest: partial lines and bytes', () => {
  it('holds a trailing partial line until its newline, or records it as partial at the flush timeout', async () => {
    const clock = new ManualClock();
    const a = join(logs, 'a.log');
    writeFileSync(a, 'whole\nhalf');
    const r = await rig({ watch: [join(logs, '*.log')], partialLineFlushMs: 1000 }, { clock });
    await idle(r);
    expect(lineRecords(allRecords(r.store)).map((l) => l.bytes.toString())).toEqual(['whole']);
    appendFileSync(a, ' more');
    await idle(r);
    expect(lineRecords(allRecords(r.store))).toHaveLength(1);
    clock.advance(1001);
    await waitFor('the partial line', () => lineRecords(allRecords(r.store)).length === 2);
    appendFileSync(a, ' end\nnext\n');
    await idle(r);
    const recs = lineRecords(allRecords(r.store));
    expect(recs.map((l) => [l.bytes.toString(), l.partial, l.line_no, l.offset])).toEqual([
      ['whole', false, 1, 0],
      ['half more', true, 2, 6],
      [' end', false, 2, 15],
      ['next', false, 3, 20],
    ]);
    expect(reconstruct(recs).equals(readFileSync(a))).toBe(true);
  });

  it('does not record a held partial line on stop; the next run reads it whole', async () => {
    const a = join(logs, 'a.log');
    writeFileSync(a, 'one\ntw');
    const r = await rig();
    await idle(r);
    await r.ingestor.stop();
    appendFileSync(a, 'o\n');
    await r.restart();
    await idle(r);
    const recs = lineRecords(allRecords(r.store));
    expect(recs.map((l) => [l.bytes.toString(), l.partial])).toEqual([
      ['one', false],
      ['two', false],
    ]);
  });

  it('keeps invalid UTF-8, NUL, CR and a 16 MiB line byte-exact', async () => {
    const a = join(logs, 'a.log');
    const big = Buffer.alloc(16 * 1024 * 1024, 0x61);
    big[12345] = 0xff; // not UTF-8: stored as base64
    const content = Buffer.concat([
      Buffer.from('plain\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]),
      Buffer.from('nul\0inside\r\n'),
      Buffer.from('caf\xc3\xa9 \xe2\x82\xac\n', 'latin1'),
      Buffer.from([0xc3, 0x0a]), // truncated sequence
      Buffer.from('\n'), // empty line
      big,
      Buffer.from('\nafter\n'),
    ]);
    writeFileSync(a, content);
    const r = await rig();
    await idle(r, 60_000);
    const recs = lineRecords(allRecords(r.store), { ino: inoOf(a) });
    expect(reconstruct(recs).equals(content)).toBe(true);
    expect(recs.find((l) => l.length === big.length)?.partial).toBe(false);
    expect(recs).toHaveLength(8);
  });

  it('records a line longer than maxLineBytes as consecutive partial pieces, never dropping bytes', async () => {
    const a = join(logs, 'a.log');
    const long = Buffer.alloc(10_000, 0x62);
    const content = Buffer.concat([Buffer.from('short\n'), long, Buffer.from('\ntail-without-newline-yet')]);
    writeFileSync(a, content);
    const r = await rig({ watch: [join(logs, '*.log')], maxLineBytes: 3000 });
    await idle(r);
    appendFileSync(a, '\n');
    await idle(r);
    const recs = lineRecords(allRecords(r.store));
    expect(recs.map((l) => [l.length, l.partial, l.line_no])).toEqual([
      [5, false, 1],
      [3000, true, 2],
      [3000, true, 2],
      [3000, true, 2],
      [1000, false, 2],
      [24, false, 3],
    ]);
    expect(reconstruct(recs).equals(readFileSync(a))).toBe(true);
  });
});
