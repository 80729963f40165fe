/**
 * Deadlines of the report to Japan's Personal Information Protection Commission (個人情報保護委員会,
 * PPC) for a leak of personal data. Pure calendar arithmetic; no clock.
 *
 * The rule implemented (stated in every report, so a reader can check it):
 * - Act on the Protection of Personal Information (個人情報の保護に関する法律) Art. 26(1): a business
 *   must report a leak that falls under the Enforcement Rules (施行規則) Art. 7.
 * - Rules Art. 8(1): a prompt report (速報) "速やかに" after the business becomes aware; the PPC's
 *   General Guidelines (通則編) 3-5-3-3 read that as about 3–5 days (概ね3～5日以内). We give the
 *   3rd and the 5th day as the target window.
 * - Rules Art. 8(2): the final report (確報) within 30 days, 60 days for a leak under Art. 7(iii)
 *   (done, or possibly done, with a wrongful purpose: unauthorised access, an insider taking data…).
 *   Counting: the day the business became aware is day 1 (the guidelines, 3-5-3-4), so day 30 is
 *   that date + 29 days. A deadline on a weekend or holiday is not moved.
 * - Days are calendar days in Japan Standard Time (UTC+09:00, no daylight saving): a discovery at
 *   2026-11-30T20:00Z is 2026-12-01 in Japan, and that is day 1.
 * These are computed reminders, not legal advice: the dates must be confirmed by the person filing.
 */

export const JST_OFFSET_MINUTES = 9 * 60;

export interface PpcDeadlines {
  /** The discovery time as given (UTC). */
  discovered_at: string;
  /** Its calendar date in Japan (day 1). */
  discovered_date_jst: string;
  prompt: { from_date: string; to_date: string; basis: string };
  final: { date: string; days: 30; basis: string };
  final_malicious: { date: string; days: 60; basis: string };
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

export function ppcDeadlines(discoveredAt: string): PpcDeadlines | undefined {
  const ms = parseInstant(discoveredAt);
  if (ms === undefined) return undefined;
  const day1 = dateInOffset(ms, JST_OFFSET_MINUTES);
  return {
    discovered_at: new Date(ms).toISOString(),
    discovered_date_jst: day1,
    prompt: { from_date: dayN(day1, 3), to_date: dayN(day1, 5), basis: 'APPI Art. 26(1); Enforcement Rules Art. 8(1); PPC General Guidelines 3-5-3-3 (about 3–5 days)' },
    final: { date: dayN(day1, 30), days: 30, basis: 'Enforcement Rules Art. 8(2); PPC General Guidelines 3-5-3-4 (day of awareness = day 1)' },
    final_malicious: { date: dayN(day1, 60), days: 60, basis: 'Enforcement Rules Art. 8(2), for Art. 7(iii) (wrongful purpose, including suspected)' },
  };
}
