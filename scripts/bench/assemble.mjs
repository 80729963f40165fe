// Assembles the sections each benchmark writes to bench-results/*.md into bench-results/all.md, so
// every figure sits next to the command that produced it. Run after any `npm run bench:*`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'bench-results';
const order = ['store', 'ingest', 'agent-idle', 'collect', 'vault-ship', 'parsers-text', 'parsers-audit', 'parsers-evtx'];
const files = readdirSync(dir).filter((f) => f.endsWith('.md'));
files.sort((a, b) => {
  const ia = order.indexOf(a.replace(/\.md$/, ''));
  const ib = order.indexOf(b.replace(/\.md$/, ''));
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
});
// It used to overwrite BENCHMARKS.md with a summary table written into this script, which had gone
// stale, and without the sections written by hand there (every goal's runs, floors and profiles):
// `npm run bench` then destroyed the record. BENCHMARKS.md is curated; this writes this machine's
// fresh sections side by side into bench-results/all.md, to compare with it and copy from.
const out = join(dir, 'all.md');
const header = `# Benchmark sections of the last runs on this machine (bench-results/*.md)

Assembled by \`node scripts/bench/assemble.mjs\` from the sections each benchmark wrote, each with the
command that produced it. BENCHMARKS.md is the curated record (each goal's runs, floors and
profiles): compare these with it, and copy a section there when it should replace one.

`;
writeFileSync(out, header + files.filter((f) => f !== 'all.md').map((f) => readFileSync(join(dir, f), 'utf8').trim()).join('\n\n') + '\n');
console.log(`${out}: ${files.filter((f) => f !== 'all.md').length} sections (${files.filter((f) => f !== 'all.md').join(', ')}); BENCHMARKS.md is left as it is`);
