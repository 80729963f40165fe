/**
 * One store's share of the merged timeline: its records read in time order
 * (src/store/timeline-reader.ts), each rendered into its timeline.jsonl line, its timeline.csv row
 * and its table row, in batches. Runs in a worker thread per store while the collector's thread
 * merges the batches of every store and writes them (collector/timeline.ts), or in that thread
 * itself when no worker can start.
 *
 * Collect parses every record here anyway, so this is also where it proves each record well-formed
 * (canonical JSON, its kind's schema: the checks `verify --deep` adds to the integrity checks),
 * with the verifier's own functions and in its words; the store's verification then only needs to
 * prove integrity (issue 14).
 */
import { CustodyError, messageOf } from '../src/errors.js';
import { TABLE_NAMES, tableRow, timelineCsvRow, timelineEntry, timelineEntryOfParsed, timelineJsonLine, type TimelineEntry, type TimelineSource } from '../src/bundle/timeline.js';
import { validateRecord } from '../src/records/schema.js';
import { recordsByTime } from '../src/store/timeline-reader.js';
import { decodeCanonicalFast } from '../src/verify/record-check.js';

/** A record that is not well-formed: the finding `verify --deep` gives for it. */
export interface WellFormedFinding {
  seq: number;
  code: 'record.not_canonical' | 'record.invalid';
  message: string;
}

/** Consecutive records of one store in time order, rendered. Flat arrays: cheap to post between threads. */
export interface RenderedBatch {
  count: number;
  /** The merge key of each record (src/bundle/timeline.ts recordTime) and its seq (ties). */
  times: string[];
  seqs: number[];
  jsonl: string[];
  csv: string[];
  /** Per record: its table's index in TABLE_NAMES, or -1. */
  tables: Int8Array;
  /** The table rows of the records that have one, in record order. */
  tableRows: string[];
  /** The entries of USB records, for usb-devices.csv (aggregated over every store). */
  usb: TimelineEntry[];
  findings: WellFormedFinding[];
}

export interface RenderOptions {
  /** Prove each record canonical and schema-valid (findings in the batches). */
  check: boolean;
  batchSize?: number;
}

export const RENDER_BATCH = 2048;
const USB_KINDS = new Set(['usb.connect', 'usb.disconnect', 'usb.present']);

/** The store in `dir`, rendered batch by batch in time order. */
export function* renderedBatches(dir: string, src: TimelineSource, options: RenderOptions): Generator<RenderedBatch> {
  const size = options.batchSize ?? RENDER_BATCH;
  let batch = emptyBatch(size);
  for (const rec of recordsByTime(dir)) {
    let entry: TimelineEntry | undefined;
    if (options.check) {
      try {
        const value = decodeCanonicalFast(rec.bytes);
        validateRecord(value, { unknownKind: 'allow' });
        entry = timelineEntryOfParsed(src, rec, value);
      } catch (err) {
        batch.findings.push({ seq: rec.seq, code: err instanceof CustodyError && err.code === 'E_CANONICAL_INVALID' ? 'record.not_canonical' : 'record.invalid', message: messageOf(err) });
      }
    }
    entry ??= timelineEntry(src, rec);
    const i = batch.count++;
    batch.times.push(rec.time);
    batch.seqs.push(rec.seq);
    batch.jsonl.push(timelineJsonLine(entry));
    batch.csv.push(timelineCsvRow(entry));
    const t = tableRow(entry);
    if (t !== undefined) {
      batch.tables[i] = TABLE_NAMES.indexOf(t.table);
      batch.tableRows.push(t.row);
    }
    if (USB_KINDS.has(entry.kind)) batch.usb.push(entry);
    if (batch.count === size) {
      yield batch;
      batch = emptyBatch(size);
    }
  }
  if (batch.count > 0) yield batch;
}

function emptyBatch(size: number): RenderedBatch {
  return { count: 0, times: [], seqs: [], jsonl: [], csv: [], tables: new Int8Array(size).fill(-1), tableRows: [], usb: [], findings: [] };
}
