/**
 * A store's history written as agent/run.ts writes it, on a clock the test drives: agent.start with
 * its recorded policy, sshd lines every three seconds (offsets as the agent records them, which
 * verify checks), heartbeats, an epoch rotation, and a clean stop or none (as after kill -9). The
 * rollback tests, local and against the vault, build their stores with it.
 */
import type { Clock } from '../../src/clock.js';
import type { EvidenceStore } from '../../src/store/evidence-store.js';
import type { RecordedPolicy } from '../../src/verify/seal-traces.js';

const AGENT = 'custody.agent';
const SHA = 'a'.repeat(64);

export interface ScriptedAgent {
  clock: Clock;
  tick(ms: number): void;
  appendLine(store: EvidenceStore): void;
  /** One agent run; `stop` false ends it as a kill -9 does (no agent.stop). Closes the store. */
  agentRun(store: EvidenceStore, opts: { lines: number; rotateAfter?: number; stop: boolean }): void;
}

export function scriptedAgent(recordedPolicy: RecordedPolicy): ScriptedAgent {
  let nowMs = Date.parse('2026-11-23T10:00:00.000Z');
  let monoNs = 1_000_000_000n;
  let lineNo = 0;
  let nextOffset = 0;
  const clock: Clock = { nowMs: () => nowMs, monoNs: () => monoNs };
  const tick = (ms: number): void => {
    nowMs += ms;
    monoNs += BigInt(ms) * 1_000_000n;
  };
  const appendLine = (store: EvidenceStore): void => {
    tick(3000);
    const text = `Nov 23 10:00:${String(lineNo % 60).padStart(2, '0')} web-01 sshd[${2000 + lineNo}]: Accepted publickey for alice from 10.0.0.${lineNo % 250}`;
    const length = Buffer.byteLength(text);
    store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: nextOffset, line_no: lineNo + 1, length, text });
    nextOffset += length + 1;
    lineNo++;
  };
  const agentRun = (store: EvidenceStore, opts: { lines: number; rotateAfter?: number; stop: boolean }): void => {
    store.append('agent.start', AGENT, { version: '0.0.0-test', config_sha256: SHA, code_sha256: SHA, pid: 4242, node: 'v20', platform: 'linux-x64', policy: recordedPolicy });
    store.flush();
    for (let i = 0; i < opts.lines; i++) {
      appendLine(store);
      if (i % 25 === 24) store.append('agent.heartbeat', AGENT, { uptime_ms: (i + 1) * 1000, reason: 'interval' });
      if (opts.rotateAfter === i) {
        store.append('agent.heartbeat', AGENT, { uptime_ms: (i + 1) * 1000, reason: 'epoch' });
        store.rotateKey();
      }
    }
    if (opts.stop) store.appendSealed('agent.stop', AGENT, { reason: 'signal SIGTERM' });
    store.close();
  };
  return { clock, tick, appendLine, agentRun };
}
