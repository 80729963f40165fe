/**
 * The one appender the agent's writers share (agent/store-appender.ts): a live source's line series
 * and the file ingestor's kind of append meet one failing store (SQLITE_FULL through the store's
 * size cap, as on a full disk) with one view of it: both are told to stop reading, no record is
 * lost or reordered, the shared backoff decides when to retry, and the recovery is logged once.
 * A real store; the backoff's delay is real time, nothing is asserted about how long it took.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { appenderOf, LineSeries, storeBackedUp, tryFlush, type SourceDeps } from '../../agent/sources/common.js';
import { StoreAppender } from '../../agent/store-appender.js';
import { systemClock } from '../../src/clock.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the shared store appender', () => {
  it('a live source and an ingestor-style writer share one failing store: both pause, nothing is lost, one recovery', async () => {
    dir = mkdtempSync(join(tmpdir(), 'custody-appender-'));
    const events: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
    const { store } = EvidenceStore.create(join(dir, 'store'), { host: 'web-app', bootId: 'boot-app', policy: { batchRecords: 5, checkpointRecords: 1000, checkpointMs: 3_600_000 } });
    const state = new StateStore(join(dir, 'store'));
    const appender = new StoreAppender(store, { logger, clock: systemClock }, { maxPendingRecords: 50, retry: { initialMs: 50, maxMs: 200 } });
    const deps: SourceDeps = { store, state, logger, clock: systemClock, appender };
    expect(appenderOf(deps)).toBe(appender);
    const series = new LineSeries(appenderOf(deps), 'journald:system', { count: 0 });
    const line = (i: number) => ({ path: '/var/log/app.log', dev: '1', ino: '2', offset: i * 8, line_no: i + 1, length: 7, text: `file ${i}` });

    for (let i = 0; i < 10; i++) series.append(new TextEncoder().encode(`journal ${i}`));
    store.flush();
    const committed = store.size;

    store.setMaxDatabaseBytes(store.databaseBytes());
    // Big enough that a batch no longer fits: the source's append meets the full store.
    let sourceFailing = false;
    for (let i = 10; i < 200 && !sourceFailing; i++) {
      series.append(new TextEncoder().encode(`journal ${i} ${'j'.repeat(2000)}`));
      sourceFailing = series.storeFailing;
    }
    expect(sourceFailing).toBe(true);
    // The ingestor-style writer sees the same failing store at once, and its record is queued, not lost.
    const fileAppend = appender.append('log.line', 'file:/var/log/app.log', line(0));
    expect(fileAppend.ok).toBe(false);
    expect(appender.blocked?.message).toMatch(/SQLITE_FULL|full/i);
    expect(storeBackedUp(appender)).toBe(true);
    expect(events.filter((e) => e.evt === 'ingest.store_error')).toHaveLength(1);
    // Still full: a due retry fails and backs off (one more error logged, the delay doubled).
    await sleep(60);
    expect(tryFlush(appender)).toBe(false);
    expect(appender.blocked?.attempts).toBe(1);
    expect(appender.blocked?.delayMs).toBe(100);
    // Not due yet: nothing is tried.
    expect(appender.retry()).toBe(false);
    expect(appender.blocked?.attempts).toBe(1);

    store.setMaxDatabaseBytes(0);
    await sleep(110);
    expect(tryFlush(appender)).toBe(true);
    expect(appender.blocked).toBeUndefined();
    expect(storeBackedUp(appender)).toBe(false);
    expect(events.filter((e) => e.evt === 'ingest.store_recovered')).toHaveLength(1);
    expect(appender.retry()).toBe(true); // the other writer asks too: nothing to do

    store.flush();
    const texts = [...store.records(committed)].map((r) => (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { payload: { text: string } }).payload.text.split(' ').slice(0, 2).join(' '));
    const journal = texts.filter((t) => t.startsWith('journal'));
    expect(journal).toEqual(journal.map((_, i) => `journal ${i + 10}`));
    expect(texts.at(-1)).toBe('file 0');
    expect(texts).toHaveLength(journal.length + 1);
    store.close({ finalCheckpoint: true });
    state.close();
  });
});
