#!/usr/bin/env node
/**
 * `custody import` against the tools a responder would otherwise run (issue 13), same file, same
 * run, one after the other on the same machine:
 *
 *   - an access log of N lines (nginx combined + X-Forwarded-For, built from lnav's real shop log
 *     with clients, times, URLs and byte counts varied by a seeded generator) against
 *     `goaccess FILE --log-format=COMBINED -o json` (parse + aggregate, report to /dev/null);
 *   - an audit.log of N lines made of execve events (SYSCALL + EXECVE + CWD + 2 PATH + PROCTITLE,
 *     the shape of plaso's audit_enriched.log in RAW format, pids, times, arguments varied)
 *     against `ausearch -i -if FILE` (group + interpret every event, output to /dev/null).
 *
 * custody does more than either: every line is preserved as a record, hashed into the Merkle tree,
 * sealed by signed checkpoints and committed with synchronous=FULL, and the typed records are
 * derived and stored beside them. The goal (issue 13) is at most 2× the oracle's time.
 *
 *   npm run build && node scripts/bench/import-vs-oracles.mjs [--lines 1000000] [--rounds 1] [--out FILE]
 *
 * Wall-clock and CPU time (GNU time's user + system) of each whole process, median of --rounds; a
 * fresh store per custody round; the parsers' own CPU measured in-process on the same file. CPU
 * time is reported beside wall clock because the benchmark machine is shared (wall clock there
 * includes waiting for a core). The generated files are deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
const LINES = Number(arg('lines', '1000000'));
const ROUNDS = Number(arg('rounds', '1'));
const OUT = resolve(arg('out', join(root, 'bench-results', 'import-vs-oracles.md')));
const CLI = join(root, 'dist', 'src', 'cli.js');

let seed = 0x13;
function rand() {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];

/** Writes lines in 4 MiB blocks. */
function writeLines(path, count, make) {
  const fd = openSync(path, 'w');
  let buf = [];
  let size = 0;
  for (let i = 0; i < count; i++) {
    const l = make(i);
    buf.push(l);
    size += l.length;
    if (size > 4 << 20) {
      writeSync(fd, buf.join('\n') + '\n');
      buf = [];
      size = 0;
    }
  }
  if (buf.length > 0) writeSync(fd, buf.join('\n') + '\n');
  closeSync(fd);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function accessLog(path) {
  const shop = readFileSync(join(root, 'test/fixtures/lnav/test/logfile_shop_access_log.0'), 'utf8').split('\n').filter((l) => l !== '');
  const t0 = Date.UTC(2026, 11, 1);
  writeLines(path, LINES, (i) => {
    const base = pick(shop);
    const d = new Date(t0 + i * 250);
    const when = `${String(d.getUTCDate()).padStart(2, '0')}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} +0900`;
    const ip = `10.${int(256)}.${int(256)}.${1 + int(254)}`;
    return base
      .replace(/^\S+/, ip)
      .replace(/\[[^\]]+\]/, `[${when}]`)
      .replace(/" (\d{3}) (\d+) "/, (_m, s) => `" ${s} ${int(200000)} "`)
      .replace(/ HTTP\/1\.1"/, `?r=${i} HTTP/1.1"`);
  });
}

const hex = (s) => Buffer.from(s).toString('hex').toUpperCase();
function auditLog(path) {
  const progs = [['/usr/bin/tar', 'tar', 'czf', '/tmp/out.tgz', '/srv/customer-data'], ['/usr/bin/cat', 'cat', '/tmp/my report.txt'], ['/usr/bin/id', 'id'], ['/usr/bin/curl', 'curl', '-T', '/tmp/out.tgz', 'https://files.example.net/up']];
  const perEvent = 6;
  let serial = 1000;
  let ev;
  writeLines(path, LINES, (i) => {
    const k = i % perEvent;
    if (k === 0) {
      serial++;
      const [exe, ...argv] = pick(progs);
      ev = { ts: `${1764720000 + Math.floor(serial / 10)}.${String(serial % 1000).padStart(3, '0')}:${serial}`, exe, argv, pid: 2000 + int(30000) };
    }
    const { ts, exe, argv, pid } = ev;
    switch (k) {
      case 0:
        return `type=SYSCALL msg=audit(${ts}): arch=c000003e syscall=59 success=yes exit=0 a0=56111137e810 a1=561111382480 a2=561111385020 a3=21 items=2 ppid=2176 pid=${pid} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=8 comm="${argv[0]}" exe="${exe}" key="exec"`;
      case 1:
        return `type=EXECVE msg=audit(${ts}): argc=${argv.length} ${argv.map((a, j) => `a${j}=${/[ "]/.test(a) ? hex(a) : `"${a}"`}`).join(' ')}`;
      case 2:
        return `type=CWD msg=audit(${ts}): cwd="/home/sato"`;
      case 3:
        return `type=PATH msg=audit(${ts}): item=0 name="${exe}" inode=8633562 dev=fc:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`;
      case 4:
        return `type=PATH msg=audit(${ts}): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=27086311 dev=fc:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`;
      default:
        return `type=PROCTITLE msg=audit(${ts}): proctitle=${hex(argv.join('\0'))}`;
    }
  });
}

/** Wall-clock and CPU (user + system, from GNU time) seconds of one whole process. */
function timed(cmd, args, opts = {}) {
  const timeFile = join(work, 'time.txt');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, cmd, ...args], { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'], env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, maxBuffer: 1 << 30 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr?.toString().slice(0, 500)}`);
  const [u, sy] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { s, cpu: u + sy, stdout: r.stdout };
}

/** CPU seconds of reading the file into records in this process (collector/import-content.js parseContent): the parsers' share. */
async function parseCpu(file) {
  const { parseContent } = await import(join(root, 'dist', 'collector', 'import-content.js'));
  const bytes = readFileSync(file);
  const c0 = process.cpuUsage();
  parseContent(bytes, file, 1, '2026-12-04T00:00:00.000000Z');
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'custody-bench-import-'));
const rows = [];
try {
  for (const [name, make, oracle] of [
    ['access log (nginx combined + XFF)', accessLog, (f) => ['goaccess', [f, '--no-global-config', '--log-format=COMBINED', '-o', 'json']]],
    ['audit.log (execve events, 6 lines each)', auditLog, (f) => ['ausearch', ['-i', '-if', f]]],
  ]) {
    const file = join(work, name.startsWith('access') ? 'access.log' : 'audit.log');
    make(file);
    const bytes = statSync(file).size;
    const custodyTimes = [];
    const oracleTimes = [];
    const custodyCpu = [];
    const oracleCpu = [];
    const parse = await parseCpu(file);
    let summary = '';
    for (let r = 0; r < ROUNDS; r++) {
      const store = join(work, `store-${rows.length}-${r}`);
      const c = timed(process.execPath, [CLI, 'import', '--store', store, '--host', 'bench', '--json', file], { stdout: 'pipe' });
      custodyTimes.push(c.s);
      custodyCpu.push(c.cpu);
      summary = c.stdout.toString();
      rmSync(store, { recursive: true, force: true });
      const [cmd, args] = oracle(file);
      const o = timed(cmd, args, { allowFail: cmd === 'ausearch' });
      oracleTimes.push(o.s);
      oracleCpu.push(o.cpu);
    }
    let records = '';
    try {
      const j = JSON.parse(summary);
      const files = j.files ?? [];
      records = JSON.stringify(files[0]?.records ?? j.records ?? {});
    } catch {
      records = '(summary not JSON)';
    }
    const c = median(custodyTimes);
    const o = median(oracleTimes);
    const cc = median(custodyCpu);
    const oc = median(oracleCpu);
    rows.push({ name, lines: LINES, bytes, custody: c, oracle: o, oracleName: oracle(file)[0], ratio: c / o, cc, oc, cpuRatio: cc / oc, parse, records });
    rmSync(file, { force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const env = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;
const md = [
  `# custody import vs goaccess / ausearch`,
  '',
  `\`node scripts/bench/import-vs-oracles.mjs --lines ${LINES} --rounds ${ROUNDS}\` on ${env}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end; seconds per whole process (wall clock, and CPU = user + system from GNU time), median of ${ROUNDS}; "parse" is the CPU of reading the same file into records in-process (parseContent), the parsers' share of custody's CPU.`,
  '',
  '| input | lines | MB | custody wall / CPU (s) | oracle | oracle wall / CPU (s) | custody ÷ oracle, wall / CPU | parse CPU (s) | derived |',
  '|---|---:|---:|---:|---|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.name} | ${r.lines} | ${(r.bytes / 1e6).toFixed(1)} | ${r.custody.toFixed(2)} / ${r.cc.toFixed(2)} | ${r.oracleName} | ${r.oracle.toFixed(2)} / ${r.oc.toFixed(2)} | ${r.ratio.toFixed(2)}× / ${r.cpuRatio.toFixed(2)}× | ${r.parse.toFixed(2)} | ${r.records} |`),
  '',
].join('\n');
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, md);
process.stdout.write(md);
