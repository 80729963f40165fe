/**
 * Property tests: the auditd, utmp and setupapi parsers never throw and never hang on arbitrary
 * input (10^5 inputs each), and every record they return is valid for its kind's payload schema.
 * Inputs mix fully arbitrary data with mutations of the real samples, so the generators reach
 * deep into each parser rather than stopping at the first check.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payloadSchemas } from '../../src/records/schema.js';
import { createAuditdParser } from '../../src/parsers/auditd.js';
import { parseSetupapiDevLog } from '../../src/parsers/setupapi.js';
import type { ParseOutput, SourceLine } from '../../src/parsers/types.js';
import { parseUtmp } from '../../src/parsers/wtmp.js';

const RUNS = 100_000;
const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));

function checkOutput(out: ParseOutput, prefix: string, seqs: Set<number>): void {
  for (const r of out.records) {
    const parsed = payloadSchemas[r.kind].safeParse(r.payload);
    if (!parsed.success) throw new Error(`invalid ${r.kind} payload: ${JSON.stringify(r.payload)}: ${parsed.error.message}`);
    for (const s of (r.payload as { derived_from: number[] }).derived_from) {
      if (!seqs.has(s)) throw new Error(`derived_from names seq ${s}, which was not an input`);
    }
  }
  for (const f of out.failures) {
    if (!f.reason.startsWith(prefix) || f.detail === '') throw new Error(`bad failure ${JSON.stringify(f)}`);
    if (f.reason.endsWith('.internal')) throw new Error(`parser error caught: ${f.detail}`);
  }
}

/** Inserts, deletes or replaces a slice of a real line. */
function mutated(pool: string[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...pool), fc.nat(), fc.nat({ max: 40 }), fc.string({ unit: 'binary', maxLength: 30 }))
    .map(([s, at, del, ins]) => {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      return s.slice(0, i) + ins + s.slice(i + del);
    });
}

describe('auditd parser on arbitrary lines', () => {
  const real = [
    ...readFileSync(`${FIX}go-libaudit/auparse/testdata/audit-rhel7.log`, 'utf8').split('\n'),
    ...readFileSync(`${FIX}go-libaudit/auparse/testdata/test2.log`, 'utf8').split('\n'),
    ...readFileSync(`${FIX}plaso/test_data/audit_enriched.log`, 'utf8').split('\n'),
    ...readFileSync(`${FIX}plaso/test_data/selinux.log`, 'utf8').split('\n'),
  ].filter((l) => l !== '');
  const value = fc.oneof(
    fc.constantFrom('(null)', '""', '"/etc/passwd"', 'c000003e', 'c00000b7', '40000003', '2F746D702F6120622063', 'ffffff9c', 'yes', 'no', 'DELETE', 'CREATE', 'PARENT', 'NORMAL'),
    fc.integer({ min: -5, max: 500 }).map(String),
    fc.string({ maxLength: 12 }).map((s) => `"${s}"`),
    fc.string({ unit: 'binary', maxLength: 12 }),
  );
  const field = fc.tuple(
    fc.constantFrom('arch', 'syscall', 'success', 'exit', 'a0', 'a1', 'a2', 'items', 'pid', 'uid', 'auid', 'comm', 'exe', 'key', 'item', 'name', 'nametype', 'objtype', 'mode', 'cwd', 'proctitle'),
    value,
  );
  const structured = fc
    .tuple(
      fc.constantFrom('SYSCALL', 'PATH', 'CWD', 'PROCTITLE', 'EOE', 'EXECVE', 'AVC', 'USER_LOGIN', 'ANOM_PROMISCUOUS', 'UNKNOWN[1302]'),
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 0, max: 999 }),
      fc.integer({ min: 0, max: 4 }),
      fc.array(field, { maxLength: 10 }),
      fc.option(fc.constantFrom('\x1dUID="root" AUID="unset"', '\x1dARCH=x86_64 SYSCALL=open', '\x1d')),
      fc.constantFrom(1_500_000_000, 99_999_999_999, 0),
    )
    .map(
      ([type, sec, ms, serial, fields, enriched, base]) =>
        `type=${type} msg=audit(${base + sec}.${String(ms).padStart(3, '0')}:${serial}): ${fields.map(([k, v]) => `${k}=${v}`).join(' ')}${enriched ?? ''}`,
    );
  const line = fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), mutated(real), structured, structured, fc.constantFrom(...real));

  it(`never throws; every record valid (${RUNS} inputs)`, () => {
    let records = 0;
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (texts) => {
        const p = createAuditdParser();
        const seqs = new Set<number>();
        texts.forEach((text, i) => {
          const l: SourceLine = { seq: 1000 + i, path: '/var/log/audit/audit.log', text, observedAt: '2026-11-23T00:00:00.000000Z' };
          seqs.add(l.seq);
          const out = p.push(l);
          checkOutput(out, 'auditd.', seqs);
          records += out.records.length;
        });
        const end = p.finish();
        checkOutput(end, 'auditd.', seqs);
        records += end.records.length;
        expect(p.pending).toBe(0);
      }),
      { numRuns: RUNS },
    );
    expect(records).toBeGreaterThan(0); // the generators do reach file.access records
  });
});

describe('utmp parser on arbitrary bytes', () => {
  const samples = ['utmp', 'utmp_x86_64', 'utmp_aarch64', 'utmp_corrupted'].map(
    (n) => new Uint8Array(readFileSync(`${FIX}plaso/test_data/utmp/${n}`)),
  );
  const flipped = fc
    .tuple(
      fc.constantFrom(...samples),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 24 }),
      fc.option(fc.nat()),
    )
    .map(([bytes, flips, cut]) => {
      const b = bytes.slice();
      for (const [at, v] of flips) b[at % b.length] = v;
      return cut === null ? b : b.subarray(0, cut % (b.length + 1));
    });
  const bytes = fc.oneof(fc.uint8Array({ maxLength: 1700 }), flipped, flipped);

  it(`never throws; every record valid (${RUNS} inputs)`, () => {
    let records = 0;
    fc.assert(
      fc.property(
        bytes,
        fc.constantFrom('auto', 'x86_64', 'aarch64'),
        fc.constantFrom('wtmp', 'btmp', 'utmp'),
        (b, layout, source) => {
          const out = parseUtmp(b, { source, layout, derivedFrom: [5] });
          checkOutput(out, 'wtmp.', new Set([5]));
          records += out.records.length;
          const size = out.layout === 'x86_64' ? 384 : 400;
          expect(out.entries).toHaveLength(Math.floor(b.length / size));
          expect(out.failures.some((f) => f.reason === 'wtmp.truncated')).toBe(b.length % size !== 0);
        },
      ),
      { numRuns: RUNS },
    );
    expect(records).toBeGreaterThan(0);
  });
});

describe('setupapi parser on arbitrary text', () => {
  const win10 = readFileSync(`${FIX}plaso/test_data/setupapi.dev.log`, 'utf8').split('\r\n');
  const usbSection = win10.slice(10524, 10540).concat(win10.slice(10648, 10656));
  const header = fc
    .tuple(fc.constantFrom('Device Install (Hardware initiated) - ', 'Device Install (X) - ', 'Delete Device - ', ''), fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom('USBSTOR\\Disk&Ven_A&Prod_B&Rev_1\\x&0', 'USBSTOR#', 'USB\\VID_0951&PID_1643', 'USB\\VID_zzzz&PID_1', '_??_USBSTOR#a#b#c', 'USBSTOR\\\\'),
    ))
    .map(([a, b]) => `>>>  [${a}${b}]`);
  const start = fc
    .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
    .map(([y, mo, d, h]) => `>>>  Section start ${String(y).padStart(4, '0')}/${String(mo).padStart(2, '0')}/${String(d).padStart(2, '0')} ${String(h).padStart(2, '0')}:59:59.999`);
  const line = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom(...usbSection),
    mutated(usbSection),
    header,
    start,
    fc.constantFrom('<<<  [Exit status: SUCCESS]', '<<<  Section end 2016/11/22 23:50:58.236', '>>>  ', '<<<'),
  );

  it(`never throws; every record valid (${RUNS} inputs)`, () => {
    let records = 0;
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), fc.option(fc.integer({ min: -1500, max: 1500 })), (lines, eol, offset) => {
        const out = parseSetupapiDevLog(lines.join(eol), [9], offset === null ? {} : { utcOffsetMinutes: offset });
        checkOutput(out, 'setupapi.', new Set([9]));
        records += out.records.length;
      }),
      { numRuns: RUNS },
    );
    expect(records).toBeGreaterThan(0);
  });
});
