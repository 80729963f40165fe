/**
 * The envelope scan of default `verify` (src/verify/record-scan.ts) stands in for JSON.parse on the
 * values the integrity checks use: on every canonical record it must read exactly what JSON.parse
 * reads, and it must refuse (so the verifier checks the record in full) whatever is not shaped as a
 * canonical envelope. Property tests over arbitrary records and arbitrary near-envelopes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalText } from '../../src/records/canonical.js';
import { recordText, scanEnvelope, scanFileLine } from '../../src/verify/record-scan.js';

const ENVELOPE_KEYS = ['boot_id', 'host', 'kind', 'mono_ns', 'observed_at', 'payload', 'seq', 'source', 'v'];

/** Any well-formed string: ASCII, other planes, control characters, quotes and backslashes. */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '/', '\n', '\u0000', '\u001f', 'é', '😀', 'a', ',', '}', ']', '{', '[', ':') }),
);
const safeInt = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.maxSafeNat(), fc.constantFrom(0, 1, 9, 10, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER));
/** JSON values in custody's slice: strings, safe integers, booleans, null, arrays, plain objects. */
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    safeInt,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(text, tie('json'), { maxKeys: 4 }),
  ),
}));
const payloadObject = fc.dictionary(text, json, { maxKeys: 6 });

const fileLinePayload = fc.record(
  {
    path: text,
    dev: text,
    ino: text,
    offset: fc.maxSafeNat(),
    length: fc.maxSafeNat(),
    line_no: fc.maxSafeNat(),
    partial: fc.boolean(),
    text,
    extra: json,
  },
  { requiredKeys: ['path', 'dev', 'ino', 'offset', 'length'] },
);

const envelope = (payload: fc.Arbitrary<Record<string, unknown>>) =>
  fc.record({
    v: fc.constant(1),
    seq: fc.maxSafeNat(),
    kind: fc.oneof(fc.constantFrom('log.line', 'usb.connect', 'key.rotate'), text),
    observed_at: text,
    mono_ns: text,
    boot_id: text,
    host: text,
    source: fc.oneof(fc.constant('file:/var/log/auth.log'), text),
    payload,
  });

function scanned(record: unknown): ReturnType<typeof scanEnvelope> {
  const t = recordText(canonicalBytes(record));
  expect(t).toBeDefined();
  return scanEnvelope(t as string);
}

describe('scanEnvelope', () => {
  it('reads from any canonical record exactly the values JSON.parse reads', () => {
    fc.assert(
      fc.property(envelope(fc.oneof(payloadObject, fileLinePayload)), (record) => {
        const t = canonicalText(record);
        const parsed = JSON.parse(t) as Record<string, unknown>;
        const s = scanEnvelope(t);
        expect(s).toBeDefined();
        if (s === undefined) return;
        expect({ seq: s.seq, kind: s.kind, observed_at: s.observed_at, host: s.host, source: s.source }).toEqual({
          seq: parsed.seq,
          kind: parsed.kind,
          observed_at: parsed.observed_at,
          host: parsed.host,
          source: parsed.source,
        });
        expect(JSON.parse(t.slice(s.payloadStart, s.payloadEnd))).toEqual(parsed.payload);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a log.line payload\'s read position exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(envelope(fileLinePayload), (record) => {
        const t = canonicalText(record);
        const s = scanEnvelope(t);
        expect(s).toBeDefined();
        if (s === undefined) return;
        const p = (JSON.parse(t) as { payload: Record<string, unknown> }).payload;
        expect(scanFileLine(t, s.payloadStart, s.payloadEnd)).toEqual({ path: p.path, dev: p.dev, ino: p.ino, offset: p.offset, length: p.length, partial: p.partial });
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses canonical JSON that is not an envelope: a key missing or added, a value of another type', () => {
    const wrongType: Record<string, fc.Arbitrary<unknown>> = {
      boot_id: fc.oneof(safeInt, fc.boolean(), fc.constant(null), payloadObject),
      host: fc.oneof(safeInt, fc.boolean(), fc.constant(null), fc.array(text)),
      kind: fc.oneof(safeInt, fc.boolean(), fc.constant(null), payloadObject),
      mono_ns: fc.oneof(safeInt, fc.constant(null), fc.array(json)),
      observed_at: fc.oneof(safeInt, fc.boolean(), payloadObject),
      payload: fc.oneof(text, safeInt, fc.boolean(), fc.constant(null), fc.array(json)),
      seq: fc.oneof(text, fc.integer({ max: -1 }), fc.boolean(), fc.constant(null), payloadObject),
      source: fc.oneof(safeInt, fc.boolean(), fc.constant(null), payloadObject),
      v: fc.oneof(fc.integer().filter((n) => n !== 1), text, fc.boolean(), fc.constant(null)),
    };
    const mutated = fc.tuple(envelope(payloadObject), fc.constantFrom(...ENVELOPE_KEYS), fc.constantFrom('drop', 'retype', 'add'), text, json).chain(([record, key, how, extraKey, extraValue]) => {
      if (how === 'retype') return (wrongType[key] as fc.Arbitrary<unknown>).map((value) => ({ ...record, [key]: value }) as Record<string, unknown>);
      const copy: Record<string, unknown> = { ...record };
      if (how === 'drop') delete copy[key];
      // defineProperty: an added `__proto__` must be a member, not the prototype.
      else if (!ENVELOPE_KEYS.includes(extraKey)) Object.defineProperty(copy, extraKey, { value: extraValue, enumerable: true, configurable: true, writable: true });
      else delete copy[key];
      return fc.constant(copy);
    });
    fc.assert(
      fc.property(mutated, (record) => {
        expect(scanned(record)).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses the text of an envelope written other than canonically', () => {
    const record = { v: 1, seq: 7, kind: 'log.line', observed_at: '2026-11-23T14:08:51.123456Z', mono_ns: '1', boot_id: 'b', host: 'web-01', source: 'file:/x', payload: { a: 1 } };
    const canonical = canonicalText(record);
    expect(scanEnvelope(canonical)).toMatchObject({ seq: 7, kind: 'log.line', host: 'web-01' });
    for (const t of [
      JSON.stringify(record), // keys in insertion order
      JSON.stringify(record, null, 1),
      `${canonical}\n`,
      ` ${canonical}`,
      canonical.replace('"seq":7', '"seq":7.0'),
      canonical.replace('"seq":7', '"seq":7e0'),
      canonical.replace('"seq":7', '"seq":07'),
      canonical.replace('"seq":7', '"seq":-7'),
      canonical.replace('"seq":7', '"seq":9007199254740993'),
      canonical.replace('"v":1', '"v":2'),
      canonical.replace('"v":1', '"v":1.0'),
      canonical.replace('"host":"web-01"', '"host":"web\u0001-01"'),
      canonical.replace('"host":"web-01"', '"host":"web\\x-01"'),
      canonical.replace('"host":"web-01"', '"host":"web-01'),
      canonical.replace('"payload":{"a":1}', '"payload":{"a":1'),
      canonical.replace('"payload":{"a":1}', '"payload":[1]'),
      canonical.slice(0, -1),
      '',
      '{}',
      'null',
    ]) {
      expect(scanEnvelope(t), t).toBeUndefined();
    }
  });

  it('never reads other values than JSON.parse from any JSON object, canonical or not', () => {
    const key = fc.oneof(fc.constantFrom(...ENVELOPE_KEYS), text);
    const anyObject = fc.dictionary(key, json, { maxKeys: 12 });
    fc.assert(
      fc.property(fc.oneof(anyObject, envelope(payloadObject)), fc.boolean(), (object, canonical) => {
        const t = canonical ? canonicalText(object) : JSON.stringify(object);
        const s = scanEnvelope(t);
        if (s === undefined) return;
        const parsed = JSON.parse(t) as Record<string, unknown>;
        expect(Object.keys(parsed).sort()).toEqual(ENVELOPE_KEYS);
        expect(parsed.v).toBe(1);
        expect({ seq: s.seq, kind: s.kind, observed_at: s.observed_at, host: s.host, source: s.source }).toEqual({
          seq: parsed.seq,
          kind: parsed.kind,
          observed_at: parsed.observed_at,
          host: parsed.host,
          source: parsed.source,
        });
        expect(JSON.parse(t.slice(s.payloadStart, s.payloadEnd))).toEqual(parsed.payload);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('scanFileLine', () => {
  it('reads a read position only when every field it needs has the type its schema says, and then as JSON.parse does', () => {
    const field = fc.constantFrom('path', 'dev', 'ino', 'offset', 'length', 'partial', 'text', 'line_no');
    const value = fc.oneof(json, fc.maxSafeNat(), text, fc.boolean());
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(field, text), value, { minKeys: 0, maxKeys: 9 }), fc.boolean(), (payload, canonical) => {
        const t = canonical ? canonicalText(payload) : JSON.stringify(payload);
        const got = scanFileLine(t, 0, t.length);
        const p = JSON.parse(t) as Record<string, unknown>;
        const typed =
          typeof p.path === 'string' &&
          typeof p.dev === 'string' &&
          typeof p.ino === 'string' &&
          Number.isSafeInteger(p.offset) &&
          (p.offset as number) >= 0 &&
          Number.isSafeInteger(p.length) &&
          (p.length as number) >= 0 &&
          (p.partial === undefined || typeof p.partial === 'boolean');
        if (!typed) expect(got).toBeUndefined();
        else if (canonical) expect(got).toEqual({ path: p.path, dev: p.dev, ino: p.ino, offset: p.offset, length: p.length, partial: p.partial });
        else if (got !== undefined) expect(got).toEqual({ path: p.path, dev: p.dev, ino: p.ino, offset: p.offset, length: p.length, partial: p.partial });
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses numbers canonical JSON would not write and a payload cut short', () => {
    const base = '{"dev":"2049","ino":"1311","length":5,"offset":10,"path":"/x"}';
    expect(scanFileLine(base, 0, base.length)).toEqual({ path: '/x', dev: '2049', ino: '1311', offset: 10, length: 5, partial: undefined });
    for (const t of [base.replace('"offset":10', '"offset":1e1'), base.replace('"offset":10', '"offset":10.0'), base.replace('"offset":10', '"offset":010'), base.replace('"offset":10', '"offset":-10'), base.slice(0, -1), '{}']) {
      expect(scanFileLine(t, 0, t.length), t).toBeUndefined();
    }
  });
});

describe('recordText', () => {
  it('refuses bytes that are not UTF-8', () => {
    expect(recordText(new Uint8Array([0x7b, 0xff, 0x7d]))).toBeUndefined();
    expect(recordText(new TextEncoder().encode('{"a":"é"}'))).toBe('{"a":"é"}');
  });
});
