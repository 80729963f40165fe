/**
 * The verifier's fast canonical check (src/verify/record-check.ts) must decide exactly as the
 * function it stands in for: decodeCanonicalFast as decodeCanonical, same value or same error,
 * same message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalText, decodeCanonical } from '../../src/records/canonical.js';
import { decodeCanonicalFast } from '../../src/verify/record-check.js';

type Outcome = { ok: true; value: unknown } | { ok: false; name: string; code: unknown; message: string };

function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { ok: false, name: e.name, code: e.code, message: e.message };
  }
}

function sameDecode(bytes: Uint8Array): void {
  expect(outcome(() => decodeCanonicalFast(bytes))).toEqual(outcome(() => decodeCanonical(bytes)));
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('decodeCanonicalFast decides as decodeCanonical', () => {
  it('on hand-picked edge cases', () => {
    for (const text of [
      '{"a":1}',
      '{"b":1,"a":2}',
      '{"a":1,"a":2}',
      '{"10":1,"9":2}',
      '{"9":1,"10":2}',
      '{"1":0,"a":1}',
      '{"__proto__":1}',
      '{"__proto__":{"x":1},"a":[]}',
      '"\\ud800"',
      '"\\ud83d\\ude00"',
      '"😀"',
      '"\\\\ud800"',
      '{"a":"\\u0041"}',
      '{"a":"\\/"}',
      '{"a":"\\u001f"}',
      '{"a":"\\u001F"}',
      '{"a":"\\n"}',
      '{"a":"é"}',
      '1e21',
      '-0',
      '0',
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '1.5',
      '1.0',
      '[1,2,3]',
      '[1, 2]',
      ' {"a":1}',
      '{"a":1}\n',
      '\ufeff{"a":1}',
      '{"toJSON":"x"}',
      '{"a":{"toJSON":1}}',
      'null',
      'true',
      '{}',
      '[]',
      '',
      '{',
      '{"":1,"a":2}',
      '{"a":1,"":2}',
      '{"é":1,"z":2}',
      '{"z":1,"é":2}',
      '{"\uff5e":1,"\ud83d\ude00":2}',
      '{"\ud83d\ude00":1,"\uff5e":2}',
    ]) {
      sameDecode(utf8(text));
    }
    sameDecode(new Uint8Array([0x7b, 0xff, 0x7d]));
    sameDecode(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22])); // an encoded surrogate (CESU-8)
  });

  it('on arbitrary JSON values written canonically, as JSON.stringify writes them, and with whitespace', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.nat(), (value, seed) => {
        const texts = [JSON.stringify(value), JSON.stringify(value, null, seed % 3)];
        const canonical = outcome(() => canonicalText(value));
        if (canonical.ok) texts.push(canonical.value as string);
        for (const text of texts) sameDecode(utf8(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('on arbitrary strings and byte strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        sameDecode(utf8(JSON.stringify({ a: s })));
        sameDecode(utf8(`{"a":"${s}"}`));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => sameDecode(bytes)),
      { numRuns: 2000 },
    );
  });
});
