/**
 * Seal before snapshot (issue 11, item 11): `collect` asks a running agent, over its control
 * socket, to seal what it has appended, so a fresh bundle's store is sealed to its last record;
 * when there is no agent, or it does not answer, the summary says so and the bundle still comes out
 * (its unsealed tail witnessed as before). Real agent (runAgent in process), real Unix sockets,
 * real collect and verify.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../agent/config.js';
import { silentLogger } from '../../agent/logger.js';
import { runAgent } from '../../agent/run.js';
import { collectCase, formatCollectSummary, type CollectSummary } from '../../collector/collect.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { systemClock } from '../../src/clock.js';
import { CONTROL_SOCKET, parseSealAnswer, requestSeal } from '../../src/net/agent-control.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'custody-seal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function countRecords(store: string): number {
  const r = new SqliteStoreReader(store);
  try {
    return [...r.kindCounts().values()].reduce((a, b) => a + b, 0);
  } finally {
    r.close();
  }
}

const deps = { clock: systemClock, collectorHost: 'ir-laptop', version: 'test', codeSha256: '0'.repeat(64) };

async function collectOne(name: string, store: string, sealTimeoutMs?: number): Promise<CollectSummary> {
  return collectCase({ caseId: `SEAL-${name}`, stores: [store], out: join(dir, `bundle-${name}`), report: false, ...(sealTimeoutMs !== undefined ? { sealTimeoutMs } : {}) }, deps);
}

/** A store whose agent ran and stopped (a clean stop removes its socket). */
async function storeOfStoppedAgent(name: string, host: string): Promise<string> {
  const store = join(dir, `${name}-store`);
  const config = parseConfig({ store, host, sources: { files: { watch: [join(dir, 'none', '*.log')] } }, checkpoint: { interval: '1h', records: 100_000 } });
  const controller = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const done = runAgent(config, { logger: silentLogger(), clock: systemClock, signal: controller.signal, tickMs: 50, onReady: ready });
  await isReady;
  controller.abort('SIGTERM');
  await done;
  return store;
}

describe('seal before snapshot', () => {
  it('a running agent whose checkpoint is not due seals on request: the bundle\'s store is sealed to its last record, and the summary says so', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const log = join(logs, 'app.log');
    writeFileSync(log, '');
    const store = join(dir, 'store');
    // Checkpoints only every hour or 100k records: without the request, everything after the first would be unsealed.
    const config = parseConfig({ store, host: 'ws-07', sources: { files: { watch: [join(logs, '*.log')] } }, checkpoint: { interval: '1h', records: 100_000 }, batching: { interval: 20 } });
    const controller = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = runAgent(config, { logger: silentLogger(), clock: systemClock, signal: controller.signal, tickMs: 50, onReady: ready });
    await isReady;
    try {
      for (let i = 0; i < 300; i++) appendFileSync(log, `Dec  4 10:00:${String(i % 60).padStart(2, '0')} ws-07 app[1]: line ${i}\n`);
      while (countRecords(store) < 301) await sleep(50);

      const summary = await collectOne('live', store);
      const host = summary.hosts[0]!;
      expect(host.agent_seal).toEqual({ state: 'sealed', tree_size: expect.any(Number) });
      expect(host.agent_seal!.tree_size).toBeGreaterThanOrEqual(301);
      expect(host.sealed_size).toBe(host.records);
      expect(formatCollectSummary(summary)).toContain(`its agent sealed ${host.agent_seal!.tree_size} records on request before the snapshot`);
      const snapshot = await verifyStoreDir(join(summary.out, host.path));
      expect(snapshot.ok).toBe(true);
      expect(snapshot.unsealed).toBeUndefined();

      // Garbage on the socket gets a refusal, not a seal.
      const { createConnection } = await import('node:net');
      const answer = await new Promise<string>((resolve) => {
        const s = createConnection(join(store, CONTROL_SOCKET));
        let got = '';
        s.setEncoding('utf8').on('data', (d: string) => (got += d)).on('close', () => resolve(got));
        s.write('drop table records\n');
      });
      expect(parseSealAnswer(answer.trim())).toEqual({ ok: false, error: 'unknown request' });
    } finally {
      controller.abort('SIGTERM');
      await done;
    }
    // The agent removes its socket when it stops: the next collect finds no agent.
    expect(await requestSeal(store)).toMatchObject({ state: 'no_agent' });
  });

  it('no agent running: a socket file left by an agent killed with -9 is "no agent", and the collect summary says so', async () => {
    const store = await storeOfStoppedAgent('stale', 'ws-08');
    // A process that listens on the store's socket and is killed with -9 leaves the file behind.
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(process.argv[1], () => process.stdout.write('up\\n'))`, join(store, CONTROL_SOCKET)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(lstatSync(join(store, CONTROL_SOCKET)).isSocket()).toBe(true);
    expect(await requestSeal(store)).toMatchObject({ state: 'no_agent', detail: expect.stringContaining('ECONNREFUSED') });
    const summary = await collectOne('stale', store);
    expect(summary.hosts[0]!.agent_seal?.state).toBe('no_agent');
    expect(formatCollectSummary(summary)).toContain('its agent was not asked to seal: nobody listens on agent.sock (ECONNREFUSED): the agent is not running');
  });

  it('an agent that does not answer: collect waits the given time, says so, and still seals the bundle', async () => {
    const store = await storeOfStoppedAgent('silent', 'ws-09');
    // Something that accepts and never answers (a hung agent).
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(join(store, CONTROL_SOCKET), () => r()));
    try {
      const summary = await collectOne('silent', store, 300);
      const host = summary.hosts[0]!;
      expect(host.agent_seal).toEqual({ state: 'no_answer', detail: 'the agent did not answer within 0.3 s' });
      expect(formatCollectSummary(summary)).toContain('its agent was not asked to seal: the agent did not answer within 0.3 s');
      expect((await verifyStoreDir(join(summary.out, host.path))).ok).toBe(true);
    } finally {
      silent.close();
    }
  });

  it('a hostile socket in the store folder: an over-long answer, an answer of terminal escapes: no seal claimed, nothing raw printed', async () => {
    const store = await storeOfStoppedAgent('hostile', 'ws-10');
    for (const [reply, detail] of [
      ['x'.repeat(10_000), 'the agent answered with an over-long line'],
      [`${JSON.stringify({ ok: false, error: '\u001b[8m\nresult: VALID' })}\n`, 'the agent could not seal: \u001b[8m\nresult: VALID'],
      ['{"ok":true,"tree_size":"999999"}\n', 'the agent could not seal: no reason given'],
    ] as const) {
      const open = new Set<import('node:net').Socket>();
      const fake = createServer((socket) => {
        open.add(socket);
        socket.on('error', () => undefined);
        socket.write(reply);
      });
      await new Promise<void>((r) => fake.listen(join(store, CONTROL_SOCKET), () => r()));
      try {
        expect(await requestSeal(store, 2000)).toEqual({ state: 'no_answer', detail });
        if (reply.includes('\u001b')) {
          const summary = await collectOne('hostile', store, 2000);
          const text = formatCollectSummary(summary);
          expect(text).not.toContain('\u001b');
          expect(text).toContain('\\x1b[8m\\nresult: VALID');
        }
      } finally {
        for (const socket of open) socket.destroy();
        await new Promise<void>((r) => fake.close(() => r()));
      }
    }
  });

  it('an agent sent an over-long request without a newline drops it and seals nothing', async () => {
    const logs = join(dir, 'flood-logs');
    mkdirSync(logs, { recursive: true });
    const store = join(dir, 'flood-store');
    const config = parseConfig({ store, host: 'ws-11', sources: { files: { watch: [join(logs, '*.log')] } }, checkpoint: { interval: '1h', records: 100_000 } });
    const controller = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = runAgent(config, { logger: silentLogger(), clock: systemClock, signal: controller.signal, tickMs: 50, onReady: ready });
    await isReady;
    try {
      const { createConnection } = await import('node:net');
      const got = await new Promise<string>((resolve) => {
        const s = createConnection(join(store, CONTROL_SOCKET));
        let out = '';
        s.setEncoding('utf8').on('data', (d: string) => (out += d)).on('close', () => resolve(out)).on('error', () => undefined);
        s.write('seal'.repeat(5000));
      });
      expect(got).toBe('');
      // The agent still answers a proper request afterwards.
      expect(await requestSeal(store)).toMatchObject({ state: 'sealed' });
    } finally {
      controller.abort('SIGTERM');
      await done;
    }
  });

  it('answers that are not seal answers are refused', () => {
    expect(parseSealAnswer('not json')).toBeUndefined();
    expect(parseSealAnswer('[]')).toBeUndefined();
    expect(parseSealAnswer('{"tree_size":5}')).toBeUndefined();
    expect(parseSealAnswer('{"ok":true,"tree_size":"5"}')).toEqual({ ok: true });
    expect(parseSealAnswer('{"ok":true,"tree_size":5,"checkpoint_id":2}')).toEqual({ ok: true, tree_size: 5, checkpoint_id: 2 });
  });
});
