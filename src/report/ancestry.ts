/**
 * The ancestry of the program runs worth it (a known tool, a first-seen executable, a command line
 * naming sensitive paths): its parent, grandparent … as far as the evidence links them
 * (src/report/process-tree.ts), each step cited. Pure: entries in, rows out.
 *
 * Boots. A process id names a process only within one boot, so a link by pid (auditd, Windows
 * 4688) is made only within one boot as the evidence marks it on that host:
 * - the agent's own account of itself: `agent.start`, `agent.stop` and `agent.gap` (the host may
 *   have restarted while the agent was not reading; a restart of the agent alone is taken as a
 *   possible reboot too, which only costs a link);
 * - the audit event serial starting over (`msg=audit(TIME:SERIAL)`): the kernel numbers events
 *   from boot, so a serial lower than the one before it on the host means a reboot in between.
 * A host whose evidence has no marker is named (`unmarkedHosts`): there a reboot is not seen, and
 * a link by pid rests on the parent's start being the latest of that pid within the window (and,
 * where the record names the parent's image, on that image). Sysmon's process GUIDs are unique
 * across boots and need none of this.
 *
 * Where a chain stops, the row says why: the top process names no parent; its parent's start is
 * not in the evidence (or cannot be tied to it: another image, older than the window, freed by an
 * end); a start of its parent's pid is in the evidence but before a boot marker, so not linked;
 * or the chain is longer than MAX_DEPTH, or loops (hostile GUIDs can make one).
 *
 * Runs with the same program and the same parent (24 runs of 7z.exe from one cmd.exe) are one row
 * with their count.
 */
import { actorOf, citeOf, displayValue, type ActivityCite, type ActivityEntry, type NotableReason, type NotableRun } from './activity.js';
import { linkProcesses, type LinkBasis, type ProcessEvent } from './process-tree.js';

/** Most ancestors shown per run: deeper than any real session (init → sshd → sshd → bash → sudo → bash → tool). */
export const MAX_DEPTH = 16;
/** Characters of an ancestor's command line shown (the cited record holds all). */
export const ANCESTOR_LINE_CHARS = 160;

export interface AncestorStep {
  exe: string;
  pid?: number;
  user: string;
  command_line: string;
  time: string;
  /** How this process was linked as the parent of the one below it. */
  by: LinkBasis;
  cite: ActivityCite;
}

export type ChainEnd =
  | { reason: 'no_parent_named' }
  | { reason: 'not_in_evidence'; parent?: string; ppid?: number; parent_guid?: string }
  | { reason: 'other_boot'; ppid: number; parent?: string }
  | { reason: 'too_deep' }
  | { reason: 'loop' };

export interface AncestryRow {
  host: string;
  exe: string;
  why: NotableReason[];
  /** Runs with this program and these ancestors; `cites` holds the first of them. */
  runs: number;
  first: string;
  user: string;
  command_line: string;
  cites: ActivityCite[];
  /** Parent first. */
  chain: AncestorStep[];
  end: ChainEnd;
}

/**
 * A row before it is shown: what choosing the rows needs (why, when, which runs), and the chain as
 * indexes. Only the rows shown are turned into AncestryRows (`describe`): a million notable runs
 * with different parents are a million groups, and their steps' texts are made for 200 of them.
 */
export interface AncestryGroup {
  readonly host: string;
  readonly why: NotableReason[];
  runs: number;
  readonly first: string;
  readonly cites: ActivityCite[];
}

export interface Ancestry {
  groups: AncestryGroup[];
  /** The row of a group, with its steps and where its chain stops. */
  describe(group: AncestryGroup): AncestryRow;
  /** Hosts with process records and their boot markers (counted). */
  bootMarkers: Array<{ host: string; markers: number }>;
  /** Hosts with process records linked by pid whose evidence holds no boot marker. */
  unmarkedHosts: string[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

const AUDIT_ID = /^\d+(?:\.\d+)?:(\d+)$/;
const MARKER_KINDS = new Set(['agent.start', 'agent.stop', 'agent.gap']);

/** Per host, the times (ms, ascending) where a new boot may begin, from the entries in time order. */
export function bootMarkers(entries: readonly ActivityEntry[]): Map<string, number[]> {
  const markers = new Map<string, number[]>();
  const lastSerial = new Map<string, number>();
  const add = (host: string, t: number): void => {
    if (Number.isNaN(t)) return;
    const list = markers.get(host);
    if (list === undefined) markers.set(host, [t]);
    else if (list[list.length - 1] !== t) list.push(t);
  };
  for (const e of entries) {
    if (MARKER_KINDS.has(e.kind)) {
      add(e.host, Date.parse(e.datetime));
      continue;
    }
    const m = AUDIT_ID.exec(str(e.payload['audit_id']) ?? '');
    if (m === null) continue;
    const serial = Number(m[1]);
    const before = lastSerial.get(e.host);
    if (before !== undefined && serial < before) add(e.host, Date.parse(e.datetime));
    lastSerial.set(e.host, serial);
  }
  for (const list of markers.values()) list.sort((a, b) => a - b);
  return markers;
}

/** How many of the ascending `sorted` are ≤ x. */
function countAtOrBefore(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function readAncestry(entries: readonly ActivityEntry[], notable: readonly NotableRun[], citeLimit: number): Ancestry {
  const markers = bootMarkers(entries);
  const procs = entries.filter((e) => e.kind === 'process.exec');
  const index = new Map<ActivityEntry, number>();
  const segOf: number[] = [];
  // The kept payload has what the linker reads (pid, ppid, exe, parent_exe, GUIDs); its time is the entry's.
  const events: ProcessEvent[] = procs.map((e, i) => {
    index.set(e, i);
    const hostMarkers = markers.get(e.host);
    const seg = hostMarkers !== undefined ? countAtOrBefore(hostMarkers, Date.parse(e.datetime)) : 0;
    segOf.push(seg);
    return { seq: i, host: e.host, ...(hostMarkers !== undefined ? { boot: String(seg) } : {}), observedAt: e.datetime, payload: e.payload as ProcessEvent['payload'] };
  });
  const tree = linkProcesses(events, { children: false });

  // Starts per host and pid (time order), to tell a parent refused for its boot from one not in the evidence.
  const startsOfPid = new Map<string, number[]>();
  procs.forEach((e, i) => {
    const pid = num(e.payload['pid']);
    if (e.payload['action'] !== 'start' || pid === undefined) return;
    const k = `${e.host}\u0000${pid}`;
    const list = startsOfPid.get(k);
    if (list === undefined) startsOfPid.set(k, [i]);
    else list.push(i);
  });

  const step = (i: number, by: LinkBasis): AncestorStep => {
    const e = procs[i] as ActivityEntry;
    const p = e.payload;
    const pid = num(p['pid']);
    const line = str(p['command_line']) ?? '';
    const lineLength = typeof p['command_line_length'] === 'number' ? p['command_line_length'] : line.length;
    return { exe: displayValue(str(p['exe']) ?? str(p['comm']) ?? '?'), ...(pid !== undefined ? { pid } : {}), user: displayValue(actorOf(p)), command_line: displayValue(line, lineLength, ANCESTOR_LINE_CHARS), time: e.datetime, by, cite: citeOf(e) };
  };
  const endOf = (top: number): ChainEnd => {
    const e = procs[top] as ActivityEntry;
    const p = e.payload;
    const parent = str(p['parent_exe']);
    const ppid = num(p['ppid']);
    const guid = str(p['parent_process_guid']);
    if (parent === undefined && ppid === undefined && guid === undefined) return { reason: 'no_parent_named' };
    if (guid === undefined && ppid !== undefined && markers.has(e.host)) {
      const earlier = (startsOfPid.get(`${e.host}\u0000${ppid}`) ?? []).some((j) => j !== top && segOf[j] !== segOf[top] && (procs[j] as ActivityEntry).datetime <= e.datetime);
      if (earlier) return { reason: 'other_boot', ppid, ...(parent !== undefined ? { parent: displayValue(parent) } : {}) };
    }
    return { reason: 'not_in_evidence', ...(parent !== undefined ? { parent: displayValue(parent) } : {}), ...(ppid !== undefined ? { ppid } : {}), ...(guid !== undefined ? { parent_guid: displayValue(guid) } : {}) };
  };

  interface Group extends AncestryGroup {
    /** The first run of the group (its chain is every run's). */
    run: number;
  }
  // Runs with the same program and the same parent start have the same ancestors (the chain above a
  // start is fixed), so the group key needs the parent only; runs with no parent linked group by
  // the parent their records name.
  const groups = new Map<string, Group>();
  for (const run of notable) {
    const i = index.get(run.entry);
    if (i === undefined) continue;
    const e = run.entry;
    const p = e.payload;
    const link = tree.parents.get(i);
    const above = link !== undefined ? `p${link.seq}` : `n${str(p['ppid']) ?? ''}\u0000${str(p['parent_process_guid']) ?? ''}\u0000${str(p['parent_exe']) ?? ''}`;
    const key = `${e.host}\u0000${str(p['exe']) ?? str(p['comm']) ?? '?'}\u0000${above}`;
    const group = groups.get(key);
    if (group !== undefined) {
      group.runs++;
      for (const w of run.why) if (!group.why.includes(w)) group.why.push(w);
      if (group.cites.length < citeLimit) group.cites.push(citeOf(e));
      continue;
    }
    groups.set(key, { host: e.host, why: [...run.why], runs: 1, first: e.datetime, cites: [citeOf(e)], run: i });
  }

  const describe = (group: AncestryGroup): AncestryRow => {
    const g = group as Group;
    const e = procs[g.run] as ActivityEntry;
    const chain: AncestorStep[] = [];
    const seen = new Set<number>([g.run]);
    let end: ChainEnd | undefined;
    for (let cur = g.run; end === undefined; ) {
      const link = tree.parents.get(cur);
      if (link === undefined) end = endOf(cur);
      else if (seen.has(link.seq)) end = { reason: 'loop' };
      else if (chain.length >= MAX_DEPTH) end = { reason: 'too_deep' };
      else {
        seen.add(link.seq);
        chain.push(step(link.seq, link.by));
        cur = link.seq;
      }
    }
    const line = str(e.payload['command_line']) ?? '';
    const lineLength = typeof e.payload['command_line_length'] === 'number' ? e.payload['command_line_length'] : line.length;
    return { host: g.host, exe: displayValue(str(e.payload['exe']) ?? str(e.payload['comm']) ?? '?'), why: [...g.why], runs: g.runs, first: g.first, user: displayValue(actorOf(e.payload)), command_line: displayValue(line, lineLength), cites: [...g.cites], chain, end };
  };

  const hosts = [...new Set(procs.map((e) => e.host))].sort();
  const pidHosts = new Set(procs.filter((e) => e.payload['parent_process_guid'] === undefined && num(e.payload['ppid']) !== undefined).map((e) => e.host));
  return {
    groups: [...groups.values()],
    describe,
    bootMarkers: hosts.map((host) => ({ host, markers: markers.get(host)?.length ?? 0 })),
    unmarkedHosts: hosts.filter((h) => pidHosts.has(h) && !markers.has(h)),
  };
}
