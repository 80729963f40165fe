/**
 * End-to-end: the story's report.html (made by the built CLI) in a real headless Chromium (Debian's
 * `chromium` package). Checks, with Chromium's own tools and no browser library:
 * - the timeline and the tables are laid out (a probe script in a copy of the page measures the SVG
 *   and its bars with getBoundingClientRect and clicks a table header; the result is read with
 *   --dump-dom);
 * - no request leaves the page: Chromium's net log (--log-net-log) has no request made on behalf
 *   of the page (initiator other than "not an origin", which is the browser's own traffic, e.g. its
 *   updater). A positive control (a copy with an <img> and a stylesheet on the network, and the
 *   CSP removed) shows that such requests do appear in the net log;
 * - a screenshot is saved under the test's output folder (tmp/test-output/report-chromium/, or
 *   $CUSTODY_TEST_OUTPUT/report-chromium/).
 * Skipped without /usr/bin/chromium outside CI; in CI (.ci/run installs it) it must be there.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium as runChromium, haveChromium, pageRequests, probeResult, withProbe } from '../helpers/chromium.js';
import { STORY, writeStoryLogs } from '../helpers/report-story.js';
import { custody } from '../helpers/cli.js';

const OUTPUT = join(process.env['CUSTODY_TEST_OUTPUT'] ?? join(__dirname, '..', '..', 'tmp', 'test-output'), 'report-chromium');

let work: string;
let reportDir: string;

const chromium = (file: string, extra: string[]): ReturnType<typeof runChromium> => runChromium(work, file, extra);

const PROBE = `
(function(){
  var r={};
  var svg=document.getElementById('timeline');var b=svg.getBoundingClientRect();r.svg=[Math.round(b.width),Math.round(b.height)];
  function laidOut(sel){return Array.prototype.filter.call(document.querySelectorAll(sel),function(e){var x=e.getBoundingClientRect();return x.width>0&&x.height>0}).length}
  r.hours=laidOut('#timeline rect.hour');r.usb=laidOut('#timeline rect.usb');r.findings=laidOut('#timeline path.finding');
  r.tables={};document.querySelectorAll('table.sortable').forEach(function(t){var x=t.getBoundingClientRect();r.tables[t.id]=[t.tBodies[0].rows.length,x.width>0&&x.height>0]});
  var t=document.getElementById('excerpt');var th=t.tHead.rows[0].cells[0];
  var col=function(){return Array.prototype.map.call(t.tBodies[0].rows,function(row){return row.cells[0].getAttribute('data-sort')})};
  r.before=col();th.click();r.asc=col();th.click();r.desc=col();r.sortState=th.getAttribute('aria-sort');
  document.body.setAttribute('data-probe',JSON.stringify(r));
})();
`;

beforeAll(() => {
  if (!haveChromium) return;
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-chromium-'));
  const logs = writeStoryLogs(join(work, 'logs'));
  expect(custody('import', '--store', join(work, 'store'), '--host', STORY.host, ...logs).code).toBe(0);
  const bundle = join(work, 'IR-2026-014');
  expect(custody('collect', '--case', 'IR-2026-014', '--store', join(work, 'store'), '--out', bundle).code).toBe(0);
  reportDir = join(work, 'report');
  const r = custody('report', bundle, '--discovered-at', '2026-11-21T10:30:00+09:00', '--sensitive', '/srv/share/customers/**', '--working-hours', '09-18', '--out', reportDir);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!haveChromium && !process.env['CI'])('report.html in headless Chromium', () => {
  it('lays out the timeline and the tables, and the tables sort', () => {
    for (const name of ['report.html', 'report.ja.html']) {
      const html = readFileSync(join(reportDir, name), 'utf8');
      const probePath = join(work, `probe-${name}`);
      writeFileSync(probePath, withProbe(html, PROBE));
      const { stdout, netLog } = chromium(probePath, ['--window-size=1280,2000', '--dump-dom']);
      const probe = probeResult<{
        svg: [number, number];
        hours: number;
        usb: number;
        findings: number;
        tables: Record<string, [number, boolean]>;
        before: string[];
        asc: string[];
        desc: string[];
        sortState: string;
      }>(stdout);
      expect(probe.svg[0]).toBeGreaterThan(500);
      expect(probe.svg[1]).toBeGreaterThan(50);
      expect(probe.hours).toBeGreaterThan(0);
      expect(probe.usb).toBe(2); // the SanDisk session and the receiver
      expect(probe.findings).toBe(5);
      for (const id of ['excerpt', 'usb', 'files', 'logon-table', 'evidence-index']) expect(probe.tables[id]?.[1], id).toBe(true);
      expect(probe.tables['usb']?.[0]).toBe(2);
      expect(probe.tables['files']?.[0]).toBe(2);
      expect(probe.asc).toEqual([...probe.before].sort());
      expect(probe.desc).toEqual([...probe.before].sort().reverse());
      expect(probe.sortState).toBe('descending');
      expect(pageRequests(netLog)).toEqual([]);
    }
  });

  it('makes no request from the page (and the check sees one when there is one); saves a screenshot', () => {
    mkdirSync(OUTPUT, { recursive: true });
    for (const [name, shot] of [
      ['report.html', 'report-en.png'],
      ['report.ja.html', 'report-ja.png'],
    ] as const) {
      const png = join(OUTPUT, shot);
      rmSync(png, { force: true });
      const { netLog } = chromium(join(reportDir, name), ['--window-size=1280,2400', '--hide-scrollbars', `--screenshot=${png}`]);
      expect(pageRequests(netLog)).toEqual([]);
      const bytes = readFileSync(png);
      expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect(statSync(png).size).toBeGreaterThan(20_000);
    }
    // Positive control: the same page with network resources (and no CSP) is caught.
    const leaky = join(work, 'leaky.html');
    writeFileSync(
      leaky,
      readFileSync(join(reportDir, 'report.html'), 'utf8')
        .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '')
        .replace('<body>', '<body><img src="http://127.0.0.1:9/leak.png"><link rel="stylesheet" href="http://127.0.0.1:9/leak.css">'),
    );
    const { netLog } = chromium(leaky, ['--dump-dom']);
    expect(pageRequests(netLog).sort()).toEqual(['http://127.0.0.1:9/leak.css', 'http://127.0.0.1:9/leak.png']);
  });
});
