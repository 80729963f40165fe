/**
 * The per-record work of the merged timeline: a batch of records, already in timeline order,
 * rendered into its timeline.jsonl lines, timeline.csv rows and table rows, joined per file. Pure:
 * no I/O. It runs in worker threads (timeline-worker.ts) while the collector's thread reads and
 * merges the stores and writes what comes back, in order (collector/timeline.ts), or in that
 * thread itself when no worker can start.
 *
 * Collect parses every record here anyway, so this is also where it proves each record well-formed
 * (canonical JSON, its kind's schema: the checks `verify --deep` adds to the integrity checks),
 * with the verifier's own functions and in its words; the store's verification then only needs to
 * prove integrity (issue 14).
 */
import { CustodyError, messageOf } from '../src/errors.js';
import { TABLE_NAMES, tableRow, timelineCsvRow, timelineEntry, timelineEntryOfParsed, timelineJsonLine, type TimelineEntry, type TimelineSource } from '../src/bundle/timeline.js';
import { validateRecord } from '../src/records/schema.js';
import { reportReadsPayloadOf } from '../src/report/model.js';
import { checkTimelineValue, isRejected, knownStores, parseTimelineLine, type RejectedLineCode } from '../src/report/timeline-input.js';
import { decodeCanonicalFast } from '../src/verify/record-check.js';

/** A record that is not well-formed: the finding `verify --deep` gives for it. */
export interface WellFormedFinding {
  seq: number;
  code: 'record.not_canonical' | 'record.invalid';
  message: string;
}

/** Records in timeline order, packed into a few flat arrays: one copy per batch between threads. */
export interface RecordBatch {
  count: number;
  /** Each record's store: its index in the inputs. */
  stores: Uint16Array;
  seqs: Float64Array;
  kinds: string[];
  observedAts: string[];
  /** The merge key (src/bundle/timeline.ts recordTime). */
  times: string[];
  /** The records' bytes, one after another; record i ends at ends[i]. */
  data: Uint8Array;
  ends: Uint32Array;
}

/** What rendering a batch needs to know of the stores, the same for every batch. */
export interface RenderContext {
  stores: ReadonlyArray<TimelineSource & { check: boolean }>;
  /** Also gate each line for the draft report (ReportRows). */
  report: boolean;
}

/** A batch rendered: each file's text for it, in record order. */
export interface RenderedBatch {
  /** timeline.jsonl and timeline.csv's bytes (UTF-8, encoded here: handed between threads without a copy). */
  jsonl: Uint8Array;
  csv: Uint8Array;
  /** Per table of TABLE_NAMES, its rows from this batch. */
  tables: string[];
  /** The entries of USB records, for usb-devices.csv (aggregated over every store). */
  usb: TimelineEntry[];
  /** Records that are not well-formed, with their store. */
  findings: Array<WellFormedFinding & { store: number }>;
  report?: ReportRows;
}

/**
 * What the draft report's pass (src/report/model.ts ReportEntryPass) is given for each line, as
 * `readTimelineRows` would give it from the file: per record REPORT_PLAIN (a kind whose payload the
 * report does not read: only time, host, source and kind are needed), REPORT_ENTRY (the entry as the
 * gate returns it, in `entries`) or REPORT_REJECTED (the gate's code and message, in `rejected`; the
 * line number is the merged timeline's, known only to the collector's thread).
 */
export interface ReportRows {
  rows: Int8Array;
  sources: string[];
  entries: TimelineEntry[];
  rejected: Array<{ code: RejectedLineCode; message: string }>;
}
export const REPORT_PLAIN = 0;
export const REPORT_ENTRY = 1;
export const REPORT_REJECTED = 2;

const USB_KINDS = new Set(['usb.connect', 'usb.disconnect', 'usb.present']);
// TextEncoder gives each result its own ArrayBuffer (Buffer.from may share a pool), so it can be transferred.
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The ArrayBuffers of a rendered batch that can be handed to another thread instead of copied. */
export function transferables(rendered: RenderedBatch): ArrayBuffer[] {
  return [rendered.jsonl.buffer as ArrayBuffer, rendered.csv.buffer as ArrayBuffer, ...(rendered.report ? [rendered.report.rows.buffer as ArrayBuffer] : [])];
}

export function renderBatch(batch: RecordBatch, context: RenderContext): RenderedBatch {
  const jsonl: string[] = [];
  const csv: string[] = [];
  const tables: string[][] = TABLE_NAMES.map(() => []);
  const out: RenderedBatch = { jsonl: EMPTY, csv: EMPTY, tables: [], usb: [], findings: [] };
  const report: ReportRows | undefined = context.report ? { rows: new Int8Array(batch.count), sources: [], entries: [], rejected: [] } : undefined;
  // The gate checks a line's host and store against the manifest's; these stores are in it.
  const known = knownStores(context.stores.map((s) => ({ host: s.host, store_id: s.storeId })));
  let start = 0;
  for (let i = 0; i < batch.count; i++) {
    const end = batch.ends[i] as number;
    const storeIndex = batch.stores[i] as number;
    const store = context.stores[storeIndex] as RenderContext['stores'][number];
    const rec = { seq: batch.seqs[i] as number, kind: batch.kinds[i] as string, observedAt: batch.observedAts[i] as string, time: batch.times[i] as string, bytes: batch.data.subarray(start, end) };
    start = end;
    let entry: TimelineEntry | undefined;
    let payloadValid = false;
    if (store.check) {
      try {
        const value = decodeCanonicalFast(rec.bytes);
        validateRecord(value, { unknownKind: 'allow' });
        entry = timelineEntryOfParsed(store, rec, value);
        payloadValid = true;
      } catch (err) {
        out.findings.push({ store: storeIndex, seq: rec.seq, code: err instanceof CustodyError && err.code === 'E_CANONICAL_INVALID' ? 'record.not_canonical' : 'record.invalid', message: messageOf(err) });
      }
    }
    entry ??= timelineEntry(store, rec);
    const line = timelineJsonLine(entry);
    jsonl.push(line);
    csv.push(timelineCsvRow(entry));
    const t = tableRow(entry);
    if (t !== undefined) (tables[TABLE_NAMES.indexOf(t.table)] as string[]).push(t.row);
    if (USB_KINDS.has(entry.kind)) out.usb.push(entry);
    if (report !== undefined) {
      // A record proven valid gives the entry the line parses back to (plain JSON values); any
      // other line is gated from its text, exactly as the report reads the file.
      const row = payloadValid ? checkTimelineValue(entry, 0, known, true) : parseTimelineLine(line.slice(0, -1), 0, known);
      if (isRejected(row)) {
        report.rows[i] = REPORT_REJECTED;
        report.rejected.push({ code: row.rejected.code, message: row.rejected.message });
      } else if (reportReadsPayloadOf(row.kind)) {
        report.rows[i] = REPORT_ENTRY;
        report.entries.push(row);
      }
      report.sources.push(entry.source);
    }
  }
  out.jsonl = utf8.encode(jsonl.join(''));
  out.csv = utf8.encode(csv.join(''));
  out.tables = tables.map((rows) => rows.join(''));
  if (report !== undefined) out.report = report;
  return out;
}
