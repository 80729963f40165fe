/**
 * Windows program execution, file-share access and RDP authentication (issue 13) on the real
 * samples (test/fixtures/SOURCES.md): Security 4688 → process.exec, Sysmon 1/5 → process.exec,
 * Security 5140/5145 → net.access (smb), TerminalServices 1149 → auth.logon (rdp). Every payload is
 * validated as part of a full record. Bad input is a real event with its fields changed.
 */
import { describe, expect, it } from 'vitest';
import { readEvtx, type EvtxEvent } from '../../src/parsers/evtx/index.js';
import { MAX_COMMAND_LINE, parseHashes } from '../../src/parsers/windows/process.js';
import { createWindowsEventMapper, mapWindowsEvent } from '../../src/parsers/windows-events.js';
import type { DerivedRecord } from '../../src/parsers/types.js';
import { validateRecord, type PayloadOf } from '../../src/records/schema.js';
import { linkProcesses } from '../../src/report/process-tree.js';
import { EVTX_SAMPLES, loadFixture } from '../helpers/evtx-samples.js';

const S = EVTX_SAMPLES;

interface Mapped {
  e: EvtxEvent;
  rec: DerivedRecord;
  p: Record<string, unknown> & { extra: Record<string, string> };
}

function mapFile(file: string): Mapped[] {
  const mapper = createWindowsEventMapper();
  const out: Mapped[] = [];
  readEvtx(loadFixture(file)).records.forEach((e, i) => {
    const o = mapper.map(e, [i + 1]);
    expect(o.failures).toEqual([]);
    for (const rec of o.records) {
      validateRecord({ v: 1, seq: i, kind: rec.kind, observed_at: '2026-01-01T00:00:00.000000Z', mono_ns: '1', boot_id: 't', host: 'responder', source: 'import', payload: rec.payload });
      out.push({ e, rec, p: rec.payload as Mapped['p'] });
    }
  });
  return out;
}

const count = (m: Mapped[]): Record<string, number> => {
  const c: Record<string, number> = {};
  for (const x of m) c[`${x.rec.kind}/${x.e.eventId}`] = (c[`${x.rec.kind}/${x.e.eventId}`] ?? 0) + 1;
  return c;
};
const byRecord = (m: Mapped[], recordId: string): Mapped => m.find((x) => x.e.recordId === recordId)!;

describe('Security 4688 → process.exec', () => {
  it('WMIexec: cmd.exe started by WmiPrvSE runs as the intruder (target subject admmig), not the machine account', () => {
    const m = mapFile(S.wmiexec);
    expect(count(m)).toEqual({ 'auth.logon/4624': 5, 'process.exec/4688': 6, 'net.access/5140': 19, 'net.access/5145': 29 });
    const cmd = byRecord(m, '463010');
    expect(cmd.rec.kind).toBe('process.exec');
    expect(cmd.p).toMatchObject({
      action: 'start',
      exe: 'C:\\Windows\\System32\\cmd.exe',
      command_line: 'cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1619425227.894209 2>&1',
      pid: 0xd44,
      ppid: 0xac8,
      parent_exe: 'C:\\Windows\\System32\\wbem\\WmiPrvSE.exe',
      user: 'OFFSEC\\admmig',
      logon_id: '0x0000000004da32af',
      elevation: 'default',
      integrity_level: 'High',
      success: true,
      event_host: 'srvdefender01.offsec.lan',
      event_time: '2021-04-26T08:25:37.258117Z',
      extra: { creator_user: 'OFFSEC\\SRVDEFENDER01$', creator_sid: 'S-1-5-20', target_user: 'OFFSEC\\admmig', token_elevation_type: '%%1936', mandatory_label: 'S-1-16-12288', event_version: '2' },
    });
    // Windows wrote the target SID as the NULL SID: no sid is claimed for admmig.
    expect(cmd.p['sid']).toBeUndefined();
    expect(cmd.p['incomplete']).toBeUndefined();
    // The conhost it spawned: creator and run-as are the same account, so user is the creator's.
    expect(byRecord(m, '463011').p).toMatchObject({ exe: 'C:\\Windows\\System32\\conhost.exe', ppid: 0xd44, user: 'OFFSEC\\admmig', sid: 'S-1-5-21-4230534742-2542757381-3142984815-1111', extra: { user_is: 'creator subject' } });
  });

  it('encrypted payload over SMB: all 58 starts carry their command line; services.exe starts the multi-KB powershell dropper', () => {
    const m = mapFile(S.smbPayload);
    expect(count(m)).toEqual({ 'process.exec/4688': 58, 'net.access/5140': 3, 'net.access/5145': 2 });
    const starts = m.filter((x) => x.rec.kind === 'process.exec');
    for (const x of starts) {
      expect(x.p['command_line']).toEqual(expect.any(String));
      expect(x.p['incomplete']).toBeUndefined();
    }
    const dropper = starts.find((x) => x.p['parent_exe'] === 'C:\\Windows\\System32\\services.exe' && String(x.p['command_line']).includes('powershell.exe -nop -w hidden'))!;
    expect(dropper.p).toMatchObject({ exe: 'C:\\Windows\\System32\\cmd.exe', event_time: '2021-04-21T14:56:43.246337Z' });
    expect(String(dropper.p['command_line']).length).toBeGreaterThan(2000);
    expect(starts.filter((x) => String(x.p['command_line']).includes('MonitorKnowledgeDiscovery.vbs'))).toHaveLength(23);
  });

  it('Server 2022: 34 starts without command-line auditing say what is missing', () => {
    const m = mapFile(S.server2022Security).filter((x) => x.rec.kind === 'process.exec');
    expect(m).toHaveLength(34);
    for (const x of m) {
      expect(x.p['command_line']).toBeUndefined();
      expect(x.p['incomplete']).toContain('no command line: CommandLine is empty');
    }
    // The kernel's own first processes: no creator name, SYSTEM's SID, System integrity.
    expect(byRecord(m, '4').p).toMatchObject({ exe: 'C:\\Windows\\System32\\smss.exe', pid: 0x154, ppid: 4, sid: 'S-1-5-18', integrity_level: 'System' });
    expect(byRecord(m, '4').p['user']).toBeUndefined();
  });
});

describe('Security 4689 → process.exec (end)', () => {
  // No public sample with 4689 was found (SOURCES.md); this one is the WMIexec cmd.exe's 4688 with
  // its EventData replaced by 4689's fields, as Windows documents them.
  it('exe, pid, exit status and subject; the tree closes the start it ends', () => {
    const start = readEvtx(loadFixture(S.wmiexec)).records.find((e) => e.recordId === '463010')!;
    const exit: EvtxEvent = {
      ...start,
      eventId: 4689,
      recordId: '463012',
      version: 0,
      data: { SubjectUserSid: 'S-1-5-21-4230534742-2542757381-3142984815-1111', SubjectUserName: 'admmig', SubjectDomainName: 'OFFSEC', SubjectLogonId: '0x4da32af', Status: '0x0', ProcessId: '0xd44', ProcessName: 'C:\\Windows\\System32\\cmd.exe' },
    };
    const o = mapWindowsEvent(exit, [9]);
    expect(o.failures).toEqual([]);
    expect(o.records[0]).toMatchObject({ kind: 'process.exec', payload: { action: 'end', exe: 'C:\\Windows\\System32\\cmd.exe', pid: 0xd44, exit_code: '0x0', user: 'OFFSEC\\admmig', logon_id: '0x4da32af', success: true } });
    expect(mapWindowsEvent({ ...exit, data: {} }, [9]).records[0]!.payload).toMatchObject({ action: 'end', incomplete: 'no ProcessName' });
    const started = mapWindowsEvent(start, [8]).records[0]!.payload as PayloadOf<'process.exec'>;
    const ended = { ...(o.records[0]!.payload as PayloadOf<'process.exec'>), event_time: '2021-04-26T08:25:38.000000Z' };
    const tree = linkProcesses([
      { seq: 8, host: 'srvdefender01.offsec.lan', payload: started },
      { seq: 9, host: 'srvdefender01.offsec.lan', payload: ended },
    ]);
    expect(tree.ends.get(9)).toEqual({ seq: 8, by: 'pid+exe' });

  });
});

describe('Sysmon 1 and 5 → process.exec', () => {
  const m = mapFile(S.server2022Sysmon);

  it('421 starts and 427 ends; event 4 (service state) and 16 (config change) yield nothing', () => {
    expect(count(m)).toEqual({ 'process.exec/1': 421, 'process.exec/5': 427 });
    expect(m.filter((x) => x.p['action'] === 'end').every((x) => x.e.eventId === 5)).toBe(true);
  });

  it('a start has image, command line, user, parent, GUIDs, integrity, cwd, logon id and hashes', () => {
    expect(byRecord(m, '3').p).toMatchObject({
      action: 'start',
      exe: 'C:\\Windows\\Sysmon64.exe',
      command_line: 'C:\\Windows\\Sysmon64.exe',
      user: 'NT AUTHORITY\\SYSTEM',
      pid: 1784,
      ppid: 676,
      parent_exe: 'C:\\Windows\\System32\\services.exe',
      parent_command_line: 'C:\\Windows\\system32\\services.exe',
      process_guid: '{AC061C88-4864-652F-9200-000000000200}',
      parent_process_guid: '{AC061C88-4701-652F-0B00-000000000200}',
      integrity_level: 'System',
      cwd: 'C:\\Windows\\system32\\',
      logon_id: '0x00000000000003e7',
      hashes: { SHA256: '5485ca7e2be4afc76aadd97536192cf2850228fe338083d6bab4c981bd6ddf92' },
      extra: { utc_time: '2023-10-18 02:52:20.293', company: 'Sysinternals - www.sysinternals.com', terminal_session_id: '0' },
    });
    // OriginalFileName "-" means none: not kept as a value.
    expect(byRecord(m, '3').p.extra['original_file_name']).toBeUndefined();
  });

  it('APTSimulator: 24 runs of 7z.exe by the Test user, with the archive password on the command line', () => {
    const sevenZip = m.filter((x) => x.p['action'] === 'start' && String(x.p['exe']).endsWith('\\helpers\\7z.exe'));
    expect(sevenZip).toHaveLength(24);
    for (const x of sevenZip) expect(x.p['user']).toBe('WIN-FUDU2CKJOE8\\Test');
    expect(sevenZip.some((x) => String(x.p['command_line']).includes('-paptsimulator'))).toBe(true);
  });

  it('an end has image, pid, GUID and user', () => {
    expect(byRecord(m, '5').p).toMatchObject({ action: 'end', exe: 'C:\\Temp\\Sysmon (1)\\Sysmon64.exe', pid: 3776, process_guid: '{AC061C88-4862-652F-8C00-000000000200}', user: 'WIN-FUDU2CKJOE8\\Test' });
  });

  it('event id 1 of other providers (system.evtx, Application) is not Sysmon: nothing', () => {
    expect(mapFile(S.system).filter((x) => x.rec.kind === 'process.exec')).toEqual([]);
    expect(mapFile(S.noCrc).filter((x) => x.rec.kind === 'process.exec')).toEqual([]);
  });

  it('hashes: every algorithm, hex lowercased; anything else is kept raw and named', () => {
    expect(parseHashes('SHA1=AB,MD5=cd,SHA256=EF01,IMPHASH=99')).toEqual({ hashes: { SHA1: 'ab', MD5: 'cd', SHA256: 'ef01', IMPHASH: '99' } });
    expect(parseHashes('SHA256=not hex')).toEqual({ bad: 'SHA256=not hex' });
    expect(parseHashes('-')).toEqual({});
  });
});

describe('Security 5140/5145 → net.access (smb)', () => {
  it('WMIexec: the intruder opens ADMIN$ from 10.23.123.11 and reads back the output file', () => {
    const m = mapFile(S.wmiexec).filter((x) => x.rec.kind === 'net.access');
    expect(m).toHaveLength(48);
    for (const x of m) expect(x.p).toMatchObject({ service: 'smb', user: 'admmig', status: 'granted', extra: { domain: 'OFFSEC' } });
    expect(new Set(m.map((x) => x.p['client_ip']))).toEqual(new Set(['10.23.123.11', '127.0.0.1']));
    expect(byRecord(m, '463013').p).toMatchObject({ client_ip: '10.23.123.11', client_port: 47020, sid: 'S-1-5-21-4230534742-2542757381-3142984815-1111', logon_id: '0x0000000004da321f', share: '\\\\*\\ADMIN$', share_path: '\\??\\C:\\Windows', result: 'ReadData', extra: { event_id: '5140', access_mask: '0x00000001' } });
    expect(byRecord(m, '463013').p['target']).toBeUndefined();
    expect(byRecord(m, '463014').p).toMatchObject({ share: '\\\\*\\ADMIN$', target: '__1619425227.894209', extra: { event_id: '5145' } });
    for (const x of m) expect(x.p['incomplete']).toBeUndefined();
  });

  it('encrypted payload: powershell.exe read through ADMIN$, the service control pipe opened through IPC$', () => {
    const m = mapFile(S.smbPayload).filter((x) => x.rec.kind === 'net.access' && x.e.eventId === 5145);
    expect(m.map((x) => [x.p['share'], x.p['target'], x.p['result']])).toEqual([
      ['\\\\*\\ADMIN$', 'System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'ReadData'],
      ['\\\\*\\IPC$', 'svcctl', 'ReadData WriteData AppendData'],
    ]);
  });
});

describe('4624 types 3 and 10 stay auth.logon', () => {
  it('WMIexec: five network logons of admmig from 10.23.123.11 carry address, port, account and logon id', () => {
    const m = mapFile(S.wmiexec).filter((x) => x.rec.kind === 'auth.logon');
    expect(m).toHaveLength(5);
    for (const x of m) expect(x.p).toMatchObject({ action: 'logon', logon_type: '3', user: 'admmig', from_ip: '10.23.123.11', method: 'NTLM', extra: { domain: 'OFFSEC', impersonation_level: '%%1833' } });
    // The logon id that 5140/5145 name: a share access can be tied to its logon.
    expect(m.map((x) => x.p['logon_id'])).toContain('0x0000000004da321f');
  });
});

describe('TerminalServices-RemoteConnectionManager 1149 → auth.logon (rdp)', () => {
  it('VSS copy: 5 RDP authentications with user, domain and source address; the 1790 listener events (261) yield nothing', () => {
    const m = mapFile(S.rdpVss);
    expect(count(m)).toEqual({ 'auth.logon/1149': 5 });
    const seen = m.map((x) => `${String(x.p['user'])}|${x.p.extra['domain'] ?? ''}|${String(x.p['from_ip'])}`).sort();
    expect(seen).toEqual(['A||103.11.244.223', 'Administrator|DESKTOP-1N4R894|31.14.75.59', 'administrator||31.14.75.59', 'mpowers|MAGNETIC-DESKTO|174.127.93.2', 'mpowers|MAGNETIC-DESKTO|174.127.93.2'].sort());
    for (const x of m) expect(x.p).toMatchObject({ service: 'rdp', action: 'logon', success: true, event_host: 'DESKTOP-1N4R894', extra: { semantics: expect.stringContaining('1149') as unknown } });
  });

  it('dirty-header sample: 11 authentications of admmig from 10.23.123.11 on several hosts, no domain', () => {
    const m = mapFile(S.rdp);
    expect(m).toHaveLength(11);
    for (const x of m) {
      expect(x.p).toMatchObject({ service: 'rdp', user: 'admmig', from_ip: '10.23.123.11' });
      expect(x.p.extra['domain']).toBeUndefined();
    }
    expect(new Set(m.map((x) => x.p['event_host'])).size).toBeGreaterThan(1);
  });
});

describe('bad input: the record says what is incomplete, nothing throws', () => {
  const real = readEvtx(loadFixture(S.wmiexec)).records.find((e) => e.recordId === '463010')!;
  const variant = (data: Record<string, string | undefined>, version = real.version): Record<string, unknown> => {
    const d: Record<string, string> = { ...real.data };
    for (const [k, v] of Object.entries(data)) if (v === undefined) delete d[k];
    else d[k] = v;
    const o = mapWindowsEvent({ ...real, data: d, version }, [7]);
    expect(o.failures).toEqual([]);
    expect(o.records).toHaveLength(1);
    return o.records[0]!.payload as Record<string, unknown>;
  };

  it('a 4688 without a CommandLine field (version 0, or a field removed)', () => {
    expect(variant({ CommandLine: undefined }, 0)['incomplete']).toBe('no command line: event version 0 has no CommandLine field');
    expect(variant({ CommandLine: undefined })['incomplete']).toBe('no command line: the event has no CommandLine field');
  });

  it('a 10 MB command line is cut to MAX_COMMAND_LINE and the full length is named', () => {
    const p = variant({ CommandLine: 'A'.repeat(10 * 1024 * 1024) });
    expect(String(p['command_line']).length).toBe(MAX_COMMAND_LINE);
    expect(p['incomplete']).toBe(`CommandLine cut to ${MAX_COMMAND_LINE} of its 10485760 characters (longer than Windows allows; the preserved file holds all of it)`);
  });

  it('odd SIDs: not claimed as a SID, named in incomplete; the NULL SID is none', () => {
    const p = variant({ TargetUserName: '-', TargetDomainName: '-', SubjectUserSid: 'S-1-5-<script>' });
    expect(p['sid']).toBeUndefined();
    expect(p['incomplete']).toBe('SubjectUserSid is not a SID: "S-1-5-<script>"');
    expect(p['user']).toBe('OFFSEC\\SRVDEFENDER01$');
  });

  it('no NewProcessName, no ids, nonsense numbers: a record that says so', () => {
    const p = variant({ NewProcessName: undefined, NewProcessId: 'zz', ProcessId: '0x' + 'f'.repeat(40), ParentProcessName: '', MandatoryLabel: 'S-1-16-99', TokenElevationType: '%%9999' });
    expect(p['incomplete']).toBe('no NewProcessName');
    expect(p['exe']).toBeUndefined();
    expect(p['pid']).toBeUndefined();
    expect(p['ppid']).toBeUndefined();
    expect(p['parent_exe']).toBeUndefined();
    expect(p).toMatchObject({ integrity_level: 'S-1-16-99', elevation: '%%9999' });
  });

  it('an event with no data at all: 4688, Sysmon 1, 5140 and 1149 each yield a record marked incomplete or a bare one', () => {
    const empty = { ...real, data: {} };
    expect(mapWindowsEvent(empty, [1]).records[0]!.payload).toMatchObject({ action: 'start', incomplete: 'no NewProcessName; no command line: the event has no CommandLine field' });
    const sysmon = mapWindowsEvent({ ...empty, provider: 'Microsoft-Windows-Sysmon', eventId: 1 }, [1]);
    expect(sysmon.records[0]!.payload).toMatchObject({ incomplete: 'no Image; no command line: the event has no CommandLine field' });
    const share = mapWindowsEvent({ ...empty, eventId: 5145 }, [1]);
    expect(share.records[0]!.payload).toMatchObject({ service: 'smb', incomplete: 'no client address (IpAddress); no ShareName; no RelativeTargetName' });
    const rdp = mapWindowsEvent({ ...empty, provider: 'Microsoft-Windows-TerminalServices-RemoteConnectionManager', eventId: 1149 }, [1]);
    expect(rdp.records[0]!.payload).toMatchObject({ service: 'rdp', action: 'logon' });
    for (const o of [sysmon, share, rdp]) expect(o.failures).toEqual([]);
  });
});
