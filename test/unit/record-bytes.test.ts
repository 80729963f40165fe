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
});
