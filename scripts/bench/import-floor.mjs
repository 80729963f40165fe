#!/usr/bin/env node
/**
 * The floor of `custody import` (issue 13's benchmark): the least work that preserving and sealing
 * every line of a file takes, measured beside the oracle the issue compares custody with, on the
 * same generated file (import-inputs.mjs), in the same run:
 *
 *   line floor: read the file in 1 MiB pieces, split it into lines, SHA-256 each line, insert one
 *            SQLite row per line (seq, hash, the line's bytes) through better-sqlite3 with the
 *            store's pragmas (WAL, synchronous=FULL) and its batch size (one transaction per
 *            --batch rows, default 256 as the store's policy): no parsing, no record, no Merkle
 *            tree, no checkpoint, no blob. This is NOT a floor of custody's import, which neither
 *            hashes nor stores lines one by one: it is what a line-by-line preserving importer
 *            (custody's agent, which keeps each line as a log.line record) would pay at least.
 *   blob floor: what preserving the file as custody import does it needs at least: read in 1 MiB
 *            pieces, find the lines, SHA-256 the file once, one SQLite row per 1 MiB piece (every
 *            line's bytes kept exactly), one signed seal of the hash, same pragmas (blobFloor).
 *   oracle:  goaccess (access log) or ausearch -i (audit log), as import-vs-oracles.mjs runs them.
 *   custody: `custody import` of the same file into a fresh store (with --custody).
 *
 * What custody does beyond the blob floor (parse, derive typed records, canonical JSON, Merkle
 * tree, signed checkpoints, reading the blob back) is its cost above it. Each is a whole process timed by
 * GNU time (CPU = user + system; wall clock beside it, the machine being shared).
 *
 *   npx tsc -p tsconfig.json && node scripts/bench/import-floor.mjs [--lines 1000000] [--rounds 1] [--inputs DIR] [--only access|audit] [--custody] [--batch 256] [--other-cli PATH]
 *
 * Every round is listed after the table (the table holds the medians). --other-cli PATH also
 * imports the file with another build's cli.js in each round, right after this build's (a before
 * and after in the same run: copy dist/ of the other commit somewhere inside the repository, so
 * that it finds node_modules).
 *
 * --inputs DIR reads DIR/access.log and DIR/audit.log (written by import-inputs.mjs) and keeps them;
 * without it the files are generated in a temporary folder and deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { accessLog, auditLog } from './import-inputs.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
const BATCH = Number(arg('batch', '256'));

/** The floor itself, in this process: lines → SHA-256 → one SQLite row each. */
function floor(file, dbPath) {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE lines (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, bytes BLOB NOT NULL) STRICT');
  const insert = db.prepare('INSERT INTO lines (seq, hash, bytes) VALUES (?, ?, ?)');
  let rows = [];
  const commit = db.transaction((batch) => {
    for (const [seq, hash, bytes] of batch) insert.run(seq, hash, bytes);
  });
  let seq = 0;
  const line = (bytes) => {
    rows.push([seq++, createHash('sha256').update(bytes).digest(), bytes]);
    if (rows.length >= BATCH) {
      commit(rows);
      rows = [];
    }
  };
  const fd = openSync(file, 'r');
  const PIECE = 1 << 20;
  let carry = Buffer.alloc(0);
  for (;;) {
    const piece = Buffer.allocUnsafe(PIECE);
    const n = readSync(fd, piece, 0, PIECE, null);
    if (n === 0) break;
    const buf = carry.length > 0 ? Buffer.concat([carry, piece.subarray(0, n)]) : piece.subarray(0, n);
    let start = 0;
    for (let end = buf.indexOf(0x0a, start); end >= 0; end = buf.indexOf(0x0a, start)) {
      line(buf.subarray(start, end));
      start = end + 1;
    }
    carry = Buffer.from(buf.subarray(start));
  }
  closeSync(fd);
  if (carry.length > 0) line(carry);
  if (rows.length > 0) commit(rows);
  db.close();
  return seq;
}

/**
 * The blob floor, in this process: what custody's own way of preserving a file needs at least. The
 * file is read in 1 MiB pieces, its lines found (counted), the whole file hashed once (SHA-256) and
 * stored as one SQLite row per 1 MiB piece (custody's blob chunks: every line's bytes kept exactly),
 * then sealed: one row naming the file's hash and line count and an Ed25519 signature over it, all
 * in one transaction with the store's pragmas and page size. No per-line hash or row: a line of
 * the file is proven by the file's hash, as custody's records prove theirs (derived_from the
 * `log.file`, `extra.lines`).
 */
function blobFloor(file, dbPath) {
  const db = new Database(dbPath);
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE blobs (chunk INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT');
  db.exec('CREATE TABLE seals (sha256 TEXT NOT NULL, lines INTEGER NOT NULL, sig BLOB NOT NULL) STRICT');
  const insert = db.prepare('INSERT INTO blobs (chunk, data) VALUES (?, ?)');
  const seal = db.prepare('INSERT INTO seals (sha256, lines, sig) VALUES (?, ?, ?)');
  const { privateKey } = generateKeyPairSync('ed25519');
  const hash = createHash('sha256');
  let lines = 0;
  let lastByte = 0x0a;
  db.transaction(() => {
    const fd = openSync(file, 'r');
    const PIECE = 1 << 20;
    for (let chunk = 0; ; chunk++) {
      const piece = Buffer.allocUnsafe(PIECE);
      const n = readSync(fd, piece, 0, PIECE, null);
      if (n === 0) break;
      const bytes = piece.subarray(0, n);
      for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) lines++;
      lastByte = bytes[n - 1];
      hash.update(bytes);
      insert.run(chunk, bytes);
    }
    closeSync(fd);
    if (lastByte !== 0x0a) lines++;
    const sha256 = hash.digest('hex');
    seal.run(sha256, lines, sign(null, Buffer.from(`${sha256} ${lines}`), privateKey));
  })();
  db.close();
  return lines;
}

if (process.argv[2] === '--floor' || process.argv[2] === '--blob-floor') {
  const n = (process.argv[2] === '--floor' ? floor : blobFloor)(process.argv[3], process.argv[4]);
  process.stdout.write(`${n}\n`);
  process.exit(0);
}

const LINES = Number(arg('lines', '1000000'));
const ROUNDS = Number(arg('rounds', '1'));
const INPUTS = arg('inputs', undefined);
const CUSTODY = process.argv.includes('--custody');
const CLI = join(root, 'dist', 'src', 'cli.js');
const OTHER_CLI = arg('other-cli', undefined);
const loadAtStart = loadavg();
const work = mkdtempSync(join(tmpdir(), 'custody-bench-floor-'));

/** Wall-clock and CPU (user + system, from GNU time) seconds of one whole process. */
function timed(cmd, args, opts = {}) {
  const timeFile = join(work, 'time.txt');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'], env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, maxBuffer: 1 << 30 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr?.toString().slice(0, 500)}`);
  const [u, sy, kb] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { s, cpu: u + sy, rssMiB: kb / 1024, stdout: r.stdout };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const inputs = [
  { name: 'access log (nginx combined + XFF)', file: 'access.log', make: accessLog, oracle: (f) => ['goaccess', [f, '--no-global-config', '--log-format=COMBINED', '-o', 'json']] },
  { name: 'audit.log (execve events, 6 lines each)', file: 'audit.log', make: auditLog, oracle: (f) => ['ausearch', ['-i', '-if', f]] },
];
const ONLY = arg('only', undefined);
const rows = [];
try {
  for (const input of inputs.filter((i) => ONLY === undefined || i.file.startsWith(ONLY))) {
    const file = INPUTS !== undefined ? resolve(INPUTS, input.file) : join(work, input.file);
    if (INPUTS === undefined || !existsSync(file)) input.make(file, LINES);
    const content = readFileSync(file);
    let lines = 0;
    for (let at = content.indexOf(0x0a); at >= 0; at = content.indexOf(0x0a, at + 1)) lines++;
    const times = { floor: [], blob: [], oracle: [], custody: [], other: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [kind, flag] of [['floor', '--floor'], ['blob', '--blob-floor']]) {
        const db = join(work, `${kind}-${r}.sqlite`);
        times[kind].push(timed(process.execPath, [fileURLToPath(import.meta.url), flag, file, db]));
        rmSync(db, { force: true });
        rmSync(`${db}-wal`, { force: true });
        rmSync(`${db}-shm`, { force: true });
      }
      const [cmd, args] = input.oracle(file);
      times.oracle.push(timed(cmd, args, { allowFail: cmd === 'ausearch' }));
      if (CUSTODY) {
        const store = join(work, `store-${r}`);
        times.custody.push(timed(process.execPath, [CLI, 'import', '--store', store, '--host', 'bench', '--json', file], { stdout: 'pipe' }));
        rmSync(store, { recursive: true, force: true });
        if (OTHER_CLI !== undefined) {
          times.other.push(timed(process.execPath, [resolve(OTHER_CLI), 'import', '--store', store, '--host', 'bench', '--json', file], { stdout: 'pipe' }));
          rmSync(store, { recursive: true, force: true });
        }
      }
    }
    const m = (xs, key) => (xs.length === 0 ? undefined : median(xs.map((x) => x[key])));
    rows.push({ ...input, lines, bytes: statSync(file).size, oracleName: input.oracle(file)[0], times, ...Object.fromEntries(Object.entries(times).flatMap(([k, xs]) => [[`${k}S`, m(xs, 's')], [`${k}Cpu`, m(xs, 'cpu')], [`${k}Rss`, m(xs, 'rssMiB')]])) });
    if (INPUTS === undefined) rmSync(file, { force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const f2 = (x) => (x === undefined ? '–' : x.toFixed(2));
const env = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;
const md = [
  `# The floor of custody import, beside goaccess / ausearch`,
  '',
  `\`node scripts/bench/import-floor.mjs --lines ${LINES} --rounds ${ROUNDS} --batch ${BATCH}${CUSTODY ? ' --custody' : ''}${OTHER_CLI !== undefined ? ` --other-cli ${OTHER_CLI}` : ''}\` on ${env}, load average ${loadAtStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end; seconds per whole process, wall / CPU (user + system, GNU time), peak RSS; median of ${ROUNDS}.`,
  '',
  '| input | lines | MB | line floor wall / CPU (s) | line floor RSS (MiB) | blob floor wall / CPU (s) | oracle | oracle wall / CPU (s) | line floor ÷ oracle CPU | blob floor ÷ oracle CPU | custody wall / CPU (s) | custody RSS (MiB) | custody ÷ oracle CPU | custody ÷ blob floor CPU |',
  '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.lines} | ${(r.bytes / 1e6).toFixed(1)} | ${f2(r.floorS)} / ${f2(r.floorCpu)} | ${r.floorRss.toFixed(0)} | ${f2(r.blobS)} / ${f2(r.blobCpu)} | ${r.oracleName} | ${f2(r.oracleS)} / ${f2(r.oracleCpu)} | ${f2(r.floorCpu / r.oracleCpu)}× | ${f2(r.blobCpu / r.oracleCpu)}× | ` +
      (r.custodyS === undefined ? '– | – | – | – |' : `${f2(r.custodyS)} / ${f2(r.custodyCpu)} | ${r.custodyRss.toFixed(0)} | ${f2(r.custodyCpu / r.oracleCpu)}× | ${f2(r.custodyCpu / r.blobCpu)}× |`),
  ),
  '',
  'Every round (wall / CPU s, peak RSS):',
  '',
  ...rows.flatMap((r) =>
    r.times.oracle.map((o, i) => {
      const t = (x) => (x === undefined ? '–' : `${f2(x.s)} / ${f2(x.cpu)}`);
      const c = r.times.custody[i];
      const other = r.times.other[i];
      return (
        `- ${r.file} round ${i + 1}: line floor ${t(r.times.floor[i])}, blob floor ${t(r.times.blob[i])}, ${r.oracleName} ${t(o)}` +
        (c === undefined ? '' : `, custody ${t(c)}, ${c.rssMiB.toFixed(0)} MiB (${f2(c.s / o.s)}× wall, ${f2(c.cpu / o.cpu)}× CPU)`) +
        (other === undefined ? '' : `, other build ${t(other)}, ${other.rssMiB.toFixed(0)} MiB (${f2(other.s / o.s)}× wall, ${f2(other.cpu / o.cpu)}× CPU)`)
      );
    }),
  ),
  '',
].join('\n');
process.stdout.write(md);
