/**
 * auditd execve/execveat → `process.exec`: real logs (plaso's ENRICHED log, go-libaudit's
 * auparse logs, crowdsec hub's log whose 0x1D separators were lost) and the shapes the kernel
 * writes for long and odd argv (audit_log_execve_info: `aI_len` + `aI[n]` chunks over several
 * EXECVE records), built line by line here because no public sample has them; then what an
 * attacker or a lossy pipeline can hand us (a truncated EXECVE set, chunks that never complete,
 * 10 MB of arguments, non-UTF-8 bytes): the record says what is incomplete, nothing throws.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { payloadSchemas, type PayloadOf } from '../../src/records/schema.js';
import { createAuditdParser } from '../../src/parsers/auditd.js';
import { AUDITD_EXEC_PARSER, MAX_ARGV_BYTES } from '../../src/parsers/audit-exec.js';
import type { ParseFailure, SourceLine } from '../../src/parsers/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function toLines(text: string, firstSeq = 100): SourceLine[] {
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  return parts.map((t, i) => ({ seq: firstSeq + i, path: '/var/log/audit/audit.log', text: t, observedAt: '2026-11-23T00:00:00.000000Z' }));
}

function execs(lines: SourceLine[]): { records: PayloadOf<'process.exec'>[]; failures: ParseFailure[] } {
  const p = createAuditdParser();
  const records: PayloadOf<'process.exec'>[] = [];
  const failures: ParseFailure[] = [];
  const take = (o: ReturnType<typeof p.push>): void => {
    for (const r of o.records) if (r.kind === 'process.exec') records.push(payloadSchemas['process.exec'].parse(r.payload));
    failures.push(...o.failures);
  };
  for (const l of lines) take(p.push(l));
  take(p.finish());
  return { records, failures };
}

const SYSCALL = (serial: number, rest = ''): string =>
  `type=SYSCALL msg=audit(1700000000.100:${serial}): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=4100 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm="tar" exe="/usr/bin/tar" key="exec"${rest}`;
const hex = (s: string | Buffer): string => Buffer.from(s).toString('hex').toUpperCase();

describe('process.exec from real audit logs', () => {
  it('plaso audit_enriched.log: three execve events, hex arguments decoded, ENRICHED user names', () => {
    const { records, failures } = execs(toLines(readFileSync(`${FIXTURES}plaso/test_data/audit_enriched.log`, 'utf8')));
    expect(failures).toEqual([]);
    expect(records.map((r) => r.argv)).toEqual([['id'], ['/bin/sh', '-c', 'grep -c . /etc/hostname'], ['/usr/bin/cat', '/tmp/my report.txt']]);
    const cat = records[2]!;
    expect(cat).toMatchObject({
      parser: AUDITD_EXEC_PARSER,
      action: 'start',
      exe: '/usr/bin/cat',
      comm: 'cat',
      argc: 2,
      command_line: '/usr/bin/cat /tmp/my report.txt',
      cwd: '/root',
      uid: '0',
      auid: '0',
      euid: '0',
      user: 'root',
      pid: 2525,
      ppid: 2485,
      session: '14',
      success: true,
      exit_code: '0',
      audit_key: 'spec2',
      event_time: '2026-07-07T09:23:37.830000Z',
    });
    expect(cat.tty).toBeUndefined(); // tty=(none)
    expect(cat.incomplete).toBeUndefined();
    expect(cat.extra).toMatchObject({ audit_id: '1783416217.830:735', syscall: 'execve', arch: 'x86_64', proctitle: '/usr/bin/cat /tmp/my report.txt', path: '/usr/bin/cat' });
    expect(cat.derived_from.length).toBe(6); // SYSCALL, EXECVE, CWD, 2×PATH, PROCTITLE
  });

  it('crowdsec hub auditd-suid-crash.log: -bash and su --help, euid 0 under auid 1000', () => {
    const { records } = execs(toLines(readFileSync(`${FIXTURES}hub/.tests/auditd-suid-crash/auditd-suid-crash.log`, 'utf8')));
    expect(records.map((r) => [r.pid, r.ppid, r.argv, r.auid, r.euid, r.audit_key, r.tty])).toEqual([
      [192010, 192009, ['-bash'], '1000', '1000', 'susp_shell', 'pts0'],
      [192019, 192010, ['/usr/bin/su', '--help'], '1000', '0', 'priv_esc', 'pts0'],
    ]);
    expect(records.every((r) => r.incomplete === undefined)).toBe(true);
  });

  it('go-libaudit audit-rhel7.log: EXECVE records whose SYSCALL is not in the file still say what ran, and what is unknown', () => {
    const { records } = execs(toLines(readFileSync(`${FIXTURES}go-libaudit/auparse/testdata/audit-rhel7.log`, 'utf8')));
    expect(records.map((r) => r.argv?.[0])).toEqual(['auditctl', 'cat', 'grep', 'jq']);
    expect(records.map((r) => r.argc)).toEqual(records.map((r) => r.argv?.length));
    expect(records.every((r) => r.exe === undefined && r.success === undefined && r.incomplete?.startsWith('no SYSCALL record in the event'))).toBe(true);
    expect(records.find((r) => r.argv?.[0] === 'auditctl')?.argv).toEqual(['auditctl', '-a', 'exit,always', '-F', 'arch=b32', '-S', 'execve']);
  });
});

describe('process.exec: argv as the kernel splits it', () => {
  it('joins aI_len chunks spread over two EXECVE records, quoted and hex, a multibyte character cut between chunks', () => {
    const long = 'A'.repeat(5000);
    const jp = Buffer.from('顧客データ.csv');
    const lines = [
      SYSCALL(501),
      `type=EXECVE msg=audit(1700000000.100:501): argc=3 a0="tar" a1_len=5000 a1[0]="${long.slice(0, 3000)}"`,
      `type=EXECVE msg=audit(1700000000.100:501): a1[1]="${long.slice(3000)}" a2_len=${jp.length} a2[0]=${hex(jp.subarray(0, 4))} a2[1]=${hex(jp.subarray(4))}`,
      'type=CWD msg=audit(1700000000.100:501): cwd="/srv/customer-data"',
      'type=PROCTITLE msg=audit(1700000000.100:501): proctitle="tar"',
    ];
    const { records, failures } = execs(toLines(lines.join('\n')));
    expect(failures).toEqual([]);
    expect(records).toHaveLength(1);
    expect(records[0]!.argv).toEqual(['tar', long, '顧客データ.csv']);
    expect(records[0]!.incomplete).toBeUndefined();
    expect(records[0]!.cwd).toBe('/srv/customer-data');
    expect(records[0]!.derived_from).toEqual([100, 101, 102, 103, 104]);
  });

  it('execveat on aarch64 (syscall 281) and i386 (11) are exec events too; openat is not', () => {
    const mk = (arch: string, nr: number, serial: number): string[] => [
      `type=SYSCALL msg=audit(1700000000.100:${serial}): arch=${arch} syscall=${nr} success=yes exit=0 a0=3 items=1 pid=9 uid=0 auid=0 exe="/bin/x"`,
      `type=EXECVE msg=audit(1700000000.100:${serial}): argc=1 a0="x"`,
    ];
    const { records } = execs(toLines([...mk('c00000b7', 281, 1), ...mk('40000003', 11, 2), ...mk('c000003e', 257, 3)].join('\n')));
    expect(records.map((r) => [r.extra?.['syscall'], r.extra?.['arch']])).toEqual([
      ['execveat', 'aarch64'],
      ['execve', 'i386'],
    ]);
    expect(records[0]!.extra?.['dirfd']).toBe('3');
  });
});

describe('process.exec: bad input says what is incomplete and never throws', () => {
  it('a truncated EXECVE set (the second record lost): the missing arguments are named, the rest kept', () => {
    const lines = [SYSCALL(601), 'type=EXECVE msg=audit(1700000000.100:601): argc=4 a0="zip" a1="-r"'];
    const { records } = execs(toLines(lines.join('\n')));
    expect(records[0]!.argv).toEqual(['zip', '-r']);
    expect(records[0]!.argc).toBe(4);
    expect(records[0]!.incomplete).toBe('argv: a2…a3 missing (no EXECVE record of the event holds them); a gap before the last argument present is an empty string');
  });

  it('an argument split across records that never completes: bytes present vs aI_len, and a chunk gap', () => {
    const lines = [
      SYSCALL(602),
      `type=EXECVE msg=audit(1700000000.100:602): argc=3 a0="curl" a1_len=9000 a1[0]="${'B'.repeat(3000)}" a2_len=6 a2[0]="ab" a2[2]="ef"`,
    ];
    const { records } = execs(toLines(lines.join('\n')));
    expect(records[0]!.argv).toEqual(['curl', 'B'.repeat(3000), 'ab']);
    expect(records[0]!.incomplete).toBe('argv: a1 (3000 of a1_len=9000 bytes), a2 (2 of a2_len=6 bytes, chunks after a2[0] missing) incomplete');
  });

  it('EXECVE records with no argc (the first one lost): the arguments that are there, and argc named as missing', () => {
    const lines = [SYSCALL(603), 'type=EXECVE msg=audit(1700000000.100:603): a2="/tmp/x" a3="y"'];
    const { records } = execs(toLines(lines.join('\n')));
    expect(records[0]!.argv).toEqual(['', '', '/tmp/x', 'y']);
    expect(records[0]!.argc).toBeUndefined();
    expect(records[0]!.incomplete).toMatch(/^argc: no EXECVE record of the event gives it.*; argv: a0, a1 missing/);
  });

  it('a successful execve with no EXECVE record at all says so; a failed one (ENOENT) does not', () => {
    const failed = `type=SYSCALL msg=audit(1700000003.100:605): arch=c000003e syscall=59 success=no exit=-2 a0=1 items=1 pid=5 uid=0 auid=0 exe="/usr/bin/bash"`;
    const { records } = execs(toLines([SYSCALL(604), failed].join('\n')));
    expect(records.map((r) => [r.success, r.exit_code, r.argv, r.incomplete])).toEqual([
      [true, '0', undefined, 'argv: the event has no EXECVE record'],
      [false, '-2', undefined, undefined],
    ]);
  });

  it('10 MB of arguments over 2800 EXECVE records: the first MiB in argv, the rest named', () => {
    // 80 arguments of 128 KiB (MAX_ARG_STRLEN), each in 35 chunks of 3750 bytes as the kernel writes them
    const ARGS = 80;
    const ARG = 128 * 1024;
    const CHUNK = 3750;
    const lines = [SYSCALL(606), `type=EXECVE msg=audit(1700000000.100:606): argc=${ARGS + 1} a0="cp"`];
    const body = Buffer.alloc(ARG, 0x43); // 'C'
    for (let a = 1; a <= ARGS; a++) {
      for (let c = 0, off = 0; off < ARG; c++, off += CHUNK) {
        const head = c === 0 ? ` a${a}_len=${ARG}` : '';
        lines.push(`type=EXECVE msg=audit(1700000000.100:606):${head} a${a}[${c}]=${hex(body.subarray(off, off + CHUNK))}`);
      }
    }
    expect(lines.length).toBeGreaterThan(2800);
    const { records, failures } = execs(toLines(lines.join('\n')));
    expect(failures).toEqual([]);
    const r = records[0]!;
    const kept = Math.floor((MAX_ARGV_BYTES - 2) / ARG); // arguments that fit after "cp"
    expect(r.argv).toHaveLength(1 + kept);
    expect(r.argv!.slice(1).every((a) => a.length === ARG)).toBe(true);
    expect(r.argc).toBe(ARGS + 1);
    expect(r.incomplete).toBe(
      `argv: ${ARGS - kept} of ${ARGS + 1} arguments (from a${kept + 1}, ${2 + ARGS * ARG} argument bytes in all) not copied into this record, which keeps at most ${MAX_ARGV_BYTES} bytes; the preserved lines hold them`,
    );
    expect(r.derived_from).toHaveLength(lines.length);
  });

  it('non-UTF-8 bytes in an argument, the exe and the cwd: U+FFFD in the text, the exact bytes in extra.argN_b64', () => {
    const bad = Buffer.from([0x2f, 0x74, 0x6d, 0x70, 0x2f, 0x83, 0x65, 0x83, 0x58, 0x83, 0x67]); // Shift_JIS テスト after /tmp/
    const lines = [
      `type=SYSCALL msg=audit(1700000000.100:607): arch=c000003e syscall=59 success=yes exit=0 a0=1 items=1 ppid=1 pid=2 uid=0 auid=0 comm="x" exe=${hex(bad)}`,
      `type=EXECVE msg=audit(1700000000.100:607): argc=2 a0="cat" a1=${hex(bad)}`,
      `type=CWD msg=audit(1700000000.100:607): cwd=${hex(bad)}`,
    ];
    const { records, failures } = execs(toLines(lines.join('\n')));
    expect(failures).toEqual([]);
    expect(records[0]!.argv![1]).toBe('/tmp/\uFFFDe\uFFFDX\uFFFDg');
    expect(Buffer.from(records[0]!.extra!['arg1_b64']!, 'base64')).toEqual(bad);
    expect(records[0]!.exe).toContain('\uFFFD');
    expect(records[0]!.cwd).toContain('\uFFFD');
  });

  it('hostile field shapes (argc huge, index huge, a bad aI_len, a quote never closed) give a record, not a throw', () => {
    const lines = [
      SYSCALL(608),
      'type=EXECVE msg=audit(1700000000.100:608): argc=99999999999 a0="a" a9999999="b" a1_len=zz a1[0]="c" a2="unterminated',
    ];
    const { records } = execs(toLines(lines.join('\n')));
    expect(records).toHaveLength(1);
    expect(records[0]!.incomplete).toMatch(/argc: 99999999999 is more than 1048576/);
  });
});

describe('process.exec: every cut of a real event', () => {
  it('each line of the crowdsec hub execve event cut at every position: valid records, never a throw', () => {
    const text = readFileSync(`${FIXTURES}hub/.tests/auditd-suid-crash/auditd-suid-crash.log`, 'utf8').split('\n').slice(6, 12);
    let events = 0;
    for (let line = 0; line < text.length; line++) {
      for (let cut = 0; cut <= text[line]!.length; cut += 3) {
        const lines = [...text];
        lines[line] = text[line]!.slice(0, cut);
        const { records } = execs(toLines(lines.join('\n')));
        events += records.length;
      }
    }
    expect(events).toBeGreaterThan(100);
  });
});
