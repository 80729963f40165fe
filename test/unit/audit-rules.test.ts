/**
 * `custody agent audit-rules`: the rules it prints are checked against the rule syntax of
 * go-libaudit's real rules test data (a small grammar that every -w / -a line of those files must
 * pass first), and their syscall names against the syscall tables. auditctl is deliberately not
 * run: it has no parse-only mode, and loading rules into the kernel of the machine running the
 * tests is not something a test may do.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isCustodyError } from '../../src/errors.js';
import { auditRulesForPath, DEFAULT_AUDIT_KEY, FILE_ACCESS_SYSCALLS, ruleQuotePath } from '../../src/parsers/audit-rules.js';
import { SYSCALLS_AARCH64, SYSCALLS_I386, SYSCALLS_X86_64 } from '../../src/parsers/syscalls.js';

const RULES = fileURLToPath(new URL('../fixtures/go-libaudit/rule/testdata/', import.meta.url));

/** Splits a rule line into words; "double" and 'single' quoted words may hold spaces. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/** The -w / -a rule grammar as the test data uses it; returns a problem, or undefined when the line is fine. */
function checkRule(line: string, machine: 'x86_64' | 'aarch64' = 'x86_64'): string | undefined {
  const w = words(line);
  if (w[0] === '-w') {
    if (w.length < 2 || !w[1]!.startsWith('/')) return 'watch needs an absolute path';
    for (let i = 2; i < w.length; i += 2) {
      const [opt, val] = [w[i], w[i + 1]];
      if (opt === '-p' && /^[rwxa]+$/.test(val ?? '')) continue;
      if (opt === '-k' && /^\S{1,31}$/.test(val ?? '')) continue;
      return `bad watch option ${opt} ${val}`;
    }
    return undefined;
  }
  if (w[0] === '-a' || w[0] === '-A') {
    if (!/^(always|never),(exit|task|user|exclude|filesystem|io_uring)$|^(exit|task|user|exclude),(always|never)$/.test(w[1] ?? '')) {
      return `bad list,action ${w[1]}`;
    }
    let arch: string | undefined;
    const syscalls: string[] = [];
    for (let i = 2; i < w.length; i++) {
      const opt = w[i];
      const val = w[i + 1];
      if (opt === '-F' && val !== undefined && /^[a-z_0-9]+(=|!=|>=|<=|>|<|&=|&)\S.*$/.test(val)) {
        if (val.startsWith('arch=')) arch = val.slice(5);
        i++;
      } else if (opt === '-S' && val !== undefined && /^[a-z_0-9]+(,[a-z_0-9]+)*$/.test(val)) {
        syscalls.push(...val.split(','));
        i++;
      } else if (opt === '-k' && val !== undefined) {
        i++;
      } else if (opt === '-C' && val !== undefined) {
        i++;
      } else {
        return `bad rule option ${opt} ${val}`;
      }
    }
    if (syscalls.length > 0 && arch !== undefined) {
      const table = arch === 'b64' ? (machine === 'x86_64' ? SYSCALLS_X86_64 : SYSCALLS_AARCH64) : SYSCALLS_I386;
      const known = new Set(table.values());
      const unknown = syscalls.filter((s) => s !== 'all' && !/^\d+$/.test(s) && !known.has(s));
      if (unknown.length > 0) return `syscalls unknown for ${arch}: ${unknown.join(',')}`;
    }
    return undefined;
  }
  return undefined; // control lines (-D, -b, -e, -f, …) are not what custody prints
}

const ruleLines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('the rule grammar used by these tests accepts go-libaudit rule test data', () => {
  for (const file of ['01-file-watch-spaces.rules', '30-stig.rules']) {
    it(file, () => {
      const lines = ruleLines(readFileSync(RULES + file, 'utf8'));
      expect(lines.length).toBeGreaterThan(0);
      const problems = lines.map((l) => [l, checkRule(l)]).filter(([, p]) => p !== undefined);
      expect(problems).toEqual([]);
    });
  }

  it('and rejects what auditctl would', () => {
    expect(checkRule('-w relative/path -p wa')).toBeDefined();
    expect(checkRule('-w /etc -p q')).toBeDefined();
    expect(checkRule('-a always,exit -F arch=b64 -S open -F dir=/x', 'aarch64')).toBeDefined(); // no open on aarch64
  });
});

describe('auditRulesForPath', () => {
  it('default: one arch-independent watch for reads, writes, executions and attribute changes', () => {
    const out = auditRulesForPath('/srv/finance');
    expect(out).toBe(
      '## custody: record reads, writes, executions and attribute changes of /srv/finance\n' +
        `-w /srv/finance -p rwxa -k ${DEFAULT_AUDIT_KEY}\n`,
    );
    for (const l of ruleLines(out)) expect(checkRule(l)).toBeUndefined();
  });

  it('quotes a path with spaces as in 01-file-watch-spaces.rules, and the quoted word is the path', () => {
    const out = auditRulesForPath('/folder with space', { key: 'path-double-quoted' });
    const rule = ruleLines(out)[0]!;
    expect(rule).toBe('-w "/folder with space" -p rwxa -k path-double-quoted');
    expect(words(rule)[1]).toBe('/folder with space');
    const upstream = ruleLines(readFileSync(RULES + '01-file-watch-spaces.rules', 'utf8'))[0]!;
    expect(words(upstream).slice(0, 2)).toEqual(words(rule).slice(0, 2));
  });

  it('refuses what a rules file cannot express: relative paths, quotes, backslashes, control characters, bad keys', () => {
    const refused = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        if (isCustodyError(err)) return err.code;
        throw err;
      }
      return 'accepted';
    };
    expect(refused(() => auditRulesForPath('srv/x'))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath('/srv/"x"'))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath("/srv/it's"))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath('/srv/a\\b'))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath('/srv/a\nb'))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath('/srv/x', { key: 'has space' }))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath('/srv/x', { key: 'k'.repeat(32) }))).toBe('E_USAGE');
    expect(refused(() => auditRulesForPath('/srv/x', { style: 'syscall' }))).toBe('E_USAGE'); // kind needed
    expect(refused(() => auditRulesForPath('/srv/x', { style: 'syscall', kind: 'dir', machine: 'aarch64', arch: ['b32'] }))).toBe('E_USAGE');
    expect(ruleQuotePath('/plain')).toBe('/plain');
  });

  it('syscall style on x86_64: b64 and b32 rules whose syscalls all exist for their ABI', () => {
    const out = auditRulesForPath('/srv/finance', { style: 'syscall', kind: 'dir', key: 'fin' });
    const lines = ruleLines(out);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^-a always,exit -F arch=b64 -S open,openat,openat2,.* -F dir=\/srv\/finance -F key=fin$/);
    expect(lines[1]).toMatch(/^-a always,exit -F arch=b32 -S open,openat,.* -F dir=\/srv\/finance -F key=fin$/);
    for (const l of lines) expect(checkRule(l)).toBeUndefined();
    expect(words(lines[0]!)[5]!.split(',')).toEqual(FILE_ACCESS_SYSCALLS.filter((s) => new Set(SYSCALLS_X86_64.values()).has(s)));
  });

  it('syscall style on aarch64: only the *at syscalls that exist there (no open, unlink, rename…)', () => {
    const out = auditRulesForPath('/srv/report.xlsx', { style: 'syscall', kind: 'file', machine: 'aarch64' });
    const lines = ruleLines(out);
    expect(lines).toHaveLength(1);
    expect(checkRule(lines[0]!, 'aarch64')).toBeUndefined();
    const names = words(lines[0]!)[5]!.split(',');
    expect(names).toContain('openat');
    expect(names).toContain('unlinkat');
    expect(names).toContain('renameat2');
    expect(names).not.toContain('open');
    expect(names).not.toContain('unlink');
    expect(lines[0]).toContain('-F path=/srv/report.xlsx');
  });
});
