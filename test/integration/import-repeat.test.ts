/**
 * Imports that are repeated, killed or cut short by a full disk (issue 15). A responder's import of
 * a generated incident (a syslog with USB sessions and sshd logons, an auditd log of customer-data
 * reads: scripts/gen-incident-logs.mjs) through the built CLI, where the store's writer thread
 * commits during the burst, must give the same evidence every time, and an import run again must
 * finish what the last one left without storing or deriving anything twice.
 *
 * The reference is the same import made in-process from the TypeScript sources, where the store
 * commits in its own thread: every run must derive exactly its records (same payloads, same order).
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as ImportModule from '../../collector/import.js';
import { importFiles } from '../../collector/import.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { decodeCanonical, canonicalText } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { CLI, custody } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest-harness.js';

const ROOT = resolve(__dirname, '../..');
/** A guard against a hang, not a speed target: these run many imports, and a busy 2-core machine is slow. */
const HEAVY_TEST_MS = 900_000;
const DIST = join(ROOT, 'dist');
let tmp: { dir: string; cleanup: () => void };
let logs: { syslog: string; audit: string };
let reference: Summary;
let distImport: typeof ImportModule.importFiles;

interface Summary {
  kinds: Record<string, number>;
  /** Canonical payloads of the derived records (source import:*), in seq order. */
  derived: string[];
  fileRecords: Array<{ seq: number; sha256: string; duplicate_of?: number }>;
}

function summarize(storeDir: string): Summary {
  const db = new Database(join(storeDir, 'evidence.sqlite'), { readonly: true });
  try {
    const s: Summary = { kinds: {}, derived: [], fileRecords: [] };
    for (const bytes of db.prepare('SELECT bytes FROM records ORDER BY seq').pluck().iterate() as Iterable<Buffer>) {
      const r = decodeCanonical(bytes) as EvidenceRecord;
      s.kinds[r.kind] = (s.kinds[r.kind] ?? 0) + 1;
      if (r.source.startsWith('import:')) s.derived.push(canonicalText(r.payload));
      if (r.kind === 'log.file') {
        const p = r.payload as { sha256: string; duplicate_of?: number };
        s.fileRecords.push({ seq: r.seq, sha256: p.sha256, ...(p.duplicate_of !== undefined ? { duplicate_of: p.duplicate_of } : {}) });
      }
    }
    return s;
  } finally {
    db.close();
  }
}

function recordCount(storeDir: string): number {
  try {
    const db = new Database(join(storeDir, 'evidence.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT COUNT(*) FROM records').pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

async function expectVerifies(storeDir: string): Promise<void> {
  const v = await verifyStoreDir(storeDir);
  expect(v.findings).toEqual([]);
  expect(v.ok).toBe(true);
  expect(v.unsealed).toBeUndefined();
}

let dirs = 0;
const fresh = (): string => join(tmp.dir, `store-${dirs++}`);

beforeAll(async () => {
  if (!existsSync(join(DIST, 'collector/import.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` (npm test does)');
  ({ importFiles: distImport } = (await import(pathToFileURL(join(DIST, 'collector/import.js')).href)) as typeof ImportModule);
  tmp = tempDir('import-repeat');
  const gen = spawnSync(process.execPath, [join(ROOT, 'scripts/gen-incident-logs.mjs'), join(tmp.dir, 'logs'), '40000'], { encoding: 'utf8' });
  expect(gen.status).toBe(0);
  logs = JSON.parse(gen.stdout) as { syslog: string; audit: string };
  const dir = fresh();
  const s = importFiles(dir, [logs.syslog, logs.audit], { host: 'ws-07' });
  expect(s.complete).toBe(true);
  reference = summarize(dir);
  // The story holds what a responder looks for, so the comparisons below compare something.
  expect(reference.kinds['usb.connect']).toBeGreaterThan(80);
  expect(reference.kinds['auth.logon']).toBeGreaterThan(8_000);
  expect(reference.kinds['file.access']).toBeGreaterThan(1_500);
  expect(reference.kinds['import.derived']).toBe(2);
  expect(reference.fileRecords).toHaveLength(2);
}, HEAVY_TEST_MS);
afterAll(() => tmp.cleanup());

describe('custody import, repeated', () => {
  it('run 6 times into fresh stores by the built CLI: every run complete (exit 0) with the same records as the reference, every store verifies', async () => {
    for (let run = 0; run < 6; run++) {
      const dir = fresh();
      const r = custody('import', '--host', 'ws-07', '--store', dir, '--json', logs.syslog, logs.audit);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.stdout) as ImportModule.ImportSummary;
      expect(summary.complete).toBe(true);
      expect(summary.files.map((f) => f.outcome)).toEqual(['imported', 'imported']);
      const got = summarize(dir);
      expect(got.kinds).toEqual(reference.kinds);
      expect(got.derived).toEqual(reference.derived);
      await expectVerifies(dir);
    }
  }, HEAVY_TEST_MS);

  it('run again on the same store: nothing stored or derived twice; --preserve-again keeps a recorded second copy and derives nothing from it', async () => {
    const dir = fresh();
    expect(custody('import', '--host', 'ws-07', '--store', dir, logs.syslog, logs.audit).code).toBe(0);
    const again = custody('import', '--store', dir, '--json', logs.syslog, logs.audit);
    expect(again.code).toBe(0);
    const s = JSON.parse(again.stdout) as ImportModule.ImportSummary;
    expect(s.files.map((f) => [f.outcome, f.seq])).toEqual([
      ['already_imported', reference.fileRecords[0]!.seq],
      ['already_imported', reference.fileRecords[1]!.seq],
    ]);
    expect(s.totals.records).toEqual({});
    expect(summarize(dir).kinds).toEqual(reference.kinds);

    const text = custody('import', '--store', dir, logs.audit);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('already imported (same content): not stored again, nothing derived twice');

    const copy = custody('import', '--store', dir, '--preserve-again', '--json', logs.audit);
    expect(copy.code).toBe(0);
    const c = JSON.parse(copy.stdout) as ImportModule.ImportSummary;
    expect(c.files[0]!.outcome).toBe('preserved_again');
    const after = summarize(dir);
    expect(after.fileRecords).toHaveLength(3);
    expect(after.fileRecords[2]).toEqual({ seq: c.files[0]!.copy_seq, sha256: reference.fileRecords[1]!.sha256, duplicate_of: reference.fileRecords[1]!.seq });
    expect(after.derived).toEqual(reference.derived);
    expect({ ...after.kinds, 'log.file': 2 }).toEqual(reference.kinds);
    await expectVerifies(dir);
  }, HEAVY_TEST_MS);

  it('killed with -9 at three points, then run again: every file preserved once, every derived record once and in order, it verifies', async () => {
    const total = reference.derived.length + 4;
    for (const fraction of [0.05, 0.5, 0.9]) {
      const dir = fresh();
      const child = spawn(process.execPath, [CLI, 'import', '--host', 'ws-07', '--store', dir, logs.syslog, logs.audit], { stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
      let finished = false;
      void exited.then(() => (finished = true));
      while (!finished && recordCount(dir) < total * fraction) await new Promise((r) => setTimeout(r, 5));
      const endedBeforeKill = finished;
      child.kill('SIGKILL');
      const signal = await exited;
      // The writer thread commits in large batches: the last one can take the count from under 90 %
      // to all of it between two polls, and the import may even end before the kill. Then this round
      // checks only that running again changes nothing; the earlier kills must have cut it short.
      if (!endedBeforeKill) expect(signal).toBe('SIGKILL');
      const cut = recordCount(dir);
      expect(cut).toBeLessThanOrEqual(total);
      if (fraction < 0.9) expect(cut).toBeLessThan(total);

      const rerun = custody('import', '--store', dir, '--json', logs.syslog, logs.audit);
      expect(rerun.code).toBe(0);
      const s = JSON.parse(rerun.stdout) as ImportModule.ImportSummary;
      expect(s.complete).toBe(true);
      if (cut < total) expect(s.files.some((f) => f.outcome === 'resumed' || (f.outcome === 'imported' && f.seq > 0))).toBe(true);
      const got = summarize(dir);
      expect(got.kinds).toEqual(reference.kinds);
      expect(got.derived).toEqual(reference.derived);
      expect(got.fileRecords).toEqual(reference.fileRecords);
      await expectVerifies(dir);
    }
  }, HEAVY_TEST_MS);

  it('a full disk halfway: the summary says how far it got and what was not reached; run again with room: complete, the same records as the reference', async () => {
    const dir = fresh();
    const full = fresh();
    expect(distImport(full, [logs.syslog, logs.audit], { host: 'ws-07' }).complete).toBe(true);
    const db = new Database(join(full, 'evidence.sqlite'), { readonly: true });
    const fullBytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
    db.close();

    // The evidence file may grow to half of what the whole import needs: the syslog's records stop partway.
    const cut = distImport(dir, [logs.syslog, logs.audit], { host: 'ws-07', maxDatabaseBytes: Math.floor(fullBytes * 0.5) });
    expect(cut.complete).toBe(false);
    expect(cut.incomplete?.path).toBe(logs.syslog);
    expect(cut.incomplete?.error.code).toBe('E_STORE_WRITE_FAILED');
    expect(cut.incomplete?.preserved).toBe(true);
    expect(cut.incomplete?.derived_committed).toBeGreaterThan(0);
    expect(cut.not_imported).toEqual([logs.audit]);
    const partial = summarize(dir);
    // Exactly what the summary says reached the disk, and all of it the reference's first records.
    expect(partial.derived.length).toBe(cut.incomplete?.derived_committed);
    expect(partial.derived).toEqual(reference.derived.slice(0, partial.derived.length));
    // The disk stayed full, so the store could not take the gap either; the summary says so.
    expect(cut.incomplete?.gap_error?.code).toBe('E_STORE_WRITE_FAILED');
    await expect(verifyStoreDir(dir)).resolves.toMatchObject({ ok: true });

    const rerun = distImport(dir, [logs.syslog, logs.audit], {});
    expect(rerun.complete).toBe(true);
    expect(rerun.files.map((f) => f.outcome)).toEqual(['resumed', 'imported']);
    expect(rerun.files[0]!.records_before).toBe(partial.derived.length);
    const got = summarize(dir);
    expect(got.kinds).toEqual(reference.kinds);
    expect(got.derived).toEqual(reference.derived);
    await expectVerifies(dir);
  }, HEAVY_TEST_MS);

  it('a file that cannot be read partway through the list: exit 2, the summary and an agent.gap name it; the files before it stay imported, the ones after are listed as not reached', async () => {
    const dir = fresh();
    // /proc/self/mem is a regular file to stat() and fails with EIO when read: a real read error after the check.
    const r = custody('import', '--host', 'ws-07', '--store', dir, logs.audit, '/proc/self/mem', logs.syslog);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('import INCOMPLETE');
    expect(r.stdout).toContain('INCOMPLETE at /proc/self/mem');
    expect(r.stdout).toContain(`not reached: ${logs.syslog}`);
    expect(r.stderr).toMatch(/import incomplete at \/proc\/self\/mem: .*run the same command again/);
    const s = summarize(dir);
    expect(s.kinds['import.derived']).toBe(1);
    const db = new Database(join(dir, 'evidence.sqlite'), { readonly: true });
    const gaps = (db.prepare(`SELECT bytes FROM records WHERE kind = 'agent.gap'`).pluck().all() as Buffer[]).map((b) => (decodeCanonical(b) as EvidenceRecord).payload);
    db.close();
    expect(gaps).toEqual([expect.objectContaining({ source: 'import', path: '/proc/self/mem', reason: 'import_incomplete' })]);
    await expectVerifies(dir);

    // With the unreadable file left out, the rest is imported and the audit log is not read twice.
    const rerun = custody('import', '--store', dir, '--json', logs.audit, logs.syslog);
    expect(rerun.code).toBe(0);
    const summary = JSON.parse(rerun.stdout) as ImportModule.ImportSummary;
    expect(summary.files.map((f) => f.outcome)).toEqual(['already_imported', 'imported']);
    expect(summarize(dir).derived.length).toBe(reference.derived.length);
  }, HEAVY_TEST_MS);
});
