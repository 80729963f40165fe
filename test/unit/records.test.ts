import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatTimestamp, isPlainValidLogLine, payloadSchemas, validateRecord } from '../../src/records/schema.js';
import { CustodyError } from '../../src/errors.js';

const base = {
  v: 1,
  seq: 0,
  kind: 'log.line',
  observed_at: '2026-11-23T14:08:51.123000Z',
  mono_ns: '123456789012345678',
  boot_id: 'a1b2',
  host: 'web-01',
  source: 'file:/var/log/syslog',
  payload: { path: '/var/log/syslog', dev: '2049', ino: '131', offset: 0, line_no: 1, length: 5, text: 'hello' },
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof CustodyError ? err.code : 'not a CustodyError';
  }
}

describe('record schemas', () => {
  it('accepts a valid log.line record', () => {
    expect(validateRecord(base).seq).toBe(0);
  });

  it('names every problem by path', () => {
    const bad = { ...base, seq: -1, observed_at: '2026-11-23 14:08', payload: { ...base.payload, dev: 2049, extra: 1 } };
    try {
      validateRecord(bad);
      expect.fail('accepted');
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toMatch(/seq:/);
      expect(message).toMatch(/observed_at: must be UTC RFC 3339 with microseconds/);
    }
    try {
      validateRecord({ ...base, payload: { ...base.payload, dev: 2049 } });
      expect.fail('accepted');
    } catch (err) {
      expect((err as Error).message).toMatch(/payload\.dev/);
    }
  });

  it('requires exactly one of text and raw_b64', () => {
    const { text: _text, ...noText } = base.payload;
    expect(codeOf(() => validateRecord({ ...base, payload: noText }))).toBe('E_RECORD_INVALID');
    expect(codeOf(() => validateRecord({ ...base, payload: { ...base.payload, raw_b64: 'AA==' } }))).toBe('E_RECORD_INVALID');
    expect(codeOf(() => validateRecord({ ...base, payload: { ...noText, raw_b64: 'AA==' } }))).toBeUndefined();
  });

  it('refuses unknown kinds unless told to allow them, and unknown envelope fields always', () => {
    const future = { ...base, kind: 'printer.job', payload: { anything: true } };
    expect(codeOf(() => validateRecord(future))).toBe('E_RECORD_INVALID');
    expect(validateRecord(future, { unknownKind: 'allow' }).kind).toBe('printer.job');
    expect(codeOf(() => validateRecord({ ...base, extra: 1 }, { unknownKind: 'allow' }))).toBe('E_RECORD_INVALID');
  });

  it('refuses a payload that is not a JSON object, for known and unknown kinds alike, naming the field', () => {
    for (const payload of [null, [], 'text', 7, [{ text: 'x' }]]) {
      for (const kind of ['log.line', 'printer.job']) {
        expect(() => validateRecord({ ...base, kind, payload }, { unknownKind: 'allow' })).toThrow(/payload: Invalid input: expected an object/);
      }
    }
    expect(validateRecord({ ...base, kind: 'printer.job', payload: JSON.parse('{"__proto__":{"x":1}}') as unknown }, { unknownKind: 'allow' }).kind).toBe('printer.job');
  });

  it('formats timestamps with six fractional digits in UTC', () => {
    expect(formatTimestamp(Date.UTC(2026, 10, 23, 14, 8, 51, 123))).toBe('2026-11-23T14:08:51.123000Z');
    expect(formatTimestamp(0, 42)).toBe('1970-01-01T00:00:00.000042Z');
  });
});

describe('the hand-written log.line check', () => {
  const valid = { path: '/var/log/syslog', dev: '2049', ino: '131', offset: 0, line_no: 1, length: 5, text: 'hello' };

  it('takes the common payloads the agent writes', () => {
    expect(isPlainValidLogLine(valid)).toBe(true);
    expect(isPlainValidLogLine({ ...valid, partial: true })).toBe(true);
    expect(isPlainValidLogLine({ ...valid, text: '' })).toBe(true);
  });

  it('never says yes to a payload the schema refuses', () => {
    const odd = fc.oneof(
      fc.constantFrom(undefined, null, '', '0', '01', '-1', '1.5', ' 1', '１', 0, -0, -1, 1.5, 2 ** 53, Number.NaN, Infinity, true, false, 'true', [], {}, '\u0000'),
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
    );
    const keys = ['path', 'dev', 'ino', 'offset', 'line_no', 'length', 'partial', 'text', 'raw_b64', 'extra', '__proto__', 'constructor'];
    const payload = fc.record(Object.fromEntries(keys.map((k) => [k, odd])), { requiredKeys: [] }).map((changes) => ({ ...valid, ...changes }));
    const dropped = fc.tuple(payload, fc.subarray(keys)).map(([p, drop]) => {
      const copy: Record<string, unknown> = { ...p };
      for (const k of drop) delete copy[k];
      return copy;
    });
    const wrapped = fc.oneof(payload, dropped, payload.map((p) => Object.assign(Object.create(null) as object, p)), payload.map((p) => [p]), odd);
    fc.assert(
      fc.property(wrapped, (p) => {
        if (isPlainValidLogLine(p)) expect(payloadSchemas['log.line'].safeParse(p).success).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });
});
