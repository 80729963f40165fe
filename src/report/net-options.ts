/**
 * The report's settings for "What ran" and "Where data went", in one zod schema: which address
 * ranges are internal (so an upload or a proxy CONNECT to anything else is "outside"), from how
 * many bytes an upload is "large", and which users and hosts "What ran" is about. `custody report`
 * and `custody collect` take them as `--internal-range CIDR` (repeatable; replaces the defaults),
 * `--upload-threshold BYTES` (`10MiB`, `500KB`, `1048576`), `--user-of-interest NAME` and
 * `--host-of-interest NAME` (each repeatable; src/report/interest.ts says what matches).
 * Pure.
 */
import { z } from 'zod';
import { CustodyError, ErrorCodes } from '../errors.js';
import { CidrSet, DEFAULT_INTERNAL_RANGES, parseCidr } from '../net/cidr.js';

/** 10 MiB: more than a day's mail attachments, less than a customer list export. */
export const DEFAULT_UPLOAD_THRESHOLD = 10 * 1024 * 1024;

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** `10MiB`, `10 MB`, `500k`, `1048576` → bytes; undefined when it is not a size (negative, no number, unknown unit, past 2^53). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (m === null) return undefined;
  const unit = UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Longest user or host name taken: longer than any account or DNS name (253), short enough to show. */
export const MAX_INTEREST_NAME = 256;

/**
 * A user or host name as given on the command line: it is shown in the report and compared with
 * the evidence, so it must be something a record can hold and a reader can see: not empty, no
 * control, format or invisible characters, no space at either end, at most MAX_INTEREST_NAME.
 */
function interestName(what: string): z.ZodType<string> {
  return z.string().refine((s) => s.length > 0 && s.length <= MAX_INTEREST_NAME && s.trim() === s && !/[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029\u115f\u1160\u3164\uffa0\u180e]/u.test(s), {
    message: `must be ${what}: not empty, at most ${MAX_INTEREST_NAME} characters, without control or invisible characters or spaces at either end`,
  });
}

export const reportNetSchema = z.strictObject({
  internal_ranges: z
    .array(z.string().refine((s) => parseCidr(s) !== undefined, { message: 'must be an IPv4 or IPv6 range such as 10.0.0.0/8 or fd00::/8' }))
    .default([...DEFAULT_INTERNAL_RANGES]),
  upload_threshold: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(DEFAULT_UPLOAD_THRESHOLD),
  users_of_interest: z.array(interestName('a user name such as alice, CONTOSO\\alice, auid=1001 or uid=0')).optional(),
  hosts_of_interest: z.array(interestName('a host name such as web01 or web01.example.jp')).optional(),
});

export type ReportNetInput = z.input<typeof reportNetSchema>;
export type ReportNetOptions = z.output<typeof reportNetSchema>;

/** The settings, checked; a bad value is a usage error naming the value and the flag it came from. */
export function parseReportNetOptions(input: ReportNetInput): ReportNetOptions {
  const r = reportNetSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path ?? [];
  const flags: Readonly<Record<string, string>> = { internal_ranges: '--internal-range', upload_threshold: '--upload-threshold', users_of_interest: '--user-of-interest', hosts_of_interest: '--host-of-interest' };
  const flag = flags[String(path[0])] ?? String(path[0] ?? 'report options');
  let value: unknown = input as unknown;
  for (const k of path) value = value !== null && typeof value === 'object' ? (value as Record<string | number, unknown>)[k as string | number] : undefined;
  throw new CustodyError(ErrorCodes.USAGE, `${flag} ${JSON.stringify(value)}: ${issue?.message ?? 'invalid'}`);
}

/** The flags as given on the command line → the settings (defaults for what is not given). */
export function reportNetFromFlags(flags: { internalRange?: readonly string[]; uploadThreshold?: string; userOfInterest?: readonly string[]; hostOfInterest?: readonly string[] }): ReportNetOptions {
  let threshold: number | undefined;
  if (flags.uploadThreshold !== undefined) {
    threshold = parseByteSize(flags.uploadThreshold);
    if (threshold === undefined || threshold <= 0) throw new CustodyError(ErrorCodes.USAGE, `--upload-threshold ${JSON.stringify(flags.uploadThreshold)}: must be a positive size in bytes, e.g. 10MiB, 500KB or 1048576`);
  }
  return parseReportNetOptions({
    ...(flags.internalRange !== undefined && flags.internalRange.length > 0 ? { internal_ranges: [...flags.internalRange] } : {}),
    ...(threshold !== undefined ? { upload_threshold: threshold } : {}),
    ...(flags.userOfInterest !== undefined && flags.userOfInterest.length > 0 ? { users_of_interest: [...flags.userOfInterest] } : {}),
    ...(flags.hostOfInterest !== undefined && flags.hostOfInterest.length > 0 ? { hosts_of_interest: [...flags.hostOfInterest] } : {}),
  });
}

export function internalSet(ranges: readonly string[]): CidrSet {
  return new CidrSet(ranges.map((r) => parseCidr(r)).filter((r) => r !== undefined));
}
