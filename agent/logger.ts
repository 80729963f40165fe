/**
 * The agent's own log: pino JSON lines on stderr (journald and launchd keep them), one stable `evt`
 * name per kind of event so operators can alert on them. Never logs key material or the TSA
 * password; configuration is logged only through redactConfig.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';

export type Logger = PinoLogger;

/** Stable event names (the `evt` field). Add new ones; never rename a shipped one. */
export const Evt = {
  start: 'agent.start',
  enrolled: 'agent.enrolled',
  ready: 'agent.ready',
  startFailed: 'agent.start_failed',
  stopping: 'agent.stopping',
  stop: 'agent.stop',
  heartbeat: 'agent.heartbeat',
  checkpoint: 'store.checkpoint',
  commitFailed: 'store.commit_failed',
  keyRotated: 'key.rotate',
  clockAnomaly: 'clock.anomaly',
  tsaStamped: 'tsa.stamped',
  tsaFailed: 'tsa.failed',
  maintenanceFailed: 'agent.maintenance_failed',
  hostMismatch: 'config.host_ignored',
  memorySettled: 'agent.memory_settled',
} as const;

export interface LoggerOptions {
  level: LogLevel;
  /** Where the JSON lines go; stderr (fd 2) unless a test says otherwise. */
  destination?: number | NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const dest = options.destination ?? 2;
  const stream = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest;
  return pino(
    {
      name: 'custody-agent',
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** A logger that drops everything (for tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
