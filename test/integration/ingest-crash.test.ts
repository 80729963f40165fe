/**
 * Crash safety: a child process runs the ingestor (from dist/) and is killed with SIGKILL at
 * random instants, dozens of times (every other one committing through the store's writer thread),
 * while a writer appends continuously (lines written in pieces,
 * and the log rotated by rename + create now and then). Afterwards the store must hold every
 * written line exactly once, in order, and verify with zero findings.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStore } from '../../src/verify/store-verify.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { allRecords, idle, lineRecords, makeRig, payloads, reconstruct, tempDir, waitFor } from '../helpers/ingest-harness.js';
import { runChildScript, type RunningChild } from '../helpers/child-process.js';

const CHILD = fileURLToPath(new URL('../helpers/ingest-child.mjs', import.meta.url));
const RESTARTS = 60;
const ROTATE_AT = new Set([20, 40]);

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('crash');
});
afterAll(() => tmp.cleanup());

/** A writer that appends numbered lines continuously, sometimes splitting a line across two writes. */
class Writer {
  n = 0;
  private pendingRest: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly lines: string[] = [];
  constructor(private readonly path: () => string) {}
  start(): void {
    this.timer = setInterval(() => this.tick(), 2);
  }
  private tick(): void {
    if (this.pendingRest !== undefined) {
      appendFileSync(this.path(), this.pendingRest);
      this.pendingRest = undefined;
      return;
    }
    const count = 1 + Math.floor(Math.random() * 20);
    let chunk = '';
    for (let i = 0; i < count; i++) {
      const line = `line ${this.n++} ${'z'.repeat(Math.floor(Math.random() * 120))}`;
      this.lines.push(line);
      chunk += `${line}\n`;
    }
    if (Math.random() < 0.3) {
      const cut = 1 + Math.floor(Math.random() * (chunk.length - 1));
      this.pendingRest = chunk.slice(cut);
      chunk = chunk.slice(0, cut);
    }
    appendFileSync(this.path(), chunk);
  }
  /** Stops at a line boundary. */
  stop(): void {
    clearInterval(this.timer);
    if (this.pendingRest !== undefined) appendFileSync(this.path(), this.pendingRest);
    this.pendingRest = undefined;
  }
}

/** Every other child commits through the store's writer thread from the start, so kills also land while commits are in flight there. */
function runChild(storeDir: string, glob: string, writerThread: 'auto' | 'on'): RunningChild {
  return runChildScript(CHILD, [storeDir, glob, '2000', writerThread]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ingest: kill -9 at any instant', () => {
  it(`restarts ${RESTARTS} times under continuous appends and records every line exactly once, in order`, { timeout: 600_000 }, async () => {
    const logs = join(tmp.dir, 'logs');
    const storeDir = join(tmp.dir, 'store');
    mkdirSync(logs);
    EvidenceStore.create(storeDir, { host: 'crash-host' }).store.close();
    const live = join(logs, 'app.log');
    const files: string[] = []; // rotated files, oldest first
    const writer = new Writer(() => live);
    appendFileSync(live, '');
    writer.start();
    let killedBeforeReady = 0;
    try {
      for (let i = 0; i < RESTARTS; i++) {
        if (ROTATE_AT.has(i)) {
          writer.stop();
          const rotated = join(logs, `app.log.${files.length + 1}`);
          renameSync(live, rotated);
          files.push(rotated);
          appendFileSync(live, '');
          writer.start();
        }
        const run = runChild(storeDir, join(logs, '*.log'), i % 2 === 1 ? 'on' : 'auto');
        if (i % 3 === 0) {
          // Anywhere from spawn on: during open, resume, the first scan, or reading.
          await Promise.race([sleep(Math.random() * 700), run.exited]);
          const ready = await Promise.race([run.ready.then(() => true), sleep(0).then(() => false)]);
          if (!ready) killedBeforeReady++;
        } else {
          await Promise.race([run.ready, run.exited, sleep(30_000)]);
          await sleep(Math.random() * 400);
        }
        if (run.child.exitCode !== null) throw new Error(`child exited on its own (${run.child.exitCode}): ${run.stderr()}`);
        run.child.kill('SIGKILL');
        await run.exited;
      }
    } finally {
      writer.stop();
    }
    files.push(live);

    // The last restart runs in-process and finishes the job.
    const rig = await makeRig(storeDir, { watch: [join(logs, '*.log')] }, { create: false });
    await rig.start();
    await idle(rig, 60_000);
    const rotatedInos = files.slice(0, -1).map((f) => String(statSync(f, { bigint: true }).ino));
    await waitFor('rotated files finished', () =>
      rotatedInos.every((ino) => payloads<{ reason: string; ino: string }>(allRecords(rig.store), 'log.file').some((f) => f.reason === 'rotated' && f.ino === ino)),
    60_000);
    await rig.ingestor.stop();
    rig.store.close({ finalCheckpoint: true });
    rig.state.close();

    const reader = new SqliteStoreReader(storeDir);
    const store = EvidenceStore.open(storeDir);
    try {
      const records = allRecords(store);
      expect(payloads(records, 'agent.gap')).toEqual([]);
      const recorded: string[] = [];
      for (const file of files) {
        const ino = String(statSync(file, { bigint: true }).ino);
        const recs = lineRecords(records, { ino });
        // byte-exact, contiguous (reconstruct checks each record starts where the previous ended)
        expect(reconstruct(recs).equals(readFileSync(file)), `${file} reconstructs`).toBe(true);
        let expectedLineNo = 1;
        const lineNos = recs.map((l) => {
          const n = expectedLineNo;
          if (!l.partial) expectedLineNo++;
          return l.line_no - n;
        });
        expect(lineNos.every((d) => d === 0), `${file} line numbers`).toBe(true);
        let pending = '';
        for (const l of recs) {
          pending += l.bytes.toString('utf8');
          if (!l.partial) {
            recorded.push(pending);
            pending = '';
          }
        }
      }
      expect(recorded.length).toBe(writer.lines.length);
      expect(recorded).toEqual(writer.lines);
      const meta = reader.meta();
      const key = meta.get('enrollment_public_key');
      expect(key).toBeDefined();
      const result = await verifyStore(reader, { trust: { publicKeyRaw: new Uint8Array(Buffer.from(key ?? '', 'base64')), source: 'pinned' } });
      expect(result.findings).toEqual([]);
      expect(result.ok).toBe(true);
      console.log(`crash test: ${RESTARTS} kills (${killedBeforeReady} before READY), ${writer.lines.length} lines, ${records.length} records`);
    } finally {
      store.close();
      reader.close();
    }
  });
});
