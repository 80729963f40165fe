/**
 * The one sanitizer for text that reaches a terminal. Pure.
 *
 * Everything custody prints about evidence (case ids, host names, paths, actors, fingerprints,
 * times, finding messages that quote a bundle) may have been written by an attacker. A terminal
 * obeys what it is sent: `ESC[8m` hides the rest of a line, `ESC[2K\r` erases it, a newline starts
 * a forged `result: VALID` line, a right-to-left override (U+202E) reorders what follows, and
 * zero-width or filler characters make two different values look the same. So every character
 * that controls, reorders or hides text is shown as a visible escape instead:
 *
 * - C0 controls (U+0000–U+001F, including ESC, newline, CR and tab), DEL and C1 controls
 *   (U+0080–U+009F, CSI among them): `\n`, `\r`, `\t`, else `\xHH`;
 * - every Unicode format character (category Cf: bidi embeddings, overrides and isolates
 *   U+202A–U+202E and U+2066–U+2069, LRM/RLM/ALM, zero-width space/joiners, word joiner and the
 *   invisible operators, BOM, soft hyphen, interlinear annotations, tag characters…), the line and
 *   paragraph separators U+2028/U+2029, lone surrogates, and the Hangul fillers and Mongolian
 *   vowel separator that render as nothing: `\uHHHH`, or `\u{HHHHH}` beyond the BMP.
 *
 * The escapes are applied per output line (`terminalLines`), so no value, however it is spliced
 * into a line, can add a line or carry a control through; our own text has none to lose.
 *
 * A backslash is left as it is: escaping it would print every Windows path doubled, and a value
 * that spells `\x1b` literally hides and reorders nothing, it only looks like an escaped one (which
 * is what it is shown as either way). `--json` output keeps exact JSON (`terminalJson`):
 * JSON.stringify escapes C0 controls and lone surrogates but passes DEL, C1, the bidi and other
 * format characters and U+2028/U+2029 through raw, so those are written as `\uXXXX` escapes,
 * which parse back to the very same strings.
 */

// Hangul choseong/jungseong fillers, Hangul filler, halfwidth Hangul filler, Mongolian vowel
// separator (Cf in older Unicode versions only): letters by category, blank on screen.
const INVISIBLE_LETTERS = '\u115f\u1160\u3164\uffa0\u180e';

const UNSAFE = new RegExp(`[\\p{Cc}\\p{Cf}\\p{Cs}\\u2028\\u2029${INVISIBLE_LETTERS}]`, 'gu');

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  if (cp < 0x100) return `\\x${hex(cp, 2)}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`;
  return `\\u{${hex(cp, 5)}}`;
}

/** `value` with every character that could control, reorder or hide terminal text shown as an escape. */
export function escapeForTerminal(value: string): string {
  return value.replace(UNSAFE, escapeChar);
}

/**
 * Lines of a text report, each sanitized, joined with newlines and ending with one: the form every
 * text formatter that prints evidence returns. A line given with a newline inside shows it as `\n`.
 */
export function terminalLines(lines: readonly string[]): string {
  return `${lines.map(escapeForTerminal).join('\n')}\n`;
}

// Outside strings JSON text is ASCII, so these can only occur inside strings, where `\uXXXX` is
// the same character to every parser.
const JSON_UNSAFE = new RegExp(`[\\u007f-\\u009f\\p{Cf}\\u2028\\u2029${INVISIBLE_LETTERS}]`, 'gu');

function jsonEscape(ch: string): string {
  let out = '';
  for (let i = 0; i < ch.length; i++) out += `\\u${hex(ch.charCodeAt(i), 4)}`;
  return out;
}

/** `JSON.stringify(value, null, 2)` plus a newline, with the characters JSON leaves raw escaped: still exact JSON. */
export function terminalJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2).replace(JSON_UNSAFE, jsonEscape)}\n`;
}
