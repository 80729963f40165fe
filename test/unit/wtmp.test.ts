/**
 * utmp/wtmp/btmp parser on plaso's real utmp samples: the classic x86_64 file, the x86_64 and
 * aarch64 layouts of the same session, and a corrupted file with a truncated tail.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { payloadSchemas } from '../../src/records/schema.js';
import { addressText, detectLayout, parseUtmp, type UtmpOutput } from '../../src/parsers/wtmp.js';

const UTMP = fileURLToPath(new URL('../fixtures/plaso/test_data/utmp/', import.meta.url));
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(UTMP + name));

function parse(name: string, source: 'wtmp' | 'btmp' | 'utmp' = 'wtmp'): UtmpOutput {
  const out = parseUtmp(read(name), { source, derivedFrom: [42] });
  for (const r of out.records) payloadSchemas[r.kind].parse(r.payload);
  return out;
}

describe('utmp: plaso utmp (x86_64, 14 records)', () => {
  const out = parse('utmp');

  it('reads every record: types, users, lines, times', () => {
    expect(out.layout).toBe('x86_64');
    expect(out.failures).toEqual([]);
    expect(out.entries.map((e) => `${e.typeName} ${e.pid} ${e.user} ${e.line} ${e.time}`)).toEqual([
      'BOOT_TIME 0 reboot ~ 2013-12-13T14:45:09.688666Z',
      'RUN_LVL 50 runlevel ~ 2013-12-13T14:45:09.689293Z',
      'LOGIN_PROCESS 1115 LOGIN tty4 2013-12-13T14:45:09.000000Z',
      'LOGIN_PROCESS 1122 LOGIN tty5 2013-12-13T14:45:09.000000Z',
      'LOGIN_PROCESS 1134 LOGIN tty2 2013-12-13T14:45:09.000000Z',
      'LOGIN_PROCESS 1135 LOGIN tty3 2013-12-13T14:45:09.000000Z',
      'LOGIN_PROCESS 1141 LOGIN tty6 2013-12-13T14:45:09.000000Z',
      'LOGIN_PROCESS 1457 LOGIN tty1 2013-12-13T14:45:10.000000Z',
      'USER_PROCESS 2357 moxilo tty7 2013-12-13T14:45:56.907891Z',
      'USER_PROCESS 2684 moxilo pts/0 2013-12-13T14:46:04.705751Z',
      'USER_PROCESS 2684 moxilo pts/2 2013-12-14T11:22:54.624664Z',
      'USER_PROCESS 2684 moxilo pts/3 2013-12-14T11:50:13.651535Z',
      'USER_PROCESS 2684 moxilo pts/4 2013-12-18T22:46:56.305504Z',
      'USER_PROCESS 2684 moxilo pts/5 2013-12-18T22:49:44.251947Z',
    ]);
    expect(out.entries[0]?.host).toBe('3.8.0-33-generic'); // the kernel release, in a boot record
  });

  it('each USER_PROCESS is a logon by moxilo, from the X display :0 for the pts ones', () => {
    expect(out.records).toHaveLength(6);
    expect(out.records.map((r) => r.kind)).toEqual(Array(6).fill('auth.logon'));
    const first = out.records[1]?.payload;
    expect(first).toMatchObject({
      service: 'wtmp',
      action: 'logon',
      success: true,
      user: 'moxilo',
      terminal: 'pts/0',
      from_host: ':0',
      pid: 2684,
      event_time: '2013-12-13T14:46:04.705751Z',
      derived_from: [42],
      parser: 'wtmp@1',
    });
    expect(first?.extra).toMatchObject({ ut_type: 'USER_PROCESS', ut_id: '/0', record_index: '9', offset: String(9 * 384) });
  });

  it('as btmp, the same USER/LOGIN entries read as failed logins', () => {
    const bt = parse('utmp', 'btmp');
    expect(bt.records).toHaveLength(12); // 6 LOGIN_PROCESS + 6 USER_PROCESS
    expect(bt.records.every((r) => r.kind === 'auth.logon' && r.payload.action === 'failure' && r.payload.success === false)).toBe(true);
  });
});

describe('utmp: x86_64 and aarch64 layouts of the same kind of session', () => {
  const expected = (pid: number, t: string, t2: string): string[] => [
    `EMPTY ${pid}   4.3.2.1 ${t}`,
    `DEAD_PROCESS ${pid}  tty2 4.3.2.1 ${t}`,
    `BOOT_TIME ${pid} reboot system boot 4.3.2.1 ${t}`,
    `RUN_LVL ${pid} shutdown runlevel 0 4.3.2.1 ${t}`,
    `OLD_TIME ${pid} date | 4.3.2.1 ${t}`,
    `NEW_TIME ${pid} date } 4.3.2.1 ${t2}`,
  ];
  const show = (o: UtmpOutput): string[] => o.entries.map((e) => `${e.typeName} ${e.pid} ${e.user} ${e.line} ${e.addr} ${e.time}`);

  it('utmp_x86_64: 2304 bytes = 6 records of 384', () => {
    const o = parse('utmp_x86_64');
    expect(o.layout).toBe('x86_64');
    expect(o.failures).toEqual([]);
    expect(show(o)).toEqual(expected(19, '2026-07-03T14:58:29.000000Z', '2026-07-03T15:03:29.000000Z'));
    expect(o.entries[2]?.host).toBe('0.0.0.0');
  });

  it('utmp_aarch64: 2400 bytes = 6 records of 400 (64-bit session and time)', () => {
    const o = parse('utmp_aarch64');
    expect(o.layout).toBe('aarch64');
    expect(o.failures).toEqual([]);
    expect(show(o)).toEqual(expected(18, '2026-07-03T14:57:58.000000Z', '2026-07-03T15:02:58.000000Z'));
    expect(detectLayout(read('utmp_aarch64'))).toBe('aarch64');
    // forcing the wrong layout reads garbage but never throws
    const wrong = parseUtmp(read('utmp_aarch64'), { source: 'wtmp', derivedFrom: [1], layout: 'x86_64' });
    expect(wrong.failures.map((f) => f.reason)).toContain('wtmp.truncated');
  });

  it('DEAD_PROCESS on tty2 is a logoff (no matching logon in this file, so no user)', () => {
    const o = parse('utmp_x86_64');
    expect(o.records).toHaveLength(1);
    expect(o.records[0]?.payload).toMatchObject({ action: 'logoff', terminal: 'tty2', from_ip: '4.3.2.1', pid: 19 });
    expect(o.records[0]?.payload).not.toHaveProperty('user');
  });
});

describe('utmp: corrupted file', () => {
  it('reads the 4 whole records, names the two bad types and the 50-byte truncated tail, and does not crash', () => {
    const o = parse('utmp_corrupted');
    expect(o.layout).toBe('x86_64');
    expect(o.entries.map((e) => `${e.typeName} ${e.user} ${e.line} ${e.host} ${e.time}`)).toEqual([
      'USER_PROCESS alice tty1  2023-11-14T22:30:00.000000Z',
      'UNKNOWN(99)    undefined',
      'UNKNOWN(99)    undefined',
      'USER_PROCESS bob pts/0 10.0.0.5 2023-11-14T22:46:40.000000Z',
    ]);
    expect(o.failures.map((f) => [f.reason, f.offset])).toEqual([
      ['wtmp.bad_type', 384],
      ['wtmp.bad_type', 768],
      ['wtmp.truncated', 1536],
    ]);
    expect(o.failures[2]?.detail).toBe(
      '1586 bytes is not a whole number of 384-byte x86_64 records: 4 whole records, then 50 bytes of a truncated record at byte 1536 (not read)',
    );
    expect(o.records.map((r) => [r.payload.action, r.payload.user, (r.payload as { from_ip?: string }).from_ip])).toEqual([
      ['logon', 'alice', undefined],
      ['logon', 'bob', '10.0.0.5'],
    ]);
  });

  it('every prefix of a real file parses without throwing, with a truncated failure exactly when it should', () => {
    const bytes = read('utmp');
    for (let n = 0; n <= bytes.length; n += 7) {
      const o = parseUtmp(bytes.subarray(0, n), { source: 'wtmp', derivedFrom: [1], layout: 'x86_64' });
      expect(o.entries).toHaveLength(Math.floor(n / 384));
      expect(o.failures.some((f) => f.reason === 'wtmp.truncated')).toBe(n % 384 !== 0);
    }
  });
});

describe('utmp: addresses', () => {
  it('formats IPv4 and IPv6 the way utmpdump decides between them', () => {
    expect(addressText(new Uint8Array(16))).toBe('');
    expect(addressText(Uint8Array.from([...Array(15).fill(0), 1]))).toBe('::1');
    expect(addressText(Uint8Array.from([...Array(12).fill(0), 4, 3, 2, 1]))).toBe('::4.3.2.1');
    expect(addressText(Uint8Array.from([10, 0, 0, 5, ...Array(12).fill(0)]))).toBe('10.0.0.5');
    expect(addressText(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))).toBe('2001:db8::1');
    expect(addressText(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]))).toBe('::ffff:1.2.3.4');
  });
});
