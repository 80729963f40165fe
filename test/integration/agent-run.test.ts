/**
 * runAgent called directly, in process, with real parts: a real store, real log files, a real
 * RFC 3161 TSA (`openssl ts -reply` on 127.0.0.1) and the real verifier afterwards.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type AgentConfig } from '../../agent/config.js';
import { silentLogger } from '../../agent/logger.js';
import { runAgent } from '../../agent/run.js';
import { agentStatus, type AgentStatusReport } from '../../agent/status.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { systemClock } from '../../src/clock.js';
import type { Enrollment } from '../../src/store/keyfiles.js';
import { closedLocalPort, startTestTsa, type TestTsa } from '../helpers/tsa-server.js';

const dir = mkdtempSync(join(tmpdir(), 'custody-agent-run-'));
let tsa: TestTsa;
beforeAll(async () => {
  tsa = await startTestTsa();
});
afterAll(async () => {
  await tsa?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls the read-only status until `check` accepts it; the test's timeout bounds the wait. */
async function statusUntil(store: string, check: (s: AgentStatusReport) => boolean): Promise<AgentStatusReport> {
  for (;;) {
    const s = agentStatus(store);
    if (check(s)) return s;
    await sleep(50);
  }
}

function configFor(name: string, extra: Record<string, unknown> = {}): { config: AgentConfig; log: string } {
  const logs = join(dir, `${name}-logs`);
  mkdirSync(logs, { recursive: true });
  const log = join(logs, 'app.log');
  writeFileSync(log, 'boot line\n');
  const config = parseConfig({
    store: join(dir, `${name}-store`),
    host: 'agent-test',
    sources: { files: { watch: [join(logs, '*.log')] } },
    checkpoint: { interval: 200 },
    batching: { interval: 50 },
    ...extra,
  });
  return { config, log };
}

/** Starts the agent and resolves once it is running (store open, ingest started). */
async function start(config: AgentConfig, onEnrolled?: (e: Enrollment) => void): Promise<{ controller: AbortController; done: Promise<void> }> {
  const controller = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const done = runAgent(config, { logger: silentLogger(), clock: systemClock, signal: controller.signal, tickMs: 50, onReady: ready, ...(onEnrolled ? { onEnrolled } : {}) });
  await Promise.race([isReady, done]);
  return { controller, done };
}

describe('runAgent', () => {
  it('time-stamps checkpoints with the configured TSA, checks tokens against its CA, and stamps the final one', async () => {
    const { config, log } = configFor('tsa', { tsa: { url: tsa.url, caFile: tsa.caCertPath, interval: '1s' } });
    let enrolled: Enrollment | undefined;
    const { controller, done } = await start(config, (e) => (enrolled = e));
    await statusUntil(config.store, (s) => s.lastTimestamped !== undefined);
    appendFileSync(log, 'after the first stamp\n');
    await statusUntil(config.store, (s) => (s.records.byKind['log.line'] ?? 0) >= 2);
    controller.abort('SIGTERM');
    await done;

    expect(enrolled?.host).toBe('agent-test');
    const s = agentStatus(config.store);
    expect(s.agent.running).toBe(false);
    expect(s.records.unsealed).toBe(0);
    expect(s.lastCheckpoint?.tsaGenTime).toBeDefined();
    expect(s.tsa?.failures).toBe(0);

    const verified = await verifyStoreDir(config.store, { tsaCa: [tsa.caCertPath] });
    expect(verified.findings).toEqual([]);
    expect(verified.ok).toBe(true);
    expect(verified.tsa.verified).toBeGreaterThanOrEqual(2);
    expect(verified.tsa.verified).toBe(verified.tsa.tokens);
    expect(verified.sealed?.treeSize).toBe(verified.records);
    expect(verified.sealed?.trustedTime).toBeDefined();
  });

  it('keeps preserving evidence while the TSA is unreachable, and says so in status', async () => {
    const port = await closedLocalPort();
    const { config, log } = configFor('notsa', { tsa: { url: `http://127.0.0.1:${port}/`, interval: '1s', timeout: '2s' } });
    const { controller, done } = await start(config);
    await statusUntil(config.store, (s) => (s.tsa?.failures ?? 0) >= 1);
    appendFileSync(log, 'written while the TSA is down\n');
    await statusUntil(config.store, (s) => (s.records.byKind['log.line'] ?? 0) >= 2 && s.records.unsealed === 0);
    controller.abort('SIGTERM');
    await done;

    const s = agentStatus(config.store);
    expect(s.tsa?.last_error).toContain('127.0.0.1');
    expect(s.lastTimestamped).toBeUndefined();
    const verified = await verifyStoreDir(config.store);
    expect(verified.ok).toBe(true);
    expect(verified.sealed?.treeSize).toBe(verified.records);
  });

  it('writes heartbeats, rotates keys at epoch boundaries, and resumes the same store on restart', async () => {
    const { config, log } = configFor('epoch', { keyEpoch: '1s', heartbeatInterval: '1s' });
    const first = await start(config);
    await statusUntil(config.store, (s) => s.keyEpoch >= 1 && (s.records.byKind['agent.heartbeat'] ?? 0) >= 2);
    first.controller.abort('SIGTERM');
    await first.done;

    let enrolledAgain = false;
    appendFileSync(log, 'written while the agent was stopped\n');
    const second = await start(config, () => (enrolledAgain = true));
    await statusUntil(config.store, (s) => (s.records.byKind['log.line'] ?? 0) >= 2 && s.agent.running);
    second.controller.abort('SIGTERM');
    await second.done;

    expect(enrolledAgain).toBe(false);
    const s = agentStatus(config.store);
    expect(s.records.byKind['agent.start']).toBe(2);
    expect(s.records.byKind['agent.stop']).toBe(2);
    expect(s.records.byKind['log.line']).toBe(2);
    const verified = await verifyStoreDir(config.store);
    expect(verified.findings).toEqual([]);
    expect(verified.ok).toBe(true);
    expect(verified.epochs).toBeGreaterThanOrEqual(2);
    expect(verified.sealed?.treeSize).toBe(verified.records);
  });
});
