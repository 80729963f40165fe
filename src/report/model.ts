/**
 * The investigation report as one language-neutral model, built from what a bundle holds: its
 * manifest (what was verified at collection), a verification of the bundle now (optional), and
 * the merged timeline's entries. Pure: no I/O, no clock (the caller passes `generatedAt`).
 *
 * Every statement is a `code` with parameters and the evidence it rests on (`cites`: host, seq,
 * record SHA-256). Renderers turn codes into English or Japanese; nothing here is prose. Patterns
 * state what the records show and no more: "read, then a USB storage device was connected", never
 * "exfiltrated".
 *
 * The timeline is consumed once, as an iterable: only the records the report needs (derived
 * evidence and the agent's account of itself) are kept, the rest are counted per host and hour.
 *
 * Bounded for big incidents (collect writes this report by default). Memory: a kept record is a
 * compact copy holding only what the model reads, and past `maxEvents` kept records the build
 * stops with E_REPORT_TOO_LARGE instead of exhausting the heap. Size: every list that grows with
 * the evidence shows at most `rowLimit` rows, chosen by what an investigator needs first, always
 * with the rows a shown pattern names, and says how many there are in all (`…Total`); the bundle's
 * tables/ and timeline/ hold every row.
 */
import type { BundleManifest } from '../bundle/manifest.js';
import type { TimelineEntry } from '../bundle/timeline.js';
import { CustodyError, ErrorCodes } from '../errors.js';
import { ppcDeadlines, type PpcDeadlines } from './deadlines.js';
import { DEFAULT_INTERNAL_RANGES } from '../net/cidr.js';
import { keepNetAccess, keptValue, readActivity, type CommandRow, type ProgramRow, type ShareRow, type TransferRow, type UsbStorageConnect } from './activity.js';
import { readAncestry, type AncestryGroup, type AncestryRow } from './ancestry.js';
import { interestFilter } from './interest.js';
import { escapeForTerminal } from '../text/terminal.js';
import { GlobSet } from './glob.js';
import { DEFAULT_UPLOAD_THRESHOLD, internalSet } from './net-options.js';
import { isRejected, type RejectedRow, type TimelineRow } from './timeline-input.js';

export const REPORT_MODEL_VERSION = 1 as const;

// --- inputs ----------------------------------------------------------------------------------

/** What `verifyBundle` says now (a subset, so the model does not depend on the collector). */
export interface ReportVerification {
  ok: boolean;
  tsa: { status: string; gen_time?: string };
  custody?: { entries: number; actions: string[]; head?: { index: number; sha256: string } };
  findings: ReadonlyArray<{ code: string; severity: 'error' | 'warning'; message: string; where: string }>;
  /** Whose keys the verification trusted: pinned by the examiner, or taken from the bundle itself. */
  trust?: { collector: 'pinned' | 'manifest'; agents: 'pinned' | 'manifest' };
}

/**
 * What the model reads of the manifest. A sealed bundle's manifest is one; collect passes the same
 * fields before sealing (no sealed_at yet), so the draft report can be inside the sealed bundle.
 */
export type ReportManifest = Pick<BundleManifest, 'case' | 'hosts' | 'tsa'> & {
  collector: Omit<BundleManifest['collector'], 'sealed_at' | 'code_sha256'> & { sealed_at?: string };
};

export interface ReportInput {
  manifest: ReportManifest;
  manifestSha256?: string;
  verification?: ReportVerification;
  /**
   * The timeline in time order (timeline/timeline.jsonl), each line checked first
   * (src/report/timeline-input.ts): a rejected row is counted and named, never used.
   */
  entries: Iterable<TimelineRow> | ReportEntryPass;
}

export interface WorkingHours {
  /** Hour of day the working day starts (0–23) and ends (1–24), local time. */
  start: number;
  end: number;
  /** Local offset from UTC in minutes (540 for Japan). */
  utcOffsetMinutes: number;
  /** Working days, 0 = Sunday … 6 = Saturday. */
  days: readonly number[];
}

export interface ReportOptions {
  /** When the report was made (UTC RFC 3339): given, never read from a clock here. */
  generatedAt: string;
  /** When the leak was discovered (ISO 8601 with a zone): the regulator's deadlines count from it. */
  discoveredAt?: string;
  /** Path globs of sensitive files (customer data…). */
  sensitive?: readonly string[];
  /** How long before a USB storage connection a sensitive read counts as "followed by" it (default 60). */
  usbWindowMinutes?: number;
  /** Failed logons from one source before a success that make a brute-force pattern (default 3). */
  failedLogonThreshold?: number;
  /** How long the failures and the success may be apart (default 60 minutes). */
  bruteForceWindowMinutes?: number;
  /** Working hours; without them no off-hours pattern is looked for. */
  workingHours?: WorkingHours;
  /** Most entries in the timeline excerpt (default 60). */
  excerptLimit?: number;
  /** Most citations kept per statement (default 25; the count of all is kept). */
  citeLimit?: number;
  /**
   * Most rows of each list that grows with the evidence (users, sources, USB devices, files, gaps,
   * USB sessions, patterns of each kind, prefilled report items); default 200. Rows a shown pattern
   * names are shown beyond it; every such list has the count of all beside it (`…Total`).
   */
  rowLimit?: number;
  /**
   * Most timeline entries of the kinds the report analyses that it holds in memory (about
   * KB_PER_EVENT each); one more is E_REPORT_TOO_LARGE. Default DEFAULT_MAX_EVENTS.
   */
  maxEvents?: number;
  /** Internal address ranges (CIDR); an upload or CONNECT to anything else is outside. Default DEFAULT_INTERNAL_RANGES. */
  internalRanges?: readonly string[];
  /** An upload (or a tunnel) of at least this many bytes to an outside host is a pattern. Default DEFAULT_UPLOAD_THRESHOLD. */
  uploadThreshold?: number;
  /** How long a host's process records run before a program's first run there counts as a first sighting (default 60). */
  newExecutableBaselineMinutes?: number;
  /** What ran is about these users and hosts (src/report/interest.ts); the rest is counted, and every run still counts for the patterns. */
  usersOfInterest?: readonly string[];
  hostsOfInterest?: readonly string[];
}

// --- the model -------------------------------------------------------------------------------

export interface Cite {
  host: string;
  seq: number;
  sha256: string;
  time: string;
  kind: string;
}

export type Param = string | number | boolean | readonly string[];

export interface Statement {
  code: string;
  /** A list of names (files, users) holds at most LISTED_NAMES; then `<name>_total` counts all. */
  params: Record<string, Param>;
  cites: Cite[];
  /** All the evidence there is, when more than `cites` holds. */
  citesTotal: number;
}

export type PatternType =
  | 'sensitive_then_usb'
  | 'sensitive_during_usb'
  | 'new_usb_serial'
  | 'failed_then_success'
  | 'new_logon_source'
  | 'anti_forensics'
  | 'off_hours'
  | 'archive_then_usb'
  | 'archive_then_upload'
  | 'large_upload'
  | 'known_tool'
  | 'new_executable';

export type { CommandRow, ProgramRow, ShareRow, TransferRow } from './activity.js';
export type { AncestorStep, AncestryRow, ChainEnd } from './ancestry.js';

export interface Pattern extends Statement {
  code: PatternType;
  host: string;
  /** When it happened (the pattern's key event). */
  time: string;
}

export interface HostIntegrity {
  host: string;
  store_id: string;
  source: BundleManifest['hosts'][number]['source'];
  ok: boolean;
  records: number;
  sealed?: { checkpoint_id: number; tree_size: number; time: string; trusted_time?: string };
  unsealed?: { from_seq: number; to_seq: number; count: number };
  witness_size: number;
  clock_skew_ms?: number;
  findings: Array<{ code: string; severity: string; message: string }>;
  /** A time window (collect --vault --since/--until): the report rests on seq first_seq..end_seq-1 of this store only. */
  window?: NonNullable<BundleManifest['hosts'][number]['window']>;
}

export interface Gap extends Statement {
  code: 'gap.reported' | 'gap.agent_down' | 'gap.clock';
  host: string;
  from?: string;
  until?: string;
}

export interface UsbDeviceRow {
  device: string;
  serial?: string;
  vendor_id?: string;
  product_id?: string;
  manufacturer?: string;
  product?: string;
  mass_storage: boolean;
  hosts: string[];
  first_seen: string;
  last_seen: string;
  connects: number;
  cites: Cite[];
}

export interface UsbSession {
  host: string;
  device: string;
  mass_storage: boolean;
  start: string;
  end?: string;
  cites: Cite[];
}

export interface FileRow {
  path: string;
  host: string;
  /** The `--sensitive` glob that matched, if any. */
  glob?: string;
  count: number;
  failed: number;
  /** At most LISTED_NAMES of them (in the order first seen); `usersTotal` counts all. */
  users: string[];
  usersTotal: number;
  operations: string[];
  first: string;
  last: string;
  cites: Cite[];
}

export interface LogonRow {
  time: string;
  host: string;
  user?: string;
  from?: string;
  service: string;
  action: string;
  success: boolean;
  method?: string;
  cite: Cite;
}

export interface ExcerptRow {
  time: string;
  host: string;
  kind: string;
  message: string;
  cite: Cite;
  /** Patterns this entry is evidence of. */
  patterns: PatternType[];
}

export interface ChecklistItem {
  key: 'sensitive_info' | 'financial_damage' | 'malicious' | 'over_1000';
  /** What the evidence says: `indicated` (cited), or `unknown` (a person decides). */
  evidence: 'indicated' | 'unknown';
  statement?: Statement;
}

export interface FinalReportItem {
  key: 'overview' | 'data_items' | 'people' | 'cause' | 'secondary_damage' | 'individuals' | 'publication' | 'prevention' | 'other';
  /** What the evidence supports, cited; empty when it supports nothing. */
  prefilled: Statement[];
  /** How many statements the evidence supports in all (`prefilled` holds at most `rowLimit`). */
  prefilledTotal: number;
  /** Always true: a person completes and signs off every item. */
  toComplete: boolean;
}

/**
 * What the report may be taken for, said before anything else: `invalid` when the bundle did not
 * verify now, a store was invalid at collection, or a timeline line was rejected; `unverified` for
 * the draft collect writes before sealing (the collector's claim until someone verifies the bundle).
 */
export type ReportVerdict = 'valid' | 'invalid' | 'unverified';

/** Rejected timeline lines named one by one in the report; the rest are counted. */
export const REJECTED_SHOWN = 50;

export interface ReportModel {
  version: typeof REPORT_MODEL_VERSION;
  verdict: ReportVerdict;
  generatedAt: string;
  case: { id: string; examiner?: string; note?: string };
  collector: { host: string; version: string; fingerprint: string; started_at: string; sealed_at?: string };
  manifestSha256?: string;
  /** `rowLimit`: the most rows shown of each list that grows with the evidence. */
  options: { sensitive: string[]; usbWindowMinutes: number; failedLogonThreshold: number; bruteForceWindowMinutes: number; workingHours?: WorkingHours; rowLimit: number };
  integrity: {
    /** Verification now; undefined when the report was made without one (e.g. inside collect, before sealing). */
    now?: { ok: boolean; tsa: { status: string; gen_time?: string }; custody?: ReportVerification['custody']; findings: ReportVerification['findings']; trust?: ReportVerification['trust'] };
    /** Timeline lines that failed their schema and were left out: how many, and the first REJECTED_SHOWN of them. */
    rejected: { count: number; shown: Array<RejectedRow['rejected']> };
    tsa?: { url: string };
    hosts: HostIntegrity[];
    gaps: Gap[];
    gapsTotal: number;
  };
  when: { first?: Cite; last?: Cite; discoveredAt?: string; excerpt: ExcerptRow[]; excerptTotal: number };
  where: { hosts: Array<{ host: string; records: number; sources: string[]; first?: string; last?: string }> };
  who: {
    users: Array<{ user: string; hosts: string[]; logons: number; failed: number; fileAccesses: number; cites: Cite[] }>;
    /** `users`: at most LISTED_NAMES (sorted); `usersTotal` counts all. */
    sources: Array<{ from: string; hosts: string[]; successes: number; failures: number; users: string[]; usersTotal: number; cites: Cite[] }>;
    usb: UsbDeviceRow[];
    usersTotal: number;
    sourcesTotal: number;
    usbTotal: number;
  };
  what: { files: FileRow[]; filesTotal: number; sensitiveConfigured: boolean; otherFiles: number };
  /** What ran: programs per host (and runs counted once per execve), command lines on sensitive paths. */
  ran: {
    programs: ProgramRow[];
    programsTotal: number;
    runs: number;
    commands: CommandRow[];
    commandsTotal: number;
    baselineMinutes: number;
    /** When What ran is about some users and hosts only: who, and what it left out (counted). */
    focus?: { users: string[]; hosts: string[]; runsLeftOut: number; programsLeftOut: number; commandsLeftOut: number };
    /** The ancestry of the notable runs (src/report/ancestry.ts): at most `rowLimit`, `treesTotal` counts all. */
    trees: AncestryRow[];
    treesTotal: number;
    /** Hosts with process records, and how many boot markers their evidence holds. */
    bootMarkers: Array<{ host: string; markers: number }>;
    /** Hosts whose process records are linked by pid and whose evidence marks no boot. */
    unmarkedHosts: string[];
  };
  /** Where data went: uploads and tunnels to outside destinations by bytes, file share access. */
  went: { transfers: TransferRow[]; transfersTotal: number; shares: ShareRow[]; sharesTotal: number; internalRanges: string[]; uploadThreshold: number };
  /** At most `rowLimit` of each kind, in time order. */
  how: Pattern[];
  /** Patterns found in all, and per kind. */
  howTotal: number;
  howTotals: Partial<Record<PatternType, number>>;
  why: Statement[];
  regulator: { deadlines?: PpcDeadlines; checklist: ChecklistItem[]; items: FinalReportItem[] };
  chart: {
    hosts: string[];
    /** Hour buckets `YYYY-MM-DDTHH` with counts per host. */
    hourly: Array<{ hour: string; host: string; count: number }>;
    sessions: UsbSession[];
    sessionsTotal: number;
    markers: Array<{ time: string; host: string; code: PatternType }>;
  };
  tables: { logons: LogonRow[]; logonsTotal: number };
  /** Every cited record once, for the evidence index. */
  evidence: Array<Cite & { store_id: string; message: string }>;
}

// --- helpers ---------------------------------------------------------------------------------

type Payload = Record<string, unknown>;

/** Default `rowLimit`: a table a person reads through (and an HTML file a browser opens at once). */
export const DEFAULT_ROW_LIMIT = 200;
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
/** Most names in one list (the files of a pattern, the users of a file or source): a sentence or a cell is read, not searched. */
export const LISTED_NAMES = 10;
/** Rows of the logon table: in time order, the first ones (tables/logons.csv has them all). */
const LOGON_TABLE_LIMIT = 1000;

function s(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * What the model holds of a timeline entry it analyses: its identity and message (for citations
 * and the evidence index) and only the payload keys the model reads, repeated strings shared. A
 * parsed line holds every payload field (derived_from arrays, pids, executables…) and its own copy
 * of every string: 0.73–0.95 KB of heap measured for sshd and auditd lines, against 0.41–0.45 KB.
 */
interface KeptEntry {
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
/** Kinds that are "relevant events" for When (the agent's heartbeats and raw lines are not). */
const RELEVANT_KINDS = new Set(['usb.connect', 'usb.disconnect', 'usb.present', 'file.access', 'file.change', 'auth.logon', 'agent.gap', 'agent.stop', 'clock.anomaly']);

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

function citeOf(e: KeptEntry): Cite {
  return { host: e.host, seq: e.seq, sha256: e.record_sha256, time: e.datetime, kind: e.kind };
}

function ms(ts: string): number {
  return Date.parse(ts);
}

/** The user an entry names: user, else target_user, else auid/uid (unset auids are not users). */
function actorOf(p: Payload): string | undefined {
  const user = s(p['user']) ?? s(p['target_user']);
  if (user !== undefined) return user;
  const auid = s(p['auid']);
  if (auid !== undefined && auid !== '4294967295' && auid !== '-1') return `auid=${auid}`;
  const uid = s(p['uid']);
  return uid !== undefined ? `uid=${uid}` : undefined;
}

function usbDevice(p: Payload): { key: string; serial?: string } {
  const serial = p['serial_is_generated'] === true ? undefined : s(p['serial']);
  if (serial !== undefined) return { key: serial, serial };
  return { key: `${s(p['vendor_id']) ?? '????'}:${s(p['product_id']) ?? '????'} (no serial)` };
}

function isMassStorage(p: Payload): boolean {
  return p['mass_storage'] === true || s(p['block_device']) !== undefined || /USBSTOR/i.test(s(p['instance_id']) ?? '');
}

class Citations {
  constructor(private readonly limit: number) {}
  /** A statement citing the first of `evidence`; `total` counts all of it when only the first were passed. */
  make(code: string, params: Record<string, Param>, evidence: readonly KeptEntry[], total = evidence.length): Statement {
    return { code, params, cites: evidence.slice(0, this.limit).map(citeOf), citesTotal: total };
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, v: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [v]);
  else list.push(v);
}

function uniqSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** A list param: at most LISTED_NAMES names, and `<name>_total` when some are left out. */
function listParam(name: string, values: readonly string[]): Record<string, Param> {
  return values.length > LISTED_NAMES ? { [name]: values.slice(0, LISTED_NAMES), [`${name}_total`]: values.length } : { [name]: [...values] };
}

/** A list param of another statement, with its total if it has one. */
function copyListParam(params: Record<string, Param>, name: string): Record<string, Param> {
  const total = params[`${name}_total`];
  return { [name]: params[name] ?? [], ...(total !== undefined ? { [`${name}_total`]: total } : {}) };
}

/**
 * The rows of a list to show: every row a shown pattern names (`named`: a reader of the pattern
 * must find it), then the first by `rank` up to `limit`; in the list's own order. More than
 * `limit` only when the patterns name more.
 */
function capRows<T>(rows: readonly T[], limit: number, rank: (a: T, b: T) => number, named: (r: T) => boolean): T[] {
  if (rows.length <= limit) return [...rows];
  const shown = new Set(rows.filter(named));
  for (const r of [...rows].sort(rank)) {
    if (shown.size >= limit) break;
    shown.add(r);
  }
  return rows.filter((r) => shown.has(r));
}

/** The index of the first of ascending `sorted` that is ≥ x, or > x when `after`. */
function bound(sorted: readonly number[], x: number, after: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (v < x || (after && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A record's key in maps: host and seq. */
const recordKey = (host: string, seq: number): string => `${host}\u0000${seq}`;

const LOG_PATH = /^\/var\/log\/|\\Windows\\System32\\winevt\\Logs\\/i;
const DESTRUCTIVE_OPS = /delete|unlink|truncate|rename|remove/i;
/** Patterns that point to a wrongful purpose (the regulator's Art. 7(iii)). */
const MALICIOUS: ReadonlySet<PatternType> = new Set(['sensitive_then_usb', 'sensitive_during_usb', 'failed_then_success', 'archive_then_usb', 'archive_then_upload']);
/** Patterns that are context (a first sighting), not part of the overview. */
const CONTEXT: ReadonlySet<PatternType> = new Set(['new_usb_serial', 'new_logon_source', 'new_executable']);

function inWorkingHours(ts: string, wh: WorkingHours): boolean {
  const local = new Date(ms(ts) + wh.utcOffsetMinutes * 60_000);
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60;
  return wh.days.includes(local.getUTCDay()) && hour >= wh.start && hour < wh.end;
}

// --- the builder -----------------------------------------------------------------------------

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

export function buildReportModel(input: ReportInput, options: ReportOptions): ReportModel {
  const m = input.manifest;
  const citeLimit = options.citeLimit ?? 25;
  const rowLimit = options.rowLimit ?? DEFAULT_ROW_LIMIT;
  const maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
  const C = new Citations(citeLimit);
  const usbWindowMinutes = options.usbWindowMinutes ?? 60;
  const failedLogonThreshold = options.failedLogonThreshold ?? 3;
  const bruteForceWindowMinutes = options.bruteForceWindowMinutes ?? 60;
  const sensitive = new GlobSet(options.sensitive ?? []);
  const sensitiveConfigured = (options.sensitive ?? []).length > 0;

  // One pass: keep (compactly) what the patterns need, count the rest (or the pass the caller made).
  let pass: ReportEntryPass;
  if (input.entries instanceof ReportEntryPass) pass = input.entries;
  else {
    pass = new ReportEntryPass({ maxEvents });
    for (const row of input.entries) pass.add(row);
  }
  const { kept, hourly, hostStats, rejectedShown } = pass;
  const rejectedCount = pass.rejectedCount;
  kept.sort((a, b) => (a.datetime < b.datetime ? -1 : a.datetime > b.datetime ? 1 : a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq));

  const patterns: Pattern[] = [];
  const addPattern = (code: PatternType, host: string, time: string, params: Record<string, Param>, ev: readonly KeptEntry[], total = ev.length): void => {
    patterns.push({ ...C.make(code, params, ev, total), code, host, time });
  };

  // --- USB: devices, sessions, first sightings ---
  const usbRows = new Map<string, UsbDeviceRow>();
  const sessions: UsbSession[] = [];
  /** The record that opened each session (its connect, or the record it was first seen in). */
  const sessionFirst = new Map<UsbSession, KeptEntry>();
  const openSessions = new Map<string, UsbSession>();
  const seenSerialOnHost = new Set<string>();
  for (const e of kept) {
    if (!e.kind.startsWith('usb.')) continue;
    const p = e.payload;
    const dev = usbDevice(p);
    const mass = isMassStorage(p);
    let row = usbRows.get(dev.key);
    if (row === undefined) {
      row = {
        device: dev.key,
        ...(dev.serial !== undefined ? { serial: dev.serial } : {}),
        ...(s(p['vendor_id']) !== undefined ? { vendor_id: s(p['vendor_id']) as string } : {}),
        ...(s(p['product_id']) !== undefined ? { product_id: s(p['product_id']) as string } : {}),
        ...(s(p['manufacturer']) !== undefined ? { manufacturer: s(p['manufacturer']) as string } : {}),
        ...(s(p['product']) !== undefined ? { product: s(p['product']) as string } : {}),
        mass_storage: mass,
        hosts: [],
        first_seen: e.datetime,
        last_seen: e.datetime,
        connects: 0,
        cites: [],
      };
      usbRows.set(dev.key, row);
    }
    row.mass_storage ||= mass;
    if (!row.hosts.includes(e.host)) row.hosts.push(e.host);
    row.last_seen = e.datetime;
    if (e.kind === 'usb.connect') row.connects++;
    if (row.cites.length < citeLimit) row.cites.push(citeOf(e));

    const sessKey = `${e.host}\u0000${dev.key}\u0000${s(p['port']) ?? ''}`;
    if (e.kind === 'usb.connect' || (e.kind === 'usb.present' && !openSessions.has(sessKey))) {
      const session: UsbSession = { host: e.host, device: dev.key, mass_storage: mass, start: e.datetime, cites: [citeOf(e)] };
      sessions.push(session);
      sessionFirst.set(session, e);
      openSessions.set(sessKey, session);
    } else if (e.kind === 'usb.disconnect') {
      const open = openSessions.get(sessKey);
      if (open !== undefined) {
        open.end = e.datetime;
        open.cites.push(citeOf(e));
        openSessions.delete(sessKey);
      } else {
        const session: UsbSession = { host: e.host, device: dev.key, mass_storage: mass, start: e.datetime, end: e.datetime, cites: [citeOf(e)] };
        sessions.push(session);
        sessionFirst.set(session, e);
      }
    }

    const seenKey = `${e.host}\u0000${dev.key}`;
    if (dev.serial !== undefined && !seenSerialOnHost.has(seenKey)) {
      seenSerialOnHost.add(seenKey);
      const since = hostStats.get(e.host)?.first ?? e.datetime;
      addPattern('new_usb_serial', e.host, e.datetime, { serial: dev.serial, device: [row.manufacturer, row.product].filter((x) => x !== undefined).join(' '), evidence_since: since, mass_storage: mass }, [e]);
    }
  }

  // --- files ---
  type FileAcc = Omit<FileRow, 'users' | 'usersTotal' | 'operations'> & { users: Set<string>; operations: Set<string> };
  const fileAccs = new Map<string, FileAcc>();
  /** Per host, the sensitive reads that did not fail, in time order, with their times for a binary search. */
  const readsByHost = new Map<string, { entries: KeptEntry[]; times: number[] }>();
  let otherFiles = 0;
  const otherFileKeys = new Set<string>();
  for (const e of kept) {
    if (e.kind !== 'file.access' && e.kind !== 'file.change') continue;
    const path = s(e.payload['path']) ?? '';
    const glob = sensitive.match(path);
    const fileKey = `${e.host}\u0000${path}`;
    if (glob === undefined) {
      if (!otherFileKeys.has(fileKey)) {
        otherFileKeys.add(fileKey);
        otherFiles++;
      }
      if (sensitiveConfigured) continue;
    } else if (e.payload['success'] !== false) {
      let reads = readsByHost.get(e.host);
      if (reads === undefined) readsByHost.set(e.host, (reads = { entries: [], times: [] }));
      reads.entries.push(e);
      reads.times.push(ms(e.datetime));
    }
    let acc = fileAccs.get(fileKey);
    if (acc === undefined) {
      acc = { path, host: e.host, ...(glob !== undefined ? { glob } : {}), count: 0, failed: 0, users: new Set(), operations: new Set(), first: e.datetime, last: e.datetime, cites: [] };
      fileAccs.set(fileKey, acc);
    }
    acc.count++;
    if (e.payload['success'] === false) acc.failed++;
    const actor = actorOf(e.payload);
    if (actor !== undefined) acc.users.add(actor);
    const op = s(e.payload['operation']);
    if (op !== undefined) acc.operations.add(op);
    acc.last = e.datetime;
    if (acc.cites.length < citeLimit) acc.cites.push(citeOf(e));
  }
  otherFileKeys.clear();
  const files: FileRow[] = [...fileAccs.values()]
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.path < b.path ? -1 : 1))
    .map(({ users, operations, ...f }) => ({ path: f.path, host: f.host, ...(f.glob !== undefined ? { glob: f.glob } : {}), count: f.count, failed: f.failed, users: [...users].slice(0, LISTED_NAMES), usersTotal: users.size, operations: [...operations], first: f.first, last: f.last, cites: f.cites }));
  fileAccs.clear();
  if (!sensitiveConfigured) otherFiles = 0;

  // Sensitive reads before / during a USB storage session on the same host.
  const windowMs = usbWindowMinutes * 60_000;
  for (const sess of sessions) {
    if (!sess.mass_storage) continue;
    const reads = readsByHost.get(sess.host);
    if (reads === undefined) continue;
    const start = ms(sess.start);
    const end = sess.end !== undefined ? ms(sess.end) : Number.POSITIVE_INFINITY;
    const beforeReads = reads.entries.slice(bound(reads.times, start - windowMs, false), bound(reads.times, start, true));
    const duringReads = reads.entries.slice(bound(reads.times, start, true), bound(reads.times, end, true));
    const first = sessionFirst.get(sess);
    const connect = first !== undefined ? [first] : [];
    const common = (rs: KeptEntry[]): Record<string, Param> => ({
      device: sess.device,
      connected_at: sess.start,
      ...(sess.end !== undefined ? { disconnected_at: sess.end } : {}),
      ...listParam('files', uniqSorted(rs.map((e) => s(e.payload['path']) ?? ''))),
      ...listParam('users', uniqSorted(rs.map((e) => actorOf(e.payload) ?? '?'))),
      reads: rs.length,
      first_read: rs[0]?.datetime ?? '',
      window_minutes: usbWindowMinutes,
    });
    if (beforeReads.length > 0) addPattern('sensitive_then_usb', sess.host, sess.start, common(beforeReads), [...beforeReads.slice(0, citeLimit), ...connect], beforeReads.length + connect.length);
    if (duringReads.length > 0) addPattern('sensitive_during_usb', sess.host, duringReads[0]?.datetime ?? sess.start, common(duringReads), [...connect, ...duringReads.slice(0, citeLimit)], connect.length + duringReads.length);
  }
  readsByHost.clear();

  // --- logons ---
  const failuresBySource = new Map<string, KeptEntry[]>();
  const seenSources = new Set<string>();
  const logonRows: LogonRow[] = [];
  let logonsTotal = 0;
  const bfWindow = bruteForceWindowMinutes * 60_000;
  for (const e of kept) {
    if (e.kind !== 'auth.logon') continue;
    const p = e.payload;
    const from = s(p['from_ip']) ?? s(p['from_host']);
    const success = p['success'] === true;
    const user = actorOf(p);
    logonsTotal++;
    if (logonRows.length < LOGON_TABLE_LIMIT) {
      logonRows.push({ time: e.datetime, host: e.host, ...(user !== undefined ? { user } : {}), ...(from !== undefined ? { from } : {}), service: s(p['service']) ?? '?', action: s(p['action']) ?? '?', success, ...(s(p['method']) !== undefined ? { method: s(p['method']) as string } : {}), cite: citeOf(e) });
    }
    if (from === undefined) continue;
    const sourceKey = `${e.host}\u0000${from}`;
    if (!success) {
      // A failure more than the window before this one can join no later success (times only
      // grow): dropped, so that a long spray that never succeeds does not pile up.
      const fails = failuresBySource.get(sourceKey);
      if (fails === undefined) failuresBySource.set(sourceKey, [e]);
      else {
        while (fails.length > 0 && ms(e.datetime) - ms((fails[0] as KeptEntry).datetime) > bfWindow) fails.shift();
        fails.push(e);
      }
    } else {
      const fails = (failuresBySource.get(sourceKey) ?? []).filter((f) => ms(e.datetime) - ms(f.datetime) <= bfWindow);
      if (fails.length >= failedLogonThreshold) {
        addPattern('failed_then_success', e.host, e.datetime, { from, user: user ?? '?', failures: fails.length, first_failure: fails[0]?.datetime ?? '', ...listParam('failed_users', uniqSorted(fails.map((f) => actorOf(f.payload) ?? '?'))), window_minutes: bruteForceWindowMinutes }, [...fails.slice(0, citeLimit), e], fails.length + 1);
        failuresBySource.set(sourceKey, []);
      }
      const successKey = `${e.host}\u0000${from}\u0000ok`;
      if (!seenSources.has(successKey)) {
        seenSources.add(successKey);
        addPattern('new_logon_source', e.host, e.datetime, { from, user: user ?? '?', evidence_since: hostStats.get(e.host)?.first ?? e.datetime }, [e]);
      }
    }
  }
  failuresBySource.clear();

  // --- what ran, where data went (src/report/activity.ts) ---
  const internalRanges = [...(options.internalRanges ?? DEFAULT_INTERNAL_RANGES)];
  const uploadThreshold = options.uploadThreshold ?? DEFAULT_UPLOAD_THRESHOLD;
  const baselineMinutes = options.newExecutableBaselineMinutes ?? 60;
  const usbStorageConnects: UsbStorageConnect[] = [];
  for (const sess of sessions) {
    const first = sessionFirst.get(sess);
    if (sess.mass_storage && first !== undefined) usbStorageConnects.push({ host: sess.host, device: sess.device, start: sess.start, entry: first });
  }
  const interest = { users: [...(options.usersOfInterest ?? [])], hosts: [...(options.hostsOfInterest ?? [])] };
  const ofInterest = interestFilter(interest);
  const activity = readActivity(kept, usbStorageConnects, { sensitive, sensitiveConfigured, internal: internalSet(internalRanges), uploadThreshold, windowMinutes: usbWindowMinutes, baselineMinutes, citeLimit, ...(ofInterest !== undefined ? { ofInterest } : {}) });
  const ancestry = readAncestry(kept, activity.notable, citeLimit);
  for (const p of activity.patterns) addPattern(p.code, p.host, p.time, p.params, p.evidence as KeptEntry[], p.total);

  // --- gaps, stops, deletions: where evidence may be missing ---
  const gaps: Gap[] = [];
  const lastStop = new Map<string, KeptEntry>();
  for (const e of kept) {
    const p = e.payload;
    if (e.kind === 'agent.gap') {
      const since = s(p['since']);
      const until = s(p['until']);
      gaps.push({ ...C.make('gap.reported', { reason: s(p['reason']) ?? '?', detail: s(p['detail']) ?? '', source: s(p['source']) ?? '', path: s(p['path']) ?? '', bytes: typeof p['bytes'] === 'number' ? p['bytes'] : -1 }, [e]), code: 'gap.reported', host: e.host, ...(since ? { from: since } : {}), until: until ?? e.datetime });
      addPattern('anti_forensics', e.host, e.datetime, { what: 'gap', reason: s(p['reason']) ?? '?', path: s(p['path']) ?? '' }, [e]);
    } else if (e.kind === 'agent.stop') {
      lastStop.set(e.host, e);
      addPattern('anti_forensics', e.host, e.datetime, { what: 'agent_stop', reason: s(p['reason']) ?? '?', path: '' }, [e]);
    } else if (e.kind === 'agent.start') {
      const stop = lastStop.get(e.host);
      if (stop !== undefined) {
        gaps.push({ ...C.make('gap.agent_down', { reason: s(stop.payload['reason']) ?? '?' }, [stop, e]), code: 'gap.agent_down', host: e.host, from: stop.datetime, until: e.datetime });
        lastStop.delete(e.host);
      }
    } else if (e.kind === 'clock.anomaly') {
      gaps.push({ ...C.make('gap.clock', { detail: s(p['detail']) ?? '', skew_ms: typeof p['skew_ms'] === 'number' ? p['skew_ms'] : 0 }, [e]), code: 'gap.clock', host: e.host, from: e.datetime });
      addPattern('anti_forensics', e.host, e.datetime, { what: 'clock', reason: s(p['detail']) ?? '', path: '' }, [e]);
    } else if ((e.kind === 'file.access' || e.kind === 'file.change') && LOG_PATH.test(s(p['path']) ?? '') && DESTRUCTIVE_OPS.test(`${s(p['operation']) ?? ''} ${s(p['syscall']) ?? ''}`)) {
      addPattern('anti_forensics', e.host, e.datetime, { what: 'log_deleted', reason: s(p['operation']) ?? '', path: s(p['path']) ?? '' }, [e]);
    }
  }
  for (const [host, stop] of lastStop) {
    gaps.push({ ...C.make('gap.agent_down', { reason: s(stop.payload['reason']) ?? '?' }, [stop]), code: 'gap.agent_down', host, from: stop.datetime });
  }

  // --- activity outside working hours ---
  if (options.workingHours !== undefined) {
    const wh = options.workingHours;
    // Per host and local day: a count and the first `citeLimit` events, not every event.
    const byHostDay = new Map<string, { host: string; day: string; events: number; kinds: Set<string>; first: KeptEntry[] }>();
    for (const e of kept) {
      const isActivity = (e.kind === 'auth.logon' && e.payload['success'] === true) || e.kind === 'usb.connect' || ((e.kind === 'file.access' || e.kind === 'file.change') && (!sensitiveConfigured || sensitive.match(s(e.payload['path']) ?? '') !== undefined));
      if (!isActivity || inWorkingHours(e.datetime, wh)) continue;
      const localDay = new Date(ms(e.datetime) + wh.utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
      const dayKey = `${e.host}\u0000${localDay}`;
      let day = byHostDay.get(dayKey);
      if (day === undefined) byHostDay.set(dayKey, (day = { host: e.host, day: localDay, events: 0, kinds: new Set(), first: [] }));
      day.events++;
      day.kinds.add(e.kind);
      if (day.first.length < citeLimit) day.first.push(e);
    }
    for (const d of byHostDay.values()) {
      addPattern('off_hours', d.host, d.first[0]?.datetime ?? '', { day: d.day, events: d.events, kinds: uniqSorted(d.kinds), start: wh.start, end: wh.end, utc_offset_minutes: wh.utcOffsetMinutes }, d.first, d.events);
    }
  }
  patterns.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.code < b.code ? -1 : 1));

  // --- which patterns to show: at most rowLimit of each kind, in time order ---
  // Per kind, what an investigator needs first: the earliest (where the incident starts); but for
  // off_hours the host-days with the most events, and for new_logon_source first the sources that
  // also succeeded after failed logons (failed_then_success on the same host).
  const howTotals: Partial<Record<PatternType, number>> = {};
  for (const p of patterns) howTotals[p.code] = (howTotals[p.code] ?? 0) + 1;
  const bruteForced = new Set(patterns.filter((p) => p.code === 'failed_then_success').map((p) => `${p.host}\u0000${String(p.params['from'])}`));
  const shownPatterns = new Set<Pattern>();
  for (const code of Object.keys(howTotals) as PatternType[]) {
    const ofKind = patterns.filter((p) => p.code === code);
    if (code === 'off_hours') ofKind.sort((a, b) => Number(b.params['events']) - Number(a.params['events']));
    if (code === 'new_logon_source') ofKind.sort((a, b) => Number(bruteForced.has(`${b.host}\u0000${String(b.params['from'])}`)) - Number(bruteForced.has(`${a.host}\u0000${String(a.params['from'])}`)));
    for (const p of ofKind.slice(0, rowLimit)) shownPatterns.add(p);
  }
  const how = patterns.filter((p) => shownPatterns.has(p));

  // What the shown patterns name and cite: those rows are shown in every list, whatever its limit.
  // Not the users a failed_then_success lists as tried: a spray names hundreds of accounts, and
  // the pattern is about its source and the account that logged on.
  const named = { users: new Set<string>(), sources: new Set<string>(), files: new Set<string>(), devices: new Set<string>(), sessions: new Set<string>(), records: new Set<string>() };
  for (const p of how) {
    for (const k of ['users', 'user']) for (const u of [p.params[k] ?? []].flat()) named.users.add(String(u));
    if (typeof p.params['from'] === 'string') named.sources.add(p.params['from']);
    for (const f of [p.params['files'] ?? [], p.params['path'] ?? []].flat()) named.files.add(`${p.host}\u0000${String(f)}`);
    for (const k of ['device', 'serial']) if (typeof p.params[k] === 'string') named.devices.add(p.params[k]);
    if (p.code === 'sensitive_then_usb' || p.code === 'sensitive_during_usb') named.sessions.add(`${p.host}\u0000${String(p.params['device'])}\u0000${String(p.params['connected_at'])}`);
    for (const c of p.cites) named.records.add(recordKey(c.host, c.seq));
  }

  // --- rows to show; the order each list is chosen by is what an investigator needs first ---
  // Files: the most accessed, then the earliest. (With --sensitive the list holds only sensitive
  // files, the others being counted in otherFiles; without, none is: so no "sensitive first".)
  const shownFiles = capRows(files, rowLimit, (a, b) => b.count - a.count || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0), (f) => named.files.has(`${f.host}\u0000${f.path}`));
  // USB devices: storage first, then the most connections, then the earliest.
  const usbAll = [...usbRows.values()].sort((a, b) => (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : a.device < b.device ? -1 : 1));
  const shownUsb = capRows(usbAll, rowLimit, (a, b) => Number(b.mass_storage) - Number(a.mass_storage) || b.connects - a.connects, (d) => named.devices.has(d.device));
  // Gaps: the earliest (they are in time order).
  const shownGaps = capRows(gaps, rowLimit, () => 0, (g) => g.cites.some((c) => named.records.has(recordKey(c.host, c.seq))));
  // USB sessions (the chart): storage first, then the earliest.
  const shownSessions = capRows(sessions, rowLimit, (a, b) => Number(b.mass_storage) - Number(a.mass_storage), (x) => named.sessions.has(`${x.host}\u0000${x.device}\u0000${x.start}`) || x.cites.some((c) => named.records.has(recordKey(c.host, c.seq))));

  // Programs: those a pattern names or cites first, then known tools, sensitive command lines,
  // first sightings, then the rarest (a program run once says more than one cron runs hourly).
  const citesNamed = (cs: readonly Cite[]): boolean => cs.some((c) => named.records.has(recordKey(c.host, c.seq)));
  const programScore = (r: ProgramRow): number => (r.tool !== undefined && r.tool !== 'archiver' ? 0 : r.sensitiveRuns > 0 ? 1 : r.tool === 'archiver' ? 2 : r.firstSeen ? 3 : 4);
  const shownPrograms = capRows(activity.programs, rowLimit, (a, b) => programScore(a) - programScore(b) || a.runs - b.runs || (a.first < b.first ? -1 : 1), (r) => citesNamed(r.cites));
  // Command lines on sensitive paths: the earliest, and every one a pattern cites.
  const shownCommands = capRows(activity.commands, rowLimit, () => 0, (r) => named.records.has(recordKey(r.cite.host, r.cite.seq)));
  // Destinations: the most bytes (they are in that order), and every one a pattern cites.
  const shownTransfers = capRows(activity.transfers, rowLimit, () => 0, (r) => citesNamed(r.cites));
  // Ancestry: the runs a pattern cites, then known tools, sensitive command lines, first sightings; the earliest first.
  const treeScore = (r: AncestryGroup): number => (r.why.includes('known_tool') ? 0 : r.why.includes('sensitive') ? 1 : 2);
  const shownTrees = capRows(ancestry.groups, rowLimit, (a, b) => treeScore(a) - treeScore(b) || (a.first < b.first ? -1 : 1), (r) => citesNamed(r.cites)).map(ancestry.describe);
  // Shares: sensitive first, then the most accessed.
  const shownShares = capRows(activity.shares, rowLimit, (a, b) => Number(b.glob !== undefined) - Number(a.glob !== undefined) || b.count - a.count, () => false);

  // --- who ---
  // Per user and per source: counts and the first `citeLimit` records (all that `cites` shows).
  const users = new Map<string, { user: string; hosts: Set<string>; logons: number; failed: number; fileAccesses: number; first: KeptEntry[] }>();
  const sources = new Map<string, { from: string; hosts: Set<string>; successes: number; failures: number; users: Set<string>; first: KeptEntry[] }>();
  for (const e of kept) {
    if (e.kind !== 'auth.logon' && e.kind !== 'file.access' && e.kind !== 'file.change') continue;
    if (e.kind !== 'auth.logon' && sensitiveConfigured && sensitive.match(s(e.payload['path']) ?? '') === undefined) continue;
    const actor = actorOf(e.payload);
    if (actor !== undefined) {
      let u = users.get(actor);
      if (u === undefined) users.set(actor, (u = { user: actor, hosts: new Set(), logons: 0, failed: 0, fileAccesses: 0, first: [] }));
      u.hosts.add(e.host);
      if (e.kind === 'auth.logon') {
        if (e.payload['success'] === true) u.logons++;
        else u.failed++;
      } else u.fileAccesses++;
      if (u.first.length < citeLimit) u.first.push(e);
    }
    const from = e.kind === 'auth.logon' ? (s(e.payload['from_ip']) ?? s(e.payload['from_host'])) : undefined;
    if (from !== undefined) {
      let src = sources.get(from);
      if (src === undefined) sources.set(from, (src = { from, hosts: new Set(), successes: 0, failures: 0, users: new Set(), first: [] }));
      src.hosts.add(e.host);
      if (e.payload['success'] === true) src.successes++;
      else src.failures++;
      if (actor !== undefined) src.users.add(actor);
      if (src.first.length < citeLimit) src.first.push(e);
    }
  }
  // Users: the most active (logons, failures, file accesses), then by name; shown by name.
  const userRows = [...users.values()].sort((a, b) => (a.user < b.user ? -1 : 1));
  const shownUsers = capRows(userRows, rowLimit, (a, b) => b.logons + b.failed + b.fileAccesses - (a.logons + a.failed + a.fileAccesses) || (a.user < b.user ? -1 : 1), (u) => named.users.has(u.user));
  // Sources: the most logon attempts (failures + successes), then by address; shown by address.
  const sourceRows = [...sources.values()].sort((a, b) => (a.from < b.from ? -1 : 1));
  const shownSources = capRows(sourceRows, rowLimit, (a, b) => b.failures + b.successes - (a.failures + a.successes) || (a.from < b.from ? -1 : 1), (x) => named.sources.has(x.from));

  // --- why: the questions the evidence raises ---
  const why: Statement[] = [];
  for (const p of how) {
    switch (p.code) {
      case 'sensitive_then_usb':
      case 'sensitive_during_usb':
        why.push({ code: 'q.usb_purpose', params: { ...copyListParam(p.params, 'users'), device: p.params['device'] ?? '', host: p.host, ...copyListParam(p.params, 'files') }, cites: p.cites, citesTotal: p.citesTotal });
        why.push({ code: 'q.usb_owner', params: { device: p.params['device'] ?? '', host: p.host }, cites: p.cites.filter((c) => c.kind.startsWith('usb.')), citesTotal: 1 });
        break;
      case 'failed_then_success':
        why.push({ code: 'q.source_known', params: { from: p.params['from'] ?? '', user: p.params['user'] ?? '', host: p.host }, cites: p.cites.slice(-1), citesTotal: 1 });
        break;
      case 'archive_then_usb':
      case 'archive_then_upload':
        why.push({ code: 'q.archive_purpose', params: { ...copyListParam(p.params, 'users'), ...copyListParam(p.params, 'programs'), ...copyListParam(p.params, 'files'), host: p.host, to: p.code === 'archive_then_usb' ? String(p.params['device'] ?? '') : String(p.params['destination'] ?? '') }, cites: p.cites, citesTotal: p.citesTotal });
        break;
      case 'large_upload':
        why.push({ code: 'q.destination_known', params: { destination: p.params['destination'] ?? '', client: p.params['client'] ?? '', user: p.params['user'] ?? '' }, cites: p.cites, citesTotal: p.citesTotal });
        break;
      case 'known_tool':
        why.push({ code: 'q.tool_authorised', params: { exe: p.params['exe'] ?? '', host: p.host, ...copyListParam(p.params, 'users') }, cites: p.cites.slice(0, 1), citesTotal: p.citesTotal });
        break;
      case 'anti_forensics':
        why.push({ code: 'q.gap_reason', params: { what: p.params['what'] ?? '', host: p.host, time: p.time }, cites: p.cites, citesTotal: p.citesTotal });
        break;
      default:
        break;
    }
  }
  if (files.length > 0 && sensitiveConfigured) why.push({ code: 'q.data_content', params: { files: files.length }, cites: [], citesTotal: 0 });
  why.push({ code: 'q.other_channels', params: {}, cites: [], citesTotal: 0 });

  // --- integrity ---
  const hosts: HostIntegrity[] = m.hosts.map((h) => ({
    host: h.host,
    store_id: h.store_id,
    source: h.source,
    ok: h.verified.ok,
    records: h.verified.records,
    ...(h.verified.sealed ? { sealed: h.verified.sealed } : {}),
    ...(h.verified.unsealed ? { unsealed: h.verified.unsealed } : {}),
    witness_size: h.witness.tree_size,
    ...(h.clock.estimated_skew_ms !== undefined ? { clock_skew_ms: h.clock.estimated_skew_ms } : {}),
    findings: h.verified.findings.map((f) => ({ ...f })),
    ...(h.window !== undefined ? { window: h.window } : {}),
  }));

  // --- when ---
  const citedKeys = new Map<string, PatternType[]>();
  for (const p of how) for (const c of p.cites) pushTo(citedKeys, recordKey(c.host, c.seq), p.code);
  const isRelevant = (e: KeptEntry): boolean => (e.kind === 'process.exec' || e.kind === 'net.access' ? citedKeys.has(recordKey(e.host, e.seq)) : RELEVANT_KINDS.has(e.kind)) && (!sensitiveConfigured || (e.kind !== 'file.access' && e.kind !== 'file.change') || sensitive.match(s(e.payload['path']) ?? '') !== undefined);
  const excerptLimit = options.excerptLimit ?? 60;
  // Every cited entry first (up to the limit), then the others in time order to fill it; shown in
  // time order. Filling needs no more than the first 2 × limit relevant entries.
  let relevantTotal = 0;
  let firstRel: KeptEntry | undefined;
  let lastRel: KeptEntry | undefined;
  const citedRelevant: KeptEntry[] = [];
  const headRelevant: KeptEntry[] = [];
  for (const e of kept) {
    if (!isRelevant(e)) continue;
    relevantTotal++;
    firstRel ??= e;
    lastRel = e;
    if (citedRelevant.length < excerptLimit && citedKeys.has(recordKey(e.host, e.seq))) citedRelevant.push(e);
    if (headRelevant.length < 2 * excerptLimit) headRelevant.push(e);
  }
  const chosen = new Set(citedRelevant);
  for (const e of headRelevant) {
    if (chosen.size >= excerptLimit) break;
    chosen.add(e);
  }
  const excerpt: ExcerptRow[] = kept.filter((e) => chosen.has(e)).map((e) => ({ time: e.datetime, host: e.host, kind: e.kind, message: e.message, cite: citeOf(e), patterns: uniqSorted(citedKeys.get(recordKey(e.host, e.seq)) ?? []) as PatternType[] }));

  // --- regulator ---
  // The report's own time says which equinox days had been proclaimed (a deadline may rest on a computed one).
  const deadlines = options.discoveredAt !== undefined ? ppcDeadlines(options.discoveredAt, options.generatedAt) : undefined;
  // The checklist weighs every pattern found, shown or not.
  const malicious = patterns.filter((p) => MALICIOUS.has(p.code));
  const checklist: ChecklistItem[] = [
    { key: 'sensitive_info', evidence: 'unknown' },
    { key: 'financial_damage', evidence: 'unknown' },
    malicious.length > 0
      ? { key: 'malicious', evidence: 'indicated', statement: { code: 'reg.malicious_indicated', params: { patterns: uniqSorted(malicious.map((p) => p.code)) }, cites: malicious.flatMap((p) => p.cites).slice(0, citeLimit), citesTotal: malicious.reduce((n, p) => n + p.citesTotal, 0) } }
      : { key: 'malicious', evidence: 'unknown' },
    { key: 'over_1000', evidence: 'unknown' },
  ];
  const item = (key: FinalReportItem['key'], prefilled: Statement[], prefilledTotal = prefilled.length): FinalReportItem => ({ key, prefilled, prefilledTotal, toComplete: true });
  const countOf = (codes: (c: PatternType) => boolean): number => Object.entries(howTotals).reduce((n, [c, k]) => (codes(c as PatternType) ? n + k : n), 0);
  // Overview: what points to a wrongful purpose first, then evidence that may be missing, then
  // working hours; the earliest within each; told in time order.
  const severity = (c: PatternType): number => (MALICIOUS.has(c) ? 0 : c === 'anti_forensics' ? 1 : 2);
  const overview = capRows(how.filter((p) => !CONTEXT.has(p.code)), rowLimit, (a, b) => severity(a.code) - severity(b.code), () => false);
  const cause = capRows(how.filter((p) => MALICIOUS.has(p.code)), rowLimit, () => 0, () => false);
  const items: FinalReportItem[] = [
    item('overview', overview.map((p) => ({ code: `item.overview.${p.code}`, params: { host: p.host, time: p.time, ...p.params }, cites: p.cites, citesTotal: p.citesTotal })), countOf((c) => !CONTEXT.has(c))),
    // The sensitive files of section 5, as shown there.
    item('data_items', shownFiles.filter((f) => f.glob !== undefined).map((f) => ({ code: 'item.data_items.file', params: { path: f.path, host: f.host, count: f.count }, cites: f.cites.slice(0, 3), citesTotal: f.count })), files.filter((f) => f.glob !== undefined).length),
    item('people', []),
    item('cause', cause.map((p) => ({ code: `item.cause.${p.code}`, params: { host: p.host, time: p.time, ...p.params }, cites: p.cites, citesTotal: p.citesTotal })), malicious.length),
    item('secondary_damage', []),
    item('individuals', []),
    item('publication', []),
    item('prevention', []),
    item('other', [
      { code: m.collector.sealed_at !== undefined ? 'item.other.preserved' : 'item.other.preserving', params: { case: m.case.id, hosts: m.hosts.length, sealed_at: m.collector.sealed_at ?? m.collector.started_at, manifest_sha256: input.manifestSha256 ?? '—', fingerprint: m.collector.key.fingerprint }, cites: [], citesTotal: 0 },
      ...(gaps.length > 0 ? [{ code: 'item.other.gaps', params: { gaps: gaps.length }, cites: shownGaps.flatMap((g) => g.cites).slice(0, citeLimit), citesTotal: gaps.length }] : []),
    ]),
  ];

  // --- evidence index: every record cited by what is shown ---
  const allCites: Cite[] = [
    ...how.flatMap((p) => p.cites),
    ...shownGaps.flatMap((g) => g.cites),
    ...shownFiles.flatMap((f) => f.cites),
    ...shownUsb.flatMap((r) => r.cites),
    ...excerpt.map((x) => x.cite),
    ...shownPrograms.flatMap((r) => r.cites.slice(0, 3)),
    ...shownCommands.map((r) => r.cite),
    ...shownTrees.flatMap((r) => [...r.cites.slice(0, 3), ...r.chain.map((x) => x.cite)]),
    ...shownTransfers.flatMap((r) => r.cites.slice(0, 3)),
    ...shownShares.flatMap((r) => r.cites.slice(0, 3)),
  ];
  const evidence = new Map<string, Cite & { store_id: string; message: string }>();
  const citedSeqs = new Map<string, Set<number>>();
  for (const c of allCites) {
    const k = recordKey(c.host, c.seq);
    if (evidence.has(k)) continue;
    evidence.set(k, { ...c, store_id: '', message: '' });
    let seqs = citedSeqs.get(c.host);
    if (seqs === undefined) citedSeqs.set(c.host, (seqs = new Set()));
    seqs.add(c.seq);
  }
  for (const e of kept) {
    if (citedSeqs.get(e.host)?.has(e.seq) !== true) continue;
    const row = evidence.get(recordKey(e.host, e.seq));
    if (row !== undefined) Object.assign(row, { store_id: e.store_id, message: e.message });
  }

  const chartHosts = uniqSorted(hostStats.keys());
  const hourlyRows = [...hourly.entries()].map(([k, count]) => {
    const [hour, host] = k.split('\u0000') as [string, string];
    return { hour, host, count };
  });
  hourlyRows.sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.host < b.host ? -1 : 1));

  const verdict: ReportVerdict = (input.verification !== undefined && !input.verification.ok) || rejectedCount > 0 || hosts.some((h) => !h.ok) ? 'invalid' : input.verification === undefined ? 'unverified' : 'valid';
  return {
    version: REPORT_MODEL_VERSION,
    verdict,
    generatedAt: options.generatedAt,
    case: { ...m.case },
    collector: { host: m.collector.host, version: m.collector.version, fingerprint: m.collector.key.fingerprint, started_at: m.collector.started_at, ...(m.collector.sealed_at !== undefined ? { sealed_at: m.collector.sealed_at } : {}) },
    ...(input.manifestSha256 !== undefined ? { manifestSha256: input.manifestSha256 } : {}),
    options: { sensitive: [...(options.sensitive ?? [])], usbWindowMinutes, failedLogonThreshold, bruteForceWindowMinutes, ...(options.workingHours ? { workingHours: options.workingHours } : {}), rowLimit },
    integrity: {
      ...(input.verification ? { now: { ok: input.verification.ok, tsa: input.verification.tsa, ...(input.verification.custody ? { custody: input.verification.custody } : {}), findings: input.verification.findings, ...(input.verification.trust ? { trust: input.verification.trust } : {}) } } : {}),
      rejected: { count: rejectedCount, shown: rejectedShown },
      ...(m.tsa ? { tsa: { url: m.tsa.url } } : {}),
      hosts,
      gaps: shownGaps,
      gapsTotal: gaps.length,
    },
    when: {
      ...(firstRel ? { first: citeOf(firstRel) } : {}),
      ...(lastRel ? { last: citeOf(lastRel) } : {}),
      ...(deadlines ? { discoveredAt: deadlines.discovered_at } : options.discoveredAt !== undefined ? { discoveredAt: options.discoveredAt } : {}),
      excerpt,
      excerptTotal: relevantTotal,
    },
    where: { hosts: chartHosts.map((host) => { const hs = hostStats.get(host); return { host, records: hs?.records ?? 0, sources: uniqSorted(hs?.sources ?? []), ...(hs?.first ? { first: hs.first } : {}), ...(hs?.last ? { last: hs.last } : {}) }; }) },
    who: {
      users: shownUsers.map((u) => ({ user: u.user, hosts: uniqSorted(u.hosts), logons: u.logons, failed: u.failed, fileAccesses: u.fileAccesses, cites: u.first.map(citeOf) })),
      sources: shownSources.map((x) => ({ from: x.from, hosts: uniqSorted(x.hosts), successes: x.successes, failures: x.failures, users: uniqSorted(x.users).slice(0, LISTED_NAMES), usersTotal: x.users.size, cites: x.first.map(citeOf) })),
      usb: shownUsb,
      usersTotal: users.size,
      sourcesTotal: sources.size,
      usbTotal: usbRows.size,
    },
    what: { files: shownFiles, filesTotal: files.length, sensitiveConfigured, otherFiles },
    ran: {
      programs: shownPrograms,
      programsTotal: activity.programs.length,
      runs: activity.runs,
      commands: shownCommands,
      commandsTotal: activity.commands.length,
      baselineMinutes,
      ...(activity.focus !== undefined ? { focus: { ...interest, ...activity.focus } } : {}),
      trees: shownTrees,
      treesTotal: ancestry.groups.length,
      bootMarkers: ancestry.bootMarkers,
      unmarkedHosts: ancestry.unmarkedHosts,
    },
    went: { transfers: shownTransfers, transfersTotal: activity.transfers.length, shares: shownShares, sharesTotal: activity.shares.length, internalRanges, uploadThreshold },
    how,
    howTotal: patterns.length,
    howTotals,
    why,
    regulator: { ...(deadlines ? { deadlines } : {}), checklist, items },
    chart: { hosts: chartHosts, hourly: hourlyRows, sessions: shownSessions, sessionsTotal: sessions.length, markers: how.map((p) => ({ time: p.time, host: p.host, code: p.code })) },
    tables: { logons: logonRows, logonsTotal },
    evidence: [...evidence.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq)),
  };
}
