/**
 * `custody collect` when the bundle's disk fills up while the timeline is written. A full disk is
 * made real with the shell's file-size limit: a write past it fails with EFBIG (SIGXFSZ ignored, as
 * the shell passes it on). The collect must fail with a message naming the file, exit 2, and leave
 * no bundle behind that could be taken for a complete one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { CLI } from '../helpers/cli.js';

let work: string;
let store: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-collect-full-'));
  store = join(work, 'web-01');
  const { store: s } = EvidenceStore.create(store, { host: 'web-01', bootId: 'b' });
  for (let i = 0; i < 6000; i++) {
    const text = `Nov 23 00:00:00 web-01 sshd[${1000 + i}]: Accepted publickey for alice from 10.0.0.${i % 250} port ${40000 + i} ssh2: ED25519 SHA256:q3JzX0l8mA7dWnq9vC1bV4k0`;
    s.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '1', ino: '2', offset: i * 200, line_no: i + 1, length: Buffer.byteLength(text), text });
  }
  s.close({ finalCheckpoint: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('collect on a disk that fills up', () => {
  it('fails naming the file it could not write, exit 2, and leaves no bundle', () => {
    // Room for the store's snapshot, not for the timeline as well (it is larger than the store).
    const limitKib = Math.ceil((statSync(join(store, EVIDENCE_FILE)).size * 1.15) / 1024);
    const out = join(work, 'IR-FULL');
    const r = spawnSync('/bin/bash', ['-c', `trap '' XFSZ; ulimit -f ${limitKib}; exec "$0" "$@"`, process.execPath, CLI, 'collect', '--case', 'IR-FULL', '--store', store, '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/custody: cannot write .*timeline\/timeline\.(jsonl|csv): EFBIG: file too large.*\[E_IO\]/);
    expect(readdirSync(work).sort()).toEqual(['web-01']); // neither the bundle nor its partial folder
  });
});
