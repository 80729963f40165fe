/**
 * The generated inputs of the import benchmarks (import-vs-oracles.mjs, import-floor.mjs), seeded so
 * every run and every script gets the same bytes:
 *   - accessLog: an access log of N lines (nginx combined + X-Forwarded-For, built from lnav's real
 *     shop log with clients, times, URLs and byte counts varied);
 *   - auditLog: an audit.log of N lines made of execve events (SYSCALL + EXECVE + CWD + 2 PATH +
 *     PROCTITLE, the shape of plaso's audit_enriched.log in RAW format, pids, times, arguments varied).
 *
 *   node scripts/bench/import-inputs.mjs --lines 1000000 --out DIR   (writes DIR/access.log, DIR/audit.log)
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let seed = 0x13;
/** Restarts the generator: each file is the same whichever is written first. */
function reseed() {
  seed = 0x13;
}
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
  mkdirSync(dirname(path), { recursive: true });
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
export function accessLog(path, LINES) {
  reseed();
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
export function auditLog(path, LINES) {
  reseed();
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const lines = Number(arg('lines', '1000000'));
  const out = resolve(arg('out', '.'));
  accessLog(join(out, 'access.log'), lines);
  auditLog(join(out, 'audit.log'), lines);
}
