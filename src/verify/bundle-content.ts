/**
 * Binds a bundle's derived content (timeline/timeline.jsonl, timeline/timeline.csv, tables/*.csv)
 * to the records of its verified store snapshots, so an examiner who pins only the agent key need
 * not trust the collector: whoever re-seals a bundle can rewrite these files, but cannot make them
 * say anything the signed records do not say. Pure: the records arrive from the store verifier's
 * own stream (teeRecords), the files from a BundleTextReader; no file system, no SQLite, no clock.
 *
 * Why digests per seq and not a second, time-ordered read of each store: the records come out of
 * the verifier in seq order, the timeline is in time order, and a time-ordered read is a second
 * pass (with an SQLite sort: ~5.6 s per million lines) over bytes the verifier did not see. So each
 * verified record is rendered once, with the collector's own code (src/bundle/timeline.ts), and
 * only a 64-bit keyed digest of each rendered row is kept (jsonl line, csv row, table row: 25 bytes
 * a record, ~75 MB for 3 × 1M). The key is random per verification and never leaves the process,
 * so a forger who writes the files before the key exists passes one forged row with probability
 * 2^-64 (this is a MAC, not a fingerprint; a plain truncated hash would allow offline second
 * preimages). The files are then read once: each jsonl row names its store and seq, and must be
 * byte for byte the row of that record; csv and table rows follow the jsonl rows in lockstep.
 *
 * What this proves, with the stores verified: every row is the collector's rendering of a record
 * in its host's snapshot (same hash, same words); no record is missing, none appears twice, none is
 * invented; each store's rows are in (time, seq) order and the whole timeline in time order (ties
 * between stores at the same instant may come in either order: they say the same); the USB table
 * is recomputed from the records and must be identical. Not proven here: report/ (the collector's
 * reading, labelled so elsewhere), case.jsonld.
 */
import { createHash } from 'node:crypto';
import {
  TABLE_HEADERS,
  UsbDeviceTable,
  tableRow,
  timelineCsvHeader,
  timelineCsvRow,
  timelineEntryOfRecord,
  timelineJsonLine,
} from '../bundle/timeline.js';
import type { RecordRow, StoreReader } from './reader.js';

/** The finding codes of this check; stable, never renamed or reused. */
export type BundleContentCode =
  | 'timeline.missing'
  | 'timeline.unreadable'
  | 'timeline.row_malformed'
  | 'timeline.row_unknown_store'
  | 'timeline.row_unknown_record'
  | 'timeline.row_duplicate'
  | 'timeline.row_mismatch'
  | 'timeline.row_out_of_order'
  | 'timeline.row_missing'
  | 'timeline.store_unchecked'
  | 'timeline_csv.missing'
  | 'timeline_csv.unreadable'
  | 'timeline_csv.header_mismatch'
  | 'timeline_csv.row_mismatch'
  | 'timeline_csv.row_missing'
  | 'timeline_csv.row_extra'
  | 'table.missing'
  | 'table.unreadable'
  | 'table.header_mismatch'
  | 'table.row_mismatch'
  | 'table.row_missing'
  | 'table.row_extra';

export interface BundleContentFinding {
  code: BundleContentCode;
  severity: 'error' | 'warning';
  /** Bundle-relative file, then `line N` and/or `host#seq`. */
  where: string;
  message: string;
}

export const TIMELINE_JSONL = 'timeline/timeline.jsonl';
export const TIMELINE_CSV = 'timeline/timeline.csv';
const TABLES = ['file-access', 'logons', 'gaps'] as const;
type TableName = (typeof TABLES)[number];
const tablePath = (t: TableName | 'usb-devices'): string => `tables/${t}.csv`;

/** The lines of a bundle file as text, each with its own '\n' (the last may lack one). */
export interface BundleTextReader {
  /** undefined when the bundle holds no such regular file. Throws BundleTextError for bytes that are not text. */
  lines(path: string): Iterable<string> | undefined;
}

export class BundleTextError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly problem: 'not_utf8' | 'line_too_long',
    message: string,
  ) {
    super(message);
  }
}

/** More of one code than this in one file are counted, not listed (a shifted file would repeat one finding per row). */
const LISTED_PER_CODE = 20;
/** A CSV row may span lines (a quoted field with a newline); joined rows longer than this are not read on. */
const MAX_ROW_CHARS = 16 << 20;
const DIGEST = 8;
const NO_TABLE = 0;
const TABLE_ID: Record<TableName, number> = { 'file-access': 1, logons: 2, gaps: 3 };
const SEEN = 0x80;

export interface ContentStore {
  readonly host: string;
  readonly storeId: string;
}

class StoreDigests {
  count = 0;
  /** False once a record arrived out of seq order or the stream never came: rows of this store are not checked. */
  complete = true;
  received = false;
  jsonl: Buffer = Buffer.alloc(0);
  csv: Buffer = Buffer.alloc(0);
  table: Buffer = Buffer.alloc(0);
  /** Per seq: the table id in the low bits, SEEN once a jsonl row cited it. */
  flags = new Uint8Array(0);
  /** The last verified row of this store in the jsonl: (datetime, seq). */
  lastTime: string | undefined;
  lastSeq = -1;
  constructor(
    readonly src: ContentStore,
    readonly label: string,
  ) {}

  reserve(n: number): void {
    if (n <= this.flags.length) return;
    const cap = Math.max(1024, this.flags.length * 2, n);
    const grow = (b: Buffer): Buffer => {
      const next = Buffer.alloc(cap * DIGEST);
      b.copy(next);
      return next;
    };
    this.jsonl = grow(this.jsonl);
    this.csv = grow(this.csv);
    this.table = grow(this.table);
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
  }
}

interface ActualRow {
  text: string;
  line: number;
  digest?: Buffer;
}

interface ExpectedRow {
  store: StoreDigests;
  seq: number;
  digests: Buffer;
}

/** Collects findings, listing the first LISTED_PER_CODE of each code per file and counting the rest. */
class Findings {
  readonly list: BundleContentFinding[] = [];
  private readonly counts = new Map<string, { n: number; code: BundleContentCode; file: string }>();
  add(code: BundleContentCode, file: string, where: string, message: string, severity: 'error' | 'warning' = 'error'): void {
    const key = `${code}\u0000${file}`;
    const c = this.counts.get(key) ?? { n: 0, code, file };
    c.n++;
    this.counts.set(key, c);
    if (c.n <= LISTED_PER_CODE) this.list.push({ code, severity, where, message });
  }
  finish(): BundleContentFinding[] {
    for (const c of this.counts.values()) {
      if (c.n > LISTED_PER_CODE) this.list.push({ code: c.code, severity: 'error', where: c.file, message: `${c.n - LISTED_PER_CODE} more ${c.code} in this file, not listed (${c.n} in all)` });
    }
    return this.list;
  }
}

/** Lines → CSV rows (a row continues while its quotes are unbalanced), with the line each starts on. */
function* csvRows(lines: Iterable<string>, path: string): Generator<ActualRow> {
  let text = '';
  let quotes = 0;
  let start = 0;
  let n = 0;
  for (const line of lines) {
    n++;
    if (text === '') start = n;
    text += line;
    for (let i = line.indexOf('"'); i !== -1; i = line.indexOf('"', i + 1)) quotes++;
    if (quotes % 2 === 0) {
      yield { text, line: start };
      text = '';
      quotes = 0;
    } else if (text.length > MAX_ROW_CHARS) {
      throw new BundleTextError(path, start, 'line_too_long', `a quoted field opened on line ${start} runs past ${MAX_ROW_CHARS} characters`);
    }
  }
  if (text !== '') yield { text, line: start };
}

/** Iterator with lookahead of up to two rows. */
class Peeker {
  private readonly buf: ActualRow[] = [];
  private done = false;
  constructor(private readonly it: Iterator<ActualRow>) {}
  peek(i: number): ActualRow | undefined {
    while (this.buf.length <= i && !this.done) {
      const n = this.it.next();
      if (n.done) this.done = true;
      else this.buf.push(n.value);
    }
    return this.buf[i];
  }
  take(): ActualRow | undefined {
    const r = this.peek(0);
    this.buf.shift();
    return r;
  }
}

/**
 * The rows a file must hold, in order, against the rows it holds, with one step of resync so that
 * one deleted or added row is named as such instead of shifting every row after it into a mismatch.
 */
class LockstepMatcher {
  private pending: ExpectedRow | undefined;
  constructor(
    private readonly file: string,
    private readonly rows: Peeker,
    private readonly digestOf: (text: string) => Buffer,
    private readonly findings: Findings,
    private readonly codes: { mismatch: BundleContentCode; missing: BundleContentCode; extra: BundleContentCode },
  ) {}

  private matches(a: ActualRow | undefined, e: ExpectedRow): boolean {
    if (a === undefined) return false;
    a.digest ??= this.digestOf(a.text);
    return a.digest.equals(e.digests.subarray(e.seq * DIGEST, (e.seq + 1) * DIGEST));
  }

  expect(e: ExpectedRow): void {
    const a = this.rows.peek(0);
    if (this.pending === undefined) {
      if (this.matches(a, e)) this.rows.take();
      else this.pending = e;
      return;
    }
    const p = this.pending;
    this.pending = undefined;
    if (this.matches(a, e)) {
      // The row for p is not there; a is e's.
      this.findings.add(this.codes.missing, this.file, `${this.file} before line ${a?.line ?? '?'} (${p.store.label}#${p.seq})`, `no row for ${p.store.label}#${p.seq}, which the timeline has here`);
      this.rows.take();
      return;
    }
    if (a !== undefined && this.matches(this.rows.peek(1), p)) {
      this.findings.add(this.codes.extra, this.file, `${this.file} line ${a.line}`, `a row the records do not account for (before the row of ${p.store.label}#${p.seq})`);
      this.rows.take();
      this.rows.take();
    } else if (a !== undefined) {
      this.findings.add(this.codes.mismatch, this.file, `${this.file} line ${a.line} (${p.store.label}#${p.seq})`, `this row does not say what record ${p.store.label}#${p.seq} says (edited, or out of step with timeline.jsonl)`);
      this.rows.take();
    } else {
      this.findings.add(this.codes.missing, this.file, `${this.file} end (${p.store.label}#${p.seq})`, `no row for ${p.store.label}#${p.seq}: the file ends first`);
    }
    this.expect(e);
  }

  finish(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p !== undefined) {
      const a = this.rows.peek(0);
      if (a !== undefined && this.matches(this.rows.peek(1), p)) {
        this.findings.add(this.codes.extra, this.file, `${this.file} line ${a.line}`, `a row the records do not account for (before the row of ${p.store.label}#${p.seq})`);
        this.rows.take();
        this.rows.take();
      } else if (a !== undefined) {
        this.findings.add(this.codes.mismatch, this.file, `${this.file} line ${a.line} (${p.store.label}#${p.seq})`, `this row does not say what record ${p.store.label}#${p.seq} says`);
        this.rows.take();
      } else this.findings.add(this.codes.missing, this.file, `${this.file} end (${p.store.label}#${p.seq})`, `no row for ${p.store.label}#${p.seq}: the file ends first`);
    }
    for (let a = this.rows.take(); a !== undefined; a = this.rows.take()) {
      this.findings.add(this.codes.extra, this.file, `${this.file} line ${a.line}`, 'a row after the last record the timeline accounts for');
    }
  }
}

// The head of a line as timelineJsonLine writes it: datetime, timestamp_desc, host, store_id, seq.
const JSON_STRING = '"(?:[^"\\\\]|\\\\.)*"';
const ROW_HEAD = new RegExp(`^\\{"datetime":(${JSON_STRING}),"timestamp_desc":"(?:Event|Observed) Time","host":(${JSON_STRING}),"store_id":(${JSON_STRING}),"seq":(0|[1-9][0-9]{0,15}),`);

function decodeJsonString(token: string): string {
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

/**
 * One bundle's content check: create it with the manifest's stores, feed each store's verified
 * records through teeRecords (in seq order, as the store verifier reads them), then check().
 */
export class BundleContentCheck {
  private readonly stores: StoreDigests[];
  private readonly byStoreId = new Map<string, StoreDigests>();
  private readonly usb = new UsbDeviceTable();

  /** `key`: random bytes, fresh per verification and never written anywhere (see the header). */
  constructor(
    stores: readonly ContentStore[],
    private readonly key: Uint8Array,
  ) {
    const hostCount = new Map<string, number>();
    for (const s of stores) hostCount.set(s.host, (hostCount.get(s.host) ?? 0) + 1);
    this.stores = stores.map((s) => new StoreDigests(s, (hostCount.get(s.host) ?? 0) > 1 ? `${s.host}/${s.storeId}` : s.host));
    for (const s of this.stores) {
      // Two stores with one id would make rows ambiguous; the second is left unchecked (and named).
      if (this.byStoreId.has(s.src.storeId)) s.complete = false;
      else this.byStoreId.set(s.src.storeId, s);
    }
  }

  private digest(text: string): Buffer {
    return createHash('sha256').update(this.key).update(text).digest().subarray(0, DIGEST);
  }

  /** A StoreReader that hands every record row it yields (in seq order) to this check as well. */
  teeRecords(index: number, reader: StoreReader): StoreReader {
    const s = this.stores[index];
    if (s === undefined) return reader;
    s.received = true;
    const take = (r: RecordRow): void => this.take(s, r);
    const tee: StoreReader = {
      location: reader.location,
      meta: () => reader.meta(),
      highWaterSeq: () => reader.highWaterSeq(),
      records: function* () {
        for (const r of reader.records()) {
          take(r);
          yield r;
        }
      },
      checkpoints: () => reader.checkpoints(),
      tsaTokens: () => reader.tsaTokens(),
      blobChunks: () => reader.blobChunks(),
    };
    if (reader.recordBatches !== undefined) {
      const batches = reader.recordBatches.bind(reader);
      tee.recordBatches = function* (size: number) {
        for (const b of batches(size)) {
          for (const r of b) take(r);
          yield b;
        }
      };
    }
    return tee;
  }

  private take(s: StoreDigests, r: RecordRow): void {
    if (!s.complete) return;
    if (r.seq !== s.count) {
      s.complete = false;
      return;
    }
    const e = timelineEntryOfRecord({ host: s.src.host, storeId: s.src.storeId }, { seq: r.seq, kind: r.kind, observedAt: r.observed_at, bytes: r.bytes });
    s.reserve(r.seq + 1);
    const at = r.seq * DIGEST;
    this.digest(timelineJsonLine(e)).copy(s.jsonl, at);
    this.digest(timelineCsvRow(e)).copy(s.csv, at);
    const t = tableRow(e);
    if (t !== undefined) {
      this.digest(t.row).copy(s.table, at);
      s.flags[r.seq] = TABLE_ID[t.table];
    }
    this.usb.add(e);
    s.count++;
  }

  check(reader: BundleTextReader): BundleContentFinding[] {
    const findings = new Findings();
    for (const s of this.stores) {
      if (!s.received || !s.complete) {
        findings.add('timeline.store_unchecked', TIMELINE_JSONL, `${TIMELINE_JSONL} (${s.label})`, `the rows of store ${s.src.storeId} of ${s.src.host} cannot be checked: its records were not all read in seq order (its own findings say why)`, 'warning');
      }
    }
    const checked = (s: StoreDigests): boolean => s.received && s.complete;

    const open = (path: string, missing: BundleContentCode): Iterable<string> | undefined => {
      const lines = reader.lines(path);
      if (lines === undefined) findings.add(missing, path, path, 'the bundle holds no such file: the records it must show are not shown');
      return lines;
    };
    const unreadable = (err: unknown, code: BundleContentCode): void => {
      if (!(err instanceof BundleTextError)) throw err;
      findings.add(code, err.path, `${err.path} line ${err.line}`, `${err.message}; not read further`);
    };

    // CSV and tables: rows follow the jsonl rows, so each is matched as the jsonl is read.
    const matcher = (path: string, header: string, headerCode: BundleContentCode, missing: BundleContentCode, codes: ConstructorParameters<typeof LockstepMatcher>[4], unreadableCode: BundleContentCode) => {
      const lines = open(path, missing);
      if (lines === undefined) return undefined;
      const rows = new Peeker(
        (function* () {
          try {
            yield* csvRows(lines, path);
          } catch (err) {
            unreadable(err, unreadableCode);
          }
        })(),
      );
      const head = rows.take();
      if (head?.text !== header) findings.add(headerCode, path, `${path} line 1`, `the header is not the one the collector writes (${JSON.stringify(header.trimEnd())})`);
      return new LockstepMatcher(path, rows, (t) => this.digest(t), findings, codes);
    };
    const csv = matcher(TIMELINE_CSV, timelineCsvHeader(), 'timeline_csv.header_mismatch', 'timeline_csv.missing', { mismatch: 'timeline_csv.row_mismatch', missing: 'timeline_csv.row_missing', extra: 'timeline_csv.row_extra' }, 'timeline_csv.unreadable');
    const tables = new Map<number, LockstepMatcher | undefined>();
    for (const t of TABLES) {
      tables.set(TABLE_ID[t], matcher(tablePath(t), TABLE_HEADERS[t], 'table.header_mismatch', 'table.missing', { mismatch: 'table.row_mismatch', missing: 'table.row_missing', extra: 'table.row_extra' }, 'table.unreadable'));
    }

    const jsonl = open(TIMELINE_JSONL, 'timeline.missing');
    if (jsonl !== undefined) {
      let line = 0;
      let lastTime: string | undefined;
      try {
        for (const text of jsonl) {
          line++;
          const where = `${TIMELINE_JSONL} line ${line}`;
          const m = ROW_HEAD.exec(text);
          if (m === null) {
            findings.add('timeline.row_malformed', TIMELINE_JSONL, where, 'not a timeline row as the collector writes one (datetime, timestamp_desc, host, store_id, seq first)');
            continue;
          }
          let storeId: string;
          let host: string;
          let datetime: string;
          try {
            datetime = decodeJsonString(m[1] as string);
            host = decodeJsonString(m[2] as string);
            storeId = decodeJsonString(m[3] as string);
          } catch {
            findings.add('timeline.row_malformed', TIMELINE_JSONL, where, 'a field of the row is not a JSON string');
            continue;
          }
          const seq = Number(m[4]);
          const s = this.byStoreId.get(storeId);
          if (s === undefined || s.src.host !== host) {
            findings.add('timeline.row_unknown_store', TIMELINE_JSONL, where, `the row cites store ${JSON.stringify(storeId)} of ${JSON.stringify(host)}, which the bundle does not hold`);
            continue;
          }
          if (!checked(s)) continue;
          const at = `${where} (${s.label}#${seq})`;
          if (seq >= s.count) {
            findings.add('timeline.row_unknown_record', TIMELINE_JSONL, at, `the row cites ${s.label}#${seq}; the verified snapshot holds seq 0..${s.count - 1}`);
            continue;
          }
          if (((s.flags[seq] as number) & SEEN) !== 0) {
            findings.add('timeline.row_duplicate', TIMELINE_JSONL, at, `a second row for ${s.label}#${seq}`);
            continue;
          }
          s.flags[seq] = (s.flags[seq] as number) | SEEN;
          if (!this.digest(text).equals(s.jsonl.subarray(seq * DIGEST, (seq + 1) * DIGEST))) {
            findings.add('timeline.row_mismatch', TIMELINE_JSONL, at, `the row does not say what record ${s.label}#${seq} says (its hash, time, message or payload differ from the verified record's)`);
          } else {
            // The row is the record's own rendering, so its datetime is the record's: check the order.
            if (s.lastTime !== undefined && (datetime < s.lastTime || (datetime === s.lastTime && seq < s.lastSeq))) {
              findings.add('timeline.row_out_of_order', TIMELINE_JSONL, at, `${s.label}#${seq} at ${datetime} comes after ${s.label}#${s.lastSeq} at ${s.lastTime}: a store's rows are in (time, seq) order`);
            } else if (lastTime !== undefined && datetime < lastTime) {
              findings.add('timeline.row_out_of_order', TIMELINE_JSONL, at, `${s.label}#${seq} at ${datetime} comes after a row at ${lastTime}: the timeline is in time order`);
            }
            s.lastTime = datetime;
            s.lastSeq = seq;
            lastTime = datetime;
          }
          const e: ExpectedRow = { store: s, seq, digests: s.csv };
          csv?.expect(e);
          const table = (s.flags[seq] as number) & ~SEEN;
          if (table !== NO_TABLE) tables.get(table)?.expect({ store: s, seq, digests: s.table });
        }
      } catch (err) {
        unreadable(err, 'timeline.unreadable');
      }
      // Every verified record must have had its row.
      for (const s of this.stores) {
        if (!checked(s)) continue;
        let from = -1;
        const report = (a: number, b: number): void => {
          const range = a === b ? `${s.label}#${a}` : `${s.label}#${a}..${b}`;
          findings.add('timeline.row_missing', TIMELINE_JSONL, `${TIMELINE_JSONL} (${range})`, `no row for ${a === b ? 'this record' : `these ${b - a + 1} records`}, which the verified snapshot holds`);
        };
        for (let seq = 0; seq < s.count; seq++) {
          const seen = ((s.flags[seq] as number) & SEEN) !== 0;
          if (!seen && from < 0) from = seq;
          if (seen && from >= 0) {
            report(from, seq - 1);
            from = -1;
          }
        }
        if (from >= 0) report(from, s.count - 1);
      }
    }
    csv?.finish();
    for (const t of tables.values()) t?.finish();

    // usb-devices.csv aggregates records; it is recomputed whole and compared row by row.
    const usbPath = tablePath('usb-devices');
    const usbLines = open(usbPath, 'table.missing');
    if (usbLines !== undefined) {
      const want = [...csvRows(splitKeep(this.usb.csv()), usbPath)];
      let i = 0;
      try {
        for (const got of csvRows(usbLines, usbPath)) {
          const w = want[i++];
          if (w === undefined) findings.add('table.row_extra', usbPath, `${usbPath} line ${got.line}`, 'a device row the records do not account for');
          else if (w.text !== got.text) {
            findings.add(i === 1 ? 'table.header_mismatch' : 'table.row_mismatch', usbPath, `${usbPath} line ${got.line}`, i === 1 ? 'the header is not the one the collector writes' : `this row is not what the USB records say (expected ${JSON.stringify(w.text.trimEnd())})`);
          }
        }
      } catch (err) {
        unreadable(err, 'table.unreadable');
      }
      for (; i < want.length; i++) findings.add('table.row_missing', usbPath, `${usbPath} end`, `no row for USB device ${JSON.stringify((want[i] as ActualRow).text.trimEnd())}`);
    }
    return findings.finish();
  }
}

/** Splits text into lines that keep their '\n' (as a BundleTextReader yields them). */
export function splitKeep(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}
