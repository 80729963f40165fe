/**
 * The report model and its renderers on a real bundle with a known story (test/helpers/report-story.ts:
 * real fixture lines imported by the real import code, collected by `collectCase`): the model names
 * the serial, the files, the times, the users and the source address, and cites the right records
 * (host, seq, SHA-256 as in the timeline); the PPC deadlines are right across month and year ends,
 * and a final-report deadline on an administrative holiday moves to the next working day;
 * both languages render from the one model, and the HTML is self-contained.
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
import { buildReportModel, type Pattern, type ReportModel } from '../../src/report/model.js';
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
