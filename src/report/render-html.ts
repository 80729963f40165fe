/**
 * The report as one self-contained HTML file: inline CSS and a few lines of inline JS (table
 * sorting), an inline SVG timeline, readable printed. English or Japanese, from the model. Pure.
 *
 * Every value in the page came from a bundle someone else wrote, so (1) the page is built with the
 * `html` template (src/report/html.ts), which escapes every interpolated value, and (2) the
 * Content-Security-Policy allows no network resource at all and only the page's own script and
 * style, by their SHA-256 (no 'unsafe-inline'): markup that got through anyway could not run a
 * script or load anything. The verdict (INVALID, VALID, NOT VERIFIED) is the first thing in the
 * page, above the title.
 */
import { createHash } from 'node:crypto';
import { bootMarkersText, capNote, chainEndText, citeLabel, equinoxBasisText, focusText, stepText, finalDeadlineCell, finalDeadlineNote, fmtDate, fmtTime, howCapNote, namesCell, patternName, statementText, t, tCode, verdictTexts, windowParams, type Lang, type MessageKey } from './i18n.js';
import { esc, html, Html, joinHtml, type HtmlValue } from './html.js';
import type { Cite, ReportModel, Statement } from './model.js';
import { workingHoursText } from './render-md.js';
import { maxOf, minOf } from '../extremes.js';

export { esc };

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans CJK JP","Yu Gothic",sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#111;line-height:1.5}
h1{font-size:1.6em;border-bottom:2px solid #333}h2{font-size:1.25em;border-bottom:1px solid #999;margin-top:1.8em}h3{font-size:1.05em}
.draft{background:#fff8e1;border-left:4px solid #f0a000;padding:.5em 1em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em;width:100%}th,td{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#eee}table.sortable th{cursor:pointer;user-select:none}table.sortable th[aria-sort=ascending]::after{content:" ▲"}table.sortable th[aria-sort=descending]::after{content:" ▼"}
code,.cite{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}.cite{color:#555;white-space:nowrap}
.cap{color:#555;font-style:italic}.ok{color:#060;font-weight:bold}.bad{color:#b00;font-weight:bold}.todo{color:#b00;font-style:italic}.pattern{font-weight:bold;color:#900}
ul.stmts li{margin-bottom:.3em}svg{max-width:100%;height:auto;border:1px solid #ccc;background:#fff}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}tr,li{break-inside:avoid}table.sortable th::after{content:""!important}}
`;

const JS = `
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th,col){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      table.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort')});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
      var key=function(r){var c=r.cells[col];var v=c?(c.getAttribute('data-sort')||c.textContent||''):'';return v.trim()};
      rows.sort(function(a,b){var x=key(a),y=key(b);var nx=Number(x),ny=Number(y);
        var r=(x!==''&&y!==''&&!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?r:-r});
      rows.forEach(function(r){body.appendChild(r)});
    });
  });
});
`;

function citeHtml(cs: readonly Cite[], total: number, lang: Lang): Html {
  if (cs.length === 0) return html``;
  const more = total > cs.length ? (lang === 'ja' ? ` ほか${total - cs.length}件` : ` +${total - cs.length} more`) : '';
  const links = cs.map((c) => html`<a href="#${evidenceId(c.host, c.seq)}" title="sha256 ${c.sha256}">${citeLabel(c)}</a>`);
  return html` <span class="cite">[${joinHtml(links, ', ')}${more}]</span>`;
}

/** The id of an evidence index row (what a citation links to). */
function evidenceId(host: string, seq: number): string {
  return `ev-${host}-${seq}`;
}

interface Cell {
  html: HtmlValue;
  sort?: string;
}
type CellIn = HtmlValue | Cell;

function isCell(c: CellIn): c is Cell {
  return typeof c === 'object' && c !== null && !(c instanceof Html) && !Array.isArray(c);
}

function tableHtml(id: string, head: string[], rows: CellIn[][]): Html {
  const cell = (c: CellIn): Html => (isCell(c) ? (c.sort !== undefined ? html`<td data-sort="${c.sort}">${c.html}</td>` : html`<td>${c.html}</td>`) : html`<td>${c}</td>`);
  return html`<table class="sortable" id="${id}"><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map((r) => html`<tr>${r.map(cell)}</tr>`)}</tbody></table>`;
}

/** The paragraph under a list shown in part (nothing when it is shown whole). */
function capP(note: string | undefined): Html {
  return note !== undefined ? html`<p class="cap">${note}</p>` : html``;
}

function stmtLi(st: Statement & { host?: string; time?: string }, lang: Lang, prefix: HtmlValue = ''): Html {
  return html`<li>${prefix}${statementText(st, lang)}${citeHtml(st.cites, st.citesTotal, lang)}</li>`;
}

/** What ran's process ancestry: each run with its parent, grandparent … (parent first), each step cited. */
function ancestryHtml(model: ReportModel, lang: Lang): Html {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const T = (ts: string | undefined): string => fmtTime(ts, lang);
  const ran = model.ran;
  const head = html`<h4 id="ancestry">${L('trees')}</h4>`;
  if (ran.trees.length === 0) return html`${head}<p>${L('no_trees')}</p>`;
  return html`${head}<p>${L('trees_intro')}</p><p>${L('trees_boots', { list: bootMarkersText(ran, lang) })}</p>${ran.unmarkedHosts.length > 0 ? html`<p>${t('trees_unmarked', lang, { hosts: ran.unmarkedHosts })}</p>` : ''}${tableHtml(
    'trees',
    [L('program'), L('host'), L('why'), L('runs'), L('user'), L('first'), L('command_line'), L('ancestry'), L('evidence')],
    ran.trees.map((r) => [
      html`<code>${r.exe}</code>`,
      r.host,
      r.why.map((w) => tCode(`why.${w}`, lang)).join(', '),
      r.runs,
      r.user,
      T(r.first),
      r.command_line !== '' ? html`<code>${r.command_line}</code>` : '—',
      html`<ol class="chain">${r.chain.map((x) => html`<li><code>${x.exe}</code>${x.command_line !== '' ? html` <code>${x.command_line}</code>` : ''} (${stepText(x, lang)})${citeHtml([x.cite], 1, lang)}</li>`)}<li>${chainEndText(r.end, lang)}</li></ol>`,
      citeHtml(r.cites.slice(0, 3), r.runs, lang),
    ]),
  )}${capP(capNote('trees', ran.trees.length, ran.treesTotal, lang))}`;
}

/** Section 5's "What ran" and "Where data went" (values escaped by `html`; long ones already cut by the model). */
function ranAndWentHtml(model: ReportModel, lang: Lang): Html {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const T = (ts: string | undefined): string => fmtTime(ts, lang);
  const num = (x: number): Cell => ({ html: x.toLocaleString('en-US'), sort: String(x) });
  const b: Html[] = [html`<h3 id="ran">${L('ran')}</h3>`];
  const ran = model.ran;
  if (ran.runs === 0) b.push(html`<p>${L('no_runs')}</p>`);
  else {
    b.push(html`<p>${L('ran_intro', { runs: ran.runs, baseline: ran.baselineMinutes })}</p><p class="cap">${L('cut_note')}</p>`);
    const focus = focusText(ran, lang);
    if (focus !== undefined) b.push(html`<p><strong>${focus}</strong></p>`);
    if (ran.programs.length === 0) b.push(html`<p>${L('focus_none')}</p>`);
    else b.push(
      tableHtml(
        'programs',
        [L('program'), L('host'), L('tool'), L('runs'), L('failed'), L('users'), L('first'), L('last'), L('command_lines'), L('evidence')],
        ran.programs.map((r) => [
          html`<code>${r.exe}</code>${r.firstSeen ? html` <span class="pattern">(${L('first_seen')})</span>` : ''}`,
          r.host,
          r.tool !== undefined ? tCode(`tool.${r.tool}`, lang) : '',
          r.runs,
          r.failed,
          namesCell(r.users, r.usersTotal, lang),
          T(r.first),
          T(r.last),
          html`${joinHtml(r.commandLines.map((c) => html`<code>${c}</code>`), ' ')}${r.commandLinesTotal > r.commandLines.length ? ` +${r.commandLinesTotal - r.commandLines.length}` : ''}`,
          citeHtml(r.cites.slice(0, 3), r.runs, lang),
        ]),
      ),
    );
    b.push(capP(capNote('programs', ran.programs.length, ran.programsTotal, lang)));
  }
  b.push(html`<h4>${L('sensitive_commands')}</h4>`);
  if (!model.what.sensitiveConfigured) b.push(html`<p>${L('no_sensitive_given')}</p>`);
  else if (ran.commands.length === 0) b.push(html`<p>${L('no_sensitive_commands')}</p>`);
  else {
    b.push(tableHtml('commands', [L('time'), L('host'), L('user'), L('program'), L('parent'), L('command_line'), L('sensitive_paths'), L('evidence')], ran.commands.map((c) => [T(c.time), c.host, c.user, html`<code>${c.exe}</code>`, c.parent !== undefined ? html`<code>${c.parent}</code>` : '—', html`<code>${c.command_line}</code>`, c.paths.join(', '), citeHtml([c.cite], 1, lang)])));
    b.push(capP(capNote('commands', ran.commands.length, ran.commandsTotal, lang)));
  }
  b.push(ancestryHtml(model, lang));
  const went = model.went;
  b.push(html`<h3 id="went">${L('went')}</h3><p>${L('went_intro', { ranges: went.internalRanges.join(', ') })}</p>`);
  if (went.transfers.length === 0) b.push(html`<p>${L('no_transfers')}</p>`);
  else {
    b.push(
      tableHtml(
        'transfers',
        [L('destination'), L('ports'), L('methods'), L('requests'), L('request_bytes'), L('tunnel_bytes'), L('clients'), L('users'), L('logged_on'), L('first'), L('last'), L('evidence')],
        went.transfers.map((r) => [
          html`<code>${r.destination}</code>${r.address !== undefined && r.address !== r.destination ? html` (<code>${r.address}</code>)` : ''}${r.judgedBy === 'name' ? ` ${L('judged_by_name')}` : ''}`,
          r.ports.join(', '),
          r.methods.join(', '),
          r.requests,
          { html: html`${r.requestBytes.toLocaleString('en-US')}${r.uploadsWithoutSize > 0 ? ` (${L('no_size', { n: r.uploadsWithoutSize })})` : ''}`, sort: String(r.requestBytes) },
          num(r.tunnelBytes),
          r.clients.join(', '),
          r.users.join(', '),
          r.loggedOn.join(', '),
          T(r.first),
          T(r.last),
          citeHtml(r.cites.slice(0, 3), r.requests, lang),
        ]),
      ),
    );
    b.push(capP(capNote('transfers', went.transfers.length, went.transfersTotal, lang)));
  }
  b.push(html`<h4>${L('shares')}</h4>`);
  if (went.shares.length === 0) b.push(html`<p>${L('no_shares')}</p>`);
  else {
    b.push(
      tableHtml(
        'shares',
        [L('host'), L('share'), L('path'), L('client'), L('user'), L('count'), L('targets'), L('sensitive_col'), L('first'), L('last'), L('evidence')],
        went.shares.map((r) => [r.host, html`<code>${r.share}</code>`, r.share_path !== undefined ? html`<code>${r.share_path}</code>` : '', r.client ?? '—', r.user ?? '—', r.count, namesCell(r.targets, r.targetsTotal, lang), r.glob ?? '', T(r.first), T(r.last), citeHtml(r.cites.slice(0, 3), r.count, lang)]),
      ),
    );
    b.push(capP(capNote('shares', went.shares.length, went.sharesTotal, lang)));
  }
  return joinHtml(b, '');
}

/** A coordinate, to one decimal. */
function n1(v: number): string {
  return v.toFixed(1);
}

/** The SVG timeline: per host a lane with events per hour (bars), USB sessions (bars below), pattern marks. */
export function timelineSvg(model: ReportModel, lang: Lang): Html {
  const hosts = model.chart.hosts;
  const times: number[] = [];
  for (const h of model.chart.hourly) times.push(Date.parse(`${h.hour}:00:00Z`), Date.parse(`${h.hour}:00:00Z`) + 3_600_000);
  for (const s of model.chart.sessions) times.push(Date.parse(s.start), Date.parse(s.end ?? s.start));
  for (const m of model.chart.markers) times.push(Date.parse(m.time));
  const valid = times.filter((x) => !Number.isNaN(x));
  const W = 1000;
  const left = 120;
  const laneH = 84;
  const H = 30 + Math.max(1, hosts.length) * laneH + 20;
  if (valid.length === 0 || hosts.length === 0) return html`<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 60" role="img"><text x="10" y="30">—</text></svg>`;
  // The range: the relevant events (padded by an hour), else everything; what falls outside is not drawn.
  const first = model.when.first !== undefined ? Date.parse(model.when.first.time) : Number.NaN;
  const last = model.when.last !== undefined ? Date.parse(model.when.last.time) : Number.NaN;
  const focused = !Number.isNaN(first) && !Number.isNaN(last);
  const t0 = focused ? Math.floor(first / 3_600_000) * 3_600_000 - 3_600_000 : minOf(valid);
  const t1 = focused ? Math.ceil((last + 1) / 3_600_000) * 3_600_000 + 3_600_000 : maxOf(valid, t0 + 3_600_000);
  const inRange = (a: number, b: number): boolean => b >= t0 && a <= t1;
  const clip = (v: number): number => Math.min(Math.max(v, t0), t1);
  const x = (ms: number): number => left + ((ms - t0) / (t1 - t0)) * (W - left - 10);
  const maxCount = maxOf(model.chart.hourly.map((h) => h.count), 1);
  const parts: Html[] = [];
  // axis ticks
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const ms = t0 + ((t1 - t0) * i) / ticks;
    const xx = n1(x(ms));
    parts.push(html`<line x1="${xx}" y1="20" x2="${xx}" y2="${H - 18}" stroke="#ddd"/><text x="${xx}" y="${H - 4}" text-anchor="middle" fill="#444">${new Date(ms).toISOString().slice(5, 16).replace('T', ' ')}</text>`);
  }
  hosts.forEach((host, i) => {
    const top = 25 + i * laneH;
    const base = top + 40;
    const lane: Html[] = [];
    for (const h of model.chart.hourly.filter((r) => r.host === host)) {
      const start = Date.parse(`${h.hour}:00:00Z`);
      if (!inRange(start, start + 3_599_999)) continue;
      const bx = x(start);
      const bw = Math.max(1.5, x(start + 3_600_000) - bx - 0.5);
      const bh = Math.max(1, (h.count / maxCount) * 36);
      lane.push(html`<rect class="hour" x="${n1(bx)}" y="${n1(base - bh)}" width="${n1(bw)}" height="${n1(bh)}" fill="#4a78b5"><title>${`${host} ${h.hour}:00Z: ${h.count}`}</title></rect>`);
    }
    let row = 0;
    for (const s of model.chart.sessions.filter((r) => r.host === host)) {
      const a = Date.parse(s.start);
      const e = s.end !== undefined ? Date.parse(s.end) : t1; // still connected at the end of the evidence
      if (!inRange(a, e)) continue;
      const sx = x(clip(a));
      const ex = x(clip(e));
      const sy = base + 4 + (row++ % 3) * 9; // overlapping sessions on their own rows
      lane.push(html`<rect class="usb" x="${n1(sx)}" y="${sy}" width="${n1(Math.max(3, ex - sx))}" height="8" fill="${s.mass_storage ? '#2e9d4a' : '#999'}"><title>${`USB ${s.device}: ${fmtTime(s.start, lang)} – ${fmtTime(s.end, lang)}`}</title></rect>`);
    }
    for (const m of model.chart.markers.filter((r) => r.host === host)) {
      const mt = Date.parse(m.time);
      if (!inRange(mt, mt)) continue;
      lane.push(html`<path class="finding" d="M${n1(x(mt))} ${base + 32} l-5 9 h10 z" fill="#d00"><title>${`${patternName(m.code, lang)}: ${fmtTime(m.time, lang)}`}</title></path>`);
    }
    parts.push(html`<g class="lane" data-host="${host}"><text x="4" y="${top + 24}" fill="#111">${host.length > 16 ? `${host.slice(0, 15)}…` : host}</text><line x1="${left}" y1="${base}" x2="${W - 10}" y2="${base}" stroke="#999"/>${lane}</g>`);
  });
  return html`<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${t('s_timeline', lang)}" font-size="11" font-family="sans-serif">${parts}</svg>`;
}

/** The CSP source of an inline script or style: its SHA-256, as CSP Level 2 hash sources are written. */
export function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The page's policy: nothing from the network or any other origin, no plugin, no form, no base
 * URL, and only the one script and the one style block written here (by hash). Inline `style`
 * attributes are not allowed either (the page has none).
 */
export const CSP = `default-src 'none'; script-src ${cspHash(JS)}; style-src ${cspHash(CSS)}; img-src data:; base-uri 'none'; form-action 'none'`;

// Written as it is (readable, and what tests and people grep for): it is ours and holds nothing an attribute value must escape.
if (/["<>&]/.test(CSP)) throw new Error('the CSP would need escaping');
const CSP_ATTRIBUTE = new Html(CSP);

/** The verdict block that opens the page: INVALID / VALID / NOT VERIFIED, then what was not pinned. */
function verdictHtml(model: ReportModel, lang: Lang): Html {
  const v = verdictTexts(model, lang);
  const cls = model.verdict === 'valid' ? 'ok' : 'bad';
  return html`<div id="verdict" class="verdict verdict-${model.verdict}" role="alert"><p class="${cls}">${v.verdict}</p>${v.notes.map((n) => html`<p>${n}</p>`)}</div>`;
}

export function renderHtml(model: ReportModel, lang: Lang): string {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const T = (ts: string | undefined): Cell => ({ html: fmtTime(ts, lang), sort: ts ?? '' });
  const b: Html[] = [];
  b.push(verdictHtml(model, lang));
  b.push(html`<h1>${L('title')}: ${model.case.id}</h1>`);
  b.push(html`<p class="draft">${L('draft')}</p>`);
  b.push(html`<ul><li>${L('case')}: ${model.case.id}</li>${model.case.examiner ? html`<li>${L('examiner')}: ${model.case.examiner}</li>` : ''}`);
  b.push(html`<li>${L('sealed')}: ${fmtTime(model.collector.sealed_at, lang)}</li><li>${L('collector_key')}: <code>${model.collector.fingerprint}</code></li>`);
  if (model.manifestSha256) b.push(html`<li>${L('manifest')}: <code>${model.manifestSha256}</code></li>`);
  b.push(html`<li>${L('generated')}: ${fmtTime(model.generatedAt, lang)}</li></ul>`);

  // 1. integrity
  b.push(html`<section id="integrity"><h2>${L('s_integrity')}</h2>`);
  const now = model.integrity.now;
  if (now) {
    b.push(html`<p>${L('verified_now')}: <span class="${now.ok ? 'ok' : 'bad'}">${now.ok ? L('valid') : L('invalid')}</span></p><ul>`);
    b.push(html`<li>${L('tsa')}: ${now.tsa.status}${now.tsa.gen_time ? ` (${fmtTime(now.tsa.gen_time, lang)})` : ''}</li>`);
    if (now.custody) b.push(html`<li>${L('custody')}: ${now.custody.entries} (${now.custody.actions.join(', ')})${now.custody.head ? html` <code>${now.custody.head.index}:${now.custody.head.sha256}</code>` : ''}</li>`);
    for (const f of now.findings) b.push(html`<li class="${f.severity === 'error' ? 'bad' : ''}">${f.severity} <code>${f.code}</code> ${f.message} (${f.where})</li>`);
    b.push(html`</ul>`);
  } else b.push(html`<p>${L('verified_now_none')}</p>`);
  const rejected = model.integrity.rejected;
  if (rejected.count > 0) {
    b.push(
      html`<p class="bad" id="rejected-rows">${L('rejected_rows', { n: rejected.count })}</p><ul class="rejected">${rejected.shown.map((r) => html`<li class="bad">${r.severity} <code>${r.code}</code> <code>${r.where}</code> ${r.message}</li>`)}${rejected.count > rejected.shown.length ? html`<li>${L('rejected_more', { n: rejected.count - rejected.shown.length })}</li>` : ''}</ul>`,
    );
  }
  b.push(
    tableHtml(
      'integrity-hosts',
      [L('host'), L('store'), L('source'), L('records'), L('status'), L('sealed_to'), L('unsealed'), L('witness'), L('skew'), L('findings')],
      model.integrity.hosts.map((h) => [
        h.host,
        html`<code>${h.store_id}</code>`,
        h.source,
        h.records,
        html`<span class="${h.ok ? 'ok' : 'bad'}">${h.ok ? L('valid') : L('invalid')}</span>`,
        h.sealed ? `#${h.sealed.checkpoint_id}, seq ${h.window?.first_seq ?? 0}..${h.sealed.tree_size - 1}, ${fmtTime(h.sealed.time, lang)}${h.sealed.trusted_time ? ` (TSA ${fmtTime(h.sealed.trusted_time, lang)})` : ''}` : L('none'),
        h.unsealed ? `seq ${h.unsealed.from_seq}..${h.unsealed.to_seq} (${h.unsealed.count})` : L('none'),
        h.witness_size,
        h.clock_skew_ms !== undefined ? `${h.clock_skew_ms} ms` : '—',
        h.findings.length === 0 ? L('none') : joinHtml(h.findings.map((f) => html`${f.severity} <code>${f.code}</code>`), '; '),
      ]),
    ),
  );
  for (const h of model.integrity.hosts) if (h.window !== undefined) b.push(html`<p class="window">${L('window_note', windowParams(h, lang))}</p>`);
  b.push(html`<h3>${L('gaps')}</h3>`);
  if (model.integrity.gaps.length === 0) b.push(html`<p>${L('no_gaps')}</p>`);
  else b.push(html`<ul class="stmts">${model.integrity.gaps.map((g) => stmtLi(g, lang, `${g.host}: ${fmtTime(g.from, lang)} – ${fmtTime(g.until, lang)}: `))}</ul>`);
  b.push(capP(capNote('gaps', model.integrity.gaps.length, model.integrity.gapsTotal, lang)));
  b.push(html`</section>`);

  // chart
  b.push(html`<section id="chart"><h2>${L('s_timeline')}</h2>${timelineSvg(model, lang)}<p>${L('chart_caption')}</p>${capP(capNote('sessions', model.chart.sessions.length, model.chart.sessionsTotal, lang))}</section>`);

  // 2. when
  b.push(html`<section id="when"><h2>${L('s_when')}</h2><ul>`);
  b.push(html`<li>${L('first_event')}: ${model.when.first ? html`${fmtTime(model.when.first.time, lang)}${citeHtml([model.when.first], 1, lang)}` : '—'}</li>`);
  b.push(html`<li>${L('last_event')}: ${model.when.last ? html`${fmtTime(model.when.last.time, lang)}${citeHtml([model.when.last], 1, lang)}` : '—'}</li>`);
  b.push(html`<li>${L('discovered')}: ${model.when.discoveredAt ? fmtTime(model.when.discoveredAt, lang) : L('not_given')}</li></ul>`);
  b.push(html`<h3>${L('excerpt')}</h3><p>${L('excerpt_of', { n: model.when.excerpt.length, total: model.when.excerptTotal })}</p>`);
  b.push(
    tableHtml(
      'excerpt',
      [L('time'), L('host'), L('kind'), L('event'), L('evidence')],
      model.when.excerpt.map((x) => [T(x.time), x.host, x.kind, html`${x.message}${x.patterns.length > 0 ? html` <span class="pattern">(${x.patterns.map((p) => patternName(p, lang)).join(lang === 'ja' ? '、' : ', ')})</span>` : ''}`, citeHtml([x.cite], 1, lang)]),
    ),
  );
  b.push(html`</section>`);

  // 3. where
  b.push(html`<section id="where"><h2>${L('s_where')}</h2>`);
  b.push(tableHtml('hosts', [L('host'), L('records'), L('first'), L('last'), L('sources')], model.where.hosts.map((h) => [h.host, h.records, T(h.first), T(h.last), h.sources.join(', ')])));
  b.push(html`</section>`);

  // 4. who
  b.push(html`<section id="who"><h2>${L('s_who')}</h2>`);
  b.push(tableHtml('users', [L('user'), L('host'), L('logons'), L('failed'), L('file_accesses'), L('evidence')], model.who.users.map((u) => [u.user, u.hosts.join(', '), u.logons, u.failed, u.fileAccesses, citeHtml(u.cites.slice(0, 3), u.cites.length, lang)])));
  b.push(capP(capNote('users', model.who.users.length, model.who.usersTotal, lang)));
  b.push(tableHtml('sources', [L('from'), L('host'), L('successes'), L('failures'), L('users'), L('evidence')], model.who.sources.map((x) => [x.from, x.hosts.join(', '), x.successes, x.failures, namesCell(x.users, x.usersTotal, lang), citeHtml(x.cites.slice(0, 3), x.cites.length, lang)])));
  b.push(capP(capNote('sources', model.who.sources.length, model.who.sourcesTotal, lang)));
  b.push(html`<h3>${L('usb_devices')}</h3>`);
  b.push(
    tableHtml(
      'usb',
      [L('serial'), L('ids'), L('name'), L('mass_storage'), L('host'), L('first'), L('last'), L('connects'), L('evidence')],
      model.who.usb.map((d) => [d.serial ?? d.device, `${d.vendor_id ?? '????'}:${d.product_id ?? '????'}`, [d.manufacturer, d.product].filter(Boolean).join(' '), d.mass_storage ? L('yes') : L('no'), d.hosts.join(', '), T(d.first_seen), T(d.last_seen), d.connects, citeHtml(d.cites.slice(0, 2), d.cites.length, lang)]),
    ),
  );
  b.push(capP(capNote('usb', model.who.usb.length, model.who.usbTotal, lang)));
  b.push(html`</section>`);

  // 5. what
  b.push(html`<section id="what"><h2>${L('s_what')}</h2><p>${model.what.sensitiveConfigured ? L('files_sensitive', { globs: model.options.sensitive.join(', ') }) : L('files_all')}</p>`);
  if (model.what.files.length === 0) b.push(html`<p>${L('no_files')}</p>`);
  else
    b.push(
      tableHtml(
        'files',
        [L('path'), L('host'), L('count'), L('failed'), L('users'), L('operations'), L('first'), L('last'), L('evidence')],
        model.what.files.map((f) => [f.path, f.host, f.count, f.failed, namesCell(f.users, f.usersTotal, lang), f.operations.join(', '), T(f.first), T(f.last), citeHtml(f.cites.slice(0, 3), f.count, lang)]),
      ),
    );
  b.push(capP(capNote('files', model.what.files.length, model.what.filesTotal, lang)));
  if (model.what.otherFiles > 0) b.push(html`<p>${L('files_other', { n: model.what.otherFiles })}</p>`);
  b.push(ranAndWentHtml(model, lang));
  b.push(html`</section>`);

  // 6. how
  b.push(html`<section id="how"><h2>${L('s_how')}</h2><p>${L('options')}: ${L('usb_window', { n: model.options.usbWindowMinutes, f: model.options.failedLogonThreshold, w: model.options.bruteForceWindowMinutes })}. ${workingHoursText(model, lang)}</p>`);
  if (model.how.length === 0) b.push(html`<p>${L('no_patterns')}</p>`);
  else b.push(html`<ul class="stmts">${model.how.map((p) => stmtLi(p, lang, html`<span class="pattern">${patternName(p.code, lang)}</span>: `))}</ul>`);
  b.push(capP(howCapNote(model, lang)));
  b.push(html`</section>`);

  // 7. why
  b.push(html`<section id="why"><h2>${L('s_why')}</h2><ul class="stmts">${model.why.map((q) => stmtLi(q, lang))}</ul></section>`);

  // 8. regulator
  b.push(html`<section id="regulator"><h2>${L('s_reg')}</h2><p><strong>${L('rule')}</strong>: ${L('rule_text')}</p>`);
  const d = model.regulator.deadlines;
  if (d) {
    const rows: Array<[string, string]> = [
      [L('day1'), fmtDate(d.discovered_date_jst, lang)],
      [L('prompt'), L('between', { from: fmtDate(d.prompt.from_date, lang), to: fmtDate(d.prompt.to_date, lang) })],
      [L('final30'), finalDeadlineCell(d.final, lang)],
      [L('final60'), finalDeadlineCell(d.final_malicious, lang)],
    ];
    b.push(html`<table id="deadlines"><tbody>${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</tbody></table>`);
    const notes = ([[L('final30'), d.final], [L('final60'), d.final_malicious]] as const).flatMap(([label, f]) => {
      const note = finalDeadlineNote(f, lang);
      return note !== undefined ? [html`<li>${label}: ${note}</li>`] : [];
    });
    b.push(html`<ul class="deadline-notes">${notes}<li>${equinoxBasisText(d, lang)}</li></ul>`);
  } else b.push(html`<p>${L('no_deadlines')}</p>`);
  b.push(html`<h3>${L('triggers')}</h3><ul class="checklist">`);
  for (const c of model.regulator.checklist) {
    b.push(
      html`<li><input type="checkbox" disabled${c.evidence === 'indicated' ? html` checked` : ''}> ${L(`t_${c.key}`)}: <em>${c.evidence === 'indicated' ? L('indicated') : L('to_decide')}</em>${c.statement ? html` — ${statementText(c.statement, lang)}${citeHtml(c.statement.cites, c.statement.citesTotal, lang)}` : ''}</li>`,
    );
  }
  b.push(html`</ul><h3>${L('items')}</h3><ol class="items">`);
  for (const item of model.regulator.items) {
    const note = item.key === 'overview' || item.key === 'data_items' || item.key === 'cause' ? capNote(item.key, item.prefilled.length, item.prefilledTotal, lang) : undefined;
    b.push(html`<li><strong>${L(`i_${item.key}`)}</strong><ul class="stmts">${item.prefilled.map((st) => stmtLi(st, lang))}${note !== undefined ? html`<li class="cap">${note}</li>` : ''}${item.toComplete ? html`<li class="todo">${L('to_complete')}</li>` : ''}</ul></li>`);
  }
  b.push(html`</ol></section>`);

  // logons
  b.push(html`<section id="logons"><h2>${L('logon_table')}</h2><p>${L('logons_of', { n: model.tables.logons.length, total: model.tables.logonsTotal })}</p>`);
  b.push(
    tableHtml(
      'logon-table',
      [L('time'), L('host'), L('user'), L('from'), L('service'), L('action'), L('result'), L('evidence')],
      model.tables.logons.map((r) => [T(r.time), r.host, r.user ?? '—', r.from ?? '—', r.service, r.action, r.success ? L('ok') : html`<span class="bad">${L('fail')}</span>`, citeHtml([r.cite], 1, lang)]),
    ),
  );
  b.push(html`</section>`);

  // evidence index
  b.push(html`<section id="evidence"><h2>${L('s_evidence')}</h2>`);
  b.push(
    html`<table class="sortable" id="evidence-index"><thead><tr>${[L('ev_host'), L('ev_seq'), L('time'), L('kind'), L('ev_sha'), L('ev_msg')].map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${model.evidence.map(
      (e) => html`<tr id="${evidenceId(e.host, e.seq)}"><td>${e.host}</td><td>${e.seq}</td><td data-sort="${e.time}">${fmtTime(e.time, lang)}</td><td>${e.kind}</td><td><code>${e.sha256}</code></td><td>${e.message}</td></tr>`,
    )}</tbody></table></section>`,
  );

  const verdictWord = model.verdict === 'valid' ? 'VALID' : model.verdict === 'invalid' ? 'INVALID' : 'NOT VERIFIED';
  const page = html`<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP_ATTRIBUTE}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${verdictWord}: ${L('title')}: ${model.case.id}</title>
<style>${new Html(CSS)}</style>
</head>
<body>
${joinHtml(b.filter((part) => part.value !== ''), '\n')}
<script>${new Html(JS)}</script>
</body>
</html>
`;
  return page.value;
}
