#!/usr/bin/env node
/**
 * Does shipping to a vault slow local preservation? The built agent (`custody agent run --config`)
 * reads a log of LINES lines from its start, with and without a `vault:` block, in the same run
 * (alternating which goes first): lines/s until every line is committed in the store, and, with the
 * vault, how long after that until the vault holds every record (the agent's own acknowledgements).
 * The vault is a local Ceph RGW (scripts/vault/rgw-start.sh, memstore) started in a temporary folder
 * and purged at the end. Progress is read from the store with the read-only store reader every
 * 100 ms (the agent is never asked).
 *
 *   npx tsc -p tsconfig.json && node scripts/bench/agent-ship-ingest.mjs [lines=300000] [runs=2]
 *
 * Prints a markdown section. No goal is set by the issue beyond "never slows or blocks local
 * preservation": the ratio with/without is what to read.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLocalRgw } from '../vault/local-rgw.mjs';

const LINES = Number(process.argv[2] ?? 300_000);
const RUNS = Number(process.argv[3] ?? 2);
const CLI = resolve('dist/src/cli.js');
const { SqliteStoreReader } = await import(pathToFileURL(resolve('dist/src/store/store-reader.js')).href);
const { StateStore } = await import(pathToFileURL(resolve('dist/src/store/state-store.js')).href);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const log = (s) => process.stderr.write(`[agent-ship-ingest] ${s}\n`);
const loadStart = loadavg();
const T0 = Date.now();


const dir = mkdtempSync(join(tmpdir(), 'custody-bench-ship-ingest-'));
const rgwDir = join(dir, 'rgw');
const vaultEnv = await startLocalRgw(rgwDir, { osdSizeMb: 2048 });
const agentEnv = { ...process.env, AWS_ACCESS_KEY_ID: vaultEnv.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: vaultEnv.AWS_SECRET_ACCESS_KEY, AWS_REGION: vaultEnv.AWS_REGION };
const init = spawnSync(process.execPath, [CLI, 'vault', 'init', 's3://bench-ship-ingest', '--retention', '1d'], { encoding: 'utf8', env: { ...process.env, ...vaultEnv } });
if (init.status !== 0) throw new Error(`vault init failed: ${init.stderr}`);

const logText = Array.from({ length: LINES }, (_, i) => `2026-12-05T10:00:00.${String(i % 1e6).padStart(6, '0')}Z web-01 sshd[${1000 + (i % 5000)}]: Accepted publickey for user${i % 97} from 10.0.${i % 256}.${(i * 7) % 256} port ${1024 + (i % 60000)} ssh2\n`).join('');
const logBytes = Buffer.byteLength(logText);

function lineCount(store) {
  try {
    const reader = new SqliteStoreReader(store);
    try {
      return reader.kindCounts().get('log.line') ?? 0;
    } finally {
      reader.close();
    }
  } catch {
    return 0; // not created yet
  }
}

function shippedRecords(store, url) {
  try {
    const state = new StateStore(store);
    try {
      const acked = state.get('ship.acknowledged');
      return acked?.vault === url ? acked.segmentEnd : 0;
    } finally {
      state.close();
    }
  } catch {
    return 0;
  }
}

function storeSize(store) {
  const reader = new SqliteStoreReader(store);
  try {
    return reader.recordsFromSummary(0).records;
  } finally {
    reader.close();
  }
}

async function measure(name, withVault) {
  const base = join(dir, name);
  mkdirSync(base);
  const logPath = join(base, 'auth.log');
  writeFileSync(logPath, logText);
  const store = join(base, 'store');
  const url = `s3://bench-ship-ingest/${name}`;
  const config = join(base, 'agent.yaml');
  writeFileSync(config, `store: ${store}\nsources: { files: { watch: ["${logPath}"], startAt: beginning } }\nheartbeatInterval: 1h\n${withVault ? `vault: { url: "${url}", endpoint: "${vaultEnv.AWS_ENDPOINT_URL}", interval: 1s }\n` : ''}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'agent', 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnv });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  while (lineCount(store) < LINES) {
    if (child.exitCode !== null) throw new Error(`agent exited early:\n${stderr}`);
    await sleep(100);
  }
  const ingestS = (performance.now() - t0) / 1000;
  let shippedS;
  if (withVault) {
    // Until the vault has every line (and what the agent wrote before them): its acknowledgements.
    while (shippedRecords(store, url) < LINES) await sleep(100);
    shippedS = (performance.now() - t0) / 1000;
  }
  child.kill('SIGTERM');
  const code = await exited;
  const total = storeSize(store);
  return { name, withVault, ingestS, linesPerS: LINES / ingestS, shippedS, code, total, failedRounds: (stderr.match(/"evt":"vault.failed"/g) ?? []).length };
}

const results = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const order = run % 2 === 1 ? [false, true] : [true, false];
    for (const withVault of order) {
      const r = await measure(`run${run}-${withVault ? 'vault' : 'local'}`, withVault);
      r.run = run;
      results.push(r);
      log(`run ${run} ${withVault ? 'with vault' : 'without'}: ${r.linesPerS.toFixed(0)} lines/s${withVault ? `, shipped after ${r.shippedS.toFixed(1)} s` : ''}`);
    }
  }
} finally {
  spawnSync('bash', [resolve('scripts/vault/rgw-stop.sh'), rgwDir, '--purge'], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const rows = [];
for (let run = 1; run <= RUNS; run++) {
  const local = results.find((r) => r.run === run && !r.withVault);
  const vault = results.find((r) => r.run === run && r.withVault);
  rows.push(`| ${run} | ${run % 2 === 1 ? 'without first' : 'with first'} | ${local.ingestS.toFixed(2)} | ${fmt(local.linesPerS)} | ${vault.ingestS.toFixed(2)} | ${fmt(vault.linesPerS)} | **${(vault.linesPerS / local.linesPerS).toFixed(2)}×** | ${vault.shippedS.toFixed(2)} | ${vault.failedRounds} | ${local.code}/${vault.code} |`);
}
const ratios = rows.length ? results.filter((r) => r.withVault).map((v) => v.linesPerS / results.find((l) => l.run === v.run && !l.withVault).linesPerS) : [];
process.stdout.write(`## Agent: local preservation with and without shipping to a vault

Machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}; the RGW (memstore) runs on the same machine.
Command: \`npx tsc -p tsconfig.json && node scripts/bench/agent-ship-ingest.mjs ${LINES} ${RUNS}\`. The whole run took ${((Date.now() - T0) / 1000).toFixed(0)} s. Load average (1/5/15 min) at the start: ${loadStart}; at the end: ${loadavg()}.

Each measurement starts the built agent (\`custody agent run --config\`, default policy, heartbeats off) on a fresh store and a log of ${fmt(LINES)} sshd lines (${(logBytes / 2 ** 20).toFixed(1)} MiB) read from its start; "ingest" is from the spawn until the store holds every line (read-only store reader, every 100 ms). With a vault, the configuration adds \`vault: { url, endpoint, interval: 1s }\` (20,000 records a round) and "vault has all" is from the spawn until the agent's acknowledgements cover every line. Runs alternate which goes first.

| run | order | without vault: ingest s | lines/s | with vault: ingest s | lines/s | with / without | with vault: vault has all, s | failed rounds | exit codes |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

With / without, all runs: ${ratios.map((x) => x.toFixed(2)).join(', ')}.
`);
