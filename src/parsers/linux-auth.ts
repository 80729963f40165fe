/**
 * Logons from auth.log / secure: sshd (accepted, failed, invalid users, disconnects), sudo, su,
 * login, systemd-logind and pam_unix sessions of any service → `auth.logon`. One line in, zero or one
 * record out; pure and never throws. A line of one of these programs that says it is about a logon
 * but cannot be read becomes a ParseFailure.
 *
 * What has no field of its own goes to `extra`: `protocol` (ssh2), `key` (key type and fingerprint),
 * `command` and `pwd` (sudo), `env` (sudo ENV=), `uid`/`by_uid` (pam), `logname`/`ruser`/`tty` (pam
 * authentication failures), `preauth`, `attempts`, `session_id`.
 */
import { isIP } from 'node:net';
import type { PayloadOf } from '../records/schema.js';
import type { ParseFailure, ParseOutput, SourceLine } from './types.js';
import type { SyslogFrame } from './syslog.js';

export const AUTH_PARSER = 'syslog.auth@1';

type AuthPayload = PayloadOf<'auth.logon'>;
type Action = AuthPayload['action'];

const RE_ACCEPTED = /^Accepted (\S+) for (.*?) from (\S+) port (\d{1,5})(?: +(ssh\d?))?(?:: (.*))?$/;
const RE_FAILED = /^Failed (\S+) for (invalid user )?(.*?) from (\S+) port (\d{1,5})(?: +(ssh\d?))?(?: \[preauth\])?$/;
const RE_INVALID = /^[Ii]nvalid user (.*?) from (\S+)(?: port (\d{1,5}))?(?: \[preauth\])?$/;
const RE_MAX_ATTEMPTS = /^error: maximum authentication attempts exceeded for (invalid user )?(.*?) from (\S+) port (\d{1,5})(?: +(ssh\d?))?(?: \[preauth\])?$/;
const RE_DISCONNECTED_USER = /^Disconnected from user (\S+) (\S+) port (\d{1,5})$/;
const RE_PAM_SESSION = /^pam_unix\(([^:)]{1,64}):session\): session (opened|closed) for user (\S+?)(?:\(uid=(\d+)\))?(?: by (\S*?)(?:\(uid=(\d+)\))?)?$/;
const RE_PAM_AUTHFAIL = /^pam_unix\(([^:)]{1,64}):auth\): authentication failure; (.*)$/;
const RE_PAM_UNKNOWN = /^pam_unix\(([^:)]{1,64}):auth\): check pass; user unknown$/;
const RE_SU_TO = /^\(to (\S+)\) (\S+) on (\S+)$/;
const RE_SU_RESULT = /^(Successful|FAILED) su for (\S+) by (\S+)$/;
const RE_SU_OLD = /^([+-]) (\S+) (\S+?):(\S+)$/;
const RE_LOGIN_FAILED = /^FAILED LOGIN \(\d+\) on '([^']*)'(?: FROM '([^']*)')? FOR '([^']*)', (.*)$/;
const RE_LOGIN_ROOT = /^ROOT LOGIN {1,2}on '([^']*)'(?: FROM '([^']*)')?$/;
const RE_LOGIND_NEW = /^New session (\S+) of user (\S+)\.$/;
const RE_LOGIND_REMOVED = /^Removed session (\S+)\.$/;

function base(framed: SyslogFrame, line: SourceLine, service: string, action: Action, success: boolean): AuthPayload {
  const p: AuthPayload = { derived_from: [line.seq], parser: AUTH_PARSER, service, action, success };
  if (framed.time !== undefined) p.event_time = framed.time;
  if (framed.timeNote !== undefined) p.time_note = framed.timeNote;
  if (framed.host !== undefined) p.event_host = framed.host;
  if (framed.pid !== undefined) p.pid = framed.pid;
  return p;
}

function setFrom(p: AuthPayload, addr: string, port: string | undefined): void {
  if (isIP(addr) !== 0) p.from_ip = addr;
  else p.from_host = addr;
  if (port !== undefined) {
    const n = Number(port);
    if (n <= 65535) p.from_port = n;
  }
}

function withExtra(p: AuthPayload, extra: Record<string, string | undefined>): AuthPayload {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== '') e[k] = v;
  if (Object.keys(e).length > 0) p.extra = e;
  return p;
}

/** `key=value key=value` as in pam_unix's authentication failure line (values may be empty). */
function keyValues(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/(\w+)=(\S*)/g)) out[m[1] ?? ''] = m[2] ?? '';
  return out;
}

function programName(framed: SyslogFrame): string {
  const p = framed.program ?? '';
  const slash = p.lastIndexOf('/');
  return slash >= 0 ? p.slice(slash + 1) : p;
}

/** Cheap test used by the dispatcher: might this frame be an auth line? */
export function mayBeAuth(framed: SyslogFrame): boolean {
  if (framed.continuation || framed.program === undefined) return false;
  const prog = programName(framed);
  return (
    prog.startsWith('sshd') || prog === 'sudo' || prog === 'su' || prog === 'login' || prog === 'systemd-logind' || framed.message.startsWith('pam_unix(')
  );
}

function sshd(framed: SyslogFrame, line: SourceLine, msg: string, fail: (reason: string) => void): AuthPayload | undefined {
  let m: RegExpExecArray | null;
  if ((m = RE_ACCEPTED.exec(msg))) {
    const p = base(framed, line, 'sshd', 'logon', true);
    p.user = m[2] ?? '';
    p.method = m[1] ?? '';
    setFrom(p, m[3] ?? '', m[4]);
    return withExtra(p, { protocol: m[5], key: m[6] });
  }
  if ((m = RE_FAILED.exec(msg))) {
    const p = base(framed, line, 'sshd', 'failure', false);
    p.user = m[3] ?? '';
    p.method = m[1] ?? '';
    setFrom(p, m[4] ?? '', m[5]);
    if (m[2] !== undefined) p.reason = 'invalid user';
    return withExtra(p, { protocol: m[6], preauth: msg.endsWith('[preauth]') ? 'true' : undefined });
  }
  if ((m = RE_INVALID.exec(msg))) {
    const p = base(framed, line, 'sshd', 'failure', false);
    p.user = m[1] ?? '';
    p.reason = 'invalid user';
    setFrom(p, m[2] ?? '', m[3]);
    return p;
  }
  if ((m = RE_MAX_ATTEMPTS.exec(msg))) {
    const p = base(framed, line, 'sshd', 'failure', false);
    p.user = m[2] ?? '';
    p.reason = m[1] !== undefined ? 'maximum authentication attempts exceeded; invalid user' : 'maximum authentication attempts exceeded';
    setFrom(p, m[3] ?? '', m[4]);
    return withExtra(p, { protocol: m[5] });
  }
  if ((m = RE_DISCONNECTED_USER.exec(msg))) {
    const p = base(framed, line, 'sshd', 'logoff', true);
    p.user = m[1] ?? '';
    setFrom(p, m[2] ?? '', m[3]);
    return p;
  }
  if (/^(Accepted|Failed) \S+ for /.test(msg)) fail('auth.sshd_unreadable');
  return undefined;
}

function sudo(framed: SyslogFrame, line: SourceLine, msg: string, fail: (reason: string) => void): AuthPayload | undefined {
  // `user : [reason ; ]TTY=pts/0 ; PWD=/home/u ; USER=root ; [ENV=… ; ]COMMAND=/bin/ls`
  const colon = msg.indexOf(' : ');
  if (colon <= 0 || !msg.includes('COMMAND=')) {
    if (msg.includes(' ; ') && msg.includes('USER=')) fail('auth.sudo_unreadable');
    return undefined;
  }
  const user = msg.slice(0, colon).trim();
  if (user === '' || /\s/.test(user)) {
    fail('auth.sudo_unreadable');
    return undefined;
  }
  const rest = msg.slice(colon + 3);
  const cmdAt = rest.indexOf('COMMAND=');
  const command = rest.slice(cmdAt + 'COMMAND='.length);
  const fields: Record<string, string> = {};
  const reasons: string[] = [];
  for (const part of rest.slice(0, cmdAt).split(' ; ')) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq > 0 && /^[A-Z_]+$/.test(t.slice(0, eq))) fields[t.slice(0, eq)] = t.slice(eq + 1);
    else reasons.push(t);
  }
  const success = reasons.length === 0;
  const p = base(framed, line, 'sudo', 'elevate', success);
  p.user = user;
  if (fields['USER'] !== undefined) p.target_user = fields['USER'];
  if (fields['TTY'] !== undefined) p.terminal = fields['TTY'];
  if (!success) p.reason = reasons.join('; ');
  return withExtra(p, { command, pwd: fields['PWD'], env: fields['ENV'], group: fields['GROUP'] });
}

function su(framed: SyslogFrame, line: SourceLine, msg: string): AuthPayload | undefined {
  let m: RegExpExecArray | null;
  if ((m = RE_SU_TO.exec(msg))) {
    const p = base(framed, line, 'su', 'elevate', true);
    p.target_user = m[1] ?? '';
    p.user = m[2] ?? '';
    p.terminal = m[3] ?? '';
    return p;
  }
  if ((m = RE_SU_RESULT.exec(msg))) {
    const ok = m[1] === 'Successful';
    const p = base(framed, line, 'su', 'elevate', ok);
    p.target_user = m[2] ?? '';
    p.user = m[3] ?? '';
    if (!ok) p.reason = 'FAILED su';
    return p;
  }
  if ((m = RE_SU_OLD.exec(msg))) {
    const ok = m[1] === '+';
    const p = base(framed, line, 'su', 'elevate', ok);
    p.terminal = m[2] ?? '';
    p.user = m[3] ?? '';
    p.target_user = m[4] ?? '';
    if (!ok) p.reason = 'FAILED su';
    return p;
  }
  return undefined;
}

function pam(framed: SyslogFrame, line: SourceLine, msg: string, fail: (reason: string) => void): AuthPayload | undefined {
  let m: RegExpExecArray | null;
  if ((m = RE_PAM_SESSION.exec(msg))) {
    const opened = m[2] === 'opened';
    const p = base(framed, line, m[1] ?? '', opened ? 'session_open' : 'session_close', true);
    p.user = m[3] ?? '';
    if (m[4] !== undefined) p.uid = m[4];
    return withExtra(p, { by: m[5], by_uid: m[6] });
  }
  if ((m = RE_PAM_AUTHFAIL.exec(msg))) {
    const kv = keyValues(m[2] ?? '');
    const p = base(framed, line, m[1] ?? '', 'failure', false);
    p.reason = 'authentication failure';
    if (kv['user'] !== undefined && kv['user'] !== '') p.user = kv['user'];
    if (kv['uid'] !== undefined && kv['uid'] !== '') p.uid = kv['uid'];
    if (kv['rhost'] !== undefined && kv['rhost'] !== '') setFrom(p, kv['rhost'], undefined);
    if (kv['tty'] !== undefined && kv['tty'] !== '') p.terminal = kv['tty'];
    return withExtra(p, { logname: kv['logname'], ruser: kv['ruser'], euid: kv['euid'] });
  }
  if ((m = RE_PAM_UNKNOWN.exec(msg))) {
    const p = base(framed, line, m[1] ?? '', 'failure', false);
    p.reason = 'user unknown';
    return p;
  }
  if (/^pam_unix\([^)]*\): session (opened|closed)/.test(msg)) fail('auth.pam_unreadable');
  return undefined;
}

function login(framed: SyslogFrame, line: SourceLine, msg: string): AuthPayload | undefined {
  let m: RegExpExecArray | null;
  if ((m = RE_LOGIN_FAILED.exec(msg))) {
    const p = base(framed, line, 'login', 'failure', false);
    p.terminal = m[1] ?? '';
    if (m[2] !== undefined) setFrom(p, m[2], undefined);
    p.user = m[3] ?? '';
    p.reason = m[4] ?? '';
    return p;
  }
  if ((m = RE_LOGIN_ROOT.exec(msg))) {
    const p = base(framed, line, 'login', 'logon', true);
    p.user = 'root';
    p.terminal = m[1] ?? '';
    if (m[2] !== undefined) setFrom(p, m[2], undefined);
    return p;
  }
  return undefined;
}

function logind(framed: SyslogFrame, line: SourceLine, msg: string): AuthPayload | undefined {
  let m: RegExpExecArray | null;
  if ((m = RE_LOGIND_NEW.exec(msg))) {
    const p = base(framed, line, 'systemd-logind', 'session_open', true);
    p.user = m[2] ?? '';
    p.logon_id = m[1] ?? '';
    return p;
  }
  if ((m = RE_LOGIND_REMOVED.exec(msg))) {
    const p = base(framed, line, 'systemd-logind', 'session_close', true);
    p.logon_id = m[1] ?? '';
    return p;
  }
  return undefined;
}

/** Reads one framed auth-log line. Never throws. */
export function parseAuthLine(line: SourceLine, framed: SyslogFrame): ParseOutput {
  const out: ParseOutput = { records: [], failures: [] };
  try {
    if (!mayBeAuth(framed)) return out;
    const msg = framed.message;
    const fail = (reason: string): void => {
      const f: ParseFailure = { parser: AUTH_PARSER, reason, detail: msg.slice(0, 500), derived_from: [line.seq] };
      out.failures.push(f);
    };
    let p: AuthPayload | undefined;
    if (msg.startsWith('pam_unix(')) p = pam(framed, line, msg, fail);
    else {
      const prog = programName(framed);
      if (prog.startsWith('sshd')) p = sshd(framed, line, msg, fail);
      else if (prog === 'sudo') p = sudo(framed, line, msg, fail);
      else if (prog === 'su') p = su(framed, line, msg);
      else if (prog === 'login') p = login(framed, line, msg);
      else if (prog === 'systemd-logind') p = logind(framed, line, msg);
    }
    if (p !== undefined) out.records.push({ kind: 'auth.logon', payload: p });
  } catch (err) {
    out.failures.push({
      parser: AUTH_PARSER,
      reason: 'auth.internal',
      detail: err instanceof Error ? err.message : String(err),
      derived_from: [line.seq],
    });
  }
  return out;
}
