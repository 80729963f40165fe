// Assembles BENCHMARKS.md from the sections each benchmark writes to bench-results/*.md, so every
// figure in it sits next to the command that produced it. Run after any `npm run bench:*`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'bench-results';
const order = ['store', 'ingest', 'agent-idle', 'parsers-text', 'parsers-audit', 'parsers-evtx'];
const files = readdirSync(dir).filter((f) => f.endsWith('.md'));
files.sort((a, b) => {
  const ia = order.indexOf(a.replace(/\.md$/, ''));
  const ib = order.indexOf(b.replace(/\.md$/, ''));
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
});
const header = `# Benchmarks

Each section below was written by the script it names, on the machine it names, with the exact
command that produced it. Goals come from the issues; where a goal is not met, the section says so.
Regenerate a section with its command, then \`node scripts/bench/assemble.mjs\`.

`;
writeFileSync('BENCHMARKS.md', header + files.map((f) => readFileSync(join(dir, f), 'utf8').trim()).join('\n\n') + '\n');
console.log(`BENCHMARKS.md: ${files.length} sections (${files.join(', ')})`);
