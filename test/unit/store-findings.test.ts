/**
 * The README's tables of finding codes and the closed tables in src/verify say the same thing:
 * every code in one is in the other, with the same severity and meaning. Store codes against
 * src/verify/store-findings.ts, a bundle's own codes against src/verify/bundle-findings.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE_FINDING_CODES, BUNDLE_OWN_FINDINGS, bundleSeverityOf } from '../../src/verify/bundle-findings.js';
import { STORE_FINDING_CODES, STORE_FINDINGS } from '../../src/verify/store-findings.js';

function readmeTable(marker = '<!-- store finding codes:'): Map<string, { severity: string; meaning: string }> {
  const lines = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(marker));
  expect(start, `the README marks its table: ${marker}`).toBeGreaterThanOrEqual(0);
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

describe('bundle finding codes', () => {
  it("the README table lists exactly a bundle's own codes, with their severity and meaning", () => {
    const table = readmeTable('<!-- bundle finding codes:');
    const own = Object.keys(BUNDLE_OWN_FINDINGS) as (keyof typeof BUNDLE_OWN_FINDINGS)[];
    expect([...table.keys()].sort()).toEqual([...own].sort());
    for (const code of own) expect(table.get(code), code).toEqual({ severity: BUNDLE_OWN_FINDINGS[code].severity, meaning: BUNDLE_OWN_FINDINGS[code].meaning });
  });

  it('every store code is a bundle code under store., with the store severity, and no own code starts with store.', () => {
    for (const code of STORE_FINDING_CODES) {
      expect(BUNDLE_FINDING_CODES).toContain(`store.${code}`);
      expect(bundleSeverityOf(`store.${code}`)).toBe(STORE_FINDINGS[code].severity);
    }
    expect(Object.keys(BUNDLE_OWN_FINDINGS).filter((c) => c.startsWith('store.'))).toEqual([]);
  });
});
