/**
 * Deadlines of the report to Japan's Personal Information Protection Commission (個人情報保護委員会,
 * PPC) for a leak of personal data. Pure calendar arithmetic; no clock.
 *
 * The rule implemented (stated in every report, so a reader can check it):
 * - Act on the Protection of Personal Information (個人情報の保護に関する法律) Art. 26(1): a business
 *   must report a leak that falls under the Enforcement Rules (施行規則) Art. 7.
 * - Rules Art. 8(1): a prompt report (速報) "速やかに" after the business becomes aware; the PPC's
 *   General Guidelines (通則編) 3-5-3-3 read that as about 3–5 days (概ね3～5日以内). We give the
 *   3rd and the 5th day as the target window. It is guidance, not a deadline, so it is not moved.
 * - Rules Art. 8(2): the final report (確報) within 30 days, 60 days for a leak under Art. 7(iii)
 *   (done, or possibly done, with a wrongful purpose: unauthorised access, an insider taking data…).
 *   Counting (Guidelines 3-5-3-4): the day the business became aware is day 1, so day 30 is that
 *   date + 29 days, weekends and holidays included. When day 30 (60) is an administrative holiday
 *   (Saturday, Sunday, national holiday, 29 December – 3 January: 行政機関の休日に関する法律 Art. 1),
 *   the deadline is the next day that is not one (Art. 2, which the Guidelines apply).
 * - Days are calendar days in Japan Standard Time (UTC+09:00, no daylight saving): a discovery at
 *   2026-11-30T20:00Z is 2026-12-01 in Japan, and that is day 1.
 * These are computed reminders, not legal advice: the dates must be confirmed by the person filing.
 */
import { administrativeHolidayRun, HOLIDAY_YEARS, HolidayYearOutOfRange, type AdministrativeHoliday } from './jp-holidays.js';

export const JST_OFFSET_MINUTES = 9 * 60;

/** An administrative holiday the deadline was moved past. */
export type SkippedDay = { date: string } & AdministrativeHoliday;

export interface FinalDeadline<N extends 30 | 60> {
  /**
   * The deadline: day N, or the first day after it that is not an administrative holiday. When
   * `not_adjusted` is set it is day N unmoved, and must be checked by hand.
   */
  date: string;
  days: N;
  basis: string;
  /** Day N counted in calendar days (day 1 = the discovery day). */
  calendar_date: string;
  /** The administrative holidays from day N on, in order, that the deadline moved past; empty when day N is a working day. */
  skipped: SkippedDay[];
  /** Set when day N or a day after it is in a year whose holidays are not known here: nothing was moved. */
  not_adjusted?: { year: number; known_years: { from: number; to: number } };
  /**
   * Set when a day looked at (day N to the deadline) is in March or September of a year whose
   * equinox days were not yet proclaimed when the report was made: the date rests on the formula.
   */
  computed_equinox?: true;
}

export interface PpcDeadlines {
  /** The discovery time as given (UTC). */
  discovered_at: string;
  /** Its calendar date in Japan (day 1). */
  discovered_date_jst: string;
  prompt: { from_date: string; to_date: string; basis: string };
  final: FinalDeadline<30>;
  final_malicious: FinalDeadline<60>;
  /**
   * The last year whose equinox days had been proclaimed when the report was made; later ones are
   * computed. Undefined when no report time was given.
   */
  equinox_proclaimed_through?: number;
}

/** `YYYY-MM-DD` of an instant in a fixed UTC offset. */
export function dateInOffset(epochMs: number, offsetMinutes: number): string {
  return new Date(epochMs + offsetMinutes * 60_000).toISOString().slice(0, 10);
}

/** Adds calendar days to a `YYYY-MM-DD` date (month and year ends, leap years). */
export function addDays(date: string, days: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (m === null) throw new RangeError(`not a date: ${date}`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + days * 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

/** Day N (day 1 = `date`). */
export function dayN(date: string, n: number): string {
  return addDays(date, n - 1);
}

/** Parses an ISO 8601 time with a zone (Z or ±hh:mm); undefined when it is not one. */
export function parseInstant(iso: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(iso)) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The last year whose equinox days were proclaimed at `ms`. The almanac (暦要項) for year Y+1 is
 * published in the official gazette on the first working day of February of year Y; counting it
 * only from March keeps a report made in early February from claiming a proclamation it predates.
 */
export function equinoxProclaimedThrough(ms: number): number {
  const jst = new Date(ms + JST_OFFSET_MINUTES * 60_000);
  return jst.getUTCMonth() >= 2 ? jst.getUTCFullYear() + 1 : jst.getUTCFullYear();
}

const COUNTING_BASIS = "PPC General Guidelines 3-5-3-4 (day of awareness = day 1; calendar days, but a deadline on an administrative holiday moves to the next day that is not one); Act on Holidays of Administrative Organs (行政機関の休日に関する法律, Act No. 91 of 1988) Art. 1 (Saturdays, Sundays, national holidays, 29 Dec – 3 Jan) and Art. 2";

function equinoxBasis(through: number | undefined): string {
  return through === undefined ? 'equinox days are computed by formula and must be checked against the proclamation' : `equinox days after ${through} are computed, not yet proclaimed`;
}

/**
 * Whether a date's holiday status could change if the proclaimed equinox differed from the formula
 * by a day: the equinox (19–21 March, 22–24 September in 2022–2099) a day either side, and the days
 * that depend on it (a substitute holiday after it, the citizens' holiday before the autumnal one),
 * with a day to spare: 18–23 March and 20–26 September.
 */
function nearEquinox(date: string): boolean {
  const month = date.slice(5, 7);
  const day = Number(date.slice(8, 10));
  return (month === '03' && day >= 18 && day <= 23) || (month === '09' && day >= 20 && day <= 26);
}

function finalDeadline<N extends 30 | 60>(day1: string, days: N, basis: string, proclaimedThrough: number | undefined): FinalDeadline<N> {
  const calendar = dayN(day1, days);
  let skipped: SkippedDay[];
  try {
    skipped = administrativeHolidayRun(calendar);
  } catch (e) {
    if (!(e instanceof HolidayYearOutOfRange)) throw e;
    return { date: calendar, days, basis, calendar_date: calendar, skipped: [], not_adjusted: { year: e.year, known_years: { ...HOLIDAY_YEARS } } };
  }
  const date = addDays(calendar, skipped.length);
  // Day N to the deadline were each looked up; one near an equinox of a year not yet proclaimed rests on the formula.
  const looked = [...skipped.map((s) => s.date), date];
  const computedEquinox = looked.some((d) => nearEquinox(d) && (proclaimedThrough === undefined || Number(d.slice(0, 4)) > proclaimedThrough));
  return { date, days, basis, calendar_date: calendar, skipped, ...(computedEquinox ? { computed_equinox: true as const } : {}) };
}

/**
 * The deadlines for a discovery at `discoveredAt` (ISO 8601 with a zone); undefined when it is not
 * one. `reportedAt` (the report's own time) only says which equinox days were proclaimed by then.
 */
export function ppcDeadlines(discoveredAt: string, reportedAt?: string): PpcDeadlines | undefined {
  const ms = parseInstant(discoveredAt);
  if (ms === undefined) return undefined;
  const day1 = dateInOffset(ms, JST_OFFSET_MINUTES);
  const reportedMs = reportedAt !== undefined ? Date.parse(reportedAt) : Number.NaN;
  const through = Number.isNaN(reportedMs) ? undefined : equinoxProclaimedThrough(reportedMs);
  const counting = `${COUNTING_BASIS}; ${equinoxBasis(through)}`;
  return {
    discovered_at: new Date(ms).toISOString(),
    discovered_date_jst: day1,
    prompt: { from_date: dayN(day1, 3), to_date: dayN(day1, 5), basis: 'APPI Art. 26(1); Enforcement Rules Art. 8(1); PPC General Guidelines 3-5-3-3 (about 3–5 days; guidance, not moved for holidays)' },
    final: finalDeadline(day1, 30, `Enforcement Rules Art. 8(2); ${counting}`, through),
    final_malicious: finalDeadline(day1, 60, `Enforcement Rules Art. 8(2), for Art. 7(iii) (wrongful purpose, including suspected); ${counting}`, through),
    ...(through !== undefined ? { equinox_proclaimed_through: through } : {}),
  };
}
