/**
 * Reads the few envelope fields the integrity checks need straight out of a record's canonical
 * text, without JSON.parse and without the schema (issue 14). Pure: no I/O.
 *
 * Why this is enough for default `verify`: integrity is bytes → leaf hash → Merkle root →
 * signature; what the verifier also takes from a record (its seq, kind, observed_at, host, and a
 * followed file's read position) are values the sealed bytes state, and this scan reads exactly
 * those values. Canonical JSON writes the envelope's keys in one fixed order (boot_id, host, kind,
 * mono_ns, observed_at, payload, seq, source, v), so the scan walks that order and refuses the
 * record (returns undefined) at the first thing that is not where canonical text puts it: a key
 * missing, extra or out of order, a value of another type, a number that is not a plain safe
 * integer, bytes that are not UTF-8. A refused record is not a finding: the verifier then checks it
 * in full (canonical decoding and schema), which names what is wrong. So the scan only ever
 * answers for text shaped as canonical custody records, and there it gives the values JSON.parse
 * gives (test/unit/record-scan.test.ts holds it to that on arbitrary canonical records).
 *
 * What the scan does not do: prove the text is canonical JSON, or that the payload matches its
 * kind's schema (the payload is skipped over by its brackets and quotes, not validated). That is
 * well-formedness, checked by `verify --deep` and where records are parsed anyway.
 */

/** The envelope fields the integrity checks use, and where the payload's text is. */
export interface ScannedEnvelope {
  seq: number;
  kind: string;
  observed_at: string;
  host: string;
  source: string;
  /** The payload object is text[payloadStart, payloadEnd) of the decoded record. */
  payloadStart: number;
  payloadEnd: number;
}

/** What a `log.line` payload says about its file's read position (file-offsets.ts). */
export interface ScannedFileLine {
  path: string;
  dev: string;
  ino: string;
  offset: number;
  length: number;
  partial: boolean | undefined;
}

const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The record's bytes as text, or undefined when they are not UTF-8 (such a record is checked in full). */
export function recordText(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** Characters JSON never allows raw inside a string. */
const CONTROL = /[\u0000-\u001f]/;

/** Scanner state: the position after the last thing read, and the last value read. */
class Scan {
  at = 0;
  /** The value of the last string read. */
  str = '';
  /** The value of the last number read. */
  num = 0;

  constructor(readonly text: string) {}

  /** Consumes `literal` exactly. */
  expect(literal: string): boolean {
    if (!this.text.startsWith(literal, this.at)) return false;
    this.at += literal.length;
    return true;
  }

  /** The index of the quote that closes the string opening at `open` (a quote), or -1. */
  private closingQuote(open: number): number {
    const t = this.text;
    let q = t.indexOf('"', open + 1);
    while (q !== -1) {
      let backslashes = 0;
      for (let b = q - 1; b > open && t.charCodeAt(b) === BACKSLASH; b--) backslashes++;
      if ((backslashes & 1) === 0) return q;
      q = t.indexOf('"', q + 1);
    }
    return -1;
  }

  /** Reads a JSON string into `str`. */
  string(): boolean {
    const t = this.text;
    if (t.charCodeAt(this.at) !== QUOTE) return false;
    const close = this.closingQuote(this.at);
    if (close === -1) return false;
    const raw = t.slice(this.at + 1, close);
    if (raw.includes('\\')) {
      // Escapes are rare in the fields read here: JSON.parse decodes them (and refuses bad ones).
      try {
        this.str = JSON.parse(t.slice(this.at, close + 1)) as string;
      } catch {
        return false;
      }
    } else {
      if (CONTROL.test(raw)) return false;
      this.str = raw;
    }
    this.at = close + 1;
    return true;
  }

  /** Reads a non-negative safe integer written as canonical JSON writes it (no sign, fraction, exponent or leading zero) into `num`. */
  uint(): boolean {
    const t = this.text;
    const start = this.at;
    let i = start;
    for (let c = t.charCodeAt(i); c >= 0x30 && c <= 0x39; c = t.charCodeAt(++i));
    const digits = i - start;
    if (digits === 0 || digits > 16 || (digits > 1 && t.charCodeAt(start) === 0x30)) return false;
    const c = t.charCodeAt(i);
    // A fraction, exponent or further digit would make it another number: refuse, do not truncate.
    if (c === 0x2e || c === 0x65 || c === 0x45) return false;
    const n = Number(t.slice(start, i));
    if (!Number.isSafeInteger(n)) return false;
    this.num = n;
    this.at = i;
    return true;
  }

  /** Skips one JSON object or array (brackets and strings balanced; its contents are not validated). */
  skipComposite(): boolean {
    const t = this.text;
    const first = t.charCodeAt(this.at);
    if (first !== OPEN_BRACE && first !== OPEN_BRACKET) return false;
    let depth = 0;
    for (let i = this.at; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === QUOTE) {
        const close = this.closingQuote(i);
        if (close === -1) return false;
        i = close;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) {
          this.at = i + 1;
          return true;
        }
      }
    }
    return false;
  }

  /** Skips a JSON string (the envelope fields read but not used: boot_id, mono_ns). */
  skipString(): boolean {
    return this.text.charCodeAt(this.at) === QUOTE && this.skipScalar();
  }

  /** Skips one JSON scalar (a string, or a run of number, true/false/null characters). */
  skipScalar(): boolean {
    const t = this.text;
    if (t.charCodeAt(this.at) === QUOTE) {
      const close = this.closingQuote(this.at);
      if (close === -1) return false;
      this.at = close + 1;
      return true;
    }
    let i = this.at;
    for (let c = t.charCodeAt(i); i < t.length && c !== COMMA && c !== CLOSE_BRACE && c !== CLOSE_BRACKET; c = t.charCodeAt(++i));
    if (i === this.at) return false;
    this.at = i;
    return true;
  }
}

/**
 * The envelope of a record whose text is shaped as canonical custody records are, or undefined.
 * `text` is the record's bytes decoded as UTF-8 (recordText).
 */
export function scanEnvelope(text: string): ScannedEnvelope | undefined {
  const s = new Scan(text);
  if (!s.expect('{"boot_id":') || !s.skipString()) return undefined;
  if (!s.expect(',"host":') || !s.string()) return undefined;
  const host = s.str;
  if (!s.expect(',"kind":') || !s.string()) return undefined;
  const kind = s.str;
  if (!s.expect(',"mono_ns":') || !s.skipString()) return undefined;
  if (!s.expect(',"observed_at":') || !s.string()) return undefined;
  const observedAt = s.str;
  if (!s.expect(',"payload":') || text.charCodeAt(s.at) !== OPEN_BRACE) return undefined;
  const payloadStart = s.at;
  if (!s.skipComposite()) return undefined;
  const payloadEnd = s.at;
  if (!s.expect(',"seq":') || !s.uint()) return undefined;
  const seq = s.num;
  if (!s.expect(',"source":') || !s.string()) return undefined;
  const source = s.str;
  if (!s.expect(',"v":1}') || s.at !== text.length) return undefined;
  return { seq, kind, observed_at: observedAt, host, source, payloadStart, payloadEnd };
}

/**
 * The read position a `log.line` payload states (text[start, end) is the payload object, as
 * scanEnvelope found it), or undefined when any of the fields is missing or not of the type its
 * schema says: such a record is checked in full. Other fields are skipped, not validated.
 */
export function scanFileLine(text: string, start: number, end: number): ScannedFileLine | undefined {
  const s = new Scan(text);
  s.at = start;
  if (!s.expect('{')) return undefined;
  let path: string | undefined;
  let dev: string | undefined;
  let ino: string | undefined;
  let offset: number | undefined;
  let length: number | undefined;
  let partial: boolean | undefined;
  if (text.charCodeAt(s.at) === CLOSE_BRACE) return undefined;
  for (;;) {
    if (!s.string()) return undefined;
    const key = s.str;
    if (text.charCodeAt(s.at) !== COLON) return undefined;
    s.at++;
    // A key given twice counts with its last value, as in JSON.parse (canonical text has none).
    switch (key) {
      case 'path':
      case 'dev':
      case 'ino':
        if (!s.string()) return undefined;
        if (key === 'path') path = s.str;
        else if (key === 'dev') dev = s.str;
        else ino = s.str;
        break;
      case 'offset':
      case 'length':
        if (!s.uint()) return undefined;
        if (key === 'offset') offset = s.num;
        else length = s.num;
        break;
      case 'partial':
        if (s.expect('true')) partial = true;
        else if (s.expect('false')) partial = false;
        else return undefined;
        break;
      default: {
        const c = text.charCodeAt(s.at);
        if (!(c === OPEN_BRACE || c === OPEN_BRACKET ? s.skipComposite() : s.skipScalar())) return undefined;
      }
    }
    const c = text.charCodeAt(s.at);
    if (c === COMMA) {
      s.at++;
      continue;
    }
    if (c !== CLOSE_BRACE || s.at + 1 !== end) return undefined;
    break;
  }
  if (path === undefined || dev === undefined || ino === undefined || offset === undefined || length === undefined) return undefined;
  return { path, dev, ino, offset, length, partial };
}
