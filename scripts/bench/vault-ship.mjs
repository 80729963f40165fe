// Shipping many stores to one vault (issue 12): records/s and MB/s of the shipping library
// (agent/ship shipStore, from dist/) against a raw PUT loop with the same S3 client, the same object
// sizes and counts and the same concurrency, in the same run; then the lag while every store grows at
// a steady rate and is shipped in rounds. Writes a Markdown section to stdout (BENCHMARKS.md).
//
// The vault is a local Ceph RGW (scripts/vault/rgw-start.sh, memstore) started in a temporary folder
// on free ports and stopped at the end, or an already running one: --rgw-dir DIR (its s3.env).
//
// Usage: npm run bench:vault  (= npm run build && node scripts/bench/vault-ship.mjs > bench-results/vault-ship.md)
//   --stores 50 --records 2000 --concurrency 8 --window 4 --runs 3 --lag-seconds 60 --lag-rate 20 --lag-round-ms 2000
//
// Why the raw loop looks like this: it is what shipping must at least do per object (one PUT with
// Content-MD5, which a lock bucket requires, into a bucket with Object Lock and the same default
// retention), and nothing it need not (no HEAD, no store read, no state database, no segment
// encoding). Both sides have the same shape and so the same requests in flight: `concurrency`
// workers, each taking a whole store (one store is shipped in plan order, by design), and within a
// store up to `window` PUTs in flight (shipStore's window, which acknowledges in order); the raw
// loop's workers take the same objects in the same store-by-store order.
//
// All stores ship from this one Node process, where real agents each ship their own store from
// their own process: here the shipping side's CPU work (store reads, segment encoding, MD5, state
// writes) shares one thread with every request, which is the harder case for it.
import { fork, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { authLine } from './shared.mjs';
import { readS3Env, startLocalRgw } from '../vault/local-rgw.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
const { shipStore } = await import(dist('agent/ship/shipper.js'));
const { recordShippingOrigin } = await import(dist('agent/ship/origin.js'));
const { openVault, vaultInit } = await import(dist('collector/vault.js'));
const { EvidenceStore } = await import(dist('src/store/evidence-store.js'));
const { StateStore } = await import(dist('src/store/state-store.js'));
const { HeadObjectCommand, PutObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const STORES = Number(arg('stores', 50));
const RECORDS = Number(arg('records', 2000));
const CONCURRENCY = Number(arg('concurrency', 8));
const WINDOW = Number(arg('window', 4));
// Ship as an agent whose state database does not know the store's past (lost, or an older version):
// each store's first round LISTs its names in the vault first.
const LIST_FIRST = process.argv.includes('--list-first');
const RUNS = Number(arg('runs', 3));
const LAG_SECONDS = Number(arg('lag-seconds', 60));
const LAG_RATE = Number(arg('lag-rate', 20)); // records per second per store
const LAG_ROUND_MS = Number(arg('lag-round-ms', 2000));
const RGW_DIR = arg('rgw-dir', undefined);
const log = (s) => process.stderr.write(`[vault-ship] ${s}\n`);
const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const T_START = Date.now();
const loadStart = loadavg();


// Ship from this many child processes instead of this one (each store from one process, each process
// one store at a time, stores dealt out in turn), as agents ship from their own processes; the raw
// loops then run from the same processes with the same stores. 0: everything in this process.
const PROCESSES = Number(arg('processes', 0));

/** The raw loop's unit of work: one store's objects, up to WINDOW PUTs in flight (optionally a HEAD first). */
async function putStoreRaw(client, bucket, objs, withHead) {
  let bytes = 0;
  let nextObject = 0;
  await Promise.all(Array.from({ length: Math.min(WINDOW, objs.length) }, async () => {
    while (nextObject < objs.length) {
      const o = objs[nextObject++];
      if (withHead) {
        // put-once's old check on RGW: a HEAD that answers 404 before the PUT.
        try {
          await client.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.key }));
          throw new Error(`${o.key} exists`);
        } catch (err) {
          if (err?.$metadata?.httpStatusCode !== 404) throw err;
        }
      }
      await client.s3.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: o.body, ContentLength: o.body.length, ContentMD5: createHash('md5').update(o.body).digest('base64') }));
      bytes += o.body.length;
    }
  }));
  return bytes;
}

/** A child process (--processes): does what the parent asks, one message at a time, and says how long its CPU worked. */
async function runChild() {
  const childEnv = JSON.parse(process.env.CUSTODY_BENCH_S3_ENV);
  const clients = new Map();
  const clientOf = (url) => {
    if (!clients.has(url)) clients.set(url, openVault({ url, env: childEnv }));
    return clients.get(url);
  };
  let states = new Map();
  let bodies = new Map();
  let c0 = process.cpuUsage();
  await new Promise((resolve) => {
    process.on('message', async (m) => {
      let reply = {};
      try {
        if (m.op === 'prepare-ship') {
          states = new Map(m.stores.map((b) => [b.host, new StateStore(b.dir)]));
          c0 = process.cpuUsage();
        } else if (m.op === 'ship') {
          const r = await shipStore(m.dir, clientOf(m.url), states.get(m.host), { window: WINDOW });
          reply = { written: r.written, bytes: r.bytes, existed: r.existed };
        } else if (m.op === 'prepare-raw') {
          bodies = new Map(m.stores.map((st) => [st.store, st.objects.map((o) => ({ key: o.key, body: randomBytes(o.size) }))]));
          c0 = process.cpuUsage();
        } else if (m.op === 'raw') {
          reply = { bytes: await putStoreRaw(clientOf(m.url), m.bucket, bodies.get(m.store), m.withHead) };
        } else if (m.op === 'finish') {
          const cpu = process.cpuUsage(c0);
          for (const st of states.values()) st.close();
          states = new Map();
          bodies = new Map();
          reply = { cpuSeconds: (cpu.user + cpu.system) / 1e6 };
        } else if (m.op === 'exit') {
          for (const c of clients.values()) c.destroy();
          process.send({ id: m.id });
          resolve();
          return;
        }
      } catch (err) {
        reply = { error: String(err?.stack ?? err) };
      }
      process.send({ id: m.id, ...reply });
    });
  });
}
if (process.argv.includes('--child')) {
  await runChild();
  process.exit(0);
}

/** Fresh state databases for a run, marked as an agent marks its own when it creates its store. */
function freshState(b) {
  for (const f of ['state.sqlite', 'state.sqlite-wal', 'state.sqlite-shm']) rmSync(join(b.dir, f), { force: true });
  const state = new StateStore(b.dir);
  if (!LIST_FIRST) recordShippingOrigin(state, b.storeId);
  return state;
}

const work = mkdtempSync(join(tmpdir(), 'custody-bench-vault-'));
let rgwDir = RGW_DIR;
let startedRgw = false;
let env;
try {
  if (rgwDir === undefined) {
    rgwDir = join(work, 'rgw');
    await startLocalRgw(rgwDir, { osdSizeMb: 6144 });
    startedRgw = true;
  }
  env = { ...readS3Env(rgwDir), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

  // ---- the stores (untimed) ----------------------------------------------------------------------
  log(`building ${STORES} stores of ${RECORDS} records`);
  const built = [];
  const tBuild = Date.now();
  for (let s = 0; s < STORES; s++) {
    const host = `host-${String(s).padStart(3, '0')}`;
    const dir = join(work, 'stores', host);
    const { store } = EvidenceStore.create(dir, { host, bootId: `boot-${s}` });
    let offset = 0;
    for (let i = 0; i < RECORDS; i++) {
      const text = authLine(i + s * RECORDS, host);
      store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset, line_no: i + 1, length: Buffer.byteLength(text), text });
      offset += Buffer.byteLength(text) + 1;
    }
    store.close({ finalCheckpoint: true });
    built.push({ host, dir, storeId: store.storeId });
  }
  const buildSeconds = (Date.now() - tBuild) / 1000;

  let seqNo = 0;
  const children = Array.from({ length: PROCESSES }, () => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', ...process.argv.slice(2)], { env: { ...process.env, CUSTODY_BENCH_S3_ENV: JSON.stringify(env) } });
    const pending = new Map();
    proc.on('message', (m) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    return { proc, pending };
  });
  const call = (child, msg) => new Promise((resolve, reject) => {
    const id = ++seqNo;
    child.pending.set(id, { resolve, reject });
    child.proc.send({ id, ...msg });
  });
  /** The stores child i ships (and raw-puts): every PROCESSES-th, in turn. */
  const storesOf = (i) => built.filter((_, k) => k % PROCESSES === i);

  async function pool(items, worker) {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) await worker(items[next++]);
    }));
  }

  // ---- warm-up (untimed): connections, the SDK's lazily loaded parts, JIT, for both sides ------------
  {
    const warmUrl = `s3://bench-warm-${process.pid}`;
    await vaultInit({ url: warmUrl, retention: '1d', env });
    const warm = openVault({ url: warmUrl, env });
    await pool(built.slice(0, CONCURRENCY), async (b) => {
      for (const f of ['state.sqlite', 'state.sqlite-wal', 'state.sqlite-shm']) rmSync(join(b.dir, f), { force: true });
      const state = new StateStore(b.dir);
      try {
        recordShippingOrigin(state, b.storeId);
        await shipStore(b.dir, warm, state, { window: WINDOW });
      } finally {
        state.close();
      }
      const body = randomBytes(4096);
      await warm.s3.send(new PutObjectCommand({ Bucket: warm.bucket, Key: `raw/${b.host}`, Body: body, ContentLength: body.length, ContentMD5: createHash('md5').update(body).digest('base64') }));
    });
    warm.destroy();
    // Each child ships its whole share once and puts as many objects, so that run 1 meets code as hot
    // as a long-running agent's (one store per child left run 1 with twice the later runs' shipping
    // CPU: 2.11 s against 1.29 and 1.23 s, ratio 0.65x against 0.80 and 0.81x).
    await Promise.all(children.map(async (c, i) => {
      const share = storesOf(i);
      if (share.length === 0) return;
      for (const b of share) freshState(b).close();
      await call(c, { op: 'prepare-ship', stores: share });
      for (const b of share) await call(c, { op: 'ship', url: warmUrl, dir: b.dir, host: b.host });
      await call(c, { op: 'finish' });
      const objects = share.flatMap((b, k) => Array.from({ length: 7 }, (_, j) => ({ key: `raw/warm-${i}-${k}-${j}`, size: 65536 })));
      await call(c, { op: 'prepare-raw', stores: [{ store: 0, objects }] });
      await call(c, { op: 'raw', url: warmUrl, bucket: warm.bucket, store: 0, withHead: false });
      await call(c, { op: 'finish' });
    }));
  }

  // ---- throughput: shipping vs the raw PUT loop, alternating ------------------------------------
  const runs = [];
  let objectsOfStore; // from the first shipped run: [{ store, size }] in store order
  for (let run = 1; run <= RUNS; run++) {
    const shipUrl = `s3://bench-ship-${run}-${process.pid}`;
    const rawBucket = `bench-raw-${run}-${process.pid}`;
    await vaultInit({ url: shipUrl, retention: '1d', env });
    const headBucket = `bench-head-${run}-${process.pid}`;
    await vaultInit({ url: `s3://${rawBucket}`, retention: '1d', env });
    await vaultInit({ url: `s3://${headBucket}`, retention: '1d', env });
    const client = openVault({ url: shipUrl, env });
    const ship = async () => {
      let written = 0;
      let bytes = 0;
      // Each store's state database is open before the clock starts, as an agent holds its own open
      // from its start; a fresh one per run, marked as the agent marks it when it creates its store
      // (recordShippingOrigin: nothing of this store was ever sent to this vault, so no LIST).
      if (PROCESSES > 0) {
        for (const b of built) freshState(b).close();
        await Promise.all(children.map((c, i) => call(c, { op: 'prepare-ship', stores: storesOf(i) })));
        const t0 = process.hrtime.bigint();
        const c0 = process.cpuUsage();
        await Promise.all(children.map(async (c, i) => {
          for (const b of storesOf(i)) {
            const r = await call(c, { op: 'ship', url: shipUrl, dir: b.dir, host: b.host });
            written += r.written;
            bytes += r.bytes;
            if (r.existed !== 0) throw new Error(`${b.host}: ${r.existed} objects already in a fresh vault`);
          }
        }));
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu = process.cpuUsage(c0);
        const childCpu = (await Promise.all(children.map((c) => call(c, { op: 'finish' })))).reduce((n, r) => n + r.cpuSeconds, 0);
        return { seconds, objects: written, bytes, cpuSeconds: (cpu.user + cpu.system) / 1e6 + childCpu };
      }
      const states = new Map(built.map((b) => [b.host, freshState(b)]));
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      await pool(built, async (b) => {
        const r = await shipStore(b.dir, client, states.get(b.host), { window: WINDOW });
        written += r.written;
        bytes += r.bytes;
        if (r.existed !== 0) throw new Error(`${b.host}: ${r.existed} objects already in a fresh vault`);
      });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      for (const st of states.values()) st.close();
      return { seconds, objects: written, bytes, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    };
    const raw = async (withHead = false) => {
      // Bodies of the shipped sizes, made before the clock starts; Content-MD5 is computed inside the
      // loop, as put-once does.
      const bucket = withHead ? headBucket : rawBucket;
      const objectsByStore = new Map();
      objectsOfStore.forEach((o, i) => objectsByStore.set(o.store, [...(objectsByStore.get(o.store) ?? []), { key: `raw/${String(o.store).padStart(4, '0')}/${i}`, size: o.size }]));
      if (PROCESSES > 0) {
        const index = new Map(built.map((b, k) => [b.host, k]));
        await Promise.all(children.map((c, i) => call(c, { op: 'prepare-raw', stores: storesOf(i).map((b) => ({ store: index.get(b.host), objects: objectsByStore.get(index.get(b.host)) ?? [] })) })));
        let bytes = 0;
        const t0 = process.hrtime.bigint();
        const c0 = process.cpuUsage();
        await Promise.all(children.map(async (c, i) => {
          for (const b of storesOf(i)) {
            const r = await call(c, { op: 'raw', url: shipUrl, bucket, store: index.get(b.host), withHead });
            bytes += r.bytes; // not `bytes += await …`: that reads bytes before the wait and loses the others' sums
          }
        }));
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu = process.cpuUsage(c0);
        const childCpu = (await Promise.all(children.map((c) => call(c, { op: 'finish' })))).reduce((n, r) => n + r.cpuSeconds, 0);
        return { seconds, objects: objectsOfStore.length, bytes, cpuSeconds: (cpu.user + cpu.system) / 1e6 + childCpu };
      }
      const stores = [...objectsByStore.values()].map((objs) => objs.map((o) => ({ key: o.key, body: randomBytes(o.size) })));
      let bytes = 0;
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      await pool(stores, async (objs) => {
        const n = await putStoreRaw(client, bucket, objs, withHead);
        bytes += n;
      });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      return { seconds, objects: objectsOfStore.length, bytes, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    };
    let s;
    let r;
    let h;
    if (objectsOfStore === undefined || run % 2 === 1) {
      log(`run ${run}: shipping`);
      s = await ship();
      if (objectsOfStore === undefined) {
        objectsOfStore = [];
        const hostIndex = new Map(built.map((b, i) => [b.host, i]));
        let token;
        do {
          const page = await client.s3.send(new ListObjectsV2Command({ Bucket: client.bucket, ContinuationToken: token }));
          for (const o of page.Contents ?? []) objectsOfStore.push({ store: hostIndex.get(o.Key.split('/')[3]), size: o.Size, key: o.Key });
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        objectsOfStore.sort((a, b) => a.store - b.store || a.key.localeCompare(b.key));
        if (objectsOfStore.length !== s.objects) throw new Error(`listed ${objectsOfStore.length} objects, shipped ${s.objects}`);
      }
      log(`run ${run}: raw PUT loop`);
      r = await raw();
      log(`run ${run}: raw HEAD+PUT loop`);
      h = await raw(true);
    } else {
      log(`run ${run}: raw HEAD+PUT loop`);
      h = await raw(true);
      log(`run ${run}: raw PUT loop`);
      r = await raw();
      log(`run ${run}: shipping`);
      s = await ship();
    }
    client.destroy();
    const records = STORES * RECORDS;
    runs.push({ run, order: run % 2 === 0 ? 'raw loops first' : 'shipping first', ship: s, raw: r, head: h, records });
    log(`run ${run}: shipping ${fmt(records / s.seconds)} records/s, raw ${fmt(records / r.seconds)} equiv., ratio ${(r.seconds / s.seconds).toFixed(2)}`);
  }

  await Promise.all(children.map((c) => call(c, { op: 'exit' })));

  // ---- lag while the stores grow at a steady rate --------------------------------------------------
  log(`lag: ${STORES} stores growing at ${LAG_RATE} records/s each for ${LAG_SECONDS} s, shipped in rounds`);
  const lagUrl = `s3://bench-lag-${process.pid}`;
  await vaultInit({ url: lagUrl, retention: '1d', env });
  const lagClient = openVault({ url: lagUrl, env });
  const growing = built.map((b, s) => {
    const dir = join(work, 'growing', b.host);
    const { store } = EvidenceStore.create(dir, { host: b.host, bootId: `lag-${s}` });
    const state = new StateStore(dir);
    if (!LIST_FIRST) recordShippingOrigin(state, store.storeId);
    return { host: b.host, dir, store, appendedAt: new Map(), next: 0, offset: 0, acked: 0, state };
  });
  const lagsMs = [];
  const backlogAtRoundEnd = [];
  const roundSeconds = [];
  let writing = true;
  const tickMs = 100;
  const lagStart = Date.now();
  const writer = setInterval(() => {
    if (!writing) return;
    // From the elapsed time, not the ticks: a tick delayed by a busy event loop must not lower the rate.
    const now = Date.now();
    const n = Math.floor(((now - lagStart) / 1000) * LAG_RATE) - growing[0].next;
    for (const g of growing) {
      for (let k = 0; k < n; k++) {
        const text = authLine(g.next, g.host);
        const seq = g.store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: g.offset, line_no: g.next + 1, length: Buffer.byteLength(text), text });
        g.appendedAt.set(seq, now);
        g.offset += Buffer.byteLength(text) + 1;
        g.next++;
      }
    }
  }, tickMs);
  const shipRound = async () => {
    const t0 = Date.now();
    await pool(growing, async (g) => {
      const r = await shipStore(g.dir, lagClient, g.state, { window: WINDOW });
      const end = r.acknowledged.segmentEnd;
      const now = Date.now();
      for (let seq = g.acked; seq < end; seq++) {
        const at = g.appendedAt.get(seq);
        if (at !== undefined) lagsMs.push(now - at);
      }
      g.acked = end;
    });
    roundSeconds.push((Date.now() - t0) / 1000);
    backlogAtRoundEnd.push(growing.reduce((n, g) => n + Math.max(0, g.next - g.acked), 0));
  };
  while (Date.now() - lagStart < LAG_SECONDS * 1000) {
    const t0 = Date.now();
    await shipRound();
    const rest = LAG_ROUND_MS - (Date.now() - t0);
    if (rest > 0) await sleep(rest);
  }
  writing = false;
  clearInterval(writer);
  const appended = growing.reduce((n, g) => n + g.next, 0);
  for (const g of growing) g.store.close({ finalCheckpoint: true });
  await shipRound(); // the tail: everything sealed at close
  const unshipped = growing.reduce((n, g) => n + [...g.appendedAt.keys()].filter((seq) => seq >= g.acked).length, 0);
  for (const g of growing) g.state.close();
  lagClient.destroy();

  // ---- report ------------------------------------------------------------------------------------
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  };
  const ratios = runs.map((r) => r.raw.seconds / r.ship.seconds);
  const medianRatio = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
  const first = runs[0];
  const objs = objectsOfStore.length;
  const totalBytes = objectsOfStore.reduce((n, o) => n + o.size, 0);
  const mib = (b) => b / 1048576;
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const rgwVersion = spawnSync('radosgw', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').slice(0, 3).join(' ');
  const out = [];
  out.push('## Vault: shipping many stores to one RGW');
  out.push('');
  out.push(`Machine: ${availableParallelism()} CPUs, ${cpuModel}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; Node ${process.version}; ${rgwVersion} (memstore, one OSD, on the same machine); ${new Date().toISOString().slice(0, 10)}.`);
  out.push('');
  out.push(`Command: \`npm run bench:vault\` (= \`npm run build && node scripts/bench/vault-ship.mjs --stores ${STORES} --records ${RECORDS} --concurrency ${CONCURRENCY} --window ${WINDOW}${PROCESSES > 0 ? ` --processes ${PROCESSES}` : ''}${LIST_FIRST ? ' --list-first' : ''} --runs ${RUNS} --lag-seconds ${LAG_SECONDS} --lag-rate ${LAG_RATE} --lag-round-ms ${LAG_ROUND_MS} > bench-results/vault-ship.md\`). The whole run took ${fmt((Date.now() - T_START) / 1000)} s, ${fmt(buildSeconds)} s of it building the stores. Load average (1/5/15 min) at the start: ${loadStart}; at the end: ${loadavg()} (other work on the machine makes wall-clock rates lower and noisier; compare the columns of one run, not runs).`);
  out.push('');
  out.push(`Input: ${STORES} stores (hosts), each ${fmt(RECORDS)} \`log.line\` records of auth.log lines written by \`EvidenceStore\` with the default policy and closed with a final checkpoint: ${fmt(STORES * RECORDS)} records. Shipping one store puts ${fmt(objs / STORES, 1)} objects on average (enrollment key, checkpoint notes, segments), ${fmt(objs)} objects and ${fmt(mib(totalBytes), 1)} MiB in all per run.`);
  out.push('');
  out.push(`Each run ships every store into a fresh vault (bucket with Object Lock, compliance, 1 day) with \`shipStore\` from \`dist/\`, ${PROCESSES > 0 ? `from ${PROCESSES} child processes (as agents ship from their own processes; each process ships its share of the stores, dealt out in turn, one store at a time, so ${PROCESSES} stores at a time)` : `from this one process, ${CONCURRENCY} stores at a time`}, each with up to ${WINDOW} PUTs in flight (its window, acknowledged in order), ${LIST_FIRST ? 'each state database without a shipping origin (so each store\'s first round LISTs its names in the vault first)' : 'each state database fresh and marked as the agent marks it when it creates its store (so no LIST: nothing of the store was ever sent there)'}, opened before the clock starts as an agent holds it open; and runs the raw loop into another fresh lock bucket: the same \`S3Client\` (the vault client's), the same ${fmt(objs)} object sizes in the same store-by-store order, the same shape (${PROCESSES > 0 ? `the same ${PROCESSES} processes with the same stores each` : `${CONCURRENCY} stores at a time`}, up to ${WINDOW} PUTs in flight per store), one \`PutObject\` with \`Content-MD5\` per object and nothing else. An untimed warm-up comes first (${PROCESSES > 0 ? 'each process ships its whole share of the stores once and puts seven 64 KiB objects per store' : 'a few stores shipped and put'}, into a bucket of its own); runs alternate which side goes first. Ratio = raw time / shipping time (goal ≥ 0.8×). A third loop, into a third fresh lock bucket, has the same shape with a HEAD (404) before each PUT, what put-once did on RGW before shipping knew from its state database which names were never sent; \"shipping vs HEAD+PUT\" is its time / shipping time. ${PROCESSES > 0 ? `CPU columns add up the parent and every child process.` : `All stores ship from this one Node process, where real agents each ship from their own: here shipping's CPU work shares one thread with every request (\`--processes N\` measures the other way).`}`);
  out.push('');
  out.push('| run | first | shipping s | shipping records/s | shipping MiB/s | raw PUT s | raw records/s equiv. | raw MiB/s | ratio | raw HEAD+PUT s | shipping vs HEAD+PUT | shipping CPU s | raw CPU s |');
  out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    out.push(`| ${r.run} | ${r.order} | ${r.ship.seconds.toFixed(2)} | ${fmt(r.records / r.ship.seconds)} | ${(mib(r.ship.bytes) / r.ship.seconds).toFixed(1)} | ${r.raw.seconds.toFixed(2)} | ${fmt(r.records / r.raw.seconds)} | ${(mib(r.raw.bytes) / r.raw.seconds).toFixed(1)} | **${(r.raw.seconds / r.ship.seconds).toFixed(2)}×** | ${r.head.seconds.toFixed(2)} | ${(r.head.seconds / r.ship.seconds).toFixed(2)}× | ${r.ship.cpuSeconds.toFixed(2)} | ${r.raw.cpuSeconds.toFixed(2)} |`);
  }
  out.push('');
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const headRatios = runs.map((r) => r.head.seconds / r.ship.seconds);
  const headCost = runs.map((r) => r.raw.seconds / r.head.seconds);
  out.push(`Median ratio ${medianRatio.toFixed(2)}× (all runs: ${ratios.map((x) => x.toFixed(2)).join(', ')}); goal ≥ 0.8×: ${ratios.every((x) => x >= 0.8) ? 'met in every run' : medianRatio >= 0.8 ? 'met on the median, not in every run' : 'not met'}.`);
  out.push('');
  out.push(`Where the time goes. Shipping sends one PUT per object, like the loop, plus one HEAD per client (the check that the vault locks what it stores, again every 10 minutes); the rest is its own work in the same Node thread as the requests: reading the records it ships from SQLite, hashing them into the Merkle frontier to check each segment against its checkpoint's signed root, encoding segments, MD5 of each body, and a state-database write per window of objects (shipping CPU ${runs.map((r) => r.ship.cpuSeconds.toFixed(1)).join(', ')} s against the loop's ${runs.map((r) => r.raw.cpuSeconds.toFixed(1)).join(', ')} s). For reference, the HEAD+PUT loop runs at ${med(headCost).toFixed(2)}× the PUT loop's speed (all runs: ${headCost.map((x) => x.toFixed(2)).join(', ')}).`);
  out.push('');
  out.push('### Lag while the stores grow');
  out.push('');
  out.push(`${STORES} stores (fresh, the default policy as the agent has it: commits every 250 ms, a signed checkpoint every 1,000 records or 10 s) each appended ${LAG_RATE} records/s (${fmt(STORES * LAG_RATE)} records/s in all) for ${LAG_SECONDS} s, in the same process; meanwhile rounds of shipping every store (${CONCURRENCY} at a time, \`shipStore\`), a round starting every ${LAG_ROUND_MS} ms or as soon as the last one ended. Lag of a record = from its \`append\` to the end of its store's \`shipStore\` call that acknowledged its segment (it waits for its checkpoint first: shipping sends sealed records only).`);
  out.push('');
  out.push(`| records appended | rounds | round time p50 / max | lag p50 | lag p99 | lag max | unshipped records at round ends (max) | unshipped after the last round |`);
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
  out.push(`| ${fmt(appended)} | ${roundSeconds.length} | ${pct(roundSeconds, 50).toFixed(2)} s / ${Math.max(...roundSeconds).toFixed(2)} s | ${(pct(lagsMs, 50) / 1000).toFixed(2)} s | ${(pct(lagsMs, 99) / 1000).toFixed(2)} s | ${(Math.max(...lagsMs) / 1000).toFixed(2)} s | ${fmt(Math.max(...backlogAtRoundEnd))} | ${fmt(unshipped)} |`);
  out.push('');
  out.push(`A round costs what is new, not the store's size: \`shipStore\` keeps the Merkle frontier of what the vault acknowledged in the state database and reads only the records, checkpoints and time stamps it has not shipped (through the store's indexes). Most rounds here find nothing sealed since the last one (checkpoints come every 10 s), so the median round is short; the lag is mostly the wait for a checkpoint.`);
  process.stdout.write(out.join('\n') + '\n');
  log(`first run: shipping ${first.ship.seconds.toFixed(2)} s, raw ${first.raw.seconds.toFixed(2)} s`);
} finally {
  if (startedRgw) spawnSync('bash', [join(root, 'scripts/vault/rgw-stop.sh'), rgwDir, '--purge'], { encoding: 'utf8' });
  rmSync(work, { recursive: true, force: true });
}
