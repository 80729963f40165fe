/**
 * Runs the built CLI (`node dist/src/cli.js …`, after `npm run build`) for the end-to-end tests:
 * exit code and output, as a user or a script sees them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'dist', 'src', 'cli.js');

export function custody(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
