/**
 * A bundle with a known story, for the report tests, made by the real code: real sample lines from
 * test/fixtures are written to log files, imported into a store by `importFiles` (the real parsers
 * derive file.access, usb.* and auth.logon records), and the store is collected by `collectCase`.
 *
 * The story, host ws-0147, 2026-11-20 (UTC):
 *   08:50:01–08:50:09  five failed ssh passwords for root from 216.160.83.57 (beats auth fixture line,
 *                      re-dated), then 08:51:30 an accepted password for root from the same address
 *   09:05:11, 09:06:40 uid 1000 opens /srv/share/customers/customers.csv and customers-2026.csv
 *                      (go-libaudit test2.log SYSCALL/CWD/PATH event, re-timed, path and result edited)
 *   09:14:02           SanDisk Ultra serial 4C530001230527110412 attached as sdb (constructed kern-usb.log)
 *   09:15:40           a Logitech receiver (no serial)
 *   09:31:17           the SanDisk disconnected
 *
 * The edits to the fixture lines (time, host name, port, path, result) are the only changes; the
 * formats are exactly the fixtures'. Year-less syslog dates get their year from the file's mtime,
 * which is set to the day after the story.
 */
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectCase, type CollectSummary } from '../../collector/collect.js';
import { importFiles } from '../../collector/import.js';
import type { Clock } from '../../src/clock.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));

export const STORY = {
  host: 'ws-0147',
  serial: '4C530001230527110412',
  attacker: '216.160.83.57',
  files: ['/srv/share/customers/customers-2026.csv', '/srv/share/customers/customers.csv'],
  sensitive: ['/srv/share/customers/**'],
  usbConnect: '2026-11-20T09:14:02.000000Z',
  usbDisconnect: '2026-11-20T09:31:17.000000Z',
  firstRead: '2026-11-20T09:05:11.204000Z',
  success: '2026-11-20T08:51:30.000000Z',
} as const;

function fixtureLine(rel: string, test: (l: string) => boolean): string {
  const line = readFileSync(join(FIX, rel), 'utf8')
    .split('\n')
    .find(test);
  if (line === undefined) throw new Error(`no such line in ${rel}`);
  return line;
}

/** Writes the story's log files into `dir` and returns their paths. */
export function writeStoryLogs(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const failed = fixtureLine('beats/filebeat/module/system/auth/test/test.log', (l) => l.includes('Failed password for root from 216.160.83.57'));
  const accepted = fixtureLine('beats/filebeat/module/system/auth/test/test.log', (l) => l.includes('Accepted password for vagrant from 192.168.33.1'));
  const auth: string[] = [];
  for (let i = 0; i < 5; i++) {
    auth.push(failed.replace('Feb 20 08:35:22 slave22', `Nov 20 08:50:0${2 * i + 1} ws-0147`).replace('port 29160', `port ${29160 + i}`));
  }
  auth.push(accepted.replace('Feb 23 00:13:35 localhost', 'Nov 20 08:51:30 ws-0147').replace('vagrant from 192.168.33.1 port 58803', 'root from 216.160.83.57 port 29170'));

  const test2 = readFileSync(join(FIX, 'go-libaudit/auparse/testdata/test2.log'), 'utf8').split('\n');
  const openEvent = test2.filter((l) => /^type=(SYSCALL|CWD|PATH) msg=audit\(1170021493\.977:293\)/.test(l));
  if (openEvent.length !== 3) throw new Error('test2.log changed');
  const audit: string[] = [];
  const reads: Array<[number, number, string]> = [
    [1795165511.204, 801, 'customers.csv'],
    [1795165600.517, 802, 'customers-2026.csv'],
  ];
  for (const [epoch, serial, name] of reads) {
    for (const l of openEvent) {
      audit.push(
        l
          .replace('1170021493.977:293', `${epoch.toFixed(3)}:${serial}`)
          .replace('success=no exit=-13', 'success=yes exit=3')
          .replace(/auid=4294967295 uid=890 gid=890 euid=890 suid=890 fsuid=890/, 'auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000')
          .replace('cwd="/var/spool/postfix"', 'cwd="/srv/share/customers"')
          .replace('name="maildrop"', `name="${name}"`)
          .replace('mode=040730', 'mode=0100640'),
      );
    }
  }

  const kern = readFileSync(join(FIX, 'constructed/kern-usb.log'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Nov 20 09:'))
    .filter((l) => l < 'Nov 20 09:40');

  const files = { 'auth.log': auth, 'audit.log': audit, 'kern.log': kern };
  const paths: string[] = [];
  const mtime = new Date('2026-11-21T00:00:00Z');
  for (const [name, lines] of Object.entries(files)) {
    const p = join(dir, name);
    writeFileSync(p, `${lines.join('\n')}\n`);
    utimesSync(p, mtime, mtime);
    paths.push(p);
  }
  return paths;
}

/** A clock that starts at `startMs` and advances a millisecond per call (deterministic, never the wall clock). */
export function steppingClock(startMs: number): Clock {
  let t = startMs;
  let mono = 1_000_000n;
  return {
    nowMs: () => (t += 1),
    monoNs: () => (mono += 1_000_000n),
  };
}

/**
 * A rotated, compressed auth log cut short (the first half of its gzip bytes): the import preserves
 * it and records an `agent.gap` for the part that cannot be read.
 */
export function writeTruncatedGzip(dir: string): string {
  const lines = readFileSync(join(FIX, 'beats/filebeat/module/system/auth/test/test.log'), 'utf8');
  const gz = gzipSync(Buffer.from(lines.repeat(50)));
  const p = join(dir, 'auth.log.2.gz');
  writeFileSync(p, gz.subarray(0, Math.floor(gz.length / 2)));
  const mtime = new Date('2026-11-21T00:00:00Z');
  utimesSync(p, mtime, mtime);
  return p;
}

/** Builds the story's store and collects it into `<work>/bundle` (with `gap`: plus a cut-short gzip log). */
export async function buildStoryBundle(work: string, options: { gap?: boolean } = {}): Promise<{ bundle: string; summary: CollectSummary }> {
  const logs = writeStoryLogs(join(work, 'logs'));
  if (options.gap) logs.push(writeTruncatedGzip(join(work, 'logs')));
  const clock = steppingClock(Date.parse('2026-11-23T10:00:00Z'));
  importFiles(join(work, 'store'), logs, { host: STORY.host, clock });
  const bundle = join(work, 'bundle');
  const summary = await collectCase(
    { caseId: 'IR-2026-014', stores: [join(work, 'store')], out: bundle, examiner: 'Jane Doe, ACME IR' },
    { clock, collectorHost: 'ir-laptop', version: 'test', codeSha256: '0'.repeat(64) },
  );
  return { bundle, summary };
}
