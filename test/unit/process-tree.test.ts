/**
 * linkProcesses on the real samples (4688 pid/ppid, Sysmon GUIDs) and on the cases that must not
 * link: a pid freed by an end and reused, a different image behind the same pid, a parent older
 * than the window, another host, another boot, a Sysmon parent GUID that is not in the evidence.
 */
import { describe, expect, it } from 'vitest';
import { readEvtx } from '../../src/parsers/evtx/index.js';
import { createWindowsEventMapper } from '../../src/parsers/windows-events.js';
import type { PayloadOf } from '../../src/records/schema.js';
import { linkProcesses, sameImage, type ProcessEvent } from '../../src/report/process-tree.js';
import { EVTX_SAMPLES, loadFixture } from '../helpers/evtx-samples.js';

type Exec = PayloadOf<'process.exec'>;

/** The process.exec records of a sample, with the event's record id as seq. */
function sample(file: string): ProcessEvent[] {
  const mapper = createWindowsEventMapper();
  const out: ProcessEvent[] = [];
  for (const e of readEvtx(loadFixture(file)).records) {
    for (const r of mapper.map(e, [1]).records) {
      if (r.kind === 'process.exec') out.push({ seq: Number(e.recordId), host: e.computer, payload: r.payload as Exec });
    }
  }
  return out;
}

function chain(tree: ReturnType<typeof linkProcesses>, seq: number): number[] {
  const out = [seq];
  for (let s = tree.parents.get(seq)?.seq; s !== undefined; s = tree.parents.get(s)?.seq) out.push(s);
  return out;
}

describe('on the real samples', () => {
  it('WMIexec (4688): each conhost.exe under the cmd.exe that started it, checked by image', () => {
    const tree = linkProcesses(sample(EVTX_SAMPLES.wmiexec));
    expect([...tree.parents.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [463011, { seq: 463010, by: 'pid+exe' }],
      [463049, { seq: 463048, by: 'pid+exe' }],
      [463065, { seq: 463064, by: 'pid+exe' }],
    ]);
    // cmd.exe's parent WmiPrvSE.exe started before the log begins: no link is made up.
    expect(tree.parents.has(463010)).toBe(false);
  });

  it('SMB payload (4688): the 32-bit powershell under the 64-bit one under the cmd.exe services.exe started', () => {
    const events = sample(EVTX_SAMPLES.smbPayload);
    const tree = linkProcesses(events);
    const exe = (seq: number): string | undefined => events.find((e) => e.seq === seq)?.payload.exe;
    expect(chain(tree, 354598).map(exe)).toEqual([
      'C:\\Windows\\SysWOW64\\WindowsPowerShell\\v1.0\\powershell.exe',
      'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      'C:\\Windows\\System32\\cmd.exe',
    ]);
    expect(events.find((e) => e.seq === 354578)!.payload.parent_exe).toBe('C:\\Windows\\System32\\services.exe');
    expect(tree.parents.size).toBe(31);
  });

  it('Sysmon: 24 runs of 7z.exe, all children of one cmd.exe; ends found by GUID', () => {
    const events = sample(EVTX_SAMPLES.server2022Sysmon);
    const tree = linkProcesses(events);
    const sevenZip = events.filter((e) => e.payload.action === 'start' && e.payload.exe?.endsWith('\\helpers\\7z.exe') === true);
    expect(sevenZip).toHaveLength(24);
    const parents = new Set(sevenZip.map((e) => tree.parents.get(e.seq)?.seq));
    expect(parents).toEqual(new Set([25]));
    expect(events.find((e) => e.seq === 25)!.payload.exe).toBe('C:\\Windows\\System32\\cmd.exe');
    expect(tree.children.get(25)!.length).toBeGreaterThanOrEqual(24);
    // Record 5 ends the Sysmon installer (GUID …8C00…), which started before Sysmon logged anything: no start to link.
    expect(tree.ends.has(5)).toBe(false);
  });
});

describe('links that must not be made', () => {
  const t = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString().replace('Z', '000Z');
  const start = (seq: number, at: number, pid: number, exe: string, extra: Partial<Exec> = {}, host = 'pc1', boot?: string): ProcessEvent => ({
    seq,
    host,
    ...(boot !== undefined ? { boot } : {}),
    payload: { derived_from: [seq], parser: 'test', event_time: t(at), action: 'start', pid, exe, ...extra },
  });
  const end = (seq: number, at: number, pid: number, exe: string): ProcessEvent => ({ seq, host: 'pc1', payload: { derived_from: [seq], parser: 'test', event_time: t(at), action: 'end', pid, exe } });

  it('a pid freed by an end and taken by another process: the child links to the second, the end to the first', () => {
    const tree = linkProcesses([
      start(1, 0, 100, 'C:\\Windows\\explorer.exe'),
      end(2, 5, 100, 'C:\\Windows\\explorer.exe'),
      start(3, 6, 100, 'C:\\Tools\\rclone.exe'),
      start(4, 7, 200, 'C:\\Windows\\System32\\cmd.exe', { ppid: 100 }),
    ]);
    expect(tree.parents.get(4)).toEqual({ seq: 3, by: 'pid' });
    expect(tree.ends.get(2)).toEqual({ seq: 1, by: 'pid+exe' });
  });

  it('a pid reused without an end logged: the image named by the child decides', () => {
    const events = [start(1, 0, 100, 'C:\\Windows\\explorer.exe'), start(2, 1, 100, 'C:\\Tools\\rclone.exe'), start(3, 2, 300, 'C:\\Windows\\System32\\cmd.exe', { ppid: 100, parent_exe: 'C:\\Windows\\Explorer.EXE' })];
    expect(linkProcesses(events).parents.has(3)).toBe(false);
    // The same child naming the latest image of that pid links to it.
    expect(linkProcesses([...events.slice(0, 2), start(3, 2, 300, 'C:\\Windows\\System32\\cmd.exe', { ppid: 100, parent_exe: '\\??\\c:\\tools\\RCLONE.exe' })]).parents.get(3)).toEqual({ seq: 2, by: 'pid+exe' });
  });

  it('a parent older than the window, on another host, or in another boot', () => {
    const hour = 3600;
    expect(linkProcesses([start(1, 0, 100, 'a.exe'), start(2, 2 * hour, 200, 'b.exe', { ppid: 100 })], { pidWindowMs: hour * 1000 }).parents.size).toBe(0);
    expect(linkProcesses([start(1, 0, 100, 'a.exe'), start(2, 1, 200, 'b.exe', { ppid: 100 }, 'pc2')]).parents.size).toBe(0);
    expect(linkProcesses([start(1, 0, 100, '/bin/bash', {}, 'srv', 'boot-a'), start(2, 1, 200, '/usr/bin/tar', { ppid: 100 }, 'srv', 'boot-b')]).parents.size).toBe(0);
    expect(linkProcesses([start(1, 0, 100, '/bin/bash', {}, 'srv', 'boot-a'), start(2, 1, 200, '/usr/bin/tar', { ppid: 100, parent_exe: '/bin/bash' }, 'srv', 'boot-a')]).parents.get(2)).toEqual({ seq: 1, by: 'pid+exe' });
  });

  it('a child that started before its candidate parent is not its child, whatever the seq order', () => {
    expect(linkProcesses([start(2, 5, 100, 'a.exe'), start(1, 1, 200, 'b.exe', { ppid: 100 })]).parents.size).toBe(0);
  });

  it('a Sysmon parent GUID that is not in the evidence: no fallback to the pid', () => {
    const tree = linkProcesses([start(1, 0, 100, 'a.exe', { process_guid: '{A}' }), start(2, 1, 200, 'b.exe', { ppid: 100, process_guid: '{B}', parent_process_guid: '{GONE}' })]);
    expect(tree.parents.size).toBe(0);
    const linked = linkProcesses([start(1, 0, 100, 'a.exe', { process_guid: '{A}' }), start(2, 1, 200, 'b.exe', { ppid: 100, process_guid: '{B}', parent_process_guid: '{a}' })]);
    expect(linked.parents.get(2)).toEqual({ seq: 1, by: 'process_guid' });
  });

  it('sameImage: Windows paths without case and \\??\\, Linux paths exactly, bare names by last part', () => {
    expect(sameImage('\\??\\C:\\Windows\\system32\\conhost.exe', 'C:\\Windows\\System32\\conhost.exe')).toBe(true);
    expect(sameImage('/usr/bin/Tar', '/usr/bin/tar')).toBe(false);
    expect(sameImage('cmd.exe', 'C:\\Windows\\System32\\cmd.exe')).toBe(true);
    expect(sameImage('C:\\a\\cmd.exe', 'C:\\b\\cmd.exe')).toBe(false);
  });
});
