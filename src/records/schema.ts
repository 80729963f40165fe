/**
 * Record schemas. Every piece of evidence is one record: a common envelope and a payload whose
 * shape depends on `kind`. Kinds are stable once shipped; new kinds are added, never renamed.
 * Pure: no I/O.
 */
import { z } from 'zod';
import { CustodyError, ErrorCodes } from '../errors.js';
import { compileFastCheck, type FastCheck } from './fast-check.js';

export const RECORD_VERSION = 1 as const;

/**
 * The records' own time form: UTC RFC 3339 with exactly six fractional digits, e.g.
 * 2026-11-23T14:08:51.123456Z. Times in this form compare correctly as text.
 */
export const RECORD_TIME_FORM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export const timestampSchema = z.string().regex(RECORD_TIME_FORM, 'must be UTC RFC 3339 with microseconds (…T12:34:56.123456Z)');

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

/**
 * Fields every derived record carries: where it came from and when the event happened according
 * to the source (which is not when the agent observed it).
 */
const derivedFields = {
  /** seq of the preserved raw record(s) this was read from, so every interpretation can be traced to bytes. */
  derived_from: z.array(safeUint).min(1),
  /** Which parser produced it (`syslog.kernel-usb`, `evtx.security`, …) and its version. */
  parser: z.string(),
  /** When it happened per the source, UTC with microseconds, if the source says. */
  event_time: timestampSchema.optional(),
  /** How event_time was derived when the source left something out (e.g. a year inferred for RFC 3164). */
  time_note: z.string().optional(),
  /** The host the source says the event happened on, when it names one. */
  event_host: z.string().optional(),
  /** Source-specific details worth keeping that have no field of their own (flat strings only). */
  extra: z.record(z.string(), z.string()).optional(),
};

/** Who did it, as far as the source says. */
const actorFields = {
  user: z.string().optional(),
  uid: z.string().optional(),
  auid: z.string().optional(),
  sid: z.string().optional(),
  pid: safeUint.optional(),
  exe: z.string().optional(),
  comm: z.string().optional(),
};

/** What we know of a USB device; Windows and Linux each fill what they can. */
const usbDeviceFields = {
  origin: z.enum(['kernel', 'udev', 'sysfs', 'setupapi', 'evtx']),
  vendor_id: z.string().regex(/^[0-9a-f]{4}$/, 'must be 4 lowercase hex digits').optional(),
  product_id: z.string().regex(/^[0-9a-f]{4}$/, 'must be 4 lowercase hex digits').optional(),
  serial: z.string().optional(),
  /** Windows makes up an instance id when a device has no serial: its second character is '&'. */
  serial_is_generated: z.boolean().optional(),
  product: z.string().optional(),
  manufacturer: z.string().optional(),
  /** Kernel bus/port path, e.g. `3-6.4.1`. */
  port: z.string().optional(),
  device_number: safeUint.optional(),
  speed: z.string().optional(),
  driver: z.string().optional(),
  block_device: z.string().optional(),
  mass_storage: z.boolean().optional(),
  /** Windows device instance id, e.g. `USBSTOR\Disk&Ven_…&Prod_…&Rev_…\<serial>&0`. */
  instance_id: z.string().optional(),
  /** USB session this event belongs to, when connect and disconnect were paired (`<port>#<device number>@<connect seq>`). */
  session: z.string().optional(),
  capacity_bytes: bigIntStringSchema.optional(),
};

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
    /** A second copy preserved on purpose (`import --preserve-again`): the seq of the first, from which its evidence is derived. */
    duplicate_of: safeUint.optional(),
  }),
  'agent.start': z.strictObject({
    version: z.string(),
    config_sha256: sha256HexSchema,
    code_sha256: sha256HexSchema,
    pid: safeUint,
    node: z.string(),
    platform: z.string(),
    /**
     * The sealing policy of this run (absent in stores written before it was recorded): how long an
     * honest unsealed tail can be, so `verify` can tell it from a tail whose seals were removed.
     */
    policy: z
      .strictObject({
        batch_records: safeUint,
        batch_ms: safeUint,
        checkpoint_records: safeUint,
        checkpoint_ms: safeUint,
        epoch_ms: safeUint,
        heartbeat_ms: safeUint,
      })
      .optional(),
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
    /** Device and inode of the file the gap is in (file sources), so a reader can tell generations apart. */
    dev: bigIntStringSchema.optional(),
    ino: bigIntStringSchema.optional(),
    reason: z.string(),
    detail: z.string(),
    from_offset: safeUint.optional(),
    to_offset: safeUint.optional(),
    bytes: safeUint.optional(),
    since: timestampSchema.optional(),
    until: timestampSchema.optional(),
    /** The `log.file` record of the imported file the gap is in. */
    file_seq: safeUint.optional(),
  }),
  /**
   * An imported file was read to its end: every record derived from it (they name `file_seq` in
   * `derived_from`) and every gap in it is in the store. A `log.file` of an import without one was
   * not read to the end (the import was interrupted); running the import again finishes it.
   */
  'import.derived': z.strictObject({
    file_seq: safeUint,
    path: z.string().min(1),
    sha256: sha256HexSchema,
    /** What the content was read as (`text`, `evtx`, `gzip+text`, …). */
    format: z.string(),
    /** Records derived from the file, by kind, earlier runs included. */
    records: z.record(z.string(), safeUint),
    /** Parts of the file that could not be read into records, by reason. */
    failures: z.record(z.string(), safeUint),
    gaps: safeUint,
    /** Records an earlier, interrupted import had already derived: this one went on after them. */
    resumed_after: safeUint.optional(),
  }),
  /**
   * The agent could not ship to its vault (issue 12): recorded once per outage, at its first failed
   * round, not per retry. The local store keeps everything meanwhile (it is the buffer); `code` says
   * what kind of failure (E_VAULT_UNREACHABLE, E_VAULT_ACCESS_DENIED, …), `detail` is custody's own
   * words (never the far end's, never a credential).
   */
  'vault.unreachable': z.strictObject({
    vault: z.string(),
    code: z.string(),
    detail: z.string(),
  }),
  /** The end of an outage: the first round that succeeded after `vault.unreachable` (its `seq`). */
  'vault.reachable': z.strictObject({
    vault: z.string(),
    unreachable_seq: safeUint,
    /** Rounds that failed during the outage, the first included. */
    failed_rounds: safeUint,
    /** How long the outage lasted, by the monotonic clock (from the first failure to this success). */
    duration_ms: safeUint,
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

  // --- derived evidence: interpretations of preserved bytes (see `derivedFields`) -------------
  /** A USB device was attached (kernel log, udev, setupapi.dev.log, Windows event logs). */
  'usb.connect': z.strictObject({ ...derivedFields, ...usbDeviceFields }),
  /** A USB device was removed. */
  'usb.disconnect': z.strictObject({ ...derivedFields, ...usbDeviceFields }),
  /** A USB device seen attached in a live snapshot (sysfs) rather than at its connect event. */
  'usb.present': z.strictObject({ ...derivedFields, ...usbDeviceFields }),
  /** Someone opened, read, wrote, deleted or renamed a file (auditd, Windows 4656/4663/4660/4658). */
  'file.access': z.strictObject({
    ...derivedFields,
    ...actorFields,
    path: z.string(),
    operation: z.string(),
    success: z.boolean().optional(),
    syscall: z.string().optional(),
    arch: z.string().optional(),
    audit_key: z.string().optional(),
    object_type: z.string().optional(),
    access: z.array(z.string()).optional(),
    previous_path: z.string().optional(),
  }),
  /** The agent's own watch saw a file change under a sensitive folder, with its hash after. */
  'file.change': z.strictObject({
    ...derivedFields,
    path: z.string(),
    operation: z.enum(['create', 'modify', 'delete', 'rename']),
    previous_path: z.string().optional(),
    size: safeUint.optional(),
    mtime: timestampSchema.optional(),
    sha256: sha256HexSchema.optional(),
  }),
  /** A logon, logoff or authentication attempt (sshd, sudo, su, pam, wtmp/btmp, Windows 4624/4625/4634/4648). */
  'auth.logon': z.strictObject({
    ...derivedFields,
    ...actorFields,
    service: z.string(),
    action: z.enum(['logon', 'logoff', 'failure', 'session_open', 'session_close', 'elevate', 'explicit_credentials']),
    success: z.boolean(),
    method: z.string().optional(),
    target_user: z.string().optional(),
    from_host: z.string().optional(),
    from_ip: z.string().optional(),
    from_port: safeUint.optional(),
    terminal: z.string().optional(),
    logon_type: z.string().optional(),
    logon_id: z.string().optional(),
    reason: z.string().optional(),
  }),
  /**
   * A program was run (`start`: auditd execve/execveat, Windows 4688, Sysmon 1) or ended (`end`:
   * Windows 4689, Sysmon 5). `command_line` is the source's own text (Windows) or the arguments
   * joined with spaces (auditd, where `argv` keeps them exactly); `incomplete` says what the source
   * left out (argv records missing, a command line the audit policy did not record).
   */
  'process.exec': z.strictObject({
    ...derivedFields,
    ...actorFields,
    action: z.enum(['start', 'end']),
    command_line: z.string().optional(),
    argv: z.array(z.string()).optional(),
    argc: safeUint.optional(),
    cwd: z.string().optional(),
    euid: z.string().optional(),
    tty: z.string().optional(),
    session: z.string().optional(),
    ppid: safeUint.optional(),
    parent_exe: z.string().optional(),
    parent_command_line: z.string().optional(),
    /** Sysmon's process GUIDs: process trees across pid reuse. */
    process_guid: z.string().optional(),
    parent_process_guid: z.string().optional(),
    logon_id: z.string().optional(),
    /** Windows token elevation type and mandatory label / Sysmon integrity level. */
    elevation: z.string().optional(),
    integrity_level: z.string().optional(),
    /** Sysmon's hashes of the image, by algorithm (`SHA256` → hex). */
    hashes: z.record(z.string(), z.string()).optional(),
    success: z.boolean().optional(),
    exit_code: z.string().optional(),
    audit_key: z.string().optional(),
    incomplete: z.string().optional(),
  }),
  /**
   * Network and server access: a request a web server or proxy served (Apache/nginx common and
   * combined, IIS W3C, Squid native) or a file share accessed (Windows 5140/5145); who, from where,
   * to what, what came of it, and how many bytes went each way where the log says.
   */
  'net.access': z.strictObject({
    ...derivedFields,
    /** `http` (web server), `proxy`, `smb` (file share). */
    service: z.string(),
    client_ip: z.string().optional(),
    client_port: safeUint.optional(),
    user: z.string().optional(),
    sid: z.string().optional(),
    logon_id: z.string().optional(),
    method: z.string().optional(),
    /** Virtual host, or the destination host a proxy reached. */
    host: z.string().optional(),
    port: safeUint.optional(),
    url: z.string().optional(),
    protocol: z.string().optional(),
    /** HTTP status, or the share access's outcome. */
    status: z.string().optional(),
    /** Squid's result code (TCP_MISS, TCP_TUNNEL, TCP_DENIED…), SMB access list. */
    result: z.string().optional(),
    /** Bytes from the server to the client (response), and from the client to the server (request), when logged. */
    bytes_sent: safeUint.optional(),
    bytes_received: safeUint.optional(),
    referrer: z.string().optional(),
    user_agent: z.string().optional(),
    duration_ms: z.number().nonnegative().optional(),
    share: z.string().optional(),
    share_path: z.string().optional(),
    target: z.string().optional(),
    server_ip: z.string().optional(),
    incomplete: z.string().optional(),
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
  // Only "a plain object" here: the kind's own schema checks the payload's fields. z.record would
  // also copy every entry, which cost the verifier 1.7 µs of its 2.5 µs per envelope.
  payload: z.custom<Record<string, unknown>>(isPlainObject, 'Invalid input: expected an object'),
});

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

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

const LOG_LINE_KEYS = new Set(['path', 'dev', 'ino', 'offset', 'line_no', 'length', 'partial', 'text']);
const DECIMAL = /^(0|[1-9]\d*)$/;

function isUint(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The common log.line payload (text, no raw_b64), checked by hand: every line the agent reads goes
 * through here, and this costs a fraction of the schema's parse. It only ever says yes to what
 * payloadSchemas['log.line'] accepts (a property test in test/unit/records.test.ts holds it to
 * that); anything else, including every invalid payload, goes to the schema, whose messages name
 * the problem.
 */
export function isPlainValidLogLine(payload: unknown): boolean {
  if (typeof payload !== 'object' || payload === null) return false;
  const proto: unknown = Object.getPrototypeOf(payload);
  if (proto !== Object.prototype) return false;
  const p = payload as Record<string, unknown>;
  for (const key of Object.keys(p)) if (!LOG_LINE_KEYS.has(key)) return false;
  const { path, dev, ino, offset, line_no, length, partial, text } = p;
  return (
    typeof path === 'string' &&
    path.length >= 1 &&
    typeof dev === 'string' &&
    DECIMAL.test(dev) &&
    typeof ino === 'string' &&
    DECIMAL.test(ino) &&
    isUint(offset) &&
    isUint(line_no) &&
    isUint(length) &&
    (partial === undefined || typeof partial === 'boolean') &&
    typeof text === 'string' &&
    !Object.hasOwn(p, 'raw_b64')
  );
}

/** Each kind's fast check compiled from its schema (fast-check.ts): says yes only to what the schema accepts. */
const FAST_PAYLOAD_CHECKS = new Map<RecordKind, FastCheck>(
  RECORD_KINDS.flatMap((kind) => {
    const check = compileFastCheck(payloadSchemas[kind]);
    return check === undefined ? [] : [[kind, check] as const];
  }),
);

/** The fast check of a kind's payloads, when its schema compiles to one (for tests and benchmarks). */
export function fastPayloadCheck(kind: RecordKind): FastCheck | undefined {
  return FAST_PAYLOAD_CHECKS.get(kind);
}

/**
 * Validates a payload against its kind's schema (for writers that build the envelope themselves).
 * A payload the compiled fast check accepts is valid without zod's parse (the import and agent hot
 * path); anything else is parsed by the schema, which refuses it with messages or accepts it.
 */
export function validatePayload(kind: RecordKind, payload: unknown): void {
  if (kind === 'log.line' && isPlainValidLogLine(payload)) return;
  if (!isKnownKind(kind)) throw new CustodyError(ErrorCodes.RECORD_INVALID, `unknown record kind ${JSON.stringify(kind)}`);
  if (FAST_PAYLOAD_CHECKS.get(kind)?.(payload) === true) return;
  const result = payloadSchemas[kind].safeParse(payload);
  if (!result.success) {
    throw new CustodyError(ErrorCodes.RECORD_INVALID, `invalid ${kind} payload: ${formatIssues(result.error.issues, 'payload').join('; ')}`);
  }
}

/** Formats a wall-clock time in milliseconds (plus optional extra microseconds) as a record timestamp. */
export function formatTimestamp(epochMs: number, extraMicros = 0): string {
  // The last result is remembered: parsers stamp several records of one event, and many events of one millisecond.
  if (epochMs === lastStampMs && extraMicros === lastStampMicros) return lastStampText;
  const micros = extraMicros === 0 ? '000' : String(extraMicros).padStart(3, '0');
  let text: string;
  const milli = epochMs % 1000;
  if (epochMs - milli === lastSecondMs && Number.isInteger(epochMs)) {
    // Another millisecond of the same second (events come a few a millisecond): no Date, no ISO text.
    text = `${lastSecondText}${MILLIS[milli]}${micros}Z`;
  } else {
    const iso = new Date(epochMs).toISOString(); // …T12:34:56.789Z
    text = `${iso.slice(0, 23)}${micros}Z`;
    // Only a whole millisecond of years 0000–9999 (whose ISO text is YYYY-MM-DDTHH:MM:SS.mmmZ) is a second to reuse.
    const ok = Number.isInteger(epochMs) && epochMs >= 0 && epochMs <= MAX_FOUR_DIGIT_YEAR_MS;
    lastSecondMs = ok ? epochMs - milli : Number.NaN;
    lastSecondText = ok ? iso.slice(0, 20) : '';
  }
  lastStampMs = epochMs;
  lastStampMicros = extraMicros;
  lastStampText = text;
  return text;
}
let lastStampMs = Number.NaN;
let lastStampMicros = 0;
let lastStampText = '';
/** The second of the last formatted time, and its text up to the decimal point (`YYYY-MM-DDTHH:MM:SS.`). */
let lastSecondMs = Number.NaN;
let lastSecondText = '';
const MAX_FOUR_DIGIT_YEAR_MS = 253402300799999; // 9999-12-31T23:59:59.999Z
const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
