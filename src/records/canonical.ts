/**
 * RFC 8785 (JCS) canonical bytes for records. Pure: no I/O.
 *
 * `canonicalize` does the serialisation; this module adds what custody needs on top of it:
 * numbers must be safe integers (anything larger is carried as a decimal string, and floats have
 * no place in evidence), lone surrogates are refused with a typed error, and decoding insists that
 * stored bytes are exactly the canonical form of what they decode to.
 */
import canonicalize from 'canonicalize';
import { CustodyError, ErrorCodes } from '../errors.js';

const utf8Encoder = new TextEncoder();
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Walks a JSON value and names the first thing JCS (as custody uses it) cannot represent exactly. */
function findNonCanonicalValue(value: unknown, path: string): string | undefined {
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'string') {
    return value.isWellFormed() ? undefined : `${path}: string contains a lone surrogate`;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      return `${path}: ${String(value)} is not a safe integer (larger integers and fractions must be strings)`;
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = findNonCanonicalValue(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `${path}: not a plain JSON object`;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (!key.isWellFormed()) return `${path}: key contains a lone surrogate`;
      // An undefined member is absent, as in JSON.stringify: optional fields may be written so.
      if (child === undefined) continue;
      const problem = findNonCanonicalValue(child, `${path}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${path}: ${typeof value} is not JSON`;
}

/** The RFC 8785 canonical text of a JSON value. Throws E_CANONICAL_INVALID on what JCS cannot carry. */
export function canonicalText(value: unknown): string {
  const problem = findNonCanonicalValue(value, '$');
  if (problem) throw new CustodyError(ErrorCodes.CANONICAL_INVALID, `cannot canonicalize: ${problem}`);
  const text = canonicalize(value);
  if (text === undefined) throw new CustodyError(ErrorCodes.CANONICAL_INVALID, 'cannot canonicalize: value is not JSON');
  return text;
}

/** The RFC 8785 canonical UTF-8 bytes of a JSON value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8Encoder.encode(canonicalText(value));
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
  if ('text' in raw) return utf8Encoder.encode(raw.text);
  return new Uint8Array(Buffer.from(raw.raw_b64, 'base64'));
}
