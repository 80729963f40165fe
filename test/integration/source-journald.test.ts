/**
 * The journald source against real journal files: systemd-journal-remote (Debian package
 * `systemd-journal-remote`) writes entries given in the journal export format into a real journal
 * file, and the source runs the real journalctl on its folder. Skipped, and said so, where either
 * program is missing.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { foldLineTails } from '../../agent/sources/common.js';
import { journalCursorOf, journaldPath, JournaldSource } from '../../agent/sources/journald.js';
import { systemClock } from '../../src/clock.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { allRecords, lineRecords, memoryLogger, tempDir } from '../helpers/ingest-harness.js';

const JOURNAL_REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((p) => existsSync(p));
const HAVE_JOURNALCTL = spawnSync('journalctl', ['--version']).status === 0;
const CAN_RUN = JOURNAL_REMOTE !== undefined && HAVE_JOURNALCTL;
if (!CAN_RUN) console.warn('source-journald: skipped (needs journalctl and systemd-journal-remote: apt-get install systemd-journal-remote)');

const tmp = tempDir('journald');
afterAll(() => tmp.cleanup());
const BOOT = '0123456789abcdef0123456789abcdef';
let counter = 0;

/** Appends entries to the real journal file `<dir>/remote.journal` (journal export format on stdin). */
function writeEntries(dir: string, messages: string[], boot = BOOT): void {
  const blocks = messages.map((m) => {
    counter++;
    const us = 1_700_000_000_000_000 + counter * 1_000_000;
    return `__REALTIME_TIMESTAMP=${us}\n__MONOTONIC_TIMESTAMP=${counter * 1000}\n_BOOT_ID=${boot}\n_HOSTNAME=web-01\nSYSLOG_IDENTIFIER=sshd\nPRIORITY=6\nMESSAGE=${m}\n\n`;
  });
  const r = spawnSync(JOURNAL_REMOTE as string, ['-o', join(dir, 'remote.journal'), '-'], { input: blocks.join('') });
  if (r.status !== 0) throw new Error(`systemd-journal-remote failed: ${r.stderr.toString()}`);
}

/** What journalctl itself prints for the folder, parsed (its field order varies between runs). */
function journalEntries(dir: string): Array<Record<string, unknown>> {
  const r = spawnSync('journalctl', ['--directory', dir, '-o', 'json', '--all', '--no-pager', '-q'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined | false): Promise<T> {
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    await sleep(50);
  }
}

function rig(name: string, create = true): { storeDir: string; store: EvidenceStore; state: StateStore } {
  const storeDir = join(tmp.dir, name);
  const store = create ? EvidenceStore.create(storeDir, { host: 'test-host' }).store : EvidenceStore.open(storeDir, {});
  return { storeDir, store, state: new StateStore(storeDir) };
}

function journalLines(store: EvidenceStore, path: string): Array<{ seq: number; entry: Record<string, unknown>; offset: number; line_no: number }> {
  store.flush();
  return lineRecords(allRecords(store), { path }).map((l) => ({ seq: l.seq, entry: JSON.parse(l.bytes.toString('utf8')) as Record<string, unknown>, offset: l.offset, line_no: l.line_no }));
}

function source(r: { store: EvidenceStore; state: StateStore }, dir: string, extra: { command?: string; startAt?: 'beginning' | 'end' } = {}): { src: JournaldSource; events: ReturnType<typeof memoryLogger>['events'] } {
  const { logger, events } = memoryLogger();
  const path = journaldPath({ directory: dir });
  const { tails } = foldLineTails(r.store, r.state, [path], { [path]: journalCursorOf });
  const src = new JournaldSource({ store: r.store, state: r.state, logger, clock: systemClock }, { directory: dir, startAt: extra.startAt ?? 'beginning', ...(extra.command ? { command: extra.command } : {}) }, tails.get(path) ?? { count: 0 });
  return { src, events };
}

describe.skipIf(!CAN_RUN)('journald source (real journal files, real journalctl)', () => {
  it('preserves every entry as journalctl prints it, follows new ones, and resumes after a restart with none twice', async () => {
    const dir = join(tmp.dir, 'j1');
    mkdirSync(dir);
    writeEntries(dir, ['Accepted publickey for alice from 10.0.0.5 port 50122 ssh2', 'Failed password for root from 203.0.113.9 port 4711 ssh2']);
    const r = rig('s1');
    const path = journaldPath({ directory: dir });
    const first = source(r, dir);
    await first.src.start();
    await until(() => journalLines(r.store, path).length === 2);
    writeEntries(dir, ['session opened for user alice']);
    await until(() => journalLines(r.store, path).length === 3);
    await first.src.stop();

    // Byte-exact per entry: each record's text is one journalctl JSON line (compared parsed: journalctl's field order varies).
    expect(journalLines(r.store, path).map((l) => l.entry)).toEqual(journalEntries(dir));
    expect(journalLines(r.store, path).map((l) => [l.offset, l.line_no])).toEqual([[0, 1], [1, 2], [2, 3]]);

    // While stopped, two more entries; a new source resumes from the cursor found in the evidence.
    writeEntries(dir, ['session closed for user alice', 'Disconnected from 10.0.0.5']);
    const second = source(r, dir);
    await second.src.start();
    await until(() => journalLines(r.store, path).length === 5);
    await sleep(300); // nothing more may come: the resumed entry is not recorded again
    await second.src.stop();
    const lines = journalLines(r.store, path);
    expect(lines.map((l) => l.entry)).toEqual(journalEntries(dir));
    expect(lines.map((l) => l.line_no)).toEqual([1, 2, 3, 4, 5]);
    expect(allRecords(r.store).filter((x) => x.kind === 'agent.gap')).toEqual([]);
    r.store.close();
    r.state.close();
  });

  it('restarts journalctl when it dies and loses nothing', async () => {
    const dir = join(tmp.dir, 'j2');
    mkdirSync(dir);
    writeEntries(dir, ['one', 'two']);
    const r = rig('s2');
    const path = journaldPath({ directory: dir });
    const { src, events } = source(r, dir);
    await src.start();
    await until(() => journalLines(r.store, path).length === 2 && src.status()['phase'] === 'follow');
    const child = (src as unknown as { child?: ChildProcess }).child;
    child?.kill('SIGKILL');
    await until(() => events.some((e) => e.evt === 'journald.exited'));
    writeEntries(dir, ['three']);
    await until(() => journalLines(r.store, path).length === 3);
    await src.stop();
    expect(journalLines(r.store, path).map((l) => l.entry['MESSAGE'])).toEqual(['one', 'two', 'three']);
    expect(src.status()['restarts']).toBeGreaterThanOrEqual(1);
    r.store.close();
    r.state.close();
  });

  it('records a gap when the last preserved entry is no longer in the journal (rotated away)', async () => {
    const dir = join(tmp.dir, 'j3');
    mkdirSync(dir);
    writeEntries(dir, ['old one', 'old two']);
    const r = rig('s3');
    const path = journaldPath({ directory: dir });
    const first = source(r, dir);
    await first.src.start();
    await until(() => journalLines(r.store, path).length === 2);
    await first.src.stop();
    // The journal is replaced (a vacuum that removed every file, then new entries in a new file).
    rmSync(join(dir, 'remote.journal'));
    writeEntries(dir, ['new one']);
    const second = source(r, dir);
    await second.src.start();
    await until(() => journalLines(r.store, path).length === 3);
    await second.src.stop();
    r.store.flush();
    const gaps = allRecords(r.store).filter((x) => x.kind === 'agent.gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]?.payload).toMatchObject({ source: path, reason: 'cursor_not_found' });
    expect(journalLines(r.store, path).map((l) => l.entry['MESSAGE'])).toEqual(['old one', 'old two', 'new one']);
    r.store.close();
    r.state.close();
  });

  it('startAt end: records only new entries, and the skipped ones as a gap', async () => {
    const dir = join(tmp.dir, 'j4');
    mkdirSync(dir);
    writeEntries(dir, ['before 1', 'before 2']);
    const r = rig('s4');
    const path = journaldPath({ directory: dir });
    const { src } = source(r, dir, { startAt: 'end' });
    await src.start();
    await until(() => src.status()['phase'] === 'follow');
    writeEntries(dir, ['after']);
    await until(() => journalLines(r.store, path).length === 1);
    await src.stop();
    expect(journalLines(r.store, path).map((l) => l.entry['MESSAGE'])).toEqual(['after']);
    const gaps = allRecords(r.store).filter((x) => x.kind === 'agent.gap');
    expect(gaps.map((g) => (g.payload as { reason: string }).reason)).toEqual(['start_at_end']);
    r.store.close();
    r.state.close();
  });
});

describe('journald source without journalctl', () => {
  it('is unavailable: logged once, no crash, no records, no gap', async () => {
    const r = rig('s5');
    const { src, events } = source(r, join(tmp.dir, 'nowhere'), { command: join(tmp.dir, 'no-such-journalctl') });
    await src.start();
    await until(() => src.status().state === 'unavailable');
    await src.stop();
    expect(src.status().state).toBe('unavailable');
    expect(events.filter((e) => e.evt === 'journald.unavailable')).toHaveLength(1);
    r.store.flush();
    expect(allRecords(r.store)).toEqual([]);
    r.store.close();
    r.state.close();
  });
});
