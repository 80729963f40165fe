#!/usr/bin/env node
/**
 * Text parser benchmarks (issue 4): lines per second of each text parser on a large corpus built
 * from the real samples in test/fixtures (repeated, with times, device numbers, serials, users,
 * addresses and ports varied by a seeded generator so that no two lines are the same).
 *
 *   npm run build && node scripts/bench/parsers-text.mjs [options]
 *
 * Options:
 *   --lines N      corpus size per measurement (default 400000)
 *   --rounds N     rounds per measurement, median reported (default 5)
 *   --dist DIR     where the compiled modules are (default dist/)
 *   --out FILE     where the markdown goes (default bench-results/parsers-text.md)
 *
 * Measured, each in this process on pre-built corpora (generation is not timed):
 *   framing       createSyslogFramer().frame() over every sample line format (RFC 3164, rsyslog ISO,
 *                 RFC 5424, journal JSON, continuations)
 *   kernel-usb    createKernelUsbParser().push() over pre-framed kernel lines (USB announcements,
 *                 storage lines, disconnects, unrelated kernel lines)
 *   auth          parseAuthLine() over pre-framed auth.log lines
 *   dispatch      createTextParsers().push() end to end (framing + every parser) on a mixed corpus
 *                 (25% kernel USB, 25% auth, 50% other syslog lines), and on a corpus with no
 *                 USB or auth lines at all (what unrelated lines cost)
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  return process.argv[i + 1];
}
const LINES = Number(arg('lines', '400000'));
const ROUNDS = Number(arg('rounds', '5'));
const DIST = resolve(arg('dist', join(root, 'dist')));
const OUT = resolve(arg('out', join(root, 'bench-results', 'parsers-text.md')));

const load = (p) => import(pathToFileURL(join(DIST, 'src', 'parsers', p)).href);
const { createSyslogFramer, parseSyslogLine } = await load('syslog.js');
const { createKernelUsbParser } = await load('linux-usb.js');
const { parseAuthLine } = await load('linux-auth.js');
const { createTextParsers } = await load('text-dispatch.js');

const FIX = join(root, 'test', 'fixtures');
const read = (p) => readFileSync(join(FIX, p), 'utf8').split('\n').filter((l) => l !== '');

// Deterministic generator (mulberry32), so every run measures the same corpus.
let seed = 0x5eed;
function rand() {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const hex = (n) => Array.from({ length: n }, () => '0123456789ABCDEF'[Math.floor(rand() * 16)]).join('');

const SYSLOG_SAMPLES = [
  'plaso/test_data/syslog/syslog',
  'plaso/test_data/syslog/syslog_chromeos',
  'plaso/test_data/syslog/syslog_cron.log',
  'plaso/test_data/syslog/syslog_osx',
  'plaso/test_data/syslog/syslog_rsyslog',
  'plaso/test_data/syslog/syslog_rsyslog_SysklogdFileFormat',
  'plaso/test_data/syslog/syslog_rsyslog_SyslogProtocol23Format',
  'plaso/test_data/syslog/syslog_rsyslog_traditional',
  'lnav/test/logfile_syslog.0',
  'lnav/test/logfile_syslog.2',
  'lnav/test/logfile_syslog.3',
  'lnav/test/logfile_journald.json',
].flatMap(read);
const AUTH_SAMPLES = [
  ...read('beats/filebeat/module/system/auth/test/test.log'),
  ...read('plaso/test_data/syslog/syslog_ssh.log'),
  ...read('beats/filebeat/module/system/auth/test/timestamp.log'),
];
const KERN = read('constructed/kern-usb.log');

/** A real syslog line with its time-of-day and pid varied. */
function otherLine() {
  const l = pick(SYSLOG_SAMPLES);
  return l.replace(/\d\d:\d\d:\d\d/, () => `${String(Math.floor(rand() * 24)).padStart(2, '0')}:${String(Math.floor(rand() * 60)).padStart(2, '0')}:${String(Math.floor(rand() * 60)).padStart(2, '0')}`)
    .replace(/\[(\d+)\]:/, () => `[${1 + Math.floor(rand() * 65000)}]:`);
}

/** A real auth line with its addresses, ports and users varied. */
function authLine() {
  const l = pick(AUTH_SAMPLES);
  return l
    .replace(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g, () => `${10 + Math.floor(rand() * 200)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`)
    .replace(/port \d+/, () => `port ${1024 + Math.floor(rand() * 60000)}`)
    .replace(/for (vagrant|plaso|fred|root)\b/, () => `for ${pick(['vagrant', 'plaso', 'fred', 'root', 'deploy', 'alice'])}`);
}

/**
 * One USB session of kern-usb.log (a stick with its storage lines, or the receiver behind hubs),
 * with a fresh device number, serial and uptime, as a list of lines (classic syslog, kernel).
 */
let uptime = 5000;
let devno = 5;
function usbSession() {
  uptime += 60 + rand() * 600;
  devno = (devno % 127) + 1;
  const serial = hex(20);
  const stick = rand() < 0.7;
  const src = stick ? [...KERN.slice(0, 12), KERN[17], KERN[18]] : [...KERN.slice(12, 17)];
  const port = stick ? '1-1' : '3-6.4.1';
  return src.map((l, i) =>
    l
      .replace(/\[\s*[\d.]+\]/, `[${(uptime + i * 0.001 + (i >= 12 ? 900 : 0)).toFixed(6).padStart(12)}]`)
      .replace(/device number \d+/, `device number ${devno}`)
      .replace(/SerialNumber: \S+/, `SerialNumber: ${serial}`)
      .replace(/usb (1-1|3-6\.4\.1):/, `usb ${port}:`),
  );
}

function corpus(kind, n) {
  const out = [];
  if (kind === 'framing') while (out.length < n) out.push(rand() < 0.3 ? authLine() : otherLine());
  else if (kind === 'auth') while (out.length < n) out.push(authLine());
  // Unrelated kernel lines lose their bracketed uptime (another boot's) so they do not read as reboots.
  else if (kind === 'kernel') while (out.length < n) out.push(...usbSession(), otherLine().replace(/ \S+(\[\d+\])?:/, ' kernel:').replace(/\[\s*\d+\.\d+\]\s*/, ''));
  else if (kind === 'mixed') {
    while (out.length < n) {
      const r = rand();
      if (r < 0.25 / 9) out.push(...usbSession()); // sessions are ~9 lines on average
      else if (r < 0.5) out.push(authLine());
      else out.push(otherLine());
    }
  } else if (kind === 'unrelated') while (out.length < n) out.push(otherLine());
  return out.slice(0, n);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const OBSERVED = '2026-11-23T00:00:00.000000Z';

function measure(name, lines, fn) {
  const rates = [];
  let produced = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    produced = fn(lines);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(lines.length / s);
  }
  const bytes = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
  const row = { name, lines: lines.length, rate: median(rates), min: Math.min(...rates), max: Math.max(...rates), mbps: (median(rates) * bytes) / lines.length / 1e6, produced };
  console.log(`${name.padEnd(28)} ${fmt(row.rate).padStart(12)} lines/s  (min ${fmt(row.min)}, max ${fmt(row.max)}; ${produced} records+failures)`);
  return row;
}

const frameAll = (lines) => {
  const fr = createSyslogFramer();
  return lines.map((l) => fr.frame(l, OBSERVED));
};

const rows = [];
{
  const lines = corpus('framing', LINES);
  rows.push(measure('framing (syslog.ts)', lines, (ls) => {
    const fr = createSyslogFramer();
    let n = 0;
    for (const l of ls) n += fr.frame(l, OBSERVED).length;
    return n - ls.length;
  }));
}
{
  const lines = corpus('kernel', LINES);
  const frames = frameAll(lines);
  rows.push(measure('kernel-usb (linux-usb.ts)', lines, (ls) => {
    const p = createKernelUsbParser();
    let n = 0;
    for (let i = 0; i < ls.length; i++) for (const f of frames[i]) { const o = p.push({ seq: i, path: '/k', text: ls[i], observedAt: OBSERVED }, f); n += o.records.length + o.failures.length; }
    const e = p.finish();
    return n + e.records.length + e.failures.length;
  }));
}
{
  const lines = corpus('auth', LINES);
  const frames = frameAll(lines);
  rows.push(measure('auth (linux-auth.ts)', lines, (ls) => {
    let n = 0;
    for (let i = 0; i < ls.length; i++) for (const f of frames[i]) { const o = parseAuthLine({ seq: i, path: '/a', text: ls[i], observedAt: OBSERVED }, f); n += o.records.length + o.failures.length; }
    return n;
  }));
}
for (const [kind, label] of [['mixed', 'dispatch, mixed corpus'], ['unrelated', 'dispatch, unrelated lines']]) {
  const lines = corpus(kind, LINES);
  rows.push(measure(`${label} (text-dispatch.ts)`, lines, (ls) => {
    const tp = createTextParsers();
    let n = 0;
    for (let i = 0; i < ls.length; i++) { const o = tp.push({ seq: i, path: '/var/log/syslog', text: ls[i], observedAt: OBSERVED }); n += o.records.length + o.failures.length; }
    const e = tp.finish();
    return n + e.records.length + e.failures.length;
  }));
}

// Sanity: the corpora are read as intended (not measured).
const check = createTextParsers();
const sample = corpus('mixed', 20000);
let recs = 0;
for (let i = 0; i < sample.length; i++) recs += check.push({ seq: i, path: '/s', text: sample[i], observedAt: OBSERVED }).records.length;
void parseSyslogLine;

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const cmd = `node scripts/bench/parsers-text.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
const md = [
  '## Text parsers: lines per second',
  '',
  `Command: \`${cmd}\` (after \`npm run build\`, or with \`--dist\` pointing at a build of src/parsers).`,
  '',
  `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; Node ${process.version}; ${LINES.toLocaleString('en-US')} lines per corpus, median of ${ROUNDS} rounds, one process, corpus generation not timed.`,
  '',
  'Corpora are built from the real samples in test/fixtures (plaso and lnav syslog files, beats and plaso auth logs) and the',
  'constructed kern-usb.log, repeated with times, pids, addresses, ports, users, device numbers and serials varied by a seeded',
  'generator. "records+failures" is what the last round produced.',
  '',
  '| parser | lines/s (median) | min | max | MB/s | records+failures |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${fmt(r.rate)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.mbps.toFixed(1)} | ${r.produced.toLocaleString('en-US')} |`),
  '',
  `Check: 20,000 lines of the mixed corpus gave ${recs} records through the dispatcher.`,
  '',
];
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, md.join('\n'));
console.log(`\nwrote ${OUT}`);
