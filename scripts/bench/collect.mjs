#!/usr/bin/env node
/**
 * Collect and bundle-verify benchmarks (issue 5), all in ONE run on the same machine:
 *
 *   (a) `collectCase` of three stores of N records each (three hosts), with `--tar`: wall time,
 *       records/s, store bytes/s, CPU, peak RSS (VmHWM of its own child process) and its phases
 *       (timed from the stages it reports through `onProgress`);
 *   (b) the reference `tar cf - <the three store folders> | sha256sum` over the same files;
 *   (c) `verifyBundle` of the bundle folder collect produced (wall time, CPU, peak RSS), and the
 *       part of it hashdeep also does, hashing every file of the bundle with the very function
 *       verify uses (`walkBundleDir` + `hashFile`), timed alone in its own process: verifyBundle
 *       reports no phase timings, so this pass is the stand-in for its file-hashing phase;
 *   (d) the reference hashdeep audit of the same bundle, the command the README gives
 *       (`HASHDEEP_AUDIT_COMMAND` from dist/collector/collect.js), run in the bundle folder.
 *
 *   npm run bench:collect                   # builds, then runs at 1,000,000 records per store
 *   node scripts/bench/collect.mjs [options]
 *
 * Options:
 *   --records N       records per store (default 1000000)
 *   --cache DIR       keep the built stores here and reuse them on later runs (default: a
 *                     temporary folder, removed at the end); stores are DIR/<host>-<N>
 *   --rounds N        interleaved rounds of every measurement, the fastest of each kept (default 1)
 *   --work-dir DIR    where the bundle and its tar are written (default: the OS temp folder)
 *   --out FILE        where the markdown goes (default bench-results/collect.md)
 *   --keep            keep the work folder (the bundle and the tar)
 *   --collect-only    measure collect and its reference only (no bundle verify, no hashdeep)
 *   --floors          also time, on the bundle collect wrote, what no collect can go below here:
 *                     `cat` of its files into one new file (writing the bundle's bytes once) and
 *                     `tar cf - . | sha256sum` in it (reading and hashing them once, as --tar does)
 *
 * Disk: at 1,000,000 records per store the three stores take about 1.7 GB (in --cache), the bundle
 * about as much again plus its timeline and tables, and the tar as much as the bundle.
 *
 * Imports library modules from dist/ directly (not the CLI). Each custody measurement runs in its
 * own child process so that its peak RSS (VmHWM, all threads) is its own.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { authLine, peakRssMiB } from './shared.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const DIST = join(root, 'dist');
const HOSTS = ['web-01', 'web-02', 'db-01'];
const CASE_ID = 'IR-BENCH-COLLECT';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  return process.argv[i + 1];
}
const flag = (name) => process.argv.includes(`--${name}`);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const mib = (bytes) => bytes / 2 ** 20;
const distUrl = (rel) => pathToFileURL(join(DIST, rel)).href;



/** Regular files under `dir` (recursively): count and bytes. */
function treeBytes(dir) {
  let bytes = 0;
  let files = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      const t = treeBytes(p);
      bytes += t.bytes;
      files += t.files;
    } else if (st.isFile()) {
      bytes += st.size;
      files++;
    }
  }
  return { bytes, files };
}

/** CPU seconds (user + system) of this process's waited-for children so far (/proc/self/stat cutime + cstime). */
function childrenCpuSeconds() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Child modes: one measurement per process, result as one JSON line on stdout.
// ---------------------------------------------------------------------------------------------

async function childCollect(out, storeDirs) {
  const { collectCase } = await import(distUrl('collector/collect.js'));
  const { systemClock } = await import(distUrl('src/clock.js'));
  const { codeHash, custodyVersion } = await import(distUrl('src/version.js'));
  const deps0 = { clock: systemClock, collectorHost: 'bench-collector', version: custodyVersion(), codeSha256: codeHash() };
  const rssBefore = peakRssMiB();
  // Phases: the time from each change of `stage` to the next (stages repeat per store).
  const phases = {};
  let stage = 'setup';
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let tStage = t0;
  const onProgress = (p) => {
    if (p.stage === stage) return;
    const now = process.hrtime.bigint();
    phases[stage] = (phases[stage] ?? 0) + Number(now - tStage) / 1e9;
    stage = p.stage;
    tStage = now;
  };
  const summary = await collectCase({ caseId: CASE_ID, stores: storeDirs, out, tar: true, examiner: 'Bench Runner, custody' }, { ...deps0, onProgress });
  const now = process.hrtime.bigint();
  if (stage !== 'done') phases[stage] = (phases[stage] ?? 0) + Number(now - tStage) / 1e9;
  const seconds = Number(now - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  return {
    seconds,
    cpuSeconds: (c1.user + c1.system) / 1e6,
    peakRssMiB: peakRssMiB(),
    rssBeforeMiB: rssBefore,
    phases,
    records: summary.hosts.reduce((n, h) => n + h.records, 0),
    verified: summary.hosts.every((h) => h.verified),
    hosts: summary.hosts.length,
    timelineEntries: summary.timeline_entries,
    files: summary.files,
    bundleBytes: summary.bytes,
    tarBytes: summary.tar?.size ?? 0,
    tarPath: summary.tar?.path,
    collectorKey: summary.collector.fingerprint,
  };
}

async function childVerify(bundle, collectorKey, deep = false) {
  const { verifyBundle } = await import(distUrl('collector/verify-bundle.js'));
  const rssBefore = peakRssMiB();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await verifyBundle(bundle, { collectorKey, deep });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  return {
    seconds,
    cpuSeconds: (c1.user + c1.system) / 1e6,
    peakRssMiB: peakRssMiB(),
    rssBeforeMiB: rssBefore,
    ok: r.ok,
    errors: r.findings.filter((f) => f.severity === 'error').map((f) => `${f.code} at ${f.where}`),
    warnings: r.findings.filter((f) => f.severity === 'warning').length,
    files: r.files,
    records: r.hosts.reduce((n, h) => n + (h.store?.records ?? 0), 0),
  };
}

/** What verifyBundle does first: lstat-walk the folder and hash every regular file (hashFile: 4 MiB reads into one buffer), then compare with the manifest. */
async function childHash(bundle) {
  const { hashFile, walkBundleDir } = await import(distUrl('collector/bundle-files.js'));
  const rssBefore = peakRssMiB();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const actual = new Map();
  let bytes = 0;
  let notAuditedBytes = 0; // the files hashdeep's audit does not cover (it names its targets)
  for (const e of walkBundleDir(bundle)) {
    if (e.type !== 'file') continue;
    const h = await hashFile(join(bundle, e.path));
    actual.set(e.path, h);
    bytes += h.size;
    if (e.path === 'SHA256SUMS' || e.path === 'hashdeep.txt' || e.path === 'custody.jsonl') notAuditedBytes += h.size;
  }
  const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
  let matched = 0;
  for (const f of manifest.files) {
    const got = actual.get(f.path);
    if (got !== undefined && got.size === f.size && got.sha256 === f.sha256) matched++;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c1.user + c1.system) / 1e6, peakRssMiB: peakRssMiB(), rssBeforeMiB: rssBefore, files: actual.size, bytes, notAuditedBytes, listed: manifest.files.length, matched };
}

/** Not what verify runs: the same files read with readSync in 1 MiB chunks into one createHash each, for Node's SHA-256 ceiling here. */
function childHashRaw(bundle) {
  const rssBefore = peakRssMiB();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const buf = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  let files = 0;
  const visit = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) {
        const h = createHash('sha256');
        const fd = openSync(p, 'r');
        try {
          for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
            h.update(buf.subarray(0, n));
            bytes += n;
          }
        } finally {
          closeSync(fd);
        }
        h.digest('hex');
        files++;
      }
    }
  };
  visit(bundle);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c1.user + c1.system) / 1e6, peakRssMiB: peakRssMiB(), rssBeforeMiB: rssBefore, files, bytes };
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

function runChild(args) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1));
}

const HAVE_TIME = existsSync('/usr/bin/time');

/** Runs a shell pipeline (bash, pipefail): wall seconds, CPU seconds of everything it ran, peak RSS of its largest process (GNU time), stdout. */
function runShell(script, cwd) {
  const timeFile = join(tmpdir(), `custody-bench-time-${process.pid}`);
  const argv = HAVE_TIME ? ['/usr/bin/time', '-f', '%M', '-o', timeFile, 'bash', '-c', `set -o pipefail; ${script}`] : ['bash', '-c', `set -o pipefail; ${script}`];
  const cpu0 = childrenCpuSeconds();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, encoding: 'utf8', maxBuffer: 1 << 24 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = childrenCpuSeconds() - cpu0;
  let peakRss;
  if (HAVE_TIME) {
    try {
      peakRss = Number(readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)) / 1024;
    } catch {
      peakRss = undefined;
    }
    rmSync(timeFile, { force: true });
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds, cpuSeconds, peakRssMiB: peakRss };
}

/** Builds (or reuses from the cache) one store of `records` auth.log `log.line` records for `host`. */
async function ensureStore(cache, host, records) {
  // `-v2`: lines laid out as the agent does (contiguous offsets); stores cached by earlier versions of this script are not reused.
  const dir = join(cache, `${host}-${records}-v2`);
  if (existsSync(join(dir, 'evidence.sqlite'))) {
    const db = new Database(join(dir, 'evidence.sqlite'), { readonly: true, fileMustExist: true });
    const n = db.prepare("SELECT count(*) AS n FROM records WHERE kind = 'log.line'").get().n;
    db.close();
    if (n === records) {
      process.stderr.write(`reusing ${dir} (${fmt(n)} log.line records)\n`);
      return { dir, built: false };
    }
    throw new Error(`${dir} holds ${n} log.line records, not ${records}: remove it or choose another --cache`);
  }
  const { EvidenceStore } = await import(distUrl('src/store/evidence-store.js'));
  mkdirSync(cache, { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const bootId = `c0ffee00-1111-2222-3333-${String(HOSTS.indexOf(host) + 1).padStart(12, '0')}`;
  const { store } = EvidenceStore.create(building, { host, bootId });
  const t0 = Date.now();
  let offset = 0;
  for (let i = 0; i < records; i++) {
    const text = authLine(i, host);
    const length = Buffer.byteLength(text);
    store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset, line_no: i + 1, length, text });
    offset += length + 1; // the newline: verify checks that lines are contiguous
    if ((i + 1) % 200000 === 0) process.stderr.write(`  ${host}: ${fmt(i + 1)} records\n`);
  }
  store.close({ finalCheckpoint: true });
  rmSync(join(building, 'writer.lock'), { force: true });
  renameSync(building, dir); // only complete stores ever carry the cache name
  process.stderr.write(`built ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return { dir, built: true };
}

async function main() {
  if (process.argv[2] === '--child') {
    const [mode, ...rest] = process.argv.slice(3);
    let result;
    if (mode === 'collect') result = await childCollect(rest[0], rest.slice(1));
    else if (mode === 'verify') result = await childVerify(rest[0], rest[1]);
    else if (mode === 'verify-deep') result = await childVerify(rest[0], rest[1], true);
    else if (mode === 'hash') result = await childHash(rest[0]);
    else if (mode === 'hash-raw') result = childHashRaw(rest[0]);
    else throw new Error(`unknown child mode ${mode}`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const records = Number(arg('records', '1000000'));
  const rounds = Number(arg('rounds', '1'));
  if (!Number.isInteger(records) || records < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error('--records and --rounds take positive integers');
  const out = resolve(root, arg('out', 'bench-results/collect.md'));
  for (const f of ['collector/collect.js', 'collector/verify-bundle.js', 'collector/bundle-files.js', 'src/store/evidence-store.js']) {
    if (!existsSync(join(DIST, f))) throw new Error(`dist/${f} is missing: run npm run build first`);
  }
  for (const tool of ['tar', 'sha256sum', 'hashdeep', 'bash']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (the references need it)`);
  }
  const { HASHDEEP_AUDIT_COMMAND } = await import(distUrl('collector/collect.js'));

  const started = Date.now();
  const loadBefore = loadAverage();
  const cacheArg = arg('cache', undefined);
  const cache = cacheArg !== undefined ? resolve(cacheArg) : mkdtempSync(join(tmpdir(), 'custody-bench-stores-'));
  const work = mkdtempSync(join(arg('work-dir', tmpdir()), 'custody-bench-collect-'));
  try {
    const stores = [];
    for (const host of HOSTS) stores.push({ host, ...(await ensureStore(cache, host, records)) });
    const storeNames = stores.map((s) => s.dir.slice(cache.length + 1));
    const input = stores.reduce((acc, s) => {
      const t = treeBytes(s.dir);
      return { bytes: acc.bytes + t.bytes, files: acc.files + t.files, evidence: acc.evidence + statSync(join(s.dir, 'evidence.sqlite')).size };
    }, { bytes: 0, files: 0, evidence: 0 });
    const storeSetup = { built: stores.filter((s) => s.built).length, secondsAfterStart: (Date.now() - started) / 1000 };
    const tarScript = `tar cf - ${storeNames.map((n) => `'${n}'`).join(' ')} | sha256sum`;

    // Warm the page cache with the stores (the reference reads them as collect does), untimed.
    const warm = runShell(tarScript, cache);
    if (warm.status !== 0) throw new Error(`tar | sha256sum failed: ${warm.stderr}`);

    const keepBest = (old, r) => (old === undefined || r.seconds < old.seconds ? r : old);
    const best = {};
    const all = { tar: [], collect: [], hashdeep: [], hash: [], 'hash-raw': [], verify: [], 'verify-deep': [] };
    let bundleInfo;
    for (let round = 0; round < rounds; round++) {
      const tag = `round ${round + 1}/${rounds}`;
      // (b) the reference over the store folders.
      const tarRun = runShell(tarScript, cache);
      if (tarRun.status !== 0) throw new Error(`tar | sha256sum failed: ${tarRun.stderr}`);
      best.tar = keepBest(best.tar, tarRun);
      all.tar.push(tarRun.seconds);
      process.stderr.write(`${tag}: tar | sha256sum ${tarRun.seconds.toFixed(2)} s\n`);

      // (a) collectCase with --tar.
      const bundle = join(work, `bundle-${round}`);
      const c = runChild(['collect', bundle, ...stores.map((s) => s.dir)]);
      if (c.records !== records * HOSTS.length || !c.verified) throw new Error(`collect: ${c.records} records, verified=${c.verified}`);
      best.collect = keepBest(best.collect, c);
      all.collect.push(c.seconds);
      const bundleTree = treeBytes(bundle);
      bundleInfo = { files: c.files, contentBytes: c.bundleBytes, folderBytes: bundleTree.bytes, folderFiles: bundleTree.files, tarBytes: c.tarBytes, timelineEntries: c.timelineEntries };
      process.stderr.write(`${tag}: collect ${c.seconds.toFixed(2)} s, peak RSS ${c.peakRssMiB.toFixed(0)} MiB; phases ${Object.entries(c.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}\n`);
      if (flag('floors')) {
        const scratch = join(work, 'floor-copy');
        const copy = runShell(`find . -type f -print0 | sort -z | xargs -0 cat > '${scratch}'`, bundle);
        rmSync(scratch, { force: true });
        const read = runShell('tar cf - . | sha256sum', bundle);
        if (copy.status !== 0 || read.status !== 0) throw new Error(`floor commands failed: ${copy.stderr}${read.stderr}`);
        (all.floorCopy ??= []).push(copy.seconds);
        (all.floorRead ??= []).push(read.seconds);
        best.floorCopy = keepBest(best.floorCopy, copy);
        best.floorRead = keepBest(best.floorRead, read);
        process.stderr.write(`${tag}: floors: cat of the bundle ${copy.seconds.toFixed(2)} s, tar | sha256sum of the bundle ${read.seconds.toFixed(2)} s\n`);
      }

      if (flag('collect-only')) {
        if (round < rounds - 1 || !flag('keep')) {
          rmSync(bundle, { recursive: true, force: true });
          rmSync(`${bundle}.tar`, { force: true });
        }
        continue;
      }
      // (d) the reference hashdeep audit, in the bundle folder, exactly as the README gives it.
      const hd = runShell(HASHDEEP_AUDIT_COMMAND, bundle);
      if (hd.status !== 0) throw new Error(`hashdeep audit failed (exit ${hd.status}): ${hd.stdout}${hd.stderr}`);
      hd.output = `${hd.stdout}${hd.stderr}`.trim();
      best.hashdeep = keepBest(best.hashdeep, hd);
      all.hashdeep.push(hd.seconds);

      // (c) the file-hashing stand-in, then the whole verifyBundle.
      const h = runChild(['hash', bundle]);
      if (h.matched !== h.listed) throw new Error(`hash pass: ${h.matched} of ${h.listed} listed files match`);
      best.hash = keepBest(best.hash, h);
      all.hash.push(h.seconds);
      const raw = runChild(['hash-raw', bundle]);
      best.hashRaw = keepBest(best.hashRaw, raw);
      all['hash-raw'].push(raw.seconds);
      const v = runChild(['verify', bundle, c.collectorKey]);
      if (!v.ok) throw new Error(`verifyBundle says INVALID: ${v.errors.join('; ')}`);
      best.verify = keepBest(best.verify, v);
      all.verify.push(v.seconds);
      const vd = runChild(['verify-deep', bundle, c.collectorKey]);
      if (!vd.ok) throw new Error(`verifyBundle --deep says INVALID: ${vd.errors.join('; ')}`);
      best.verifyDeep = keepBest(best.verifyDeep, vd);
      all['verify-deep'].push(vd.seconds);
      process.stderr.write(`${tag}: verifyBundle --deep ${vd.seconds.toFixed(2)} s (peak RSS ${vd.peakRssMiB.toFixed(0)} MiB)\n`);
      process.stderr.write(`${tag}: hashdeep ${hd.seconds.toFixed(2)} s, node hash pass ${h.seconds.toFixed(2)} s (raw ${raw.seconds.toFixed(2)} s), verifyBundle ${v.seconds.toFixed(2)} s (peak RSS ${v.peakRssMiB.toFixed(0)} MiB)\n`);

      if (round < rounds - 1 || !flag('keep')) {
        rmSync(bundle, { recursive: true, force: true });
        rmSync(`${bundle}.tar`, { force: true });
      }
    }
    // What hashdeep hashed: every file under its targets (everything but SHA256SUMS, hashdeep.txt, custody.jsonl).
    const hashdeepBytes = best.hash === undefined ? 0 : best.hash.bytes - best.hash.notAuditedBytes;
    const totalSeconds = (Date.now() - started) / 1000;
    const md = report({ records, rounds, input, storeSetup, best, all, bundleInfo, hashdeepBytes, totalSeconds, load: [loadBefore, loadAverage()], tarScript, storeNames, cacheGiven: cacheArg !== undefined, HASHDEEP_AUDIT_COMMAND });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, md);
    process.stdout.write(md);
  } finally {
    if (flag('keep')) process.stderr.write(`kept ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
    if (cacheArg === undefined) rmSync(cache, { recursive: true, force: true });
  }
}

function machine() {
  let cpu = 'unknown';
  let sha = false;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? cpu;
    sha = /^flags\s*:.*\bsha_ni\b/m.test(info);
  } catch {
    // not Linux
  }
  let nproc = String(availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // keep availableParallelism
  }
  const version = (cmd) => {
    try {
      return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim().split('\n')[0];
    } catch {
      return 'unknown';
    }
  };
  return { cpu, sha, nproc, memGiB: totalmem() / 2 ** 30, node: process.version, openssl: process.versions.openssl, tar: version('tar --version'), hashdeep: version('hashdeep -V') };
}

function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

const PHASES = [
  ['setup', 'setup (find the stores, load the key)'],
  ['snapshot', 'snapshot (`VACUUM INTO` of each store)'],
  ['verify', 'verify each snapshot (integrity) + witness (its root comes from the same pass over the records)'],
  ['triage', 'triage'],
  ['timeline', 'timeline + tables (merge every record of every host, prove each well-formed, write and hash JSONL, CSV and the tables, feed the draft report\'s pass)'],
  ['report', 'draft report (build the model from that pass, write Markdown and HTML in both languages)'],
  ['hash', 'hash (SHA-256 of the content files not hashed yet: the snapshots were hashed in a worker thread meanwhile)'],
  ['seal', 'seal (case.jsonld, manifest, signature, SHA256SUMS, hashdeep.txt, custody.jsonl, rename)'],
  ['tar', 'tar (deterministic `<out>.tar`)'],
];

function report({ records, rounds, input, storeSetup, best, all, bundleInfo, hashdeepBytes, totalSeconds, load, tarScript, storeNames, cacheGiven, HASHDEEP_AUDIT_COMMAND }) {
  const m = machine();
  const cmd = ['node scripts/bench/collect.mjs', ...process.argv.slice(2)].join(' ');
  const total = records * HOSTS.length;
  const { tar, collect, hashdeep, hash, hashRaw, verify } = best;
  const l = [];
  const secs = (s) => `${s.toFixed(2)} s`;
  const rss = (r) => (r.peakRssMiB !== undefined ? `${r.peakRssMiB.toFixed(0)} MiB` : 'n/a');
  const roundsNote = rounds > 1 ? ` (fastest of ${rounds} interleaved rounds; all rounds: ${Object.entries(all).map(([k, xs]) => `${k} ${xs.map((x) => x.toFixed(2)).join(' / ')} s`).join('; ')})` : ' (one round)';
  l.push('## Collect a case and verify the bundle');
  l.push('');
  l.push(`Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}${m.sha ? ' (SHA extensions: `sha_ni`)' : ' (no `sha_ni` flag in /proc/cpuinfo)'}, ${m.memGiB.toFixed(1)} GiB RAM; Node ${m.node} (OpenSSL ${m.openssl}); ${m.tar}; hashdeep ${m.hashdeep}; ${new Date().toISOString().slice(0, 10)}.`);
  l.push('');
  l.push(`Command: \`npm run build && ${cmd}\`${process.argv.length > 2 ? '' : ' (= `npm run bench:collect`)'}. The whole run took ${Math.round(totalSeconds)} s${storeSetup.built > 0 ? `, ${Math.round(storeSetup.secondsAfterStart)} s of it building ${storeSetup.built} store(s)` : ', with the stores reused from --cache'}. Load average (1/5/15 min) at the start: ${load[0]}; at the end: ${load[1]} (other work on the machine makes wall-clock times longer and noisier; compare rows of the same run, not runs).`);
  l.push('');
  l.push(`Input: three stores (hosts ${HOSTS.join(', ')}) of ${fmt(records)} \`log.line\` records of auth.log lines each, ${fmt(total)} records in all, written by \`EvidenceStore\` with the default policy (a signed checkpoint every 1,000 records) and closed with a final checkpoint. The three store folders hold ${input.files} files, ${mib(input.bytes).toFixed(0)} MiB (${mib(input.evidence).toFixed(0)} MiB of it evidence.sqlite); MiB/s below is always these input MiB over the time taken, so rows compare directly. The stores were read once (untimed) before any measurement, so every row starts from the page cache.`);
  l.push(`Each custody measurement runs in its own child process (time and CPU measured inside it, around the call alone; peak RSS = its \`VmHWM\`, all threads). The references run under \`bash -c\` (time includes starting it; CPU = user + system of every process it ran; peak RSS = the largest process, from GNU time)${roundsNote}.`);
  l.push('');
  l.push('### Collect');
  l.push('');
  l.push(`\`collectCase\` as \`custody collect --case ${CASE_ID} --store ${storeNames[0]} --store ${storeNames[1]} --store ${storeNames[2]} --tar --out …\` runs it (no TSA, a per-collection key), against the reference \`${tarScript}\` run in the stores' folder: the same files read and hashed once, nothing checked and nothing written.`);
  l.push('');
  l.push('| | time | records/s | input MiB/s | CPU (user + system) | peak RSS | time vs. the reference |');
  l.push('|---|---:|---:|---:|---:|---:|---:|');
  l.push(`| \`tar cf - … \\| sha256sum\` (reference) | ${secs(tar.seconds)} | ${fmt(total / tar.seconds)} equiv. | ${mib(input.bytes / tar.seconds).toFixed(0)} | ${secs(tar.cpuSeconds)} | ${rss(tar)} | 1.00× |`);
  if (best.floorCopy) {
    l.push(`| floor: \`cat\` of the bundle's files into one new file (writing its ${mib(bundleInfo.folderBytes).toFixed(0)} MiB once) | ${secs(best.floorCopy.seconds)} | | | ${secs(best.floorCopy.cpuSeconds)} | ${rss(best.floorCopy)} | ${(best.floorCopy.seconds / tar.seconds).toFixed(1)}× |`);
    l.push(`| floor: \`tar cf - . \\| sha256sum\` in the bundle (reading and hashing it once, as \`--tar\` must) | ${secs(best.floorRead.seconds)} | | | ${secs(best.floorRead.cpuSeconds)} | ${rss(best.floorRead)} | ${(best.floorRead.seconds / tar.seconds).toFixed(1)}× |`);
  }
  l.push(`| \`collectCase\` (\`--tar\`) | ${secs(collect.seconds)} | ${fmt(total / collect.seconds)} | ${mib(input.bytes / collect.seconds).toFixed(1)} | ${secs(collect.cpuSeconds)} | ${rss(collect)} | ${(collect.seconds / tar.seconds).toFixed(1)}× as long |`);
  l.push('');
  l.push(`Phases of that collect (from the stages it reports through \`onProgress\`; a stage's time runs until the next stage starts, summed over the three stores):`);
  l.push('');
  l.push('| phase | time | share |');
  l.push('|---|---:|---:|');
  for (const [key, label] of PHASES) {
    const s = collect.phases[key];
    if (s === undefined) continue;
    l.push(`| ${label} | ${secs(s)} | ${((s / collect.seconds) * 100).toFixed(0)}% |`);
  }
  for (const [key, s] of Object.entries(collect.phases)) {
    if (!PHASES.some(([k]) => k === key)) l.push(`| ${key} | ${secs(s)} | ${((s / collect.seconds) * 100).toFixed(0)}% |`);
  }
  l.push('');
  l.push(`The bundle: ${fmt(bundleInfo.folderFiles)} files, ${mib(bundleInfo.folderBytes).toFixed(0)} MiB (${fmt(bundleInfo.files)} content files listed in the manifest, ${mib(bundleInfo.contentBytes).toFixed(0)} MiB; the timeline holds ${fmt(bundleInfo.timelineEntries)} entries); the tar ${mib(bundleInfo.tarBytes).toFixed(0)} MiB.`);
  l.push(`Goal (issue 14): collect ≤ 5× the reference's time: **${(collect.seconds / tar.seconds).toFixed(1)}×**, ${collect.seconds / tar.seconds <= 5 ? 'goal met' : 'goal NOT met'}. All rounds (s): reference ${all.tar.map((x) => x.toFixed(2)).join(' / ')}; collect ${all.collect.map((x) => x.toFixed(2)).join(' / ')}.`);
  l.push('');
  if (hashdeep === undefined) return `${l.join('\n')}\n`;
  l.push('### Verify the bundle');
  l.push('');
  l.push(`On the bundle folder that collect just wrote (in the page cache). The reference is the audit the README gives, run in the bundle folder: \`${HASHDEEP_AUDIT_COMMAND}\` (hashdeep hashes with ${m.nproc} threads by default, one per CPU).`);
  l.push('');
  l.push('What is comparable: hashdeep only hashes the files and matches them against hashdeep.txt. `custody verify` (`verifyBundle`) does that too, against the manifest: it lstat-walks the folder and hashes every regular file with SHA-256 (`hashFile`: 4 MiB reads into one reused buffer, one file at a time on one thread). Everything else it does is work hashdeep does not do: re-verifying every record of every store snapshot (leaf hashes, Merkle roots, every checkpoint signature, the key chain), recomputing each witnessed root (from that same pass over the records), the manifest signature, the collector key, SHA256SUMS and hashdeep.txt against the manifest, and the custody log\'s links and signatures.');
  l.push('`verifyBundle` reports no phase timings, so its file-hashing phase cannot be timed inside it; the "file-hashing pass" row is the closest stand-in: the same `walkBundleDir` + `hashFile` over every file of the bundle, then the comparison with the manifest\'s list, timed alone in its own process in the same run. The `verifyBundle` row\'s time also gives its difference from that pass, as an estimate of the extra work.');
  l.push('The "Node SHA-256 ceiling" row is not what verify runs: the same files read synchronously with `readSync` in 1 MiB chunks into `createHash`, to show how close `hashFile`\'s asynchronous reads come to SHA-256 itself.');
  l.push('');
  l.push('| | what it checks | bytes hashed | time | hashed MiB/s | CPU (user + system) | peak RSS |');
  l.push('|---|---|---:|---:|---:|---:|---:|');
  l.push(`| \`hashdeep -a -k hashdeep.txt …\` (reference) | the files' SHA-256 and sizes against hashdeep.txt | ${mib(hashdeepBytes).toFixed(0)} MiB (all but SHA256SUMS, hashdeep.txt, custody.jsonl) | ${secs(hashdeep.seconds)} | ${mib(hashdeepBytes / hashdeep.seconds).toFixed(0)} | ${secs(hashdeep.cpuSeconds)} | ${rss(hashdeep)} |`);
  l.push(`| file-hashing pass (stand-in for verify's comparable part) | every file's SHA-256 and size against the manifest | ${mib(hash.bytes).toFixed(0)} MiB (${hash.files} files) | ${secs(hash.seconds)} | ${mib(hash.bytes / hash.seconds).toFixed(0)} | ${secs(hash.cpuSeconds)} | ${rss(hash)} |`);
  l.push(`| Node SHA-256 ceiling (not what verify runs) | nothing (hashes only) | ${mib(hashRaw.bytes).toFixed(0)} MiB (${hashRaw.files} files) | ${secs(hashRaw.seconds)} | ${mib(hashRaw.bytes / hashRaw.seconds).toFixed(0)} | ${secs(hashRaw.cpuSeconds)} | ${rss(hashRaw)} |`);
  l.push(`| \`verifyBundle\` (all of \`custody verify\`) | the above + ${fmt(verify.records)} store records, witnesses, signatures, sums files, custody log | ${mib(hash.bytes).toFixed(0)} MiB + every record | ${secs(verify.seconds)} (≈ ${secs(Math.max(0, verify.seconds - hash.seconds))} beyond hashing) | ${mib(hash.bytes / verify.seconds).toFixed(0)} equiv. | ${secs(verify.cpuSeconds)} | ${rss(verify)} |`);
  if (best.verifyDeep) {
    const vd = best.verifyDeep;
    l.push(`| \`verifyBundle\` --deep (\`custody verify --deep\`) | the above + every record canonical JSON valid against its schema | ${mib(hash.bytes).toFixed(0)} MiB + every record | ${secs(vd.seconds)} | ${mib(hash.bytes / vd.seconds).toFixed(0)} equiv. | ${secs(vd.cpuSeconds)} | ${rss(vd)} |`);
  }
  l.push('');
  const ratio = hashdeep.seconds / hash.seconds;
  l.push(`Goal (issue 5): hashing the files against the manifest ≥ 3× faster than hashdeep. The file-hashing pass takes ${secs(hash.seconds)} against hashdeep's ${secs(hashdeep.seconds)}: **${ratio.toFixed(2)}×** as fast, ${ratio >= 3 ? 'goal met' : 'goal NOT met'} (measured on the stand-in, not inside \`verifyBundle\`). With synchronous 1 MiB \`readSync\` chunks instead of \`hashFile\`'s asynchronous reads the same files hash in ${secs(hashRaw.seconds)}, ${(hashdeep.seconds / hashRaw.seconds).toFixed(2)}× as fast as hashdeep.`);
  l.push(`Goal (issue 14): \`custody verify\` of the bundle takes less time than \`hashdeep -a\` (ratio hashdeep / verify ≥ 1.0): **${(hashdeep.seconds / verify.seconds).toFixed(2)}**, ${hashdeep.seconds / verify.seconds >= 1 ? 'goal met' : 'goal NOT met'}${best.verifyDeep ? '; with --deep ' + (hashdeep.seconds / best.verifyDeep.seconds).toFixed(2) : ''}. All rounds (s): hashdeep ${all.hashdeep.map((x) => x.toFixed(2)).join(' / ')}; verify ${all.verify.map((x) => x.toFixed(2)).join(' / ')}; verify --deep ${all['verify-deep'].map((x) => x.toFixed(2)).join(' / ')}.`);
  l.push(`The whole \`custody verify\` takes ${(verify.seconds / hashdeep.seconds).toFixed(1)}× hashdeep's time; that comparison is not like for like: ${((Math.max(0, verify.seconds - hash.seconds) / verify.seconds) * 100).toFixed(0)}% of it is the checking hashdeep does not do.`);
  l.push('');
  l.push(`hashdeep's output: \`${hashdeep.output.split('\n').join(' / ')}\`.${cacheGiven ? '' : ' Stores were built in a temporary folder for this run (give `--cache DIR` to keep them).'}`);
  l.push('');
  return `${l.join('\n')}\n`;
}

await main();
