/**
 * Small pieces every part of the report model uses: reading payload values, citing a kept entry,
 * list parameters, choosing the rows to show. Pure.
 */
import type { KeptEntry, Payload } from './kept.js';
import type { Cite, Param, Statement, WorkingHours } from './model.js';

/** Most names in one list (the files of a pattern, the users of a file or source): a sentence or a cell is read, not searched. */
export const LISTED_NAMES = 10;

export function s(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function citeOf(e: KeptEntry): Cite {
  return { host: e.host, seq: e.seq, sha256: e.record_sha256, time: e.datetime, kind: e.kind };
}

export function ms(ts: string): number {
  return Date.parse(ts);
}

/** The user an entry names: user, else target_user, else auid/uid (unset auids are not users). */
export function actorOf(p: Payload): string | undefined {
  const user = s(p['user']) ?? s(p['target_user']);
  if (user !== undefined) return user;
  const auid = s(p['auid']);
  if (auid !== undefined && auid !== '4294967295' && auid !== '-1') return `auid=${auid}`;
  const uid = s(p['uid']);
  return uid !== undefined ? `uid=${uid}` : undefined;
}

export function usbDevice(p: Payload): { key: string; serial?: string } {
  const serial = p['serial_is_generated'] === true ? undefined : s(p['serial']);
  if (serial !== undefined) return { key: serial, serial };
  return { key: `${s(p['vendor_id']) ?? '????'}:${s(p['product_id']) ?? '????'} (no serial)` };
}

export function isMassStorage(p: Payload): boolean {
  return p['mass_storage'] === true || s(p['block_device']) !== undefined || /USBSTOR/i.test(s(p['instance_id']) ?? '');
}

export class Citations {
  constructor(private readonly limit: number) {}
  /** A statement citing the first of `evidence`; `total` counts all of it when only the first were passed. */
  make(code: string, params: Record<string, Param>, evidence: readonly KeptEntry[], total = evidence.length): Statement {
    return { code, params, cites: evidence.slice(0, this.limit).map(citeOf), citesTotal: total };
  }
}

export function pushTo<K, V>(map: Map<K, V[]>, key: K, v: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [v]);
  else list.push(v);
}

export function uniqSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** A list param: at most LISTED_NAMES names, and `<name>_total` when some are left out. */
export function listParam(name: string, values: readonly string[]): Record<string, Param> {
  return values.length > LISTED_NAMES ? { [name]: values.slice(0, LISTED_NAMES), [`${name}_total`]: values.length } : { [name]: [...values] };
}

/** A list param of another statement, with its total if it has one. */
export function copyListParam(params: Record<string, Param>, name: string): Record<string, Param> {
  const total = params[`${name}_total`];
  return { [name]: params[name] ?? [], ...(total !== undefined ? { [`${name}_total`]: total } : {}) };
}

/**
 * The rows of a list to show: every row a shown pattern names (`named`: a reader of the pattern
 * must find it), then the first by `rank` up to `limit`; in the list's own order. More than
 * `limit` only when the patterns name more.
 */
export function capRows<T>(rows: readonly T[], limit: number, rank: (a: T, b: T) => number, named: (r: T) => boolean): T[] {
  if (rows.length <= limit) return [...rows];
  const shown = new Set(rows.filter(named));
  for (const r of [...rows].sort(rank)) {
    if (shown.size >= limit) break;
    shown.add(r);
  }
  return rows.filter((r) => shown.has(r));
}

/** The index of the first of ascending `sorted` that is ≥ x, or > x when `after`. */
export function bound(sorted: readonly number[], x: number, after: boolean): number {
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
export const recordKey = (host: string, seq: number): string => `${host}\u0000${seq}`;

export function inWorkingHours(ts: string, wh: WorkingHours): boolean {
  const local = new Date(ms(ts) + wh.utcOffsetMinutes * 60_000);
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60;
  return wh.days.includes(local.getUTCDay()) && hour >= wh.start && hour < wh.end;
}
