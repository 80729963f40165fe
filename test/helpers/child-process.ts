/**
 * Starts a test's worker script in its own Node process (the crash tests kill it with SIGKILL):
 * resolves `ready` when it prints READY, and keeps its stderr for failure messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RunningChild {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  stderr: () => string;
}

export function runChildScript(script: string, args: readonly string[]): RunningChild {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, ready, exited, stderr: () => err };
}
