/**
 * What the end-to-end tests that run the built CLI as long-lived children share: a throw-away
 * folder, the children to kill if a test ends early, and polling until something is true.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value; the test's own timeout bounds the wait. `what` names it for readers. */
export async function until<T>(what: string, check: () => T | undefined): Promise<T> {
  void what;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    await sleep(100);
  }
}

/** A folder under the system tmpdir and a list of children; after the file's tests, live children are killed with -9 and the folder removed. */
export function e2eWorkspace(prefix: string): { dir: string; children: ChildProcess[] } {
  const dir = mkdtempSync(join(tmpdir(), `custody-${prefix}-`));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, children };
}
