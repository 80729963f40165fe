/**
 * End-to-end: the built CLI (`node dist/src/cli.js`) for `keys init` and `verify` on a store,
 * with the exit codes scripts rely on: 0 valid, 1 integrity failure, 2 usage or I/O error.
 */
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { CLI, custody } from '../helpers/cli.js';

let work: string;


beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('custody keys init + verify (built CLI)', () => {
  let store: string;
  let fingerprint: string;

  it('keys init creates a store and prints the enrollment fingerprint', () => {
    store = join(work, 'store');
    const r = custody('keys', 'init', '--store', store, '--host', 'web-01');
    expect(r.code).toBe(0);
    const m = /enrollment key fingerprint: (SHA256:\S+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    fingerprint = m![1]!;
    expect(custody('keys', 'init', '--store', store).code).toBe(2); // refuses to overwrite
  });

  it('verify exits 0 on a valid store and reports what is sealed', () => {
    const s = EvidenceStore.open(store);
    for (let i = 0; i < 50; i++) s.append('agent.heartbeat', 'test', { uptime_ms: i });
    s.close({ finalCheckpoint: true });
    const r = custody('verify', store, '--key', fingerprint);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/result: +VALID/);
    expect(r.stdout).toMatch(/sealed: +seq 0\.\.49 by checkpoint/);
    expect(r.stdout).toMatch(/pinned by the verifier/);
    const json = JSON.parse(custody('verify', store, '--json').stdout) as { ok: boolean; records: number };
    expect(json).toMatchObject({ ok: true, records: 50 });
  });

  it('verify exits 1 and names the finding when the store was tampered with', () => {
    const copy = join(work, 'tampered');
    cpSync(store, copy, { recursive: true });
    const db = new Database(join(copy, EVIDENCE_FILE));
    db.exec('DROP TRIGGER records_no_delete');
    db.exec('DELETE FROM records WHERE seq = 7');
    db.close();
    const r = custody('verify', copy, '--key', fingerprint);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ERROR record\.seq_gap at seq 7\.\.7/);
    expect(custody('verify', store, '--key', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').code).toBe(1);
  });

  it('verify exits 2 on usage and I/O errors, with a clear message', () => {
    const missing = custody('verify', join(work, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/not a folder.*nope.*E_STORE_NOT_FOUND/);
    expect(custody('verify', store, '--key', join(work, 'no-such-key.pub')).code).toBe(2);
    expect(custody('verify').code).toBe(2);
    expect(custody('frobnicate').code).toBe(2);
    expect(custody('--help').code).toBe(0);
  });
});
