/**
 * The benchmark and demo scripts are plain JavaScript that no other test runs; a typo in one is
 * otherwise found only by whoever next runs it. `node --check` parses each without running it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPTS = resolve(__dirname, '../../scripts');
const files = [
  ...readdirSync(SCRIPTS).filter((f) => f.endsWith('.mjs')).map((f) => join(SCRIPTS, f)),
  ...readdirSync(join(SCRIPTS, 'bench')).filter((f) => f.endsWith('.mjs')).map((f) => join(SCRIPTS, 'bench', f)),
  ...readdirSync(join(SCRIPTS, 'vault')).filter((f) => f.endsWith('.mjs')).map((f) => join(SCRIPTS, 'vault', f)),
];

describe('scripts/', () => {
  it('has scripts to check', () => {
    expect(files.length).toBeGreaterThan(5);
  });
  it.each(files)('%s parses', (file) => {
    expect(() => execFileSync(process.execPath, ['--check', file], { stdio: 'pipe' })).not.toThrow();
  });
});
