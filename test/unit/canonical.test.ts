import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import canonicalize from 'canonicalize';
import { canonicalBytes, canonicalText, decodeCanonical, decodeRawText, encodeRawText } from '../../src/records/canonical.js';
import { CustodyError } from '../../src/errors.js';

describe('RFC 8785 canonical JSON', () => {
  // RFC 8785 §3.2.3 "Sorting of Object Properties": keys sort by UTF-16 code units.
  it('sorts properties by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Compared as text: JS objects enumerate integer-like keys ("1") first, whatever the JSON order.
    expect(canonicalText(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  // RFC 8785 §3.2.2 / Appendix: the example with numbers, strings and literals. custody refuses
  // fractions, so this vector checks the library we build on, and our wrapper's refusal.
  it('matches the RFC 8785 §3.2.2 example through the underlying library', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
    expect(() => canonicalText(input)).toThrow(/not a safe integer/);
  });

  it('escapes control characters and NUL the RFC 8785 way and keeps other text as is', () => {
    expect(canonicalText({ a: '\u0000\u001f\u007f é 日本' })).toBe('{"a":"\\u0000\\u001f\u007f é 日本"}');
  });

  it('refuses lone surrogates, unsafe integers, fractions and non-JSON values with E_CANONICAL_INVALID', () => {
    for (const bad of [{ s: '\ud800' }, { ['\udc00']: 1 }, { n: 2 ** 53 }, { n: 0.5 }, { n: Number.NaN }, { a: [undefined] }, { d: new Date(0) }]) {
      try {
        canonicalText(bad);
        expect.fail(`accepted ${String(Object.keys(bad))}`);
      } catch (err) {
        expect(err).toBeInstanceOf(CustodyError);
        expect((err as CustodyError).code).toBe('E_CANONICAL_INVALID');
      }
    }
  });

  it('leaves out undefined object members, as JSON does', () => {
    expect(canonicalText({ b: undefined, a: 1 })).toBe('{"a":1}');
  });

  it('decodes only bytes that are exactly canonical', () => {
    const good = canonicalBytes({ b: 1, a: [true, null, 'x'] });
    expect(decodeCanonical(good)).toEqual({ a: [true, null, 'x'], b: 1 });
    const refuse = (text: string | Uint8Array): void => {
      const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
      expect(() => decodeCanonical(bytes)).toThrow(CustodyError);
    };
    refuse('{"b":1,"a":2}'); // keys out of order
    refuse('{"a": 1}'); // whitespace
    refuse('{"a":1,"a":1}'); // duplicate keys
    refuse('{"a":"\\u0041"}'); // needless escape
    refuse('{"a":1.0}'); // number not in shortest form
    refuse(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d)); // invalid UTF-8
    refuse('not json');
  });

  it('gives exactly the bytes of the canonicalize package (a full RFC 8785 implementation) on every value custody carries', () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u007f', '\u2028', '/', 'a', '\ud83d\ude00') }));
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.maxSafeInteger(),
        fc.constant(-0),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(text, tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        expect(canonicalText(value)).toBe(canonicalize(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('round-trips arbitrary JSON made of strings, safe integers, booleans and null', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'grapheme' }),
        fc.maxSafeInteger(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const bytes = canonicalBytes(value);
        const back = decodeCanonical(bytes);
        expect(canonicalBytes(back)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });
});

describe('raw text', () => {
  it('keeps valid UTF-8 (including NUL) as text and everything else as exact base64', () => {
    expect(encodeRawText(new TextEncoder().encode('a\u0000b é'))).toEqual({ text: 'a\u0000b é' });
    const invalid = Uint8Array.of(0x61, 0xc3, 0x28, 0xff, 0x00, 0xed, 0xa0, 0x80); // bad continuation, 0xff, an encoded surrogate
    const raw = encodeRawText(invalid);
    expect(raw).toEqual({ raw_b64: Buffer.from(invalid).toString('base64') });
    expect(decodeRawText(raw)).toEqual(invalid);
  });

  it('never changes a byte, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(Buffer.from(decodeRawText(encodeRawText(bytes)))).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});
