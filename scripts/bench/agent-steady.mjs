#!/usr/bin/env node
/**
 * The agent at a steady rate (issue 14: ≤ 10 % of one core and RSS ≤ 80 MB at 1,000 lines/s):
 * `custody agent run` as a user runs it (plain, and with the installed service's node flags)
 * following one file that a separate writer process appends to at a fixed rate, measured from
 * /proc/PID/stat and /proc/PID/status once a second (Linux). Beside it, in the same run and at the
 * same rate, the floor of the job: a minimal follower (fs.watch on the file, read what was appended,
 * split lines, SHA-256 each, insert a row per line into SQLite with WAL and synchronous=FULL, one
 * transaction per 250 ms like the store's batches) with no parsing, canonical JSON, Merkle tree,
 * signatures or bookkeeping.
 *
 *   npm run build && node scripts/bench/agent-steady.mjs [rate=1000] [seconds=30] [rounds=2]
 *
 * Prints a markdown section; every round is reported, the variants alternating in each round.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, watch, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedService } from './shared.mjs';

const SELF = fileURLToPath(import.meta.url);

// ───────────── writer (child process): `rate` lines/s for `seconds`, a write every 10 ms ─────────────
if (process.argv[2] === '--writer') {
  const [, , , path, rateArg, secondsArg] = process.argv;
  const rate = Number(rateArg);
  const seconds = Number(secondsArg);
  const fd = openSync(path, 'a');
  const line = (n) => `${new Date().toISOString()} web-01 app[4242]: request ${n} handled status=200 bytes=${(n * 7919) % 100000} path=/api/v1/items/${n % 997} ua="bench"\n`;
  const start = performance.now();
  let n = 0;
  const timer = setInterval(() => {
    const due = Math.min(Math.floor(((performance.now() - start) / 1000) * rate), rate * seconds);
    let chunk = '';
    while (n < due) chunk += line(n++);
    if (chunk) writeSync(fd, chunk);
    if (n >= rate * seconds) {
      clearInterval(timer);
      closeSync(fd);
      process.exit(0);
    }
  }, 10);
} else if (process.argv[2] === '--floor') {
  // ───────────── the floor (child process): follow one file into SQLite, nothing else ─────────────
  const [, , , path, dbPath] = process.argv;
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS lines (seq INTEGER PRIMARY KEY, offset INTEGER, bytes BLOB, leaf BLOB)');
  const insert = db.prepare('INSERT INTO lines (seq, offset, bytes, leaf) VALUES (?, ?, ?, ?)');
  let seq = 0;
  let offset = 0;
  let rest = Buffer.alloc(0);
  let pending = [];
  const commit = db.transaction((rows) => {
    for (const r of rows) insert.run(r);
  });
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  const readNew = () => {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) return;
      const data = Buffer.concat([rest, buf.subarray(0, n)]);
      let start = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        const bytes = data.subarray(start, nl);
        pending.push([seq++, offset - rest.length + start, Buffer.from(bytes), createHash('sha256').update(bytes).digest()]);
        start = nl + 1;
      }
      rest = Buffer.from(data.subarray(start));
      offset += n;
    }
  };
  watch(path, () => readNew());
  setInterval(() => {
    readNew();
    if (pending.length > 0) {
      commit(pending);
      pending = [];
    }
  }, 250);
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
} else {
  await main();
}

async function main() {
  const rate = Number(process.argv[2] ?? 1000);
  const seconds = Number(process.argv[3] ?? 30);
  const rounds = Number(process.argv[4] ?? 2);
  const CLI = resolve('dist/src/cli.js');
  const { SERVICE_ENVIRONMENT, SERVICE_NODE_FLAGS } = await import('../../dist/agent/install.js');
  const clkTck = (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  const cpuTicks = (pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  };
  const rssKb = (pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const root = mkdtempSync(join(tmpdir(), 'custody-bench-steady-'));

  /** Starts a follower, waits until it is ready, runs the writer, samples the follower once a second. */
  async function measure(name, command, ready, serviceEnv = {}) {
    const dir = join(root, `${name}-${Math.random().toString(36).slice(2, 8)}`);
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const file = join(logs, 'app.log');
    appendFileSync(file, '');
    const child = spawn(process.execPath, command(dir, file), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...serviceEnv } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', (code) => r(code)));
    while (!ready(out)) {
      if (child.exitCode !== null) throw new Error(`${name} exited early:\n${out}`);
      await sleep(50);
    }
    await sleep(1000);
    const writer = spawn(process.execPath, [SELF, '--writer', file, String(rate), String(seconds)], { stdio: 'inherit' });
    const writerDone = new Promise((r) => writer.once('exit', r));
    // Skip the first 2 s (start of the stream), then sample the steady state to the writer's end.
    await sleep(2000);
    const t0 = performance.now();
    const ticks0 = cpuTicks(child.pid);
    const rss = [];
    let done = false;
    writerDone.then(() => (done = true));
    while (!done) {
      await sleep(1000);
      if (!done) rss.push(rssKb(child.pid));
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = (cpuTicks(child.pid) - ticks0) / clkTck;
    child.kill('SIGTERM');
    const code = await exited;
    rss.sort((a, b) => a - b);
    return { cpuPct: (cpuS / wallS) * 100, rssMaxMb: rss.at(-1) / 1024, rssMedianMb: rss[Math.floor(rss.length / 2)] / 1024, samples: rss.length, code };
  }

  const agent = (flags) => (dir, file) => [...flags, CLI, 'agent', 'run', '--store', join(dir, 'store'), '--watch', file];
  const agentReady = (out) => out.includes('"evt":"agent.ready"');
  const variants = [
    { name: 'floor', title: 'floor: minimal follower (fs.watch, read, split, SHA-256, SQLite row per line, WAL, synchronous=FULL, a transaction per 250 ms)', command: (dir, file) => [SELF, '--floor', file, join(dir, 'floor.sqlite')], ready: (out) => out.includes('ready') },
    { name: 'plain', title: '`custody agent run` (no node flags)', command: agent([]), ready: agentReady },
    { name: 'service', title: `\`custody agent run\` as installed (${installedService(SERVICE_NODE_FLAGS, SERVICE_ENVIRONMENT)})`, command: agent([...SERVICE_NODE_FLAGS]), ready: agentReady, env: SERVICE_ENVIRONMENT },
  ];
  const results = new Map(variants.map((v) => [v.name, []]));
  const loadStart = loadavg().map((x) => x.toFixed(2)).join(' ');
  for (let r = 0; r < rounds; r++) for (const v of variants) results.get(v.name).push(await measure(v.name, v.command, v.ready, v.env));
  const loadEnd = loadavg().map((x) => x.toFixed(2)).join(' ');
  rmSync(root, { recursive: true, force: true });

  const f1 = (x) => x.toFixed(1);
  const lines = [
    `## The agent at a steady ${rate.toLocaleString('en-US')} lines/s`,
    '',
    `Command: \`npm run build && node scripts/bench/agent-steady.mjs ${rate} ${seconds} ${rounds}\``,
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}. Load average (1/5/15 min) at the start: ${loadStart}; at the end: ${loadEnd}.`,
    '',
    `One file, appended to by a separate writer process every 10 ms at ${rate.toLocaleString('en-US')} lines/s for ${seconds} s; the follower process sampled once a second from /proc after the first 2 s (CPU = its user + system time, all threads, over the steady window; RSS = VmRSS). Each round runs every variant in turn; all rounds shown.`,
    '',
    '| follower | CPU, % of one core (each round) | RSS max, MB (each round) | RSS median, MB | goal (≤ 10 %, ≤ 80 MB) |',
    '|---|---|---|---|---|',
  ];
  for (const v of variants) {
    const rs = results.get(v.name);
    const met = v.name === 'floor' ? 'reference' : rs.every((x) => x.cpuPct <= 10 && x.rssMaxMb <= 80) ? 'met' : 'NOT met';
    lines.push(`| ${v.title} | ${rs.map((x) => f1(x.cpuPct)).join(', ')} | ${rs.map((x) => f1(x.rssMaxMb)).join(', ')} | ${rs.map((x) => f1(x.rssMedianMb)).join(', ')} | ${met} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
