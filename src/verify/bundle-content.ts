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
 * preimages). Each file is then read once, on its own: every row names its store and seq (jsonl:
 * the head of the line; csv: its columns), and must be byte for byte the row of that record, so a
 * row deleted, added or edited in one file is named there and nowhere else.
 *
 * What this proves, with the stores verified: every row is the collector's rendering of a record
 * in its host's snapshot (same hash, same words); no record is missing, none appears twice, none is
 * invented; each store's rows are in (time, seq) order and the whole timeline in time order (ties
 * between stores at the same instant may come in either order: they say the same); the USB table
 * is recomputed from the records and must be identical. Not proven here: report/ (the collector's
 * reading, labelled so elsewhere), case.jsonld.
 *
 * Cost, measured with scripts/bench/bundle-content.mjs on 3 × 34,000 records (2 CPUs at load
 * average 12–16): 38–49 µs of CPU per record, about what collect spends writing the same rows
 * (render 60%, reading the files 40%; SHA-256 calls are ~40% of both). The rendering is done where
 * each batch of records is checked, in the store verifier's worker threads for a large store
 * (renderBatchDigests, handed back with the batch; issue 14); reading the five files is still one
 * thread, after the stores: checking them in parallel is the next step.
 */
import { hash } from 'node:crypto';
import {
  TABLE_HEADERS,
  UsbDeviceTable,
  tableRow,
  timelineCsvHeader,
  timelineCsvRow,
  timelineEntryOfRecord,
  timelineJsonLine,
} from '../bundle/timeline.js';
import type { FindingOf } from './findings.js';
import type { RecordRow, StoreReader } from './reader.js';

/** The finding codes of this check; stable, never renamed or reused. */
export type BundleContentCode =
  | `${'timeline' | 'timeline_csv' | 'table'}.${'missing' | 'unreadable' | RowProblem}`
  | 'timeline_csv.header_mismatch'
  | 'table.header_mismatch'
  | 'timeline.store_unchecked';

/** A content finding: `where` is the bundle-relative file, then `line N` and/or `host#seq`. */
export type BundleContentFinding = FindingOf<BundleContentCode, string>;

export const TIMELINE_JSONL = 'timeline/timeline.jsonl';
export const TIMELINE_CSV = 'timeline/timeline.csv';
/** The per-record tables, as tableRow names them (a table added there fails the build here until it has an id). */
type TableName = NonNullable<ReturnType<typeof tableRow>>['table'];
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
const TABLE_ID: Record<TableName, number> = { 'file-access': 1, logons: 2, gaps: 3, 'process-executions': 4, 'net-access': 5 };
const TABLES = Object.keys(TABLE_ID) as TableName[];
const TABLE_MASK = 0x0f; // up to 15 tables; the SEEN_* bits sit above
const SEEN_JSONL = 0x10;
const SEEN_CSV = 0x20;
const SEEN_TABLE = 0x40;

export interface ContentStore {
  readonly host: string;
  readonly storeId: string;
}

class StoreDigests {
  /**
   * The first seq the snapshot holds (a window's start, store-window.ts; else 0): the arrays below
   * are indexed by seq - first, so a window late in a long store costs only its own records.
   */
  first = 0;
  /** The next seq expected (every seq first..count-1 has arrived). */
  count = 0;
  /** False once a record arrived out of seq order or the stream never came: rows of this store are not checked. */
  complete = true;
  received = false;
  jsonl: Buffer = Buffer.alloc(0);
  csv: Buffer = Buffer.alloc(0);
  table: Buffer = Buffer.alloc(0);
  /** Per seq: the table id in the low bits, a SEEN_* bit per file once a row there cited it. */
  flags = new Uint8Array(0);
  /** The last verified row of this store in the file being read: (datetime, seq). */
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

/** The first `n` fields of a CSV row as csvRow writes them, or undefined when it is not such a row. */
export function csvFields(text: string, n: number): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (out.length < n) {
    if (text[i] === '"') {
      let field = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return undefined;
        field += text.slice(j, q);
        if (text[q + 1] === '"') {
          field += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(field);
    } else {
      // An unquoted field holds no comma, quote, CR or LF (csvField quotes those).
      let end = text.indexOf(',', i);
      if (end === -1) {
        end = text.length;
        while (end > i && (text[end - 1] === '\n' || text[end - 1] === '\r')) end--;
      }
      out.push(text.slice(i, end));
      i = end;
    }
    if (out.length === n) break;
    if (text[i] !== ',') return undefined;
    i++;
  }
  return out;
}

// The head of a line as timelineJsonLine writes it: datetime, timestamp_desc, host, store_id, seq.
const JSON_STRING = '"(?:[^"\\\\]|\\\\.)*"';
const ROW_HEAD = new RegExp(`^\\{"datetime":(${JSON_STRING}),"timestamp_desc":"(?:Event|Observed) Time","host":(${JSON_STRING}),"store_id":(${JSON_STRING}),"seq":(0|[1-9][0-9]{0,15}),`);
const SEQ = /^(0|[1-9][0-9]{0,15})$/;

function decodeJsonString(token: string): string {
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

/** What a row says it is: the record it cites and the time it is placed at. */
interface RowHead {
  datetime: string;
  host: string;
  storeId: string;
  seq: number;
}

/** How one file of rows is read and checked. */
interface RowFile {
  path: string;
  prefix: 'timeline' | 'timeline_csv' | 'table';
  /** A header line first (CSV files). */
  header?: string;
  /** Splits the file's lines into rows (CSV rows may span lines). */
  rows: (lines: Iterable<string>, path: string) => Iterable<ActualRow>;
  head: (text: string) => RowHead | undefined;
  digests: (s: StoreDigests) => Buffer;
  seenBit: number;
  /** Which records must have a row here (all, or those of one table). */
  wants: (flags: number) => boolean;
}

function* jsonLines(lines: Iterable<string>): Generator<ActualRow> {
  let line = 0;
  for (const text of lines) yield { text, line: ++line };
}

function jsonHead(text: string): RowHead | undefined {
  const m = ROW_HEAD.exec(text);
  if (m === null) return undefined;
  try {
    return { datetime: decodeJsonString(m[1] as string), host: decodeJsonString(m[2] as string), storeId: decodeJsonString(m[3] as string), seq: Number(m[4]) };
  } catch {
    return undefined;
  }
}

/** A CSV head reader: the column numbers of datetime, host, store_id and seq. */
function csvHead(datetime: number, host: number, storeId: number, seq: number): (text: string) => RowHead | undefined {
  const n = Math.max(datetime, host, storeId, seq) + 1;
  return (text) => {
    const f = csvFields(text, n);
    if (f === undefined || !SEQ.test(f[seq] as string)) return undefined;
    return { datetime: f[datetime] as string, host: f[host] as string, storeId: f[storeId] as string, seq: Number(f[seq]) };
  };
}

/** What a record's rows are rendered for: its store, and the check's secret key (hex). */
export interface ContentSpec {
  host: string;
  storeId: string;
  keyHex: string;
}

/**
 * A batch's rendered rows, as digests: per record DIGEST bytes each of its timeline.jsonl line,
 * timeline.csv row and table row, and its table's id (0: none). RENDERED_HERE marks a record
 * left to the verifier's thread (a USB record, which also feeds usb-devices.csv, or one whose
 * rendering threw): it is rendered there as before.
 */
export interface BatchContent {
  digests: Uint8Array;
  tables: Uint8Array;
}
export const RENDERED_HERE = 0xff;
const USB_KINDS: ReadonlySet<string> = new Set(['usb.connect', 'usb.disconnect', 'usb.present']);

/** SHA-256 of the secret key (as hex) and the text, the first DIGEST bytes written at `out[at]`. */
function digestInto(keyHex: string, text: string, out: Uint8Array, at: number): void {
  out.set(hash('sha256', keyHex + text, 'buffer').subarray(0, DIGEST), at);
}

/**
 * Renders a batch of records with the collector's code and keeps their digests: the heavy part of
 * the content check, done where the batch is checked (in a worker thread for a large store), so
 * the verifier's thread only files the digests under their seqs (BundleContentCheck.takeBatch).
 * Pure: the same rows and key give the same bytes in any thread.
 */
export function renderBatchDigests(rows: readonly RecordRow[], spec: ContentSpec): BatchContent {
  const n = rows.length;
  const digests = new Uint8Array(n * 3 * DIGEST);
  const tables = new Uint8Array(n);
  const src = { host: spec.host, storeId: spec.storeId };
  for (let i = 0; i < n; i++) {
    const r = rows[i] as RecordRow;
    if (USB_KINDS.has(r.kind)) {
      tables[i] = RENDERED_HERE;
      continue;
    }
    try {
      const e = timelineEntryOfRecord(src, { seq: r.seq, kind: r.kind, observedAt: r.observed_at, bytes: r.bytes });
      const at = i * 3 * DIGEST;
      digestInto(spec.keyHex, timelineJsonLine(e), digests, at);
      digestInto(spec.keyHex, timelineCsvRow(e), digests, at + DIGEST);
      const t = tableRow(e);
      if (t !== undefined) {
        digestInto(spec.keyHex, t.row, digests, at + 2 * DIGEST);
        tables[i] = TABLE_ID[t.table];
      }
    } catch {
      tables[i] = RENDERED_HERE;
    }
  }
  return { digests, tables };
}

/**
 * One bundle's content check: create it with the manifest's stores, feed each store's verified
 * records through teeRecords (in seq order, as the store verifier reads them), then check().
 */
export class BundleContentCheck {
  private readonly stores: StoreDigests[];
  /** By host and store id: rows cite both, and a vault can file one store id under two hosts (one a forgery). */
  private readonly byStore = new Map<string, StoreDigests>();
  private readonly usb = new UsbDeviceTable();

  /** `key`: random bytes, fresh per verification and never written anywhere (see the header). */
  private readonly keyHex: string;

  constructor(stores: readonly ContentStore[], key: Uint8Array) {
    if (key.length < 16) throw new RangeError('the content check needs a random key of at least 16 bytes');
    this.keyHex = Buffer.from(key).toString('hex');
    const hostCount = new Map<string, number>();
    for (const s of stores) hostCount.set(s.host, (hostCount.get(s.host) ?? 0) + 1);
    this.stores = stores.map((s) => new StoreDigests(s, (hostCount.get(s.host) ?? 0) > 1 ? `${s.host}/${s.storeId}` : s.host));
    for (const s of this.stores) {
      // Two stores with one host and id would make rows ambiguous; the second is left unchecked (and named).
      const id = `${s.src.host}\u0000${s.src.storeId}`;
      if (this.byStore.has(id)) s.complete = false;
      else this.byStore.set(id, s);
    }
  }

  /**
   * SHA-256 of the secret key (as hex) and the text: one native call, no Hash object (a third
   * cheaper than createHash().update().update() on 400-character rows); only 8 bytes are used.
   */
  private digest(text: string): Buffer {
    return hash('sha256', this.keyHex + text, 'buffer');
  }

  /** `index`: the record's position in the store's arrays (seq - first). */
  private digestIs(text: string, digests: Buffer, index: number): boolean {
    const d = this.digest(text);
    const at = index * DIGEST;
    return d.readUInt32LE(0) === digests.readUInt32LE(at) && d.readUInt32LE(4) === digests.readUInt32LE(at + 4);
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
      sqliteSequence: () => reader.sqliteSequence(),
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

  /**
   * For the store at `index`: what its batches are rendered with (ContentSpec) and where the
   * verifier hands each checked batch, in seq order, with its rendered digests (renderBatchDigests,
   * undefined when there are none). Used instead of teeRecords by the bundle verifier.
   */
  batchTaker(index: number, firstSeq = 0): { spec: ContentSpec; take: (rows: readonly RecordRow[], content: BatchContent | undefined) => void } | undefined {
    const s = this.stores[index];
    if (s === undefined) return undefined;
    s.received = true;
    s.first = firstSeq;
    s.count = firstSeq;
    return { spec: { host: s.src.host, storeId: s.src.storeId, keyHex: this.keyHex }, take: (rows, content) => this.takeBatch(s, rows, content) };
  }

  private takeBatch(s: StoreDigests, rows: readonly RecordRow[], content: BatchContent | undefined): void {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as RecordRow;
      const table = content !== undefined && i < content.tables.length ? (content.tables[i] as number) : RENDERED_HERE;
      if (table === RENDERED_HERE || !s.complete || r.seq !== s.count) {
        this.take(s, r);
        continue;
      }
      s.reserve(r.seq - s.first + 1);
      const at = (r.seq - s.first) * DIGEST;
      const from = i * 3 * DIGEST;
      const d = content as BatchContent;
      s.jsonl.set(d.digests.subarray(from, from + DIGEST), at);
      s.csv.set(d.digests.subarray(from + DIGEST, from + 2 * DIGEST), at);
      if (table !== 0) {
        s.table.set(d.digests.subarray(from + 2 * DIGEST, from + 3 * DIGEST), at);
        s.flags[r.seq - s.first] = table;
      }
      s.count++;
    }
  }

  /** The store's records could not all be read (its verifier says where): its rows are not checked, one warning says so. */
  markIncomplete(index: number): void {
    const s = this.stores[index];
    if (s !== undefined) s.complete = false;
  }

  private take(s: StoreDigests, r: RecordRow): void {
    if (!s.complete) return;
    if (r.seq !== s.count) {
      s.complete = false;
      return;
    }
    const e = timelineEntryOfRecord({ host: s.src.host, storeId: s.src.storeId }, { seq: r.seq, kind: r.kind, observedAt: r.observed_at, bytes: r.bytes });
    s.reserve(r.seq - s.first + 1);
    const at = (r.seq - s.first) * DIGEST;
    this.digest(timelineJsonLine(e)).copy(s.jsonl, at, 0, DIGEST);
    this.digest(timelineCsvRow(e)).copy(s.csv, at, 0, DIGEST);
    const t = tableRow(e);
    if (t !== undefined) {
      this.digest(t.row).copy(s.table, at, 0, DIGEST);
      s.flags[r.seq - s.first] = TABLE_ID[t.table];
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
    const files: RowFile[] = [
      { path: TIMELINE_JSONL, prefix: 'timeline', rows: jsonLines, head: jsonHead, digests: (s) => s.jsonl, seenBit: SEEN_JSONL, wants: () => true },
      { path: TIMELINE_CSV, prefix: 'timeline_csv', header: timelineCsvHeader(), rows: csvRows, head: csvHead(1, 5, 6, 7), digests: (s) => s.csv, seenBit: SEEN_CSV, wants: () => true },
      ...TABLES.map(
        (t): RowFile => ({
          path: tablePath(t),
          prefix: 'table',
          header: TABLE_HEADERS[t],
          rows: csvRows,
          head: t === 'gaps' ? csvHead(0, 1, 2, 3) : csvHead(0, 2, 3, 4),
          digests: (s) => s.table,
          seenBit: SEEN_TABLE,
          wants: (flags) => (flags & TABLE_MASK) === TABLE_ID[t],
        }),
      ),
    ];
    for (const f of files) this.checkRows(reader, f, findings);
    this.checkUsb(reader, findings);
    return findings.finish();
  }

  /**
   * One file: every row cites a record of a verified store, is that record's own rendering, comes
   * once, in (time, seq) order within its store and in time order overall; every record that must
   * have a row here has one.
   */
  private checkRows(reader: BundleTextReader, f: RowFile, findings: Findings): void {
    const code = (c: 'missing' | 'unreadable' | 'header_mismatch' | RowProblem): BundleContentCode => `${f.prefix}.${c}` as BundleContentCode;
    const lines = reader.lines(f.path);
    if (lines === undefined) {
      findings.add(code('missing'), f.path, f.path, 'the bundle holds no such file: the records it must show are not shown');
      return;
    }
    for (const s of this.stores) {
      s.lastTime = undefined;
      s.lastSeq = -1;
    }
    let lastTime: string | undefined;
    let first = true;
    try {
      for (const row of f.rows(lines, f.path)) {
        const where = `${f.path} line ${row.line}`;
        if (first && f.header !== undefined) {
          first = false;
          if (row.text !== f.header) findings.add(code('header_mismatch'), f.path, where, `the header is not the one the collector writes (${JSON.stringify(f.header.trimEnd())})`);
          continue;
        }
        first = false;
        const h = f.head(row.text);
        if (h === undefined) {
          findings.add(code('row_malformed'), f.path, where, 'not a row as the collector writes one (it names no store and seq where they belong)');
          continue;
        }
        const s = this.byStore.get(`${h.host}\u0000${h.storeId}`);
        if (s === undefined) {
          findings.add(code('row_unknown_store'), f.path, where, `the row cites store ${JSON.stringify(h.storeId)} of ${JSON.stringify(h.host)}, which the bundle does not hold`);
          continue;
        }
        if (!s.received || !s.complete) continue;
        const at = `${where} (${s.label}#${h.seq})`;
        const held = h.seq >= s.first && h.seq < s.count;
        const flags = held ? (s.flags[h.seq - s.first] as number) : 0;
        if (!held || !f.wants(flags)) {
          findings.add(
            code('row_unknown_record'),
            f.path,
            at,
            !held ? `the row cites ${s.label}#${h.seq}; the verified snapshot holds seq ${s.first}..${s.count - 1}` : `the row cites ${s.label}#${h.seq}, a record that has no row in this file`,
          );
          continue;
        }
        if ((flags & f.seenBit) !== 0) {
          findings.add(code('row_duplicate'), f.path, at, `a second row for ${s.label}#${h.seq}`);
          continue;
        }
        s.flags[h.seq - s.first] = flags | f.seenBit;
        const digests = f.digests(s);
        if (!this.digestIs(row.text, digests, h.seq - s.first)) {
          findings.add(code('row_mismatch'), f.path, at, `the row does not say what record ${s.label}#${h.seq} says (its hash, time or words differ from the verified record's)`);
          continue;
        }
        // The row is the record's own rendering, so its time is the record's: now the order.
        if (s.lastTime !== undefined && (h.datetime < s.lastTime || (h.datetime === s.lastTime && h.seq < s.lastSeq))) {
          findings.add(code('row_out_of_order'), f.path, at, `${s.label}#${h.seq} (${h.datetime}) comes after ${s.label}#${s.lastSeq} (${s.lastTime}): a store's rows are in (time, seq) order`);
        } else if (lastTime !== undefined && h.datetime < lastTime) {
          findings.add(code('row_out_of_order'), f.path, at, `${s.label}#${h.seq} (${h.datetime}) comes after a row at ${lastTime}: the rows are in time order`);
        }
        s.lastTime = h.datetime;
        s.lastSeq = h.seq;
        lastTime = h.datetime;
      }
      if (first && f.header !== undefined) findings.add(code('header_mismatch'), f.path, `${f.path} line 1`, 'the file is empty: not even the header the collector writes');
    } catch (err) {
      if (!(err instanceof BundleTextError)) throw err;
      findings.add(code('unreadable'), f.path, `${f.path} line ${err.line}`, `${err.message}; not read further`);
    }
    // Every verified record that belongs here must have had its row.
    for (const s of this.stores) {
      if (!s.received || !s.complete) continue;
      let from = -1;
      const report = (a: number, b: number): void => {
        const range = a === b ? `${s.label}#${a}` : `${s.label}#${a}..${b}`;
        findings.add(code('row_missing'), f.path, `${f.path} (${range})`, `no row for ${a === b ? 'this record' : `these ${b - a + 1} records`}, which the verified snapshot holds`);
      };
      for (let seq = s.first; seq <= s.count; seq++) {
        const flags = seq < s.count ? (s.flags[seq - s.first] as number) : 0;
        const absent = seq < s.count && f.wants(flags) && (flags & f.seenBit) === 0;
        // A run of absent rows is one finding; records with no row here do not break the run.
        if (absent && from < 0) from = seq;
        else if (from >= 0 && (seq === s.count || ((flags & f.seenBit) !== 0 && f.wants(flags)))) {
          let to = seq - 1;
          while (to > from && !f.wants(s.flags[to - s.first] as number)) to--;
          report(from, to);
          from = -1;
        }
      }
    }
  }

  /** usb-devices.csv aggregates records; it is recomputed whole from the verified records and compared row by row. */
  private checkUsb(reader: BundleTextReader, findings: Findings): void {
    const path = tablePath('usb-devices');
    const lines = reader.lines(path);
    if (lines === undefined) {
      findings.add('table.missing', path, path, 'the bundle holds no such file: the records it must show are not shown');
      return;
    }
    const want = [...csvRows(splitKeep(this.usb.csv()), path)];
    let i = 0;
    try {
      for (const got of csvRows(lines, path)) {
        const w = want[i++];
        if (w === undefined) findings.add('table.row_unknown_record', path, `${path} line ${got.line}`, 'a device row the verified USB records do not account for');
        else if (w.text !== got.text) {
          if (i === 1) findings.add('table.header_mismatch', path, `${path} line ${got.line}`, 'the header is not the one the collector writes');
          else findings.add('table.row_mismatch', path, `${path} line ${got.line}`, `this row is not what the verified USB records say (they say ${JSON.stringify(w.text.trimEnd())})`);
        }
      }
    } catch (err) {
      if (!(err instanceof BundleTextError)) throw err;
      findings.add('table.unreadable', path, `${path} line ${err.line}`, `${err.message}; not read further`);
    }
    for (; i < want.length; i++) findings.add('table.row_missing', path, `${path} end`, `no row for USB device ${JSON.stringify((want[i] as ActualRow).text.trimEnd())}, which the verified records show`);
  }
}

type RowProblem = 'row_malformed' | 'row_unknown_store' | 'row_unknown_record' | 'row_duplicate' | 'row_mismatch' | 'row_out_of_order' | 'row_missing';

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
