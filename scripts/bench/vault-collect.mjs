// `collect --vault` of a many-host case (issue 12) against a raw GET of the same objects, in the same
// run: collectCase from dist/ (every host from the vault: listing, reading, checking against the
// seals, writing the store snapshots, verifying them, the timeline and tables, the legal holds,
// sealing the bundle; no report) vs a loop that lists each store's versions and GETs every object
// version collect read, with the same concurrency (4 stores at a time, 8 GETs each) and the same S3
// client settings. Goal: collect ≤ 3× the raw GET. Writes a Markdown section to stdout.
//
// The vault is a local Ceph RGW (scripts/vault/rgw-start.sh, memstore) started in a temporary folder
// on free ports and stopped at the end, or an already running one: --rgw-dir DIR (its s3.env).
//
// With --window F (0 < F < 1): the stores are written on a driven clock (one record every 100 ms; the
// default policy then seals at each full batch of 256 records), and each run also times a `--since/--until` collect
// of the middle F of that time span, with the objects it read and the records it holds, against the
// whole collect of the same run.
//
// Usage: npx tsc -p tsconfig.json && node scripts/bench/vault-collect.mjs --hosts 50 --records 2000 --runs 3 > bench-results/vault-collect.md
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { authLine } from './shared.mjs';
import { readS3Env, startLocalRgw } from '../vault/local-rgw.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
const { shipStore } = await import(dist('agent/ship/shipper.js'));
const { openVault, vaultInit } = await import(dist('collector/vault.js'));
const { collectCase } = await import(dist('collector/collect.js'));
const { EvidenceStore } = await import(dist('src/store/evidence-store.js'));
const { StateStore } = await import(dist('src/store/state-store.js'));
const { storePrefix } = await import(dist('src/vault/layout.js'));
const { listVaultStores, mapBounded } = await import(dist('src/vault/read.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const HOSTS = Number(arg('hosts', 50));
const RECORDS = Number(arg('records', 2000));
const RUNS = Number(arg('runs', 3));
const RGW_DIR = arg('rgw-dir', undefined);
const WINDOW = arg('window', undefined) === undefined ? undefined : Number(arg('window', undefined));
if (WINDOW !== undefined && !(WINDOW > 0 && WINDOW < 1)) throw new Error('--window is a fraction of the time span, between 0 and 1');
const T0 = Date.parse('2026-12-05T00:00:00.000Z');
const STEP_MS = 100;
const windowBounds = () => {
  const span = RECORDS * STEP_MS;
  const since = T0 + Math.round(((1 - WINDOW) / 2) * span);
  return { since: new Date(since).toISOString(), until: new Date(since + Math.round(WINDOW * span)).toISOString() };
};
const log = (s) => process.stderr.write(`[vault-collect] ${s}\n`);
const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const T_START = Date.now();
const loadStart = loadavg();

const work = mkdtempSync(join(tmpdir(), 'custody-bench-vcollect-'));
let rgwDir = RGW_DIR;
let startedRgw = false;
try {
  if (rgwDir === undefined) {
    rgwDir = join(work, 'rgw');
    await startLocalRgw(rgwDir, { osdSizeMb: 4096 });
    startedRgw = true;
  }
  const env = { ...readS3Env(rgwDir), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const url = `s3://bench-collect-${process.pid}`;
  await vaultInit({ url, retention: '1d', env });
  const client = openVault({ url, env });

  // ---- the fleet, shipped (untimed) ----
  log(`building and shipping ${HOSTS} stores of ${RECORDS} records`);
  const tBuild = Date.now();
  for (let s = 0; s < HOSTS; s++) {
    const host = `host-${String(s).padStart(3, '0')}`;
    const dir = join(work, 'stores', host);
    let t = T0;
    const driven = { nowMs: () => t, monoNs: () => BigInt(t) * 1_000_000n };
    const { store } = EvidenceStore.create(dir, { host, bootId: `boot-${s}`, ...(WINDOW !== undefined ? { clock: driven } : {}) });
    let offset = 0;
    for (let i = 0; i < RECORDS; i++, t += STEP_MS) {
      const text = authLine(i + s * RECORDS, host);
      store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset, line_no: i + 1, length: Buffer.byteLength(text), text });
      offset += Buffer.byteLength(text) + 1;
    }
    store.close({ finalCheckpoint: true });
    const state = new StateStore(dir);
    await shipStore(dir, client, state);
    state.close();
    rmSync(dir, { recursive: true, force: true }); // the case is collected from the vault alone
  }
  const buildSeconds = (Date.now() - tBuild) / 1000;

  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  // The raw side: what collect must at least do to have the bytes: list each store's versions, GET each.
  const rawGet = async () => {
    const t0 = process.hrtime.bigint();
    const c0 = cpu();
    const raw = openVault({ url, env });
    let objects = 0;
    let bytes = 0;
    const stores = await listVaultStores(raw);
    await mapBounded(stores, 4, async (s) => {
      const versions = await raw.listVersions(storePrefix('', s.host, s.storeId));
      await mapBounded(versions, 8, async (v) => {
        const got = await raw.get(v.key, v.versionId);
        objects++;
        bytes += got.body.length;
      });
    });
    raw.destroy();
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: cpu() - c0, objects, bytes };
  };
  const collect = async (run, window) => {
    const t0 = process.hrtime.bigint();
    const c0 = cpu();
    const out = join(work, `bundle-${run}${window ? '-w' : ''}`);
    const summary = await collectCase(
      { caseId: `BENCH-${run}${window ? '-W' : ''}`, stores: [], out, report: false, vault: { access: { url, env }, allHosts: true, ...(window ?? {}) } },
      { clock: { nowMs: () => Date.now(), monoNs: () => process.hrtime.bigint() }, collectorHost: 'bench', version: 'bench', codeSha256: '0'.repeat(64) },
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const ok = summary.hosts.length === HOSTS && summary.hosts.every((h) => h.verified && (window !== undefined ? h.window !== undefined : h.records === RECORDS));
    const records = summary.hosts.reduce((n, h) => n + h.records, 0);
    rmSync(out, { recursive: true, force: true });
    return { seconds, cpuSeconds: cpu() - c0, ok, held: summary.holds?.held ?? 0, records };
  };

  const runs = [];
  for (let run = 1; run <= RUNS; run++) {
    const collectFirst = run % 2 === 1;
    let c;
    let r;
    if (collectFirst) {
      c = await collect(run);
      r = await rawGet();
    } else {
      r = await rawGet();
      c = await collect(run);
    }
    const w = WINDOW !== undefined ? await collect(run, windowBounds()) : undefined;
    runs.push({ run, order: collectFirst ? 'collect' : 'raw GET', collect: c, raw: r, window: w });
    log(`run ${run}: collect ${c.seconds.toFixed(2)} s, raw GET ${r.seconds.toFixed(2)} s${w ? `, window collect ${w.seconds.toFixed(2)} s` : ''}`);
  }
  client.destroy();

  const ratios = runs.map((x) => x.collect.seconds / x.raw.seconds);
  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
  const o = runs[0].raw.objects;
  const out = [];
  out.push('## Collecting a case from the vault (`collect --vault`)');
  out.push('');
  out.push(`Command: \`npx tsc -p tsconfig.json && node scripts/bench/vault-collect.mjs --hosts ${HOSTS} --records ${RECORDS} --runs ${RUNS}${WINDOW !== undefined ? ` --window ${WINDOW}` : ''}\`. The whole run took ${fmt((Date.now() - T_START) / 1000)} s, ${fmt(buildSeconds)} s of it building and shipping the stores. Load average (1/5/15 min) at the start: ${loadStart}; at the end: ${loadavg()}.`);
  out.push('');
  out.push(`Input: ${HOSTS} hosts, each one store of ${fmt(RECORDS)} \`log.line\` records (auth.log lines, the default policy, closed with a final checkpoint), shipped with \`shipStore\` into one lock bucket on a local RGW (memstore) and then deleted: ${fmt(HOSTS * RECORDS)} records, ${fmt(o)} objects, ${(runs[0].raw.bytes / 1048576).toFixed(1)} MiB. Collect = \`collectCase\` from \`dist/\` with \`--vault --all-hosts\`, no report (listing, reading every object version, the seals and key chain checked, the store snapshots written and verified, witness notes, timeline and tables, a legal hold on each version and the case record, the bundle sealed). Raw GET = list each store's versions and GET every one of them, the same concurrency (4 stores at a time, 8 GETs each) and client settings; runs alternate which goes first. Ratio = collect / raw (goal ≤ 3×).`);
  out.push('');
  out.push('| run | first | collect s | collect records/s | holds placed | raw GET s | raw objects/s | raw MiB/s | ratio | collect CPU s | raw CPU s |');
  out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of runs) {
    out.push(`| ${x.run} | ${x.order} | ${x.collect.seconds.toFixed(2)} | ${fmt((HOSTS * RECORDS) / x.collect.seconds)} | ${fmt(x.collect.held)} | ${x.raw.seconds.toFixed(2)} | ${fmt(x.raw.objects / x.raw.seconds)} | ${(x.raw.bytes / 1048576 / x.raw.seconds).toFixed(1)} | **${(x.collect.seconds / x.raw.seconds).toFixed(2)}×** | ${x.collect.cpuSeconds.toFixed(2)} | ${x.raw.cpuSeconds.toFixed(2)} |`);
  }
  out.push('');
  out.push(`Every collect verified all ${HOSTS} hosts with every record: ${runs.every((x) => x.collect.ok) ? 'yes' : 'NO'}. Median ratio ${median.toFixed(2)}× (all runs: ${ratios.map((x) => x.toFixed(2)).join(', ')}); goal ≤ 3×: ${ratios.every((x) => x <= 3) ? 'met in every run' : median <= 3 ? 'met on the median, not in every run' : 'not met'}.`);
  if (WINDOW !== undefined) {
    const b = windowBounds();
    out.push('');
    out.push(`### A time window (\`--window ${WINDOW}\`)`);
    out.push('');
    out.push(`The stores were written on a driven clock, one record every ${STEP_MS} ms (the default policy then seals at each full batch of 256 records, so each store is ${Math.ceil(RECORDS / 256)} segments and as many checkpoints or so). After each run's whole collect and raw GET, a windowed collect of every host: \`--since ${b.since} --until ${b.until}\` (the middle ${WINDOW * 100}% of the span). Window / whole = the windowed collect's time over the whole collect's in the same run.`);
    out.push('');
    out.push('| run | whole collect s | whole versions held | whole records | window collect s | window versions held | window records | window / whole |');
    out.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of runs) out.push(`| ${x.run} | ${x.collect.seconds.toFixed(2)} | ${fmt(x.collect.held)} | ${fmt(x.collect.records)} | ${x.window.seconds.toFixed(2)} | ${fmt(x.window.held)} | ${fmt(x.window.records)} | **${(x.window.seconds / x.collect.seconds).toFixed(2)}×** |`);
    out.push('');
    out.push(`Every windowed collect verified every host as a window: ${runs.every((x) => x.window.ok) ? 'yes' : 'NO'}.`);
  }
  process.stdout.write(out.join('\n') + '\n');
} finally {
  if (startedRgw) spawnSync('bash', [join(root, 'scripts/vault/rgw-stop.sh'), rgwDir, '--purge'], { encoding: 'utf8' });
  rmSync(work, { recursive: true, force: true });
}
