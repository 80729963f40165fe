/**
 * The report model's one pass over the timeline (ReportEntryPass): what the patterns need is kept,
 * compactly, the rest counted per host and hour; past `maxEvents` kept entries the pass stops with
 * E_REPORT_TOO_LARGE instead of exhausting the heap. Pure.
 */
import type { TimelineEntry } from '../bundle/timeline.js';
import { CustodyError, ErrorCodes } from '../errors.js';
import { escapeForTerminal } from '../text/terminal.js';
import { keepNetAccess, keptValue } from './activity.js';
import type { ReportOptions } from './model.js';
import { isRejected, type RejectedRow, type TimelineRow } from './timeline-input.js';

export type Payload = Record<string, unknown>;

/**
 * Default `maxEvents`. Measured on timeline.jsonl files streamed as `custody report` reads them
 * (Node 20, auditd file access and sshd logons): 1,000,000 events peak at ~690 MB RSS for the
 * whole model, 2,000,000 at ~1.17 GB; the default stays well under 1.5 GB and V8's heap limit.
 */
export const DEFAULT_MAX_EVENTS = 1_000_000;
/**
 * Memory per kept event, quoted by E_REPORT_TOO_LARGE: 0.55–0.62 KB of peak RSS measured (a
 * compact entry is ~0.4 KB of heap), rounded up for longer messages and paths than measured.
 */
export const KB_PER_EVENT = 0.7;

/** Rejected timeline lines named one by one in the report; the rest are counted. */
export const REJECTED_SHOWN = 50;

/**
 * What the model holds of a timeline entry it analyses: its identity and message (for citations
 * and the evidence index) and only the payload keys the model reads, repeated strings shared. A
 * parsed line holds every payload field (derived_from arrays, pids, executables…) and its own copy
 * of every string: 0.73–0.95 KB of heap measured for sshd and auditd lines, against 0.41–0.45 KB.
 */
export interface KeptEntry {
  readonly datetime: string;
  readonly host: string;
  readonly store_id: string;
  readonly seq: number;
  readonly record_sha256: string;
  readonly kind: string;
  readonly message: string;
  readonly payload: Payload;
}

const ACTOR_KEYS = ['user', 'target_user', 'auid', 'uid'];
const USB_KEYS = ['serial', 'serial_is_generated', 'vendor_id', 'product_id', 'manufacturer', 'product', 'mass_storage', 'block_device', 'instance_id', 'port'];
const FILE_KEYS = ['path', 'operation', 'syscall', 'success', 'audit_id', ...ACTOR_KEYS];
/** `audit_id` (from `extra`), and `command_line` / `url` cut to KEPT_CHARS with their whole length beside: see compactEntry. */
const EXEC_KEYS = ['action', 'exe', 'comm', 'command_line', 'cwd', 'success', 'audit_id', 'euid', 'parent_exe', 'ppid', 'process_guid', 'parent_process_guid', 'event_host', 'pid', ...ACTOR_KEYS];
const NET_KEYS = ['service', 'client_ip', 'user', 'method', 'host', 'port', 'url', 'status', 'result', 'bytes_sent', 'bytes_received', 'share', 'share_path', 'target', 'server_ip'];
/** The kinds the model analyses, each with the payload keys it reads (all that is kept of an entry's payload). */
const KEPT_PAYLOAD_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['usb.connect', USB_KEYS],
  ['usb.disconnect', USB_KEYS],
  ['usb.present', USB_KEYS],
  ['file.access', FILE_KEYS],
  ['file.change', FILE_KEYS],
  ['auth.logon', ['success', 'from_ip', 'from_host', 'service', 'action', 'method', ...ACTOR_KEYS]],
  ['process.exec', EXEC_KEYS],
  ['net.access', NET_KEYS],
  ['agent.gap', ['since', 'until', 'reason', 'detail', 'source', 'path', 'bytes']],
  ['agent.stop', ['reason']],
  ['agent.start', []],
  ['clock.anomaly', ['detail', 'skew_ms']],
]);

/** One copy of each repeated string (hosts, kinds, paths, users, addresses), not one per parsed line. */
class StringPool {
  private readonly strings = new Map<string, string>();
  of(v: string): string {
    const have = this.strings.get(v);
    if (have !== undefined) return have;
    this.strings.set(v, v);
    return v;
  }
}

/**
 * Whether the model keeps an entry of a kind it analyses: only the network records "Where data
 * went" reads. Program ends are kept with the starts: an end frees its pid, which the process
 * trees need to not link a later child to a process that had ended.
 */
function isKept(e: TimelineEntry): boolean {
  if (e.kind === 'net.access') return keepNetAccess(e.payload);
  return true;
}

function compactEntry(e: TimelineEntry, keys: readonly string[], pool: StringPool): KeptEntry {
  const payload: Payload = {};
  for (const k of keys) {
    let v = k === 'audit_id' ? (e.payload['extra'] as Record<string, unknown> | undefined)?.['audit_id'] : e.payload[k];
    // A command line or URL may be megabytes: a bounded head is kept, and its whole length.
    if (k === 'command_line' && v === undefined && Array.isArray(e.payload['argv'])) v = (e.payload['argv'] as unknown[]).map(String).join(' ');
    if ((k === 'command_line' || k === 'url') && typeof v === 'string') {
      const kv = keptValue(v);
      payload[`${k}_length`] = kv.length;
      v = kv.text;
    }
    if (v !== undefined) payload[k] = typeof v === 'string' ? pool.of(v) : v;
  }
  // The message quotes the evidence (a command line, a URL): controls shown as escapes, so a report read in a terminal obeys none.
  return { datetime: e.datetime, host: pool.of(e.host), store_id: pool.of(e.store_id), seq: e.seq, record_sha256: e.record_sha256, kind: pool.of(e.kind), message: escapeForTerminal(e.message), payload };
}

function reportTooLarge(maxEvents: number, entryNo: number): CustodyError {
  const n = (x: number): string => x.toLocaleString('en-US');
  return new CustodyError(
    ErrorCodes.REPORT_TOO_LARGE,
    `the report would hold more than ${n(maxEvents)} events in memory (USB, file access, logon, program start and end, upload, file share and agent records: ${n(maxEvents + 1)} of them in the first ${n(entryNo)} timeline entries), over its limit of ${n(maxEvents)}, so it was not made. ` +
      "Nothing is lost: every record is in the bundle's timeline/ (timeline.jsonl, timeline.csv) and tables/ (file-access.csv, logons.csv, usb-devices.csv, gaps.csv, process-executions.csv, net-access.csv). " +
      `To make the report anyway, raise the limit: \`custody report <bundle> --max-events N\`, which needs about ${KB_PER_EVENT} KB of memory per event (${n(2 * maxEvents)} events: about ${((2 * maxEvents * KB_PER_EVENT) / 1e6).toFixed(1)} GB).`,
  );
}

/**
 * The model's one pass over the timeline, row by row in timeline order: what the patterns need is
 * kept (compactly), the rest counted. `buildReportModel` makes it from `ReportInput.entries`; the
 * collector feeds one as it writes the timeline, so its draft report does not read the file back.
 * For a row of a kind `reportReadsPayloadOf` says no, only its datetime, host, source and kind are read.
 */
export class ReportEntryPass {
  readonly kept: KeptEntry[] = [];
  readonly hourly = new Map<string, number>();
  readonly hostStats = new Map<string, { records: number; sources: Set<string>; first?: string; last?: string }>();
  readonly rejectedShown: Array<RejectedRow['rejected']> = [];
  rejectedCount = 0;
  private entryNo = 0;
  private readonly pool = new StringPool();
  private readonly maxEvents: number;

  constructor(options: Pick<ReportOptions, 'maxEvents'> = {}) {
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
  }

  /** Takes the next row; throws E_REPORT_TOO_LARGE at the first kept event past `maxEvents`. */
  add(row: TimelineRow): void {
    this.entryNo++;
    if (isRejected(row)) {
      if (this.rejectedCount++ < REJECTED_SHOWN) this.rejectedShown.push(row.rejected);
      return;
    }
    const e: TimelineEntry = row;
    const hk = `${e.datetime.slice(0, 13)}\u0000${e.host}`;
    this.hourly.set(hk, (this.hourly.get(hk) ?? 0) + 1);
    let hs = this.hostStats.get(e.host);
    if (hs === undefined) this.hostStats.set(e.host, (hs = { records: 0, sources: new Set() }));
    hs.records++;
    if (e.source !== '') hs.sources.add(e.source);
    if (hs.first === undefined || e.datetime < hs.first) hs.first = e.datetime;
    if (hs.last === undefined || e.datetime > hs.last) hs.last = e.datetime;
    const keys = KEPT_PAYLOAD_KEYS.get(e.kind);
    if (keys === undefined || !isKept(e)) return;
    // Refuse at the first event past the bound, before the heap grows further.
    if (this.kept.length >= this.maxEvents) throw reportTooLarge(this.maxEvents, this.entryNo);
    this.kept.push(compactEntry(e, keys, this.pool));
  }
}

/** Whether the report reads anything of an entry of this kind beyond its datetime, host, source and kind. */
export function reportReadsPayloadOf(kind: string): boolean {
  return KEPT_PAYLOAD_KEYS.has(kind);
}
