/**
 * Where a worker thread's script is. Worker threads run JavaScript: in the build (dist/, what users
 * run) the script sits next to the module that starts it. When that module runs from its TypeScript
 * source (the tests, under vitest) the script is the build's copy of it, dist/<same path>.js, so the
 * tests start the same writer thread and verifier workers users do (`npm test` builds first, and
 * the test setup refuses a build older than the sources: test/helpers/build-fresh.ts).
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project's root when this module runs from its source, src/worker-script.ts (only used then). */
const SOURCE_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The script `fileName` (a `.js` name, relative like './x-worker.js') for the module at `from`
 * (its import.meta.url); undefined when there is none (sources without a build), and the caller
 * then does the work in its own thread.
 */
export function workerScript(fileName: string, from: string): URL | undefined {
  const beside = new URL(fileName, from);
  let script = beside;
  if (new URL(from).pathname.endsWith('.ts')) {
    // From the sources: the same path under dist/ (tsconfig's outDir, rootDir '.').
    script = pathToFileURL(join(SOURCE_ROOT, 'dist', relative(SOURCE_ROOT, fileURLToPath(beside))));
  }
  return existsSync(fileURLToPath(script)) ? script : undefined;
}
