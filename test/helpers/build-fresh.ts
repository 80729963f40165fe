/**
 * vitest's global setup: the tests run worker threads (the store's writer thread, the verifier's
 * workers) and the e2e CLI from the build in dist/ (src/worker-script.ts), so a build older than
 * the sources would test yesterday's code under today's names. Refuse to start instead, naming the
 * first stale file. `npm test` builds first; alone: `npx tsc -p tsconfig.json`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
/** tsconfig.json's include. */
const SOURCE_DIRS = ['src', 'agent', 'collector'];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** The first source file whose build is missing or older than it, or undefined when the build is current. */
export function staleBuild(root = ROOT): { source: string; reason: string } | undefined {
  for (const dir of SOURCE_DIRS) {
    if (!existsSync(join(root, dir))) continue;
    for (const source of sourceFiles(join(root, dir))) {
      const rel = relative(root, source);
      const built = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
      if (!existsSync(built)) return { source: rel, reason: `dist/${relative(join(root, 'dist'), built)} is missing` };
      if (statSync(built).mtimeMs < statSync(source).mtimeMs) return { source: rel, reason: `${rel} changed after it was built` };
    }
  }
  return undefined;
}

export default function setup(): void {
  const stale = staleBuild();
  if (stale !== undefined) {
    throw new Error(`the build in dist/ is not current (${stale.reason}): the tests run worker threads and the CLI from it; run \`npx tsc -p tsconfig.json\` (npm test does)`);
  }
}
