/**
 * Japan's national holidays and the administrative holidays (行政機関の休日) that move a deadline
 * for a notification to a national administrative organ. Pure calendar arithmetic; no clock.
 *
 * - National holidays: 国民の祝日に関する法律 (Act No. 178 of 1948) as in force from 2020 on
 *   (天皇誕生日 on 23 February since 2020, スポーツの日 since 2020). Art. 3(2): a holiday on a Sunday
 *   makes the nearest following day that is not a holiday a holiday (振替休日). Art. 3(3): a day
 *   whose previous and next days are both holidays (国民の祝日) is a holiday (国民の休日).
 * - Administrative holidays: 行政機関の休日に関する法律 (Act No. 91 of 1988) Art. 1(1): Saturdays,
 *   Sundays, the holidays above, and 29 December to 3 January.
 *
 * Years are limited to 2022 (the reporting duty began on 1 April 2022, so no deadline falls
 * earlier) to 2099 (the equinox formula's range). Outside them every function throws
 * `HolidayYearOutOfRange` rather than answer "not a holiday": a deadline computed from a guess
 * would be a wrong date that looks right. The 2020 and 2021 Olympic moves are out of range anyway.
 *
 * The equinox days are not fixed by the Act: the National Astronomical Observatory computes them and
 * the Cabinet proclaims them in the official gazette (官報, 暦要項) each February for the following
 * year only. For years not yet proclaimed the standard formula below is a prediction, and a special
 * law may still move any holiday, so the deadline module says which dates rest on it.
 */

export const HOLIDAY_YEARS = { from: 2022, to: 2099 } as const;

export class HolidayYearOutOfRange extends RangeError {
  constructor(readonly year: number) {
    super(`Japanese holidays are known for ${HOLIDAY_YEARS.from}–${HOLIDAY_YEARS.to} only, not ${year}`);
    this.name = 'HolidayYearOutOfRange';
  }
}

export interface NationalHoliday {
  /** `statutory`: named in the Act's Art. 2; `substitute`: 振替休日 (Art. 3(2)); `citizens`: 国民の休日 (Art. 3(3)). */
  kind: 'statutory' | 'substitute' | 'citizens';
  ja: string;
  en: string;
}

export type AdministrativeHolidayReason = 'national_holiday' | 'year_end_closure' | 'saturday' | 'sunday';

export interface AdministrativeHoliday {
  /**
   * The most telling reason when several hold (1 January is a national holiday, in the closure and
   * maybe a Sunday): a named holiday first, then the year-end closure, then the day of the week.
   */
  reason: AdministrativeHolidayReason;
  /** Set when `reason` is `national_holiday`. */
  holiday?: NationalHoliday;
}

const DAY_MS = 86_400_000;

function parseDate(date: string): { y: number; m: number; d: number; ms: number } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (match === null) throw new RangeError(`not a date: ${date}`);
  const y = Number(match[1]);
  const m = Number(match[2]);
  const d = Number(match[3]);
  const ms = Date.UTC(y, m - 1, d);
  // Date.UTC rolls 2026-02-30 over to March: such a string is not a date.
  if (new Date(ms).toISOString().slice(0, 10) !== date) throw new RangeError(`not a date: ${date}`);
  return { y, m, d, ms };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function ymd(y: number, m: number, d: number): string {
  return iso(Date.UTC(y, m - 1, d));
}

/** Day of the month of the `n`th Monday of a month (ハッピーマンデー制度). */
function nthMonday(y: number, m: number, n: number): number {
  const firstDow = new Date(Date.UTC(y, m - 1, 1)).getUTCDay();
  return 1 + ((8 - firstDow) % 7) + 7 * (n - 1);
}

/**
 * Day of March (春分) and September (秋分) of the equinox days by the formula commonly used for
 * 1980–2099; it gives the days proclaimed for 2022–2027. Only the proclamation is authoritative.
 */
export function equinoxDays(y: number): { vernal: number; autumnal: number } {
  const k = y - 1980;
  const leap = Math.floor(k / 4);
  return { vernal: Math.floor(20.8431 + 0.242194 * k - leap), autumnal: Math.floor(23.2488 + 0.242194 * k - leap) };
}

function statutory(ja: string, en: string): NationalHoliday {
  return { kind: 'statutory', ja, en };
}

const SUBSTITUTE: NationalHoliday = { kind: 'substitute', ja: '振替休日', en: 'Substitute holiday' };
const CITIZENS: NationalHoliday = { kind: 'citizens', ja: '国民の休日', en: "Citizens' holiday" };

const byYear = new Map<number, ReadonlyMap<string, NationalHoliday>>();

function checkYear(y: number): void {
  if (!Number.isInteger(y) || y < HOLIDAY_YEARS.from || y > HOLIDAY_YEARS.to) throw new HolidayYearOutOfRange(y);
}

/** Every national holiday of a year, by date. */
export function nationalHolidaysOf(y: number): ReadonlyMap<string, NationalHoliday> {
  checkYear(y);
  const cached = byYear.get(y);
  if (cached !== undefined) return cached;
  const eq = equinoxDays(y);
  const fixed: Array<[string, NationalHoliday]> = [
    [ymd(y, 1, 1), statutory('元日', "New Year's Day")],
    [ymd(y, 1, nthMonday(y, 1, 2)), statutory('成人の日', 'Coming of Age Day')],
    [ymd(y, 2, 11), statutory('建国記念の日', 'National Foundation Day')],
    [ymd(y, 2, 23), statutory('天皇誕生日', "Emperor's Birthday")],
    [ymd(y, 3, eq.vernal), statutory('春分の日', 'Vernal Equinox Day')],
    [ymd(y, 4, 29), statutory('昭和の日', 'Showa Day')],
    [ymd(y, 5, 3), statutory('憲法記念日', 'Constitution Memorial Day')],
    [ymd(y, 5, 4), statutory('みどりの日', 'Greenery Day')],
    [ymd(y, 5, 5), statutory('こどもの日', "Children's Day")],
    [ymd(y, 7, nthMonday(y, 7, 3)), statutory('海の日', 'Marine Day')],
    [ymd(y, 8, 11), statutory('山の日', 'Mountain Day')],
    [ymd(y, 9, nthMonday(y, 9, 3)), statutory('敬老の日', 'Respect for the Aged Day')],
    [ymd(y, 9, eq.autumnal), statutory('秋分の日', 'Autumnal Equinox Day')],
    [ymd(y, 10, nthMonday(y, 10, 2)), statutory('スポーツの日', 'Sports Day')],
    [ymd(y, 11, 3), statutory('文化の日', 'Culture Day')],
    [ymd(y, 11, 23), statutory('勤労感謝の日', 'Labour Thanksgiving Day')],
  ];
  const named = new Map(fixed);
  const all = new Map(named);
  // Art. 3(2): the substitute is the nearest later day that is not itself a named holiday (5/3 on a
  // Sunday gives 5/6). No holiday falls late enough in December for this to leave the year.
  for (const [date] of fixed) {
    let ms = parseDate(date).ms;
    if (new Date(ms).getUTCDay() !== 0) continue;
    do ms += DAY_MS;
    while (named.has(iso(ms)));
    all.set(iso(ms), SUBSTITUTE);
  }
  // Art. 3(3): only named holidays (国民の祝日) on both sides count, not substitutes; today this gives
  // the September day between 敬老の日 and 秋分の日 in some years.
  for (const [date] of fixed) {
    const between = iso(parseDate(date).ms + DAY_MS);
    if (!all.has(between) && named.has(iso(parseDate(date).ms + 2 * DAY_MS))) all.set(between, CITIZENS);
  }
  const sorted = new Map([...all.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  byYear.set(y, sorted);
  return sorted;
}

/** The national holiday on `date` (`YYYY-MM-DD`), or undefined; throws `HolidayYearOutOfRange` outside 2022–2099. */
export function isJapaneseNationalHoliday(date: string): NationalHoliday | undefined {
  const { y } = parseDate(date);
  return nationalHolidaysOf(y).get(date);
}

/** Why `date` is an administrative holiday (行政機関の休日), or undefined on a working day; throws outside 2022–2099. */
export function isAdministrativeHoliday(date: string): AdministrativeHoliday | undefined {
  const { m, d, ms } = parseDate(date);
  const holiday = isJapaneseNationalHoliday(date);
  if (holiday !== undefined) return { reason: 'national_holiday', holiday };
  if ((m === 12 && d >= 29) || (m === 1 && d <= 3)) return { reason: 'year_end_closure' };
  const dow = new Date(ms).getUTCDay();
  if (dow === 6) return { reason: 'saturday' };
  if (dow === 0) return { reason: 'sunday' };
  return undefined;
}

/**
 * The administrative holidays in a row from `date` on (empty when `date` is a working day): what a
 * deadline on `date` moves past. Throws `HolidayYearOutOfRange` if the run reaches an unknown year.
 */
export function administrativeHolidayRun(date: string): Array<{ date: string } & AdministrativeHoliday> {
  const run: Array<{ date: string } & AdministrativeHoliday> = [];
  let ms = parseDate(date).ms;
  for (;;) {
    const day = iso(ms);
    const closed = isAdministrativeHoliday(day);
    if (closed === undefined) return run;
    run.push({ date: day, ...closed });
    ms += DAY_MS;
  }
}

/** The first day after `date` that is not an administrative holiday; throws outside 2022–2099. */
export function nextAdministrativeWorkday(date: string): string {
  const next = iso(parseDate(date).ms + DAY_MS);
  return iso(parseDate(next).ms + administrativeHolidayRun(next).length * DAY_MS);
}
