/**
 * Removed seals on a store written by the real agent, verified by the built CLI (`npx tsc -p
 * tsconfig.json` first): real child processes, real signals, a real store. The honest stores an
 * agent leaves (a clean stop, an idle run with heartbeats and key rotations, a kill -9, a restart
 * after it, a store read while the agent runs, a second signal while stopping, an import) must have
 * no finding; the rollback of such a store must be INVALID with each trace named where it is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, custody } from '../helpers/cli.js';
import { deleteAndRenumber, deleteCheckpointsAfterFirst, hideDeletedCheckpoints, openAsAttacker, rewriteRecord, seqsOfKind } from '../helpers/store-attacks.js';
import { e2eWorkspace, until } from '../helpers/e2e-workspace.js';

const { dir, children } = e2eWorkspace('rollback-e2e');


interface VerifyJson {
  ok: boolean;
  records: number;
  unsealed?: { count: number };
  findings: { code: string; severity: string; where: Record<string, unknown> }[];
}

const store = join(dir, 'store');
const logs = join(dir, 'logs');
const appLog = join(logs, 'app.log');
const config = join(dir, 'agent.json');
let fingerprint = '';
let lineNo = 0;

function verifyJson(path: string, ...extra: string[]): { code: number | null; result: VerifyJson } {
  const r = custody('verify', path, '--key', fingerprint, '--json', ...extra);
  expect(r.stderr).toBe('');
  return { code: r.code, result: JSON.parse(r.stdout) as VerifyJson };
}

function kindCounts(path: string): Record<string, number> {
  const r = custody('agent', 'status', '--store', path, '--json');
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { records: { byKind: Record<string, number> } }).records.byKind;
}

/** Starts the agent and waits until it is running. */
async function startAgent(configFile = config): Promise<{ agent: ChildProcess; stderr: () => string }> {
  const agent = spawn(process.execPath, [CLI, 'agent', 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(agent);
  let out = '';
  let err = '';
  agent.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  agent.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  await until('the store', () => (err.includes('"evt":"agent.ready"') ? true : undefined));
  const m = /enrollment key fingerprint: (SHA256:\S+)/.exec(out);
  if (m) fingerprint = m[1] as string;
  return { agent, stderr: () => err };
}

function appendLines(n: number): void {
  let text = '';
  for (let i = 0; i < n; i++) text += `Nov 23 14:00:00 web-01 sshd[${3000 + lineNo}]: Accepted publickey for alice line ${lineNo++}\n`;
  appendFileSync(appLog, text);
}

const exitOf = (child: ChildProcess): Promise<number | null> => new Promise((r) => child.once('exit', (code) => r(code)));

describe('honest stores written by the real agent have no finding', () => {
  it('a clean stop after an idle run with heartbeats and key rotations', async () => {
    mkdirSync(logs);
    writeFileSync(appLog, '');
    writeFileSync(
      config,
      JSON.stringify({
        store,
        sources: { files: { watch: [join(logs, '*.log')] } },
        batching: { records: 5, interval: '100ms' },
        checkpoint: { records: 20, interval: '1s' },
        keyEpoch: '2s',
        heartbeatInterval: '1s',
      }),
    );
    const { agent } = await startAgent();
    expect(fingerprint).toMatch(/^SHA256:/);
    appendLines(30);
    // Idle after that: heartbeats every second, a new key epoch every two.
    await until('the store', () => {
      const k = kindCounts(store);
      return (k['log.line'] ?? 0) >= 30 && (k['key.rotate'] ?? 0) >= 2 && (k['agent.heartbeat'] ?? 0) >= 3 ? true : undefined;
    });
    // Read while the agent writes: its unsealed tail is within its own policy.
    const live = verifyJson(store, '--strict');
    expect(live.result.findings).toEqual([]);
    expect(live.code).toBe(0);

    const exited = exitOf(agent);
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    const after = verifyJson(store, '--strict');
    expect(after.result.findings).toEqual([]);
    expect(after.code).toBe(0);
  });

  it('a kill -9 (no agent.stop, an unsealed tail), and the restart after it', async () => {
    // This run seals by count only (20 records; no heartbeats), so its dozen lines stay unsealed.
    const quiet = join(dir, 'agent-quiet.json');
    writeFileSync(quiet, JSON.stringify({ store, sources: { files: { watch: [join(logs, '*.log')] } }, batching: { records: 5, interval: '100ms' }, checkpoint: { records: 20, interval: '1h' }, heartbeatInterval: '1h' }));
    const { agent } = await startAgent(quiet);
    appendLines(12);
    await until('the store', () => ((kindCounts(store)['log.line'] ?? 0) >= 42 ? true : undefined));
    const killed = exitOf(agent);
    agent.kill('SIGKILL');
    await killed;
    const crashed = verifyJson(store, '--strict');
    expect(crashed.result.findings).toEqual([]);
    expect(crashed.code).toBe(0);
    expect(crashed.result.unsealed?.count).toBeGreaterThanOrEqual(12);

    // The next agent.start after a run without agent.stop is the honest record of the crash.
    const restarted = await startAgent();
    appendLines(5);
    await until('the store', () => ((kindCounts(store)['log.line'] ?? 0) >= 47 ? true : undefined));
    const exited = exitOf(restarted.agent);
    restarted.agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    const k = kindCounts(store);
    expect(k['agent.start']).toBe(3);
    expect(k['agent.stop']).toBe(2);
    const result = verifyJson(store, '--strict');
    expect(result.result.findings).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('a second signal while stopping (the agent exits without its final checkpoint)', async () => {
    const copy = join(dir, 'second-signal');
    cpSync(store, copy, { recursive: true });
    writeFileSync(config.replace('agent.json', 'agent2.json'), JSON.stringify({ store: copy, sources: { files: { watch: [join(logs, '*.log')] } }, checkpoint: { records: 20, interval: '1s' }, heartbeatInterval: '1s' }));
    const agent = spawn(process.execPath, [CLI, 'agent', 'run', '--config', config.replace('agent.json', 'agent2.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(agent);
    let err = '';
    agent.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    await until('the store', () => (err.includes('"evt":"agent.ready"') ? true : undefined));
    const exited = exitOf(agent);
    agent.kill('SIGTERM');
    agent.kill('SIGINT');
    const code = await exited;
    // Either the second signal came while stopping (exit 2, no final checkpoint) or after the stop was sealed (exit 0).
    if (code === 2) expect(err).toContain('again while stopping; exiting without a final checkpoint');
    else expect(code).toBe(0);
    const result = verifyJson(copy, '--strict');
    expect(result.result.findings).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('a store made by custody import', () => {
    const imported = join(dir, 'imported');
    const r = custody('import', '--store', imported, '--host', 'ws-01', appLog);
    expect(r.code).toBe(0);
    const verify = custody('verify', imported, '--json', '--strict');
    expect(JSON.parse(verify.stdout).findings).toEqual([]);
    expect(verify.code).toBe(0);
  });
});

describe("rolled-back seals on the real agent's store, through the built CLI", () => {
  it('every checkpoint after the first deleted and a now-unsealed line rewritten: exit 1, each trace named at its seq and epoch', () => {
    const attacked = join(dir, 'rolled-back');
    cpSync(store, attacked, { recursive: true });
    const db = openAsAttacker(attacked);
    const rotations = seqsOfKind(db, 'key.rotate');
    const stops = seqsOfKind(db, 'agent.stop');
    const victim = seqsOfKind(db, 'log.line').at(-1)!;
    const lastCheckpoint = (db.prepare('SELECT MAX(id) AS id FROM checkpoints').get() as { id: number }).id;
    deleteCheckpointsAfterFirst(db);
    rewriteRecord(db, victim, (r) => ({ ...r, payload: { ...r.payload, text: 'nothing happened here' } }));
    db.close();
    expect(rotations.length).toBeGreaterThanOrEqual(2);
    expect(stops).toHaveLength(2);

    const { code, result } = verifyJson(attacked);
    expect(code).toBe(1);
    expect(result.ok).toBe(false);
    const at = (c: string): unknown[] => result.findings.filter((f) => f.code === c).map((f) => f.where);
    expect(at('checkpoint.deleted')).toEqual([{ checkpointRange: [2, lastCheckpoint] }]);
    // Every rotation but one left as the very last record is named (none is last here: a stop follows).
    expect(at('key.rotation_unsealed')).toEqual(rotations.map((seq, i) => ({ seq, epoch: i + 1 })));
    expect(at('agent.stop_unsealed')).toEqual(stops.map((seq) => ({ seq })));

    const text = custody('verify', attacked, '--key', fingerprint);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`ERROR agent.stop_unsealed at seq ${stops[0]}:`);
    expect(text.stdout).toContain(`ERROR key.rotation_unsealed at seq ${rotations[0]}, epoch 1:`);
    expect(text.stdout).toContain(`ERROR checkpoint.deleted at checkpoints #2..#${lastCheckpoint}:`);
    expect(text.stdout).toMatch(/^result: +INVALID/m);
  });

  it('the rotations and stops deleted too, counters reset: the key folder still says it (exit 1); with it removed only warnings are left (exit 0, --strict exit 1)', () => {
    const attacked = join(dir, 'rolled-back-quietly');
    cpSync(store, attacked, { recursive: true });
    const db = openAsAttacker(attacked);
    const rotations = seqsOfKind(db, 'key.rotate').length;
    deleteCheckpointsAfterFirst(db);
    hideDeletedCheckpoints(db);
    deleteAndRenumber(db, new Set([...seqsOfKind(db, 'key.rotate'), ...seqsOfKind(db, 'agent.stop')]));
    const first = (db.prepare('SELECT tree_size FROM checkpoints').get() as { tree_size: number }).tree_size;
    const records = (db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n;
    // The agent writes an epoch heartbeat right before each rotation; one left as the very last record reads as a crash there.
    const epochHeartbeats = (
      db.prepare(`SELECT seq FROM records WHERE kind = 'agent.heartbeat' AND json_extract(CAST(bytes AS TEXT), '$.payload.reason') = 'epoch' ORDER BY seq`).raw().all() as [number][]
    )
      .map((r) => r[0])
      .filter((seq) => seq < records - 1);
    db.close();
    expect(epochHeartbeats.length).toBeGreaterThanOrEqual(rotations - 1);

    // On the host, the agent's key folder holds the newest epoch's key, not the epoch 0 key the log now ends in.
    const onHost = verifyJson(attacked);
    expect(onHost.code).toBe(1);
    expect(onHost.result.findings.filter((f) => f.severity === 'error').map((f) => [f.code, f.where])).toEqual([['key.file_beyond_log', { epoch: rotations }]]);

    rmSync(join(attacked, 'keys'), { recursive: true });
    const lenient = verifyJson(attacked);
    expect(lenient.code).toBe(0);
    expect(lenient.result.findings.every((f) => f.severity === 'warning')).toBe(true);
    expect(lenient.result.findings.filter((f) => f.code === 'key.rotation_missing').map((f) => f.where)).toEqual(epochHeartbeats.map((seq) => ({ seq })));
    expect(lenient.result.findings.filter((f) => f.code === 'seal.tail_beyond_policy').map((f) => f.where)).toEqual([{ seqRange: [first, records - 1] }]);
    const strict = custody('verify', attacked, '--key', fingerprint, '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^result: +INVALID \(0 errors, \d+ warnings; --strict: a warning fails it\)$/m);
    expect(strict.stdout).toContain('warning seal.tail_beyond_policy at seq');
  });
});
