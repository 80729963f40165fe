/**
 * Oracle: the argv custody rebuilds for `process.exec` against `ausearch -i` (Debian package
 * `auditd`), byte for byte, on every audit log in the fixtures that has EXECVE records.
 *
 * `ausearch -i -if FILE` prints each EXECVE record interpreted: `argc=N a0=… a1_len=… a1[0]=…`,
 * hex arguments decoded to their raw bytes, control characters as `\ooo`, records of one event in
 * an order of its own (chunks of one argument may come in any order). The test reads its output as
 * bytes, joins each argument's chunks by index and compares every argument of every event with
 * custody's (`argv[i]`, or the exact bytes in `extra.argN_b64` when they are not UTF-8). It also
 * checks the count of execve events against `ausearch -i -sc execve` where the file has SYSCALLs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createAuditdParser } from '../../src/parsers/auditd.js';
import { payloadSchemas, type PayloadOf } from '../../src/records/schema.js';
import type { SourceLine } from '../../src/parsers/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function which(cmd: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin', ...(process.env['PATH'] ?? '').split(':')]) {
    const p = join(dir, cmd);
    if (spawnSync(p, ['--version']).error === undefined) return p;
  }
  return undefined;
}
const AUSEARCH = which('ausearch');
if (AUSEARCH === undefined) console.warn('auditd-exec-oracle: skipped — `ausearch` is not installed (Debian package: auditd)');

function ausearchOut(args: string[]): Buffer {
  const r = spawnSync(AUSEARCH!, args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  if (r.status !== 0 && !/no matches/.test(r.stderr.toString())) throw new Error(`ausearch ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** ausearch's `\ooo` escapes back to bytes (the output is read as latin1: one character per byte). */
function unescape(latin1: string): Buffer {
  return Buffer.from(latin1.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1');
}

/** Arguments per event serial, as ausearch interprets them: serial → argc and argument index → bytes. */
function ausearchArgv(file: string): Map<string, { argc?: number; args: Map<number, Buffer> }> {
  const out = new Map<string, { argc?: number; args: Map<number, Buffer> }>();
  const chunks = new Map<string, Map<number, Map<number, Buffer>>>();
  for (const line of ausearchOut(['-i', '-if', file]).toString('latin1').split('\n')) {
    const m = /^type=EXECVE msg=audit\([^)]*:(\d+)\) : (.*)$/.exec(line);
    if (m === null) continue;
    const serial = m[1]!;
    const body = m[2]!.replace(/ $/, '');
    let e = out.get(serial);
    if (e === undefined) out.set(serial, (e = { args: new Map() }));
    const keys = [...body.matchAll(/(?:^| )(argc|a(\d+)(?:\[(\d+)\]|(_len))?)=/g)];
    keys.forEach((k, i) => {
      const value = body.slice(k.index + k[0].length, i + 1 < keys.length ? keys[i + 1]!.index : body.length);
      if (k[1] === 'argc') e.argc = Number(value);
      else if (k[4] !== undefined) return;
      else if (k[3] !== undefined) {
        let byArg = chunks.get(serial);
        if (byArg === undefined) chunks.set(serial, (byArg = new Map()));
        let c = byArg.get(Number(k[2]));
        if (c === undefined) byArg.set(Number(k[2]), (c = new Map()));
        c.set(Number(k[3]), unescape(value));
      } else e.args.set(Number(k[2]), unescape(value));
    });
  }
  for (const [serial, byArg] of chunks) {
    for (const [arg, c] of byArg) {
      const ordered = [...c.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b);
      out.get(serial)!.args.set(arg, Buffer.concat(ordered));
    }
  }
  return out;
}

function custodyExecs(file: string): PayloadOf<'process.exec'>[] {
  const parts = readFileSync(file, 'utf8').split('\n');
  if (parts.at(-1) === '') parts.pop();
  const p = createAuditdParser();
  const execs: PayloadOf<'process.exec'>[] = [];
  const take = (o: ReturnType<typeof p.push>): void => {
    for (const r of o.records) if (r.kind === 'process.exec') execs.push(payloadSchemas['process.exec'].parse(r.payload));
  };
  parts.forEach((text, i) => take(p.push({ seq: i, path: file, text, observedAt: '2026-11-23T00:00:00.000000Z' } satisfies SourceLine)));
  take(p.finish());
  return execs;
}

const argBytes = (r: PayloadOf<'process.exec'>, i: number): Buffer => {
  const b64 = r.extra?.[`arg${i}_b64`];
  return b64 !== undefined ? Buffer.from(b64, 'base64') : Buffer.from(r.argv![i]!, 'utf8');
};

describe.skipIf(AUSEARCH === undefined)('process.exec argv = ausearch -i', () => {
  const logs: Array<[string, { events: number; arguments: number; withSyscall: boolean }]> = [
    ['plaso/test_data/audit_enriched.log', { events: 3, arguments: 6, withSyscall: true }],
    ['hub/.tests/auditd-suid-crash/auditd-suid-crash.log', { events: 2, arguments: 3, withSyscall: true }],
    ['go-libaudit/auparse/testdata/audit-rhel7.log', { events: 4, arguments: 19, withSyscall: false }],
    ['go-libaudit/auparse/testdata/test3.log', { events: 1, arguments: 5, withSyscall: false }],
    ['constructed/audit-execve-argv.log', { events: 3, arguments: 12, withSyscall: true }],
  ];
  for (const [rel, want] of logs) {
    it(`${rel}: every argument of every execve, byte for byte`, () => {
      const file = FIXTURES + rel;
      const theirs = ausearchArgv(file);
      const ours = custodyExecs(file);
      expect(ours).toHaveLength(want.events);
      expect(theirs.size).toBe(want.events);
      let compared = 0;
      for (const r of ours) {
        const serial = r.extra!['audit_id']!.split(':').at(-1)!;
        const t = theirs.get(serial);
        expect(t, `ausearch has event ${serial}`).toBeDefined();
        expect(r.argc).toBe(t!.argc);
        expect(r.argv).toHaveLength(t!.args.size);
        for (const [i, bytes] of t!.args) {
          expect(argBytes(r, i).equals(bytes), `${rel} event ${serial} a${i}: ${JSON.stringify(r.argv![i])} vs ${JSON.stringify(bytes.toString('latin1'))}`).toBe(true);
          compared++;
        }
        expect(r.incomplete === undefined).toBe(want.withSyscall);
      }
      expect(compared).toBe(want.arguments);
      if (want.withSyscall) {
        const events = ausearchOut(['-i', '-if', file, '-sc', 'execve']).toString('latin1').split('\n').filter((l) => l === '----').length;
        const execveat = ausearchOut(['-i', '-if', file, '-sc', 'execveat']).toString('latin1').split('\n').filter((l) => l === '----').length;
        expect(events + execveat).toBe(want.events);
      }
    });
  }
});
