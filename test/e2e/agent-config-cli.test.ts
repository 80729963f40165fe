/**
 * `custody agent check-config` on hostile paths, through the built CLI (`npx tsc -p tsconfig.json`
 * first): a device, a FIFO nobody writes to, an alias bomb. Each must end at once with exit 2 and
 * E_CONFIG_INVALID, not an abort, a hang or "unexpected error" (issue 11, item 9).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { custody } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'custody-config-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('custody agent check-config refuses what is not a sane configuration file', () => {
  it('/dev/zero: exit 2, E_CONFIG_INVALID, no abort', () => {
    const r = custody('agent', 'check-config', '/dev/zero');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('custody: the agent configuration is a character device: only a regular file is read (/dev/zero) [E_CONFIG_INVALID]\n');
  });

  it('a FIFO with no writer: exit 2 at once instead of waiting for one', () => {
    const fifo = join(dir, 'agent.yaml');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = custody('agent', 'check-config', fifo);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`custody: the agent configuration is a FIFO (named pipe): only a regular file is read (${fifo}) [E_CONFIG_INVALID]\n`);
  });

  it('a YAML alias bomb: exit 2 with the line of the alias, not "unexpected error"', () => {
    const levels = 'abcdefghi'.split('');
    const lines = levels.map((name, i) => (i === 0 ? `${name}: &${name} [${Array(9).fill('lol').join(', ')}]` : `${name}: &${name} [${Array(9).fill(`*${levels[i - 1]}`).join(', ')}]`));
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(bomb, `${lines.join('\n')}\n`);
    const r = custody('agent', 'check-config', bomb);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.stderr).toBe(`custody: the agent configuration ${bomb} is invalid:\n  line 5: alias *d expands the configuration beyond 10000 values (an alias bomb?) [E_CONFIG_INVALID]\n`);
  });
});
