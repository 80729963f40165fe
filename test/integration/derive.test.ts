/**
 * Deriving typed evidence from preserved lines, on real stores: real sample lines (test/fixtures)
 * appended as `log.line` records or read by the real FileIngestor, the real agent, and a child
 * process killed with SIGKILL while lines are appended. Every derived record must name the exact
 * seqs of the lines it came from, exist exactly once, and the store must verify clean.
 */
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../agent/config.js';
import { silentLogger } from '../../agent/logger.js';
import { runAgent } from '../../agent/run.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { systemClock } from '../../src/clock.js';
import { DERIVE_STATE_KEY, DERIVED_KINDS, Deriver, deriveFromLines } from '../../src/derive/deriver.js';
import type { SourceLine } from '../../src/parsers/types.js';
import { decodeRawText, encodeRawText } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore, STATE_FILE } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { decodeCanonical } from '../../src/records/canonical.js';
import { allRecords, idle, makeRig, tempDir, waitFor } from '../helpers/ingest-harness.js';
import { runChildScript, type RunningChild } from '../helpers/child-process.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const KERN = `${FIX}constructed/kern-usb.log`;
const AUTH = `${FIX}beats/filebeat/module/system/auth/test/test.log`;
const AUDIT = `${FIX}plaso/test_data/audit_enriched.log`;
const CHILD = fileURLToPath(new URL('../helpers/derive-child.mjs', import.meta.url));

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('derive');
});
afterAll(() => tmp.cleanup());

function linesOf(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Appends one `log.line` record the way the ingestor writes it. */
class LineWriter {
  private offsets = new Map<string, { offset: number; lineNo: number }>();
  constructor(private readonly store: EvidenceStore) {}
  line(path: string, bytes: string | Uint8Array, partial = false): number {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
    const pos = this.offsets.get(path) ?? { offset: 0, lineNo: 1 };
    const seq = this.store.append('log.line', `file:${path}`, {
      path,
      dev: '2049',
      // One inode per path for the file's life (verify checks each inode's lines are contiguous).
      ino: String(1000 + (this.offsets.has(path) ? [...this.offsets.keys()].indexOf(path) : this.offsets.size)),
      offset: pos.offset,
      line_no: pos.lineNo,
      length: b.length,
      ...(partial ? { partial: true } : {}),
      ...encodeRawText(b),
    });
    this.offsets.set(path, { offset: pos.offset + b.length + (partial ? 0 : 1), lineNo: pos.lineNo + (partial ? 0 : 1) });
    return seq;
  }
}

function derived(records: EvidenceRecord[]): EvidenceRecord[] {
  return records.filter((r) => DERIVED_KINDS.has(r.kind));
}
const df = (r: EvidenceRecord): number[] => (r.payload as { derived_from: number[] }).derived_from;

function drain(d: Deriver): void {
  while (d.pump() > 0) {
    /* until caught up */
  }
  d.finishNow('stop');
}

async function verifyClean(storeDir: string): Promise<void> {
  const result = await verifyStoreDir(storeDir);
  expect(result.findings).toEqual([]);
  expect(result.ok).toBe(true);
}

describe('deriving from log.line records in a real store', () => {
  it('kernel USB, auth and audit lines interleaved with other records: every derived record names the exact line seqs', async () => {
    const storeDir = join(tmp.dir, 'interleaved');
    const { store } = EvidenceStore.create(storeDir, { host: 'ws-0147' });
    const state = new StateStore(storeDir);
    const w = new LineWriter(store);
    const kern = linesOf(KERN);
    const auth = linesOf(AUTH);
    const audit = linesOf(AUDIT);
    const kernSeqs: number[] = [];
    const authSeqs: number[] = [];
    const auditSeqs: number[] = [];
    const n = Math.max(kern.length, auth.length, audit.length);
    for (let i = 0; i < n; i++) {
      if (i < kern.length) kernSeqs.push(w.line('/var/log/kern.log', kern[i]!));
      if (i % 5 === 0) store.append('agent.heartbeat', 'custody.agent', { uptime_ms: i });
      if (i < auth.length) authSeqs.push(w.line('/var/log/auth.log', auth[i]!));
      if (i < audit.length) auditSeqs.push(w.line('/var/log/audit/audit.log', audit[i]!));
    }
    store.flush();

    const d = new Deriver({ store, state, logger: silentLogger() });
    drain(d);
    const records = allRecords(store);
    const out = derived(records);
    expect(out.every((r) => r.source.startsWith('derive:'))).toBe(true);

    const usb = out.filter((r) => r.kind.startsWith('usb.'));
    expect(usb.map((r) => r.kind)).toEqual(['usb.connect', 'usb.connect', 'usb.disconnect', 'usb.connect', 'usb.disconnect']);
    const k = (idx: number[]): number[] => idx.map((i) => kernSeqs[i]!);
    expect(df(usb[0]!)).toEqual(k([0, 1, 2, 3, 4, 5, 6, 7, 10, 11]));
    expect(usb[0]!.payload).toMatchObject({ serial: '4C530001230527110412', block_device: 'sdb', session: `1-1#5@${kernSeqs[0]}` });
    expect(df(usb[1]!)).toEqual(k([12, 13, 14, 15, 16]));
    expect(df(usb[2]!)).toEqual(k([17]));
    expect(usb[2]!.payload).toMatchObject({ session: `1-1#5@${kernSeqs[0]}`, serial: '4C530001230527110412' });
    expect(df(usb[3]!)).toEqual(k([19, 20, 21, 22, 23, 24, 25, 26, 27]));
    expect(df(usb[4]!)).toEqual(k([28]));

    const logons = out.filter((r) => r.kind === 'auth.logon');
    expect(logons.map(df)).toEqual([0, 1, 2, 3, 4, 6, 7].map((i) => [authSeqs[i]!]));
    expect(logons[0]!.payload).toMatchObject({ service: 'sshd', action: 'logon', user: 'vagrant', from_ip: '10.0.2.2', from_port: 63673 });

    const access = out.filter((r) => r.kind === 'file.access');
    expect(access.map((r) => (r.payload as { path: string }).path)).toEqual(['/usr/bin/id', '/bin/sh', '/usr/bin/cat']);
    expect(df(access[2]!)).toEqual([23, 24, 25, 26, 27, 28].map((i) => auditSeqs[i]!));

    // Exactly what the pure function derives from the same lines, payload for payload.
    const lines: SourceLine[] = records
      .filter((r) => r.kind === 'log.line')
      .map((r) => ({ seq: r.seq, path: String(r.payload['path']), text: String(r.payload['text']), observedAt: r.observed_at }));
    const pure = deriveFromLines(lines).records;
    const byKind = (xs: Array<{ kind: string; payload: unknown }>, kind: string): unknown[] => xs.filter((x) => x.kind === kind).map((x) => x.payload);
    for (const kind of ['usb.connect', 'usb.disconnect', 'auth.logon', 'file.access']) expect(byKind(out, kind), kind).toEqual(byKind(pure, kind));

    // Derived records are not fed back: reading on finds nothing new.
    const before = store.size;
    drain(d);
    expect(store.size).toBe(before);
    expect(d.status().lines).toBe(kern.length + auth.length + audit.length);

    store.close({ finalCheckpoint: true });
    state.close();
    await verifyClean(storeDir);
  });

  it('restarts resume from the saved position; a crash before it, or a lost state database, writes nothing twice', async () => {
    const storeDir = join(tmp.dir, 'restart');
    const { store } = EvidenceStore.create(storeDir, { host: 'h' });
    const state = new StateStore(storeDir);
    const w = new LineWriter(store);
    const auth = linesOf(AUTH);
    const kern = linesOf(KERN);
    for (const l of auth.slice(0, 4)) w.line('/var/log/auth.log', l);
    store.flush();
    drain(new Deriver({ store, state }));
    expect(derived(allRecords(store))).toHaveLength(4);
    const saved = state.get<{ fed_through: number }>(DERIVE_STATE_KEY);
    expect(saved?.fed_through).toBe(store.size - 5); // the 4 derived records came after the last line

    // A "crash": a deriver derives and commits, but dies before it finishes and saves its position.
    for (const l of auth.slice(4)) w.line('/var/log/auth.log', l);
    for (const l of kern) w.line('/var/log/kern.log', l);
    store.flush();
    const crashed = new Deriver({ store, state });
    while (crashed.pump() > 0) {
      /* derive, no finish */
    }
    store.flush();
    const afterCrash = derived(allRecords(store)).length;
    expect(afterCrash).toBeGreaterThan(4);
    expect(state.get<{ fed_through: number }>(DERIVE_STATE_KEY)?.fed_through).toBe(saved?.fed_through);

    const restarted = new Deriver({ store, state });
    drain(restarted);
    expect(restarted.status().duplicates_skipped).toBe(afterCrash - 4);

    // The state database lost: the whole store is read again, and still nothing is written twice.
    state.delete(DERIVE_STATE_KEY);
    const fresh = new Deriver({ store, state });
    drain(fresh);
    expect(fresh.status().duplicates_skipped).toBe(derived(allRecords(store)).length);

    const all = derived(allRecords(store));
    const keys = all.map((r) => `${r.kind}|${df(r).join(',')}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(all.filter((r) => r.kind === 'auth.logon')).toHaveLength(7);
    expect(all.filter((r) => r.kind === 'usb.connect')).toHaveLength(3);
    expect(all.filter((r) => r.kind === 'usb.disconnect')).toHaveLength(2);
    store.close({ finalCheckpoint: true });
    state.close();
    await verifyClean(storeDir);
  });

  it('a line recorded in partial pieces is parsed whole and names every piece; a line that is not UTF-8 is read as latin1 and says so', async () => {
    const storeDir = join(tmp.dir, 'pieces');
    const { store } = EvidenceStore.create(storeDir, { host: 'h' });
    const w = new LineWriter(store);
    const a = w.line('/var/log/auth.log', 'Feb 21 21:54:44 localhost sshd[3402]: Accepted password for vag', true);
    store.append('agent.heartbeat', 'custody.agent', { uptime_ms: 1 });
    const b = w.line('/var/log/auth.log', 'rant from 10.0.2.2 port 63673 ssh2');
    const raw = Buffer.concat([Buffer.from('Feb 21 21:55:00 localhost sshd[3403]: Accepted password for j'), Buffer.from([0xf6]), Buffer.from('rg from 10.0.2.3 port 22 ssh2')]);
    const c = w.line('/var/log/auth.log', raw);
    store.flush();
    const rec = allRecords(store).find((r) => r.seq === c)!;
    expect(rec.payload['raw_b64']).toBeDefined(); // stored exactly, as base64
    drain(new Deriver({ store }));
    const logons = derived(allRecords(store));
    expect(logons).toHaveLength(2);
    expect(logons[0]!.payload).toMatchObject({ derived_from: [a, b], user: 'vagrant', from_port: 63673 });
    expect(logons[1]!.payload).toMatchObject({ derived_from: [c], user: 'j\u00f6rg', from_ip: '10.0.2.3' });
    expect((logons[1]!.payload as { extra?: Record<string, string> }).extra?.['text_decoding']).toMatch(/^latin1/);
    expect(Buffer.from(decodeRawText({ raw_b64: String(rec.payload['raw_b64']) })).equals(raw)).toBe(true);
    store.close({ finalCheckpoint: true });
    await verifyClean(storeDir);
  });

  it('over the real FileIngestor: the sample logs become the records the parser tests expect', async () => {
    const logs = join(tmp.dir, 'ingest-logs');
    mkdirSync(logs);
    copyFileSync(KERN, join(logs, 'kern.log'));
    copyFileSync(AUTH, join(logs, 'auth.log'));
    copyFileSync(AUDIT, join(logs, 'audit.log'));
    // issue 13: an IIS W3C log (its #Fields: is line state) and a Squid log, picked by content
    copyFileSync(`${FIX}lnav/test/logfile_w3c_big.0`, join(logs, 'u_ex150113.log'));
    copyFileSync(`${FIX}plaso/test_data/squid_access.log`, join(logs, 'access.log'));
    const storeDir = join(tmp.dir, 'ingest-store');
    const rig = await makeRig(storeDir, { watch: [join(logs, '*.log')] });
    await rig.start();
    await idle(rig);
    const d = new Deriver({ store: rig.store, state: rig.state });
    drain(d);
    const records = allRecords(rig.store);
    const out = derived(records);
    const counts: Record<string, number> = {};
    for (const r of out) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
    expect(counts).toEqual({ 'usb.connect': 3, 'usb.disconnect': 2, 'auth.logon': 7, 'file.access': 3, 'process.exec': 3, 'net.access': 218 });
    const bySeq = new Map(records.map((r) => [r.seq, r]));
    const fileOf: Record<string, string> = { usb: 'kern.log', auth: 'auth.log', file: 'audit.log', process: 'audit.log' };
    for (const r of out) {
      for (const s of df(r)) {
        const line = bySeq.get(s);
        expect(line?.kind).toBe('log.line');
        const file = r.kind === 'net.access' ? (r.payload['service'] === 'proxy' ? 'access.log' : 'u_ex150113.log') : fileOf[r.kind.split('.')[0]!]!;
        expect(String(line?.payload['path'])).toBe(join(logs, file));
      }
    }
    expect(out.filter((r) => r.kind === 'net.access' && r.payload['service'] === 'proxy')).toHaveLength(8);
    await rig.close();
    await verifyClean(storeDir);
  });

  it('the running agent derives as lines are committed, and seals them at stop', async () => {
    const logs = join(tmp.dir, 'agent-logs');
    mkdirSync(logs);
    const storeDir = join(tmp.dir, 'agent-store');
    const config = parseConfig({ store: storeDir, host: 'ws-0147', sources: { files: { watch: [join(logs, '*.log')] } }, logLevel: 'silent' });
    const controller = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = runAgent(config, { logger: silentLogger(), clock: systemClock, signal: controller.signal, tickMs: 50, onReady: () => ready() });
    await isReady;
    writeFileSync(join(logs, 'auth.log'), `${linesOf(AUTH).join('\n')}\n`);
    const reader = (): EvidenceRecord[] => {
      const r = new SqliteStoreReader(storeDir);
      try {
        return [...r.records()].map((row) => decodeCanonical(row.bytes) as EvidenceRecord);
      } finally {
        r.close();
      }
    };
    // auth lines need no finish: each is derived as soon as it is committed.
    await waitFor('7 auth.logon records while running', () => reader().filter((r) => r.kind === 'auth.logon').length === 7 || undefined);
    appendFileSync(join(logs, 'kern.log'), `${linesOf(KERN).join('\n')}\n`);
    await waitFor('the kernel lines committed', () => reader().filter((r) => r.kind === 'log.line' && String(r.payload['path']).endsWith('kern.log')).length === linesOf(KERN).length || undefined);
    // Stopping finishes the parsers: the last announcement and disconnect are derived before agent.stop.
    controller.abort('SIGTERM');
    await done;
    const records = reader();
    const kinds = records.map((r) => r.kind);
    expect(kinds.filter((k) => k === 'usb.connect')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'usb.disconnect')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'auth.logon')).toHaveLength(7);
    // Everything derived comes before the agent's stop record and its final checkpoint.
    expect(kinds.lastIndexOf('usb.disconnect')).toBeLessThan(kinds.indexOf('agent.stop'));
    await verifyClean(storeDir);
  });

  it('the switch `derive: false` leaves the lines underived', async () => {
    const logs = join(tmp.dir, 'agent-off-logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'auth.log'), `${linesOf(AUTH).join('\n')}\n`);
    const storeDir = join(tmp.dir, 'agent-off-store');
    const config = parseConfig({ store: storeDir, sources: { files: { watch: [join(logs, '*.log')] } }, derive: false });
    const controller = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = runAgent(config, { logger: silentLogger(), clock: systemClock, signal: controller.signal, tickMs: 50, onReady: () => ready() });
    await isReady;
    await waitFor('lines committed', () => {
      const r = new SqliteStoreReader(storeDir);
      try {
        return [...r.records()].filter((row) => row.kind === 'log.line').length === linesOf(AUTH).length || undefined;
      } finally {
        r.close();
      }
    });
    controller.abort('SIGTERM');
    await done;
    const r = new SqliteStoreReader(storeDir);
    const kinds = [...r.records()].map((row) => row.kind);
    r.close();
    expect(kinds.filter((k) => DERIVED_KINDS.has(k))).toEqual([]);
  });
});

// --- kill -9 -----------------------------------------------------------------------------------

/** Writes auth lines, USB announcements + disconnects and audit events, each group in one write. */
class EventWriter {
  ticks = 0;
  auth = 0;
  devices = 0;
  audits = 0;
  connected = false;
  private t = Date.UTC(2026, 10, 20, 9, 0, 0);
  private uptime = 100;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly dir: string) {}
  private stamp(): string {
    const d = new Date(this.t);
    const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
    const pad = (n: number): string => String(n).padStart(2, '0');
    return `${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  }
  start(): void {
    this.timer = setInterval(() => this.tick(), 3);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  tick(): void {
    this.t += 1000;
    this.uptime += 1;
    const which = this.ticks++ % 3;
    if (which === 0) {
      const n = this.auth++;
      appendFileSync(join(this.dir, 'auth.log'), `${this.stamp()} ws sshd[${1000 + n}]: Accepted password for user${n} from 10.0.${n >> 8 & 255}.${n & 255} port ${20000 + n} ssh2\n`);
      return;
    }
    if (which === 1) {
      const k = this.devices;
      const up = `[${this.uptime.toFixed(6).padStart(12, ' ')}]`;
      const pre = `${this.stamp()} ws kernel: ${up}`;
      if (!this.connected) {
        appendFileSync(
          join(this.dir, 'kern.log'),
          `${pre} usb 1-1: new high-speed USB device number ${k % 100 + 2} using xhci_hcd\n` +
            `${pre} usb 1-1: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00\n` +
            `${pre} usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3\n` +
            `${pre} usb 1-1: Product: Ultra\n` +
            `${pre} usb 1-1: Manufacturer: SanDisk\n` +
            `${pre} usb 1-1: SerialNumber: SN${String(k).padStart(8, '0')}\n`,
        );
        this.connected = true;
      } else {
        appendFileSync(join(this.dir, 'kern.log'), `${pre} usb 1-1: USB disconnect, device number ${k % 100 + 2}\n`);
        this.connected = false;
        this.devices++;
      }
      return;
    }
    const s = this.audits++;
    const id = `${Math.floor(this.t / 1000)}.000:${s + 1}`;
    appendFileSync(
      join(this.dir, 'audit.log'),
      `type=SYSCALL msg=audit(${id}): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd2 a2=0 a3=0 items=1 ppid=1 pid=${2000 + s} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" key="custody-file-access"\n` +
        `type=CWD msg=audit(${id}): cwd="/home/alice"\n` +
        `type=PATH msg=audit(${id}): item=0 name="/srv/customer-data/file${s}.csv" inode=${5000 + s} dev=fc:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\n` +
        `type=PROCTITLE msg=audit(${id}): proctitle=636174\n` +
        `type=EOE msg=audit(${id}): \n`,
    );
  }
}

function runChild(storeDir: string, glob: string): RunningChild {
  return runChildScript(CHILD, [storeDir, glob, '2000']);
}

function savedPosition(storeDir: string): number {
  const db = new Database(join(storeDir, STATE_FILE), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const row = db.prepare('SELECT value FROM kv WHERE name = ?').get(DERIVE_STATE_KEY) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as { fed_through: number }).fed_through : -1;
  } catch {
    return -1;
  } finally {
    db.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('deriver: kill -9 at any instant', () => {
  const RESTARTS = 14;
  it(`restarts ${RESTARTS} times while lines are appended; every expected derived record exists exactly once`, { timeout: 300_000 }, async () => {
    const logs = join(tmp.dir, 'kill-logs');
    const storeDir = join(tmp.dir, 'kill-store');
    mkdirSync(logs);
    for (const f of ['auth.log', 'kern.log', 'audit.log']) writeFileSync(join(logs, f), '');
    EvidenceStore.create(storeDir, { host: 'ws' }).store.close();
    const writer = new EventWriter(logs);
    writer.start();
    let idleStops = 0;
    try {
      for (let i = 0; i < RESTARTS; i++) {
        const run = runChild(storeDir, join(logs, '*.log'));
        await Promise.race([run.ready, run.exited]);
        if (run.child.exitCode !== null) throw new Error(`child exited on its own (${run.child.exitCode}): ${run.stderr()}`);
        if (i % 4 === 1) {
          // Let the input go idle so the child finishes its parsers and saves its position, then kill it mid-stream.
          writer.stop();
          const before = savedPosition(storeDir);
          await waitFor('the position saved after idle', () => savedPosition(storeDir) > before || undefined, 60_000, 50);
          idleStops++;
          writer.start();
          await sleep(Math.random() * 300);
        } else {
          await sleep(Math.random() * 600);
        }
        run.child.kill('SIGKILL');
        await run.exited;
      }
    } finally {
      writer.stop();
    }

    // The last run is in-process: it reads the rest and stops cleanly.
    const rig = await makeRig(storeDir, { watch: [join(logs, '*.log')] }, { create: false });
    await rig.start();
    await idle(rig, 60_000);
    const d = new Deriver({ store: rig.store, state: rig.state });
    drain(d);
    await rig.close();

    const store = EvidenceStore.open(storeDir);
    try {
      const records = allRecords(store);
      const out = derived(records);
      const count = (kind: string): number => out.filter((r) => r.kind === kind).length;
      expect(count('auth.logon')).toBe(writer.auth);
      expect(count('usb.connect')).toBe(writer.devices + (writer.connected ? 1 : 0));
      expect(count('usb.disconnect')).toBe(writer.devices);
      expect(count('file.access')).toBe(writer.audits);
      // Exactly the records one uninterrupted pass over the same lines derives (by kind and source lines).
      const lines: SourceLine[] = records
        .filter((r) => r.kind === 'log.line')
        .map((r) => ({ seq: r.seq, path: String(r.payload['path']), text: String(r.payload['text']), observedAt: r.observed_at }));
      const expected = deriveFromLines(lines).records.map((r) => `${r.kind}|${(r.payload as { derived_from: number[] }).derived_from.join(',')}`).sort();
      const actual = out.map((r) => `${r.kind}|${df(r).join(',')}`).sort();
      expect(actual).toEqual(expected);
      // Each USB connect names exactly its six announcement lines.
      for (const c of out.filter((r) => r.kind === 'usb.connect')) expect(df(c)).toHaveLength(6);
      console.log(
        `derive crash test: ${RESTARTS} kills (${idleStops} after an idle save), ${lines.length} lines, ${out.length} derived records, ${records.length} records`,
      );
    } finally {
      store.close();
    }
    await verifyClean(storeDir);
  });
});
