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
import { DEFAULT_INTERNAL_RANGES } from '../net/cidr.js';
import type { PpcDeadlines } from './deadlines.js';
import { readActivity, type CommandRow, type ProgramRow, type ShareRow, type TransferRow, type UsbStorageConnect } from './activity.js';
import { readAncestry, type AncestryGroup, type AncestryRow } from './ancestry.js';
import { GlobSet } from './glob.js';
import { interestFilter } from './interest.js';
import { DEFAULT_MAX_EVENTS, ReportEntryPass, type KeptEntry } from './kept.js';
import { capRows, Citations, citeOf, LISTED_NAMES, recordKey, uniqSorted } from './kit.js';
import { DEFAULT_UPLOAD_THRESHOLD, internalSet } from './net-options.js';
import {
  choosePatterns,
  evidenceIndex,
  namedBy,
  offHoursPatterns,
  questionsOf,
  readFiles,
  readGaps,
  readLogons,
  readUsb,
  readWho,
  regulatorOf,
  sensitiveReadsAroundUsb,
  whenExcerpt,
  type ModelContext,
} from './sections.js';
import type { RejectedRow, TimelineRow } from './timeline-input.js';

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

export { DEFAULT_MAX_EVENTS, KB_PER_EVENT, REJECTED_SHOWN, ReportEntryPass, reportReadsPayloadOf } from './kept.js';
export { LISTED_NAMES } from './kit.js';

/** Default `rowLimit`: a table a person reads through (and an HTML file a browser opens at once). */
export const DEFAULT_ROW_LIMIT = 200;

// --- the builder -----------------------------------------------------------------------------

/**
 * The model: one pass over the timeline (kept.ts), then each part of the evidence read in turn
 * (sections.ts), then the rows each list shows, chosen by what an investigator needs first.
 */
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
  const ctx: ModelContext = { kept, hostStats, citeLimit, C, sensitive, sensitiveConfigured, addPattern };

  // What the evidence says, part by part; each adds its patterns.
  const { usbRows, sessions, sessionFirst } = readUsb(ctx);
  const { files, otherFiles, readsByHost } = readFiles(ctx);
  sensitiveReadsAroundUsb(ctx, { sessions, sessionFirst }, readsByHost, usbWindowMinutes);
  readsByHost.clear();
  const { logonRows, logonsTotal } = readLogons(ctx, failedLogonThreshold, bruteForceWindowMinutes);

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


  const gaps = readGaps(ctx);
  if (options.workingHours !== undefined) offHoursPatterns(ctx, options.workingHours);
  patterns.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.code < b.code ? -1 : 1));
  const { how, howTotals } = choosePatterns(patterns, rowLimit);
  const named = namedBy(how);

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
  const { users, sources } = readWho(ctx);
  // Users: the most active (logons, failures, file accesses), then by name; shown by name.
  const userRows = [...users.values()].sort((a, b) => (a.user < b.user ? -1 : 1));
  const shownUsers = capRows(userRows, rowLimit, (a, b) => b.logons + b.failed + b.fileAccesses - (a.logons + a.failed + a.fileAccesses) || (a.user < b.user ? -1 : 1), (u) => named.users.has(u.user));
  // Sources: the most logon attempts (failures + successes), then by address; shown by address.
  const sourceRows = [...sources.values()].sort((a, b) => (a.from < b.from ? -1 : 1));
  const shownSources = capRows(sourceRows, rowLimit, (a, b) => b.failures + b.successes - (a.failures + a.successes) || (a.from < b.from ? -1 : 1), (x) => named.sources.has(x.from));

  const why = questionsOf(how, files, sensitiveConfigured);

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

  const { excerpt, relevantTotal, firstRel, lastRel } = whenExcerpt(ctx, how, options.excerptLimit ?? 60);
  const { deadlines, checklist, items } = regulatorOf({ input, discoveredAt: options.discoveredAt, generatedAt: options.generatedAt, patterns, how, howTotals, files, shownFiles, gaps, shownGaps, rowLimit, citeLimit });

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
  const evidence = evidenceIndex(allCites, kept);

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
    evidence,
  };
}
