// What What ran's process trees (src/report/ancestry.ts) cost the report model: peak RSS and time of
// buildReportModel over N timeline entries, each configuration in its own process, in one run:
//   file      N auditd file accesses (the kind KB_PER_EVENT was measured on): the reference;
//   exec      N auditd program starts, pid/ppid chained, none notable (trees linked, none shown);
//   notable   the same starts, every one on a sensitive path (every run traced, each with its own parent).
// Usage: node scripts/bench/report-trees.mjs [N=300000]   (after `npx tsc -p tsconfig.json`)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { peakRssMiB } from './shared.mjs';

const N = Number(process.argv[2] ?? 300_000);
const child = process.argv[3];

if (child === undefined) {
  console.log(`buildReportModel over ${N.toLocaleString('en-US')} entries (Node ${process.version})`);
  console.log('| configuration | peak RSS (MiB) | build (s) | ancestry rows |');
  console.log('|---|---|---|---|');
  for (const config of ['file', 'exec', 'notable']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), String(N), config], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    console.log(r.stdout.trim());
  }
} else {
  const { buildReportModel } = await import('../../dist/src/report/model.js');
  function* entries() {
    const t0 = Date.UTC(2026, 10, 20);
    for (let i = 0; i < N; i++) {
      const time = new Date(t0 + i * 100).toISOString().replace('Z', '000Z');
      const payload =
        child === 'file'
          ? { derived_from: [i], parser: 'auditd@1', path: `/srv/data/file${i % 2000}`, operation: 'open', success: true, auid: '1000', uid: '1000', pid: 1000 + (i % 30000), exe: `/usr/bin/prog${i % 500}`, extra: { audit_id: `${1795165800 + i}.1:${i}` } }
          : { derived_from: [i], parser: 'auditd.execve@1', action: 'start', exe: `/usr/bin/prog${i % 500}`, command_line: `prog${i % 500} -x /srv/data/file${i % 2000}`, pid: 1000 + (i % 30000), ppid: 1000 + ((i + 29999) % 30000), auid: '1000', uid: '1000', extra: { audit_id: `${1795165800 + i}.1:${i}` } };
      yield { datetime: time, timestamp_desc: 'Event Time', host: 'srv', store_id: 's', seq: i, record_sha256: createHash('sha256').update(String(i)).digest('hex'), kind: child === 'file' ? 'file.access' : 'process.exec', source: 'bench', observed_at: time, message: `bench ${i}`, payload };
    }
  }
  const manifest = { case: { id: 'BENCH' }, collector: { host: 'bench', version: 'bench', started_at: '2026-11-21T00:00:00.000000Z', key: { fingerprint: 'f', public_key: 'A' } }, hosts: [] };
  const start = process.hrtime.bigint();
  const model = buildReportModel({ manifest, entries: entries() }, { generatedAt: '2026-11-23T00:00:00.000000Z', sensitive: [child === 'notable' ? '/srv/data/**' : '/nothing/**'] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`| ${child} | ${Math.round(peakRssMiB())} | ${seconds.toFixed(1)} | ${model.ran.treesTotal.toLocaleString('en-US')} |`);
}
