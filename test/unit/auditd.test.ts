/**
 * auditd parser on real audit logs: go-libaudit's auparse and aucoalesce test data (the raw lines
 * inside the YAML), plaso's ENRICHED log and its deliberately malformed selinux.log.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { payloadSchemas, type PayloadOf } from '../../src/records/schema.js';
import {
  createAuditdParser,
  groupAuditEvents,
  normalizePath,
  parseAuditLine,
  decodedField,
  type AuditRecord,
} from '../../src/parsers/auditd.js';
import { archName, syscallName } from '../../src/parsers/syscalls.js';
import type { ParseFailure, SourceLine } from '../../src/parsers/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const AUPARSE = `${FIXTURES}go-libaudit/auparse/testdata/`;
const AUCOALESCE = `${FIXTURES}go-libaudit/aucoalesce/testdata/`;
const PLASO = `${FIXTURES}plaso/test_data/`;

function toLines(text: string, path: string, firstSeq = 100): SourceLine[] {
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  return parts.map((t, i) => ({ seq: firstSeq + i, path, text: t, observedAt: '2026-11-23T00:00:00.000000Z' }));
}

function runParser(lines: SourceLine[]): { records: PayloadOf<'file.access'>[]; failures: ParseFailure[] } {
  const p = createAuditdParser();
  const records: PayloadOf<'file.access'>[] = [];
  const failures: ParseFailure[] = [];
  const take = (o: ReturnType<typeof p.push>): void => {
    for (const r of o.records) {
      if (r.kind === 'process.exec') continue; // test/unit/audit-exec.test.ts
      expect(r.kind).toBe('file.access');
      records.push(payloadSchemas['file.access'].parse(r.payload));
    }
    failures.push(...o.failures);
  };
  for (const l of lines) take(p.push(l));
  take(p.finish());
  expect(p.pending).toBe(0);
  return { records, failures };
}

/** The raw audit lines of every test case in go-libaudit's aucoalesce YAML files, by `file :: case`. */
function yamlCases(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(AUCOALESCE).filter((n) => n.endsWith('.yaml')).sort()) {
    const doc = parseYaml(readFileSync(AUCOALESCE + f, 'utf8')) as { tests: Record<string, string> };
    for (const [name, raw] of Object.entries(doc.tests)) out.set(`${f} :: ${name}`, raw);
  }
  return out;
}

describe('auditd: auparse test logs', () => {
  const expected: Record<string, { lines: number; events: number; records: number; failures: string[] }> = {
    'audit-rhel6.log': { lines: 2, events: 2, records: 0, failures: [] },
    'audit-rhel7.log': { lines: 50, events: 48, records: 0, failures: ['auditd.bad_header'] },
    'audit-ubuntu14.log': { lines: 1, events: 1, records: 0, failures: [] },
    'audit-ubuntu16.log': { lines: 3, events: 3, records: 0, failures: [] },
    'audit-ubuntu17.log': { lines: 1, events: 1, records: 0, failures: [] },
    'test2.log': { lines: 10, events: 7, records: 1, failures: [] },
    'test3.log': { lines: 17, events: 10, records: 0, failures: [] },
  };
  for (const [file, want] of Object.entries(expected)) {
    it(`${file}: ${want.lines} lines → ${want.events} events, ${want.records} file.access`, () => {
      const lines = toLines(readFileSync(AUPARSE + file, 'utf8'), file);
      expect(lines).toHaveLength(want.lines);
      expect(groupAuditEvents(lines).events).toHaveLength(want.events);
      const { records, failures } = runParser(lines);
      expect(records).toHaveLength(want.records);
      expect(failures.map((f) => f.reason)).toEqual(want.failures);
    });
  }

  it('test2.log: the postfix pickup open of a relative name is resolved against CWD and marked failed', () => {
    const { records } = runParser(toLines(readFileSync(AUPARSE + 'test2.log', 'utf8'), 'test2.log', 0));
    const r = records[0];
    expect(r).toMatchObject({
      path: '/var/spool/postfix/maildrop',
      operation: 'open',
      syscall: 'open',
      arch: 'x86_64',
      success: false,
      uid: '890',
      auid: '4294967295',
      pid: 13010,
      exe: '/usr/libexec/postfix/pickup',
      comm: 'pickup',
      object_type: 'directory',
      access: ['read'],
      event_time: '2007-01-28T21:58:13.977000Z',
      derived_from: [0, 1, 2, 3],
    });
    expect(r?.audit_key).toBeUndefined(); // key=(null)
    expect(r?.extra).toMatchObject({ exit: '-13', name: 'maildrop', cwd: '/var/spool/postfix', audit_id: '1170021493.977:293' });
  });

  it('audit-rhel7.log: the line "type=UNKNOWN[1329] msg=?" is a named failure with its seq', () => {
    const { failures } = runParser(toLines(readFileSync(AUPARSE + 'audit-rhel7.log', 'utf8'), 'x', 0));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ reason: 'auditd.bad_header', derived_from: [30] });
    expect(failures[0]?.detail).toContain('UNKNOWN[1329] msg=?');
  });

  it('decodes hex-encoded exe, cwd, name, proctitle and key fields', () => {
    const rhel6 = toLines(readFileSync(AUPARSE + 'audit-rhel6.log', 'utf8'), 'x');
    const sys = parseAuditLine(rhel6[0]!) as AuditRecord;
    expect(decodedField(sys, 'exe')).toBe('/usr/libexec/strongswan/charon (deleted)');
    expect(decodedField(sys, 'comm')).toBe('charon');
    expect(syscallName(sys.fields.get('arch')!.value, Number(sys.fields.get('syscall')!.value))).toBe('sendto');

    const rhel7 = toLines(readFileSync(AUPARSE + 'audit-rhel7.log', 'utf8'), 'x');
    const cwd = rhel7.map((l) => parseAuditLine(l)).find((r): r is AuditRecord => r !== undefined && 'type' in r && r.type === 'CWD' && r.serial === 1208725);
    expect(decodedField(cwd!, 'cwd')).toBe('/tmp/a b c');

    const u14 = parseAuditLine(toLines(readFileSync(AUPARSE + 'audit-ubuntu14.log', 'utf8'), 'x')[0]!) as AuditRecord;
    expect(decodedField(u14, 'name')).toBe('/share/general/path_redacted');

    const t3 = toLines(readFileSync(AUPARSE + 'test3.log', 'utf8'), 'x').map((l) => parseAuditLine(l) as AuditRecord);
    const titles = t3.filter((r) => r.type === 'PROCTITLE').map((r) => `${r.serial}=${decodedField(r, 'proctitle')}`);
    expect(titles).toContain('194435=sshd: burn [priv]');
    expect(titles).toContain('194433=bash');

    const u17 = parseAuditLine(toLines(readFileSync(AUPARSE + 'audit-ubuntu17.log', 'utf8'), 'x')[0]!) as AuditRecord;
    // two keys joined by 0x01; this real line has a stray quote after the hex, tolerated
    expect(decodedField(u17, 'key')).toBe('exec\x0164bit');
  });

  it('test3.log: interleaved SYSCALL and PROCTITLE records are grouped by serial', () => {
    const { events } = groupAuditEvents(toLines(readFileSync(AUPARSE + 'test3.log', 'utf8'), 'x', 0));
    const bySerial = new Map(events.map((e) => [e.serial, e.records.map((r) => `${r.type}@${r.seq}`)]));
    expect(bySerial.get(194433)).toEqual(['SYSCALL@1', 'PROCTITLE@2']);
    expect(bySerial.get(194435)).toEqual(['SYSCALL@0', 'PROCTITLE@3']);
    expect(bySerial.get(194440)).toEqual(['SYSCALL@11', 'PROCTITLE@13']);
    const names = events
      .map((e) => e.records.find((r) => r.type === 'SYSCALL'))
      .filter((r): r is AuditRecord => r !== undefined)
      .map((r) => syscallName(r.fields.get('arch')!.value, Number(r.fields.get('syscall')!.value)));
    // in file order of each event's first record: 194435 (line 0) comes before 194433 (line 1)
    expect(names).toEqual(['select', 'rt_sigaction', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigaction', 'rt_sigprocmask', 'clock_gettime']);
  });
});

describe('auditd: aucoalesce YAML events (raw lines)', () => {
  const cases = yamlCases();

  it('reads all 48 cases; 8 of them name files (exact paths and syscalls)', () => {
    expect(cases.size).toBe(48);
    const got: string[] = [];
    let failures = 0;
    for (const [name, raw] of cases) {
      const r = runParser(toLines(raw, name));
      failures += r.failures.length;
      for (const p of r.records) got.push(`${name} | ${p.syscall} ${p.operation} ${p.path}${p.previous_path === undefined ? '' : ` <- ${p.previous_path}`}`);
    }
    expect(failures).toBe(0);
    expect(got).toEqual([
      'rhel-7-linux-3.10.0.yaml :: make-device | mknod mknod /run/systemd/sessions/23.ref',
      'rhel-7-linux-3.10.0.yaml :: mount syscall | mount mount /run/user/0',
      'ubuntu-16.04-linux-4.13.0.yaml :: AVC_AppArmor_unlink | unlink delete /var/lib/apt/lists/partial/.apt-acquire-privs-test.zW4jyj',
      'ubuntu-16.10-linux-4.8.0.yaml :: EXECVE | execve execute /bin/uname',
      'ubuntu-17.04-linux-4.10.0.yaml :: unlink syscall | unlink delete /etc/audit/rules.d/.audit.rules.swp',
      'ubuntu-17.04-linux-4.10.0.yaml :: rename syscall | rename rename /etc/audit/rules.d/audit.rules~ <- /etc/audit/rules.d/audit.rules',
      'ubuntu-17.04-linux-4.10.0.yaml :: EXECVE with multiple keys | execve execute /usr/bin/docker',
      'ubuntu-20.04.6-linux-5.15.0-1034-gcp.yaml :: file_mode_preservation | execve execute /usr/bin/dash',
    ]);
  });

  it('unlink: the DELETE item is the object, the PARENT item is context; who, key and every line are kept', () => {
    const { records } = runParser(toLines(cases.get('ubuntu-17.04-linux-4.10.0.yaml :: unlink syscall')!, 'x', 10));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      path: '/etc/audit/rules.d/.audit.rules.swp',
      operation: 'delete',
      syscall: 'unlink',
      success: true,
      uid: '0',
      auid: '1001',
      pid: 3346,
      exe: '/usr/bin/vim.basic',
      comm: 'vim',
      audit_key: 'auditconfig',
      object_type: 'file',
      derived_from: [10, 11, 12, 13, 14, 15],
      event_time: '2017-04-25T14:09:15.852000Z',
    });
    expect(records[0]?.extra).toMatchObject({
      nametype: 'DELETE',
      proctitle: 'vim /etc/audit/rules.d/audit.rules',
      ses: '5',
      tty: 'pts1',
    });
  });

  it('mknod with a hex-encoded exe and a CREATE item; mount names one object once', () => {
    const mk = runParser(toLines(cases.get('rhel-7-linux-3.10.0.yaml :: make-device')!, 'x')).records;
    expect(mk[0]).toMatchObject({ operation: 'mknod', object_type: 'fifo', exe: '/usr/lib/systemd/systemd-logind;58f98c85 (deleted)' });
    expect(mk[0]?.extra?.['nametype']).toBe('CREATE');
    const mount = runParser(toLines(cases.get('rhel-7-linux-3.10.0.yaml :: mount syscall')!, 'x')).records;
    expect(mount).toHaveLength(1);
  });

  it('execve: the program is the object, the loader is kept as extra.interpreter; two keys joined', () => {
    const { records } = runParser(toLines(cases.get('ubuntu-17.04-linux-4.10.0.yaml :: EXECVE with multiple keys')!, 'x'));
    expect(records[0]).toMatchObject({ path: '/usr/bin/docker', operation: 'execute', audit_key: 'exec,64bit', uid: '0', auid: '1002' });
    expect(records[0]?.extra?.['interpreter']).toBe('/lib64/ld-linux-x86-64.so.2');
  });

  it('aarch64: syscall 37 is linkat (on x86_64 it is alarm)', () => {
    const raw = cases.get('ubuntu-24.04-linux-6.8.0.yaml :: linkat_syscall')!;
    const sys = parseAuditLine(toLines(raw, 'x')[0]!) as AuditRecord;
    expect(sys.fields.get('arch')?.value).toBe('c00000b7');
    expect(archName('c00000b7')).toBe('aarch64');
    expect(syscallName('c00000b7', 37)).toBe('linkat');
    expect(syscallName('c000003e', 37)).toBe('alarm');
    expect(syscallName('c00000b7', 56)).toBe('openat');
    expect(syscallName('c000003e', 257)).toBe('openat');
    expect(syscallName('c00000b7', 35)).toBe('unlinkat');
    expect(syscallName('c000003e', 82)).toBe('rename');
  });
});

describe('auditd: plaso ENRICHED log', () => {
  it('29 lines → 13 events, 3 file.access with the enriched user names', () => {
    const lines = toLines(readFileSync(PLASO + 'audit_enriched.log', 'utf8'), 'audit.log', 0);
    expect(lines).toHaveLength(29);
    expect(groupAuditEvents(lines).events).toHaveLength(13);
    const { records, failures } = runParser(lines);
    expect(failures).toEqual([]);
    expect(records.map((r) => [r.path, r.syscall, r.operation, r.user, r.audit_key, r.pid, r.event_time])).toEqual([
      ['/usr/bin/id', 'execve', 'execute', 'root', 'specimen_exec', 2219, '2026-07-07T08:57:41.335000Z'],
      ['/bin/sh', 'execve', 'execute', 'root', 'specimen_exec', 2221, '2026-07-07T08:57:41.350000Z'],
      ['/usr/bin/cat', 'execve', 'execute', 'root', 'spec2', 2525, '2026-07-07T09:23:37.830000Z'],
    ]);
    expect(records[1]?.extra).toMatchObject({ proctitle: '/bin/sh -c grep -c . /etc/hostname', auid_user: 'root', cwd: '/root' });
    expect(records[2]?.extra?.['proctitle']).toBe('/usr/bin/cat /tmp/my report.txt');
    expect(records[2]?.derived_from).toEqual([23, 24, 25, 26, 27, 28]);
  });

  it('the ENRICHED part of a SYSCALL record is read separately from the raw fields', () => {
    const lines = toLines(readFileSync(PLASO + 'audit_enriched.log', 'utf8'), 'audit.log', 0);
    const write = parseAuditLine(lines.find((l) => l.text.includes('syscall=1 '))!) as AuditRecord;
    expect(write.enriched?.get('SYSCALL')).toBe('write');
    expect(write.enriched?.get('ARCH')).toBe('x86_64');
    expect(write.enriched?.get('AUID')).toBe('root');
    expect(write.fields.get('key')?.value).toBe('(null)');
  });
});

describe('auditd: plaso selinux.log (deliberately malformed lines)', () => {
  it('12 lines: 2 blank, 4 named failures, 6 events, nothing thrown', () => {
    const lines = toLines(readFileSync(PLASO + 'selinux.log', 'utf8'), 'selinux.log', 0);
    expect(lines).toHaveLength(12);
    const { failures, records } = runParser(lines);
    expect(records).toEqual([]);
    expect(failures.map((f) => [f.reason, f.derived_from])).toEqual([
      ['auditd.bad_header', [1]], // msg=audit(1337845201) — no millis, no serial
      ['auditd.bad_header', [3]], // msg=audit() — empty
      ['auditd.bad_header', [5]], // type= — empty type
      ['auditd.bad_header', [6]], // no type= at all
    ]);
    const { events } = groupAuditEvents(lines);
    expect(events.map((e) => e.records.map((r) => r.type).join('+'))).toEqual([
      'LOGIN',
      'SHORTDATE',
      'NOMSG',
      'UNDER_SCORE',
      'UNKNOWN[1323]',
      'AVC+SYSCALL',
    ]);
    const avc = events.at(-1)!.records[1]!;
    expect(archName(avc.fields.get('arch')!.value)).toBe('i386');
    expect(syscallName(avc.fields.get('arch')!.value, 197)).toBe('fstat64');
  });
});

describe('auditd: grouping rules', () => {
  it('an event completes on EOE, at once', () => {
    const raw = yamlCases().get('rhel-7-linux-3.10.0.yaml :: make-device')!;
    const p = createAuditdParser();
    const outs = toLines(raw, 'x').map((l) => p.push(l));
    expect(outs.slice(0, 4).every((o) => o.records.length === 0)).toBe(true);
    expect(outs[4]?.records).toHaveLength(1); // the EOE line flushed it
    expect(p.pending).toBe(0);
  });

  it('with more events building than are kept, the oldest are completed first, and a record 2 s younger still completes every older one', () => {
    // 1,100 two-record events of one second, none with EOE (as auditd writes them), then a one-record
    // event and one 3 s later: the check for old events must still run after the evictions.
    const text: string[] = [];
    for (let s = 1; s <= 1100; s++) text.push(`type=SYSCALL msg=audit(1000.001:${s}): arch=c000003e syscall=2 success=yes`, `type=CWD msg=audit(1000.001:${s}): cwd="/"`);
    text.push('type=USER_LOGIN msg=audit(1000.500:5000): pid=1 res=success', 'type=SYSCALL msg=audit(1003.000:6000): arch=c000003e syscall=2 success=yes');
    const lines = toLines(text.join('\n'), 'x');
    const p = createAuditdParser();
    for (const l of lines.slice(0, -2)) p.push(l);
    expect(p.pending).toBe(1024);
    p.push(lines.at(-2)!); // a one-record event: completed at once
    expect(p.pending).toBe(1024);
    p.push(lines.at(-1)!); // 3 s later: every event of second 1000 is complete
    expect(p.pending).toBe(1);
    // The order: 76 evicted first in, first out, the one-record event, the rest, the last at the end.
    const ids = groupAuditEvents(lines).events.map((e) => e.id);
    expect([ids[0], ids[75], ids[76], ids[77], ids[1100], ids[1101]]).toEqual(['1000.001:1', '1000.001:76', '1000.500:5000', '1000.001:77', '1000.001:1100', '1003.000:6000']);
  });

  it('fields are looked up the same whether a record shares the layout of the one before it or not (first of a name wins)', () => {
    const rec = (body: string, seq: number): AuditRecord => {
      const r = parseAuditLine({ seq, path: 'x', text: `type=SYSCALL msg=audit(1.001:${seq}): ${body}`, observedAt: 'x' });
      if (r === undefined || 'reason' in r) throw new Error('not a record');
      return r;
    };
    const bodies = [
      'a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8',
      'a=10 b=20 c=30 d=40 e=50 f=60 g=70 h=80', // the same keys: the layout of the line before
      'h=8 g=7 f=6 e=5 d=4 c=3 b=2 a=1', // another order
      'a=1 a=2 b=3 b=4 c=5 d=6 e=7 f=8', // a name twice: the first counts
      'a=5 a=6 b=7 b=8 c=9 d=10 e=11 f=12', // the same, through the shared layout
      'aa=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8', // a key that only starts like another
    ];
    const got = bodies.map((b, i) => {
      const f = rec(b, i + 1).fields;
      return [f.value('a'), f.value('b'), f.value('h'), f.value('aa'), f.value('zz'), [...f.keys()].join(' ')];
    });
    expect(got).toEqual([
      ['1', '2', '8', undefined, undefined, 'a b c d e f g h'],
      ['10', '20', '80', undefined, undefined, 'a b c d e f g h'],
      ['1', '2', '8', undefined, undefined, 'h g f e d c b a'],
      ['1', '3', undefined, undefined, undefined, 'a b c d e f'],
      ['5', '7', undefined, undefined, undefined, 'a b c d e f'],
      [undefined, '2', '8', '1', undefined, 'aa b c d e f g h'],
    ]);
  });

  it('normalizes resolved paths lexically', () => {
    expect(normalizePath('/home/a/../b/./c')).toBe('/home/b/c');
    expect(normalizePath('/etc/audit/rules.d/')).toBe('/etc/audit/rules.d/');
    expect(normalizePath('/../..')).toBe('/');
  });
});
