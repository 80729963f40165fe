/**
 * The report model and its renderers on a real bundle with a known story (test/helpers/report-story.ts:
 * real fixture lines imported by the real import code, collected by `collectCase`): the model names
 * the serial, the files, the times, the users and the source address, and cites the right records
 * (host, seq, SHA-256 as in the timeline); the PPC deadlines are right across month and year ends,
 * and a final-report deadline on an administrative holiday moves to the next working day;
 * both languages render from the one model, and the HTML is self-contained. On a big synthetic
 * timeline, every list that grows with the evidence is cut to `rowLimit` rows chosen as documented
 * in the model, keeping the rows the shown patterns name, with totals and where the full lists
 * are; and past `maxEvents` the build stops at once with E_REPORT_TOO_LARGE.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../../collector/report.js';
import { verifyBundle } from '../../collector/verify-bundle.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import type { TimelineEntry } from '../../src/bundle/timeline.js';
import { addDays, equinoxProclaimedThrough, ppcDeadlines } from '../../src/report/deadlines.js';
import { globToRegExp } from '../../src/report/glob.js';
import { CustodyError } from '../../src/errors.js';
import { buildReportModel, LISTED_NAMES, type Pattern, type ReportInput, type ReportModel } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/render-html.js';
import { renderMarkdown } from '../../src/report/render-md.js';
import { buildStoryBundle, STORY } from '../helpers/report-story.js';

let work: string;
let bundle: string;
let entries: TimelineEntry[];
let model: ReportModel;

function seqOf(pred: (e: TimelineEntry) => boolean): number[] {
  return entries.filter(pred).map((e) => e.seq);
}
function pattern(code: Pattern['code']): Pattern[] {
  return model.how.filter((p) => p.code === code);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-report-model-'));
  ({ bundle } = await buildStoryBundle(work));
  entries = [...readJsonLines<TimelineEntry>(join(bundle, 'timeline', 'timeline.jsonl'))];
  const mBytes = new Uint8Array(readFileSync(join(bundle, 'manifest.json')));
  const v = await verifyBundle(bundle);
  expect(v.ok).toBe(true);
  model = buildReportModel(
    {
      manifest: parseManifest(mBytes),
      manifestSha256: createHash('sha256').update(mBytes).digest('hex'),
      verification: { ok: v.ok, tsa: v.tsa, ...(v.custody ? { custody: v.custody } : {}), findings: v.findings },
      entries,
    },
    {
      generatedAt: '2026-11-23T12:00:00.000000Z',
      discoveredAt: '2026-11-21T10:30:00+09:00',
      sensitive: STORY.sensitive,
      workingHours: { start: 9, end: 18, utcOffsetMinutes: 540, days: [1, 2, 3, 4, 5] },
    },
  );
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('report model: the story', () => {
  it('integrity first: the host verified at collection, and the bundle now', () => {
    expect(model.integrity.now?.ok).toBe(true);
    expect(model.integrity.hosts).toHaveLength(1);
    expect(model.integrity.hosts[0]).toMatchObject({ host: STORY.host, ok: true, records: entries.length });
    expect(model.integrity.gaps).toEqual([]);
  });

  it('What: the two customer files, with their user, counts and the auditd records', () => {
    expect(model.what.files.map((f) => f.path).sort()).toEqual([...STORY.files]);
    const readSeqs = seqOf((e) => e.kind === 'file.access');
    expect(readSeqs).toHaveLength(2);
    for (const f of model.what.files) {
      expect(f).toMatchObject({ host: STORY.host, count: 1, failed: 0, users: ['auid=1000'], glob: STORY.sensitive[0] });
      const e = entries.find((x) => x.kind === 'file.access' && x.payload['path'] === f.path)!;
      expect(f.cites).toEqual([{ host: STORY.host, seq: e.seq, sha256: e.record_sha256, time: e.datetime, kind: 'file.access' }]);
    }
  });

  it('How: sensitive reads then the SanDisk stick within the window, citing both reads and the connect', () => {
    const [p, more] = pattern('sensitive_then_usb');
    expect(more).toBeUndefined();
    expect(p).toBeDefined();
    const connect = entries.find((e) => e.kind === 'usb.connect' && e.payload['serial'] === STORY.serial)!;
    const disconnect = entries.find((e) => e.kind === 'usb.disconnect' && e.payload['serial'] === STORY.serial)!;
    expect(p!.params).toMatchObject({ device: STORY.serial, connected_at: STORY.usbConnect, disconnected_at: STORY.usbDisconnect, files: [...STORY.files], users: ['auid=1000'], reads: 2, first_read: STORY.firstRead });
    expect(p!.cites.map((c) => c.seq)).toEqual([...seqOf((e) => e.kind === 'file.access'), connect.seq]);
    expect(p!.cites.at(-1)?.sha256).toBe(connect.record_sha256);
    expect(p!.time).toBe(STORY.usbConnect);
    // The session is drawn from connect to disconnect.
    expect(model.chart.sessions.find((s) => s.device === STORY.serial)).toMatchObject({ start: STORY.usbConnect, end: STORY.usbDisconnect, mass_storage: true });
    expect(model.chart.sessions.find((s) => s.device === STORY.serial)!.cites.map((c) => c.seq)).toEqual([connect.seq, disconnect.seq]);
    // Nothing sensitive was read while the stick was in.
    expect(pattern('sensitive_during_usb')).toEqual([]);
  });

  it('How: the serial is new on the host; the receiver without a serial is not reported as one', () => {
    const news = pattern('new_usb_serial');
    expect(news.map((p) => p.params['serial'])).toEqual([STORY.serial]);
    expect(model.who.usb.map((d) => [d.device, d.mass_storage])).toEqual([
      [STORY.serial, true],
      ['046d:c52b (no serial)', false],
    ]);
  });

  it('How and Who: five failures then a success from the same address, the user root', () => {
    const [p] = pattern('failed_then_success');
    const fails = seqOf((e) => e.kind === 'auth.logon' && e.payload['success'] === false);
    const ok = seqOf((e) => e.kind === 'auth.logon' && e.payload['success'] === true);
    expect(fails).toHaveLength(5);
    expect(p).toMatchObject({ host: STORY.host, time: STORY.success, params: { from: STORY.attacker, user: 'root', failures: 5 } });
    expect(p!.cites.map((c) => c.seq)).toEqual([...fails, ...ok]);
    expect(pattern('new_logon_source').map((x) => x.params['from'])).toEqual([STORY.attacker]);
    expect(model.who.sources).toEqual([expect.objectContaining({ from: STORY.attacker, successes: 1, failures: 5, users: ['root'] })]);
    expect(model.who.users.map((u) => u.user)).toEqual(['auid=1000', 'root']);
  });

  it('How: outside 09–18 JST on Friday 2026-11-20: the reads (18:05, 18:06 JST) and both connects; not the 17:51 JST logon', () => {
    const off = pattern('off_hours');
    expect(off.map((p) => [p.host, p.params['day'], p.params['events'], p.params['kinds']])).toEqual([[STORY.host, '2026-11-20', 4, ['file.access', 'usb.connect']]]);
    expect(off[0]!.cites.map((c) => c.seq)).toEqual(seqOf((e) => e.kind === 'file.access' || e.kind === 'usb.connect'));
    // Ending at 17:00, the logon at 17:51 JST is outside too.
    const early = buildReportModel(
      { manifest: parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json')))), entries },
      { generatedAt: '2026-11-23T12:00:00.000000Z', sensitive: STORY.sensitive, workingHours: { start: 9, end: 17, utcOffsetMinutes: 540, days: [1, 2, 3, 4, 5] } },
    );
    expect(early.how.filter((p) => p.code === 'off_hours').map((p) => p.params['events'])).toEqual([5]);
    // Without working hours, nothing is looked for.
    const none = buildReportModel({ manifest: parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json')))), entries }, { generatedAt: '2026-11-23T12:00:00.000000Z', sensitive: STORY.sensitive });
    expect(none.how.filter((p) => p.code === 'off_hours')).toEqual([]);
  });

  it('When: first and last relevant events, the discovery time; the excerpt marks the patterns', () => {
    expect(model.when.first?.time).toBe('2026-11-20T08:50:01.000000Z');
    expect(model.when.last?.time).toBe(STORY.usbDisconnect);
    expect(model.when.discoveredAt).toBe('2026-11-21T01:30:00.000Z');
    const connectRow = model.when.excerpt.find((x) => x.kind === 'usb.connect' && x.message.includes(STORY.serial));
    expect(connectRow?.patterns).toEqual(['new_usb_serial', 'off_hours', 'sensitive_then_usb']);
  });

  it('Regulator: deadlines from the discovery day in JST, malicious purpose indicated with evidence, items to complete', () => {
    // Day 30 is Sunday 2026-12-20: the deadline is Monday 2026-12-21. Day 60 is a Tuesday.
    expect(model.regulator.deadlines).toMatchObject({
      discovered_date_jst: '2026-11-21',
      prompt: { from_date: '2026-11-23', to_date: '2026-11-25' },
      final: { date: '2026-12-21', calendar_date: '2026-12-20', skipped: [{ date: '2026-12-20', reason: 'sunday' }] },
      final_malicious: { date: '2027-01-19', calendar_date: '2027-01-19', skipped: [] },
      equinox_proclaimed_through: 2027,
    });
    const mal = model.regulator.checklist.find((c) => c.key === 'malicious');
    expect(mal?.evidence).toBe('indicated');
    expect(mal?.statement?.cites.length).toBeGreaterThan(0);
    expect(model.regulator.checklist.filter((c) => c.evidence === 'unknown').map((c) => c.key)).toEqual(['sensitive_info', 'financial_damage', 'over_1000']);
    expect(model.regulator.items.map((i) => i.key)).toEqual(['overview', 'data_items', 'people', 'cause', 'secondary_damage', 'individuals', 'publication', 'prevention', 'other']);
    expect(model.regulator.items.every((i) => i.toComplete)).toBe(true);
    expect(model.regulator.items.find((i) => i.key === 'people')?.prefilled).toEqual([]);
    expect(model.regulator.items.find((i) => i.key === 'data_items')?.prefilled.map((s) => s.params['path']).sort()).toEqual([...STORY.files]);
  });

  it('nothing of the story is cut: every total is the length of its list, and no renderer says "shown N of M"', () => {
    expect(model.options.rowLimit).toBe(200);
    expect([model.who.usersTotal, model.who.sourcesTotal, model.who.usbTotal, model.what.filesTotal, model.integrity.gapsTotal, model.chart.sessionsTotal, model.howTotal]).toEqual([
      model.who.users.length,
      model.who.sources.length,
      model.who.usb.length,
      model.what.files.length,
      model.integrity.gaps.length,
      model.chart.sessions.length,
      model.how.length,
    ]);
    expect(model.howTotals).toEqual({ failed_then_success: 1, new_logon_source: 1, new_usb_serial: 1, off_hours: 1, sensitive_then_usb: 1 });
    for (const i of model.regulator.items) expect(i.prefilledTotal).toBe(i.prefilled.length);
    expect(model.how.some((p) => Object.keys(p.params).some((k) => k.endsWith('_total')))).toBe(false);
    const en = renderMarkdown(model, 'en');
    const ja = renderMarkdown(model, 'ja');
    expect(en).not.toMatch(/Shown \d+ of \d+/);
    expect(ja).not.toContain('を掲載('); // the notes under a list cut short
    expect(en).toContain(`shown ${model.tables.logons.length} of ${model.tables.logonsTotal}; all of them are in tables/logons.csv`);
    expect(ja).toContain(`${model.tables.logonsTotal} 件中 ${model.tables.logons.length} 件を掲載。全件は tables/logons.csv を参照。`);
    expect(renderHtml(model, 'en')).not.toContain('<p class="cap">');
  });

  it('every citation is a record of the timeline with that hash', () => {
    const byKey = new Map(entries.map((e) => [`${e.host}#${e.seq}`, e.record_sha256]));
    const all = [...model.how.flatMap((p) => p.cites), ...model.what.files.flatMap((f) => f.cites), ...model.evidence];
    expect(all.length).toBeGreaterThan(10);
    for (const c of all) expect(byKey.get(`${c.host}#${c.seq}`)).toBe(c.sha256);
  });
});

describe('report model: evidence that could not be read', () => {
  it('a cut-short gzip log is a gap in section 1 and an anti-forensics pattern, both citing the agent.gap record', async () => {
    const w = mkdtempSync(join(tmpdir(), 'custody-report-gap-'));
    try {
      const { bundle: b } = await buildStoryBundle(w, { gap: true });
      const es = [...readJsonLines<TimelineEntry>(join(b, 'timeline', 'timeline.jsonl'))];
      const gapEntry = es.find((e) => e.kind === 'agent.gap');
      expect(gapEntry).toBeDefined();
      const m = buildReportModel({ manifest: parseManifest(new Uint8Array(readFileSync(join(b, 'manifest.json')))), entries: es }, { generatedAt: '2026-11-23T12:00:00.000000Z', sensitive: STORY.sensitive });
      const cite = { host: STORY.host, seq: gapEntry!.seq, sha256: gapEntry!.record_sha256, time: gapEntry!.datetime, kind: 'agent.gap' };
      expect(m.integrity.gaps).toHaveLength(1);
      expect(m.integrity.gaps[0]).toMatchObject({ code: 'gap.reported', host: STORY.host, cites: [cite] });
      const af = m.how.filter((p) => p.code === 'anti_forensics');
      expect(af.map((p) => [p.params['what'], p.cites])).toEqual([['gap', [cite]]]);
      expect(String(af[0]!.params['path'])).toMatch(/auth\.log\.2\.gz$/);
      expect(m.why.some((q) => q.code === 'q.gap_reason')).toBe(true);
      expect(renderMarkdown(m, 'en')).toContain('the agent recorded a gap');
      expect(renderMarkdown(m, 'ja')).toContain('記録の欠落');
      // The story's own patterns are unchanged by the extra file.
      expect(m.how.filter((p) => p.code === 'sensitive_then_usb')).toHaveLength(1);
    } finally {
      rmSync(w, { recursive: true, force: true });
    }
  });
});

describe('PPC deadlines', () => {
  it('counts the discovery day (JST) as day 1, across month, year and leap-day ends', () => {
    // 2026-11-30T20:00Z is 2026-12-01 05:00 in Japan: day 1 is Dec 1.
    expect(ppcDeadlines('2026-11-30T20:00:00Z')).toMatchObject({ discovered_date_jst: '2026-12-01', prompt: { from_date: '2026-12-03', to_date: '2026-12-05' }, final: { calendar_date: '2026-12-30' }, final_malicious: { date: '2027-01-29' } });
    // The last second of a JST day and the first of the next.
    expect(ppcDeadlines('2026-12-01T14:59:59Z')?.discovered_date_jst).toBe('2026-12-01');
    expect(ppcDeadlines('2026-12-01T15:00:00Z')?.discovered_date_jst).toBe('2026-12-02');
    // Jan 31: day 30 is Mar 1 in 2027 (28-day February), Feb 29 in 2028; both working days.
    expect(ppcDeadlines('2027-01-31T09:00:00+09:00')?.final).toMatchObject({ date: '2027-03-01', calendar_date: '2027-03-01', skipped: [] });
    expect(ppcDeadlines('2028-01-31T09:00:00+09:00')?.final).toMatchObject({ date: '2028-02-29', calendar_date: '2028-02-29', skipped: [] });
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(ppcDeadlines('2026-11-21')).toBeUndefined(); // no time and zone: refused
  });

  it('day 30 in the year-end closure: 2026-12-30 moves to 2027-01-04, each skipped day with its reason', () => {
    const d = ppcDeadlines('2026-11-30T20:00:00Z')!;
    expect(d.final).toMatchObject({ date: '2027-01-04', days: 30, calendar_date: '2026-12-30' });
    expect(d.final.skipped).toEqual([
      { date: '2026-12-30', reason: 'year_end_closure' },
      { date: '2026-12-31', reason: 'year_end_closure' },
      { date: '2027-01-01', reason: 'national_holiday', holiday: { kind: 'statutory', ja: '元日', en: "New Year's Day" } },
      { date: '2027-01-02', reason: 'year_end_closure' },
      { date: '2027-01-03', reason: 'year_end_closure' },
    ]);
    expect(d.final.not_adjusted).toBeUndefined();
    expect(d.final.basis).toMatch(/3-5-3-4.*Act No\. 91 of 1988\) Art\. 1.*Art\. 2/);
    expect(d.final.basis).not.toMatch(/not moved/);
  });

  it('the prompt window is guidance and is not moved, even when it falls on the new-year holidays', () => {
    // Discovered 2026-12-30: days 3–5 are Jan 1–3, all closed, and stay as they are.
    expect(ppcDeadlines('2026-12-30T10:00:00+09:00')).toMatchObject({ prompt: { from_date: '2027-01-01', to_date: '2027-01-03' }, final: { date: '2027-01-28', skipped: [] } });
  });

  it('a day 30 (60) on a Saturday moves to the Monday', () => {
    // Day 30 = Saturday 2026-08-08 → Monday 2026-08-10 (Mountain Day is the Tuesday after, not in the way).
    expect(ppcDeadlines('2026-07-10T09:00:00+09:00')?.final).toMatchObject({ calendar_date: '2026-08-08', date: '2026-08-10', skipped: [{ reason: 'saturday' }, { reason: 'sunday' }] });
    // Discovered 2026-12-30: day 60 = Saturday 2027-02-27 → Monday 2027-03-01.
    expect(ppcDeadlines('2026-12-30T10:00:00+09:00')?.final_malicious).toMatchObject({ calendar_date: '2027-02-27', date: '2027-03-01' });
  });

  it('a day 30 on a Sunday followed by a Monday holiday moves to the Tuesday', () => {
    // Day 30 = Sunday 2026-07-19; Monday 2026-07-20 is Marine Day.
    const d = ppcDeadlines('2026-06-20T09:00:00+09:00')!;
    expect(d.final).toMatchObject({ calendar_date: '2026-07-19', date: '2026-07-21' });
    expect(d.final.skipped.map((s) => [s.date, s.reason, s.holiday?.ja])).toEqual([
      ['2026-07-19', 'sunday', undefined],
      ['2026-07-20', 'national_holiday', '海の日'],
    ]);
  });

  it('a day 60 in Golden Week moves past it, substitute holiday included', () => {
    // Day 60 = 2026-05-03 (Sunday, Constitution Memorial Day); 5/4, 5/5 and the substitute 5/6 follow.
    const d = ppcDeadlines('2026-03-05T09:00:00+09:00')!;
    expect(d.final).toMatchObject({ calendar_date: '2026-04-03', date: '2026-04-03', skipped: [] });
    expect(d.final_malicious).toMatchObject({ calendar_date: '2026-05-03', date: '2026-05-07' });
    expect(d.final_malicious.skipped.map((s) => s.holiday?.ja)).toEqual(['憲法記念日', 'みどりの日', 'こどもの日', '振替休日']);
  });

  it('a year whose holidays are not known is flagged, never guessed', () => {
    // Day 30 (2099-12-09) is known; day 60 is in 2100.
    const late = ppcDeadlines('2099-11-10T10:00:00+09:00')!;
    expect(late.final).toMatchObject({ date: '2099-12-09', skipped: [] });
    expect(late.final.not_adjusted).toBeUndefined();
    expect(late.final_malicious).toMatchObject({ calendar_date: '2100-01-08', date: '2100-01-08', skipped: [], not_adjusted: { year: 2100, known_years: { from: 2022, to: 2099 } } });
    // A run that starts in a known year and reaches an unknown one: 2099-12-30 would move into 2100.
    expect(ppcDeadlines('2099-12-01T10:00:00+09:00')?.final).toMatchObject({ calendar_date: '2099-12-30', date: '2099-12-30', not_adjusted: { year: 2100 } });
    // Before the reporting duty began.
    expect(ppcDeadlines('2021-06-01T10:00:00+09:00')?.final.not_adjusted).toEqual({ year: 2021, known_years: { from: 2022, to: 2099 } });
  });

  it('says when a deadline rests on an equinox day not yet proclaimed', () => {
    expect(equinoxProclaimedThrough(Date.parse('2027-02-15T00:00:00Z'))).toBe(2027);
    expect(equinoxProclaimedThrough(Date.parse('2027-03-01T00:00:00Z'))).toBe(2028);
    expect(equinoxProclaimedThrough(Date.parse('2027-12-31T16:00:00Z'))).toBe(2028); // 2028-01-01 in Japan: 2029's come in February
    // Day 30 = 2028-03-20, the computed Vernal Equinox Day, seen from January 2027 and from March 2028.
    const early = ppcDeadlines('2028-02-20T10:00:00+09:00', '2027-01-26T00:00:00Z')!;
    expect(early.final).toMatchObject({ calendar_date: '2028-03-20', date: '2028-03-21', computed_equinox: true });
    expect(early.final.basis).toContain('equinox days after 2027 are computed, not yet proclaimed');
    expect(ppcDeadlines('2028-02-20T10:00:00+09:00', '2028-03-05T00:00:00Z')?.final.computed_equinox).toBeUndefined();
    expect(ppcDeadlines('2026-11-30T20:00:00Z', '2026-12-02T00:00:00Z')?.final.computed_equinox).toBeUndefined();
  });
});

describe('globs', () => {
  it('matches ** across folders and * within one', () => {
    expect(globToRegExp('/srv/share/customers/**').test('/srv/share/customers/a/b.csv')).toBe(true);
    expect(globToRegExp('/srv/*/customers/*.csv').test('/srv/share/customers/a.csv')).toBe(true);
    expect(globToRegExp('/srv/*/customers/*.csv').test('/srv/share/customers/x/a.csv')).toBe(false);
    expect(globToRegExp('/home/*/{Documents,Desktop}/**').test('/home/ken/Desktop/list.xlsx')).toBe(true);
    expect(globToRegExp('C:\\Users\\*\\Documents\\**').test('C:\\Users\\ken\\Documents\\a.xlsx')).toBe(true);
  });
});

describe('renderers: one model, two languages', () => {
  it('Markdown names the serial, the files, the user, the source, the deadlines, and cites records', () => {
    const en = renderMarkdown(model, 'en');
    const ja = renderMarkdown(model, 'ja');
    const connect = entries.find((e) => e.kind === 'usb.connect' && e.payload['serial'] === STORY.serial)!;
    for (const md of [en, ja]) {
      expect(md).toContain(STORY.serial);
      for (const f of STORY.files) expect(md).toContain(f);
      expect(md).toContain(STORY.attacker);
      expect(md).toContain(`${STORY.host}#${connect.seq}:${connect.record_sha256.slice(0, 12)}`);
      expect(md).toContain(connect.record_sha256); // the evidence index has the full hash
    }
    expect(en).toContain('2026-11-20 09:14:02 UTC');
    expect(en).toContain('## 8. Report to the Personal Information Protection Commission (Japan)');
    expect(en).toContain('| Final report (確報), 30 days | 2026-12-21 (Mon), moved for holidays (see below) |');
    expect(en).toContain('- Final report (確報), 30 days: Day 30, 2026-12-20 (Sun), is a Sunday, so the deadline is the next day, 2026-12-21 (Mon).');
    expect(en).toContain('| Final report (確報), 60 days (wrongful purpose) | 2027-01-19 (Tue) |');
    expect(en).toContain('To be completed by a person.');
    // Japanese: JST times, the regulator's item names, dates as a Japanese form writes them.
    expect(ja).toContain('2026/11/20 18:14:02 JST');
    expect(ja).toContain('個人情報保護委員会への報告');
    expect(ja).toContain('| 確報(30日以内) | 2026年12月21日(月) ※休日による繰下げあり(下記参照) |');
    expect(ja).toContain('- 確報(30日以内): 30日目の2026年12月20日(日)は日曜日にあたるため、期限は翌日の2026年12月21日(月)となる。');
    expect(ja).toContain('| 確報(60日以内:不正の目的による場合) | 2027年1月19日(火) |');
    expect(ja).toContain('行政機関の休日に関する法律第1条・第2条');
    expect(ja).not.toContain('延長しない');
    expect(en).toContain('Act No. 91 of 1988) Art. 1–2');
    expect(en).not.toContain('is not moved');
    for (const item of ['概要', '個人データの項目', '本人の数', '原因', '二次被害又はそのおそれ', '本人への対応', '公表', '再発防止のための措置', 'その他参考となる事項']) expect(ja).toContain(item);
    expect(ja).toContain('【要記入】');
    expect(ja).not.toContain('To be completed');
  });

  it('a deadline moved past the year-end closure, in both languages and both formats', () => {
    const manifest = parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json'))));
    const m = buildReportModel({ manifest, entries: [] }, { generatedAt: '2026-12-02T00:00:00.000000Z', discoveredAt: '2026-11-30T20:00:00Z' });
    expect(m.regulator.deadlines?.final).toMatchObject({ date: '2027-01-04', calendar_date: '2026-12-30' });
    const en = renderMarkdown(m, 'en');
    const ja = renderMarkdown(m, 'ja');
    const enNote = "Day 30, 2026-12-30 (Wed), is in the year-end closure (29 December – 3 January); the days after it up to 2027-01-03 (Sun) are administrative holidays too (year-end closure, New Year's Day), so the deadline is 2027-01-04 (Mon).";
    const jaNote = '30日目の2026年12月30日(水)は年末年始の閉庁日(12月29日～1月3日)にあたり、2027年1月3日(日)まで行政機関の休日(年末年始・元日)が続くため、期限は2027年1月4日(月)となる。';
    expect(en).toContain('| Final report (確報), 30 days | 2027-01-04 (Mon), moved for holidays (see below) |');
    expect(en).toContain(`- Final report (確報), 30 days: ${enNote}`);
    expect(en).toContain('- Equinox days after 2027 are computed, not yet proclaimed');
    expect(ja).toContain('| 確報(30日以内) | 2027年1月4日(月) ※休日による繰下げあり(下記参照) |');
    expect(ja).toContain(`- 確報(30日以内): ${jaNote}`);
    expect(ja).toContain('- 2027年より後の春分の日・秋分の日は計算による日付であり、まだ公示されていない');
    // Day 60 (2027-01-29, a Friday) needs no note.
    expect(en).not.toContain('Day 60');
    expect(renderHtml(m, 'en')).toContain(`<li>Final report (確報), 30 days: ${enNote.replace("'", '&#39;')}</li>`);
    expect(renderHtml(m, 'ja')).toContain(`<li>確報(30日以内): ${jaNote}</li>`);
    expect(renderHtml(m, 'ja')).toContain('<td>2027年1月4日(月) ※休日による繰下げあり(下記参照)</td>');
  });

  it('a deadline in a year whose holidays are not known tells the reader to check it', () => {
    const manifest = parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json'))));
    const m = buildReportModel({ manifest, entries: [] }, { generatedAt: '2099-11-11T00:00:00.000000Z', discoveredAt: '2099-11-10T10:00:00+09:00' });
    const en = renderMarkdown(m, 'en');
    const ja = renderMarkdown(m, 'ja');
    expect(en).toContain('| Final report (確報), 60 days (wrongful purpose) | 2100-01-08 (Fri), NOT adjusted for holidays (see below) |');
    expect(en).toContain("Day 60 is 2100-01-08 (Fri), not adjusted for holidays: this tool knows Japan's holidays for 2022–2099 only, not 2100.");
    expect(ja).toContain('| 確報(60日以内:不正の目的による場合) | 2100年1月8日(金) ※休日未調整(下記参照) |');
    expect(ja).toContain('60日目は2100年1月8日(金)であるが、休日による繰下げの判定はしていない');
    expect(renderHtml(m, 'ja')).toContain('暦で確認すること');
  });

  it('HTML is one self-contained file: inline SVG timeline, sortable tables, no external reference', () => {
    for (const lang of ['en', 'ja'] as const) {
      const html = renderHtml(model, lang);
      expect(html).toContain(`<html lang="${lang}">`);
      expect(html).toContain('<svg id="timeline"');
      expect(html.match(/class="usb"/g)?.length).toBe(2);
      expect(html.match(/class="finding"/g)?.length).toBe(model.how.length);
      expect(html).toContain('<table class="sortable" id="usb">');
      expect(html).toContain("default-src 'none'");
      // No URL that a browser would fetch: the only http(s) string is the SVG namespace.
      const urls = [...html.matchAll(/(?:src|href)\s*=\s*"([^"#][^"]*)"/g)].map((m) => m[1]);
      expect(urls).toEqual([]);
      expect(html.replace('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
      expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(/);
    }
  });

  it('renders an empty model (no evidence, no options) without failing', () => {
    const m = buildReportModel({ manifest: parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json')))), entries: [] }, { generatedAt: '2026-11-23T12:00:00.000000Z' });
    expect(m.how).toEqual([]);
    expect(renderMarkdown(m, 'en')).toContain('No discovery time was given');
    expect(renderHtml(m, 'ja')).toContain('期限は算出していない');
  });
});

// --- big incidents: bounded lists and a bound on memory ---------------------------------------

const BIG_HOST = 'srv-1';

/** An entry of a synthetic timeline on one host; `sec` counts from 2026-11-20T00:00:00Z. */
function bigEntry(seq: number, sec: number, kind: string, payload: Record<string, unknown>): TimelineEntry {
  const time = new Date(Date.UTC(2026, 10, 20) + sec * 1000).toISOString().replace('Z', '000Z');
  return { datetime: time, timestamp_desc: 'Event Time', host: BIG_HOST, store_id: 'store-1', seq, record_sha256: createHash('sha256').update(`r${seq}`).digest('hex'), kind, source: 'derive:test', observed_at: time, message: `${kind} #${seq}`, payload };
}

/**
 * A big incident on one host, in time order: 1,000 addresses fail to log on 1–4 times each (as
 * user0…user299); 600 customer files are read 1–3 times each by auid=1000…1004; 230 keyboards
 * with serials are plugged in; then 198.51.100.7 fails three times as root and logs on as admin;
 * auid=1500 reads 12 files secret-00…secret-11 once each and a SanDisk stick is connected 5 minutes
 * later. The patterns: new_usb_serial ×231, failed_then_success, new_logon_source, sensitive_then_usb.
 */
function bigIncident(): TimelineEntry[] {
  const es: TimelineEntry[] = [];
  let sec = 0;
  const add = (kind: string, payload: Record<string, unknown>, at = sec++): void => {
    es.push(bigEntry(es.length, at, kind, payload));
  };
  for (let i = 0; i < 1000; i++) {
    for (let f = 0; f <= i % 4; f++) add('auth.logon', { service: 'sshd', action: 'failure', success: false, user: `user${i % 300}`, from_ip: `10.1.${Math.floor(i / 250)}.${i % 250}`, method: 'password' });
  }
  add('agent.heartbeat', { uptime_ms: 1 });
  sec = 3000;
  for (let k = 0; k < 600; k++) {
    for (let r = 0; r <= k % 3; r++) add('file.access', { path: `/srv/share/customers/c${k}.csv`, operation: 'open', success: true, auid: String(1000 + (k % 5)) });
  }
  sec = 7000;
  for (let j = 0; j < 230; j++) add('usb.connect', { serial: `KB${String(j).padStart(3, '0')}`, vendor_id: '046d', product_id: 'c52b', manufacturer: 'Logitech', product: 'Keyboard', port: '1-2' }, (sec += 10));
  sec = 18_000;
  for (let f = 0; f < 3; f++) add('auth.logon', { service: 'sshd', action: 'failure', success: false, user: 'root', from_ip: '198.51.100.7', method: 'password' }, (sec += 10));
  add('auth.logon', { service: 'sshd', action: 'logon', success: true, user: 'admin', from_ip: '198.51.100.7', method: 'password' }, (sec += 10));
  sec = 36_000;
  for (let k = 0; k < 12; k++) add('file.access', { path: `/srv/share/customers/secret-${String(k).padStart(2, '0')}.csv`, operation: 'open', success: true, auid: '1500' }, (sec += 10));
  add('usb.connect', { serial: 'STICK-1', vendor_id: '0781', product_id: '5581', manufacturer: 'SanDisk', product: 'Ultra', mass_storage: true, port: '1-1' }, 36_300);
  add('usb.disconnect', { serial: 'STICK-1', vendor_id: '0781', product_id: '5581', manufacturer: 'SanDisk', product: 'Ultra', mass_storage: true, port: '1-1' }, 36_900);
  return es;
}

const bigManifest: ReportInput['manifest'] = {
  case: { id: 'IR-BIG' },
  collector: { host: 'lab', version: 'test', started_at: '2026-11-21T00:00:00.000000Z', key: { fingerprint: 'SHA256:test', public_key: 'AAAA' } },
  hosts: [],
};

/** The rows to expect of a list: those named, then the first by `rank` up to `limit`. */
function expectedRows<T>(rows: T[], limit: number, rank: (a: T, b: T) => number, named: (r: T) => boolean): Set<T> {
  const shown = new Set(rows.filter(named));
  for (const r of [...rows].sort(rank)) if (shown.size < limit) shown.add(r);
  return shown;
}

describe('report model: a big incident', () => {
  const es = bigIncident();
  const big = buildReportModel({ manifest: bigManifest, entries: es }, { generatedAt: '2026-11-23T00:00:00.000000Z', sensitive: ['/srv/share/customers/**'] });
  const secrets = Array.from({ length: 12 }, (_, k) => `/srv/share/customers/secret-${String(k).padStart(2, '0')}.csv`);

  it('finds every pattern and shows at most rowLimit (200) of each kind: the earliest new USB serials', () => {
    expect(big.options.rowLimit).toBe(200);
    expect(big.howTotals).toEqual({ new_usb_serial: 231, failed_then_success: 1, new_logon_source: 1, sensitive_then_usb: 1 });
    expect(big.howTotal).toBe(234);
    const serials = big.how.filter((p) => p.code === 'new_usb_serial').map((p) => p.params['serial']);
    expect(serials).toEqual(Array.from({ length: 200 }, (_, j) => `KB${String(j).padStart(3, '0')}`));
    expect(big.how.map((p) => p.time)).toEqual(big.how.map((p) => p.time).sort());
    expect(big.chart.markers).toHaveLength(203);
  });

  it("a pattern's list of files names LISTED_NAMES of them and counts all", () => {
    const [p] = big.how.filter((x) => x.code === 'sensitive_then_usb');
    expect(LISTED_NAMES).toBe(10);
    expect(p?.params).toMatchObject({ device: 'STICK-1', files: secrets.slice(0, 10), files_total: 12, users: ['auid=1500'], reads: 12 });
    expect(p?.citesTotal).toBe(13);
    expect(renderMarkdown(big, 'en')).toContain(`(${secrets.slice(0, 10).join(', ')} and 2 more)`);
    expect(renderMarkdown(big, 'ja')).toContain(`(${secrets.slice(0, 10).join('、')} ほか2件)`);
  });

  it('sources: 200 of 1,001, by logon attempts then address, shown by address; the brute-forcing address, which the ranking alone leaves out', () => {
    expect(big.who.sourcesTotal).toBe(1001);
    expect(big.who.sources).toHaveLength(200);
    const attempts = new Map<string, number>();
    for (const e of es) if (e.kind === 'auth.logon') attempts.set(String(e.payload['from_ip']), (attempts.get(String(e.payload['from_ip'])) ?? 0) + 1);
    const want = expectedRows([...attempts.keys()], 200, (a, b) => (attempts.get(b) ?? 0) - (attempts.get(a) ?? 0) || (a < b ? -1 : 1), (a) => a === '198.51.100.7');
    expect(big.who.sources.map((x) => x.from)).toEqual([...want].sort());
    expect(big.who.sources.find((x) => x.from === '198.51.100.7')).toMatchObject({ failures: 3, successes: 1, users: ['admin', 'root'], usersTotal: 2 });
    // The others made 4 attempts each, the most any address made (250 did); the attacker's 4 rank
    // after all of them by address, so only the pattern keeps it.
    expect(big.who.sources.filter((x) => x.from !== '198.51.100.7').every((x) => x.failures === 4)).toBe(true);
  });

  it('users: 200 of 308 (user0…299, root, admin, five auids, auid=1500), by activity then name, shown by name; the users the patterns name', () => {
    expect(big.who.usersTotal).toBe(308);
    expect(big.who.users).toHaveLength(200);
    const activity = new Map<string, number>();
    for (const e of es) {
      const user = e.kind === 'auth.logon' ? String(e.payload['user']) : e.kind === 'file.access' ? `auid=${String(e.payload['auid'])}` : undefined;
      if (user !== undefined) activity.set(user, (activity.get(user) ?? 0) + 1);
    }
    const want = expectedRows([...activity.keys()], 200, (a, b) => (activity.get(b) ?? 0) - (activity.get(a) ?? 0) || (a < b ? -1 : 1), (u) => u === 'admin' || u === 'auid=1500');
    expect(big.who.users.map((u) => u.user)).toEqual([...want].sort());
    expect(big.who.users.map((u) => u.user)).toEqual(expect.arrayContaining(['admin', 'auid=1500', 'auid=1000']));
  });

  it('files: 200 of 612, the most accessed then the earliest, shown by first access; the ten a pattern names although read once', () => {
    expect(big.what.filesTotal).toBe(612);
    expect(big.what.files).toHaveLength(200);
    const paths = big.what.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(secrets.slice(0, 10)));
    expect(paths).not.toContain(secrets[10]);
    // The rest: 190 of the 200 files read three times, the earliest read first.
    const thrice = Array.from({ length: 600 }, (_, k) => k).filter((k) => k % 3 === 2).map((k) => `/srv/share/customers/c${k}.csv`);
    expect(paths.filter((p) => !p.includes('secret'))).toEqual(thrice.slice(0, 190));
    expect(big.what.files.map((f) => f.first)).toEqual(big.what.files.map((f) => f.first).sort());
    // The final report's data items are the files of section 5, with the count of all.
    const dataItems = big.regulator.items.find((i) => i.key === 'data_items');
    expect(dataItems?.prefilled.map((s) => s.params['path'])).toEqual(paths);
    expect(dataItems?.prefilledTotal).toBe(612);
  });

  it('USB: storage first, and every device a shown pattern names, even past the limit (201 of 231)', () => {
    expect(big.who.usbTotal).toBe(231);
    expect(big.who.usb.map((d) => d.device)).toEqual([...Array.from({ length: 200 }, (_, j) => `KB${String(j).padStart(3, '0')}`), 'STICK-1']);
    expect(big.chart.sessionsTotal).toBe(231);
    expect(big.chart.sessions).toHaveLength(201);
    expect(big.chart.sessions.at(-1)).toMatchObject({ device: 'STICK-1', mass_storage: true });
  });

  it('logons: the first 1,000 in time order; the evidence index is exactly the records cited by what is shown', () => {
    expect(big.tables.logonsTotal).toBe(2504);
    expect(big.tables.logons).toHaveLength(1000);
    expect(big.tables.logons[0]?.time).toBe(es[0]?.datetime);
    const cited = new Set([...big.how.flatMap((p) => p.cites), ...big.integrity.gaps.flatMap((g) => g.cites), ...big.what.files.flatMap((f) => f.cites), ...big.who.usb.flatMap((d) => d.cites), ...big.when.excerpt.map((x) => x.cite)].map((c) => `${c.host}#${c.seq}`));
    expect(new Set(big.evidence.map((e) => `${e.host}#${e.seq}`))).toEqual(cited);
    expect(big.evidence.length).toBeLessThan(1000);
    const bySeq = new Map(es.map((e) => [e.seq, e]));
    for (const e of big.evidence) expect([e.sha256, e.message, e.store_id]).toEqual([bySeq.get(e.seq)?.record_sha256, bySeq.get(e.seq)?.message, 'store-1']);
  });

  it('the renderers say how many are shown of how many, and where all of them are, in both languages', () => {
    const en = renderMarkdown(big, 'en');
    const ja = renderMarkdown(big, 'ja');
    expect(en).toContain('Shown 200 of 308 users: the most active (logons, failed logons, file accesses), and every user a pattern names. All of them are in tables/logons.csv and tables/file-access.csv.');
    expect(en).toContain('Shown 200 of 1001 source addresses: those with the most logon attempts, and every one a pattern names. All of them are in tables/logons.csv.');
    expect(en).toContain('Shown 201 of 231 USB devices: storage devices first, then the most connected, and every device a pattern names. All of them are in tables/usb-devices.csv.');
    expect(en).toContain('Shown 200 of 612 files: the most accessed, and every file a pattern names. All of them are in tables/file-access.csv.');
    expect(en).toContain('Shown 203 of 234 patterns found, at most 200 of each kind (USB serial not seen before: 200 of 231)');
    expect(en).toContain('Shown 200 of 612 sensitive files (those of section 5); all of them are in tables/file-access.csv.');
    expect(en).toContain('shown 1000 of 2504; all of them are in tables/logons.csv');
    expect(ja).toContain('利用者 308 名中 200 名を掲載(ログオン・ログオン失敗・ファイルアクセスの多い順。パターンに現れる利用者はすべて含む)。全員分は tables/logons.csv と tables/file-access.csv を参照。');
    expect(ja).toContain('接続元 1001 件中 200 件を掲載(ログオン試行の多い順。パターンに現れる接続元はすべて含む)。全件は tables/logons.csv を参照。');
    expect(ja).toContain('USB機器 231 台中 201 台を掲載(記憶装置を優先し、接続回数の多い順。パターンに現れる機器はすべて含む)。全台分は tables/usb-devices.csv を参照。');
    expect(ja).toContain('ファイル 612 件中 200 件を掲載(アクセス数の多い順。パターンに現れるファイルはすべて含む)。全件は tables/file-access.csv を参照。');
    expect(ja).toContain('検出したパターン 234 件中 203 件を掲載(種類ごとに最大 200 件。初出のUSBシリアル 231 件中 200 件)。');
    expect(ja).toContain('2504 件中 1000 件を掲載。全件は tables/logons.csv を参照。');
    const html = renderHtml(big, 'ja');
    expect(html).toContain('<p class="cap">接続元 1001 件中 200 件を掲載');
    expect(html).toContain('<p class="cap">USB接続期間は 231 件中 201 件を図示(記憶装置とパターンに現れるものを優先)。全件は timeline/timeline.csv を参照。</p>');
    expect(renderHtml(big, 'en')).toContain('<p class="cap">Shown 200 of 612 files: the most accessed');
  });

  it('a smaller rowLimit cuts every list to it (plus what the patterns name)', () => {
    const small = buildReportModel({ manifest: bigManifest, entries: es }, { generatedAt: '2026-11-23T00:00:00.000000Z', sensitive: ['/srv/share/customers/**'], rowLimit: 5 });
    expect(small.how.filter((p) => p.code === 'new_usb_serial')).toHaveLength(5);
    expect(small.who.sources).toHaveLength(5);
    expect(small.who.users).toHaveLength(5);
    expect(small.what.files.map((f) => f.path)).toEqual(secrets.slice(0, 10)); // the pattern names ten
    expect(small.who.usb.map((d) => d.device)).toEqual(['KB000', 'KB001', 'KB002', 'KB003', 'KB004', 'STICK-1']);
    expect(small.regulator.items.find((i) => i.key === 'overview')?.prefilledTotal).toBe(2);
  });
});

describe('report model: lists no pattern names', () => {
  it('USB devices without serials: storage first, then the most connected; gaps: the earliest', () => {
    const es: TimelineEntry[] = [];
    let sec = 0;
    // Devices P0…P5 (no serial, so no new_usb_serial names them): P1 and P4 are storage; Pn connects n+1 times.
    for (let n = 0; n < 6; n++) {
      for (let c = 0; c <= n; c++) es.push(bigEntry(es.length, (sec += 10), 'usb.connect', { vendor_id: '1111', product_id: `000${n}`, ...(n === 1 || n === 4 ? { mass_storage: true } : {}) }));
    }
    for (let g = 0; g < 8; g++) es.push(bigEntry(es.length, (sec += 10), 'agent.gap', { source: 'file', path: `/var/log/a${g}.gz`, reason: 'truncated', detail: 'cut short' }));
    const m = buildReportModel({ manifest: bigManifest, entries: es }, { generatedAt: '2026-11-23T00:00:00.000000Z', rowLimit: 3 });
    expect(m.who.usbTotal).toBe(6);
    // Storage P4 (5 connects), P1 (2), then the most connected other, P5 (6); shown by first sighting.
    expect(m.who.usb.map((d) => d.device)).toEqual(['1111:0001 (no serial)', '1111:0004 (no serial)', '1111:0005 (no serial)']);
    expect(m.chart.sessionsTotal).toBe(21);
    expect(m.chart.sessions.every((x) => x.mass_storage)).toBe(true);
    expect(m.chart.sessions).toHaveLength(3);
    expect(m.integrity.gapsTotal).toBe(8);
    expect(m.integrity.gaps.map((g) => g.params['path'])).toEqual(['/var/log/a0.gz', '/var/log/a1.gz', '/var/log/a2.gz']);
    expect(m.howTotals).toEqual({ anti_forensics: 8 });
    expect(m.regulator.items.find((i) => i.key === 'other')?.prefilled.find((st) => st.code === 'item.other.gaps')?.params).toEqual({ gaps: 8 });
    expect(renderMarkdown(m, 'en')).toContain('Shown 3 of 8: the earliest, and every one a pattern cites. All of them are in tables/gaps.csv and timeline/timeline.csv.');
    expect(renderMarkdown(m, 'ja')).toContain('8 件中 3 件を掲載(古い順。パターンの根拠となるものはすべて含む)。全件は tables/gaps.csv と timeline/timeline.csv を参照。');
    expect(renderMarkdown(m, 'en')).toContain('Shown 3 of 6 USB devices');
    expect(renderMarkdown(m, 'en')).toContain('   - Shown 3 of 8: those that point to a wrongful purpose first, then the earliest.');
  });
});

describe('report model: maxEvents', () => {
  /** 30 file accesses, each after a heartbeat (not analysed), counting what the model pulled. */
  function counted(): { entries: Iterable<TimelineEntry>; pulled: () => number } {
    let pulled = 0;
    function* gen(): Generator<TimelineEntry> {
      for (let i = 0; i < 30; i++) {
        pulled++;
        yield bigEntry(2 * i, 2 * i, 'agent.heartbeat', { uptime_ms: i });
        pulled++;
        yield bigEntry(2 * i + 1, 2 * i + 1, 'file.access', { path: `/srv/f${i}`, operation: 'open', auid: '1000' });
      }
    }
    return { entries: gen(), pulled: () => pulled };
  }

  it('one event past the limit is E_REPORT_TOO_LARGE, thrown at once, naming the numbers, where the records are and how to raise it', () => {
    const input = counted();
    let err: unknown;
    try {
      buildReportModel({ manifest: bigManifest, entries: input.entries }, { generatedAt: '2026-11-23T00:00:00.000000Z', maxEvents: 20 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CustodyError);
    expect((err as CustodyError).code).toBe('E_REPORT_TOO_LARGE');
    const msg = (err as CustodyError).message;
    expect(msg).toContain('more than 20 events');
    expect(msg).toContain('21 of them in the first 42 timeline entries');
    expect(msg).toContain('over its limit of 20');
    expect(msg).toContain("every record is in the bundle's timeline/ (timeline.jsonl, timeline.csv) and tables/");
    expect(msg).toMatch(/`custody report <bundle> --max-events N`, which needs about [\d.]+ KB of memory per event/);
    // It stopped at the 21st file access (entry 42), not at the end of the timeline.
    expect(input.pulled()).toBe(42);
  });

  it('exactly maxEvents events is not too many', () => {
    const m = buildReportModel({ manifest: bigManifest, entries: counted().entries }, { generatedAt: '2026-11-23T00:00:00.000000Z', maxEvents: 30 });
    expect(m.what.filesTotal).toBe(30);
    expect(m.where.hosts[0]?.records).toBe(60);
  });
});
