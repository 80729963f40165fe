#!/usr/bin/env node
/**
 * Parser benchmarks (issue 4): auditd lines/s, utmp entries/s (both layouts) and setupapi.dev.log
 * lines/s, on large corpora generated from the real samples in test/fixtures/.
 *
 *   npx tsc -p tsconfig.json && node scripts/bench/parsers-audit.mjs [options]
 *
 * Options:
 *   --audit-lines N     auditd corpus size in lines (default 1000000)
 *   --utmp-entries N    utmp corpus size in records, per layout (default 500000)
 *   --setupapi-copies N copies of the Windows 10 setupapi.dev.log (default 20)
 *   --rounds N          rounds per measurement, the median is reported (default 3)
 *   --out FILE          where the markdown goes (default bench-results/parsers-audit.md)
 *
 * The auditd corpus: every event of the real audit logs (go-libaudit auparse and aucoalesce test
 * data, plaso's ENRICHED log), grouped as the parser groups them, repeated with fresh, increasing
 * `msg=audit(…)` ids (about 20 events per second of audit time) so that grouping and the 2-second
 * completion rule work as on a live machine. A floor for comparison: the same lines through just
 * the header regular expression.
 */
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const DIST = join(root, 'dist');
const FIX = join(root, 'test', 'fixtures');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
const AUDIT_LINES = Number(arg('audit-lines', '1000000'));
const UTMP_ENTRIES = Number(arg('utmp-entries', '500000'));
const SETUPAPI_COPIES = Number(arg('setupapi-copies', '20'));
const ROUNDS = Number(arg('rounds', '3'));
const OUT = resolve(root, arg('out', 'bench-results/parsers-audit.md'));

const mod = (p) => import(pathToFileURL(join(DIST, p)).href);
const { createAuditdParser, groupAuditEvents } = await mod('src/parsers/auditd.js');
const { parseUtmp } = await mod('src/parsers/wtmp.js');
const { parseSetupapiDevLog } = await mod('src/parsers/setupapi.js');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function measure(fn) {
  const times = [];
  let result;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    result = fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), result };
}
const fmt = (n) => Math.round(n).toLocaleString('en-US');

// --- auditd corpus ------------------------------------------------------------------------------
const realTexts = [];
for (const f of readdirSync(join(FIX, 'go-libaudit/auparse/testdata')).filter((n) => n.endsWith('.log'))) {
  realTexts.push(readFileSync(join(FIX, 'go-libaudit/auparse/testdata', f), 'utf8'));
}
for (const f of readdirSync(join(FIX, 'go-libaudit/aucoalesce/testdata')).filter((n) => n.endsWith('.yaml'))) {
  const doc = parseYaml(readFileSync(join(FIX, 'go-libaudit/aucoalesce/testdata', f), 'utf8'));
  for (const raw of Object.values(doc.tests)) realTexts.push(raw);
}
realTexts.push(readFileSync(join(FIX, 'plaso/test_data/audit_enriched.log'), 'utf8'));
const templates = [];
for (const text of realTexts) {
  const lines = text.split('\n').filter((l) => l !== '').map((t, i) => ({ seq: i, path: 'x', text: t, observedAt: '' }));
  for (const e of groupAuditEvents(lines).events) templates.push(e.records.map((r) => lines[r.seq].text));
}
const ID = /msg=audit\(\d+\.\d+:\d+\)/;
const auditCorpus = [];
for (let i = 0; auditCorpus.length < AUDIT_LINES; i++) {
  const tpl = templates[i % templates.length];
  const id = `msg=audit(${1_700_000_000 + Math.floor(i / 20)}.${String(i % 1000).padStart(3, '0')}:${i + 1})`;
  for (const l of tpl) auditCorpus.push(l.replace(ID, id));
}
auditCorpus.length = AUDIT_LINES;
const auditBytes = auditCorpus.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);

const audit = measure(() => {
  const p = createAuditdParser();
  let records = 0;
  let failures = 0;
  for (let i = 0; i < auditCorpus.length; i++) {
    const o = p.push({ seq: i, path: '/var/log/audit/audit.log', text: auditCorpus[i], observedAt: '2026-11-23T00:00:00.000000Z' });
    records += o.records.length;
    failures += o.failures.length;
  }
  const o = p.finish();
  return { records: records + o.records.length, failures: failures + o.failures.length };
});
const HEADER = /^(?:node=(\S+) +)?type=([A-Za-z0-9_]+(?:\[\d{1,10}\])?) +msg=audit\((\d{1,12})\.(\d{1,3}):(\d{1,12})\):?/;
const auditFloor = measure(() => {
  let n = 0;
  for (const l of auditCorpus) if (HEADER.exec(l) !== null) n++;
  return n;
});

// --- utmp corpus --------------------------------------------------------------------------------
function repeatRecords(file, size, count) {
  const src = readFileSync(join(FIX, 'plaso/test_data/utmp', file));
  const records = Math.floor(src.length / size);
  const buf = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    const r = i % records;
    buf.set(src.subarray(r * size, (r + 1) * size), i * size);
  }
  return buf;
}
const x86 = repeatRecords('utmp', 384, UTMP_ENTRIES);
const arm = repeatRecords('utmp_aarch64', 400, UTMP_ENTRIES);
const utmpX86 = measure(() => parseUtmp(x86, { source: 'wtmp', derivedFrom: [1] }));
const utmpArm = measure(() => parseUtmp(arm, { source: 'wtmp', derivedFrom: [1] }));

// --- setupapi corpus ----------------------------------------------------------------------------
const win10 = readFileSync(join(FIX, 'plaso/test_data/setupapi.dev.log'), 'utf8');
const setupText = Array(SETUPAPI_COPIES).fill(win10).join('');
const setupLines = setupText.split('\n').length;
const setup = measure(() => parseSetupapiDevLog(setupText, [1]));

// --- report -------------------------------------------------------------------------------------
const perSec = (n, ms) => (n * 1000) / ms;
const cpu = cpus()[0]?.model ?? 'unknown';
const md = `# Parser benchmarks: auditd, utmp/wtmp, setupapi.dev.log

Command: \`npx tsc -p tsconfig.json && node scripts/bench/parsers-audit.mjs${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}\`

Machine: ${cpus().length} × ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Load average when it finished: ${loadavg().map((x) => x.toFixed(1)).join(', ')} (other work on the machine slows every row alike). Median of ${ROUNDS} rounds, one process, corpora in memory (parsing only: no file reading, no store).

| parser | corpus (generated from the real samples) | input | time | throughput | output |
|---|---|---:|---:|---:|---|
| auditd (\`createAuditdParser\`) | ${templates.length} real events repeated with fresh ids | ${fmt(AUDIT_LINES)} lines, ${(auditBytes / 1e6).toFixed(1)} MB | ${fmt(audit.ms)} ms | **${fmt(perSec(AUDIT_LINES, audit.ms))} lines/s** (${(perSec(auditBytes, audit.ms) / 1e6).toFixed(1)} MB/s) | ${fmt(audit.result.records)} file.access, ${fmt(audit.result.failures)} failures |
| floor: header regex only | same lines | ${fmt(AUDIT_LINES)} lines | ${fmt(auditFloor.ms)} ms | ${fmt(perSec(AUDIT_LINES, auditFloor.ms))} lines/s | ${fmt(auditFloor.result)} headers |
| utmp x86_64 (\`parseUtmp\`) | plaso \`utmp\` records repeated | ${fmt(UTMP_ENTRIES)} entries, ${(x86.length / 1e6).toFixed(1)} MB | ${fmt(utmpX86.ms)} ms | **${fmt(perSec(UTMP_ENTRIES, utmpX86.ms))} entries/s** | ${fmt(utmpX86.result.records.length)} auth.logon |
| utmp aarch64 | plaso \`utmp_aarch64\` records repeated | ${fmt(UTMP_ENTRIES)} entries, ${(arm.length / 1e6).toFixed(1)} MB | ${fmt(utmpArm.ms)} ms | **${fmt(perSec(UTMP_ENTRIES, utmpArm.ms))} entries/s** | ${fmt(utmpArm.result.records.length)} auth.logon |
| setupapi.dev.log | plaso Win10 log × ${SETUPAPI_COPIES} | ${fmt(setupLines)} lines, ${(setupText.length / 1e6).toFixed(1)} MB | ${fmt(setup.ms)} ms | **${fmt(perSec(setupLines, setup.ms))} lines/s** | ${fmt(setup.result.records.length)} usb.connect |

Notes: the corpus is built from the events the parser groups, so the real samples' malformed lines are not in it (0 failures).
The auditd parser's cost over the floor is splitting every record into key=value fields, grouping records into events,
and building the payloads of the events that name files.
`;
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, md);
process.stdout.write(md);
