/**
 * What the report reads from a bundle, treated as written by an attacker: every timeline line is
 * checked against the timeline and record schemas and the manifest's hosts before use (a line that
 * fails is named by file and line and left out), every value is escaped for where it is written,
 * the page's script and style are the only ones the CSP allows, and the verdict comes first.
 * On the story bundle made by the real import and collector (test/helpers/report-story.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTimelineRows, writeReport } from '../../collector/report.js';
import { parseManifest, type BundleManifest } from '../../src/bundle/manifest.js';
import { esc, html, Html, joinHtml } from '../../src/report/html.js';
import { buildReportModel, type ReportInput, type ReportModel } from '../../src/report/model.js';
import { CSP, renderHtml } from '../../src/report/render-html.js';
import { mdCode, renderMarkdown } from '../../src/report/render-md.js';
import { isRejected, knownStores, parseTimelineLine, REJECTED_LINE_CODES, type TimelineRow } from '../../src/report/timeline-input.js';
import { buildStoryBundle, steppingClock, STORY } from '../helpers/report-story.js';

let work: string;
let bundle: string;
let manifest: BundleManifest;
let lines: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-report-input-'));
  ({ bundle } = await buildStoryBundle(work));
  manifest = parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json'))));
  lines = readFileSync(join(bundle, 'timeline', 'timeline.jsonl'), 'utf8').trimEnd().split('\n');
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const stores = (): ReturnType<typeof knownStores> => knownStores(manifest.hosts);
function edited(i: number, edit: (e: Record<string, unknown>) => void): string {
  const e = JSON.parse(lines[i]!) as Record<string, unknown>;
  edit(e);
  return JSON.stringify(e);
}
function usbLine(): number {
  return lines.findIndex((l) => l.includes('"kind":"usb.connect"'));
}

describe('the timeline gate (src/report/timeline-input.ts)', () => {
  it('takes every line of an untouched bundle', () => {
    const rows = lines.map((l, i) => parseTimelineLine(l, i + 1, stores()));
    expect(rows.filter(isRejected)).toEqual([]);
    expect(rows.length).toBeGreaterThan(10);
  });

  it.each([
    ['markup in record_sha256', (e: Record<string, unknown>) => (e['record_sha256'] = '<script>window.__pwned=1</script>'), 'report.timeline_schema', 'record_sha256: must be a lowercase hex SHA-256'],
    ['markup in seq', (e: Record<string, unknown>) => (e['seq'] = '1<img src=x onerror=alert(1)>'), 'report.timeline_schema', 'seq: '],
    ['a negative seq', (e: Record<string, unknown>) => (e['seq'] = -1), 'report.timeline_schema', 'seq: '],
    ['a host the manifest does not list', (e: Record<string, unknown>) => (e['host'] = 'ws-0147<b>'), 'report.timeline_unknown_host', 'is not one of the manifest'],
    ['a store that is not the host\'s', (e: Record<string, unknown>) => (e['store_id'] = 'other-store'), 'report.timeline_unknown_store', 'is not a store of host'],
    ['a datetime that is not a record timestamp', (e: Record<string, unknown>) => (e['datetime'] = '2026-11-20 09:14:02<b>'), 'report.timeline_schema', 'datetime: '],
    ['a kind that is not family.name', (e: Record<string, unknown>) => (e['kind'] = 'usb.connect"><b>'), 'report.timeline_schema', 'kind: '],
    ['a field the timeline does not have', (e: Record<string, unknown>) => (e['html'] = '<b>'), 'report.timeline_schema', 'html'],
    ['a payload its kind rejects', (e: Record<string, unknown>) => ((e['payload'] as Record<string, unknown>)['vendor_id'] = '<b>'), 'report.timeline_payload', 'usb.connect payload: payload.vendor_id'],
    ['a payload that is an array', (e: Record<string, unknown>) => (e['payload'] = ['<b>']), 'report.timeline_schema', 'payload: '],
  ])('%s: left out, named by code, file and line', (_name, edit, code, reason) => {
    const i = usbLine();
    const row = parseTimelineLine(edited(i, edit), i + 1, stores());
    expect(isRejected(row)).toBe(true);
    if (!isRejected(row)) return;
    expect(row.rejected).toMatchObject({ code, severity: 'error', where: `timeline/timeline.jsonl:${i + 1}` });
    expect(row.rejected.message).toContain(reason);
  });

  it('a line that is not JSON, and a rejection message of a huge line, stay short', () => {
    const row = parseTimelineLine(`{"datetime":"${'<'.repeat(100_000)}`, 7, stores());
    expect(isRejected(row) && row.rejected.where).toBe('timeline/timeline.jsonl:7');
    expect(isRejected(row) && row.rejected.code).toBe('report.timeline_not_json');
    expect(isRejected(row) && row.rejected.message.startsWith('not JSON')).toBe(true);
    expect(isRejected(row) && row.rejected.message.length).toBeLessThanOrEqual(301);
  });

  it('reads a file line by line: exact line numbers past empty, broken and over-long lines (one over-long line spans several read buffers)', () => {
    const path = join(work, 'timeline.jsonl');
    const long = `{"message":"${'x'.repeat(3 << 20)}"}`; // 3 MiB: three 1 MiB reads
    writeFileSync(path, [lines[0], 'not json', '', lines[1], long, lines[2], edited(3, (e) => (e['seq'] = 'x'))].join('\n') + '\n' + lines[4]); // no newline at the end
    const rows: TimelineRow[] = [...readTimelineRows(path, stores(), 64 << 10)];
    const summary = rows.map((r) => (isRejected(r) ? r.rejected.where : (r as { seq: number }).seq));
    const seq = (i: number): number => (JSON.parse(lines[i]!) as { seq: number }).seq;
    expect(summary).toEqual([seq(0), 'timeline/timeline.jsonl:2', 'timeline/timeline.jsonl:3', seq(1), 'timeline/timeline.jsonl:5', seq(2), 'timeline/timeline.jsonl:7', seq(4)]);
    expect(rows.filter(isRejected).map((r) => r.rejected.code)).toEqual(['report.timeline_not_json', 'report.timeline_empty_line', 'report.timeline_line_too_long', 'report.timeline_schema']);
    expect(rows.filter(isRejected)[2]!.rejected.message).toBe(`line longer than ${64 << 10} characters`);
  });
});

it('the README names every code of a left-out line, and no other', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const para = /each left-out\s+line by its code[^;]*/.exec(readme)?.[0] ?? '';
  const named = [...para.matchAll(/`(report\.timeline)?(_[a-z_]+)`/g)].map((m) => `report.timeline${m[2]}`);
  expect(named.sort()).toEqual([...REJECTED_LINE_CODES].sort());
});

describe('escaping', () => {
  it('html`` escapes every interpolated text and number, inserts only Html as it is', () => {
    const v = `"'<>&`;
    expect(html`<a title="${v}" data-x="${v}">${v}${1.5}${new Html('<b>')}${[v, new Html('<i>')]}${undefined}${false}${null}</a>`.value).toBe(
      '<a title="&quot;&#39;&lt;&gt;&amp;" data-x="&quot;&#39;&lt;&gt;&amp;">&quot;&#39;&lt;&gt;&amp;1.5<b>&quot;&#39;&lt;&gt;&amp;<i></a>',
    );
    expect(joinHtml([html`<b>`, '<'], '<,').value).toBe('<b>&lt;,&lt;');
    expect(esc('a&amp;')).toBe('a&amp;amp;');
  });

  it('mdCode: a fence longer than any backtick run, one line, | escaped', () => {
    expect(mdCode('abc')).toBe('`abc`');
    expect(mdCode('a`b``c')).toBe('```a`b``c```');
    expect(mdCode('`<b>`')).toBe('`` `<b>` ``');
    expect(mdCode('a|b\nc')).toBe('`a\\|b c`');
  });
});

/**
 * Every string in the model with markup appended, but for the codes the renderers look words up by.
 * No backtick in it: the Markdown check below strips code spans naively (mdCode's own test covers backticks).
 */
const MARK = `<i id="pwn" onmouseover="x">'&`;
const CODES = new Set(['code', 'key', 'verdict', 'evidence', 'severity', 'source', 'lang']);
function hostile<T>(v: T, key = ''): T {
  if (typeof v === 'string') return (CODES.has(key) ? v : `${v}${MARK}`) as T;
  if (Array.isArray(v)) return v.map((x) => hostile(x, key)) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hostile(x, k)])) as T;
  return v;
}

function storyModel(input: Partial<ReportInput> = {}): ReportModel {
  const entries = lines.map((l, i) => parseTimelineLine(l, i + 1, stores()));
  return buildReportModel({ manifest, entries, ...input }, { generatedAt: '2026-11-23T12:00:00.000000Z', discoveredAt: '2026-11-21T10:30:00+09:00', sensitive: STORY.sensitive, workingHours: { start: 9, end: 18, utcOffsetMinutes: 540, days: [1, 2, 3, 4, 5] } });
}

describe('the renderers', () => {
  it('a model whose every string carries markup renders it as text only, in every context (HTML and Markdown, both languages)', () => {
    const verification = { ok: true, tsa: { status: 'absent' }, findings: [{ code: 'x.y', severity: 'warning' as const, message: 'm', where: 'w' }], custody: { entries: 1, actions: ['collected'], head: { index: 0, sha256: 'ab' } }, trust: { collector: 'manifest' as const, agents: 'manifest' as const } };
    const model = hostile(storyModel({ verification }));
    for (const lang of ['en', 'ja'] as const) {
      const page = renderHtml(model, lang);
      // The markup got in (dozens of values, so the check is not vacuous), and only as text.
      expect(page.split(esc(MARK)).length - 1).toBeGreaterThan(50);
      expect(page).not.toContain('<i id');
      expect(page).not.toContain('"pwn"');
      const md = renderMarkdown(model, lang);
      expect(md.split('\\<i id="pwn"').length - 1).toBeGreaterThan(20);
      // Outside code spans (which a viewer shows literally), no `<` a viewer could take for HTML.
      const outsideCode = md.replace(/\\`/g, '').replace(/`[^`\n]*`/g, '');
      expect(/.{0,60}(?:^|[^\\])<i.{0,20}/m.exec(outsideCode)?.[0]).toBeUndefined();
    }
  });

  it('the CSP allows exactly the page\'s one script and one style, by hash; no unsafe-inline, nothing remote', () => {
    const page = renderHtml(storyModel(), 'en');
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    const hash = (s: string): string => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(CSP).toBe(`default-src 'none'; script-src ${hash(scripts[0]!)}; style-src ${hash(styles[0]!)}; img-src data:; base-uri 'none'; form-action 'none'`);
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="${CSP}">`);
    expect(page).not.toContain('unsafe-inline');
    expect(page).not.toMatch(/ style="/);
  });

  it('the verdict comes first: NOT VERIFIED for the draft, INVALID for a bundle that failed or a line left out, VALID otherwise; the unpinned keys are named', () => {
    const ok = { ok: true, tsa: { status: 'absent' }, findings: [] };
    const first = (m: ReportModel, lang: 'en' | 'ja'): [string, string] => {
      const page = renderHtml(m, lang);
      return [page.slice(page.indexOf('<body>') + 7, page.indexOf('</div>')), renderMarkdown(m, lang).split('\n')[0]!];
    };
    const draft = storyModel();
    expect(draft.verdict).toBe('unverified');
    expect(first(draft, 'en')[0]).toMatch(/^<div id="verdict" class="verdict verdict-unverified" role="alert"><p class="bad">NOT VERIFIED: .*collector&#39;s claim/);
    expect(first(draft, 'en')[1]).toMatch(/^\*\*NOT VERIFIED: .*collector's claim/);
    expect(first(draft, 'ja')[1]).toMatch(/^\*\*未検証\(NOT VERIFIED\)。.*収集者の主張/);

    const failed = storyModel({ verification: { ...ok, ok: false } });
    expect(failed.verdict).toBe('invalid');
    expect(first(failed, 'en')[1]).toMatch(/^\*\*INVALID: /);
    expect(first(failed, 'ja')[0]).toMatch(/<p class="bad">検証結果: 異常あり\(INVALID\)/);

    // The bundle verified, but a line fails its schema: still INVALID, and the line is named.
    const i = usbLine();
    const withBad = lines.map((l, k) => parseTimelineLine(k === i ? edited(i, (e) => (e['record_sha256'] = '<b>')) : l, k + 1, stores()));
    const rejected = buildReportModel({ manifest, entries: withBad, verification: ok }, { generatedAt: '2026-11-23T12:00:00.000000Z' });
    expect(rejected.verdict).toBe('invalid');
    expect(rejected.integrity.rejected).toEqual({ count: 1, shown: [{ code: 'report.timeline_schema', severity: 'error', where: `timeline/timeline.jsonl:${i + 1}`, message: 'not a timeline entry: record_sha256: must be a lowercase hex SHA-256' }] });
    expect(rejected.evidence.some((e) => e.seq === (JSON.parse(lines[i]!) as { seq: number }).seq)).toBe(false);
    expect(renderMarkdown(rejected, 'en')).toContain(`- error: \`report.timeline_schema\` \`timeline/timeline.jsonl:${i + 1}\` not a timeline entry`);

    const valid = storyModel({ verification: { ...ok, trust: { collector: 'pinned', agents: 'pinned' } } });
    expect(valid.verdict).toBe('valid');
    expect(first(valid, 'en')[0]).toBe('<div id="verdict" class="verdict verdict-valid" role="alert"><p class="ok">VALID: the bundle verified when this report was made (see section 1).</p>');
    expect(renderMarkdown(valid, 'en')).not.toContain("collector's claim");

    const unpinned = renderMarkdown(storyModel({ verification: { ...ok, trust: { collector: 'manifest', agents: 'pinned' } } }), 'en').split('\n');
    expect(unpinned[0]).toMatch(/^\*\*VALID: /);
    expect(unpinned[2]).toMatch(/^\*\*The collector key was not pinned \(--collector-key\): .*the draft report in the bundle's report\/ folder is the collector's claim/);
    expect(unpinned.join('\n')).not.toContain('The agent keys were not pinned');
  });
});

describe('custody report (writeReport): whose claim the report rests on', () => {
  it('without --collector-key the report says the bundle\'s draft is the collector\'s claim; with it pinned (and the agent key), it does not', async () => {
    const clock = steppingClock(Date.parse('2026-11-24T10:00:00Z'));
    const loose = await writeReport(bundle, { lang: 'en', out: join(work, 'report-loose') }, { clock });
    expect(loose.verified).toBe(true);
    const looseMd = readFileSync(join(work, 'report-loose', 'report.md'), 'utf8').split('\n');
    expect(looseMd[0]).toMatch(/^\*\*VALID: /);
    expect(looseMd[2]).toMatch(/^\*\*The collector key was not pinned \(--collector-key\): .*collector's claim/);
    expect(looseMd[4]).toMatch(/^\*\*The agent keys were not pinned \(--agent-key\)/);
    expect(readFileSync(join(work, 'report-loose', 'report.html'), 'utf8')).toContain('<p>The collector key was not pinned (--collector-key): ');

    const pinned = await writeReport(bundle, { lang: 'ja', out: join(work, 'report-pinned'), verify: { collectorKey: manifest.collector.key.fingerprint, agentKeys: manifest.hosts.map((h) => h.enrollment.fingerprint) } }, { clock });
    expect(pinned.verified).toBe(true);
    const pinnedMd = readFileSync(join(work, 'report-pinned', 'report.md'), 'utf8');
    expect(pinnedMd.split('\n')[0]).toMatch(/^\*\*検証結果: 正常\(VALID\)/);
    expect(pinnedMd).not.toContain('収集者の鍵が固定されていない');
    expect(pinnedMd).not.toContain('エージェントの鍵が固定されていない');
  });

  it('the draft collect sealed into the bundle opens with NOT VERIFIED, the collector\'s claim, in both languages', () => {
    const en = readFileSync(join(bundle, 'report', 'report.html'), 'utf8');
    expect(en.slice(en.indexOf('<body>') + 7)).toMatch(/^<div id="verdict" class="verdict verdict-unverified" role="alert"><p class="bad">NOT VERIFIED: .*collector&#39;s claim/);
    expect(readFileSync(join(bundle, 'report', 'report.ja.md'), 'utf8').split('\n')[0]).toMatch(/^\*\*未検証\(NOT VERIFIED\)。.*収集者の主張/);
  });
});
