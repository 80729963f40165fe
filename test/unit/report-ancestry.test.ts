/**
 * What ran's process ancestry and its users and hosts of interest, through the model and both
 * renderers, on real samples:
 * - Sysmon event 1 (APTSimulator on Server 2022): 7z.exe from C:\Temp under the cmd.exe running
 *   APTSimulator.bat (linked by process GUID), PSEXESVC.EXE whose parent services.exe started
 *   before the log;
 * - Security 4688 (encrypted payload over SMB): the 32-bit powershell under the 64-bit one under
 *   cmd.exe (linked by pid and image), services.exe named but not in the evidence; no boot marker
 *   for the host, and the report says so;
 * - auditd (crowdsec hub's suid-crash log, through the real parser): `su --help` under `-bash` by
 *   ppid; then the same log after a reboot the audit serial shows, where a child naming the old
 *   shell's pid is not linked across it;
 * and hostile values (markup, terminal escapes, bidi overrides, backticks) in every field an
 * ancestry row shows.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TimelineEntry } from '../../src/bundle/timeline.js';
import { createAuditdParser } from '../../src/parsers/auditd.js';
import { readEvtx } from '../../src/parsers/evtx/index.js';
import { createWindowsEventMapper } from '../../src/parsers/windows-events.js';
import type { SourceLine } from '../../src/parsers/types.js';
import { buildReportModel, type ReportInput, type ReportModel, type ReportOptions } from '../../src/report/model.js';
import { reportNetFromFlags } from '../../src/report/net-options.js';
import { renderHtml } from '../../src/report/render-html.js';
import { renderMarkdown } from '../../src/report/render-md.js';
import { EVTX_SAMPLES, FIXTURES, loadFixture } from '../helpers/evtx-samples.js';

const manifest: ReportInput['manifest'] = {
  case: { id: 'IR-TREE' },
  collector: { host: 'lab', version: 'test', started_at: '2026-11-21T00:00:00.000000Z', key: { fingerprint: 'SHA256:test', public_key: 'AAAA' } },
  hosts: [],
};

function entry(host: string, seq: number, kind: string, payload: Record<string, unknown>, time: string): TimelineEntry {
  return { datetime: time, timestamp_desc: 'Event Time', host, store_id: `store-${host}`, seq, record_sha256: createHash('sha256').update(`${host}/${seq}`).digest('hex'), kind, source: 'derive:test', observed_at: time, message: `${kind} #${seq}`, payload };
}

/** An EVTX sample's derived records as timeline entries: host = the event's computer, seq = its record id. */
function evtxTimeline(file: string): TimelineEntry[] {
  const mapper = createWindowsEventMapper();
  const out: TimelineEntry[] = [];
  for (const e of readEvtx(loadFixture(file)).records) {
    for (const r of mapper.map(e, [1]).records) {
      const p = r.payload as Record<string, unknown>;
      out.push(entry(e.computer, Number(e.recordId), r.kind, p, String(p['event_time'])));
    }
  }
  return out.sort((a, b) => (a.datetime < b.datetime ? -1 : a.datetime > b.datetime ? 1 : a.seq - b.seq));
}

/** An audit log through the real auditd parser, as timeline entries of one host (seq = the order derived). */
function auditTimeline(text: string, host = 'srv-01'): TimelineEntry[] {
  const parser = createAuditdParser();
  const out: TimelineEntry[] = [];
  const take = (o: ReturnType<typeof parser.push>): void => {
    for (const r of o.records) {
      const p = r.payload as Record<string, unknown>;
      out.push(entry(host, 1000 + out.length, r.kind, p, String(p['event_time'])));
    }
  };
  text.split('\n').filter((t) => t !== '').forEach((t, i) => take(parser.push({ seq: i, path: '/var/log/audit/audit.log', text: t, observedAt: '2026-11-23T00:00:00.000000Z' } satisfies SourceLine)));
  take(parser.finish());
  return out.sort((a, b) => (a.datetime < b.datetime ? -1 : a.datetime > b.datetime ? 1 : a.seq - b.seq));
}

function build(entries: TimelineEntry[], extra: Partial<ReportOptions> = {}): ReportModel {
  // Baseline 0: every program is a first sighting, so every run gets its ancestry.
  return buildReportModel({ manifest, entries }, { generatedAt: '2026-11-23T00:00:00.000000Z', newExecutableBaselineMinutes: 0, rowLimit: 100_000, citeLimit: 100_000, ...extra });
}

const label = (e: { host: string; seq: number; sha256: string }): string => `${e.host}#${e.seq}:${e.sha256.slice(0, 12)}`;

describe('Sysmon (process GUIDs)', () => {
  const entries = evtxTimeline(EVTX_SAMPLES.server2022Sysmon);
  const model = build(entries);
  const starts = entries.filter((e) => e.kind === 'process.exec' && e.payload['action'] === 'start');

  it('every run is in one row, and each row\'s chain is what the GUIDs in the records say', () => {
    expect(model.ran.trees.reduce((n, r) => n + r.runs, 0)).toBe(starts.length);
    // The chain counted again from the records' own GUIDs, not through the linker.
    const byGuid = new Map(starts.map((e) => [String(e.payload['process_guid']).toLowerCase(), e]));
    const chainOf = (e: TimelineEntry): number[] => {
      const out: number[] = [];
      for (let p = byGuid.get(String(e.payload['parent_process_guid']).toLowerCase()); p !== undefined && out.length < 16; p = byGuid.get(String(p.payload['parent_process_guid']).toLowerCase())) out.push(p.seq);
      return out;
    };
    for (const row of model.ran.trees) {
      for (const c of row.cites) {
        const run = starts.find((e) => e.seq === c.seq)!;
        expect(row.chain.map((s) => s.cite.seq), `run ${c.seq}`).toEqual(chainOf(run));
        expect(row.chain.every((s) => s.by === 'process_guid')).toBe(true);
      }
    }
    expect(model.ran.unmarkedHosts).toEqual([]);
  });

  it('7z.exe from C:\\Temp: 24 runs under the cmd.exe running APTSimulator.bat, whose parent started before the log', () => {
    const rows = model.ran.trees.filter((r) => r.exe.endsWith('\\helpers\\7z.exe'));
    expect(rows.reduce((n, r) => n + r.runs, 0)).toBe(24);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row!.why).toContain('first_seen');
    expect(row!.chain.map((s) => [s.cite.seq, s.exe, s.pid])).toEqual([[25, 'C:\\Windows\\System32\\cmd.exe', 172]]);
    expect(row!.chain[0]!.command_line).toContain('APTSimulator.bat');
    expect(row!.end).toMatchObject({ reason: 'not_in_evidence', ppid: 1584 });
  });

  it('PSEXESVC.EXE is a known tool; its parent (services.exe, pid 676) is named but not in the evidence', () => {
    const { model: m } = { model: build(entries, { newExecutableBaselineMinutes: 24 * 60 }) };
    const rows = m.ran.trees.filter((r) => r.exe === 'C:\\Windows\\PSEXESVC.EXE');
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.why).toEqual(['known_tool']);
      expect(r.chain).toEqual([]);
      expect(r.end).toMatchObject({ reason: 'not_in_evidence', ppid: 676 });
    }
    // Only known tools are traced when nothing else is notable (no sensitive paths, nothing first seen after a day's baseline but from C:\Temp, C:\TMP).
    expect(new Set(m.ran.trees.map((r) => r.why.join()))).toEqual(new Set(['known_tool', 'first_seen']));
  });

  it('the renderers show the chain with its citations, in both languages', () => {
    const row = model.ran.trees.find((r) => r.exe.endsWith('\\helpers\\7z.exe'))!;
    const cmd = row.chain[0]!.cite;
    for (const lang of ['en', 'ja'] as const) {
      const md = renderMarkdown(model, lang);
      const line = md.split('\n').find((l) => l.includes('7z.exe') && l.includes(label(cmd)));
      expect(line, lang).toBeDefined();
      expect(line).toContain('`C:\\Windows\\System32\\cmd.exe`');
      expect(line).toContain(lang === 'en' ? 'linked by process GUID' : 'プロセスGUIDで結合');
      const page = renderHtml(model, lang);
      expect(page).toContain(`>${label(cmd)}</a>`);
      expect(page).toContain(lang === 'en' ? 'Process ancestry' : 'プロセスの親子関係');
    }
  });
});

describe('Security 4688 (pid and image)', () => {
  const entries = evtxTimeline(EVTX_SAMPLES.smbPayload);
  const model = build(entries);

  it('the 32-bit powershell under the 64-bit one under cmd.exe; services.exe named, not in the evidence; no boot marker, said', () => {
    const row = model.ran.trees.find((r) => r.cites.some((c) => c.seq === 354598))!;
    expect(row.exe).toBe('C:\\Windows\\SysWOW64\\WindowsPowerShell\\v1.0\\powershell.exe');
    expect(row.chain.map((s) => [s.exe, s.by])).toEqual([
      ['C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'pid+exe'],
      ['C:\\Windows\\System32\\cmd.exe', 'pid+exe'],
    ]);
    expect(row.end).toMatchObject({ reason: 'not_in_evidence', parent: 'C:\\Windows\\System32\\services.exe' });
    const host = row.host;
    expect(model.ran.unmarkedHosts).toEqual([host]);
    expect(renderMarkdown(model, 'en')).toContain(`The evidence of ${host} holds no boot marker`);
    expect(renderMarkdown(model, 'ja')).toContain(`${host} の証拠には起動区切りがない`);
  });
});

describe('auditd (ppid within one boot)', () => {
  const log = readFileSync(`${FIXTURES}hub/.tests/auditd-suid-crash/auditd-suid-crash.log`, 'utf8');

  it('su --help under -bash, by ppid, cited; the audit serial marks no reboot', () => {
    const entries = auditTimeline(log);
    const model = build(entries);
    const su = model.ran.trees.find((r) => r.exe === '/usr/bin/su')!;
    const bash = entries.find((e) => e.kind === 'process.exec' && e.payload['exe'] === '/usr/bin/bash')!;
    expect(su.chain).toEqual([expect.objectContaining({ exe: '/usr/bin/bash', pid: 192010, by: 'pid', command_line: '-bash', cite: expect.objectContaining({ seq: bash.seq, sha256: bash.record_sha256 }) })]);
    expect(su.end).toMatchObject({ reason: 'not_in_evidence', ppid: 192009 });
    expect(model.ran.bootMarkers).toEqual([{ host: 'srv-01', markers: 0 }]);
    expect(model.ran.unmarkedHosts).toEqual(['srv-01']);
    for (const lang of ['en', 'ja'] as const) expect(renderMarkdown(model, lang)).toContain(label(su.chain[0]!.cite));
  });

  it('after a reboot (the serial starts over), a child naming the old shell\'s pid is not linked across it, and the row says why', () => {
    // The same host an hour later, after a reboot: serial 12, and a process whose ppid is the old shell's pid.
    const later = [
      'type=SYSCALL msg=audit(1696434855.100:12): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=192010 pid=200 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" key="exec"',
      'type=EXECVE msg=audit(1696434855.100:12): argc=2 a0="curl" a1="-T"',
      'type=EOE msg=audit(1696434855.100:12): ',
    ];
    const entries = auditTimeline(`${log}\n${later.join('\n')}\n`);
    const model = build(entries);
    expect(model.ran.bootMarkers).toEqual([{ host: 'srv-01', markers: 1 }]);
    expect(model.ran.unmarkedHosts).toEqual([]);
    const curl = model.ran.trees.find((r) => r.exe === '/usr/bin/curl')!;
    expect(curl.chain).toEqual([]);
    expect(curl.end).toEqual({ reason: 'other_boot', ppid: 192010 });
    // Within the first boot, su still links to the shell.
    expect(model.ran.trees.find((r) => r.exe === '/usr/bin/su')!.chain.map((s) => s.exe)).toEqual(['/usr/bin/bash']);
    expect(renderMarkdown(model, 'en')).toContain("its parent's pid 192010 (?) started in the evidence before a boot marker");
    // Agent starts are markers too: one between the shell and su cuts that link.
    const withStart = [...auditTimeline(log)];
    withStart.push(entry('srv-01', 1, 'agent.start', { version: 't' }, '2023-10-04T14:54:30.000000Z'));
    withStart.sort((a, b) => (a.datetime < b.datetime ? -1 : 1));
    const m2 = build(withStart);
    expect(m2.ran.trees.find((r) => r.exe === '/usr/bin/su')).toMatchObject({ chain: [], end: { reason: 'other_boot', ppid: 192010 } });
  });
});

describe('users and hosts of interest', () => {
  const entries = [...auditTimeline(log()), ...evtxTimeline(EVTX_SAMPLES.smbPayload)];
  function log(): string {
    return readFileSync(`${FIXTURES}hub/.tests/auditd-suid-crash/auditd-suid-crash.log`, 'utf8');
  }

  it('What ran shows only their runs, counts what it left out, and the patterns still weigh every run', () => {
    const all = build(entries);
    const net = reportNetFromFlags({ userOfInterest: ['auid=1000'], hostOfInterest: ['SRV-01'] });
    const model = build(entries, { usersOfInterest: net.users_of_interest!, hostsOfInterest: net.hosts_of_interest! });
    expect(new Set(model.ran.programs.map((p) => p.host))).toEqual(new Set(['srv-01']));
    expect(model.ran.programs.map((p) => p.exe).sort()).toEqual(['/usr/bin/bash', '/usr/bin/su']);
    expect(model.ran.trees.every((r) => r.host === 'srv-01')).toBe(true);
    const leftOut = all.ran.programsTotal - model.ran.programsTotal;
    expect(model.ran.focus).toMatchObject({ users: ['auid=1000'], hosts: ['SRV-01'], runsLeftOut: all.ran.runs - 2, programsLeftOut: leftOut, commandsLeftOut: 0 });
    expect(model.howTotals).toEqual(all.howTotals);
    const md = renderMarkdown(model, 'en');
    expect(md).toContain(`What ran is about the programs run by auid=1000 on SRV-01 (--user-of-interest, --host-of-interest). Left out of this section: ${all.ran.runs - 2} run(s)`);
    expect(renderMarkdown(model, 'ja')).toContain('本項は auid=1000 が SRV-01 で実行したプログラムを対象とした');
    expect(renderHtml(model, 'en')).toContain(`${leftOut} program(s) only they ran`);
    // A Windows account matches by its name without the domain, and auditd users by auid.
    const win = build(entries, { usersOfInterest: ['srvdefender01$'] });
    expect(win.ran.programs.length).toBeGreaterThan(0);
    expect(win.ran.programs.every((p) => p.host !== 'srv-01')).toBe(true);
    expect(build(entries, { usersOfInterest: ['auid=1000'] }).ran.programs.map((p) => p.exe).sort()).toEqual(['/usr/bin/bash', '/usr/bin/su']);
    expect(build(entries, { hostsOfInterest: ['srv-01.example.jp'] }).ran.programs).toEqual([]);
  });

  it('bad names are usage errors naming the value', () => {
    const err = (f: () => unknown): { code: string; message: string } => {
      try {
        f();
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('no error');
    };
    for (const [flags, needle] of [
      [{ userOfInterest: ['alice', ''] }, '--user-of-interest ""'],
      [{ userOfInterest: [' alice'] }, '--user-of-interest " alice"'],
      [{ hostOfInterest: ['web01\u001b[2J'] }, '--host-of-interest "web01\\u001b[2J"'],
      [{ hostOfInterest: ['a\u202eb'] }, '--host-of-interest "a\u202eb"'],
      [{ userOfInterest: ['x'.repeat(257)] }, `--user-of-interest "${'x'.repeat(257)}"`],
    ] as const) {
      const e = err(() => reportNetFromFlags(flags));
      expect(e.code).toBe('E_USAGE');
      expect(e.message).toContain(needle);
    }
  });
});

describe('hostile values in an ancestry', () => {
  it('markup, terminal escapes, bidi overrides and backticks in programs, users, command lines and parent names reach no page raw', () => {
    const evil = 'x`` <img src=x onerror=alert(1)> | **b** \u001b[2J\u001b]0;t\u0007 \u202eexe.txt\r\nFORGED';
    const t = (s: number): string => new Date(Date.UTC(2026, 10, 20, 9, 0, s)).toISOString().replace('Z', '000Z');
    const p = (payload: Record<string, unknown>): Record<string, unknown> => ({ derived_from: [1], parser: 'test', action: 'start', ...payload });
    const entries = [
      entry('ws', 1, 'process.exec', p({ exe: `/usr/bin/${evil}`, pid: 10, command_line: `parent ${evil}`, user: `u${evil}` }), t(0)),
      entry('ws', 2, 'process.exec', p({ exe: '/usr/local/bin/rclone', pid: 11, ppid: 10, parent_exe: `/usr/bin/${evil}`, command_line: `rclone copy ${evil}`, user: `v${evil}` }), t(1)),
      entry('ws', 3, 'process.exec', p({ exe: '/usr/local/bin/rclone', pid: 12, ppid: 99, parent_exe: evil, command_line: 'rclone', user: 'w' }), t(2)),
    ];
    const model = build(entries, { newExecutableBaselineMinutes: 24 * 60 });
    const row = model.ran.trees.find((r) => r.chain.length === 1)!;
    expect(row.chain[0]!.exe).not.toContain('\u001b');
    for (const lang of ['en', 'ja'] as const) {
      const md = renderMarkdown(model, lang);
      const page = renderHtml(model, lang);
      for (const out of [md, page]) {
        expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
        expect(out).not.toMatch(/^FORGED/m);
      }
      // HTML: escaped; Markdown: only inside code spans, which show it as text.
      expect(page).not.toContain('<img');
      expect(md.replace(/(`+)[\s\S]*?[^`]\1(?!`)/g, '')).not.toMatch(/(?<!\\)<img/);
      // Markdown: every line of the ancestry table has the table's cell count (no value added a `|`).
      const head = md.split('\n').findIndex((l) => l.startsWith(lang === 'en' ? '| Program | Host | Why |' : '| プログラム |'));
      expect(head).toBeGreaterThan(0);
      const cells = (l: string): number => l.replace(/\\\|/g, '').split('|').length;
      for (let i = head; i < head + 2 + model.ran.trees.length; i++) expect(cells(md.split('\n')[i]!), md.split('\n')[i]).toBe(cells(md.split('\n')[head]!));
    }
  });
});
