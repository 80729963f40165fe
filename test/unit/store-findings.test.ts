/**
 * The README's table of store finding codes and the closed union in src/verify/store-findings.ts
 * say the same thing: every code in one is in the other, with the same severity and meaning.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STORE_FINDING_CODES, STORE_FINDINGS } from '../../src/verify/store-findings.js';

const MARKER = '<!-- store finding codes:';

function readmeTable(): Map<string, { severity: string; meaning: string }> {
  const lines = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(MARKER));
  expect(start, 'the README marks its table of store finding codes').toBeGreaterThanOrEqual(0);
  expect(lines[start + 1]).toBe('| code | severity | meaning |');
  expect(lines[start + 2]).toBe('|---|---|---|');
  const rows = new Map<string, { severity: string; meaning: string }>();
  for (const line of lines.slice(start + 3)) {
    if (!line.startsWith('|')) break;
    const m = /^\| `([^`]+)` \| ([a-z]+) \| (.+) \|$/.exec(line);
    expect(m, `a row of the table: ${line}`).not.toBeNull();
    const [, code, severity, meaning] = m as unknown as [string, string, string, string];
    expect(rows.has(code), `${code} is listed once`).toBe(false);
    rows.set(code, { severity, meaning });
  }
  return rows;
}

describe('store finding codes', () => {
  it('the README table lists exactly the codes of the union, with their severity and meaning', () => {
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual([...STORE_FINDING_CODES].sort());
    for (const code of STORE_FINDING_CODES) {
      expect(table.get(code), code).toEqual({ severity: STORE_FINDINGS[code].severity, meaning: STORE_FINDINGS[code].meaning });
    }
  });

  it('codes are area.name in lower case, so scripts can match them', () => {
    for (const code of STORE_FINDING_CODES) expect(code).toMatch(/^[a-z]+\.[a-z_]+$/);
  });
});
