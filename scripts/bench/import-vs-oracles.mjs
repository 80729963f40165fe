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
 * Wall-clock and CPU time (GNU time's user + system) of each whole process, median of --rounds (every round
 * listed below the table); a
 * fresh store per custody round; the parsers' own CPU measured in-process on the same file. CPU
 * time is reported beside wall clock because the benchmark machine is shared (wall clock there
 * includes waiting for a core). The generated files are deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { accessLog, auditLog } from './import-inputs.mjs';
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

const loadAtStart = loadavg();
const work = mkdtempSync(join(tmpdir(), 'custody-bench-import-'));
const rows = [];
try {
  for (const [name, make, oracle] of [
    ['access log (nginx combined + XFF)', accessLog, (f) => ['goaccess', [f, '--no-global-config', '--log-format=COMBINED', '-o', 'json']]],
    ['audit.log (execve events, 6 lines each)', auditLog, (f) => ['ausearch', ['-i', '-if', f]]],
  ]) {
    const file = join(work, name.startsWith('access') ? 'access.log' : 'audit.log');
    make(file, LINES);
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
    const rounds = custodyTimes.map((_, r) => `${custodyTimes[r].toFixed(2)} / ${custodyCpu[r].toFixed(2)} vs ${oracleTimes[r].toFixed(2)} / ${oracleCpu[r].toFixed(2)} (${(custodyCpu[r] / oracleCpu[r]).toFixed(2)}× CPU)`).join('; ');
    rows.push({ name, lines: LINES, bytes, custody: c, oracle: o, oracleName: oracle(file)[0], ratio: c / o, cc, oc, cpuRatio: cc / oc, parse, records, rounds });
    rmSync(file, { force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const env = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;
const md = [
  `# custody import vs goaccess / ausearch`,
  '',
  `\`node scripts/bench/import-vs-oracles.mjs --lines ${LINES} --rounds ${ROUNDS}\` on ${env}, load average ${loadAtStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end; seconds per whole process (wall clock, and CPU = user + system from GNU time), median of ${ROUNDS}; "parse" is the CPU of reading the same file into records in-process (parseContent), the parsers' share of custody's CPU.`,
  '',
  '| input | lines | MB | custody wall / CPU (s) | oracle | oracle wall / CPU (s) | custody ÷ oracle, wall / CPU | parse CPU (s) | derived |',
  '|---|---:|---:|---:|---|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.name} | ${r.lines} | ${(r.bytes / 1e6).toFixed(1)} | ${r.custody.toFixed(2)} / ${r.cc.toFixed(2)} | ${r.oracleName} | ${r.oracle.toFixed(2)} / ${r.oc.toFixed(2)} | ${r.ratio.toFixed(2)}× / ${r.cpuRatio.toFixed(2)}× | ${r.parse.toFixed(2)} | ${r.records} |`),
  '',
  'Every round (custody wall / CPU vs oracle wall / CPU, seconds):',
  '',
  ...rows.map((r) => `- ${r.name}: ${r.rounds}`),
  '',
].join('\n');
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, md);
process.stdout.write(md);
