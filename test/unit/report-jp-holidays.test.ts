/**
 * Japan's national and administrative holidays (src/report/jp-holidays.ts): the holidays of 2026 and
 * 2027 are exactly the Cabinet Office's published lists (every other day of those years is not a
 * holiday), the equinox formula gives the days proclaimed for 2022–2027, substitute and citizens'
 * holidays follow the Act, the year-end closure and weekends are administrative holidays, and a year
 * outside 2022–2099 is refused rather than answered.
 */
import { describe, expect, it } from 'vitest';
import { addDays } from '../../src/report/deadlines.js';
import {
  administrativeHolidayRun,
  equinoxDays,
  HolidayYearOutOfRange,
  isAdministrativeHoliday,
  isJapaneseNationalHoliday,
  nationalHolidaysOf,
  nextAdministrativeWorkday,
} from '../../src/report/jp-holidays.js';

// 内閣府「国民の祝日について」: the published lists of 2026 and 2027 (休日 = 振替休日 or 国民の休日).
const CABINET_OFFICE: Record<number, Record<string, string>> = {
  2026: {
    '2026-01-01': '元日',
    '2026-01-12': '成人の日',
    '2026-02-11': '建国記念の日',
    '2026-02-23': '天皇誕生日',
    '2026-03-20': '春分の日',
    '2026-04-29': '昭和の日',
    '2026-05-03': '憲法記念日',
    '2026-05-04': 'みどりの日',
    '2026-05-05': 'こどもの日',
    '2026-05-06': '振替休日',
    '2026-07-20': '海の日',
    '2026-08-11': '山の日',
    '2026-09-21': '敬老の日',
    '2026-09-22': '国民の休日',
    '2026-09-23': '秋分の日',
    '2026-10-12': 'スポーツの日',
    '2026-11-03': '文化の日',
    '2026-11-23': '勤労感謝の日',
  },
  2027: {
    '2027-01-01': '元日',
    '2027-01-11': '成人の日',
    '2027-02-11': '建国記念の日',
    '2027-02-23': '天皇誕生日',
    '2027-03-21': '春分の日',
    '2027-03-22': '振替休日',
    '2027-04-29': '昭和の日',
    '2027-05-03': '憲法記念日',
    '2027-05-04': 'みどりの日',
    '2027-05-05': 'こどもの日',
    '2027-07-19': '海の日',
    '2027-08-11': '山の日',
    '2027-09-20': '敬老の日',
    '2027-09-23': '秋分の日',
    '2027-10-11': 'スポーツの日',
    '2027-11-03': '文化の日',
    '2027-11-23': '勤労感謝の日',
  },
};

describe('national holidays', () => {
  for (const year of [2026, 2027]) {
    it(`${year}: every day of the year agrees with the Cabinet Office's list`, () => {
      const expected = CABINET_OFFICE[year]!;
      const got: Record<string, string> = {};
      for (let d = `${year}-01-01`; d.startsWith(String(year)); d = addDays(d, 1)) {
        const h = isJapaneseNationalHoliday(d);
        if (h !== undefined) got[d] = h.ja;
      }
      expect(got).toEqual(expected);
      expect(Object.fromEntries([...nationalHolidaysOf(year)].map(([d, h]) => [d, h.ja]))).toEqual(expected);
    });
  }

  it('names each holiday in both languages and says what kind it is', () => {
    expect(isJapaneseNationalHoliday('2026-10-12')).toEqual({ kind: 'statutory', ja: 'スポーツの日', en: 'Sports Day' });
    expect(isJapaneseNationalHoliday('2026-05-06')).toMatchObject({ kind: 'substitute', ja: '振替休日' });
    expect(isJapaneseNationalHoliday('2026-09-22')).toMatchObject({ kind: 'citizens', ja: '国民の休日' });
    expect(isJapaneseNationalHoliday('2026-12-29')).toBeUndefined(); // closed, but not a national holiday
  });

  it('the equinox formula gives the days proclaimed for 2022–2027', () => {
    const proclaimed = { 2022: [21, 23], 2023: [21, 23], 2024: [20, 22], 2025: [20, 23], 2026: [20, 23], 2027: [21, 23] };
    for (const [y, [vernal, autumnal]] of Object.entries(proclaimed)) expect(equinoxDays(Number(y))).toEqual({ vernal, autumnal });
  });

  it('every year 2022–2099: 16 named holidays; substitutes only after a Sunday holiday; citizens\' holidays only between two named ones', () => {
    for (let y = 2022; y <= 2099; y++) {
      const all = [...nationalHolidaysOf(y)];
      expect(all.filter(([, h]) => h.kind === 'statutory')).toHaveLength(16);
      for (const [d, h] of all) {
        if (h.kind === 'substitute') {
          // Back from it, named holidays only, down to a named holiday on a Sunday.
          let back = addDays(d, -1);
          for (; new Date(`${back}T00:00:00Z`).getUTCDay() !== 0; back = addDays(back, -1)) expect(isJapaneseNationalHoliday(back)?.kind, d).toBe('statutory');
          expect(isJapaneseNationalHoliday(back)?.kind, d).toBe('statutory');
        }
        if (h.kind === 'citizens') {
          expect(isJapaneseNationalHoliday(addDays(d, -1))?.kind, d).toBe('statutory');
          expect(isJapaneseNationalHoliday(addDays(d, 1))?.kind, d).toBe('statutory');
        }
      }
    }
  });

  it('refuses years it does not know instead of answering "not a holiday"', () => {
    expect(() => isJapaneseNationalHoliday('2021-07-23')).toThrow(HolidayYearOutOfRange); // the Olympic move: not guessed
    expect(() => isAdministrativeHoliday('2100-01-04')).toThrow(HolidayYearOutOfRange);
    expect(() => nationalHolidaysOf(2100)).toThrow(/2022–2099/);
    expect(() => isJapaneseNationalHoliday('2026-02-30')).toThrow(RangeError);
    expect(() => isJapaneseNationalHoliday('2026-2-3')).toThrow(/not a date/);
  });
});

describe('administrative holidays (行政機関の休日に関する法律 Art. 1)', () => {
  it('Saturdays, Sundays, national holidays and 29 December – 3 January, with the reason', () => {
    expect(isAdministrativeHoliday('2026-12-26')).toEqual({ reason: 'saturday' });
    expect(isAdministrativeHoliday('2026-12-27')).toEqual({ reason: 'sunday' });
    expect(isAdministrativeHoliday('2026-12-28')).toBeUndefined();
    expect(isAdministrativeHoliday('2026-12-29')).toEqual({ reason: 'year_end_closure' });
    expect(isAdministrativeHoliday('2027-01-01')).toMatchObject({ reason: 'national_holiday', holiday: { ja: '元日' } });
    expect(isAdministrativeHoliday('2027-01-02')).toEqual({ reason: 'year_end_closure' }); // also a Saturday
    expect(isAdministrativeHoliday('2027-01-04')).toBeUndefined();
    expect(isAdministrativeHoliday('2026-11-23')).toMatchObject({ reason: 'national_holiday', holiday: { en: 'Labour Thanksgiving Day' } });
  });

  it('the run of closed days from a date, and the next working day after a date', () => {
    expect(administrativeHolidayRun('2026-12-28')).toEqual([]);
    expect(administrativeHolidayRun('2026-12-30').map((d) => d.date)).toEqual(['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02', '2027-01-03']);
    expect(nextAdministrativeWorkday('2026-12-28')).toBe('2027-01-04');
    expect(nextAdministrativeWorkday('2026-12-24')).toBe('2026-12-25');
    expect(nextAdministrativeWorkday('2026-05-01')).toBe('2026-05-07'); // Golden Week with its substitute day
    expect(nextAdministrativeWorkday('2026-09-18')).toBe('2026-09-24'); // the September week
    expect(() => nextAdministrativeWorkday('2099-12-28')).toThrow(HolidayYearOutOfRange);
  });
});
