/**
 * The report as one self-contained HTML file: inline CSS and a few lines of inline JS (table
 * sorting), an inline SVG timeline, no network resource of any kind (a Content-Security-Policy
 * forbids them too), readable printed. English or Japanese, from the model. Pure.
 */
import { capNote, citeLabel, equinoxBasisText, finalDeadlineCell, finalDeadlineNote, fmtDate, fmtTime, howCapNote, namesCell, patternName, statementText, t, type Lang } from './i18n.js';
import type { Cite, ReportModel, Statement } from './model.js';
import { workingHoursText } from './render-md.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

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

function citeHtml(cs: readonly Cite[], total: number, lang: Lang): string {
  if (cs.length === 0) return '';
  const more = total > cs.length ? (lang === 'ja' ? ` ほか${total - cs.length}件` : ` +${total - cs.length} more`) : '';
  return ` <span class="cite">[${cs.map((c) => `<a href="#ev-${esc(c.host)}-${c.seq}" title="sha256 ${c.sha256}">${esc(citeLabel(c))}</a>`).join(', ')}${esc(more)}]</span>`;
}

interface Cell {
  html: string;
  sort?: string;
}
type CellIn = string | Cell;

function tableHtml(id: string, head: string[], rows: CellIn[][]): string {
  const cell = (c: CellIn): string => (typeof c === 'string' ? `<td>${c}</td>` : `<td${c.sort !== undefined ? ` data-sort="${esc(c.sort)}"` : ''}>${c.html}</td>`);
  return `<table class="sortable" id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The paragraph under a list shown in part (nothing when it is shown whole). */
function capP(note: string | undefined): string {
  return note !== undefined ? `<p class="cap">${esc(note)}</p>` : '';
}

function stmtLi(st: Statement & { host?: string; time?: string }, lang: Lang, prefix = ''): string {
  return `<li>${prefix}${esc(statementText(st, lang))}${citeHtml(st.cites, st.citesTotal, lang)}</li>`;
}

/** The SVG timeline: per host a lane with events per hour (bars), USB sessions (bars below), pattern marks. */
export function timelineSvg(model: ReportModel, lang: Lang): string {
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
  if (valid.length === 0 || hosts.length === 0) return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 60" role="img"><text x="10" y="30">—</text></svg>`;
  // The range: the relevant events (padded by an hour), else everything; what falls outside is not drawn.
  const first = model.when.first !== undefined ? Date.parse(model.when.first.time) : Number.NaN;
  const last = model.when.last !== undefined ? Date.parse(model.when.last.time) : Number.NaN;
  const focused = !Number.isNaN(first) && !Number.isNaN(last);
  const t0 = focused ? Math.floor(first / 3_600_000) * 3_600_000 - 3_600_000 : Math.min(...valid);
  const t1 = focused ? Math.ceil((last + 1) / 3_600_000) * 3_600_000 + 3_600_000 : Math.max(...valid, t0 + 3_600_000);
  const inRange = (a: number, b: number): boolean => b >= t0 && a <= t1;
  const clip = (v: number): number => Math.min(Math.max(v, t0), t1);
  const x = (ms: number): number => left + ((ms - t0) / (t1 - t0)) * (W - left - 10);
  const maxCount = Math.max(1, ...model.chart.hourly.map((h) => h.count));
  const parts: string[] = [];
  parts.push(`<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t('s_timeline', lang))}" font-size="11" font-family="sans-serif">`);
  // axis ticks
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const ms = t0 + ((t1 - t0) * i) / ticks;
    const xx = x(ms);
    parts.push(`<line x1="${xx.toFixed(1)}" y1="20" x2="${xx.toFixed(1)}" y2="${H - 18}" stroke="#ddd"/><text x="${xx.toFixed(1)}" y="${H - 4}" text-anchor="middle" fill="#444">${esc(new Date(ms).toISOString().slice(5, 16).replace('T', ' '))}</text>`);
  }
  hosts.forEach((host, i) => {
    const top = 25 + i * laneH;
    const base = top + 40;
    parts.push(`<g class="lane" data-host="${esc(host)}"><text x="4" y="${top + 24}" fill="#111">${esc(host.length > 16 ? `${host.slice(0, 15)}…` : host)}</text><line x1="${left}" y1="${base}" x2="${W - 10}" y2="${base}" stroke="#999"/>`);
    for (const h of model.chart.hourly.filter((r) => r.host === host)) {
      const start = Date.parse(`${h.hour}:00:00Z`);
      if (!inRange(start, start + 3_599_999)) continue;
      const bx = x(start);
      const bw = Math.max(1.5, x(start + 3_600_000) - bx - 0.5);
      const bh = Math.max(1, (h.count / maxCount) * 36);
      parts.push(`<rect class="hour" x="${bx.toFixed(1)}" y="${(base - bh).toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="#4a78b5"><title>${esc(`${host} ${h.hour}:00Z: ${h.count}`)}</title></rect>`);
    }
    let row = 0;
    for (const s of model.chart.sessions.filter((r) => r.host === host)) {
      const a = Date.parse(s.start);
      const e = s.end !== undefined ? Date.parse(s.end) : t1; // still connected at the end of the evidence
      if (!inRange(a, e)) continue;
      const sx = x(clip(a));
      const ex = x(clip(e));
      const sy = base + 4 + (row++ % 3) * 9; // overlapping sessions on their own rows
      parts.push(`<rect class="usb" x="${sx.toFixed(1)}" y="${sy}" width="${Math.max(3, ex - sx).toFixed(1)}" height="8" fill="${s.mass_storage ? '#2e9d4a' : '#999'}"><title>${esc(`USB ${s.device}: ${fmtTime(s.start, lang)} – ${fmtTime(s.end, lang)}`)}</title></rect>`);
    }
    for (const m of model.chart.markers.filter((r) => r.host === host)) {
      const mt = Date.parse(m.time);
      if (!inRange(mt, mt)) continue;
      const mx = x(mt);
      parts.push(`<path class="finding" d="M${mx.toFixed(1)} ${base + 32} l-5 9 h10 z" fill="#d00"><title>${esc(`${patternName(m.code, lang)}: ${fmtTime(m.time, lang)}`)}</title></path>`);
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}

export function renderHtml(model: ReportModel, lang: Lang): string {
  const L = (k: string, p: Record<string, string | number> = {}): string => esc(t(k, lang, p));
  const T = (ts: string | undefined): Cell => ({ html: esc(fmtTime(ts, lang)), sort: ts ?? '' });
  const b: string[] = [];
  b.push(`<h1>${L('title')}: ${esc(model.case.id)}</h1>`);
  b.push(`<p class="draft">${L('draft')}</p>`);
  b.push('<ul>');
  b.push(`<li>${L('case')}: ${esc(model.case.id)}</li>`);
  if (model.case.examiner) b.push(`<li>${L('examiner')}: ${esc(model.case.examiner)}</li>`);
  b.push(`<li>${L('sealed')}: ${esc(fmtTime(model.collector.sealed_at, lang))}</li><li>${L('collector_key')}: <code>${esc(model.collector.fingerprint)}</code></li>`);
  if (model.manifestSha256) b.push(`<li>${L('manifest')}: <code>${model.manifestSha256}</code></li>`);
  b.push(`<li>${L('generated')}: ${esc(fmtTime(model.generatedAt, lang))}</li></ul>`);

  // 1. integrity
  b.push(`<section id="integrity"><h2>${L('s_integrity')}</h2>`);
  const now = model.integrity.now;
  if (now) {
    b.push(`<p>${L('verified_now')}: <span class="${now.ok ? 'ok' : 'bad'}">${now.ok ? L('valid') : L('invalid')}</span></p><ul>`);
    b.push(`<li>${L('tsa')}: ${esc(now.tsa.status)}${now.tsa.gen_time ? ` (${esc(fmtTime(now.tsa.gen_time, lang))})` : ''}</li>`);
    if (now.custody) b.push(`<li>${L('custody')}: ${now.custody.entries} (${esc(now.custody.actions.join(', '))})${now.custody.head ? ` <code>${now.custody.head.index}:${now.custody.head.sha256}</code>` : ''}</li>`);
    for (const f of now.findings) b.push(`<li class="${f.severity === 'error' ? 'bad' : ''}">${esc(f.severity)} <code>${esc(f.code)}</code> ${esc(f.message)} (${esc(f.where)})</li>`);
    b.push('</ul>');
  } else b.push(`<p>${L('verified_now_none')}</p>`);
  b.push(
    tableHtml(
      'integrity-hosts',
      [t('host', lang), t('store', lang), t('source', lang), t('records', lang), t('status', lang), t('sealed_to', lang), t('unsealed', lang), t('witness', lang), t('skew', lang), t('findings', lang)],
      model.integrity.hosts.map((h) => [
        esc(h.host),
        `<code>${esc(h.store_id)}</code>`,
        esc(h.source),
        String(h.records),
        `<span class="${h.ok ? 'ok' : 'bad'}">${h.ok ? L('valid') : L('invalid')}</span>`,
        h.sealed ? esc(`#${h.sealed.checkpoint_id}, seq 0..${h.sealed.tree_size - 1}, ${fmtTime(h.sealed.time, lang)}${h.sealed.trusted_time ? ` (TSA ${fmtTime(h.sealed.trusted_time, lang)})` : ''}`) : L('none'),
        h.unsealed ? esc(`seq ${h.unsealed.from_seq}..${h.unsealed.to_seq} (${h.unsealed.count})`) : L('none'),
        String(h.witness_size),
        h.clock_skew_ms !== undefined ? `${h.clock_skew_ms} ms` : '—',
        h.findings.length === 0 ? L('none') : h.findings.map((f) => `${esc(f.severity)} <code>${esc(f.code)}</code>`).join('; '),
      ]),
    ),
  );
  b.push(`<h3>${L('gaps')}</h3>`);
  if (model.integrity.gaps.length === 0) b.push(`<p>${L('no_gaps')}</p>`);
  else b.push(`<ul class="stmts">${model.integrity.gaps.map((g) => stmtLi(g, lang, `${esc(g.host)}: ${esc(fmtTime(g.from, lang))} – ${esc(fmtTime(g.until, lang))}: `)).join('')}</ul>`);
  b.push(capP(capNote('gaps', model.integrity.gaps.length, model.integrity.gapsTotal, lang)));
  b.push('</section>');

  // chart
  b.push(`<section id="chart"><h2>${L('s_timeline')}</h2>${timelineSvg(model, lang)}<p>${L('chart_caption')}</p>${capP(capNote('sessions', model.chart.sessions.length, model.chart.sessionsTotal, lang))}</section>`);

  // 2. when
  b.push(`<section id="when"><h2>${L('s_when')}</h2><ul>`);
  b.push(`<li>${L('first_event')}: ${model.when.first ? `${esc(fmtTime(model.when.first.time, lang))}${citeHtml([model.when.first], 1, lang)}` : '—'}</li>`);
  b.push(`<li>${L('last_event')}: ${model.when.last ? `${esc(fmtTime(model.when.last.time, lang))}${citeHtml([model.when.last], 1, lang)}` : '—'}</li>`);
  b.push(`<li>${L('discovered')}: ${model.when.discoveredAt ? esc(fmtTime(model.when.discoveredAt, lang)) : L('not_given')}</li></ul>`);
  b.push(`<h3>${L('excerpt')}</h3><p>${L('excerpt_of', { n: model.when.excerpt.length, total: model.when.excerptTotal })}</p>`);
  b.push(
    tableHtml(
      'excerpt',
      [t('time', lang), t('host', lang), t('kind', lang), t('event', lang), t('evidence', lang)],
      model.when.excerpt.map((x) => [T(x.time), esc(x.host), esc(x.kind), `${esc(x.message)}${x.patterns.length > 0 ? ` <span class="pattern">(${esc(x.patterns.map((p) => patternName(p, lang)).join(lang === 'ja' ? '、' : ', '))})</span>` : ''}`, citeHtml([x.cite], 1, lang)]),
    ),
  );
  b.push('</section>');

  // 3. where
  b.push(`<section id="where"><h2>${L('s_where')}</h2>`);
  b.push(tableHtml('hosts', [t('host', lang), t('records', lang), t('first', lang), t('last', lang), t('sources', lang)], model.where.hosts.map((h) => [esc(h.host), String(h.records), T(h.first), T(h.last), esc(h.sources.join(', '))])));
  b.push('</section>');

  // 4. who
  b.push(`<section id="who"><h2>${L('s_who')}</h2>`);
  b.push(tableHtml('users', [t('user', lang), t('host', lang), t('logons', lang), t('failed', lang), t('file_accesses', lang), t('evidence', lang)], model.who.users.map((u) => [esc(u.user), esc(u.hosts.join(', ')), String(u.logons), String(u.failed), String(u.fileAccesses), citeHtml(u.cites.slice(0, 3), u.cites.length, lang)])));
  b.push(capP(capNote('users', model.who.users.length, model.who.usersTotal, lang)));
  b.push(tableHtml('sources', [t('from', lang), t('host', lang), t('successes', lang), t('failures', lang), t('users', lang), t('evidence', lang)], model.who.sources.map((x) => [esc(x.from), esc(x.hosts.join(', ')), String(x.successes), String(x.failures), esc(namesCell(x.users, x.usersTotal, lang)), citeHtml(x.cites.slice(0, 3), x.cites.length, lang)])));
  b.push(capP(capNote('sources', model.who.sources.length, model.who.sourcesTotal, lang)));
  b.push(`<h3>${L('usb_devices')}</h3>`);
  b.push(
    tableHtml(
      'usb',
      [t('serial', lang), t('ids', lang), t('name', lang), t('mass_storage', lang), t('host', lang), t('first', lang), t('last', lang), t('connects', lang), t('evidence', lang)],
      model.who.usb.map((d) => [esc(d.serial ?? d.device), esc(`${d.vendor_id ?? '????'}:${d.product_id ?? '????'}`), esc([d.manufacturer, d.product].filter(Boolean).join(' ')), d.mass_storage ? L('yes') : L('no'), esc(d.hosts.join(', ')), T(d.first_seen), T(d.last_seen), String(d.connects), citeHtml(d.cites.slice(0, 2), d.cites.length, lang)]),
    ),
  );
  b.push(capP(capNote('usb', model.who.usb.length, model.who.usbTotal, lang)));
  b.push('</section>');

  // 5. what
  b.push(`<section id="what"><h2>${L('s_what')}</h2><p>${model.what.sensitiveConfigured ? L('files_sensitive', { globs: model.options.sensitive.join(', ') }) : L('files_all')}</p>`);
  if (model.what.files.length === 0) b.push(`<p>${L('no_files')}</p>`);
  else
    b.push(
      tableHtml(
        'files',
        [t('path', lang), t('host', lang), t('count', lang), t('failed', lang), t('users', lang), t('operations', lang), t('first', lang), t('last', lang), t('evidence', lang)],
        model.what.files.map((f) => [esc(f.path), esc(f.host), String(f.count), String(f.failed), esc(namesCell(f.users, f.usersTotal, lang)), esc(f.operations.join(', ')), T(f.first), T(f.last), citeHtml(f.cites.slice(0, 3), f.count, lang)]),
      ),
    );
  b.push(capP(capNote('files', model.what.files.length, model.what.filesTotal, lang)));
  if (model.what.otherFiles > 0) b.push(`<p>${L('files_other', { n: model.what.otherFiles })}</p>`);
  b.push('</section>');

  // 6. how
  b.push(`<section id="how"><h2>${L('s_how')}</h2><p>${L('options')}: ${L('usb_window', { n: model.options.usbWindowMinutes, f: model.options.failedLogonThreshold, w: model.options.bruteForceWindowMinutes })}. ${esc(workingHoursText(model, lang))}</p>`);
  if (model.how.length === 0) b.push(`<p>${L('no_patterns')}</p>`);
  else b.push(`<ul class="stmts">${model.how.map((p) => stmtLi(p, lang, `<span class="pattern">${esc(patternName(p.code, lang))}</span>: `)).join('')}</ul>`);
  b.push(capP(howCapNote(model, lang)));
  b.push('</section>');

  // 7. why
  b.push(`<section id="why"><h2>${L('s_why')}</h2><ul class="stmts">${model.why.map((q) => stmtLi(q, lang)).join('')}</ul></section>`);

  // 8. regulator
  b.push(`<section id="regulator"><h2>${L('s_reg')}</h2><p><strong>${L('rule')}</strong>: ${L('rule_text')}</p>`);
  const d = model.regulator.deadlines;
  if (d) {
    b.push(
      `<table id="deadlines"><tbody>${[
        [t('day1', lang), fmtDate(d.discovered_date_jst, lang)],
        [t('prompt', lang), t('between', lang, { from: fmtDate(d.prompt.from_date, lang), to: fmtDate(d.prompt.to_date, lang) })],
        [t('final30', lang), finalDeadlineCell(d.final, lang)],
        [t('final60', lang), finalDeadlineCell(d.final_malicious, lang)],
      ]
        .map(([k, v]) => `<tr><th>${esc(k ?? '')}</th><td>${esc(v ?? '')}</td></tr>`)
        .join('')}</tbody></table>`,
    );
    const notes = ([[t('final30', lang), d.final], [t('final60', lang), d.final_malicious]] as const).flatMap(([label, f]) => {
      const note = finalDeadlineNote(f, lang);
      return note !== undefined ? [`<li>${esc(label)}: ${esc(note)}</li>`] : [];
    });
    b.push(`<ul class="deadline-notes">${notes.join('')}<li>${esc(equinoxBasisText(d, lang))}</li></ul>`);
  } else b.push(`<p>${L('no_deadlines')}</p>`);
  b.push(`<h3>${L('triggers')}</h3><ul class="checklist">`);
  for (const c of model.regulator.checklist) {
    b.push(`<li><input type="checkbox" disabled${c.evidence === 'indicated' ? ' checked' : ''}> ${L(`t_${c.key}`)}: <em>${c.evidence === 'indicated' ? L('indicated') : L('to_decide')}</em>${c.statement ? ` — ${esc(statementText(c.statement, lang))}${citeHtml(c.statement.cites, c.statement.citesTotal, lang)}` : ''}</li>`);
  }
  b.push(`</ul><h3>${L('items')}</h3><ol class="items">`);
  for (const item of model.regulator.items) {
    const note = item.key === 'overview' || item.key === 'data_items' || item.key === 'cause' ? capNote(item.key, item.prefilled.length, item.prefilledTotal, lang) : undefined;
    b.push(`<li><strong>${L(`i_${item.key}`)}</strong><ul class="stmts">${item.prefilled.map((st) => stmtLi(st, lang)).join('')}${note !== undefined ? `<li class="cap">${esc(note)}</li>` : ''}${item.toComplete ? `<li class="todo">${L('to_complete')}</li>` : ''}</ul></li>`);
  }
  b.push('</ol></section>');

  // logons
  b.push(`<section id="logons"><h2>${L('logon_table')}</h2><p>${L('logons_of', { n: model.tables.logons.length, total: model.tables.logonsTotal })}</p>`);
  b.push(
    tableHtml(
      'logon-table',
      [t('time', lang), t('host', lang), t('user', lang), t('from', lang), t('service', lang), t('action', lang), t('result', lang), t('evidence', lang)],
      model.tables.logons.map((r) => [T(r.time), esc(r.host), esc(r.user ?? '—'), esc(r.from ?? '—'), esc(r.service), esc(r.action), r.success ? L('ok') : `<span class="bad">${L('fail')}</span>`, citeHtml([r.cite], 1, lang)]),
    ),
  );
  b.push('</section>');

  // evidence index
  b.push(`<section id="evidence"><h2>${L('s_evidence')}</h2>`);
  b.push(
    `<table class="sortable" id="evidence-index"><thead><tr>${[t('ev_host', lang), t('ev_seq', lang), t('time', lang), t('kind', lang), t('ev_sha', lang), t('ev_msg', lang)].map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${model.evidence
      .map((e) => `<tr id="ev-${esc(e.host)}-${e.seq}"><td>${esc(e.host)}</td><td>${e.seq}</td><td data-sort="${esc(e.time)}">${esc(fmtTime(e.time, lang))}</td><td>${esc(e.kind)}</td><td><code>${e.sha256}</code></td><td>${esc(e.message)}</td></tr>`)
      .join('')}</tbody></table></section>`,
  );

  const csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${L('title')}: ${esc(model.case.id)}</title>
<style>${CSS}</style>
</head>
<body>
${b.filter((part) => part !== '').join('\n')}
<script>${JS}</script>
</body>
</html>
`;
}
