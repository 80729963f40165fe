/**
 * The terminal sanitizer: every character that can control, reorder or hide terminal text comes
 * out as a visible escape, each value stays on its line, ordinary text (Japanese names, Windows
 * paths, emoji) is untouched, and the JSON form is exact JSON that parses back to the same value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeForTerminal, terminalJson, terminalLines } from '../../src/text/terminal.js';

// What a terminal may act on: C0, DEL, C1, format characters (bidi, zero-width, tags), separators, lone surrogates.
// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\u2028\u2029\u115f\u1160\u3164\uffa0\u180e]|\p{Cs}/u;

describe('escapeForTerminal', () => {
  it('the attacks: hidden text, a forged line, erase-line, CSI in C1, bidi override and isolates', () => {
    expect(escapeForTerminal('IR-1\u001b[8m hidden')).toBe('IR-1\\x1b[8m hidden');
    expect(escapeForTerminal('IR-1\nresult:       VALID')).toBe('IR-1\\nresult:       VALID');
    expect(escapeForTerminal('x\r\u001b[2Kresult: VALID')).toBe('x\\r\\x1b[2Kresult: VALID');
    expect(escapeForTerminal('a\u009b31mb\u007f')).toBe('a\\x9b31mb\\x7f');
    expect(escapeForTerminal('evil\u202etxt.exe')).toBe('evil\\u202etxt.exe');
    for (const cp of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(escapeForTerminal(String.fromCodePoint(cp))).toBe(`\\u${cp.toString(16)}`);
    }
  });

  it('invisible characters that make two values look the same: zero-width, BOM, soft hyphen, fillers, tags, separators', () => {
    expect(escapeForTerminal('SHA256:ab\u200bcd')).toBe('SHA256:ab\\u200bcd');
    expect(escapeForTerminal('\ufeffws-07\u00ad')).toBe('\\ufeffws-07\\xad');
    expect(escapeForTerminal('ws\u3164\u115f\u180e')).toBe('ws\\u3164\\u115f\\u180e');
    expect(escapeForTerminal('a\u2028b\u2029c\u200e\u200f\u061c')).toBe('a\\u2028b\\u2029c\\u200e\\u200f\\u061c');
    expect(escapeForTerminal('tag\u{e0041}\u{e007f}')).toBe('tag\\u{e0041}\\u{e007f}');
    expect(escapeForTerminal('lone \ud800 surrogate')).toBe('lone \\ud800 surrogate');
    expect(escapeForTerminal('tab\tnul\u0000')).toBe('tab\\tnul\\x00');
  });

  it('leaves ordinary text alone: Japanese, accents, emoji with joiners, Windows paths, quotes', () => {
    for (const s of ['佐藤 愛子, 株式会社例', 'Renée Müller', 'C:\\Windows\\System32\\winevt\\Logs', '"quoted" \'x\' <b>', 'SHA256:q1w2e3r4+/=']) {
      expect(escapeForTerminal(s)).toBe(s);
    }
  });

  it('no string, however built, keeps a raw unsafe character or adds a line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = escapeForTerminal(s);
        expect(RAW_UNSAFE.test(out)).toBe(false);
        expect(out.includes('\n')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('terminalLines and terminalJson', () => {
  it('one line per element, one newline at the end', () => {
    expect(terminalLines(['case:         IR-1\nresult:       VALID', 'result:       INVALID'])).toBe('case:         IR-1\\nresult:       VALID\nresult:       INVALID\n');
  });

  it('JSON.stringify passes DEL, C1, bidi, zero-width and U+2028 raw; terminalJson escapes them and stays exact JSON', () => {
    const value = { case: { id: 'IR\u001b[8m\u007f\u009b\u202e\u2066\u200b\u2028\u{e0041}\ud800' }, n: 1 };
    const plain = JSON.stringify(value, null, 2);
    // The premise: what JSON.stringify leaves raw.
    for (const raw of ['\u007f', '\u009b', '\u202e', '\u2066', '\u200b', '\u2028', '\u{e0041}']) expect(plain).toContain(raw);
    expect(plain).not.toContain('\u001b');
    const text = terminalJson(value);
    expect(text.endsWith('}\n')).toBe(true);
    expect(RAW_UNSAFE.test(text.replaceAll('\n', ''))).toBe(false);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('any value round-trips through terminalJson', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (v, s) => {
        const value = { v, s };
        const text = terminalJson(value);
        expect(RAW_UNSAFE.test(text.replaceAll('\n', ''))).toBe(false);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 1000 },
    );
  });
});
