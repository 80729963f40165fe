/**
 * HTML built so that a value from a bundle cannot become markup: `html` is a tagged template in
 * which every interpolated string or number is escaped, and only an `Html` (made by `html` itself)
 * is inserted as it is. Forgetting to escape is then impossible; escaping twice shows as `&amp;lt;`
 * in a test, which is visible, rather than as a script in the examiner's browser, which is not.
 *
 * One escape serves every context the report writes values into: element text (HTML and inline
 * SVG, which the HTML parser tokenizes the same way), and attribute values, always double-quoted
 * (`title`, `data-*`, `id`, and `href` fragments that always start with `#`, so no value can choose a
 * URL scheme). The page embeds no JSON and no value in `<script>` or `<style>`; a new context would
 * need its own escape here, not a string built beside this. Pure.
 */

import { escapeForTerminal } from '../text/terminal.js';

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What may be interpolated: text (escaped), markup made by `html`, lists of either; nothing for undefined/false/null. */
export type HtmlValue = string | number | Html | undefined | null | false | readonly HtmlValue[];

/**
 * Escapes text for an element's content or a double-quoted attribute value. Control, format (bidi
 * overrides, zero-width) and invisible characters are shown as escapes first (`\x1b`, `\u202e`):
 * inert in a browser, but a right-to-left override would still reorder what a reader sees.
 */
export function esc(s: string): string {
  return escapeForTerminal(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function part(v: HtmlValue): string {
  if (v === undefined || v === null || v === false) return '';
  if (v instanceof Html) return v.value;
  if (typeof v === 'number') return esc(String(v));
  if (typeof v === 'string') return esc(v);
  return v.map(part).join('');
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Joins fragments with a separator given as text (escaped). */
export function joinHtml(items: readonly HtmlValue[], sep: string): Html {
  return new Html(items.map(part).join(esc(sep)));
}
