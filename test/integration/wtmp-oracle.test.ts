/**
 * Oracle: custody's utmp reader against `utmpdump` (Debian package util-linux) on plaso's real
 * utmp samples. utmpdump reads the layout of the machine it runs on (x86_64 here, 384-byte
 * records), so the x86_64 files are compared field by field; the aarch64 file, read by both as
 * x86_64, is compared on the fields that do not depend on string decoding.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseUtmp, type UtmpEntry } from '../../src/parsers/wtmp.js';

const UTMP = fileURLToPath(new URL('../fixtures/plaso/test_data/utmp/', import.meta.url));

function find(cmd: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const p = `${dir}/${cmd}`;
    if (spawnSync(p, ['--version'], { encoding: 'utf8' }).error === undefined) return p;
  }
  return undefined;
}
const UTMPDUMP = find('utmpdump');
const X86 = process.arch === 'x64';
if (UTMPDUMP === undefined) console.warn('wtmp-oracle: skipped — `utmpdump` is not installed (Debian package: util-linux)');
else if (!X86) console.warn('wtmp-oracle: skipped — utmpdump reads the host layout and this host is not x86_64');

interface DumpRow {
  type: number;
  pid: number;
  id: string;
  user: string;
  line: string;
  host: string;
  addr: string;
  time: string;
}

function utmpdump(file: string): DumpRow[] {
  const r = spawnSync(UTMPDUMP!, [file], { encoding: 'latin1', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('['))
    .map((l) => {
      const m = /^\[(-?\d+)\] \[(-?\d+)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\]$/.exec(l);
      if (m === null) throw new Error(`unexpected utmpdump line: ${l}`);
      return {
        type: Number(m[1]),
        pid: Number(m[2]),
        id: m[3]!.trimEnd(),
        user: m[4]!.trimEnd(),
        line: m[5]!.trimEnd(),
        host: m[6]!.trimEnd(),
        addr: m[7]!.trimEnd(),
        time: m[8]!,
      };
    });
}

/** Our entry printed the way utmpdump prints it. */
function asDump(e: UtmpEntry): DumpRow {
  const iso = new Date(e.tvSec * 1000).toISOString().slice(0, 19);
  return {
    type: e.type,
    pid: e.pid,
    id: e.id,
    user: e.user,
    line: e.line,
    host: e.host,
    addr: e.addr === '' ? '0.0.0.0' : e.addr,
    time: `${iso},${String(e.tvUsec).padStart(6, '0')}+00:00`,
  };
}

describe.skipIf(UTMPDUMP === undefined || !X86)('wtmp entries = utmpdump', () => {
  for (const [file, count] of [
    ['utmp', 14],
    ['utmp_x86_64', 6],
    ['utmp_corrupted', 4],
  ] as const) {
    it(`${file}: ${count} entries, every field equal`, () => {
      const ours = parseUtmp(new Uint8Array(readFileSync(UTMP + file)), { source: 'wtmp', derivedFrom: [1] });
      expect(ours.layout).toBe('x86_64');
      const theirs = utmpdump(UTMP + file);
      expect(theirs).toHaveLength(count);
      expect(ours.entries.map(asDump)).toEqual(theirs);
    });
  }

  it('utmp_aarch64 read as x86_64 by both: same types, pids, addresses and raw times', () => {
    const ours = parseUtmp(new Uint8Array(readFileSync(UTMP + 'utmp_aarch64')), { source: 'wtmp', derivedFrom: [1], layout: 'x86_64' });
    const theirs = utmpdump(UTMP + 'utmp_aarch64');
    expect(theirs).toHaveLength(6);
    const pick = (r: DumpRow): string => `${r.type} ${r.pid} ${r.addr} ${r.time}`;
    expect(ours.entries.map((e) => pick(asDump(e)))).toEqual(theirs.map(pick));
  });
});
