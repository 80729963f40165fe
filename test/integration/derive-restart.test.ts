/**
 * The deriver's parser context across restarts, on real stores and real state databases: a USB
 * stick connected before a restart (a clean stop and start, or a kill -9 of a child process running
 * the ingestor and the deriver) and disconnected after it keeps its pairing, identity and session;
 * an RFC 3164 December → January rollover across a restart moves to the next year; a saved context
 * that is missing, from another version or damaged leaves the deriver working as it did without one.
 * Lines: the constructed kernel USB sample (fixtures/constructed/kern-usb.log).
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import { DERIVE_STATE_KEY, DERIVED_KINDS, Deriver, deriveFromLines } from '../../src/derive/deriver.js';
import type { SourceLine } from '../../src/parsers/types.js';
import { encodeRawText } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore, STATE_FILE } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { decodeCanonical } from '../../src/records/canonical.js';
import { allRecords, idle, makeRig, ManualClock, memoryLogger, tempDir, waitFor } from '../helpers/ingest-harness.js';
import { runChildScript } from '../helpers/child-process.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const KERN = readFileSync(`${FIX}constructed/kern-usb.log`, 'utf8').split('\n').filter((l) => l !== '');
const CHILD = fileURLToPath(new URL('../helpers/derive-child.mjs', import.meta.url));
const KERN_PATH = '/var/log/kern.log';
const UNPAIRED = 'no connect seen for this port and device number';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('derive-restart');
});
afterAll(() => tmp.cleanup());

/** Appends `log.line` records the way the ingestor writes them. */
class LineWriter {
  private offsets = new Map<string, { offset: number; lineNo: number }>();
  constructor(private readonly store: EvidenceStore) {}
  line(path: string, text: string): number {
    const b = Buffer.from(text, 'utf8');
    const pos = this.offsets.get(path) ?? { offset: 0, lineNo: 1 };
    const seq = this.store.append('log.line', `file:${path}`, { path, dev: '2049', ino: '1000', offset: pos.offset, line_no: pos.lineNo, length: b.length, ...encodeRawText(b) });
    this.offsets.set(path, { offset: pos.offset + b.length + 1, lineNo: pos.lineNo + 1 });
    return seq;
  }
  /** After a restart: continues where the store's last line of `path` ended. */
  static resume(store: EvidenceStore): LineWriter {
    const w = new LineWriter(store);
    for (const r of allRecords(store)) {
      if (r.kind !== 'log.line') continue;
      const p = r.payload as { path: string; offset: number; length: number; line_no: number };
      w.offsets.set(p.path, { offset: p.offset + p.length + 1, lineNo: p.line_no + 1 });
    }
    return w;
  }
}

const derived = (records: EvidenceRecord[]): EvidenceRecord[] => records.filter((r) => DERIVED_KINDS.has(r.kind));
const ofKind = (records: EvidenceRecord[], kind: string): Array<Record<string, unknown>> => records.filter((r) => r.kind === kind).map((r) => r.payload);

function drain(d: Deriver): void {
  while (d.pump() > 0) {
    /* until caught up */
  }
  d.finishNow('stop');
}

/** What one uninterrupted pass over the store's lines derives. */
function pure(records: EvidenceRecord[]): Array<{ kind: string; payload: unknown }> {
  const lines: SourceLine[] = records
    .filter((r) => r.kind === 'log.line')
    .map((r) => ({ seq: r.seq, path: String(r.payload['path']), text: String(r.payload['text']), observedAt: r.observed_at }));
  return deriveFromLines(lines).records;
}

async function verifyClean(storeDir: string): Promise<void> {
  const result = await verifyStoreDir(storeDir);
  expect(result.findings).toEqual([]);
  expect(result.ok).toBe(true);
}

interface SavedPosition {
  fed_through: number;
  store_id: string;
  parser_context?: unknown;
}

describe('deriver restart: the parser context is saved with the position', () => {
  it('a stick connected before a stop and disconnected after the next start keeps its identity, session and connect seq', async () => {
    const storeDir = join(tmp.dir, 'clean');
    let store = EvidenceStore.create(storeDir, { host: 'ws-0147' }).store;
    let state = new StateStore(storeDir);
    const w = new LineWriter(store);
    const seqs = KERN.slice(0, 17).map((l) => w.line(KERN_PATH, l)); // SanDisk and Logitech connected
    store.flush();
    const first = new Deriver({ store, state });
    first.start();
    first.stop();
    expect(ofKind(allRecords(store), 'usb.connect').map((p) => p['session'])).toEqual([`1-1#5@${seqs[0]}`, `3-6.4.1#12@${seqs[12]}`]);

    // What the state database holds: the position and, beside it, the parsers' context.
    const saved = state.get<SavedPosition>(DERIVE_STATE_KEY);
    expect(saved?.fed_through).toBe(seqs[16]);
    expect(saved?.parser_context).toMatchObject({
      v: 1,
      files: [
        {
          path: KERN_PATH,
          syslog: { month: 11 },
          usb: {
            open: [
              { port: '1-1', device_number: 5, session: `1-1#5@${seqs[0]}`, connect_seq: seqs[0], device: { serial: '4C530001230527110412', vendor_id: '0781', product_id: '5581', block_device: 'sdb' } },
              { port: '3-6.4.1', device_number: 12, session: `3-6.4.1#12@${seqs[12]}`, connect_seq: seqs[12], device: { vendor_id: '046d', product_id: 'c52b' } },
            ],
            scsi_hosts: [[6, '1-1']],
          },
        },
      ],
    });
    store.close({ finalCheckpoint: true });
    state.close();

    // The service restarts: store and state opened again, a new deriver.
    store = EvidenceStore.open(storeDir);
    state = new StateStore(storeDir);
    const w2 = LineWriter.resume(store);
    const rest = KERN.slice(17).map((l) => w2.line(KERN_PATH, l));
    store.flush();
    const { logger, events } = memoryLogger();
    const second = new Deriver({ store, state, logger });
    const resumed = second.resume();
    expect(resumed).toMatchObject({ fromSeq: seqs[16]! + 1, cache: 'used', context: { files: 1, usbSessions: 2, ignored: 0 } });
    expect(events.find((e) => e.evt === 'derive.resumed')).toMatchObject({ cache: 'used', context: { files: 1, usb_sessions: 2, ignored: 0 } });
    drain(second);

    const records = allRecords(store);
    const disconnects = ofKind(records, 'usb.disconnect');
    expect(disconnects).toHaveLength(2);
    expect(disconnects[0]).toMatchObject({
      derived_from: [rest[0]],
      port: '1-1',
      device_number: 5,
      session: `1-1#5@${seqs[0]}`,
      serial: '4C530001230527110412',
      vendor_id: '0781',
      product_id: '5581',
      product: 'Ultra',
      manufacturer: 'SanDisk',
      block_device: 'sdb',
      mass_storage: true,
      extra: { uptime: '6571.554321', connect_seq: String(seqs[0]) },
    });
    expect((disconnects[0]!['extra'] as Record<string, string>)['pairing']).toBeUndefined();
    expect(disconnects[1]).toMatchObject({ session: `1-1#6@${rest[2]}`, serial: 'E0D55EA573DCF450E9430D5B' });
    // Payload for payload what one uninterrupted pass derives.
    for (const kind of ['usb.connect', 'usb.disconnect']) {
      expect(ofKind(records, kind), kind).toEqual(pure(records).filter((r) => r.kind === kind).map((r) => r.payload));
    }
    store.close({ finalCheckpoint: true });
    state.close();
    await verifyClean(storeDir);
  });

  it('an RFC 3164 December → January rollover across a restart moves to the next year', async () => {
    // The agent reads a Dec 31 line that night, is then off for a year, and reads the Jan 1 line
    // on 2027-01-05: its observed_at alone would date it 2027; the line before it says 2026.
    const storeDir = join(tmp.dir, 'year');
    const clock = new ManualClock(Date.UTC(2025, 11, 31, 23, 59, 59));
    let store = EvidenceStore.create(storeDir, { host: 'ws', clock }).store;
    let state = new StateStore(storeDir);
    new LineWriter(store).line('/var/log/auth.log', 'Dec 31 23:59:30 ws sshd[1001]: Accepted password for alice from 10.0.0.1 port 50000 ssh2');
    store.flush();
    drain(new Deriver({ store, state, clock }));
    store.close({ finalCheckpoint: true });
    state.close();

    clock.ms = Date.UTC(2027, 0, 5);
    store = EvidenceStore.open(storeDir, { clock });
    state = new StateStore(storeDir);
    const jan = LineWriter.resume(store).line('/var/log/auth.log', 'Jan  1 00:00:10 ws sshd[1002]: Accepted password for bob from 10.0.0.2 port 50001 ssh2');
    store.flush();
    drain(new Deriver({ store, state, clock }));
    const records = allRecords(store);
    const logons = ofKind(records, 'auth.logon');
    expect(logons.map((p) => [p['user'], p['event_time']])).toEqual([
      ['alice', '2025-12-31T23:59:30.000000Z'],
      ['bob', '2026-01-01T00:00:10.000000Z'],
    ]);
    expect(logons[1]?.['time_note']).toBe('year 2026 inferred: rollover from Dec 2025 to Jan; local time, zone unknown, read as UTC');
    // Without the context (a fresh deriver, a lost state database), the same line is dated by its observed_at.
    const line = records.find((r) => r.seq === jan)!;
    const alone = deriveFromLines([{ seq: jan, path: '/var/log/auth.log', text: String(line.payload['text']), observedAt: line.observed_at }]).records;
    expect((alone[0]?.payload as { event_time?: string }).event_time).toBe('2027-01-01T00:00:10.000000Z');
    store.close({ finalCheckpoint: true });
    state.close();
    await verifyClean(storeDir);
  });

  it("an IIS W3C file's #Fields: read before a stop applies to the data lines after the next start (issue 13)", async () => {
    // IIS writes the header once per file (and again after a restart of its own); an agent
    // restarted between the header and the next request must still know the columns.
    const storeDir = join(tmp.dir, 'w3c');
    const W3C_PATH = 'C:/inetpub/logs/LogFiles/W3SVC1/u_ex261204.log';
    let store = EvidenceStore.create(storeDir, { host: 'iis-01' }).store;
    let state = new StateStore(storeDir);
    const w = new LineWriter(store);
    for (const l of [
      '#Software: Microsoft Internet Information Services 10.0',
      '#Version: 1.0',
      '#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-bytes cs-bytes time-taken',
      '2026-12-04 01:00:05 10.0.0.10 GET /share/a.xlsx - 443 CORP\\sato 10.1.2.3 Mozilla/5.0 200 5120 410 15',
    ]) w.line(W3C_PATH, l);
    store.flush();
    drain(new Deriver({ store, state }));
    expect(state.get<SavedPosition>(DERIVE_STATE_KEY)?.parser_context).toMatchObject({
      files: [{ path: W3C_PATH, w3c: { fields: ['date', 'time', 's-ip', 'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port', 'cs-username', 'c-ip', 'cs(User-Agent)', 'sc-status', 'sc-bytes', 'cs-bytes', 'time-taken'], software: 'Microsoft Internet Information Services 10.0' } }],
    });
    store.close({ finalCheckpoint: true });
    state.close();

    store = EvidenceStore.open(storeDir);
    state = new StateStore(storeDir);
    const upload = LineWriter.resume(store).line(W3C_PATH, '2026-12-04 01:07:41 10.0.0.10 POST /upload - 443 CORP\\sato 10.1.2.3 rclone/v1.66 201 312 73400320 8123');
    store.flush();
    const second = new Deriver({ store, state });
    expect(second.resume()).toMatchObject({ cache: 'used', context: { files: 1, ignored: 0 } });
    drain(second);
    const records = allRecords(store);
    const access = ofKind(records, 'net.access');
    expect(access.map((p) => [p['method'], p['url'], p['user'], p['status'], p['bytes_received'], p['time_note']])).toEqual([
      ['GET', '/share/a.xlsx', 'CORP\\sato', '200', 410, undefined],
      ['POST', '/upload', 'CORP\\sato', '201', 73400320, undefined],
    ]);
    expect(access[1]).toMatchObject({ derived_from: [upload], event_time: '2026-12-04T01:07:41.000000Z', client_ip: '10.1.2.3' });
    expect(access).toEqual(pure(records).filter((r) => r.kind === 'net.access').map((r) => r.payload));
    store.close({ finalCheckpoint: true });
    state.close();
    await verifyClean(storeDir);
  });

  /** A store with the SanDisk connected and derived, its state's saved value replaced by `mutate`, then the disconnect. */
  async function resumeWith(name: string, mutate: (saved: SavedPosition) => unknown): Promise<{ resumed: ReturnType<Deriver['resume']>; disconnect: Record<string, unknown>; warned: boolean; savedFedThrough: number }> {
    const storeDir = join(tmp.dir, `bad-${name}`);
    const store = EvidenceStore.create(storeDir, { host: 'ws-0147' }).store;
    const state = new StateStore(storeDir);
    const w = new LineWriter(store);
    for (const l of KERN.slice(0, 12)) w.line(KERN_PATH, l);
    store.flush();
    drain(new Deriver({ store, state }));
    const saved = state.get<SavedPosition>(DERIVE_STATE_KEY)!;
    state.set(DERIVE_STATE_KEY, mutate(saved));
    w.line(KERN_PATH, KERN[17]!);
    store.flush();
    const { logger, events } = memoryLogger();
    const d = new Deriver({ store, state, logger });
    const resumed = d.resume();
    drain(d);
    const disconnects = ofKind(allRecords(store), 'usb.disconnect');
    expect(disconnects).toHaveLength(1);
    expect(d.status().failures).toEqual({});
    store.close({ finalCheckpoint: true });
    state.close();
    await verifyClean(storeDir);
    return { resumed, disconnect: disconnects[0]!, warned: events.some((e) => e.evt === 'derive.context_ignored'), savedFedThrough: saved.fed_through };
  }

  const unpaired = (disconnect: Record<string, unknown>): void => {
    expect(disconnect).toMatchObject({ port: '1-1', device_number: 5, extra: { pairing: UNPAIRED } });
    for (const field of ['serial', 'vendor_id', 'product_id', 'session']) expect(disconnect[field], field).toBeUndefined();
  };

  it('a state saved by an older deriver (no parser context): resumes from its position as before, the disconnect unpaired', async () => {
    const r = await resumeWith('old', ({ parser_context: _c, ...rest }) => rest);
    expect(r.resumed).toMatchObject({ fromSeq: r.savedFedThrough + 1, cache: 'used' });
    expect(r.resumed.context).toBeUndefined();
    expect(r.warned).toBe(false);
    unpaired(r.disconnect);
  });

  const damaged: Array<[string, (ctx: { v: number; files: Array<Record<string, unknown>> }) => unknown, number]> = [
    ['another version', (ctx) => ({ ...ctx, v: 99 }), 1],
    ['not an object', () => 'garbage', 1],
    ['null', () => null, 1],
    ['files not a list', (ctx) => ({ v: ctx.v, files: { [KERN_PATH]: ctx.files[0] } }), 1],
    [
      'a session missing its device number',
      (ctx) => {
        const file = ctx.files[0] as { usb: { open: Array<Record<string, unknown>> } };
        const { device_number: _n, ...session } = file.usb.open[0]!;
        return { ...ctx, files: [{ ...file, usb: { ...file.usb, open: [session] } }] };
      },
      1,
    ],
    [
      'a session whose serial is not a string',
      (ctx) => {
        const file = ctx.files[0] as { usb: { open: Array<{ device: Record<string, unknown> }> } };
        const session = file.usb.open[0]!;
        return { ...ctx, files: [{ ...file, usb: { ...file.usb, open: [{ ...session, device: { ...session.device, serial: 4 } }] } }] };
      },
      1,
    ],
  ];
  for (const [name, damage, ignored] of damaged) {
    it(`a damaged context (${name}): resumes from its position, no crash, the disconnect recorded without identity`, async () => {
      const r = await resumeWith(name.replace(/\W+/g, '-'), (saved) => ({ ...saved, parser_context: damage(saved.parser_context as { v: number; files: Array<Record<string, unknown>> }) }));
      expect(r.resumed).toMatchObject({ fromSeq: r.savedFedThrough + 1, cache: 'used', context: { ignored, usbSessions: 0 } });
      expect(r.warned).toBe(true);
      unpaired(r.disconnect);
    });
  }

  it('a context whose position is not used (another store) is not restored either', async () => {
    const r = await resumeWith('other-store', (saved) => ({ ...saved, store_id: 'another' }));
    expect(r.resumed).toMatchObject({ fromSeq: 0, cache: 'invalid' });
    expect(r.resumed.context).toBeUndefined();
    // The whole store is read again with fresh parsers: the connect is read again (a duplicate,
    // skipped), so this time the disconnect is paired, as on a first run.
    expect(r.disconnect).toMatchObject({ session: expect.stringMatching(/^1-1#5@/), serial: '4C530001230527110412' });
  });
});

// --- kill -9 -----------------------------------------------------------------------------------

function savedPosition(storeDir: string): SavedPosition | undefined {
  const db = new Database(join(storeDir, STATE_FILE), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const row = db.prepare('SELECT value FROM kv WHERE name = ?').get(DERIVE_STATE_KEY) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as SavedPosition) : undefined;
  } catch {
    return undefined;
  } finally {
    db.close();
  }
}

function storeRecords(storeDir: string): EvidenceRecord[] {
  const r = new SqliteStoreReader(storeDir);
  try {
    return [...r.records()].map((row) => decodeCanonical(row.bytes) as EvidenceRecord);
  } finally {
    r.close();
  }
}

describe('deriver restart after kill -9', () => {
  it('the child is killed after saving a context with the stick connected (and again with lines read past it); the disconnect read after the restart is paired', { timeout: 120_000 }, async () => {
    const logs = join(tmp.dir, 'kill-logs');
    const storeDir = join(tmp.dir, 'kill-store');
    mkdirSync(logs);
    const kern = join(logs, 'kern.log');
    writeFileSync(kern, `${KERN.slice(0, 12).join('\n')}\n`); // the SanDisk stick connects
    EvidenceStore.create(storeDir, { host: 'ws-0147' }).store.close();

    const run = runChildScript(CHILD, [storeDir, join(logs, '*.log'), '300']);
    await Promise.race([run.ready, run.exited]);
    if (run.child.exitCode !== null) throw new Error(`child exited on its own (${run.child.exitCode}): ${run.stderr()}`);
    const hasSession = (p: SavedPosition | undefined): boolean => JSON.stringify(p?.parser_context ?? null).includes('"session":"1-1#5@');
    await waitFor('the position saved with the open session', () => hasSession(savedPosition(storeDir)) || undefined, 60_000, 25);
    // More lines (the Logitech receiver), then kill -9 as soon as they are committed: whether or
    // not the child finished and saved again, the restart must come to the same records.
    appendFileSync(kern, `${KERN.slice(12, 17).join('\n')}\n`);
    await waitFor('the next lines committed', () => storeRecords(storeDir).filter((r) => r.kind === 'log.line').length === 17 || undefined, 60_000, 10);
    run.child.kill('SIGKILL');
    await run.exited;
    const atKill = savedPosition(storeDir);
    expect(hasSession(atKill)).toBe(true);
    const linesAtKill = storeRecords(storeDir).filter((r) => r.kind === 'log.line').map((r) => r.seq);
    console.log(`derive restart test: killed with the position ${atKill?.fed_through === linesAtKill.at(-1) ? 'saved after' : 'saved before'} the last 5 lines`);

    // The stick is pulled while the agent is down; the restarted agent reads on.
    appendFileSync(kern, `${KERN.slice(17).join('\n')}\n`);
    const rig = await makeRig(storeDir, { watch: [join(logs, '*.log')] }, { create: false });
    await rig.start();
    await idle(rig, 60_000);
    const { logger, events } = memoryLogger();
    const d = new Deriver({ store: rig.store, state: rig.state, logger });
    drain(d);
    await rig.close();
    expect(events.find((e) => e.evt === 'derive.resumed')).toMatchObject({ cache: 'used', context: { files: 1, ignored: 0 } });

    const records = storeRecords(storeDir);
    const lineSeqs = records.filter((r) => r.kind === 'log.line').map((r) => r.seq);
    expect(lineSeqs).toHaveLength(KERN.length);
    const disconnects = ofKind(records, 'usb.disconnect');
    expect(disconnects).toHaveLength(2);
    expect(disconnects[0]).toMatchObject({
      derived_from: [lineSeqs[17]],
      session: `1-1#5@${lineSeqs[0]}`,
      serial: '4C530001230527110412',
      vendor_id: '0781',
      product_id: '5581',
      extra: { connect_seq: String(lineSeqs[0]) },
    });
    expect((disconnects[0]!['extra'] as Record<string, string>)['pairing']).toBeUndefined();
    // Every USB record exactly once, payload for payload what one uninterrupted pass derives.
    for (const kind of ['usb.connect', 'usb.disconnect']) {
      expect(ofKind(records, kind), kind).toEqual(pure(records).filter((r) => r.kind === kind).map((r) => r.payload));
    }
    expect(derived(records)).toHaveLength(5);
    await verifyClean(storeDir);
  });
});
