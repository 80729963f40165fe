/**
 * The collector's timeline pass (issue 14): stores read in seq order where that is their time
 * order and sorted by SQLite where it is not, rendered in worker threads or in the collector's
 * thread, merged by (time, store order, seq). Real stores (EvidenceStore with a driven clock, so
 * raw lines step back in time and derived records carry older event times), real SQLite, the
 * built worker. Whatever the path, the files must be byte for byte what sorting every record of
 * every store by (time, store order, seq) and rendering it gives, each hash the file's, and the
 * records that are not well-formed named in the words of `verify --deep`.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase } from '../../collector/collect.js';
import { writeDraftReport } from '../../collector/report.js';
import { writeTimelineAndTables, type TimelineInput } from '../../collector/timeline.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { recordTime, timelineCsvRow, timelineEntry, timelineJsonLine } from '../../src/bundle/timeline.js';
import { formatTimestamp } from '../../src/records/schema.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { ManualClock } from '../helpers/ingest-harness.js';
import { openAsAttacker } from '../helpers/store-attacks.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
let work: string;
let inputs: TimelineInput[];

/** A store of `n` records: raw lines every 10 ms with the clock stepping back now and then, and derived records whose event time lags. */
function makeStore(dir: string, host: string, n: number, seed: number, stepBack: boolean): void {
  const clock = new ManualClock(T0 + seed);
  const { store } = EvidenceStore.create(dir, { host, bootId: `c0ffee00-1111-2222-3333-${String(seed).padStart(12, '0')}`, clock });
  let offset = 0;
  for (let i = 0; i < n; i++) {
    clock.advance(stepBack && i % 997 === 500 ? -1500 : 10);
    const text = `Nov 23 12:00:00 ${host} sshd[${i}]: Accepted password for user${i % 7} from 10.0.0.${i % 250} port ${40000 + i}`;
    const length = Buffer.byteLength(text);
    const seq = store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset, line_no: i + 1, length, text });
    offset += length + 1;
    if (i % 3 === 0) {
      // Derived: its event time is the line's, up to 20 s older than now, and not in seq order.
      const eventTime = formatTimestamp(clock.nowMs() - ((i * 7919) % 20_000));
      store.append('auth.logon', 'file:/var/log/auth.log', { derived_from: [seq], parser: 'test', event_time: eventTime, service: 'sshd', action: 'logon', success: true, user: `user${i % 7}`, from_ip: `10.0.0.${i % 250}` });
    }
    if (i % 1000 === 10) {
      store.append('usb.connect', 'file:/var/log/kern.log', { derived_from: [seq], parser: 'test', origin: 'kernel', vendor_id: '0781', product_id: '5581', serial: `SN${i % 3}`, product: 'Ultra' });
    }
    if (i % 1500 === 7) {
      // No event time: placed at observed_at, among the raw lines.
      store.append('file.access', 'audit', { derived_from: [seq], parser: 'test', path: `/etc/shadow${i}`, operation: 'read', user: 'root' });
    }
  }
  store.close({ finalCheckpoint: true });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-collect-timeline-'));
  // Over collect's threshold for worker threads (20,000 records in all).
  makeStore(join(work, 'a'), 'web-01', 9000, 1, true);
  makeStore(join(work, 'b'), 'web-02', 6000, 3, false);
  makeStore(join(work, 'c'), 'db-01', 5000, 1, true);
  // Two records of store a made not well-formed in place (the timeline pass does not check seals).
  const db = openAsAttacker(join(work, 'a'));
  const row = (seq: number): { bytes: Buffer } => db.prepare('SELECT bytes FROM records WHERE seq = ?').get(seq) as { bytes: Buffer };
  const reordered = JSON.parse(row(100).bytes.toString('utf8')) as Record<string, unknown>;
  const { payload, ...envelope } = reordered;
  db.prepare('UPDATE records SET bytes = ? WHERE seq = ?').run(Buffer.from(JSON.stringify({ payload, ...envelope })), 100);
  const invalid = JSON.parse(row(200).bytes.toString('utf8')) as { payload: Record<string, unknown> };
  invalid.payload['raw_b64'] = 'AAAA'; // text and raw_b64 both: the schema refuses it; keys stay canonical
  const sorted = (v: unknown): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v);
  db.prepare('UPDATE records SET bytes = ? WHERE seq = ?').run(Buffer.from(JSON.stringify(sorted(invalid))), 200);
  db.close();
  inputs = [
    { dir: join(work, 'a'), host: 'web-01', storeId: 'store-a', check: true },
    { dir: join(work, 'b'), host: 'web-02', storeId: 'store-b', check: true },
    { dir: join(work, 'c'), host: 'db-01', storeId: 'store-c' },
  ];
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** timeline.jsonl and .csv as sorting every record of every store by (time, store order, seq) gives them. */
function reference(): { jsonl: string; csv: string; entries: number } {
  const all: Array<{ time: string; order: number; seq: number; line: string; csv: string }> = [];
  inputs.forEach((input, order) => {
    const db = new Database(join(input.dir, 'evidence.sqlite'), { readonly: true });
    for (const r of db.prepare('SELECT seq, kind, observed_at AS observedAt, bytes FROM records').all() as Array<{ seq: number; kind: string; observedAt: string; bytes: Buffer }>) {
      let payload: Record<string, unknown> = {};
      try {
        payload = (JSON.parse(r.bytes.toString('utf8')) as { payload: Record<string, unknown> }).payload;
      } catch {
        // not JSON: placed at observed_at
      }
      const time = recordTime(r.kind, r.observedAt, payload);
      const e = timelineEntry({ host: input.host, storeId: input.storeId }, { seq: r.seq, kind: r.kind, observedAt: r.observedAt, time, bytes: new Uint8Array(r.bytes) });
      all.push({ time, order, seq: r.seq, line: timelineJsonLine(e), csv: timelineCsvRow(e) });
    }
    db.close();
  });
  all.sort((x, y) => (x.time !== y.time ? (x.time < y.time ? -1 : 1) : x.order !== y.order ? x.order - y.order : x.seq - y.seq));
  return { jsonl: all.map((r) => r.line).join(''), csv: all.map((r) => r.csv).join(''), entries: all.length };
}

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const sub of ['timeline', 'tables']) for (const name of readdirSync(join(dir, sub)).sort()) out.set(`${sub}/${name}`, readFileSync(join(dir, sub, name)));
  return out;
}

describe('the timeline pass', () => {
  it('gives the same bytes in worker threads and in this thread, in (time, store order, seq) order, each file hashed as written', async () => {
    const ref = reference();
    const results = [];
    for (const workers of [0, 2, 3]) {
      const out = join(work, `bundle-${workers}`);
      const r = await writeTimelineAndTables(out, inputs, { workers });
      expect(r.entries).toBe(ref.entries);
      const files = filesOf(out);
      expect(files.get('timeline/timeline.jsonl')?.toString('utf8')).toBe(ref.jsonl);
      expect(files.get('timeline/timeline.csv')?.toString('utf8').split('\r\n').slice(1).join('\r\n')).toBe(ref.csv.split('\r\n').join('\r\n'));
      expect([...files.keys()].sort()).toEqual([...r.files].sort());
      for (const [rel, bytes] of files) expect(r.hashes.get(rel)).toEqual({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      results.push({ files, findings: r.findings });
    }
    const [inThread, ...inWorkers] = results;
    for (const other of inWorkers) {
      expect(other.findings).toEqual(inThread?.findings);
      for (const [rel, bytes] of inThread?.files ?? []) expect(other.files.get(rel)?.equals(bytes), rel).toBe(true);
    }
    // The tables got their rows: USB devices from every store, logons, file access.
    const usb = inThread?.files.get('tables/usb-devices.csv')?.toString('utf8') ?? '';
    expect(usb.split('\r\n').filter((l) => l.startsWith('SN')).length).toBe(3);
    expect((inThread?.files.get('tables/logons.csv')?.toString('utf8') ?? '').split('\r\n').length).toBeGreaterThan(3000);
    expect((inThread?.files.get('tables/file-access.csv')?.toString('utf8') ?? '').split('\r\n').length).toBeGreaterThan(5);
  });

  it('names the records that are not well-formed, in the words of verify --deep, only for the stores it checks', async () => {
    const r = await writeTimelineAndTables(join(work, 'bundle-findings'), inputs, { workers: 2 });
    expect(r.findings[0]?.map((f) => [f.seq, f.code])).toEqual([
      [100, 'record.not_canonical'],
      [200, 'record.invalid'],
    ]);
    expect(r.findings[0]?.[0]?.message).toMatch(/canonical/);
    expect(r.findings[0]?.[1]?.message).toMatch(/invalid log\.line payload/);
    expect(r.findings[1]).toEqual([]);
    expect(r.findings[2]).toEqual([]);
  });

  it('a store that cannot be read stops the pass with a clear error, in a worker as in this thread', async () => {
    for (const workers of [0, 2]) {
      const bad = [...inputs, { dir: join(work, 'missing'), host: 'x', storeId: 'x' }];
      await expect(writeTimelineAndTables(join(work, `bundle-missing-${workers}`), bad, { workers })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/cannot open the store for the timeline/) });
    }
  });

  it('collect: every record proven well-formed once, and the draft report fed as the timeline is written is the one made by reading it back', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 9, 0, 0));
    const out = join(work, 'collected');
    const summary = await collectCase({ caseId: 'IR-TIMELINE', stores: inputs.map((i) => i.dir), out, examiner: 'Test Examiner, custody' }, { clock, collectorHost: 'test-collector', version: 'test', codeSha256: '0'.repeat(64) });
    expect(summary.report_error).toBeUndefined();
    const manifest = parseManifest(new Uint8Array(readFileSync(join(out, 'manifest.json'))));
    // Store a: the reordered record is refused by the integrity verification's envelope scan and
    // checked in full there; the schema-invalid one only by the timeline pass. Each is named once.
    const a = manifest.hosts.find((h) => h.host === 'web-01');
    expect(a?.verified.ok).toBe(false);
    expect(a?.verified.findings.filter((f) => f.code === 'record.not_canonical' || f.code === 'record.invalid').map((f) => f.code)).toEqual(['record.not_canonical', 'record.invalid']);
    // The others verify (store c's clock steps back: warnings only).
    for (const h of manifest.hosts.filter((x) => x.host !== 'web-01')) {
      expect(h.verified.ok).toBe(true);
      expect(h.verified.findings.filter((f) => f.code !== 'record.time_backwards')).toEqual([]);
    }
    // The manifest's hashes of the files hashed as they were written are the files' own.
    for (const f of manifest.files) expect(createHash('sha256').update(readFileSync(join(out, f.path))).digest('hex'), f.path).toBe(f.sha256);

    const again = join(work, 'report-again');
    mkdirSync(join(again, 'timeline'), { recursive: true });
    cpSync(join(out, 'timeline', 'timeline.jsonl'), join(again, 'timeline', 'timeline.jsonl'));
    const { collector } = manifest;
    const files = writeDraftReport(again, { case: manifest.case, collector: { version: collector.version, host: collector.host, started_at: collector.started_at, key: collector.key }, hosts: manifest.hosts }, {}, formatTimestamp(clock.nowMs()));
    expect(files.sort()).toEqual([...(summary.report?.files ?? [])].sort());
    for (const f of files) expect(readFileSync(join(out, f)).equals(readFileSync(join(again, f))), f).toBe(true);
    // The rejected line (the schema-invalid record) is named by its line in both.
    expect(readFileSync(join(out, 'report', 'report.md'), 'utf8')).toMatch(/timeline\/timeline\.jsonl:\d+/);
  });
});
