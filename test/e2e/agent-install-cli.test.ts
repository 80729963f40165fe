/**
 * `custody agent install` through the built CLI (`npx tsc -p tsconfig.json` first): `--user root`
 * is refused without `--allow-root`, and the unit's documentation is a file that exists (issue 11,
 * item 10). `--print` only, so nothing is installed on the machine running the tests.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { custody } from '../helpers/cli.js';

describe('custody agent install', () => {
  it('refuses --user root with exit 2 and E_USAGE, and prints nothing', () => {
    const r = custody('agent', 'install', '--systemd', '--print', '--user', 'root', '--store', '/var/lib/custody-e2e');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^custody: the service user root is a superuser \(uid 0\).*Pass --allow-root to run it as root anyway \[E_USAGE\]\n$/);
  });

  it('runs as root with --allow-root', () => {
    const r = custody('agent', 'install', '--systemd', '--print', '--user', 'root', '--allow-root', '--store', '/var/lib/custody-e2e');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\nUser=root\n');
  });

  it("names as documentation the README installed beside the CLI, which exists", () => {
    const r = custody('agent', 'install', '--systemd', '--print', '--store', '/var/lib/custody-e2e');
    expect(r.code).toBe(0);
    const docs = [...r.stdout.matchAll(/^Documentation=file:\/\/(.+)$/gm)].map((m) => m[1] as string);
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatch(/\/README\.md$/);
    expect(existsSync(docs[0] as string)).toBe(true);
    expect(r.stdout).not.toContain('docs/agent-service.md');
  });
});
