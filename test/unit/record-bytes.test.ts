import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/records/canonical.js';
import { recordBytes } from '../../src/records/record-bytes.js';
import { envelopeSchema, type EvidenceRecord } from '../../src/records/schema.js';

describe('recordBytes', () => {
  it('knows every envelope key (update record-bytes.ts when the envelope changes)', () => {
    expect(Object.keys(envelopeSchema.shape).sort()).toEqual(['boot_id', 'host', 'kind', 'mono_ns', 'observed_at', 'payload', 'seq', 'source', 'v']);
  });

  it('gives exactly canonicalBytes(record) for arbitrary records', () => {
    const text = fc.string({ unit: 'grapheme' });
    const record = fc.record({
      v: fc.constant(1 as const),
      seq: fc.maxSafeNat(),
      kind: fc.constantFrom('log.line', 'agent.heartbeat', 'usb.connect'),
      observed_at: fc.constant('2026-11-23T14:08:51.123000Z'),
      mono_ns: fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String),
      boot_id: text,
      host: text,
      source: text,
      payload: fc.dictionary(text, fc.oneof(text, fc.maxSafeInteger(), fc.boolean(), fc.constant(null), fc.array(text))),
    });
    fc.assert(
      fc.property(record, (r) => {
        expect(Buffer.from(recordBytes(r as EvidenceRecord))).toEqual(Buffer.from(canonicalBytes(r)));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives exactly canonicalBytes(record) for runs of payloads of one shape with nested objects (the shape and memo caches hit, then miss)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 6 });
    const scalar = fc.oneof(text, fc.maxSafeInteger(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constantFrom('a', 'b', '"\\\n'), fc.double());
    const keys = fc.uniqueArray(fc.oneof(text, fc.constantFrom('extra', 'derived_from', 'parser', 'a', 'B', 'é')), { minLength: 1, maxLength: 6 });
    // A nested object's members: scalars, arrays and objects one deeper still.
    const nested = fc.dictionary(text, fc.oneof(scalar, fc.array(text, { maxLength: 3 }), fc.dictionary(text, scalar, { maxKeys: 2 })), { maxKeys: 5 });
    const run = fc.tuple(keys, fc.uniqueArray(text, { minLength: 1, maxLength: 5 }), fc.constantFrom('file.access', 'process.exec')).chain(([top, inner, kind]) =>
      fc.array(
        fc.tuple(fc.array(fc.oneof(scalar, nested, fc.array(text, { maxLength: 3 })), { minLength: top.length, maxLength: top.length }), fc.array(fc.oneof(scalar, nested), { minLength: inner.length, maxLength: inner.length }), fc.boolean()).map(([values, innerValues, withInner]) => {
          const payload: Record<string, unknown> = {};
          top.forEach((k, i) => (payload[k] = values[i]));
          // The same nested keys in the same order, record after record, as a parser writes `extra`.
          if (withInner) payload['extra'] = Object.fromEntries(inner.map((k, i) => [k, innerValues[i]]));
          return { v: 1 as const, seq: 7, kind, observed_at: '2026-11-23T14:08:51.123000Z', mono_ns: '1', boot_id: 'b', host: 'h', source: 's', payload };
        }),
        { minLength: 1, maxLength: 6 },
      ),
    );
    const outcome = (f: () => Uint8Array): string => {
      try {
        return Buffer.from(f()).toString('hex');
      } catch (err) {
        return `throws ${(err as { code?: string }).code ?? String(err)}`;
      }
    };
    fc.assert(
      fc.property(run, (records) => {
        for (const r of records) expect(outcome(() => recordBytes(r as EvidenceRecord))).toBe(outcome(() => canonicalBytes(r)));
      }),
      { numRuns: 3000 },
    );
  });
  it('gives exactly canonicalBytes(record) when payloads of a kind alternate between several shapes (more than the shapes kept per kind)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 4 });
    const scalar = fc.oneof(text, fc.maxSafeInteger(), fc.boolean(), fc.constant(undefined), fc.constantFrom('a', '"\\\n'));
    const keyList = fc.uniqueArray(fc.oneof(text, fc.constantFrom('extra', 'path', 'a', 'B', 'é')), { minLength: 0, maxLength: 5 });
    const run = fc.tuple(fc.array(keyList, { minLength: 1, maxLength: 12 }), fc.array(keyList, { minLength: 1, maxLength: 12 })).chain(([tops, inners]) =>
      fc.array(
        fc.tuple(fc.nat(tops.length - 1), fc.nat(inners.length - 1), fc.array(scalar, { minLength: 5, maxLength: 5 }), fc.array(scalar, { minLength: 5, maxLength: 5 })).map(([t, i, values, innerValues]) => {
          const payload: Record<string, unknown> = {};
          tops[t]!.forEach((k, n) => (payload[k] = values[n]));
          payload['extra'] = Object.fromEntries(inners[i]!.map((k, n) => [k, innerValues[n]]));
          return { v: 1 as const, seq: 7, kind: 'file.access', observed_at: '2026-11-23T14:08:51.123000Z', mono_ns: '1', boot_id: 'b', host: 'h', source: 's', payload };
        }),
        { minLength: 1, maxLength: 40 },
      ),
    );
    fc.assert(
      fc.property(run, (records) => {
        for (const r of records) expect(Buffer.from(recordBytes(r as EvidenceRecord)).toString()).toBe(Buffer.from(canonicalBytes(r)).toString());
      }),
      { numRuns: 500 },
    );
  });
});
