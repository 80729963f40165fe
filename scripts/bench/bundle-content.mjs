#!/usr/bin/env node
/**
 * The cost of checking a bundle's timeline and tables against its records (issue 11, item 2),
 * alone, on a bundle folder that `custody collect` wrote (e.g. kept by
 * `node scripts/bench/collect.mjs --records 34000 --keep`, 3 × 34,000 records):
 *
 *   node scripts/bench/bundle-content.mjs <bundle folder>
 *
 * Prints CPU seconds (this process, one thread) for (a) reading every record of every snapshot,
 * (b) the same read through teeRecords (each record rendered with the collector's code and its
 * rows digested), (c) check() reading timeline/ and tables/; and the check's cost per record,
 * (b − a + c) / records. Imports dist/ (run `npm run build` first).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const bundle = process.argv[2];
if (bundle === undefined) {
  process.stderr.write('usage: node scripts/bench/bundle-content.mjs <bundle folder>\n');
  process.exit(2);
}
const imp = (p) => import(pathToFileURL(join(dist, p)).href);
const { SqliteStoreReader } = await imp('src/store/store-reader.js');
const { BundleContentCheck } = await imp('src/verify/bundle-content.js');
const { FolderTextReader } = await imp('collector/bundle-text.js');
const m = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
let c0 = cpu(); let n = 0;
for (const h of m.hosts) { const r = new SqliteStoreReader(join(bundle, h.path)); for (const b of r.recordBatches(1024)) n += b.length; r.close(); }
const readOnly = cpu() - c0;
const check = new BundleContentCheck(m.hosts.map((h) => ({ host: h.host, storeId: h.store_id })), randomBytes(32));
c0 = cpu();
m.hosts.forEach((h, i) => { const r = new SqliteStoreReader(join(bundle, h.path)); for (const b of check.teeRecords(i, r).recordBatches(1024)) void b; r.close(); });
const tee = cpu() - c0;
c0 = cpu();
const f = check.check(new FolderTextReader(bundle, () => true));
const files = cpu() - c0;
console.log(JSON.stringify({ records: n, readOnly, teeRead: tee, renderDigest: tee - readOnly, checkFiles: files, perRecordUs: ((tee - readOnly + files) / n) * 1e6, findings: f.length }));
