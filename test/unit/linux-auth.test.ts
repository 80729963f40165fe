/**
 * Logons from auth.log / secure → auth.logon. Real samples: elastic/beats filebeat system/auth
 * test.log and timestamp.log (Apache-2.0), plaso syslog_ssh.log (Apache-2.0), lnav's sudo line
 * (BSD-2-Clause). Formats no available sample contains (su, login, systemd-logind, pam_unix
 * authentication failures) are checked on lines in the format those programs write, marked as such.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { payloadSchemas } from '../../src/records/schema.js';
import { parseAuthLine } from '../../src/parsers/linux-auth.js';
import { createSyslogFramer } from '../../src/parsers/syslog.js';
import type { ParseOutput } from '../../src/parsers/types.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const REF = '2026-11-23T00:00:00.000000Z';

function linesOf(file: string): string[] {
  const lines = readFileSync(join(FIXTURES, file), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Frames and parses each line of a file (seq = line index); one output per line. */
function parseFile(lines: string[]): ParseOutput[] {
  const framer = createSyslogFramer();
  return lines.map((text, seq) => {
    const out: ParseOutput = { records: [], failures: [] };
    for (const framed of framer.frame(text, REF)) {
      const o = parseAuthLine({ seq, path: '/var/log/auth.log', text, observedAt: REF }, framed);
      out.records.push(...o.records);
      out.failures.push(...o.failures);
    }
    for (const r of out.records) payloadSchemas[r.kind].parse(r.payload);
    return out;
  });
}

/** The fields people read in a logon table. */
function summary(out: ParseOutput): unknown {
  if (out.records.length === 0) return null;
  const p = out.records[0]?.payload as Record<string, unknown>;
  const keys = ['service', 'action', 'success', 'user', 'target_user', 'method', 'from_ip', 'from_host', 'from_port', 'terminal', 'reason', 'extra'];
  return Object.fromEntries(keys.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));
}

describe('beats filebeat system/auth test.log', () => {
  const outs = parseFile(linesOf('beats/filebeat/module/system/auth/test/test.log'));

  it('exact users, addresses and outcomes, line by line', () => {
    expect(outs.map(summary)).toEqual([
      {
        service: 'sshd', action: 'logon', success: true, user: 'vagrant', method: 'publickey', from_ip: '10.0.2.2', from_port: 63673,
        extra: { protocol: 'ssh2', key: 'RSA 39:33:99:e9:a0:dc:f2:33:a3:e5:72:3b:7c:3a:56:84' },
      },
      {
        service: 'sshd', action: 'logon', success: true, user: 'vagrant', method: 'password', from_ip: '192.168.33.1', from_port: 58803,
        extra: { protocol: 'ssh2' },
      },
      { service: 'sshd', action: 'failure', success: false, user: 'test', from_ip: '10.0.2.2', reason: 'invalid user' },
      {
        service: 'sshd', action: 'failure', success: false, user: 'root', method: 'password', from_ip: '216.160.83.57', from_port: 29160,
        extra: { protocol: 'ssh2' },
      },
      {
        service: 'sudo', action: 'elevate', success: true, user: 'vagrant', target_user: 'root', terminal: 'pts/0',
        extra: { command: '/bin/ls', pwd: '/home/vagrant' },
      },
      null, // Did not receive identification string: not an authentication
      {
        service: 'sudo', action: 'elevate', success: true, user: 'vagrant', target_user: 'root', terminal: 'pts/1',
        extra: { command: '/bin/cat /var/log/secure', pwd: '/home/vagrant' },
      },
      {
        service: 'sudo', action: 'elevate', success: false, user: 'tsg', target_user: 'root', terminal: 'pts/1', reason: 'user NOT in sudoers',
        extra: { command: '/bin/ls', pwd: '/home/vagrant' },
      },
      null, // groupadd
      null, // useradd
    ]);
    expect(outs.flatMap((o) => o.failures)).toEqual([]);
  });

  it('carries the source line, time, host and pid', () => {
    expect(outs[0]?.records[0]?.payload).toMatchObject({
      derived_from: [0],
      parser: 'syslog.auth@1',
      event_time: '2026-02-21T21:54:44.000000Z',
      time_note: `year 2026 inferred from reference time ${REF}; local time, zone unknown, read as UTC`,
      event_host: 'localhost',
      pid: 3402,
    });
    expect(outs[3]?.records[0]?.payload).toMatchObject({ derived_from: [3], event_host: 'slave22', pid: 5774 });
  });
});

describe('plaso syslog_ssh.log', () => {
  const outs = parseFile(linesOf('plaso/test_data/syslog/syslog_ssh.log'));

  it('exact users, addresses (IPv4 and IPv6) and outcomes', () => {
    expect(outs.map(summary)).toEqual([
      null, // Server listening
      {
        service: 'sshd', action: 'logon', success: true, user: 'plaso', method: 'publickey', from_ip: '192.168.0.1', from_port: 59229,
        extra: { protocol: 'ssh2', key: 'RSA 00:aa:bb:cc:dd:ee:ff:11:22:33:44:55:66:77:88:99' },
      },
      {
        service: 'sshd', action: 'logon', success: true, user: 'plaso', method: 'password',
        from_ip: '2001:0db8:0a0b:12f0:0000:0000:0000:0001', from_port: 42532, extra: { protocol: 'ssh2' },
      },
      { service: 'sshd', action: 'failure', success: false, user: 'plaso', method: 'publickey', from_ip: '001:db8:a0b:12f0::1', from_port: 8759 },
      null, // Connection from
      {
        service: 'sshd', action: 'failure', success: false, user: 'root', method: 'password', from_ip: '188.124.3.41', from_port: 32889,
        extra: { protocol: 'ssh2' },
      },
      {
        service: 'sshd', action: 'logon', success: true, user: 'fred', method: 'publickey', from_ip: '192.0.2.60', from_port: 60594,
        extra: { protocol: 'ssh2', key: 'RSA e8:31:68:c7:01:2d:25:20:36:8f:50:5d:f9:ee:70:4c' },
      },
      {
        service: 'sshd', action: 'logon', success: true, user: 'fred', method: 'publickey', from_ip: '192.0.2.60', from_port: 20042,
        extra: { protocol: 'ssh2' },
      },
      {
        service: 'sshd', action: 'logon', success: true, user: 'fred', method: 'publickey', from_ip: '192.0.2.60', from_port: 59915,
        extra: { protocol: 'ssh2', key: 'RSA SHA256:5xyQ+PG1Z3CIiShclJ2iNya5TOdKDgE/HrOXr21IdOo' },
      },
    ]);
  });
});

describe('other real samples', () => {
  it('beats timestamp.log: a pam_unix session of sudo -i (ISO time without zone)', () => {
    const outs = parseFile(linesOf('beats/filebeat/module/system/auth/test/timestamp.log'));
    expect(outs[0]?.records[0]?.payload).toEqual({
      derived_from: [0],
      parser: 'syslog.auth@1',
      service: 'sudo-i',
      action: 'session_open',
      success: true,
      event_time: '2019-06-14T10:40:20.912134Z',
      time_note: 'local time, zone unknown, read as UTC',
      event_host: 'localhost',
      user: 'root',
      extra: { by: 'userauth3', by_uid: '0' },
    });
    expect(outs[1]?.records).toEqual([]); // "pam: user nobody logged out." is not pam_unix
  });

  it('lnav logfile_syslog.0: sudo with a long working directory', () => {
    const outs = parseFile(linesOf('lnav/test/logfile_syslog.0'));
    expect(summary(outs[3]!)).toEqual({
      service: 'sudo', action: 'elevate', success: true, user: 'timstack', target_user: 'root', terminal: 'pts/6',
      extra: { command: '/usr/bin/tail /var/log/messages', pwd: '/auto/wstimstack/rpms/lbuild/test' },
    });
  });
});

describe('formats with no sample available (lines in the programs\' own formats)', () => {
  const lines = [
    'Mar 10 13:45:53 pc1 su[75259]: (to root) siduser on pts/3',
    'Mar 10 13:45:53 pc1 su[75259]: pam_unix(su:session): session opened for user root(uid=0) by (uid=1000)',
    'Mar 10 17:54:33 pc1 su[105197]: pam_unix(su:session): session closed for user root',
    'Jan  4 22:01:54 yy su[20874]: Successful su for ben by root',
    'Jan  4 22:01:54 yy su[20874]: + ??? root:ben',
    'Jan  4 22:01:55 yy su[20875]: FAILED su for root by ben',
    'Feb 22 16:45:32 slave22 sshd[2742]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=202.109.143.106  user=root',
    'Feb 22 16:48:04 slave22 sshd[2805]: pam_unix(sshd:session): session opened for user drewr by (uid=0)',
    'Mar  6 08:15:07 ubuntu systemd-logind[814]: New session 4 of user margo.',
    'Mar  6 09:00:00 ubuntu systemd-logind[814]: Removed session 4.',
    'Mar  6 09:01:00 ubuntu login[900]: FAILED LOGIN (1) on \'/dev/tty1\' FOR \'UNKNOWN\', Authentication failure',
    'Mar  6 09:02:00 ubuntu sshd[901]: Failed password for invalid user oracle from 10.0.0.5 port 4445 ssh2',
    'Mar  6 09:03:00 ubuntu sshd[902]: Disconnected from user margo 10.10.15.13 port 40890',
    'Mar  6 09:04:00 ubuntu sshd[903]: error: maximum authentication attempts exceeded for root from 10.0.0.5 port 4446 ssh2 [preauth]',
    'Mar  6 09:05:00 ubuntu sshd[904]: Accepted password for margo from some.host.example port 40890 ssh2',
  ];

  it('su, pam_unix, logind, login and the rarer sshd lines', () => {
    expect(parseFile(lines).map(summary)).toEqual([
      { service: 'su', action: 'elevate', success: true, user: 'siduser', target_user: 'root', terminal: 'pts/3' },
      { service: 'su', action: 'session_open', success: true, user: 'root', extra: { by_uid: '1000' } },
      { service: 'su', action: 'session_close', success: true, user: 'root' },
      { service: 'su', action: 'elevate', success: true, user: 'root', target_user: 'ben' }, // "for <target> by <user>"
      { service: 'su', action: 'elevate', success: true, user: 'root', target_user: 'ben', terminal: '???' },
      { service: 'su', action: 'elevate', success: false, user: 'ben', target_user: 'root', reason: 'FAILED su' },
      {
        service: 'sshd', action: 'failure', success: false, user: 'root', from_ip: '202.109.143.106', terminal: 'ssh',
        reason: 'authentication failure', extra: { euid: '0' },
      },
      { service: 'sshd', action: 'session_open', success: true, user: 'drewr', extra: { by_uid: '0' } },
      { service: 'systemd-logind', action: 'session_open', success: true, user: 'margo' },
      { service: 'systemd-logind', action: 'session_close', success: true },
      { service: 'login', action: 'failure', success: false, user: 'UNKNOWN', terminal: '/dev/tty1', reason: 'Authentication failure' },
      {
        service: 'sshd', action: 'failure', success: false, user: 'oracle', method: 'password', from_ip: '10.0.0.5', from_port: 4445,
        reason: 'invalid user', extra: { protocol: 'ssh2' },
      },
      { service: 'sshd', action: 'logoff', success: true, user: 'margo', from_ip: '10.10.15.13', from_port: 40890 },
      {
        service: 'sshd', action: 'failure', success: false, user: 'root', from_ip: '10.0.0.5', from_port: 4446,
        reason: 'maximum authentication attempts exceeded', extra: { protocol: 'ssh2' },
      },
      {
        service: 'sshd', action: 'logon', success: true, user: 'margo', method: 'password', from_host: 'some.host.example', from_port: 40890,
        extra: { protocol: 'ssh2' },
      },
    ]);
  });

  it('an sshd or sudo line that claims a logon but cannot be read is a named failure', () => {
    const outs = parseFile([
      'Mar  6 09:05:00 ubuntu sshd[904]: Accepted password for margo from 10.0.0.1 port',
      'Mar  6 09:05:00 ubuntu sudo: vagrant TTY=pts/0 ; USER=root ; PWD=/',
    ]);
    expect(outs.map((o) => [o.records.length, o.failures.map((f) => [f.reason, f.derived_from])])).toEqual([
      [0, [['auth.sshd_unreadable', [0]]]],
      [0, [['auth.sudo_unreadable', [1]]]],
    ]);
  });
});
