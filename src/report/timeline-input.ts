/**
 * The report's gate on timeline/timeline.jsonl: every line is parsed and checked against the
 * timeline entry schema (and the record schema of its kind) before the model sees it.
 *
 * Why a gate of its own: the report renders what the bundle says, and every byte of a bundle may
 * have been written by someone else (an attacker with root on a host, anyone who handled the
 * bundle). `verify` proves which files the collector sealed; it does not make their content safe to
 * render. A line that is not JSON, has a field of the wrong shape (markup in `record_sha256`, a
 * string `seq`, a host the manifest does not list) or a payload its kind's schema rejects is not
 * used: it becomes a rejected row with its file and line, and the report says INVALID first.
 * Escaping in the renderers is the second guard, not the only one. Pure: no I/O.
 */
import { z } from 'zod';
import type { TimelineEntry } from '../bundle/timeline.js';
import { formatIssues, isKnownKind, isPlainValidLogLine, payloadSchemas, sha256HexSchema, timestampSchema } from '../records/schema.js';

/** The file the rows come from, as a rejected row names it. */
export const TIMELINE_FILE = 'timeline/timeline.jsonl';

/** One line of timeline.jsonl, exactly as `timelineJsonLine` writes it. */
export const timelineEntrySchema = z.strictObject({
  datetime: timestampSchema,
  timestamp_desc: z.enum(['Event Time', 'Observed Time']),
  host: z.string().min(1),
  store_id: z.string().min(1),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  record_sha256: sha256HexSchema,
  kind: z.string().regex(/^[a-z]+(\.[a-z_]+)+$/, 'must look like family.name'),
  source: z.string(),
  observed_at: timestampSchema,
  message: z.string(),
  // A plain object here (as the record envelope does; z.record would copy every entry), checked
  // against its kind's schema below.
  payload: z.custom<Record<string, unknown>>(isPlainObject, 'Invalid input: expected an object'),
});

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Why a line was left out: a closed set, never renamed or reused (scripts and tests match them). */
export const REJECTED_LINE_CODES = [
  'report.timeline_not_json',
  'report.timeline_empty_line',
  'report.timeline_line_too_long',
  'report.timeline_schema',
  'report.timeline_unknown_host',
  'report.timeline_unknown_store',
  'report.timeline_payload',
] as const;
export type RejectedLineCode = (typeof REJECTED_LINE_CODES)[number];

/** A line the report did not use, as a finding: its code, and `where` = `timeline/timeline.jsonl:LINE`. */
export interface RejectedRow {
  rejected: { code: RejectedLineCode; severity: 'error'; where: string; message: string };
}

export type TimelineRow = TimelineEntry | RejectedRow;

export function isRejected(row: TimelineRow): row is RejectedRow {
  return Object.hasOwn(row, 'rejected');
}

/** The hosts (and their stores) the manifest lists: a row naming any other is not used. */
export type KnownStores = ReadonlyMap<string, ReadonlySet<string>>;

export function knownStores(hosts: ReadonlyArray<{ host: string; store_id: string }>): KnownStores {
  const m = new Map<string, Set<string>>();
  for (const h of hosts) {
    let s = m.get(h.host);
    if (s === undefined) m.set(h.host, (s = new Set()));
    s.add(h.store_id);
  }
  return m;
}

export function rejectLine(code: RejectedLineCode, lineNo: number, message: string): RejectedRow {
  return { rejected: { code, severity: 'error', where: `${TIMELINE_FILE}:${lineNo}`, message } };
}

/** Longest message kept for a rejected row (a hostile line can be megabytes). */
const MAX_REASON = 300;

function short(s: string): string {
  return s.length > MAX_REASON ? `${s.slice(0, MAX_REASON)}…` : s;
}

/**
 * Parses and checks one line (1-based `lineNo`). Unknown kinds (from a newer agent) pass with the
 * entry schema alone: the report reads no payload field of a kind it does not know.
 */
export function parseTimelineLine(text: string, lineNo: number, stores: KnownStores): TimelineRow {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return rejectLine('report.timeline_not_json', lineNo, short(`not JSON: ${(err as Error).message}`));
  }
  return checkTimelineValue(value, lineNo, stores);
}

/**
 * The checks of `parseTimelineLine` after JSON.parse, on the parsed value. `payloadValid`: the
 * caller has already validated the payload against its kind's schema (the collector, which made the
 * line from a record it validated), so that check is not run twice.
 */
export function checkTimelineValue(value: unknown, lineNo: number, stores: KnownStores, payloadValid = false): TimelineRow {
  const parsed = timelineEntrySchema.safeParse(value);
  if (!parsed.success) return rejectLine('report.timeline_schema', lineNo, short(`not a timeline entry: ${formatIssues(parsed.error.issues).join('; ')}`));
  const e = parsed.data;
  const hostStores = stores.get(e.host);
  if (hostStores === undefined) return rejectLine('report.timeline_unknown_host', lineNo, short(`host ${JSON.stringify(e.host)} is not one of the manifest's hosts`));
  if (!hostStores.has(e.store_id)) return rejectLine('report.timeline_unknown_store', lineNo, short(`store ${JSON.stringify(e.store_id)} is not a store of host ${JSON.stringify(e.host)} in the manifest`));
  // log.line, most of any timeline, takes the hand-written check the agent uses (it accepts only
  // what the schema accepts; test/unit/records.test.ts holds it to that); anything else, the schema.
  if (!payloadValid && isKnownKind(e.kind) && !(e.kind === 'log.line' && isPlainValidLogLine(e.payload))) {
    const p = payloadSchemas[e.kind].safeParse(e.payload);
    if (!p.success) return rejectLine('report.timeline_payload', lineNo, short(`${e.kind} payload: ${formatIssues(p.error.issues, 'payload').join('; ')}`));
  }
  return e as TimelineEntry;
}
