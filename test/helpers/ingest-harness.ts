/**
 * Helpers for the ingest integration tests: a real store in a temp folder, a pino logger that
 * keeps its events in memory, decoding of the committed records, and reconstruction of a file's
 * bytes from its `log.line` records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { FileIngestor, DEFAULT_INGEST_OPTIONS, type IngestOptions } from '../../agent/ingest.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { decodeCanonical, decodeRawText } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';

export interface LogEvent {
  evt?: string;
  level: number;
  [k: string]: unknown;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `custody-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function memoryLogger(): { logger: Logger; events: LogEvent[] } {
  const events: LogEvent[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void events.push(JSON.parse(s) as LogEvent) });
  return { logger, events };
}

export class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  nowMs(): number {
    return this.ms;
  }
  monoNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface Rig {
  storeDir: string;
  store: EvidenceStore;
  state: StateStore;
  ingestor: FileIngestor;
  events: LogEvent[];
  start(): Promise<void>;
  /** Stops the ingestor and reopens it (same store), like an orderly restart. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function makeRig(storeDir: string, options: Partial<IngestOptions> & { watch: string[] }, extra: { clock?: Clock; create?: boolean; maxDatabaseBytes?: number } = {}): Promise<Rig> {
  const clock = extra.clock ?? systemClock;
  const store =
    extra.create === false
      ? EvidenceStore.open(storeDir, { clock, ...(extra.maxDatabaseBytes ? { maxDatabaseBytes: extra.maxDatabaseBytes } : {}) })
      : EvidenceStore.create(storeDir, { host: 'test-host', clock, ...(extra.maxDatabaseBytes ? { maxDatabaseBytes: extra.maxDatabaseBytes } : {}) }).store;
  const state = new StateStore(storeDir);
  const { logger, events } = memoryLogger();
  const opts: IngestOptions = { ...DEFAULT_INGEST_OPTIONS, ...options };
  const rig: Rig = {
    storeDir,
    store,
    state,
    ingestor: new FileIngestor({ store, state, logger, clock }, opts),
    events,
    start: () => rig.ingestor.start(),
    async restart() {
      await rig.ingestor.stop();
      rig.ingestor = new FileIngestor({ store, state, logger, clock }, opts);
      await rig.ingestor.start();
    },
    async close() {
      await rig.ingestor.stop();
      store.close();
      state.close();
    },
  };
  return rig;
}

export function allRecords(store: EvidenceStore, fromSeq = 0): EvidenceRecord[] {
  return [...store.records(fromSeq)].map((r) => decodeCanonical(r.bytes) as EvidenceRecord);
}

export interface LineRecord {
  seq: number;
  path: string;
  dev: string;
  ino: string;
  offset: number;
  line_no: number;
  length: number;
  partial: boolean;
  bytes: Buffer;
}

export function lineRecords(records: EvidenceRecord[], filter: { ino?: string; path?: string } = {}): LineRecord[] {
  const out: LineRecord[] = [];
  for (const r of records) {
    if (r.kind !== 'log.line') continue;
    const p = r.payload as Record<string, unknown>;
    if (filter.ino !== undefined && p.ino !== filter.ino) continue;
    if (filter.path !== undefined && p.path !== filter.path) continue;
    const raw = typeof p.text === 'string' ? { text: p.text } : { raw_b64: String(p.raw_b64) };
    out.push({
      seq: r.seq,
      path: String(p.path),
      dev: String(p.dev),
      ino: String(p.ino),
      offset: Number(p.offset),
      line_no: Number(p.line_no),
      length: Number(p.length),
      partial: p.partial === true,
      bytes: Buffer.from(decodeRawText(raw)),
    });
  }
  return out;
}

/**
 * The bytes of a file as its records tell them: each record's bytes, plus '\n' after a complete
 * line. Checks on the way that every record starts where the previous one ended.
 */
export function reconstruct(lines: LineRecord[]): Buffer {
  const parts: Buffer[] = [];
  let expected = lines[0]?.offset ?? 0;
  for (const l of lines) {
    if (l.offset !== expected) throw new Error(`record ${l.seq} starts at ${l.offset}, expected ${expected}`);
    if (l.bytes.length !== l.length) throw new Error(`record ${l.seq} length ${l.length} but ${l.bytes.length} bytes`);
    parts.push(l.bytes);
    if (!l.partial) parts.push(Buffer.from('\n'));
    expected = l.offset + l.length + (l.partial ? 0 : 1);
  }
  return Buffer.concat(parts);
}

export function payloads<T = Record<string, unknown>>(records: EvidenceRecord[], kind: string): Array<T & { _seq: number }> {
  return records.filter((r) => r.kind === kind).map((r) => ({ ...(r.payload as T), _seq: r.seq }));
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** idle() bounded by a timeout, so a hang fails the test with a message instead of at the test timeout. */
export async function idle(rig: Rig, timeoutMs = 30_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      rig.ingestor.idle(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`ingestor not idle after ${timeoutMs} ms: ${JSON.stringify(rig.ingestor.status())}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
