#!/usr/bin/env node
/**
 * Benchmark: EVTX records/s for readEvtx alone and readEvtx + mapWindowsEvent, on a large corpus made
 * of the real EVTX fixtures (test/fixtures, 16 files, 6.4 MB, 4,934 records) read N times over
 * (default 12: ≈ 59,000 records, ≈ 76 MB of EVTX). Run after `npm run build` (imports dist/):
 *
 *   npm run build && node scripts/bench/parsers-evtx.mjs [--passes N] [--out bench-results/parsers-evtx.md]
 *
 * Prints a markdown section and writes it to --out. Numbers depend on the machine; the point is the
 * order of magnitude and regressions between commits on the same machine.
 */
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpus } from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const passes = Number(opt('--passes', '12'));
const out = resolve(root, opt('--out', 'bench-results/parsers-evtx.md'));

const { readEvtx } = await import(pathToFileURL(join(root, 'dist/src/parsers/evtx/index.js')).href);
const { createWindowsEventMapper } = await import(pathToFileURL(join(root, 'dist/src/parsers/windows-events.js')).href);

function findEvtx(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) found.push(...findEvtx(p));
    else if (name.endsWith('.evtx')) found.push(p);
  }
  return found.sort();
}
const files = findEvtx(join(root, 'test/fixtures')).map((p) => ({ p, bytes: new Uint8Array(readFileSync(p)) }));
const bytesPerPass = files.reduce((n, f) => n + f.bytes.length, 0);

// Warm up once (JIT), then measure.
for (const f of files) readEvtx(f.bytes);

let records = 0;
let t0 = process.hrtime.bigint();
for (let i = 0; i < passes; i++) for (const f of files) records += readEvtx(f.bytes).records.length;
const readNs = Number(process.hrtime.bigint() - t0);

let mappedRecords = 0;
let derived = 0;
t0 = process.hrtime.bigint();
for (let i = 0; i < passes; i++) {
  for (const f of files) {
    const mapper = createWindowsEventMapper();
    const r = readEvtx(f.bytes);
    r.records.forEach((e, k) => {
      derived += mapper.map(e, [k + 1]).records.length;
    });
    mappedRecords += r.records.length;
  }
}
const mapNs = Number(process.hrtime.bigint() - t0);

const mb = (bytesPerPass * passes) / 1e6;
const section = `## EVTX (readEvtx, mapWindowsEvent)

Corpus: the ${files.length} real EVTX fixtures (${(bytesPerPass / 1e6).toFixed(1)} MB, ${records / passes} records) read ${passes} times: ${records} records, ${mb.toFixed(1)} MB.
Machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, Node ${process.version}. Single thread.

| what | records | seconds | records/s | MB/s |
|---|---:|---:|---:|---:|
| readEvtx | ${records} | ${(readNs / 1e9).toFixed(2)} | ${Math.round(records / (readNs / 1e9))} | ${(mb / (readNs / 1e9)).toFixed(1)} |
| readEvtx + mapWindowsEvent (${derived} derived records) | ${mappedRecords} | ${(mapNs / 1e9).toFixed(2)} | ${Math.round(mappedRecords / (mapNs / 1e9))} | ${(mb / (mapNs / 1e9)).toFixed(1)} |

Command: \`npm run build && node scripts/bench/parsers-evtx.mjs --passes ${passes}\`
`;
process.stdout.write(section);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `# Parser benchmark: EVTX\n\n${section}`);
