/**
 * Attack: script in the HTML report. Whoever writes the evidence (root on a host, a USB device
 * naming itself, anyone who handled the bundle) chooses strings the report shows. Two bundles, both
 * made by the real import and collector through the built CLI:
 *
 * - VALID with hostile evidence: the logs themselves carry markup (a USB device whose serial and
 *   product are HTML, a failed ssh logon for a user named with a script, an audited file whose name
 *   closes an attribute and opens an <img>). Nothing is forged, so the bundle verifies; the values
 *   reach tables, `title` attributes, `data-*` attributes and SVG text, and must stay text.
 * - INVALID, edited after sealing: timeline lines with markup in `record_sha256` and `seq`, a host
 *   the manifest does not list, an `</script>` in a message; the manifest's host renamed to markup
 *   (and the rows with it), which reaches the SVG's lane text, `data-host`, ids and link fragments. The lines that break their schema are
 *   left out and named by line; the page says INVALID before anything else.
 *
 * Each page then runs in a real headless Chromium (test/helpers/chromium.ts) with a probe script
 * (allowed by its hash, like the page's own): no payload ran (each sets `window.__pwned` before it
 * would open a dialog, so an unset flag also means no alert opened), no request left the page (each
 * payload names an http URL), the verdict is the first element and says INVALID. A positive
 * control undoes the escaping of the payloads and removes the CSP: then the probe does see
 * `__pwned` and the requests, so the checks can fail; with the escaping undone but the CSP kept,
 * nothing runs either (the CSP is the second guard).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalText } from '../../src/records/canonical.js';
import { esc } from '../../src/report/html.js';
import { chromium, haveChromium, pageRequests, probeResult, withProbe } from '../helpers/chromium.js';
import { custody } from '../helpers/cli.js';
import { STORY, writeStoryLogs } from '../helpers/report-story.js';

// Each payload sets window.__pwned to its own name before anything else, and loads a URL of its own.
const P = {
  serial: `<img src="http://127.0.0.1:9/serial.png" onerror="window.__pwned='serial';alert(1)">`,
  product: `<svg onload="window.__pwned='product';alert(1)"><image href="http://127.0.0.1:9/product.png"/></svg>`,
  user: `"><script>window.__pwned='user';alert(1)</script><img src="http://127.0.0.1:9/user.png">`,
  // (a path is normalised: no `//` in it, so no URL either)
  path: `x" onmouseover="window.__pwned='path'"><img src=x onerror="window.__pwned='path';alert(1)">.csv`,
  sha: `<script>window.__pwned='sha';alert(1)</script>`,
  seq: `1<img src="http://127.0.0.1:9/seq.png" onerror="window.__pwned='seq'">`,
  host: `ws-0147<img src="http://127.0.0.1:9/host.png" onerror="window.__pwned='host'">`,
  // The manifest's host, renamed after sealing (and every timeline row with it): lane text and data-host in the SVG, ids, link fragments, titles.
  manifestHost: `ws-0147"><svg onload="window.__pwned='manifest-host'"><image href="http://127.0.0.1:9/manifest-host.png"/></svg>`,
  message: `</script><script>window.__pwned='message';document.getElementById('verdict').textContent='VALID'</script><img src="http://127.0.0.1:9/message.png">`,
} as const;

let work: string;
let validReport: string;
let invalidReport: string;

/** The story's logs with the payloads written into them, as the host's logs would hold them. */
function hostileLogs(dir: string): string[] {
  const logs = writeStoryLogs(dir);
  for (const path of logs) {
    let text = readFileSync(path, 'utf8');
    if (path.endsWith('kern.log')) text = text.replace(/SerialNumber: 4C530001230527110412/g, `SerialNumber: ${P.serial}`).replace(/Product: Ultra/g, `Product: ${P.product}`);
    if (path.endsWith('auth.log')) text = text.replace(/Failed password for root from/g, `Failed password for invalid user ${P.user} from`);
    // auditd writes a name holding a space or a quote as unquoted hex.
    if (path.endsWith('audit.log')) text = text.replace('name="customers.csv"', `name=${Buffer.from(P.path).toString('hex').toUpperCase()}`);
    writeFileSync(path, text);
  }
  return logs;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-hostile-'));
  const logs = hostileLogs(join(work, 'logs'));
  expect(custody('import', '--store', join(work, 'store'), '--host', STORY.host, ...logs).code).toBe(0);
  const bundle = join(work, 'bundle');
  const col = custody('collect', '--case', 'IR-2026-014', '--store', join(work, 'store'), '--out', bundle);
  expect(col.code, col.stderr).toBe(0);

  validReport = join(work, 'report-valid');
  const r1 = custody('report', bundle, '--sensitive', '/srv/share/customers/**', '--out', validReport);
  expect(r1.code, r1.stderr).toBe(0);

  // The same bundle, edited after sealing.
  const edited = join(work, 'edited');
  cpSync(bundle, edited, { recursive: true });
  const tl = join(edited, 'timeline', 'timeline.jsonl');
  const lines = readFileSync(tl, 'utf8').trimEnd().split('\n');
  const row = (i: number): Record<string, unknown> => JSON.parse(lines[i]!) as Record<string, unknown>;
  const set = (i: number, key: string, value: unknown): void => {
    lines[i] = JSON.stringify({ ...row(i), [key]: value });
  };
  set(0, 'record_sha256', P.sha); // line 1
  set(1, 'seq', P.seq); // line 2
  set(2, 'host', P.host); // line 3: well-formed, but not a host of the manifest
  set(3, 'message', P.message); // line 4: well-formed (a message is free text): used, and shown as text
  for (let i = 3; i < lines.length; i++) set(i, 'host', P.manifestHost);
  writeFileSync(tl, `${lines.join('\n')}\n`);
  const manifestPath = join(edited, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { hosts: Array<{ host: string }> };
  manifest.hosts[0]!.host = P.manifestHost;
  writeFileSync(manifestPath, canonicalText(manifest)); // still canonical JSON, so it parses; its signature no longer holds
  invalidReport = join(work, 'report-invalid');
  const r2 = custody('report', edited, '--out', invalidReport);
  expect(r2.code, r2.stderr).toBe(1);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const PAGES = ['report.html', 'report.ja.html'] as const;

describe('hostile values in the report (built CLI)', () => {
  it('the valid bundle: every payload reaches the page as text, never as markup', () => {
    for (const name of PAGES) {
      const html = readFileSync(join(validReport, name), 'utf8');
      // The payloads did reach the page (so the rest of the test is not vacuous), escaped.
      for (const p of [P.serial, P.product, P.user, P.path]) expect(html, `${name}: ${p}`).toContain(esc(p));
      expect(html.match(/<script/g)).toHaveLength(1);
      // Escaped text may say `onerror=`; markup would need a raw `<` or a raw quote before it.
      for (const tag of ['<img', '<svg onload', '<image', '" onerror=', '" onmouseover=']) expect(html, `${name}: ${tag}`).not.toContain(tag);
      // Title-bound and data-* values (the citation's title holds the hash; the lane's data-host the host).
      expect(html).toMatch(/<g class="lane" data-host="ws-0147">/);
      expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('<h1>'));
      expect(html).toContain(`<title>VALID: `);
    }
    for (const name of ['report.md', 'report.ja.md']) {
      const md = readFileSync(join(validReport, name), 'utf8');
      // Outside code spans, no `<` that a Markdown viewer would take for HTML.
      const outsideCode = md.replace(/(`+)[^`]*?\1/g, '');
      expect(outsideCode, name).not.toMatch(/(^|[^\\])<[a-z/]/i);
      expect(md, name).toContain('\\<img src="http://127.0.0.1:9/serial.png"');
    }
  });

  it('the edited bundle: the broken lines are left out and named, the page says INVALID first, in both languages', () => {
    for (const name of PAGES) {
      const html = readFileSync(join(invalidReport, name), 'utf8');
      const body = html.slice(html.indexOf('<body>') + '<body>'.length).trimStart();
      expect(body.startsWith('<div id="verdict" class="verdict verdict-invalid" role="alert"><p class="bad">')).toBe(true);
      expect(body).toMatch(name === 'report.html' ? /^<div[^>]*><p class="bad">INVALID: / : /^<div[^>]*><p class="bad">検証結果: 異常あり\(INVALID\)/);
      expect(html).toContain('<title>INVALID: ');
      expect(html).toContain('error <code>report.timeline_schema</code> <code>timeline/timeline.jsonl:1</code> not a timeline entry: record_sha256: ');
      expect(html).toContain('error <code>report.timeline_schema</code> <code>timeline/timeline.jsonl:2</code> not a timeline entry: seq: ');
      expect(html).toContain('error <code>report.timeline_unknown_host</code> <code>timeline/timeline.jsonl:3</code> host ');
      expect(html).not.toContain('<code>timeline/timeline.jsonl:4</code>');
      expect(html).toContain(esc(P.message));
      expect(html).toContain(`<g class="lane" data-host="${esc(P.manifestHost)}">`);
      expect(html).toContain(`<tr id="ev-${esc(P.manifestHost)}-`);
      for (const tag of ['<svg onload', '<image']) expect(html, `${name}: ${tag}`).not.toContain(tag);
      expect(html.match(/<script/g)).toHaveLength(1);
      for (const tag of ['<img', '" onerror=', '<script>window']) expect(html, `${name}: ${tag}`).not.toContain(tag);
    }
    expect(readFileSync(join(invalidReport, 'report.md'), 'utf8').split('\n')[0]).toMatch(/^\*\*INVALID: /);
    expect(readFileSync(join(invalidReport, 'report.ja.md'), 'utf8').split('\n')[0]).toMatch(/^\*\*検証結果: 異常あり\(INVALID\)/);
    // Pinned nothing: the report names what it took on the bundle's word.
    expect(readFileSync(join(invalidReport, 'report.md'), 'utf8')).toContain("is the collector's claim");
  });
});

// First in <head>: a dialog would block headless Chromium, so the page's dialogs only count themselves.
const DIALOGS = `window.alert=window.confirm=window.prompt=function(){window.__dialogs=(window.__dialogs||0)+1};`;

// Run at the load event, after every image has loaded or failed (so an onerror payload has had its chance).
const PROBE = `window.addEventListener('load',function(){
  var first=document.body.firstElementChild;
  document.body.setAttribute('data-probe',JSON.stringify({pwned:window.__pwned===undefined?null:String(window.__pwned),dialogs:window.__dialogs||0,first:first?first.id:null,verdict:first?first.textContent.slice(0,40):null,title:document.title.slice(0,12)}));
});`;

interface Probe {
  pwned: string | null;
  dialogs: number;
  first: string | null;
  verdict: string | null;
  title: string;
}

describe.skipIf(!haveChromium && !process.env['CI'])('hostile values in real Chromium', () => {
  it('no payload runs, no request leaves the page, the verdict is first: valid and edited bundles, both languages', () => {
    for (const [dir, verdict] of [
      [validReport, 'VALID'],
      [invalidReport, 'INVALID'],
    ] as const) {
      for (const name of PAGES) {
        const page = join(work, `probe-${verdict}-${name}`);
        writeFileSync(page, withProbe(readFileSync(join(dir, name), 'utf8'), PROBE, DIALOGS));
        const { stdout, netLog } = chromium(work, page, ['--dump-dom']);
        const probe = probeResult<Probe>(stdout);
        expect(probe.pwned, `${verdict} ${name}`).toBeNull();
        expect(probe.dialogs).toBe(0);
        expect(probe.first).toBe('verdict');
        expect(probe.title.startsWith(`${verdict}:`)).toBe(true);
        expect(probe.verdict).toContain(verdict);
        expect(pageRequests(netLog), `${verdict} ${name}`).toEqual([]);
      }
    }
  });

  it('positive control: with the escaping undone the payloads are markup; the CSP alone still stops them, and without it they run and load', () => {
    const html = readFileSync(join(validReport, 'report.html'), 'utf8');
    let raw = html;
    for (const p of [P.serial, P.user, P.path]) raw = raw.split(esc(p)).join(p);
    expect(raw).not.toBe(html);

    const cspKept = join(work, 'unescaped-csp.html');
    writeFileSync(cspKept, withProbe(raw, PROBE, DIALOGS));
    const kept = chromium(work, cspKept, ['--dump-dom']);
    expect(probeResult<Probe>(kept.stdout)).toMatchObject({ pwned: null, dialogs: 0 });
    expect(pageRequests(kept.netLog)).toEqual([]);

    const noCsp = join(work, 'unescaped-no-csp.html');
    writeFileSync(noCsp, withProbe(raw, PROBE, DIALOGS).replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, ''));
    const open = chromium(work, noCsp, ['--dump-dom']);
    const ran = probeResult<Probe>(open.stdout);
    expect(ran.pwned).not.toBeNull();
    expect(ran.dialogs).toBeGreaterThan(0);
    expect(pageRequests(open.netLog).length).toBeGreaterThan(0);
  });
});
