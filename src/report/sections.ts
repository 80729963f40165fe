/**
 * The parts of the report model, one function each, in the order buildReportModel (model.ts) runs
 * them: what the kept timeline entries say about USB devices, files, logons, gaps and working
 * hours (each adds its patterns through the context), who acted, the questions the shown patterns
 * raise, the excerpt of relevant events, the regulator's items and the evidence index. Pure.
 */
import { ppcDeadlines, type PpcDeadlines } from './deadlines.js';
import type { GlobSet } from './glob.js';
import type { KeptEntry, ReportEntryPass } from './kept.js';
import { actorOf, bound, capRows, type Citations, citeOf, copyListParam, inWorkingHours, isMassStorage, listParam, LISTED_NAMES, ms, pushTo, recordKey, s, uniqSorted, usbDevice } from './kit.js';
import type {
  ChecklistItem,
  Cite,
  ExcerptRow,
  FileRow,
  FinalReportItem,
  Gap,
  LogonRow,
  Param,
  Pattern,
  PatternType,
  ReportInput,
  Statement,
  UsbDeviceRow,
  UsbSession,
  WorkingHours,
} from './model.js';

/** Rows of the logon table: in time order, the first ones (tables/logons.csv has them all). */
const LOGON_TABLE_LIMIT = 1000;
/** Kinds that are "relevant events" for When (the agent's heartbeats and raw lines are not). */
const RELEVANT_KINDS = new Set(['usb.connect', 'usb.disconnect', 'usb.present', 'file.access', 'file.change', 'auth.logon', 'agent.gap', 'agent.stop', 'clock.anomaly']);
const LOG_PATH = /^\/var\/log\/|\\Windows\\System32\\winevt\\Logs\\/i;
const DESTRUCTIVE_OPS = /delete|unlink|truncate|rename|remove/i;
/** Patterns that point to a wrongful purpose (the regulator's Art. 7(iii)). */
export const MALICIOUS: ReadonlySet<PatternType> = new Set(['sensitive_then_usb', 'sensitive_during_usb', 'failed_then_success', 'archive_then_usb', 'archive_then_upload']);
/** Patterns that are context (a first sighting), not part of the overview. */
export const CONTEXT: ReadonlySet<PatternType> = new Set(['new_usb_serial', 'new_logon_source', 'new_executable']);

/** What every part reads, and how it adds a pattern. */
export interface ModelContext {
  /** The kept entries, in time order. */
  kept: readonly KeptEntry[];
  hostStats: ReportEntryPass['hostStats'];
  citeLimit: number;
  C: Citations;
  sensitive: GlobSet;
  sensitiveConfigured: boolean;
  addPattern: (code: PatternType, host: string, time: string, params: Record<string, Param>, ev: readonly KeptEntry[], total?: number) => void;
}

/** USB: devices, sessions, first sightings (new_usb_serial). */
export function readUsb(ctx: ModelContext): { usbRows: Map<string, UsbDeviceRow>; sessions: UsbSession[]; sessionFirst: Map<UsbSession, KeptEntry> } {
  const { kept, hostStats, citeLimit, addPattern } = ctx;
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
  return { usbRows, sessions, sessionFirst };
}

/** Files: every file accessed (or, with --sensitive, every sensitive one), and the sensitive reads per host for the USB windows. */
export function readFiles(ctx: ModelContext): { files: FileRow[]; otherFiles: number; readsByHost: Map<string, { entries: KeptEntry[]; times: number[] }> } {
  const { kept, citeLimit, sensitive, sensitiveConfigured } = ctx;
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
  
  return { files, otherFiles, readsByHost };
}

/** Sensitive reads before / during a USB storage session on the same host (sensitive_then_usb, sensitive_during_usb). */
export function sensitiveReadsAroundUsb(
  ctx: ModelContext,
  usb: { sessions: readonly UsbSession[]; sessionFirst: ReadonlyMap<UsbSession, KeptEntry> },
  readsByHost: ReadonlyMap<string, { entries: KeptEntry[]; times: number[] }>,
  usbWindowMinutes: number,
): void {
  const { citeLimit, addPattern } = ctx;
  const { sessions, sessionFirst } = usb;
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
}

/** Logons: the logon table's first rows, failed_then_success and new_logon_source. */
export function readLogons(ctx: ModelContext, failedLogonThreshold: number, bruteForceWindowMinutes: number): { logonRows: LogonRow[]; logonsTotal: number } {
  const { kept, hostStats, citeLimit, addPattern } = ctx;
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
  return { logonRows, logonsTotal };
}

/** Gaps, stops, deletions: where evidence may be missing (and anti_forensics). */
export function readGaps(ctx: ModelContext): Gap[] {
  const { kept, C, addPattern } = ctx;
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
  return gaps;
}

/** Activity outside working hours (off_hours), per host and local day. */
export function offHoursPatterns(ctx: ModelContext, wh: WorkingHours): void {
  const { kept, citeLimit, sensitive, sensitiveConfigured, addPattern } = ctx;
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

/** A user's part in the evidence: logons, failures, file accesses, and the first records citing them. */
export interface UserActivity { user: string; hosts: Set<string>; logons: number; failed: number; fileAccesses: number; first: KeptEntry[] }
/** A logon source's part: successes, failures, users, and the first records citing them. */
export interface SourceActivity { from: string; hosts: Set<string>; successes: number; failures: number; users: Set<string>; first: KeptEntry[] }

/**
 * Which patterns to show: at most rowLimit of each kind, in time order (`patterns` already is).
 * Per kind, what an investigator needs first: the earliest (where the incident starts); but for
 * off_hours the host-days with the most events, and for new_logon_source first the sources that
 * also succeeded after failed logons (failed_then_success on the same host).
 */
export function choosePatterns(patterns: readonly Pattern[], rowLimit: number): { how: Pattern[]; howTotals: Partial<Record<PatternType, number>> } {
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
  return { how, howTotals };
}

/** What the shown patterns name and cite, each as the key its list is searched by. */
export interface Named {
  users: Set<string>;
  sources: Set<string>;
  files: Set<string>;
  devices: Set<string>;
  sessions: Set<string>;
  records: Set<string>;
}

/**
 * What the shown patterns name and cite: those rows are shown in every list, whatever its limit.
 * Not the users a failed_then_success lists as tried: a spray names hundreds of accounts, and
 * the pattern is about its source and the account that logged on.
 */
export function namedBy(how: readonly Pattern[]): Named {
  const named: Named = { users: new Set<string>(), sources: new Set<string>(), files: new Set<string>(), devices: new Set<string>(), sessions: new Set<string>(), records: new Set<string>() };
  for (const p of how) {
    for (const k of ['users', 'user']) for (const u of [p.params[k] ?? []].flat()) named.users.add(String(u));
    if (typeof p.params['from'] === 'string') named.sources.add(p.params['from']);
    for (const f of [p.params['files'] ?? [], p.params['path'] ?? []].flat()) named.files.add(`${p.host}\u0000${String(f)}`);
    for (const k of ['device', 'serial']) if (typeof p.params[k] === 'string') named.devices.add(p.params[k]);
    if (p.code === 'sensitive_then_usb' || p.code === 'sensitive_during_usb') named.sessions.add(`${p.host}\u0000${String(p.params['device'])}\u0000${String(p.params['connected_at'])}`);
    for (const c of p.cites) named.records.add(recordKey(c.host, c.seq));
  }
  return named;
}

/** Who: per user and per logon source, counts and the first `citeLimit` records (all that `cites` shows). */
export function readWho(ctx: ModelContext): { users: Map<string, UserActivity>; sources: Map<string, SourceActivity> } {
  const { kept, citeLimit, sensitive, sensitiveConfigured } = ctx;
  const users = new Map<string, UserActivity>();
  const sources = new Map<string, SourceActivity>();
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
  return { users, sources };
}

/** Why: the questions the shown patterns raise, and the two every case raises. */
export function questionsOf(how: readonly Pattern[], files: readonly FileRow[], sensitiveConfigured: boolean): Statement[] {
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
  return why;
}

/** When: the first and last relevant events, and an excerpt of them (every cited one first, up to `excerptLimit`). */
export function whenExcerpt(
  ctx: ModelContext,
  how: readonly Pattern[],
  excerptLimit: number,
): { excerpt: ExcerptRow[]; relevantTotal: number; firstRel: KeptEntry | undefined; lastRel: KeptEntry | undefined } {
  const { kept, sensitive, sensitiveConfigured } = ctx;
  const citedKeys = new Map<string, PatternType[]>();
  for (const p of how) for (const c of p.cites) pushTo(citedKeys, recordKey(c.host, c.seq), p.code);
  const isRelevant = (e: KeptEntry): boolean => (e.kind === 'process.exec' || e.kind === 'net.access' ? citedKeys.has(recordKey(e.host, e.seq)) : RELEVANT_KINDS.has(e.kind)) && (!sensitiveConfigured || (e.kind !== 'file.access' && e.kind !== 'file.change') || sensitive.match(s(e.payload['path']) ?? '') !== undefined);
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
  return { excerpt, relevantTotal, firstRel, lastRel };
}

/** The regulator's part: PPC deadlines, the checklist (every pattern found weighs) and the final report's items. */
export function regulatorOf(r: {
  input: Pick<ReportInput, 'manifest' | 'manifestSha256'>;
  discoveredAt: string | undefined;
  generatedAt: string;
  patterns: readonly Pattern[];
  how: readonly Pattern[];
  howTotals: Partial<Record<PatternType, number>>;
  files: readonly FileRow[];
  shownFiles: readonly FileRow[];
  gaps: readonly Gap[];
  shownGaps: readonly Gap[];
  rowLimit: number;
  citeLimit: number;
}): { deadlines: PpcDeadlines | undefined; checklist: ChecklistItem[]; items: FinalReportItem[] } {
  const { patterns, how, howTotals, files, shownFiles, gaps, shownGaps, rowLimit, citeLimit } = r;
  const m = r.input.manifest;
  const input = r.input;
  const options = { discoveredAt: r.discoveredAt, generatedAt: r.generatedAt };
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
  return { deadlines, checklist, items };
}

/** The evidence index: each cited record once, with its store id and message from the kept entries. */
export function evidenceIndex(allCites: readonly Cite[], kept: readonly KeptEntry[]): (Cite & { store_id: string; message: string })[] {
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
  return [...evidence.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.seq - b.seq));
}
