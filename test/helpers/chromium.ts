/**
 * Headless Chromium (Debian's `chromium` package) driven with its own flags and no browser library,
 * for the report tests: run a page, read its DOM after scripts (--dump-dom) and the net log
 * (--log-net-log) of every request made on behalf of the page.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';

export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

export interface NetLog {
  constants: { logEventTypes: Record<string, number> };
  events: Array<{ type: number; params?: { url?: string; initiator?: string } }>;
}

let runs = 0;
/** Runs headless Chromium on a file with the flags that keep it quiet; returns stdout and the net log. `work` holds the profiles and logs. */
export function chromium(work: string, file: string, extra: string[]): { stdout: string; netLog: NetLog } {
  const n = ++runs;
  const netLogPath = join(work, `net-${n}.json`);
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    `--user-data-dir=${join(work, `profile-${n}`)}`,
    `--log-net-log=${netLogPath}`,
    ...extra,
    pathToFileURL(file).href,
  ];
  // The timeout only keeps a hung browser from hanging the run; nothing is measured.
  const r = spawnSync(CHROMIUM, args, { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 });
  expect(r.error, String(r.error)).toBeUndefined();
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  return { stdout: r.stdout, netLog: JSON.parse(readFileSync(netLogPath, 'utf8')) as NetLog };
}

/** URLs Chromium requested on behalf of a page (the browser's own requests have initiator "not an origin"). */
export function pageRequests(log: NetLog): string[] {
  const start = log.constants.logEventTypes['URL_REQUEST_START_JOB'];
  return log.events.filter((e) => e.type === start && e.params?.url !== undefined && e.params.initiator !== 'not an origin').map((e) => e.params?.url as string);
}

/**
 * A copy of a report page with a probe script added before </body> (and optionally a script first
 * in <head>), their hashes added to the page's script-src (the page allows only its own script by
 * hash; the rest of the policy stays).
 */
export function withProbe(html: string, probeJs: string, headJs?: string): string {
  const hash = (js: string): string => `'sha256-${createHash('sha256').update(js, 'utf8').digest('base64')}'`;
  const hashes = [probeJs, ...(headJs !== undefined ? [headJs] : [])].map(hash).join(' ');
  const withCsp = html.replace(/(<meta http-equiv="Content-Security-Policy" content="[^"]*script-src )/, `$1${hashes} `);
  expect(withCsp, 'the page has a CSP with script-src').not.toBe(html);
  const withHead = headJs !== undefined ? withCsp.replace('<meta charset="utf-8">', `<meta charset="utf-8"><script>${headJs}</script>`) : withCsp;
  return withHead.replace('</body>', `<script>${probeJs}</script>\n</body>`);
}

/** The JSON a probe left in `data-probe` on <body>, from --dump-dom output. */
export function probeResult<T>(stdout: string): T {
  const m = /data-probe="([^"]*)"/.exec(stdout);
  expect(m, 'the probe ran').not.toBeNull();
  return JSON.parse(m![1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as T;
}
