/**
 * Process trees: which `process.exec` start was whose parent, and which end closed which start,
 * as far as the evidence allows. Pure: records in, links out; for the report's "What ran".
 *
 * How a link is made, strongest first, and never guessed beyond it:
 * - `process_guid`: Sysmon names each process and its parent by a GUID that is unique per host and
 *   never reused, so a child's parent_process_guid is its parent's process_guid on the same host.
 *   When a child names a parent GUID that is not in the evidence, it stays unlinked (no pid guess).
 * - `pid`: Security 4688 and auditd give only pid and ppid, and pids are reused (on Windows within
 *   minutes). The parent is the latest start of that pid on the same host (and boot, when the
 *   records say which) before the child, provided
 *   - no end of that pid lies between the two (the pid was free, so it is someone else's),
 *   - the child started within `pidWindowMs` of it (an end event may be missing from the log:
 *     4689 is often not audited), and
 *   - when the child names its parent's image (4688 v2 ParentProcessName, Sysmon ParentImage)
 *     and the candidate names its own, they are the same file (case-insensitive for Windows paths).
 *     A link made with that check is `pid+exe`, one without it (no name on one side) is `pid`.
 * Windows gives no boot id in these events, so for imported logs a reboot inside the window is not
 * seen: the exe check is what guards against a pid reused across one.
 */
import type { PayloadOf } from '../records/schema.js';

export interface ProcessEvent {
  /** seq of the `process.exec` record. */
  seq: number;
  /** Host the process ran on: the payload's event_host, else the record's host. */
  host: string;
  /** The boot the pid belongs to when known (a live agent's boot_id for auditd); omit for imported logs. */
  boot?: string;
  /** The record's observed_at, used when the payload has no event_time. */
  observedAt?: string;
  /** What the linking reads of the record's payload. */
  payload: Pick<PayloadOf<'process.exec'>, 'action' | 'pid' | 'ppid' | 'exe' | 'parent_exe' | 'process_guid' | 'parent_process_guid' | 'event_time'>;
}

export type LinkBasis = 'process_guid' | 'pid+exe' | 'pid';

export interface ProcessLink {
  /** seq of the parent's start (for `parents`) or of the start this end closes (for `ends`). */
  seq: number;
  by: LinkBasis;
}

export interface ProcessTree {
  /** Child start seq → its parent's start. */
  parents: Map<number, ProcessLink>;
  /** Parent start seq → its children's start seqs, in time order. */
  children: Map<number, number[]>;
  /** End seq → the start it ends. */
  ends: Map<number, ProcessLink>;
}

/** One day: long enough for a session's processes, short enough to bound a missing 4689. */
export const DEFAULT_PID_WINDOW_MS = 24 * 3600 * 1000;

interface Started {
  seq: number;
  time: number;
  exe: string | undefined;
}

/** `children: false` leaves `children` empty (the report walks up only, and a million runs' lists cost memory). */
export function linkProcesses(events: readonly ProcessEvent[], options: { pidWindowMs?: number; children?: boolean } = {}): ProcessTree {
  const window = options.pidWindowMs ?? DEFAULT_PID_WINDOW_MS;
  const tree: ProcessTree = { parents: new Map(), children: new Map(), ends: new Map() };

  // GUIDs are unique: index every start first, so order does not matter for them.
  const byGuid = new Map<string, number>();
  for (const ev of events) {
    const guid = ev.payload.process_guid;
    if (ev.payload.action === 'start' && guid !== undefined) {
      const key = `${ev.host}\u0000${guid.toLowerCase()}`;
      if (!byGuid.has(key)) byGuid.set(key, ev.seq);
    }
  }

  const timed = events
    .map((ev) => ({ ev, time: Date.parse(ev.payload.event_time ?? ev.observedAt ?? '') }))
    .sort((a, b) => (a.time === b.time || (Number.isNaN(a.time) && Number.isNaN(b.time)) ? a.ev.seq - b.ev.seq : Number.isNaN(a.time) ? 1 : Number.isNaN(b.time) ? -1 : a.time - b.time));
  const live = new Map<string, Started>();
  const pidKey = (ev: ProcessEvent, pid: number): string => `${ev.host}\u0000${ev.boot ?? ''}\u0000${pid}`;
  const link = (child: number, parent: ProcessLink): void => {
    tree.parents.set(child, parent);
    if (options.children === false) return;
    const list = tree.children.get(parent.seq);
    if (list) list.push(child);
    else tree.children.set(parent.seq, [child]);
  };

  for (const { ev, time } of timed) {
    const p = ev.payload;
    const guid = p.action === 'start' ? p.parent_process_guid : p.process_guid;
    if (guid !== undefined) {
      const found = byGuid.get(`${ev.host}\u0000${guid.toLowerCase()}`);
      if (found !== undefined && found !== ev.seq) {
        if (p.action === 'start') link(ev.seq, { seq: found, by: 'process_guid' });
        else tree.ends.set(ev.seq, { seq: found, by: 'process_guid' });
      }
    } else if (!Number.isNaN(time)) {
      const wanted = p.action === 'start' ? p.ppid : p.pid;
      const name = p.action === 'start' ? p.parent_exe : p.exe;
      const cand = wanted !== undefined ? live.get(pidKey(ev, wanted)) : undefined;
      if (cand !== undefined && time - cand.time <= window) {
        const checked = name !== undefined && cand.exe !== undefined;
        if (!checked || sameImage(name, cand.exe!)) {
          const basis: LinkBasis = checked ? 'pid+exe' : 'pid';
          if (p.action === 'start') link(ev.seq, { seq: cand.seq, by: basis });
          else tree.ends.set(ev.seq, { seq: cand.seq, by: basis });
        }
      }
    }
    if (p.pid === undefined || Number.isNaN(time)) continue;
    // A start takes the pid; an end frees it, so a later start of the same pid is someone else.
    if (p.action === 'start') live.set(pidKey(ev, p.pid), { seq: ev.seq, time, exe: p.exe });
    else live.delete(pidKey(ev, p.pid));
  }
  return tree;
}

/** Same executable: Windows paths compare without case and without the `\??\` prefix; a bare name matches a path's last part. */
export function sameImage(a: string, b: string): boolean {
  const windows = isWindowsPath(a) || isWindowsPath(b);
  const norm = (s: string): string => {
    const t = s.replace(/^\\\?\?\\/, '');
    return windows ? t.toLowerCase() : t;
  };
  const x = norm(a);
  const y = norm(b);
  if (x === y) return true;
  const base = (s: string): string => s.slice(Math.max(s.lastIndexOf('\\'), s.lastIndexOf('/')) + 1);
  const bareX = base(x) === x;
  const bareY = base(y) === y;
  return (bareX || bareY) && base(x) === base(y);
}

function isWindowsPath(s: string): boolean {
  return /^[A-Za-z]:\\|^\\\\|^\\\?\?\\/.test(s) || (s.includes('\\') && !s.includes('/'));
}
