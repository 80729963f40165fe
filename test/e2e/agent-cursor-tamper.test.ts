/**
 * The real agent (`custody agent run`, built CLI) restarted over a state.sqlite whose cursor was
 * moved forward while it was stopped (issue 11, item 8): it resumes from what the evidence proves,
 * says so in its log, skips no line, and `custody verify` finds the store continuous.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, custody } from '../helpers/cli.js';
import { e2eWorkspace, until } from '../helpers/e2e-workspace.js';

const { dir, children } = e2eWorkspace('cursor-e2e');

function lines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `svc line ${i}\n`;
  return s;
}

/** The preserved lines of the store, read as an examiner would (the evidence file, read-only). */
function preserved(store: string): string[] {
  const db = new Database(join(store, 'evidence.sqlite'), { readonly: true });
  try {
    return (db.prepare(`SELECT bytes FROM records WHERE kind = 'log.line' ORDER BY seq`).all() as { bytes: Buffer }[]).map(
      (r) => (JSON.parse(r.bytes.toString('utf8')) as { payload: { text: string } }).payload.text,
    );
  } finally {
    db.close();
  }
}

/** The agent's committed read offset in `path`, from `custody agent status --json`. */
function committedOffset(store: string, path: string): number | undefined {
  const r = custody('agent', 'status', '--store', store, '--json');
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { sources: Array<{ path: string; offset?: number }> }).sources.find((s) => s.path === path)?.offset;
}

/** Runs the agent until it has committed `watch` to its end (whatever it skipped on the way), then stops it with SIGTERM. */
async function runAgentToEnd(store: string, watch: string): Promise<string> {
  const agent = spawn(process.execPath, [CLI, 'agent', 'run', '--store', store, '--watch', watch], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(agent);
  let stderr = '';
  agent.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  agent.stdout?.resume();
  await until('the agent ready', () => (stderr.includes('"evt":"agent.ready"') ? true : undefined));
  await until('the file read to its end', () => (committedOffset(store, watch) === statSync(watch).size ? true : undefined));
  const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
  agent.kill('SIGTERM');
  expect(await exited).toBe(0);
  return stderr;
}

describe('custody agent run over a forged read position', () => {
  it('reads the lines the forged cursor would have skipped; verify is clean', async () => {
    const store = join(dir, 'store');
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const log = join(logs, 'svc.log');
    writeFileSync(log, lines(0, 5));
    await runAgentToEnd(store, log);

    // While the agent is stopped: more lines arrive, and the cached cursor is moved past them.
    appendFileSync(log, lines(5, 12));
    const db = new Database(join(store, 'state.sqlite'));
    const row = db.prepare(`SELECT value FROM kv WHERE name = 'ingest.cursors'`).get() as { value: string };
    const cache = JSON.parse(row.value) as { cursors: Array<{ offset: number; lineNo: number; window: string }> };
    const cursor = cache.cursors[0] as { offset: number; lineNo: number; window: string };
    cursor.offset = Buffer.byteLength(lines(0, 10));
    cursor.lineNo = 11;
    cursor.window = '';
    db.prepare(`UPDATE kv SET value = ? WHERE name = 'ingest.cursors'`).run(JSON.stringify(cache));
    db.close();

    const stderr = await runAgentToEnd(store, log);
    expect(preserved(store)).toEqual(Array.from({ length: 12 }, (_, i) => `svc line ${i}`));
    expect(stderr).toContain('"evt":"ingest.cursor_cache_rejected"');

    const verify = custody('verify', store, '--json');
    expect(verify.code).toBe(0);
    expect((JSON.parse(verify.stdout) as { findings: unknown[] }).findings).toEqual([]);
  });
});
