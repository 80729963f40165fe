/**
 * Record schemas. Every piece of evidence is one record: a common envelope and a payload whose
 * shape depends on `kind`. Kinds are stable once shipped; new kinds are added, never renamed.
 * Pure: no I/O.
 */
import { z } from 'zod';
import { CustodyError, ErrorCodes } from '../errors.js';

export const RECORD_VERSION = 1 as const;

/** UTC RFC 3339 with exactly six fractional digits, e.g. 2026-11-23T14:08:51.123456Z. */
export const timestampSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/, 'must be UTC RFC 3339 with microseconds (…T12:34:56.123456Z)');

/** Integers that may exceed 2^53 are carried as decimal strings. */
export const bigIntStringSchema = z.string().regex(/^(0|[1-9]\d*)$/, 'must be a non-negative decimal integer string');
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');
const safeUint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const base64Schema = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/** Text that was valid UTF-8 (`text`), or the exact bytes as base64 when it was not (`raw_b64`). */
const rawTextFields = {
  text: z.string().optional(),
  raw_b64: base64Schema.optional(),
};
function exactlyOneRaw(v: { text?: string | undefined; raw_b64?: string | undefined }): boolean {
  return (v.text === undefined) !== (v.raw_b64 === undefined);
}

export const payloadSchemas = {
  /** One line of a watched log, byte-exact. */
  'log.line': z
    .strictObject({
      path: z.string().min(1),
      dev: bigIntStringSchema,
      ino: bigIntStringSchema,
      offset: safeUint,
      line_no: safeUint,
      length: safeUint,
      partial: z.boolean().optional(),
      ...rawTextFields,
    })
    .refine(exactlyOneRaw, 'exactly one of text or raw_b64'),
  /** A whole file preserved; its content is kept in the store's blob table under `sha256`. */
  'log.file': z.strictObject({
    path: z.string().min(1),
    size: safeUint,
    mtime: timestampSchema,
    sha256: sha256HexSchema,
    reason: z.enum(['rotated', 'compressed', 'triage', 'import', 'snapshot']),
    content: z.enum(['stored', 'omitted']),
    dev: bigIntStringSchema.optional(),
    ino: bigIntStringSchema.optional(),
    note: z.string().optional(),
  }),
  'agent.start': z.strictObject({
    version: z.string(),
    config_sha256: sha256HexSchema,
    code_sha256: sha256HexSchema,
    pid: safeUint,
    node: z.string(),
    platform: z.string(),
  }),
  'agent.stop': z.strictObject({
    reason: z.string(),
  }),
  'agent.heartbeat': z.strictObject({
    uptime_ms: safeUint,
    reason: z.enum(['interval', 'epoch']).optional(),
  }),
  /** Where evidence may be missing: what, where and how much. Gaps are evidence too. */
  'agent.gap': z.strictObject({
    source: z.string(),
    path: z.string().optional(),
    reason: z.string(),
    detail: z.string(),
    from_offset: safeUint.optional(),
    to_offset: safeUint.optional(),
    bytes: safeUint.optional(),
    since: timestampSchema.optional(),
    until: timestampSchema.optional(),
  }),
  /** The wall clock and the monotonic clock disagreed (a clock jump, a suspend, or someone setting time). */
  'clock.anomaly': z.strictObject({
    wall_delta_ms: z.number().int(),
    mono_delta_ms: z.number().int(),
    skew_ms: z.number().int(),
    detail: z.string(),
  }),
  /**
   * A new signing key takes over. `certificate` is the previous epoch's signature over the
   * certificate statement (see src/integrity/keys.ts), so the chain of keys lives inside the
   * tamper-evident log itself.
   */
  'key.rotate': z.strictObject({
    epoch: z.number().int().positive(),
    public_key: base64Schema,
    key_name: z.string(),
    certificate: base64Schema,
  }),
} as const;

export type RecordKind = keyof typeof payloadSchemas;
export const RECORD_KINDS = Object.keys(payloadSchemas) as RecordKind[];
export type PayloadOf<K extends RecordKind> = z.infer<(typeof payloadSchemas)[K]>;

export const envelopeSchema = z.strictObject({
  v: z.literal(RECORD_VERSION),
  seq: safeUint,
  kind: z.string().regex(/^[a-z]+(\.[a-z_]+)+$/, 'must look like family.name'),
  observed_at: timestampSchema,
  mono_ns: bigIntStringSchema,
  boot_id: z.string(),
  host: z.string().min(1),
  source: z.string(),
  payload: z.record(z.string(), z.unknown()),
});

export type EvidenceRecord = z.infer<typeof envelopeSchema>;
/** What a writer hands the store: everything but `v` and `seq`, which the store assigns. */
export type RecordDraft = Omit<EvidenceRecord, 'v' | 'seq'>;

export function isKnownKind(kind: string): kind is RecordKind {
  return Object.hasOwn(payloadSchemas, kind);
}

/** Formats zod issues as `path: message`, one per problem. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });
}

/**
 * Validates a record fully: the envelope, and the payload against its kind's schema.
 * `unknownKind: 'allow'` lets a verifier read records of kinds added by newer versions.
 */
export function validateRecord(value: unknown, options: { unknownKind?: 'allow' | 'reject' } = {}): EvidenceRecord {
  const env = envelopeSchema.safeParse(value);
  if (!env.success) {
    throw new CustodyError(ErrorCodes.RECORD_INVALID, `invalid record: ${formatIssues(env.error.issues).join('; ')}`);
  }
  const record = env.data;
  if (isKnownKind(record.kind)) {
    const payload = payloadSchemas[record.kind].safeParse(record.payload);
    if (!payload.success) {
      throw new CustodyError(
        ErrorCodes.RECORD_INVALID,
        `invalid ${record.kind} payload: ${formatIssues(payload.error.issues, 'payload').join('; ')}`,
      );
    }
  } else if (options.unknownKind !== 'allow') {
    throw new CustodyError(ErrorCodes.RECORD_INVALID, `unknown record kind ${JSON.stringify(record.kind)}`);
  }
  return record;
}

/** Formats a wall-clock time in milliseconds (plus optional extra microseconds) as a record timestamp. */
export function formatTimestamp(epochMs: number, extraMicros = 0): string {
  const iso = new Date(epochMs).toISOString(); // …T12:34:56.789Z
  const micros = String(extraMicros).padStart(3, '0');
  return `${iso.slice(0, 23)}${micros}Z`;
}
