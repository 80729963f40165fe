/**
 * The chain-of-custody log, `custody.jsonl`: one signed, hash-linked entry per line, appended each
 * time the bundle is collected, sealed, handed over, received, examined, returned or verified.
 * Pure: text in, text and findings out; no file system, no clock of its own.
 *
 * Each line is the RFC 8785 canonical JSON of
 *
 *   {v:1, index, prev, action, actor, at, note?, key:{fingerprint, public_key}, sig}
 *
 * followed by '\n'. `index` counts from 0; `prev` is the SHA-256 (hex) of the previous line's bytes
 * (without its '\n'), or for index 0 the SHA-256 of manifest.json, which binds the log to one
 * bundle. `sig` is Ed25519 (base64) by `key` over the canonical bytes of the entry without `sig`,
 * so it covers the link, the time, the key and every word of the note.
 *
 * What the log proves, stated honestly: no entry can be edited, reordered, removed from the
 * middle or moved to another bundle without verify naming it. Removing entries from the end is
 * only detectable against something held outside the log: pin the head (`custodyHead`, printed by
 * every handoff) and pass it to verify. Anyone with a key can append a validly signed entry; who
 * the keys belong to is for the verifier to decide (`trustedKeys`).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CustodyError, ErrorCodes } from '../errors.js';
import { fingerprint, rawPublicKey, signBytes, verifyBytes } from '../integrity/keys.js';
import { canonicalBytes, canonicalText } from '../records/canonical.js';
import { formatTimestamp, sha256HexSchema, timestampSchema } from '../records/schema.js';
import { displayNameProblem, strictBase64 } from './personal-key.js';
import type { FindingCodeInfo, FindingOf } from '../verify/findings.js';

export const CUSTODY_LOG_VERSION = 1 as const;

export const CUSTODY_ACTIONS = ['collected', 'sealed', 'transferred', 'received', 'examined', 'returned', 'verified'] as const;
export type CustodyAction = (typeof CUSTODY_ACTIONS)[number];

export const MAX_NOTE_LENGTH = 4096;

/** The custody log's finding codes, each with its severity and meaning (closed: never renamed or reused; the README's table of bundle codes lists them). */
export const CUSTODY_FINDINGS = {
  'custody.empty': { severity: 'error', meaning: 'custody.jsonl has no entries' },
  'custody.truncated': { severity: 'error', meaning: "custody.jsonl's last line has no newline (cut off mid-write, or edited)" },
  'custody.bad_json': { severity: 'error', meaning: 'a custody line is not UTF-8 JSON (or is empty)' },
  'custody.not_canonical': { severity: 'error', meaning: 'a custody line is JSON but not the RFC 8785 bytes of itself' },
  'custody.bad_entry': { severity: 'error', meaning: 'a custody line is JSON but not a custody entry (fields, types, values)' },
  'custody.index_gap': { severity: 'error', meaning: "a custody entry's index is not its position" },
  'custody.first_not_manifest': { severity: 'error', meaning: "custody entry 0 does not name this bundle's manifest" },
  'custody.broken_link': { severity: 'error', meaning: "a custody entry's prev is not the hash of the line before" },
  'custody.key_mismatch': { severity: 'error', meaning: "a custody entry's key fingerprint does not belong to its public key" },
  'custody.bad_signature': { severity: 'error', meaning: "a custody entry's signature does not verify (the entry or its signature was changed)" },
  'custody.key_not_trusted': { severity: 'error', meaning: 'a custody entry is signed by a key the verifier did not list (`--custody-key`)' },
  'custody.head_missing': { severity: 'error', meaning: 'custody.jsonl is shorter than the pinned `--custody-head`' },
  'custody.head_mismatch': { severity: 'error', meaning: "the custody entry at the pinned head's index is not the pinned one" },
  'custody.time_backwards': { severity: 'warning', meaning: 'a custody entry is dated before the one before it' },
  'custody.signer_not_pinned': { severity: 'warning', meaning: "a custody entry is signed by a key the verifier knows nothing of (neither the collector's nor pinned)" },
} as const satisfies Record<string, FindingCodeInfo>;

export type CustodyFindingCode = keyof typeof CUSTODY_FINDINGS;

/** A custody finding: `where` is the entry's position (0-based), -1 for the log as a whole. */
export type CustodyFinding = FindingOf<CustodyFindingCode, number>;

const actorSchema = z.string().superRefine((s, ctx) => {
  const problem = displayNameProblem(s);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `actor ${problem}` });
  else if (!/^[^,]*[^\s,][^,]*, \S.*$/.test(s)) ctx.addIssue({ code: 'custom', message: 'actor must be "NAME, ORG"' });
});

// eslint-disable-next-line no-control-regex
const NOTE_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const noteSchema = z
  .string()
  .min(1, 'note is empty (leave it out instead)')
  .max(MAX_NOTE_LENGTH)
  .refine((s) => !NOTE_CONTROL.test(s), 'note contains a control character other than newline or tab');

const entrySchema = z.strictObject({
  v: z.literal(CUSTODY_LOG_VERSION),
  index: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  prev: sha256HexSchema,
  action: z.enum(CUSTODY_ACTIONS),
  actor: actorSchema,
  at: timestampSchema,
  note: noteSchema.optional(),
  key: z.strictObject({ fingerprint: z.string(), public_key: z.string() }),
  sig: z.string(),
});

export type CustodyEntry = z.infer<typeof entrySchema>;

export interface VerifiedEntry {
  /** Position in the log (0-based). */
  readonly position: number;
  /** The entry, when the line parsed as one. */
  readonly entry: CustodyEntry | undefined;
  /** SHA-256 (hex) of the line's bytes without its '\n': what the next entry's `prev` names. */
  readonly sha256: string;
  /** Whether the signature verified by the entry's own key. */
  readonly signatureValid: boolean;
}

export interface CustodyVerifyOptions {
  /** The last entry the verifier knows of (from a previous handoff); detects entries cut from the end. */
  readonly head?: { readonly index: number; readonly sha256: string };
  /** Fingerprints (`SHA256:…`) of keys the verifier accepts; when given, any other key is an error. */
  readonly trustedKeys?: readonly string[];
  /**
   * Fingerprints of signers the verifier knows without listing them all (the bundle's collector
   * key). Without `trustedKeys`, an entry signed by any other key is a `custody.signer_not_pinned`
   * warning naming its actor and key: anyone can sign an entry in any name, so an entry by a key
   * nobody pinned says only that someone appended it.
   */
  readonly knownKeys?: readonly string[];
}

export interface CustodyVerifyResult {
  readonly ok: boolean;
  readonly entries: VerifiedEntry[];
  readonly findings: CustodyFinding[];
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes an entry's signature covers: the canonical entry without `sig`. */
export function custodySigningBytes(entry: Omit<CustodyEntry, 'sig'> & { sig?: string }): Uint8Array {
  const { sig: _sig, ...unsigned } = entry;
  return canonicalBytes(unsigned);
}

function splitLines(log: string | Uint8Array): { lines: Uint8Array[]; endsWithNewline: boolean } {
  const bytes = typeof log === 'string' ? Buffer.from(log, 'utf8') : Buffer.from(log.buffer, log.byteOffset, log.byteLength);
  if (bytes.length === 0) return { lines: [], endsWithNewline: true };
  const lines: Uint8Array[] = [];
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    if (nl === -1) {
      lines.push(bytes.subarray(start));
      return { lines, endsWithNewline: false };
    }
    lines.push(bytes.subarray(start, nl));
    start = nl + 1;
    if (start === bytes.length) return { lines, endsWithNewline: true };
  }
}

function checkManifestHash(manifestSha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(manifestSha256)) {
    throw new CustodyError(ErrorCodes.CUSTODY_LOG_INVALID, `the manifest hash must be 64 lowercase hex digits, got ${JSON.stringify(manifestSha256)}`);
  }
}

/**
 * Verifies a custody log against the SHA-256 of the bundle's manifest.json. Never throws on bad
 * log content: every problem is a finding with a stable code and the entry it is about.
 */
export function verifyCustodyLog(log: string | Uint8Array, manifestSha256: string, options: CustodyVerifyOptions = {}): CustodyVerifyResult {
  checkManifestHash(manifestSha256);
  const findings: CustodyFinding[] = [];
  const entries: VerifiedEntry[] = [];
  const error = (code: CustodyFindingCode, index: number, message: string): void => {
    findings.push({ code, severity: 'error', where: index, message });
  };
  const trusted = options.trustedKeys === undefined ? undefined : new Set(options.trustedKeys.map((k) => k.trim()));
  const known = options.knownKeys === undefined ? undefined : new Set(options.knownKeys.map((k) => k.trim()));
  const { lines, endsWithNewline } = splitLines(log);
  if (lines.length === 0) error('custody.empty', -1, 'the custody log has no entries');
  if (!endsWithNewline) error('custody.truncated', lines.length - 1, `entry ${lines.length - 1}: the last line has no newline (cut off, or edited)`);

  let previousHash: string | undefined;
  let previousAt: string | undefined;
  lines.forEach((line, position) => {
    const sha256 = sha256Hex(line);
    const expectedPrev = position === 0 ? manifestSha256 : previousHash;
    previousHash = sha256;
    const at = `entry ${position}`;
    let entry: CustodyEntry | undefined;
    let signatureValid = false;
    try {
      let text: string;
      let json: unknown;
      try {
        text = strictUtf8.decode(line);
        if (text.length === 0) throw new Error('the line is empty');
        json = JSON.parse(text);
      } catch (err) {
        error('custody.bad_json', position, `${at}: not a JSON line (${(err as Error).message})`);
        return;
      }
      let canonical: string | undefined;
      try {
        canonical = canonicalText(json);
      } catch {
        canonical = undefined;
      }
      if (canonical !== text) {
        error('custody.not_canonical', position, `${at}: the line is JSON but not its RFC 8785 canonical form (re-serialised or edited)`);
      }
      const parsed = entrySchema.safeParse(json);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`).join('; ');
        error('custody.bad_entry', position, `${at}: not a custody entry (${issues})`);
        return;
      }
      entry = parsed.data;
      if (entry.index !== position) {
        error('custody.index_gap', position, `${at}: has index ${entry.index}, expected ${position} (entries removed, inserted or reordered)`);
      }
      if (position === 0 && entry.prev !== manifestSha256) {
        error('custody.first_not_manifest', position, `${at}: names manifest ${entry.prev}, but this bundle's manifest.json is ${manifestSha256}`);
      } else if (position > 0 && entry.prev !== expectedPrev) {
        error('custody.broken_link', position, `${at}: prev is ${entry.prev}, but entry ${position - 1} hashes to ${expectedPrev ?? '?'} (an entry before it was changed, removed or reordered)`);
      }
      const publicKeyRaw = strictBase64(entry.key.public_key, 32);
      if (publicKeyRaw === undefined) {
        error('custody.bad_entry', position, `${at}: key.public_key is not 32 bytes of canonical base64`);
      } else {
        if (fingerprint(publicKeyRaw) !== entry.key.fingerprint) {
          error('custody.key_mismatch', position, `${at}: key fingerprint ${entry.key.fingerprint} is not that of its public key (${fingerprint(publicKeyRaw)})`);
        }
        const sig = strictBase64(entry.sig, 64);
        signatureValid = sig !== undefined && verifyBytes(publicKeyRaw, custodySigningBytes(entry), sig);
        if (!signatureValid) error('custody.bad_signature', position, `${at}: the signature does not verify with key ${fingerprint(publicKeyRaw)} (the entry or its signature was changed)`);
        if (trusted !== undefined && !trusted.has(fingerprint(publicKeyRaw))) {
          error('custody.key_not_trusted', position, `${at}: signed by ${fingerprint(publicKeyRaw)}, which is not among the trusted keys`);
        } else if (trusted === undefined && known !== undefined && !known.has(fingerprint(publicKeyRaw))) {
          findings.push({
            code: 'custody.signer_not_pinned',
            severity: 'warning',
            where: position,
            message: `${at}: "${entry.action}" by ${JSON.stringify(entry.actor)} is signed by ${fingerprint(publicKeyRaw)}, a key the verifier did not pin (pin it with --custody-key to accept it)`,
          });
        }
      }
      if (previousAt !== undefined && entry.at < previousAt) {
        findings.push({ code: 'custody.time_backwards', severity: 'warning', where: position, message: `${at}: dated ${entry.at}, before entry ${position - 1} (${previousAt}); a clock is wrong somewhere` });
      }
      previousAt = entry.at;
    } finally {
      entries.push({ position, entry, sha256, signatureValid });
    }
  });

  if (options.head !== undefined) {
    const { index, sha256 } = options.head;
    const got = entries[index];
    if (got === undefined) {
      error('custody.head_missing', -1, `the pinned head is entry ${index}, but the log has only ${entries.length} entries (entries were removed from the end)`);
    } else if (got.sha256 !== sha256) {
      error('custody.head_mismatch', index, `entry ${index} hashes to ${got.sha256}, not the pinned ${sha256}`);
    }
  }
  return { ok: findings.every((f) => f.severity !== 'error'), entries, findings };
}

/** The last entry's index and line hash: what a recipient records to detect entries cut from the end. */
export function custodyHead(log: string | Uint8Array): { index: number; sha256: string } | undefined {
  const { lines } = splitLines(log);
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : { index: lines.length - 1, sha256: sha256Hex(last) };
}

export interface CustodyEntryInput {
  /** SHA-256 (hex) of the bundle's manifest.json; entry 0 links to it, and the log is checked against it. */
  readonly manifestSha256: string;
  readonly action: CustodyAction;
  /** "NAME, ORG". */
  readonly actor: string;
  readonly note?: string;
}

/**
 * Appends one signed entry and returns the new log text. The existing log must verify (no error
 * findings) against the manifest hash: a broken chain is never extended, so a new signature can
 * never appear to vouch for an altered past. `nowMs` is the caller's clock, milliseconds since
 * the epoch (recorded as UTC with microseconds).
 */
export function appendEntry(log: string, input: CustodyEntryInput, signingKey: KeyObject, nowMs: number): string {
  checkManifestHash(input.manifestSha256);
  const fail = (message: string): never => {
    throw new CustodyError(ErrorCodes.CUSTODY_LOG_INVALID, message);
  };
  const existing = verifyCustodyLog(log, input.manifestSha256);
  const errors = existing.findings.filter((f) => f.severity === 'error' && !(f.code === 'custody.empty' && log.length === 0));
  if (errors.length > 0) fail(`refusing to extend a custody log that does not verify: ${errors.map((f) => `${f.code} (${f.message})`).join('; ')}`);
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) fail(`the entry time must be whole milliseconds since the epoch, got ${nowMs}`);
  const publicKeyRaw = rawPublicKey(signingKey);
  const head = custodyHead(log);
  const unsigned = {
    v: CUSTODY_LOG_VERSION,
    index: head === undefined ? 0 : head.index + 1,
    prev: head === undefined ? input.manifestSha256 : head.sha256,
    action: input.action,
    actor: input.actor,
    at: formatTimestamp(nowMs),
    note: input.note,
    key: { fingerprint: fingerprint(publicKeyRaw), public_key: Buffer.from(publicKeyRaw).toString('base64') },
  };
  const candidate = entrySchema.safeParse({ ...unsigned, sig: 'AA==' });
  if (!candidate.success) fail(`invalid custody entry: ${candidate.error.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`).join('; ')}`);
  const sig = Buffer.from(signBytes(signingKey, canonicalBytes(unsigned))).toString('base64');
  return `${log}${canonicalText({ ...unsigned, sig })}\n`;
}
