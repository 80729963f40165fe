#!/usr/bin/env node
/**
 * Idle footprint of `custody agent run`: RSS and CPU of the agent process watching a few files
 * with nothing happening, read from /proc/PID/status and /proc/PID/stat (Linux).
 *
 *   npm run build && node scripts/bench/agent-idle.mjs [seconds=30] [files=5] [--vault]
 *
 * Measures the plain command and the command as the installed service runs it (with the node
 * flags of agent/install.ts). Prints a markdown section. Goal: idle RSS ≤ 80 MB.
 * With --vault, also both with a `vault:` block shipping to a local Ceph RGW (scripts/vault/
 * rgw-start.sh, memstore, started in a temporary folder and purged at the end): the same run, so
 * the columns without the vault are the reference for what shipping adds.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_ENVIRONMENT, SERVICE_NODE_FLAGS } from '../../dist/agent/install.js';
import { startLocalRgw } from '../vault/local-rgw.mjs';
import { installedService } from './shared.mjs';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const withVault = process.argv.includes('--vault');
const seconds = Number(positional[0] ?? 30);
const fileCount = Number(positional[1] ?? 5);
const GOAL_RSS_MB = 80;
const CLI = resolve('dist/src/cli.js');

const clkTck = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? 0) };
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (kb) => (kb / 1024).toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'custody-bench-idle-'));
const logs = join(dir, 'logs');
mkdirSync(logs);
for (let i = 0; i < fileCount; i++) {
  writeFileSync(join(logs, `app${i}.log`), Array.from({ length: 1000 }, (_, n) => `2026-11-23T10:00:00Z host app${i}[42]: existing line ${n}\n`).join(''));
}


/** A local RGW and a vault bucket in it, for the --vault variants: its environment (endpoint, keys). */
let rgwDir;
let vaultEnv;
if (withVault) {
  rgwDir = join(dir, 'rgw');
  vaultEnv = await startLocalRgw(rgwDir, { osdSizeMb: 1024 });
  const init = spawnSync(process.execPath, [CLI, 'vault', 'init', 's3://bench-idle', '--retention', '1d'], { encoding: 'utf8', env: { ...process.env, ...vaultEnv } });
  if (init.status !== 0) throw new Error(`vault init failed: ${init.stderr}`);
}

/** Starts the agent with the given node flags, lets it read the files, then measures it idle. */
async function measure(nodeFlags, name, vault, serviceEnv = {}) {
  const store = join(dir, `store-${name}`);
  let args = ['agent', 'run', '--store', store, '--watch', join(logs, '*.log')];
  let env = process.env;
  if (vault) {
    // Only a configuration file has a vault block; the vault's defaults (a round every 10 s).
    const config = join(dir, `agent-${name}.yaml`);
    writeFileSync(config, `store: ${store}\nsources: { files: { watch: ["${join(logs, '*.log')}"] } }\nvault: { url: "s3://bench-idle/${name}", endpoint: "${vaultEnv.AWS_ENDPOINT_URL}" }\n`);
    args = ['agent', 'run', '--config', config];
    env = { ...process.env, AWS_ACCESS_KEY_ID: vaultEnv.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: vaultEnv.AWS_SECRET_ACCESS_KEY, AWS_REGION: vaultEnv.AWS_REGION };
  }
  env = { ...env, ...serviceEnv };
  const child = spawn(process.execPath, [...nodeFlags, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));

  const startedAt = performance.now();
  while (!stderr.includes('"evt":"agent.ready"')) {
    if (child.exitCode !== null) throw new Error(`agent exited early:\n${stderr}`);
    await sleep(50);
  }
  const readyMs = performance.now() - startedAt;
  // Let the initial read of the existing lines finish before measuring idle.
  await sleep(3000);

  const samples = [];
  const t0 = performance.now();
  const ticks0 = cpuTicks(child.pid);
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    samples.push(procStatus(child.pid));
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = (cpuTicks(child.pid) - ticks0) / clkTck;
  const last = samples.at(-1);
  const rss = samples.map((x) => x.rssKb).sort((a, b) => a - b);
  // With a vault: how far it is behind the store after the idle period (the agent's own status).
  let lag = '';
  if (vault) {
    const st = JSON.parse(execFileSync(process.execPath, [CLI, 'agent', 'status', '--store', store, '--json'], { encoding: 'utf8' }));
    lag = st.vault ? `${st.vault.lagRecords} records (of ${st.records.total}), ${st.vault.failures} failed rounds` : 'no vault section';
  }
  const stopT = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  return {
    readyMs,
    lastKb: last.rssKb,
    medianKb: rss[Math.floor(rss.length / 2)],
    maxKb: rss.at(-1),
    hwmKb: last.hwmKb,
    cpuPct: (cpuS / wallS) * 100,
    cpuS,
    wallS,
    threads: last.threads,
    stopMs: performance.now() - stopT,
    code,
    lag,
  };
}

const variants = [
  { name: 'plain', title: '`custody agent run` (no node flags)', flags: [] },
  { name: 'service', title: `as installed (${installedService(SERVICE_NODE_FLAGS, SERVICE_ENVIRONMENT)})`, flags: [...SERVICE_NODE_FLAGS], env: SERVICE_ENVIRONMENT },
];
if (withVault) {
  variants.push(
    { name: 'plain-vault', title: 'no node flags, with a vault', flags: [], vault: true },
    { name: 'service-vault', title: 'as installed, with a vault', flags: [...SERVICE_NODE_FLAGS], vault: true, env: SERVICE_ENVIRONMENT },
  );
}
const results = [];
try {
  for (const v of variants) results.push(await measure(v.flags, v.name, v.vault === true, v.env));
} finally {
  if (rgwDir) spawnSync('bash', [resolve('scripts/vault/rgw-stop.sh'), rgwDir, '--purge'], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
}

const ok = (r) => r.maxKb / 1024 <= GOAL_RSS_MB;
const row = (label, f) => `| ${label} | ${results.map(f).join(' | ')} |`;
process.stdout.write(`## Agent idle footprint

Command: \`node [FLAGS] dist/src/cli.js agent run --store STORE --watch 'LOGS/*.log'\` — ${fileCount} files of 1000 lines, read first, then ${seconds} s idle, sampled once a second from /proc/PID/status and /proc/PID/stat.
Machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, ${process.platform}-${process.arch}.
Reproduce: \`npm run build && node scripts/bench/agent-idle.mjs ${seconds} ${fileCount}\`

| measure | ${variants.map((v) => v.title).join(' | ')} |
|---|${variants.map(() => '---').join('|')}|
${row('start to ready', (r) => `${r.readyMs.toFixed(0)} ms`)}
${row('idle RSS, median', (r) => `${mb(r.medianKb)} MB`)}
${row(`idle RSS, max (goal ≤ ${GOAL_RSS_MB} MB)`, (r) => `${mb(r.maxKb)} MB ${ok(r) ? 'met' : 'NOT met'}`)}
${row('peak RSS since start (VmHWM)', (r) => `${mb(r.hwmKb)} MB`)}
${row('idle CPU', (r) => `${r.cpuPct.toFixed(2)} % of a core (${r.cpuS.toFixed(2)} s in ${r.wallS.toFixed(0)} s)`)}
${row('threads', (r) => String(r.threads))}
${row('SIGTERM to exit', (r) => `${r.stopMs.toFixed(0)} ms, exit ${r.code}`)}
${withVault ? `${row('vault lag after the idle period', (r) => r.lag || '—')}\n` : ''}`);
process.exitCode = results.every((r) => r.code === 0) && ok(results[1]) && (!withVault || ok(results[3])) ? 0 : 1;
