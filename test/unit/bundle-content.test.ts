/**
 * The content check's reading rules, pure: records handed in through teeRecords (as the store
 * verifier reads them), files through a BundleTextReader over strings. The attacks on real
 * bundles are in test/integration/verify-bundle-content.test.ts; this covers what those bundles
 * do not hold: CSV rows spanning lines, malformed and foreign rows, the cap on repeated findings,
 * a store whose records were not all read.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  TABLE_HEADERS,
  TABLE_NAMES,
  UsbDeviceTable,
  tableRow,
  timelineCsvHeader,
  timelineCsvRow,
  timelineEntryOfRecord,
  timelineJsonLine,
} from '../../src/bundle/timeline.js';
import { BundleContentCheck, BundleTextError, csvFields, renderBatchDigests, splitKeep, type BundleTextReader } from '../../src/verify/bundle-content.js';
import type { RecordRow, StoreReader } from '../../src/verify/reader.js';

const STORE = { host: 'ws-07', storeId: 'a1' };

function record(seq: number, kind: string, payload: Record<string, unknown>): RecordRow {
  const observed_at = `2026-11-23T09:00:${String(seq).padStart(2, '0')}.000000Z`;
  const bytes = new TextEncoder().encode(JSON.stringify({ v: 1, seq, kind, observed_at, host: 'ws-07', source: 'test', payload }));
  return { seq, kind, observed_at, leaf_hash: new Uint8Array(32), bytes };
}

const RECORDS: RecordRow[] = [
  record(0, 'auth.logon', { service: 'sshd', action: 'logon', success: true, user: 'alice' }),
  // A path with a comma and a newline: its CSV rows are quoted and span two lines.
  record(1, 'file.access', { user: 'bob', operation: 'read', path: '/srv/a,b\nc.txt', success: true }),
  record(2, 'auth.logon', { service: 'sudo', action: 'elevate', success: false, user: 'bob' }),
];

function fakeStore(rows: RecordRow[]): StoreReader {
  return {
    location: 'fake',
    meta: () => new Map(),
    highWaterSeq: () => rows.length - 1,
    sqliteSequence: () => new Map(),
    records: () => rows,
    checkpoints: () => [],
    tsaTokens: () => [],
    blobChunks: () => [],
  };
}

/** The files the collector writes for these records (its own renderers, in seq order = time order here). */
function collectorFiles(rows: RecordRow[]): Map<string, string> {
  const files = new Map<string, string>([
    ['timeline/timeline.jsonl', ''],
    ['timeline/timeline.csv', timelineCsvHeader()],
    ...TABLE_NAMES.map((name): [string, string] => [`tables/${name}.csv`, TABLE_HEADERS[name]]),
  ]);
  const usb = new UsbDeviceTable();
  const append = (f: string, t: string): void => {
    files.set(f, (files.get(f) ?? '') + t);
  };
  for (const r of rows) {
    const e = timelineEntryOfRecord(STORE, { seq: r.seq, kind: r.kind, observedAt: r.observed_at, bytes: r.bytes });
    append('timeline/timeline.jsonl', timelineJsonLine(e));
    append('timeline/timeline.csv', timelineCsvRow(e));
    const t = tableRow(e);
    if (t) append(`tables/${t.table}.csv`, t.row);
    usb.add(e);
  }
  files.set('tables/usb-devices.csv', usb.csv());
  return files;
}

function reader(files: Map<string, string | Error>): BundleTextReader {
  return {
    lines(path) {
      const f = files.get(path);
      if (f === undefined) return undefined;
      if (f instanceof Error) {
        return (function* () {
          throw f;
        })();
      }
      return splitKeep(f);
    },
  };
}

function check(files: Map<string, string | Error>, rows: RecordRow[] = RECORDS): Array<{ code: string; where: string }> {
  const key = randomBytes(32);
  const c = new BundleContentCheck([STORE], key);
  const tee = c.teeRecords(0, fakeStore(rows));
  for (const r of tee.records()) void r;
  const viaTee = c.check(reader(files)).map((f) => ({ code: f.code, where: f.where }));
  // The verifier's way: batches rendered where they are checked (renderBatchDigests, in a worker
  // for a large store), filed in seq order by takeBatch. It must find exactly the same.
  for (const size of [1, 2, 1000]) {
    const b = new BundleContentCheck([STORE], key);
    const taker = b.batchTaker(0);
    if (taker === undefined) throw new Error('no taker');
    for (let i = 0; i < rows.length; i += size) {
      const batch = rows.slice(i, i + size);
      taker.take(batch, i % (2 * size) === 0 ? renderBatchDigests(batch, taker.spec) : undefined);
    }
    expect(b.check(reader(files)).map((f) => ({ code: f.code, where: f.where })), `batches of ${size}`).toEqual(viaTee);
  }
  return viaTee;
}

describe('BundleContentCheck', () => {
  it('USB records (rendered in the verifier\'s thread for usb-devices.csv) among batches rendered elsewhere', () => {
    const rows = [
      ...RECORDS,
      record(3, 'usb.connect', { derived_from: [0], parser: 'test', origin: 'kernel', vendor_id: '0781', product_id: '5581', serial: 'S1' }),
      record(4, 'auth.logon', { service: 'sshd', action: 'logon', success: true, user: 'carol' }),
    ];
    const files = collectorFiles(rows);
    expect(check(files, rows)).toEqual([]);
    files.set('tables/usb-devices.csv', (files.get('tables/usb-devices.csv') as string).replace('S1', 'S2'));
    expect(check(files, rows).map((f) => f.code)).toContain('table.row_mismatch');
  });

  it("the collector's own files: no finding, CSV rows spanning lines included", () => {
    const files = collectorFiles(RECORDS);
    expect(files.get('tables/file-access.csv')?.split('\n').length).toBe(4);
    expect(check(files)).toEqual([]);
  });

  it('an edit inside the second line of a quoted CSV row: named at the line the row starts on', () => {
    const files = collectorFiles(RECORDS);
    files.set('tables/file-access.csv', (files.get('tables/file-access.csv') as string).replace('c.txt', 'd.txt'));
    expect(check(files)).toEqual([{ code: 'table.row_mismatch', where: 'tables/file-access.csv line 2 (ws-07#1)' }]);
  });

  it('a row that is not one the collector writes, and one citing a store the bundle lacks', () => {
    const files = collectorFiles(RECORDS);
    const lines = splitKeep(files.get('timeline/timeline.jsonl') as string);
    files.set('timeline/timeline.jsonl', ['{"hello":1}\n', ...lines, (lines[0] as string).replace('"store_id":"a1"', '"store_id":"zz"')].join(''));
    expect(check(files)).toEqual([
      { code: 'timeline.row_malformed', where: 'timeline/timeline.jsonl line 1' },
      { code: 'timeline.row_unknown_store', where: 'timeline/timeline.jsonl line 5' },
    ]);
  });

  it('a row in the wrong table: table.row_unknown_record there, table.row_missing where it belongs', () => {
    const files = collectorFiles(RECORDS);
    const logons = splitKeep(files.get('tables/logons.csv') as string);
    files.set('tables/logons.csv', [logons[0], logons[2]].join(''));
    const gaps = (files.get('tables/gaps.csv') as string) + (logons[1] as string).split(',').slice(0, 1).concat(['ws-07', 'a1', '0', 'x']).join(',') + '\r\n';
    files.set('tables/gaps.csv', gaps);
    expect(check(files)).toEqual([
      { code: 'table.row_missing', where: 'tables/logons.csv (ws-07#0)' },
      { code: 'table.row_unknown_record', where: 'tables/gaps.csv line 2 (ws-07#0)' },
    ]);
  });

  it('more than 20 of one finding in one file: 20 listed, the rest counted in one more', () => {
    const rows = Array.from({ length: 30 }, (_, i) => record(i, 'agent.heartbeat', { uptime_ms: i }));
    const files = collectorFiles(rows);
    files.set('timeline/timeline.jsonl', (files.get('timeline/timeline.jsonl') as string).replace(/uptime \d+/g, 'uptime ?'));
    const found = check(files, rows);
    expect(found.filter((f) => f.code === 'timeline.row_mismatch')).toHaveLength(21);
    expect(found.at(-1)).toEqual({ code: 'timeline.row_mismatch', where: 'timeline/timeline.jsonl' });
  });

  it('a file that is not text: unreadable at its line, the rows after it missing', () => {
    const files: Map<string, string | Error> = collectorFiles(RECORDS);
    files.set('timeline/timeline.jsonl', new BundleTextError('timeline/timeline.jsonl', 1, 'not_utf8', 'bytes that are not UTF-8'));
    expect(check(files)).toEqual([
      { code: 'timeline.unreadable', where: 'timeline/timeline.jsonl line 1' },
      { code: 'timeline.row_missing', where: 'timeline/timeline.jsonl (ws-07#0..2)' },
    ]);
  });

  it('a store whose records were not all read: its rows are not judged, one warning says so', () => {
    const c = new BundleContentCheck([STORE], randomBytes(32));
    for (const r of c.teeRecords(0, fakeStore([RECORDS[0] as RecordRow, RECORDS[2] as RecordRow])).records()) void r;
    expect(c.check(reader(collectorFiles(RECORDS))).map((f) => [f.code, f.severity])).toEqual([['timeline.store_unchecked', 'warning']]);
  });

  it('csvFields reads quoted fields with doubled quotes and commas, and refuses what csvRow never writes', () => {
    expect(csvFields('"a,""b""",c,d\r\n', 3)).toEqual(['a,"b"', 'c', 'd']);
    expect(csvFields('a,b', 3)).toBeUndefined();
    expect(csvFields('"open,b', 2)).toBeUndefined();
  });
});
