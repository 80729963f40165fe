/**
 * The story of issue 13 through the REAL agent and collector (the built CLI; `npx tsc -p
 * tsconfig.json` first): a live agent tails three logs while they are written, as on the host:
 *
 *   09:09:55 UTC  auditd: alice (auid 1001) logs in: `-bash` (pid 30190)
 *   09:10:00      auditd: from that shell (ppid 30190) she runs `zip -r /tmp/c.zip customer-data` in /srv
 *   09:14:02      kernel: SanDisk Ultra, serial 4C530001230527110412, attached as sdb
 *   09:15:00      squid: 192.168.10.47 CONNECT mega.nz:443, 52,428,800 bytes (TCP_TUNNEL)
 *   09:16:00      squid: 192.168.10.47 POST http://203.0.113.5/upload
 *
 * The agent is stopped, the store collected by `custody collect --sensitive '/srv/customer-data/**'`
 * and the draft report read in both languages and both formats: it names the program, the command
 * line, the stick's serial, the destination and the bytes, each with a citation host#seq:sha256
 * whose record hash is the bundle's record (timeline/timeline.jsonl), and shows zip's ancestry (the
 * shell, linked by ppid, cited); `custody report --user-of-interest --host-of-interest` keeps What
 * ran on her and says what it left out; the usage errors of --internal-range, --upload-threshold
 * and --user-of-interest name the value.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, custody } from '../helpers/cli.js';
import { e2eWorkspace, sleep } from '../helpers/e2e-workspace.js';

const { dir, children } = e2eWorkspace('exec-story');

const hex = (s: string): string => Buffer.from(s).toString('hex').toUpperCase();
const AUDIT = [
  'type=SYSCALL msg=audit(1795165795.001:7000): arch=c000003e syscall=59 success=yes exit=0 a0=55c1 a1=55c2 a2=55c3 a3=0 items=2 ppid=30100 pid=30190 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts1 ses=12 comm="bash" exe="/usr/bin/bash" key="exec"',
  'type=EXECVE msg=audit(1795165795.001:7000): argc=1 a0="-bash"',
  'type=EOE msg=audit(1795165795.001:7000): ',
  'type=SYSCALL msg=audit(1795165800.101:7001): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=30190 pid=30211 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts1 ses=12 comm="zip" exe="/usr/bin/zip" key="exec"',
  'type=EXECVE msg=audit(1795165800.101:7001): argc=4 a0="zip" a1="-r" a2="/tmp/c.zip" a3="customer-data"',
  'type=CWD msg=audit(1795165800.101:7001): cwd="/srv"',
  'type=PATH msg=audit(1795165800.101:7001): item=0 name="/usr/bin/zip" inode=131 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
  `type=PROCTITLE msg=audit(1795165800.101:7001): proctitle=${hex('zip\0-r\0/tmp/c.zip\0customer-data')}`,
  'type=EOE msg=audit(1795165800.101:7001): ',
];
const SQUID = [
  '1795166100.123  93410 192.168.10.47 TCP_TUNNEL/200 52428800 CONNECT mega.nz:443 alice HIER_DIRECT/31.216.145.5 -',
  '1795166160.456    210 192.168.10.47 TCP_MISS/200 1234 POST http://203.0.113.5/upload alice HIER_DIRECT/203.0.113.5 text/html',
];
const SERIAL = '4C530001230527110412';

function byKind(store: string): Record<string, number> {
  const r = custody('agent', 'status', '--store', store, '--json');
  if (r.code !== 0) return {};
  return (JSON.parse(r.stdout) as { records: { byKind: Record<string, number> } }).records.byKind;
}

interface Row {
  host: string;
  seq: number;
  record_sha256: string;
  kind: string;
  payload: Record<string, unknown>;
}

describe('issue 13 story: archiver, USB stick, upload through the proxy', () => {
  it('the draft report names program, command line, serial, destination and bytes, each cited by the record in the bundle', async () => {
    const logs = join(dir, 'logs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(logs);
    for (const f of ['audit.log', 'kern.log', 'access.log']) writeFileSync(join(logs, f), '');
    const config = join(dir, 'agent.yaml');
    writeFileSync(config, ['store: ./store', 'sources:', '  files:', '    watch: [./logs/*.log]', 'checkpoint: { interval: 1s }'].join('\n'));
    const agent = spawn(process.execPath, [CLI, 'agent', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    children.push(agent);
    let stderr = '';
    agent.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    agent.stdout?.resume();
    while (!stderr.includes('"evt":"agent.ready"')) await sleep(50);

    const kern = readFileSync(new URL('../fixtures/constructed/kern-usb.log', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Nov 20 09:14:0'));
    appendFileSync(join(logs, 'audit.log'), `${AUDIT.join('\n')}\n`);
    appendFileSync(join(logs, 'kern.log'), `${kern.join('\n')}\n`);
    appendFileSync(join(logs, 'access.log'), `${SQUID.join('\n')}\n`);
    const store = join(dir, 'store');
    for (;;) {
      const k = byKind(store);
      if ((k['process.exec'] ?? 0) >= 2 && (k['usb.connect'] ?? 0) >= 1 && (k['net.access'] ?? 0) >= 2) break;
      await sleep(100);
    }
    const exit = new Promise<number | null>((res) => agent.on('exit', (code) => res(code)));
    agent.kill('SIGTERM');
    expect(await exit).toBe(0);

    const bundle = join(dir, 'bundle');
    const c = custody('collect', '--case', 'IR-EXEC', '--store', store, '--out', bundle, '--sensitive', '/srv/customer-data/**', '--upload-threshold', '10MiB', '--json');
    expect(c.code, c.stderr).toBe(0);

    const timeline = readFileSync(join(bundle, 'timeline', 'timeline.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Row);
    const zip = timeline.find((r) => r.kind === 'process.exec' && r.payload['exe'] === '/usr/bin/zip');
    const bash = timeline.find((r) => r.kind === 'process.exec' && r.payload['exe'] === '/usr/bin/bash');
    const connect = timeline.find((r) => r.kind === 'usb.connect' && r.payload['serial'] === SERIAL);
    const tunnel = timeline.find((r) => r.kind === 'net.access' && r.payload['method'] === 'CONNECT');
    expect(zip?.payload).toMatchObject({ argv: ['zip', '-r', '/tmp/c.zip', 'customer-data'], cwd: '/srv', auid: '1001' });
    expect(connect).toBeDefined();
    expect(tunnel?.payload).toMatchObject({ host: 'mega.nz', port: 443, bytes_sent: 52428800 });
    const label = (r: Row): string => `${r.host}#${r.seq}:${r.record_sha256.slice(0, 12)}`;

    const pages: Record<string, string> = {};
    for (const f of ['report.md', 'report.ja.md', 'report.html', 'report.ja.html']) pages[f] = readFileSync(join(bundle, 'report', f), 'utf8');
    for (const [name, page] of Object.entries(pages)) {
      for (const needle of ['/usr/bin/zip', 'zip -r /tmp/c.zip customer-data', SERIAL, 'mega.nz', '52,428,800', label(zip!), label(connect!), label(tunnel!)]) expect(page, `${name}: ${needle}`).toContain(needle);
      // Every citation in the page is a record of the bundle, with its hash.
      for (const m of page.matchAll(/([A-Za-z0-9._-]+)#(\d+):([0-9a-f]{12})/g)) {
        const row = timeline.find((r) => r.host === m[1] && r.seq === Number(m[2]));
        expect(row?.record_sha256.slice(0, 12), `${name}: ${m[0]}`).toBe(m[3]);
      }
    }
    // The pattern lines themselves carry the citations: zip run then the stick; zip run then the tunnel.
    const md = pages['report.md']!;
    const usbLine = md.split('\n').find((l) => l.startsWith('- **archiver on sensitive paths then USB storage**'));
    expect(usbLine).toContain(SERIAL);
    expect(usbLine).toContain(`${label(zip!)}\`, \`${label(connect!)}`);
    const upLine = md.split('\n').find((l) => l.startsWith('- **archiver on sensitive paths then an upload**') && l.includes('mega.nz'));
    expect(upLine).toContain('52,428,800');
    expect(upLine).toContain(label(tunnel!));
    const largeLine = md.split('\n').find((l) => l.startsWith('- **large upload or tunnel to an outside host**'));
    expect(largeLine).toContain('mega.nz:443');
    expect(largeLine).toContain(label(tunnel!));
    // zip's ancestry: the shell it ran from, linked by ppid within one boot, cited, in every page.
    expect(zip?.payload).toMatchObject({ pid: 30211, ppid: 30190 });
    expect(bash?.payload).toMatchObject({ pid: 30190, command_line: '-bash' });
    const treeLine = md.split('\n').find((l) => l.startsWith('| `/usr/bin/zip` |') && l.includes('sensitive paths'));
    expect(treeLine).toContain(`\`/usr/bin/bash\` \`-bash\` (pid 30190, auid=1001, 2026-11-20 09:09:55 UTC, linked by pid only) \`${label(bash!)}\``);
    expect(treeLine).toContain(label(zip!));
    expect(pages['report.ja.md']!.split('\n').find((l) => l.startsWith('| `/usr/bin/zip` |') && l.includes('重要パス'))).toContain(`PID 30190、auid=1001、2026/11/20 18:09:55 JST、PIDのみで結合) \`${label(bash!)}\``);
    for (const f of ['report.html', 'report.ja.html']) expect(pages[f]).toMatch(new RegExp(`<li><code>/usr/bin/bash</code> <code>-bash</code> \\([^)]*\\) <span class="cite">\\[<a [^>]*>${label(bash!)}</a>`));
    const ja = pages['report.ja.md']!;
    expect(ja).toContain('重要ファイルの圧縮・複製後のUSB記憶装置接続');
    expect(ja).toContain('外部への大容量アップロード');

    // Bad values are usage errors naming the value (nothing is written).
    const bad = custody('report', bundle, '--internal-range', '10.0.0.0/33', '--out', join(dir, 'r1'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--internal-range "10.0.0.0/33"');
    const bad2 = custody('collect', '--case', 'X', '--store', store, '--out', join(dir, 'b2'), '--upload-threshold', 'lots');
    expect(bad2.code).toBe(2);
    expect(bad2.stderr).toContain('--upload-threshold "lots"');
    const bad3 = custody('report', bundle, '--user-of-interest', 'alice', '--user-of-interest', ' ', '--out', join(dir, 'r3'));
    expect(bad3.code).toBe(2);
    expect(bad3.stderr).toContain('--user-of-interest " "');
    // Users and hosts of interest: What ran is about them; what it left out is counted.
    const host = zip!.host;
    const focused = custody('report', bundle, '--sensitive', '/srv/customer-data/**', '--user-of-interest', 'auid=1001', '--host-of-interest', host.toUpperCase(), '--lang', 'en', '--out', join(dir, 'r4'));
    expect(focused.code, focused.stderr).toBe(0);
    const fmd = readFileSync(join(dir, 'r4', 'report.md'), 'utf8');
    expect(fmd).toContain(`What ran is about the programs run by auid=1001 on ${host.toUpperCase()} (--user-of-interest, --host-of-interest). Left out of this section: 0 run(s)`);
    expect(fmd).toContain(label(bash!));
    const other = custody('report', bundle, '--sensitive', '/srv/customer-data/**', '--user-of-interest', 'bob', '--lang', 'en', '--out', join(dir, 'r5'));
    expect(other.code, other.stderr).toBe(0);
    const omd = readFileSync(join(dir, 'r5', 'report.md'), 'utf8');
    expect(omd).toContain('Left out of this section: 2 run(s) by other users or on other hosts, 2 program(s) only they ran, and 1 command line(s) naming sensitive paths.');
    // The patterns still weigh every run.
    expect(omd).toContain(label(zip!));
    // The report command takes them too: with the threshold above the tunnel, no large upload.
    const r = custody('report', bundle, '--sensitive', '/srv/customer-data/**', '--upload-threshold', '100MiB', '--internal-range', '192.168.0.0/16', '--lang', 'en', '--out', join(dir, 'r2'), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).patterns).not.toHaveProperty('large_upload');
    expect(JSON.parse(r.stdout).patterns).toHaveProperty('archive_then_usb', 1);
  });
});
