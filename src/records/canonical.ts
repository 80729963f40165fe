/**
 * RFC 8785 (JCS) canonical bytes for records. Pure: no I/O.
 *
 * Evidence uses a narrow slice of JSON: strings, safe integers, booleans, null, arrays and plain
 * objects. Over that slice JCS is exactly "JSON.stringify with object keys sorted by UTF-16 code
 * units" (RFC 8785 §3.2.2 defines string and integer output by ECMAScript's own serialisation), so
 * custody owns this small serializer: it is several times faster than a general-purpose JCS
 * library on the verifier's hot path. The `canonicalize` package (a full RFC 8785 implementation)
 * is the oracle in the tests: for every value in the slice both must give identical bytes.
 *
 * Anything outside the slice is refused with a typed error naming where it is: fractions and
 * integers beyond 2^53 (carry them as decimal strings), lone surrogates, non-plain objects.
 */
import { CustodyError, ErrorCodes } from '../errors.js';

const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Characters JSON.stringify would escape in a well-formed string; most evidence strings have none. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** The RFC 8785 text of a string, or undefined for one that has none (a lone surrogate). */
export function quotedString(s: string): string | undefined {
  return s.isWellFormed() ? quote(s) : undefined;
}

/** Thrown inside the fast path, which builds no paths; the slow walk then names where the problem is. */
class NotCanonical extends Error {}

function serialize(value: unknown): string {
  if (value === null) return 'null';
  // if…else on typeof, not switch (typeof value), which compiles to a call that makes the type's name and compares strings.
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new NotCanonical();
    return quote(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new NotCanonical();
    return String(value); // "0" for -0, as RFC 8785 requires
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'object') throw new NotCanonical();
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      if (item === undefined) throw new NotCanonical();
      out += serialize(item);
    }
    return `${out}]`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new NotCanonical();
  // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires.
  const keys = Object.keys(value).sort();
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of keys) {
    const child = obj[key];
    // An undefined member is absent, as in JSON.stringify: optional fields may be written so.
    if (child === undefined) continue;
    if (!key.isWellFormed()) throw new NotCanonical();
    if (!first) out += ',';
    first = false;
    out += quote(key);
    out += ':';
    out += serialize(child);
  }
  return `${out}}`;
}

/** Walks a value to name the first thing the serializer refused (only on the error path). */
function findProblem(value: unknown, path: string): string {
  if (value === null || typeof value === 'boolean') return '';
  if (typeof value === 'string') return value.isWellFormed() ? '' : `${path}: string contains a lone surrogate`;
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? '' : `${path}: ${String(value)} is not a safe integer (larger integers and fractions must be strings)`;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const problem = item === undefined ? `${path}[${i}]: undefined is not JSON` : findProblem(item, `${path}[${i}]`);
      if (problem) return problem;
    }
    return '';
  }
  if (typeof value === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `${path}: not a plain JSON object`;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (child === undefined) continue;
      if (!key.isWellFormed()) return `${path}: key contains a lone surrogate`;
      const problem = findProblem(child, `${path}.${key}`);
      if (problem) return problem;
    }
    return '';
  }
  return `${path}: ${typeof value} is not JSON`;
}

/** The RFC 8785 canonical text of a JSON value. Throws E_CANONICAL_INVALID on what custody does not carry. */
export function canonicalText(value: unknown): string {
  try {
    return serialize(value);
  } catch (err) {
    if (!(err instanceof NotCanonical)) throw err;
    throw new CustodyError(ErrorCodes.CANONICAL_INVALID, `cannot canonicalize: ${findProblem(value, '$') || '$: not JSON'}`);
  }
}

/** The RFC 8785 canonical UTF-8 bytes of a JSON value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalText(value), 'utf8');
}

/**
 * Decodes bytes that claim to be canonical JSON and proves the claim: strict UTF-8, valid JSON,
 * and re-canonicalising gives back the very same bytes (so duplicate keys, extra whitespace,
 * reordered keys or re-escaped strings are all refused).
 */
export function decodeCanonical(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = strictUtf8Decoder.decode(bytes);
  } catch {
    throw new CustodyError(ErrorCodes.CANONICAL_INVALID, 'bytes are not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CustodyError(ErrorCodes.CANONICAL_INVALID, `bytes are not JSON: ${(err as Error).message}`);
  }
  const again = canonicalText(value);
  if (again !== text) {
    throw new CustodyError(ErrorCodes.CANONICAL_INVALID, 'bytes are JSON but not in RFC 8785 canonical form');
  }
  return value;
}

/**
 * Raw bytes as they go into a record: valid UTF-8 is kept as text, anything else is kept exactly
 * as base64 and never "repaired" (a replacement character would destroy evidence).
 */
export type RawText = { text: string } | { raw_b64: string };

export function encodeRawText(bytes: Uint8Array): RawText {
  try {
    return { text: strictUtf8Decoder.decode(bytes) };
  } catch {
    return { raw_b64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  }
}

/** The exact bytes a RawText stands for. */
export function decodeRawText(raw: RawText): Uint8Array {
  if ('text' in raw) return Buffer.from(raw.text, 'utf8');
  return new Uint8Array(Buffer.from(raw.raw_b64, 'base64'));
}
