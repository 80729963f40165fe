/**
 * The merged UTC timeline of all the stores of a bundle, streamed: a k-way merge of each store's
 * records in time order (SQLite sorts each store; a small heap merges them, one record per store in
 * memory), written as timeline/timeline.jsonl and timeline/timeline.csv (Timesketch), and the
 * tables (usb-devices, file-access, logons, gaps) filled in the same pass.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import {
  TABLE_HEADERS,
  TABLE_NAMES,
  type TableName,
  UsbDeviceTable,
  tableRow,
  timelineCsvHeader,
  timelineCsvRow,
  timelineEntry,
  timelineJsonLine,
  type TimedRecord,
  type TimelineSource,
} from '../src/bundle/timeline.js';
import { recordsByTime } from '../src/store/timeline-reader.js';

export interface TimelineInput extends TimelineSource {
  /** Snapshot folder holding evidence.sqlite. */
  readonly dir: string;
}

export interface TimelineResult {
  entries: number;
  files: string[];
}

/** Buffered synchronous writer: few syscalls, no unbounded memory. */
class FileWriter {
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot create ${path}: ${messageOf(err)}`, { where: path, cause: err });
    }
  }
  write(text: string): void {
    this.buf.push(text);
    this.size += text.length;
    if (this.size >= 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

interface Head {
  src: TimelineSource;
  it: Iterator<TimedRecord>;
  rec: TimedRecord;
  order: number;
}

function before(a: Head, b: Head): boolean {
  if (a.rec.time !== b.rec.time) return a.rec.time < b.rec.time;
  if (a.order !== b.order) return a.order < b.order;
  return a.rec.seq < b.rec.seq;
}

/** A k-way merge of per-store iterators already in time order. Ties: store order, then seq. */
export function* mergeByTime(sources: ReadonlyArray<{ src: TimelineSource; records: Iterable<TimedRecord> }>): Generator<{ src: TimelineSource; rec: TimedRecord }> {
  const heap: Head[] = [];
  const push = (h: Head): void => {
    heap.push(h);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Head, heap[parent] as Head)) break;
      [heap[i], heap[parent]] = [heap[parent] as Head, heap[i] as Head];
      i = parent;
    }
  };
  const pop = (): Head | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as Head, heap[m] as Head)) m = l;
      if (r < heap.length && before(heap[r] as Head, heap[m] as Head)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as Head, heap[i] as Head];
      i = m;
    }
    return top;
  };
  const iterators: Array<Iterator<TimedRecord>> = [];
  try {
    sources.forEach((s, order) => {
      const it = s.records[Symbol.iterator]();
      iterators.push(it);
      const first = it.next();
      if (!first.done) push({ src: s.src, it, rec: first.value, order });
    });
    for (;;) {
      const h = pop();
      if (h === undefined) return;
      yield { src: h.src, rec: h.rec };
      const next = h.it.next();
      if (!next.done) push({ ...h, rec: next.value });
    }
  } finally {
    for (const it of iterators) it.return?.();
  }
}

/** Writes timeline/ and tables/ under `bundleDir` (relative names returned). */
export function writeTimelineAndTables(bundleDir: string, inputs: readonly TimelineInput[], onRecord?: (n: number) => void): TimelineResult {
  mkdirSync(join(bundleDir, 'timeline'), { recursive: true });
  mkdirSync(join(bundleDir, 'tables'), { recursive: true });
  const jsonl = new FileWriter(join(bundleDir, 'timeline', 'timeline.jsonl'));
  const csv = new FileWriter(join(bundleDir, 'timeline', 'timeline.csv'));
  const tables = Object.fromEntries(TABLE_NAMES.map((name) => [name, new FileWriter(join(bundleDir, 'tables', `${name}.csv`))])) as Record<TableName, FileWriter>;
  const usb = new UsbDeviceTable();
  let entries = 0;
  try {
    csv.write(timelineCsvHeader());
    for (const name of TABLE_NAMES) tables[name].write(TABLE_HEADERS[name]);
    const sources = inputs.map((i) => ({ src: { host: i.host, storeId: i.storeId }, records: recordsByTime(i.dir) }));
    for (const { src, rec } of mergeByTime(sources)) {
      const e = timelineEntry(src, rec);
      jsonl.write(timelineJsonLine(e));
      csv.write(timelineCsvRow(e));
      const t = tableRow(e);
      if (t !== undefined) tables[t.table].write(t.row);
      usb.add(e);
      entries++;
      if (onRecord !== undefined && entries % 1000 === 0) onRecord(entries);
    }
  } finally {
    jsonl.close();
    csv.close();
    for (const w of Object.values(tables)) w.close();
  }
  const usbWriter = new FileWriter(join(bundleDir, 'tables', 'usb-devices.csv'));
  usbWriter.write(usb.csv());
  usbWriter.close();
  onRecord?.(entries);
  return {
    entries,
    files: ['timeline/timeline.jsonl', 'timeline/timeline.csv', 'tables/usb-devices.csv', ...TABLE_NAMES.map((name) => `tables/${name}.csv`)],
  };
}
