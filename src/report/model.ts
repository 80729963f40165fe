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
 */
import type { BundleManifest } from '../bundle/manifest.js';
import type { TimelineEntry } from '../bundle/timeline.js';
import { ppcDeadlines, type PpcDeadlines } from './deadlines.js';
import { GlobSet } from './glob.js';

export const REPORT_MODEL_VERSION = 1 as const;

// --- inputs ----------------------------------------------------------------------------------

/** What `verifyBundle` says now (a subset, so the model does not depend on the collector). */
export interface ReportVerification {
  ok: boolean;
  tsa: { status: string; gen_time?: string };
  custody?: { entries: number; actions: string[]; head?: { index: number; sha256: string } };
  findings: ReadonlyArray<{ code: string; severity: 'error' | 'warning'; message: string; where: string }>;
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
  /** The timeline in time order (timeline/timeline.jsonl). */
  entries: Iterable<TimelineEntry>;
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
  params: Record<string, Param>;
  cites: Cite[];
  /** All the evidence there is, when more than `cites` holds. */
  citesTotal: number;
}

export type PatternType = 'sensitive_then_usb' | 'sensitive_during_usb' | 'new_usb_serial' | 'failed_then_success' | 'new_logon_source' | 'anti_forensics' | 'off_hours';

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
  users: string[];
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
  /** Always true: a person completes and signs off every item. */
  toComplete: boolean;
}

export interface ReportModel {
  version: typeof REPORT_MODEL_VERSION;
  generatedAt: string;
  case: { id: string; examiner?: string; note?: string };
  collector: { host: string; version: string; fingerprint: string; started_at: string; sealed_at?: string };
  manifestSha256?: string;
  options: { sensitive: string[]; usbWindowMinutes: number; failedLogonThreshold: number; bruteForceWindowMinutes: number; workingHours?: WorkingHours };
  integrity: {
    /** Verification now; undefined when the report was made without one (e.g. inside collect, before sealing). */
    now?: { ok: boolean; tsa: { status: string; gen_time?: string }; custody?: ReportVerification['custody']; findings: ReportVerification['findings'] };
    tsa?: { url: string };
    hosts: HostIntegrity[];
    gaps: Gap[];
  };
  when: { first?: Cite; last?: Cite; discoveredAt?: string; excerpt: ExcerptRow[]; excerptTotal: number };
  where: { hosts: Array<{ host: string; records: number; sources: string[]; first?: string; last?: string }> };
  who: {
    users: Array<{ user: string; hosts: string[]; logons: number; failed: number; fileAccesses: number; cites: Cite[] }>;
    sources: Array<{ from: string; hosts: string[]; successes: number; failures: number; users: string[]; cites: Cite[] }>;
    usb: UsbDeviceRow[];
  };
  what: { files: FileRow[]; sensitiveConfigured: boolean; otherFiles: number };
  how: Pattern[];
  why: Statement[];
  regulator: { deadlines?: PpcDeadlines; checklist: ChecklistItem[]; items: FinalReportItem[] };
  chart: {
    hosts: string[];
    /** Hour buckets `YYYY-MM-DDTHH` with counts per host. */
    hourly: Array<{ hour: string; host: string; count: number }>;
    sessions: UsbSession[];
    markers: Array<{ time: string; host: string; code: PatternType }>;
  };
  tables: { logons: LogonRow[]; logonsTotal: number };
  /** Every cited record once, for the evidence index. */
  evidence: Array<Cite & { store_id: string; message: string }>;
}

// --- helpers ---------------------------------------------------------------------------------

type Payload = Record<string, unknown>;

function s(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

function citeOf(e: TimelineEntry): Cite {
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

const KEPT_KINDS = new Set(['usb.connect', 'usb.disconnect', 'usb.present', 'file.access', 'file.change', 'auth.logon', 'agent.gap', 'agent.stop', 'agent.start', 'clock.anomaly']);
/** Kinds that are "relevant events" for When (the agent's heartbeats and raw lines are not). */
const RELEVANT_KINDS = new Set(['usb.connect', 'usb.disconnect', 'usb.present', 'file.access', 'file.change', 'auth.logon', 'agent.gap', 'agent.stop', 'clock.anomaly']);

class Citations {
  constructor(private readonly limit: number) {}
  make(code: string, params: Record<string, Param>, entries: readonly TimelineEntry[]): Statement {
    return { code, params, cites: entries.slice(0, this.limit).map(citeOf), citesTotal: entries.length };
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

const LOG_PATH = /^\/var\/log\/|\\Windows\\System32\\winevt\\Logs\\/i;
const DESTRUCTIVE_OPS = /delete|unlink|truncate|rename|remove/i;

function inWorkingHours(ts: string, wh: WorkingHours): boolean {
  const local = new Date(ms(ts) + wh.utcOffsetMinutes * 60_000);
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60;
  return wh.days.includes(local.getUTCDay()) && hour >= wh.start && hour < wh.end;
}

// --- the builder -----------------------------------------------------------------------------

export function buildReportModel(input: ReportInput, options: ReportOptions): ReportModel {
  const m = input.manifest;
  const citeLimit = options.citeLimit ?? 25;
  const C = new Citations(citeLimit);
  const usbWindowMinutes = options.usbWindowMinutes ?? 60;
  const failedLogonThreshold = options.failedLogonThreshold ?? 3;
  const bruteForceWindowMinutes = options.bruteForceWindowMinutes ?? 60;
  const sensitive = new GlobSet(options.sensitive ?? []);
  const sensitiveConfigured = (options.sensitive ?? []).length > 0;

  // One pass: keep what the patterns need, count the rest.
  const kept: TimelineEntry[] = [];
  const hourly = new Map<string, number>();
  const hostStats = new Map<string, { records: number; sources: Set<string>; first?: string; last?: string }>();
  for (const e of input.entries) {
    const hk = `${e.datetime.slice(0, 13)}\u0000${e.host}`;
    hourly.set(hk, (hourly.get(hk) ?? 0) + 1);
    let hs = hostStats.get(e.host);
    if (hs === undefined) hostStats.set(e.host, (hs = { records: 0, sources: new Set() }));
    hs.records++;
    if (e.source !== '') hs.sources.add(e.source);
    if (hs.first === undefined || e.datetime < hs.first) hs.first = e.datetime;
    if (hs.last === undefined || e.datetime > hs.last) hs.last = e.datetime;
    if (KEPT_KINDS.has(e.kind)) kept.push(e);
  }
  kept.sort((a, b) => (a.datetime < b.datetime ? -1 : a.datetime > b.datetime ? 1 : a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq));

  const patterns: Pattern[] = [];
  const addPattern = (code: PatternType, host: string, time: string, params: Record<string, Param>, ev: readonly TimelineEntry[]): void => {
    patterns.push({ ...C.make(code, params, ev), code, host, time });
  };

  // --- USB: devices, sessions, first sightings ---
  const usbRows = new Map<string, UsbDeviceRow>();
  const sessions: UsbSession[] = [];
  const openSessions = new Map<string, { session: UsbSession; entries: TimelineEntry[] }>();
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
      openSessions.set(sessKey, { session, entries: [e] });
    } else if (e.kind === 'usb.disconnect') {
      const open = openSessions.get(sessKey);
      if (open !== undefined) {
        open.session.end = e.datetime;
        open.session.cites.push(citeOf(e));
        openSessions.delete(sessKey);
      } else {
        sessions.push({ host: e.host, device: dev.key, mass_storage: mass, start: e.datetime, end: e.datetime, cites: [citeOf(e)] });
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
  const fileRows = new Map<string, FileRow>();
  const sensitiveByHost = new Map<string, TimelineEntry[]>();
  let otherFiles = 0;
  const otherFileKeys = new Set<string>();
  for (const e of kept) {
    if (e.kind !== 'file.access' && e.kind !== 'file.change') continue;
    const path = s(e.payload['path']) ?? '';
    const glob = sensitive.match(path);
    if (glob === undefined) {
      const k = `${e.host}\u0000${path}`;
      if (!otherFileKeys.has(k)) {
        otherFileKeys.add(k);
        otherFiles++;
      }
      if (sensitiveConfigured) continue;
    } else pushTo(sensitiveByHost, e.host, e);
    const key = `${e.host}\u0000${path}`;
    let row = fileRows.get(key);
    if (row === undefined) {
      row = { path, host: e.host, ...(glob !== undefined ? { glob } : {}), count: 0, failed: 0, users: [], operations: [], first: e.datetime, last: e.datetime, cites: [] };
      fileRows.set(key, row);
    }
    row.count++;
    if (e.payload['success'] === false) row.failed++;
    const actor = actorOf(e.payload);
    if (actor !== undefined && !row.users.includes(actor)) row.users.push(actor);
    const op = s(e.payload['operation']);
    if (op !== undefined && !row.operations.includes(op)) row.operations.push(op);
    row.last = e.datetime;
    if (row.cites.length < citeLimit) row.cites.push(citeOf(e));
  }
  const files = [...fileRows.values()].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.path < b.path ? -1 : 1));
  if (!sensitiveConfigured) otherFiles = 0;

  // Sensitive reads before / during a USB storage session on the same host.
  const windowMs = usbWindowMinutes * 60_000;
  const usbEntryByKey = new Map(kept.filter((e) => e.kind.startsWith('usb.')).map((e) => [`${e.host}\u0000${e.seq}`, e] as const));
  for (const sess of sessions) {
    if (!sess.mass_storage) continue;
    const reads = (sensitiveByHost.get(sess.host) ?? []).filter((e) => e.payload['success'] !== false);
    const start = ms(sess.start);
    const end = sess.end !== undefined ? ms(sess.end) : Number.POSITIVE_INFINITY;
    const beforeReads = reads.filter((e) => ms(e.datetime) >= start - windowMs && ms(e.datetime) <= start);
    const duringReads = reads.filter((e) => ms(e.datetime) > start && ms(e.datetime) <= end);
    const connectEntry = usbEntryByKey.get(`${sess.host}\u0000${sess.cites[0]?.seq ?? -1}`);
    const common = (rs: TimelineEntry[]): Record<string, Param> => ({
      device: sess.device,
      connected_at: sess.start,
      ...(sess.end !== undefined ? { disconnected_at: sess.end } : {}),
      files: uniqSorted(rs.map((e) => s(e.payload['path']) ?? '')),
      users: uniqSorted(rs.map((e) => actorOf(e.payload) ?? '?')),
      reads: rs.length,
      first_read: rs[0]?.datetime ?? '',
      window_minutes: usbWindowMinutes,
    });
    if (beforeReads.length > 0) addPattern('sensitive_then_usb', sess.host, sess.start, common(beforeReads), [...beforeReads, ...(connectEntry ? [connectEntry] : [])]);
    if (duringReads.length > 0) addPattern('sensitive_during_usb', sess.host, duringReads[0]?.datetime ?? sess.start, common(duringReads), [...(connectEntry ? [connectEntry] : []), ...duringReads]);
  }

  // --- logons ---
  const logons = kept.filter((e) => e.kind === 'auth.logon');
  const failuresBySource = new Map<string, TimelineEntry[]>();
  const seenSources = new Set<string>();
  const logonRows: LogonRow[] = [];
  const bfWindow = bruteForceWindowMinutes * 60_000;
  for (const e of logons) {
    const p = e.payload;
    const from = s(p['from_ip']) ?? s(p['from_host']);
    const success = p['success'] === true;
    const user = actorOf(p);
    logonRows.push({ time: e.datetime, host: e.host, ...(user !== undefined ? { user } : {}), ...(from !== undefined ? { from } : {}), service: s(p['service']) ?? '?', action: s(p['action']) ?? '?', success, ...(s(p['method']) !== undefined ? { method: s(p['method']) as string } : {}), cite: citeOf(e) });
    if (from === undefined) continue;
    const key = `${e.host}\u0000${from}`;
    if (!success) {
      pushTo(failuresBySource, key, e);
    } else {
      const fails = (failuresBySource.get(key) ?? []).filter((f) => ms(e.datetime) - ms(f.datetime) <= bfWindow);
      if (fails.length >= failedLogonThreshold) {
        addPattern('failed_then_success', e.host, e.datetime, { from, user: user ?? '?', failures: fails.length, first_failure: fails[0]?.datetime ?? '', failed_users: uniqSorted(fails.map((f) => actorOf(f.payload) ?? '?')), window_minutes: bruteForceWindowMinutes }, [...fails, e]);
        failuresBySource.set(key, []);
      }
      const successKey = `${e.host}\u0000${from}\u0000ok`;
      if (!seenSources.has(successKey)) {
        seenSources.add(successKey);
        addPattern('new_logon_source', e.host, e.datetime, { from, user: user ?? '?', evidence_since: hostStats.get(e.host)?.first ?? e.datetime }, [e]);
      }
    }
  }

  // --- gaps, stops, deletions: where evidence may be missing ---
  const gaps: Gap[] = [];
  const lastStop = new Map<string, TimelineEntry>();
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
    const byHostDay = new Map<string, TimelineEntry[]>();
    for (const e of kept) {
      const isActivity = (e.kind === 'auth.logon' && e.payload['success'] === true) || e.kind === 'usb.connect' || ((e.kind === 'file.access' || e.kind === 'file.change') && (!sensitiveConfigured || sensitive.match(s(e.payload['path']) ?? '') !== undefined));
      if (!isActivity || inWorkingHours(e.datetime, wh)) continue;
      const localDay = new Date(ms(e.datetime) + wh.utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
      pushTo(byHostDay, `${e.host}\u0000${localDay}`, e);
    }
    for (const [key, evs] of byHostDay) {
      const [host, day] = key.split('\u0000') as [string, string];
      addPattern('off_hours', host, evs[0]?.datetime ?? '', { day, events: evs.length, kinds: uniqSorted(evs.map((e) => e.kind)), start: wh.start, end: wh.end, utc_offset_minutes: wh.utcOffsetMinutes }, evs);
    }
  }
  patterns.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.code < b.code ? -1 : 1));

  // --- who ---
  const users = new Map<string, { user: string; hosts: Set<string>; logons: number; failed: number; fileAccesses: number; entries: TimelineEntry[] }>();
  const sources = new Map<string, { from: string; hosts: Set<string>; successes: number; failures: number; users: Set<string>; entries: TimelineEntry[] }>();
  for (const e of kept) {
    if (e.kind !== 'auth.logon' && e.kind !== 'file.access' && e.kind !== 'file.change') continue;
    if (e.kind !== 'auth.logon' && sensitiveConfigured && sensitive.match(s(e.payload['path']) ?? '') === undefined) continue;
    const actor = actorOf(e.payload);
    if (actor !== undefined) {
      let u = users.get(actor);
      if (u === undefined) users.set(actor, (u = { user: actor, hosts: new Set(), logons: 0, failed: 0, fileAccesses: 0, entries: [] }));
      u.hosts.add(e.host);
      if (e.kind === 'auth.logon') {
        if (e.payload['success'] === true) u.logons++;
        else u.failed++;
      } else u.fileAccesses++;
      u.entries.push(e);
    }
    const from = e.kind === 'auth.logon' ? (s(e.payload['from_ip']) ?? s(e.payload['from_host'])) : undefined;
    if (from !== undefined) {
      let src = sources.get(from);
      if (src === undefined) sources.set(from, (src = { from, hosts: new Set(), successes: 0, failures: 0, users: new Set(), entries: [] }));
      src.hosts.add(e.host);
      if (e.payload['success'] === true) src.successes++;
      else src.failures++;
      if (actor !== undefined) src.users.add(actor);
      src.entries.push(e);
    }
  }

  // --- why: the questions the evidence raises ---
  const why: Statement[] = [];
  for (const p of patterns) {
    switch (p.code) {
      case 'sensitive_then_usb':
      case 'sensitive_during_usb':
        why.push({ code: 'q.usb_purpose', params: { users: p.params['users'] ?? [], device: p.params['device'] ?? '', host: p.host, files: p.params['files'] ?? [] }, cites: p.cites, citesTotal: p.citesTotal });
        why.push({ code: 'q.usb_owner', params: { device: p.params['device'] ?? '', host: p.host }, cites: p.cites.filter((c) => c.kind.startsWith('usb.')), citesTotal: 1 });
        break;
      case 'failed_then_success':
        why.push({ code: 'q.source_known', params: { from: p.params['from'] ?? '', user: p.params['user'] ?? '', host: p.host }, cites: p.cites.slice(-1), citesTotal: 1 });
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
  }));

  // --- when ---
  const citedKeys = new Map<string, PatternType[]>();
  for (const p of patterns) for (const c of p.cites) pushTo(citedKeys, `${c.host}\u0000${c.seq}`, p.code);
  const relevant = kept.filter((e) => RELEVANT_KINDS.has(e.kind) && (!sensitiveConfigured || (e.kind !== 'file.access' && e.kind !== 'file.change') || sensitive.match(s(e.payload['path']) ?? '') !== undefined));
  const excerptLimit = options.excerptLimit ?? 60;
  // Every cited entry first (up to the limit), then the others in time order to fill it; shown in time order.
  const isCited = (e: TimelineEntry): boolean => citedKeys.has(`${e.host}\u0000${e.seq}`);
  const chosen = new Set(relevant.filter(isCited).slice(0, excerptLimit));
  for (const e of relevant) {
    if (chosen.size >= excerptLimit) break;
    chosen.add(e);
  }
  const excerpt: ExcerptRow[] = relevant.filter((e) => chosen.has(e)).map((e) => ({ time: e.datetime, host: e.host, kind: e.kind, message: e.message, cite: citeOf(e), patterns: uniqSorted(citedKeys.get(`${e.host}\u0000${e.seq}`) ?? []) as PatternType[] }));
  const firstRel = relevant[0];
  const lastRel = relevant[relevant.length - 1];

  // --- regulator ---
  // The report's own time says which equinox days had been proclaimed (a deadline may rest on a computed one).
  const deadlines = options.discoveredAt !== undefined ? ppcDeadlines(options.discoveredAt, options.generatedAt) : undefined;
  const malicious = patterns.filter((p) => p.code === 'sensitive_then_usb' || p.code === 'sensitive_during_usb' || p.code === 'failed_then_success');
  const checklist: ChecklistItem[] = [
    { key: 'sensitive_info', evidence: 'unknown' },
    { key: 'financial_damage', evidence: 'unknown' },
    malicious.length > 0
      ? { key: 'malicious', evidence: 'indicated', statement: { code: 'reg.malicious_indicated', params: { patterns: uniqSorted(malicious.map((p) => p.code)) }, cites: malicious.flatMap((p) => p.cites).slice(0, citeLimit), citesTotal: malicious.reduce((n, p) => n + p.citesTotal, 0) } }
      : { key: 'malicious', evidence: 'unknown' },
    { key: 'over_1000', evidence: 'unknown' },
  ];
  const sensitiveFiles = files.filter((f) => f.glob !== undefined);
  const items: FinalReportItem[] = [
    { key: 'overview', prefilled: patterns.filter((p) => p.code !== 'new_usb_serial' && p.code !== 'new_logon_source').map((p) => ({ code: `item.overview.${p.code}`, params: { host: p.host, time: p.time, ...p.params }, cites: p.cites, citesTotal: p.citesTotal })), toComplete: true },
    { key: 'data_items', prefilled: sensitiveFiles.map((f) => ({ code: 'item.data_items.file', params: { path: f.path, host: f.host, count: f.count }, cites: f.cites.slice(0, 3), citesTotal: f.count })), toComplete: true },
    { key: 'people', prefilled: [], toComplete: true },
    { key: 'cause', prefilled: malicious.map((p) => ({ code: `item.cause.${p.code}`, params: { host: p.host, time: p.time, ...p.params }, cites: p.cites, citesTotal: p.citesTotal })), toComplete: true },
    { key: 'secondary_damage', prefilled: [], toComplete: true },
    { key: 'individuals', prefilled: [], toComplete: true },
    { key: 'publication', prefilled: [], toComplete: true },
    { key: 'prevention', prefilled: [], toComplete: true },
    {
      key: 'other',
      prefilled: [
        { code: m.collector.sealed_at !== undefined ? 'item.other.preserved' : 'item.other.preserving', params: { case: m.case.id, hosts: m.hosts.length, sealed_at: m.collector.sealed_at ?? m.collector.started_at, manifest_sha256: input.manifestSha256 ?? '—', fingerprint: m.collector.key.fingerprint }, cites: [], citesTotal: 0 },
        ...(gaps.length > 0 ? [{ code: 'item.other.gaps', params: { gaps: gaps.length }, cites: gaps.flatMap((g) => g.cites).slice(0, citeLimit), citesTotal: gaps.length }] : []),
      ],
      toComplete: true,
    },
  ];

  // --- evidence index ---
  const byKey = new Map<string, TimelineEntry>();
  for (const e of kept) byKey.set(`${e.host}\u0000${e.seq}`, e);
  const allCites: Cite[] = [
    ...patterns.flatMap((p) => p.cites),
    ...gaps.flatMap((g) => g.cites),
    ...files.flatMap((f) => f.cites),
    ...[...usbRows.values()].flatMap((r) => r.cites),
    ...excerpt.map((x) => x.cite),
  ];
  const evidence = new Map<string, Cite & { store_id: string; message: string }>();
  for (const c of allCites) {
    const k = `${c.host}\u0000${c.seq}`;
    if (evidence.has(k)) continue;
    const e = byKey.get(k);
    evidence.set(k, { ...c, store_id: e?.store_id ?? '', message: e?.message ?? '' });
  }

  const chartHosts = uniqSorted(hostStats.keys());
  const hourlyRows = [...hourly.entries()].map(([k, count]) => {
    const [hour, host] = k.split('\u0000') as [string, string];
    return { hour, host, count };
  });
  hourlyRows.sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.host < b.host ? -1 : 1));

  return {
    version: REPORT_MODEL_VERSION,
    generatedAt: options.generatedAt,
    case: { ...m.case },
    collector: { host: m.collector.host, version: m.collector.version, fingerprint: m.collector.key.fingerprint, started_at: m.collector.started_at, ...(m.collector.sealed_at !== undefined ? { sealed_at: m.collector.sealed_at } : {}) },
    ...(input.manifestSha256 !== undefined ? { manifestSha256: input.manifestSha256 } : {}),
    options: { sensitive: [...(options.sensitive ?? [])], usbWindowMinutes, failedLogonThreshold, bruteForceWindowMinutes, ...(options.workingHours ? { workingHours: options.workingHours } : {}) },
    integrity: {
      ...(input.verification ? { now: { ok: input.verification.ok, tsa: input.verification.tsa, ...(input.verification.custody ? { custody: input.verification.custody } : {}), findings: input.verification.findings } } : {}),
      ...(m.tsa ? { tsa: { url: m.tsa.url } } : {}),
      hosts,
      gaps,
    },
    when: {
      ...(firstRel ? { first: citeOf(firstRel) } : {}),
      ...(lastRel ? { last: citeOf(lastRel) } : {}),
      ...(deadlines ? { discoveredAt: deadlines.discovered_at } : options.discoveredAt !== undefined ? { discoveredAt: options.discoveredAt } : {}),
      excerpt,
      excerptTotal: relevant.length,
    },
    where: { hosts: chartHosts.map((host) => { const hs = hostStats.get(host); return { host, records: hs?.records ?? 0, sources: uniqSorted(hs?.sources ?? []), ...(hs?.first ? { first: hs.first } : {}), ...(hs?.last ? { last: hs.last } : {}) }; }) },
    who: {
      users: [...users.values()].sort((a, b) => (a.user < b.user ? -1 : 1)).map((u) => ({ user: u.user, hosts: uniqSorted(u.hosts), logons: u.logons, failed: u.failed, fileAccesses: u.fileAccesses, cites: u.entries.slice(0, citeLimit).map(citeOf) })),
      sources: [...sources.values()].sort((a, b) => (a.from < b.from ? -1 : 1)).map((x) => ({ from: x.from, hosts: uniqSorted(x.hosts), successes: x.successes, failures: x.failures, users: uniqSorted(x.users), cites: x.entries.slice(0, citeLimit).map(citeOf) })),
      usb: [...usbRows.values()].sort((a, b) => (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : a.device < b.device ? -1 : 1)),
    },
    what: { files, sensitiveConfigured, otherFiles },
    how: patterns,
    why,
    regulator: { ...(deadlines ? { deadlines } : {}), checklist, items },
    chart: { hosts: chartHosts, hourly: hourlyRows, sessions, markers: patterns.map((p) => ({ time: p.time, host: p.host, code: p.code })) },
    tables: { logons: logonRows.slice(0, 1000), logonsTotal: logonRows.length },
    evidence: [...evidence.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq)),
  };
}
