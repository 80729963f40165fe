/**
 * Program execution on Windows → `process.exec`: Security 4688 (process created) and 4689 (process
 * exited), Sysmon 1 (process create) and 5 (process terminated). Pure.
 *
 * Decisions worth questioning:
 * - Who ran it. 4688 names two accounts: the creator subject (who asked for the process) and, from
 *   event version 2, the target subject (the account the new process runs as). WMI and services
 *   start processes for someone else: in the WMIexec sample the creator is the machine account
 *   SRVDEFENDER01$ and the target is OFFSEC\admmig, the intruder. `user` / `sid` / `logon_id` are
 *   the target's when the event names one, else the creator's; both are kept in `extra`
 *   (`creator_*`, `target_*`) so nothing is lost and `extra.user_is` says which one `user` is.
 *   Windows writes the target's SID as the NULL SID (S-1-0-0) even when it names the account, so a
 *   target counts when its name or SID is given. `user` is `DOMAIN\name`, as Sysmon writes it, so
 *   the two sources read the same.
 * - Command lines. 4688 has one only from version 1 and only when the policy "Include command line
 *   in process creation events" is on; otherwise the field is missing or empty and `incomplete`
 *   says so (it cannot tell "policy off" from "started without one", and says both). Windows
 *   limits a command line to 32767 UTF-16 units; a longer one is not a real event, so it is cut at
 *   MAX_COMMAND_LINE and `incomplete` gives the full length: the preserved file keeps every byte.
 * - Elevation and integrity. TokenElevationType (%%1936/7/8) becomes `default` / `full` /
 *   `limited`; MandatoryLabel (S-1-16-…) and Sysmon's IntegrityLevel both become the level's name
 *   (`Medium`, `High`, `System`, …), the raw values stay in `extra`.
 * - Time. `event_time` is when the event was logged, as for every other Windows record; Sysmon's own
 *   UtcTime (the process's start or end, in milliseconds) goes to `extra.utc_time`.
 */
import type { PayloadOf } from '../../records/schema.js';
import { clean, copy, dash, hexOrDec, qualified, setIf, successOf, type EventContext } from './common.js';

type ExecPayload = PayloadOf<'process.exec'>;

/** Longer than any command line Windows can hold (32767 UTF-16 units), with room to spare. */
export const MAX_COMMAND_LINE = 65536;

const NULL_SID = 'S-1-0-0';
const SID = /^S-1-\d+(-\d+)*$/;

const TOKEN_ELEVATION: Record<string, string> = { '%%1936': 'default', '%%1937': 'full', '%%1938': 'limited' };

const INTEGRITY_LEVELS: Record<string, string> = {
  'S-1-16-0': 'Untrusted',
  'S-1-16-4096': 'Low',
  'S-1-16-8192': 'Medium',
  'S-1-16-8448': 'MediumPlus',
  'S-1-16-12288': 'High',
  'S-1-16-16384': 'System',
  'S-1-16-20480': 'ProtectedProcess',
};

/** Security 4688: a new process was created. */
export function mapProcessStart(c: EventContext): void {
  const { e, d } = c;
  const extra = c.extraBase();
  const incomplete: string[] = [];
  const p: ExecPayload = { ...c.base, action: 'start', extra };
  if (e.version !== undefined) extra['event_version'] = String(e.version);

  const exe = clean(d['NewProcessName']);
  if (exe !== undefined) p.exe = exe;
  else incomplete.push('no NewProcessName');
  setIf(p, 'pid', hexOrDec(d['NewProcessId']));
  setIf(p, 'ppid', hexOrDec(d['ProcessId']));
  setIf(p, 'parent_exe', clean(d['ParentProcessName']));
  commandLine(p, d, 'CommandLine', incomplete, e.version);

  // Creator subject, target subject: see the header.
  const creator = account(d, 'Subject', incomplete);
  const target = account(d, 'Target', incomplete);
  for (const [prefix, a] of [['creator', creator], ['target', target]] as const) {
    if (a.user !== undefined) extra[`${prefix}_user`] = a.user;
    if (a.sid !== undefined) extra[`${prefix}_sid`] = a.sid;
    if (a.logonId !== undefined) extra[`${prefix}_logon_id`] = a.logonId;
  }
  const runAs = target.user !== undefined || target.sid !== undefined ? target : creator;
  extra['user_is'] = runAs === target ? 'target subject (the account the process runs as)' : 'creator subject';
  setIf(p, 'user', runAs.user);
  setIf(p, 'sid', runAs.sid);
  setIf(p, 'logon_id', runAs.logonId);

  const elevation = clean(d['TokenElevationType']);
  if (elevation !== undefined) {
    extra['token_elevation_type'] = elevation;
    p.elevation = TOKEN_ELEVATION[elevation] ?? elevation;
  }
  const label = clean(d['MandatoryLabel']);
  if (label !== undefined) {
    extra['mandatory_label'] = label;
    p.integrity_level = INTEGRITY_LEVELS[label] ?? label;
  }
  setIf(p, 'success', successOf(e.keywords));
  finish(c, p, incomplete);
}

/** Security 4689: a process has exited. */
export function mapProcessEnd(c: EventContext): void {
  const { e, d } = c;
  const extra = c.extraBase();
  const incomplete: string[] = [];
  const p: ExecPayload = { ...c.base, action: 'end', extra };
  const exe = clean(d['ProcessName']);
  if (exe !== undefined) p.exe = exe;
  else incomplete.push('no ProcessName');
  setIf(p, 'pid', hexOrDec(d['ProcessId']));
  setIf(p, 'exit_code', clean(d['Status']));
  const subject = account(d, 'Subject', incomplete);
  setIf(p, 'user', subject.user);
  setIf(p, 'sid', subject.sid);
  setIf(p, 'logon_id', subject.logonId);
  setIf(p, 'success', successOf(e.keywords));
  finish(c, p, incomplete);
}

/** Sysmon 1: process create. */
export function mapSysmonProcessStart(c: EventContext): void {
  const { d } = c;
  const extra = c.extraBase();
  const incomplete: string[] = [];
  const p: ExecPayload = { ...c.base, action: 'start', extra };
  sysmonIdentity(p, d, incomplete);
  commandLine(p, d, 'CommandLine', incomplete);
  const parentCommandLine = d['ParentCommandLine'];
  if (parentCommandLine !== undefined && parentCommandLine !== '') {
    p.parent_command_line = capped(parentCommandLine, 'ParentCommandLine', incomplete);
  }
  setIf(p, 'ppid', hexOrDec(d['ParentProcessId']));
  setIf(p, 'parent_exe', dash(d['ParentImage']));
  setIf(p, 'parent_process_guid', dash(d['ParentProcessGuid']));
  setIf(p, 'cwd', dash(d['CurrentDirectory']));
  setIf(p, 'logon_id', dash(d['LogonId']));
  setIf(p, 'integrity_level', dash(d['IntegrityLevel']));
  const hashes = parseHashes(d['Hashes']);
  if (hashes.hashes !== undefined) p.hashes = hashes.hashes;
  if (hashes.bad !== undefined) {
    extra['hashes'] = hashes.bad;
    incomplete.push('Hashes not in ALGORITHM=hex form');
  }
  copy(d, extra, {
    FileVersion: 'file_version',
    Description: 'description',
    Product: 'product',
    Company: 'company',
    OriginalFileName: 'original_file_name',
    LogonGuid: 'logon_guid',
    TerminalSessionId: 'terminal_session_id',
    ParentUser: 'parent_user',
  });
  for (const k of ['original_file_name', 'file_version', 'description', 'product', 'company', 'parent_user']) if (extra[k] === '-') delete extra[k];
  finish(c, p, incomplete);
}

/** Sysmon 5: process terminated. */
export function mapSysmonProcessEnd(c: EventContext): void {
  const extra = c.extraBase();
  const incomplete: string[] = [];
  const p: ExecPayload = { ...c.base, action: 'end', extra };
  sysmonIdentity(p, c.d, incomplete);
  finish(c, p, incomplete);
}

// --- helpers ---------------------------------------------------------------------------------------

function finish(c: EventContext, p: ExecPayload, incomplete: string[]): void {
  if (incomplete.length > 0) p.incomplete = incomplete.join('; ');
  c.push('process.exec', p);
}

/** Image, pid, GUID, user and rule: what Sysmon 1 and 5 share. */
function sysmonIdentity(p: ExecPayload, d: Record<string, string>, incomplete: string[]): void {
  const extra = p.extra!;
  const image = dash(d['Image']);
  if (image !== undefined) p.exe = image;
  else incomplete.push('no Image');
  setIf(p, 'pid', hexOrDec(d['ProcessId']));
  setIf(p, 'process_guid', dash(d['ProcessGuid']));
  setIf(p, 'user', dash(d['User']));
  copy(d, extra, { UtcTime: 'utc_time', RuleName: 'rule_name' });
  if (extra['rule_name'] === '-') delete extra['rule_name'];
}

function commandLine(p: ExecPayload, d: Record<string, string>, field: string, incomplete: string[], version?: number): void {
  const value = d[field];
  if (value === undefined) {
    incomplete.push(
      version !== undefined && version < 1
        ? `no command line: event version ${version} has no ${field} field`
        : `no command line: the event has no ${field} field`,
    );
    return;
  }
  if (value.trim() === '') {
    incomplete.push(`no command line: ${field} is empty (the audit policy did not record command lines, or the process was started without one)`);
    return;
  }
  p.command_line = capped(value, field, incomplete);
}

function capped(value: string, field: string, incomplete: string[]): string {
  if (value.length <= MAX_COMMAND_LINE) return value;
  incomplete.push(`${field} cut to ${MAX_COMMAND_LINE} of its ${value.length} characters (longer than Windows allows; the preserved file holds all of it)`);
  return value.slice(0, MAX_COMMAND_LINE);
}

interface Account {
  user?: string;
  sid?: string;
  logonId?: string;
}

/** `<prefix>UserName`, `<prefix>DomainName`, `<prefix>UserSid`, `<prefix>LogonId`: "-", the NULL SID and logon id 0 are none. */
function account(d: Record<string, string>, prefix: 'Subject' | 'Target', incomplete: string[]): Account {
  const a: Account = {};
  const user = qualified(d[`${prefix}DomainName`], d[`${prefix}UserName`]);
  if (user !== undefined) a.user = user;
  const sid = dash(d[`${prefix}UserSid`]);
  if (sid !== undefined && sid !== NULL_SID) {
    if (SID.test(sid)) a.sid = sid;
    else incomplete.push(`${prefix}UserSid is not a SID: ${JSON.stringify(sid.slice(0, 100))}`);
  }
  const logonId = dash(d[`${prefix}LogonId`]);
  if (logonId !== undefined && !/^0x0+$/i.test(logonId)) a.logonId = logonId;
  return a;
}

/** Sysmon's `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` → { SHA1: hex, … } (hex lowercased, as sha256sum prints it). */
export function parseHashes(text: string | undefined): { hashes?: Record<string, string>; bad?: string } {
  const t = dash(text);
  if (t === undefined) return {};
  const hashes: Record<string, string> = {};
  for (const part of t.split(',')) {
    const m = /^\s*([A-Za-z0-9]+)=([0-9A-Fa-f]+)\s*$/.exec(part);
    if (m === null) return { bad: t.slice(0, 1000) };
    hashes[m[1]!.toUpperCase()] = m[2]!.toLowerCase();
  }
  return { hashes };
}
