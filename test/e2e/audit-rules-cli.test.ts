/**
 * End-to-end: `custody agent audit-rules` through the built CLI: the auditd rules for one or more
 * paths on stdout (exit 0), and exit 2 with the reason for a path or option auditd cannot take.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, custody } from '../helpers/cli.js';

let work: string;


beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-rules-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('custody agent audit-rules (built CLI)', () => {
  it('watch rules for each path, with the default or a given key', () => {
    const r = custody('agent', 'audit-rules', '--path', '/srv/customer-data', '--path', '/srv/with space');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('-w'))).toEqual([
      '-w /srv/customer-data -p rwxa -k custody-file-access',
      '-w "/srv/with space" -p rwxa -k custody-file-access',
    ]);
    const k = custody('agent', 'audit-rules', '--path', '/etc/shadow', '--key', 'shadow');
    expect(k.code).toBe(0);
    expect(k.stdout).toContain('-w /etc/shadow -p rwxa -k shadow\n');
  });

  it('syscall style: dir= for a folder that exists here, path= with --kind file', () => {
    const d = custody('agent', 'audit-rules', '--path', work, '--style', 'syscall', '--machine', 'x86_64');
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`-a always,exit -F arch=b64 -S open,openat,`);
    expect(d.stdout).toContain(`-F dir=${work} -F key=custody-file-access`);
    expect(d.stdout).toContain('-F arch=b32');
    const f = custody('agent', 'audit-rules', '--path', '/nonexistent/file', '--style', 'syscall', '--kind', 'file', '--machine', 'aarch64');
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('-F path=/nonexistent/file');
    expect(f.stdout).not.toContain('arch=b32');
    expect(f.stdout).not.toMatch(/-S open,/); // aarch64 has no open(2)
  });

  it('exit 2 with the reason: relative path, bad key, bad style, unknown kind of a missing path, no --path', () => {
    const rel = custody('agent', 'audit-rules', '--path', 'srv/data');
    expect(rel.code).toBe(2);
    expect(rel.stderr).toContain('absolute path');
    const key = custody('agent', 'audit-rules', '--path', '/srv', '--key', 'has space');
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('audit key');
    expect(custody('agent', 'audit-rules', '--path', '/srv', '--style', 'fancy').code).toBe(2);
    const missing = custody('agent', 'audit-rules', '--path', '/nonexistent/x', '--style', 'syscall');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--kind');
    expect(custody('agent', 'audit-rules').code).toBe(2);
  });
});
