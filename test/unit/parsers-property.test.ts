/**
 * Property tests for the text parsers (syslog framing, kernel USB, auth, the dispatcher): on
 * arbitrary strings and on near-miss variants of the real sample lines, they never throw, and every
 * record they produce passes its kind's schema (`payloadSchemas[kind].parse`). 10^5 inputs each.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payloadSchemas, timestampSchema } from '../../src/records/schema.js';
import { parseSyslogLine, splitSyslogMessages, type SyslogContext } from '../../src/parsers/syslog.js';
import { createKernelUsbParser } from '../../src/parsers/linux-usb.js';
import { parseAuthLine } from '../../src/parsers/linux-auth.js';
import { createTextParsers } from '../../src/parsers/text-dispatch.js';
import type { ParseOutput } from '../../src/parsers/types.js';

const RUNS = 100_000;
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const FILES = [
  'constructed/kern-usb.log',
  'constructed/kern-usb-variants.log',
  'constructed/journal-kernel-usb.json',
  'beats/filebeat/module/system/auth/test/test.log',
  'beats/filebeat/module/system/auth/test/timestamp.log',
  'plaso/test_data/syslog/syslog',
  'plaso/test_data/syslog/syslog_ssh.log',
  'plaso/test_data/syslog/syslog_chromeos',
  'plaso/test_data/syslog/syslog_rsyslog_SyslogProtocol23Format',
  'plaso/test_data/syslog/syslog_rsyslog_ForwardFormat',
  'plaso/test_data/syslog/syslog_rsyslog_traditional',
  'lnav/test/logfile_syslog.0',
  'lnav/test/logfile_journald.json',
];
const REAL = FILES.flatMap((f) => readFileSync(join(FIXTURES, f), 'utf8').split('\n').filter((l) => l !== ''));
const KERNEL = REAL.filter((l) => /usb|sd |scsi/.test(l));
const AUTH = REAL.filter((l) => /sshd|sudo|pam_unix/.test(l));

/** Fragments that steer mutations towards the parsers' own keywords and delimiters. */
const TOKENS = [
  'usb 1-1: ', 'usb usb3: ', 'usb 3-6.4.1: ', 'new high-speed USB device number ', ' using xhci_hcd', 'New USB device found, idVendor=',
  ', idProduct=', ', bcdDevice= ', 'Product: ', 'SerialNumber: ', 'USB disconnect, device number ', 'usb-storage 1-1:1.0: USB Mass Storage device detected',
  'scsi host6: usb-storage 1-1:1.0', 'sd 6:0:0:0: [sdb] Attached SCSI removable disk', 'sd 6:0:0:0: [sdb] 99999999999999999999 512-byte logical blocks',
  'Attached scsi removable disk sdc at scsi4, channel 0, id 0, lun 0', 'Linux version 6', '[ 0.000001] ', '[99999999.5] ',
  'Accepted ', 'Failed ', 'for invalid user ', ' from ', ' port ', ' port 99999', ' ssh2', ': RSA ', 'Invalid user ', ' : ', ' ; ', 'TTY=', 'USER=',
  'COMMAND=', 'pam_unix(', ':session): session opened for user ', '(uid=', ') by ', ':auth): authentication failure; ', 'rhost=', 'user=',
  '(to root) ', 'Successful su for ', 'FAILED LOGIN (1) on \'', 'New session ', 'Removed session ',
  '<14>1 ', '<999>', '<14>', ' - - - ', '[a b="\\]"]', '{', '}', '"MESSAGE":', '"__REALTIME_TIMESTAMP":"99999999999999999999"', '"_BOOT_ID":"x"',
  '"_TRANSPORT":"kernel"', '[1,2,255]', 'Feb 29 ', 'Dec 31 23:59:59 ', 'Jan  1 00:00:00 ', 'MMM ', '9999-12-31T23:59:59.999999+14:00 ', '0000-01-01T00:00:00Z ',
  'kernel: ', 'sshd[', ']: ', 'sudo: ', 'su: ', '--- last message repeated 99999999999999 times ---', 'message repeated 3 times: [',
  '\t', '\r', '\u0000', '\uFEFF', '\uD800', '\u00e9', ' ', ':', '[', ']', '=', '(', ')',
];

const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
);

type Mutation = (s: string) => string;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 }))).map(([at, ins]) => (s: string) => {
    const i = s.length === 0 ? 0 : at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i);
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 20 })).map(([at, len]) => (s: string) => {
    const i = s.length === 0 ? 0 : at % s.length;
    return s.slice(0, i) + s.slice(i + len);
  }),
  fc.tuple(fc.nat(), fc.constantFrom('0', '9', 'x', ' ', '-', 'G', '.', '\u00ff')).map(([at, c]) => (s: string) => {
    const digits = [...s.matchAll(/\d/g)].map((m) => m.index);
    if (digits.length === 0) return s;
    const i = digits[at % digits.length] ?? 0;
    return s.slice(0, i) + c + s.slice(i + 1);
  }),
  fc.nat().map((at) => (s: string) => s.slice(0, s.length === 0 ? 0 : at % s.length)),
  fc.nat().map((n) => (s: string) => s + s.slice(0, n % (s.length + 1))),
);

function nearMiss(pool: string[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...pool), fc.array(mutation, { maxLength: 4 }))
    .map(([line, ms]) => ms.reduce((acc, m) => m(acc), line));
}

const lineText = fc.oneof({ weight: 1, arbitrary: anyText }, { weight: 2, arbitrary: nearMiss(REAL) }, { weight: 1, arbitrary: fc.constantFrom(...REAL) });

const ctxArb: fc.Arbitrary<SyslogContext> = fc.record(
  {
    referenceTime: fc.oneof(
      fc.date({ noInvalidDate: true, min: new Date(-1e14), max: new Date(1e14) }).map((d) => d.toISOString()),
      fc.string({ maxLength: 30 }),
    ),
    previousYear: fc.oneof(fc.integer({ min: -5, max: 12000 }), fc.double()),
    previousMonth: fc.integer({ min: -3, max: 15 }),
    utcOffsetMinutes: fc.oneof(fc.integer({ min: -2000, max: 2000 }), fc.double()),
  },
  { requiredKeys: [] },
);

const produced = { records: 0, failures: 0 };

function checkOutput(out: ParseOutput, seqs: Set<number>): void {
  produced.records += out.records.length;
  produced.failures += out.failures.length;
  for (const r of out.records) {
    payloadSchemas[r.kind].parse(r.payload);
    for (const s of (r.payload as { derived_from: number[] }).derived_from) expect(seqs.has(s)).toBe(true);
  }
  for (const f of out.failures) {
    expect(typeof f.reason).toBe('string');
    expect(f.reason).toMatch(/^[a-z-]+\.[a-z_]+$/);
    // A caught exception inside a parser is reported as `<parser>.internal`: that must never happen.
    expect(f.reason.endsWith('.internal')).toBe(false);
  }
}

const FORMATS = new Set(['rfc3164', 'rfc5424', 'rsyslog-iso', 'journal-json', 'unknown']);

describe('text parsers never throw and produce only valid payloads (10^5 inputs each)', () => {
  it('parseSyslogLine', () => {
    fc.assert(
      fc.property(lineText, ctxArb, (text, ctx) => {
        for (const part of splitSyslogMessages(text)) {
          const f = parseSyslogLine(part, ctx);
          expect(FORMATS.has(f.format)).toBe(true);
          expect(typeof f.message).toBe('string');
          if (f.time !== undefined) timestampSchema.parse(f.time);
          if (f.pid !== undefined) expect(Number.isSafeInteger(f.pid) && f.pid >= 0).toBe(true);
          if (f.repeated !== undefined) expect(Number.isSafeInteger(f.repeated)).toBe(true);
          if (f.priority !== undefined) expect(f.priority >= 0 && f.priority <= 191).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('createKernelUsbParser (sequences of near-miss kernel lines)', () => {
    produced.records = 0;
    produced.failures = 0;
    const kernelLine = fc.oneof({ weight: 3, arbitrary: nearMiss(KERNEL) }, { weight: 1, arbitrary: fc.constantFrom(...KERNEL) }, { weight: 1, arbitrary: anyText });
    let inputs = 0;
    fc.assert(
      fc.property(fc.array(kernelLine, { minLength: 1, maxLength: 6 }), ctxArb, (texts, ctx) => {
        const p = createKernelUsbParser();
        const seqs = new Set<number>();
        texts.forEach((text, seq) => {
          seqs.add(seq);
          inputs++;
          checkOutput(p.push({ seq, path: '/k', text, observedAt: '2026-11-23T00:00:00.000000Z' }, parseSyslogLine(text, ctx)), seqs);
        });
        checkOutput(p.finish(), seqs);
      }),
      { numRuns: RUNS / 2 },
    );
    expect(inputs).toBeGreaterThanOrEqual(RUNS);
    // The near-miss inputs do reach the record and failure paths, so the schema checks above bite.
    expect(produced.records).toBeGreaterThan(RUNS / 10);
    expect(produced.failures).toBeGreaterThan(RUNS / 100);
  });

  it('parseAuthLine', () => {
    produced.records = 0;
    const authLine = fc.oneof({ weight: 3, arbitrary: nearMiss(AUTH) }, { weight: 1, arbitrary: anyText });
    fc.assert(
      fc.property(authLine, ctxArb, (text, ctx) => {
        const out = parseAuthLine({ seq: 7, path: '/a', text, observedAt: '2026-11-23T00:00:00.000000Z' }, parseSyslogLine(text, ctx));
        checkOutput(out, new Set([7]));
      }),
      { numRuns: RUNS },
    );
    expect(produced.records).toBeGreaterThan(RUNS / 10);
  });

  it('createTextParsers (sequences over two files)', () => {
    let inputs = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(lineText, fc.boolean()), { minLength: 1, maxLength: 6 }), (items) => {
        const tp = createTextParsers();
        const seqs = new Set<number>();
        items.forEach(([text, other], seq) => {
          seqs.add(seq);
          inputs++;
          checkOutput(tp.push({ seq, path: other ? '/b' : '/a', text, observedAt: '2026-11-23T00:00:00.000000Z' }), seqs);
        });
        checkOutput(tp.finish(), seqs);
      }),
      { numRuns: RUNS / 2 },
    );
    expect(inputs).toBeGreaterThanOrEqual(RUNS);
  });
});
