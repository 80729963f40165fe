/**
 * The report as Markdown (GitHub-flavoured tables), English or Japanese, from the model. Pure.
 *
 * Values come from a bundle someone else wrote, and a Markdown viewer may render inline HTML: text
 * goes through `mdText` (every character Markdown or HTML could act on is backslash-escaped), and
 * values shown as code go through `mdCode`, whose fence is longer than any run of backticks in the
 * value, so a value cannot close its code span and start markup. The verdict is the first line.
 */
import { bootMarkersText, capNote, chainEndText, citeLabel, equinoxBasisText, focusText, stepText, finalDeadlineCell, finalDeadlineNote, fmtDate, fmtTime, howCapNote, namesCell, patternName, statementText, t, tCode, verdictTexts, windowParams, type Lang, type MessageKey } from './i18n.js';
import type { Cite, ReportModel, Statement } from './model.js';
import { escapeForTerminal } from '../text/terminal.js';

/** Escapes what would break a Markdown table cell or inline text; control, format and invisible characters become visible escapes (a report.md read with `cat` obeys none). */
export function mdText(s: string): string {
  return escapeForTerminal(s.replace(/[\r\n]+/g, ' ')).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/([*_`<>[\]&~!#])/g, '\\$1').replace(/[\r\n]+/g, ' ');
}

/**
 * A value as an inline code span: fenced with one backtick more than its longest run of backticks
 * (CommonMark), on one line, and with `|` escaped, which GFM needs even inside code in a table cell.
 */
export function mdCode(s: string): string {
  const flat = escapeForTerminal(s.replace(/[\r\n]+/g, ' ')).replace(/\|/g, '\\|');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

function cites(cs: readonly Cite[], total: number, lang: Lang): string {
  if (cs.length === 0) return '';
  const more = total > cs.length ? (lang === 'ja' ? ` ほか${total - cs.length}件` : ` +${total - cs.length} more`) : '';
  return ` [${cs.map((c) => mdCode(citeLabel(c))).join(', ')}${more}]`;
}

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''];
}

/** The paragraph under a list shown in part (nothing when it is shown whole). */
function capLines(note: string | undefined): string[] {
  return note !== undefined ? [mdText(note), ''] : [];
}

function statementLine(st: Statement & { host?: string; time?: string }, lang: Lang): string {
  return `- ${mdText(statementText(st, lang))}${cites(st.cites, st.citesTotal, lang)}`;
}

export function renderMarkdown(model: ReportModel, lang: Lang): string {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const T = (ts: string | undefined): string => mdText(fmtTime(ts, lang));
  const out: string[] = [];
  // The verdict before anything else, the title included.
  const verdict = verdictTexts(model, lang);
  out.push(`**${mdText(verdict.verdict)}**`, '');
  for (const note of verdict.notes) out.push(`**${mdText(note)}**`, '');
  out.push(`# ${L('title')}: ${mdText(model.case.id)}`, '');
  out.push(`> ${L('draft')}`, '');
  out.push(`- ${L('case')}: ${mdText(model.case.id)}`);
  if (model.case.examiner) out.push(`- ${L('examiner')}: ${mdText(model.case.examiner)}`);
  out.push(`- ${L('sealed')}: ${T(model.collector.sealed_at)}`);
  out.push(`- ${L('collector_key')}: ${mdCode(model.collector.fingerprint)}`);
  if (model.manifestSha256) out.push(`- ${L('manifest')}: ${mdCode(model.manifestSha256)}`);
  out.push(`- ${L('generated')}: ${T(model.generatedAt)}`, '');

  // 1. integrity
  out.push(`## ${L('s_integrity')}`, '');
  const now = model.integrity.now;
  if (now) {
    out.push(`**${L('verified_now')}: ${now.ok ? L('valid') : L('invalid')}**`, '');
    out.push(`- ${L('tsa')}: ${mdText(now.tsa.status)}${now.tsa.gen_time ? ` (${T(now.tsa.gen_time)})` : ''}`);
    if (now.custody) out.push(`- ${L('custody')}: ${now.custody.entries} (${mdText(now.custody.actions.join(', '))})${now.custody.head ? `, head ${mdCode(`${now.custody.head.index}:${now.custody.head.sha256}`)}` : ''}`);
    for (const f of now.findings) out.push(`- ${mdText(f.severity)}: ${mdCode(f.code)} ${mdText(f.message)} (${mdText(f.where)})`);
    out.push('');
  } else out.push(L('verified_now_none'), '');
  const rejected = model.integrity.rejected;
  if (rejected.count > 0) {
    out.push(`**${mdText(L('rejected_rows', { n: rejected.count }))}**`, '');
    for (const r of rejected.shown) out.push(`- ${r.severity}: ${mdCode(r.code)} ${mdCode(r.where)} ${mdText(r.message)}`);
    if (rejected.count > rejected.shown.length) out.push(`- ${mdText(L('rejected_more', { n: rejected.count - rejected.shown.length }))}`);
    out.push('');
  }
  out.push(
    ...table(
      [L('host'), L('store'), L('source'), L('records'), L('status'), L('sealed_to'), L('unsealed'), L('witness'), L('skew'), L('findings')],
      model.integrity.hosts.map((h) => [
        mdText(h.host),
        mdCode(h.store_id),
        mdText(h.source),
        String(h.records),
        h.ok ? L('valid') : L('invalid'),
        h.sealed ? mdText(`#${h.sealed.checkpoint_id}, seq ${h.window?.first_seq ?? 0}..${h.sealed.tree_size - 1}, ${T(h.sealed.time)}${h.sealed.trusted_time ? ` (TSA ${T(h.sealed.trusted_time)})` : ''}`) : L('none'),
        h.unsealed ? `seq ${h.unsealed.from_seq}..${h.unsealed.to_seq} (${h.unsealed.count})` : L('none'),
        String(h.witness_size),
        h.clock_skew_ms !== undefined ? `${h.clock_skew_ms} ms` : '—',
        h.findings.length === 0 ? L('none') : h.findings.map((f) => `${mdText(f.severity)} ${mdCode(f.code)}`).join('; '),
      ]),
    ),
  );
  for (const h of model.integrity.hosts) if (h.window !== undefined) out.push(mdText(L('window_note', windowParams(h, lang))), '');
  out.push(`### ${L('gaps')}`, '');
  if (model.integrity.gaps.length === 0) out.push(L('no_gaps'), '');
  for (const g of model.integrity.gaps) out.push(`- ${mdText(g.host)}: ${T(g.from)} – ${T(g.until)}: ${mdText(statementText(g, lang))}${cites(g.cites, g.citesTotal, lang)}`);
  out.push('', ...capLines(capNote('gaps', model.integrity.gaps.length, model.integrity.gapsTotal, lang)));

  // 2. when
  out.push(`## ${L('s_when')}`, '');
  out.push(`- ${L('first_event')}: ${model.when.first ? `${T(model.when.first.time)}${cites([model.when.first], 1, lang)}` : '—'}`);
  out.push(`- ${L('last_event')}: ${model.when.last ? `${T(model.when.last.time)}${cites([model.when.last], 1, lang)}` : '—'}`);
  out.push(`- ${L('discovered')}: ${model.when.discoveredAt ? T(model.when.discoveredAt) : L('not_given')}`, '');
  out.push(`### ${L('excerpt')}`, '', L('excerpt_of', { n: model.when.excerpt.length, total: model.when.excerptTotal }), '');
  out.push(...table([L('time'), L('host'), L('kind'), L('event'), L('evidence')], model.when.excerpt.map((x) => [T(x.time), mdText(x.host), mdText(x.kind), `${mdText(x.message)}${x.patterns.length > 0 ? ` **(${x.patterns.map((p) => patternName(p, lang)).join(lang === 'ja' ? '、' : ', ')})**` : ''}`, mdCode(citeLabel(x.cite))])));

  // 3. where
  out.push(`## ${L('s_where')}`, '');
  out.push(...table([L('host'), L('records'), L('first'), L('last'), L('sources')], model.where.hosts.map((h) => [mdText(h.host), String(h.records), T(h.first), T(h.last), mdText(h.sources.join(', '))])));

  // 4. who
  out.push(`## ${L('s_who')}`, '');
  out.push(...table([L('user'), L('host'), L('logons'), L('failed'), L('file_accesses'), L('evidence')], model.who.users.map((u) => [mdText(u.user), mdText(u.hosts.join(', ')), String(u.logons), String(u.failed), String(u.fileAccesses), cites(u.cites.slice(0, 3), u.cites.length, lang).trim()])));
  out.push(...capLines(capNote('users', model.who.users.length, model.who.usersTotal, lang)));
  out.push(...table([L('from'), L('host'), L('successes'), L('failures'), L('users'), L('evidence')], model.who.sources.map((x) => [mdText(x.from), mdText(x.hosts.join(', ')), String(x.successes), String(x.failures), mdText(namesCell(x.users, x.usersTotal, lang)), cites(x.cites.slice(0, 3), x.cites.length, lang).trim()])));
  out.push(...capLines(capNote('sources', model.who.sources.length, model.who.sourcesTotal, lang)));
  out.push(`### ${L('usb_devices')}`, '');
  out.push(
    ...table(
      [L('serial'), L('ids'), L('name'), L('mass_storage'), L('host'), L('first'), L('last'), L('connects'), L('evidence')],
      model.who.usb.map((d) => [mdText(d.serial ?? d.device), mdText(`${d.vendor_id ?? '????'}:${d.product_id ?? '????'}`), mdText([d.manufacturer, d.product].filter(Boolean).join(' ')), d.mass_storage ? L('yes') : L('no'), mdText(d.hosts.join(', ')), T(d.first_seen), T(d.last_seen), String(d.connects), cites(d.cites.slice(0, 2), d.cites.length, lang).trim()]),
    ),
  );
  out.push(...capLines(capNote('usb', model.who.usb.length, model.who.usbTotal, lang)));

  // 5. what
  out.push(`## ${L('s_what')}`, '');
  out.push(model.what.sensitiveConfigured ? mdText(L('files_sensitive', { globs: model.options.sensitive.join(', ') })) : L('files_all'), '');
  if (model.what.files.length === 0) out.push(L('no_files'), '');
  else out.push(...table([L('path'), L('host'), L('count'), L('failed'), L('users'), L('operations'), L('first'), L('last'), L('evidence')], model.what.files.map((f) => [mdText(f.path), mdText(f.host), String(f.count), String(f.failed), mdText(namesCell(f.users, f.usersTotal, lang)), mdText(f.operations.join(', ')), T(f.first), T(f.last), cites(f.cites.slice(0, 3), f.count, lang).trim()])));
  out.push(...capLines(capNote('files', model.what.files.length, model.what.filesTotal, lang)));
  if (model.what.otherFiles > 0) out.push(L('files_other', { n: model.what.otherFiles }), '');
  out.push(...ranAndWentMd(model, lang));

  // 6. how
  out.push(`## ${L('s_how')}`, '');
  out.push(`${L('options')}: ${L('usb_window', { n: model.options.usbWindowMinutes, f: model.options.failedLogonThreshold, w: model.options.bruteForceWindowMinutes })}. ${workingHoursText(model, lang)}`, '');
  if (model.how.length === 0) out.push(L('no_patterns'), '');
  for (const p of model.how) out.push(`- **${patternName(p.code, lang)}**: ${mdText(statementText(p, lang))}${cites(p.cites, p.citesTotal, lang)}`);
  out.push('', ...capLines(howCapNote(model, lang)));

  // 7. why
  out.push(`## ${L('s_why')}`, '');
  for (const q of model.why) out.push(statementLine(q, lang));
  out.push('');

  // 8. regulator
  out.push(...regulatorMd(model, lang));

  // logons
  out.push(`## ${L('logon_table')}`, '', L('logons_of', { n: model.tables.logons.length, total: model.tables.logonsTotal }), '');
  out.push(...table([L('time'), L('host'), L('user'), L('from'), L('service'), L('action'), L('result'), L('evidence')], model.tables.logons.map((r) => [T(r.time), mdText(r.host), mdText(r.user ?? '—'), mdText(r.from ?? '—'), mdText(r.service), mdText(r.action), r.success ? L('ok') : L('fail'), mdCode(citeLabel(r.cite))])));

  // evidence index
  out.push(`## ${L('s_evidence')}`, '');
  // A loop, not push(...rows): the index can hold tens of thousands of rows, past what a spread call takes.
  for (const line of table([L('ev_host'), L('ev_seq'), L('time'), L('kind'), L('ev_sha'), L('ev_msg')], model.evidence.map((e) => [mdText(e.host), String(e.seq), T(e.time), mdText(e.kind), mdCode(e.sha256), mdText(e.message)]))) out.push(line);
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** What ran's process ancestry: each run with its parent, grandparent … (parent first), each step cited. */
function ancestryMd(model: ReportModel, lang: Lang): string[] {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const T = (ts: string | undefined): string => mdText(fmtTime(ts, lang));
  const ran = model.ran;
  const out: string[] = [`#### ${L('trees')}`, ''];
  if (ran.trees.length === 0) return [...out, L('no_trees'), ''];
  out.push(mdText(L('trees_intro')), '', mdText(L('trees_boots', { list: bootMarkersText(ran, lang) })), '');
  if (ran.unmarkedHosts.length > 0) out.push(mdText(t('trees_unmarked', lang, { hosts: ran.unmarkedHosts })), '');
  const arrow = ' ← ';
  out.push(
    ...table(
      [L('program'), L('host'), L('why'), L('runs'), L('user'), L('first'), L('command_line'), L('ancestry'), L('evidence')],
      ran.trees.map((r) => [
        mdCode(r.exe),
        mdText(r.host),
        mdText(r.why.map((w) => tCode(`why.${w}`, lang)).join(', ')),
        String(r.runs),
        mdText(r.user),
        T(r.first),
        r.command_line !== '' ? mdCode(r.command_line) : '—',
        [...r.chain.map((x) => `${mdCode(x.exe)}${x.command_line !== '' ? ` ${mdCode(x.command_line)}` : ''} (${mdText(stepText(x, lang))}) ${mdCode(citeLabel(x.cite))}`), mdText(chainEndText(r.end, lang))].join(arrow),
        cites(r.cites.slice(0, 3), r.runs, lang).trim(),
      ]),
    ),
  );
  out.push(...capLines(capNote('trees', ran.trees.length, ran.treesTotal, lang)));
  return out;
}

/** Section 5's "What ran" and "Where data went": every value escaped, long ones already cut by the model. */
function ranAndWentMd(model: ReportModel, lang: Lang): string[] {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const T = (ts: string | undefined): string => mdText(fmtTime(ts, lang));
  const n = (x: number): string => x.toLocaleString('en-US');
  const out: string[] = [`### ${L('ran')}`, ''];
  const ran = model.ran;
  if (ran.runs === 0) out.push(L('no_runs'), '');
  else {
    out.push(mdText(L('ran_intro', { runs: ran.runs, baseline: ran.baselineMinutes })), '', mdText(L('cut_note')), '');
    const focus = focusText(ran, lang);
    if (focus !== undefined) out.push(`**${mdText(focus)}**`, '');
    if (ran.programs.length === 0) out.push(L('focus_none'), '');
    else out.push(
      ...table(
        [L('program'), L('host'), L('tool'), L('runs'), L('failed'), L('users'), L('first'), L('last'), L('command_lines'), L('evidence')],
        ran.programs.map((r) => [
          `${mdCode(r.exe)}${r.firstSeen ? ` **(${L('first_seen')})**` : ''}`,
          mdText(r.host),
          r.tool !== undefined ? mdText(tCode(`tool.${r.tool}`, lang)) : '',
          String(r.runs),
          String(r.failed),
          mdText(namesCell(r.users, r.usersTotal, lang)),
          T(r.first),
          T(r.last),
          r.commandLines.map((c) => mdCode(c)).join(' ') + (r.commandLinesTotal > r.commandLines.length ? ` ${mdText(`+${r.commandLinesTotal - r.commandLines.length}`)}` : ''),
          cites(r.cites.slice(0, 3), r.runs, lang).trim(),
        ]),
      ),
    );
    out.push(...capLines(capNote('programs', ran.programs.length, ran.programsTotal, lang)));
  }
  out.push(`#### ${L('sensitive_commands')}`, '');
  if (!model.what.sensitiveConfigured) out.push(L('no_sensitive_given'), '');
  else if (ran.commands.length === 0) out.push(L('no_sensitive_commands'), '');
  else {
    out.push(...table([L('time'), L('host'), L('user'), L('program'), L('parent'), L('command_line'), L('sensitive_paths'), L('evidence')], ran.commands.map((c) => [T(c.time), mdText(c.host), mdText(c.user), mdCode(c.exe), c.parent !== undefined ? mdCode(c.parent) : '—', mdCode(c.command_line), mdText(c.paths.join(', ')), cites([c.cite], 1, lang).trim()])));
    out.push(...capLines(capNote('commands', ran.commands.length, ran.commandsTotal, lang)));
  }
  out.push(...ancestryMd(model, lang));
  const went = model.went;
  out.push(`### ${L('went')}`, '', mdText(L('went_intro', { ranges: went.internalRanges.join(', ') })), '');
  if (went.transfers.length === 0) out.push(L('no_transfers'), '');
  else {
    out.push(
      ...table(
        [L('destination'), L('ports'), L('methods'), L('requests'), L('request_bytes'), L('tunnel_bytes'), L('clients'), L('users'), L('logged_on'), L('first'), L('last'), L('evidence')],
        went.transfers.map((r) => [
          `${mdCode(r.destination)}${r.address !== undefined && r.address !== r.destination ? ` (${mdCode(r.address)})` : ''}${r.judgedBy === 'name' ? ` ${mdText(L('judged_by_name'))}` : ''}`,
          mdText(r.ports.join(', ')),
          mdText(r.methods.join(', ')),
          String(r.requests),
          `${n(r.requestBytes)}${r.uploadsWithoutSize > 0 ? ` (${mdText(L('no_size', { n: r.uploadsWithoutSize }))})` : ''}`,
          n(r.tunnelBytes),
          mdText(r.clients.join(', ')),
          mdText(r.users.join(', ')),
          mdText(r.loggedOn.join(', ')),
          T(r.first),
          T(r.last),
          cites(r.cites.slice(0, 3), r.requests, lang).trim(),
        ]),
      ),
    );
    out.push(...capLines(capNote('transfers', went.transfers.length, went.transfersTotal, lang)));
  }
  out.push(`#### ${L('shares')}`, '');
  if (went.shares.length === 0) out.push(L('no_shares'), '');
  else {
    out.push(
      ...table(
        [L('host'), L('share'), L('path'), L('client'), L('user'), L('count'), L('targets'), L('sensitive_col'), L('first'), L('last'), L('evidence')],
        went.shares.map((r) => [mdText(r.host), mdCode(r.share), r.share_path !== undefined ? mdCode(r.share_path) : '', mdText(r.client ?? '—'), mdText(r.user ?? '—'), String(r.count), mdText(namesCell(r.targets, r.targetsTotal, lang)), r.glob !== undefined ? mdText(r.glob) : '', T(r.first), T(r.last), cites(r.cites.slice(0, 3), r.count, lang).trim()]),
      ),
    );
    out.push(...capLines(capNote('shares', went.shares.length, went.sharesTotal, lang)));
  }
  return out;
}

export function workingHoursText(model: ReportModel, lang: Lang): string {
  const wh = model.options.workingHours;
  if (wh === undefined) return t('no_working_hours', lang);
  const sign = wh.utcOffsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(wh.utcOffsetMinutes);
  const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  const names = lang === 'ja' ? ['日', '月', '火', '水', '木', '金', '土'] : ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  return t('working_hours', lang, { start: wh.start, end: wh.end, offset, days: wh.days.map((d) => names[d] ?? String(d)).join(lang === 'ja' ? '・' : ', ') });
}

function regulatorMd(model: ReportModel, lang: Lang): string[] {
  const L = (k: MessageKey, p: Record<string, string | number> = {}): string => t(k, lang, p);
  const out: string[] = [`## ${L('s_reg')}`, '', `**${L('rule')}**: ${L('rule_text')}`, ''];
  const d = model.regulator.deadlines;
  if (d) {
    out.push(
      ...table(
        ['', L('due')],
        [
          [L('day1'), mdText(fmtDate(d.discovered_date_jst, lang))],
          [L('prompt'), mdText(L('between', { from: fmtDate(d.prompt.from_date, lang), to: fmtDate(d.prompt.to_date, lang) }))],
          [L('final30'), mdText(finalDeadlineCell(d.final, lang))],
          [L('final60'), mdText(finalDeadlineCell(d.final_malicious, lang))],
        ],
      ),
    );
    for (const [label, f] of [[L('final30'), d.final], [L('final60'), d.final_malicious]] as const) {
      const note = finalDeadlineNote(f, lang);
      if (note !== undefined) out.push(`- ${label}: ${mdText(note)}`);
    }
    out.push(`- ${mdText(equinoxBasisText(d, lang))}`, '');
  } else out.push(L('no_deadlines'), '');
  out.push(`### ${L('triggers')}`, '');
  for (const c of model.regulator.checklist) {
    out.push(`- [${c.evidence === 'indicated' ? 'x' : ' '}] ${L(`t_${c.key}`)}: ${c.evidence === 'indicated' ? L('indicated') : L('to_decide')}${c.statement ? ` — ${mdText(statementText(c.statement, lang))}${cites(c.statement.cites, c.statement.citesTotal, lang)}` : ''}`);
  }
  out.push('', `### ${L('items')}`, '');
  model.regulator.items.forEach((item, i) => {
    out.push(`${i + 1}. **${L(`i_${item.key}`)}**`);
    for (const st of item.prefilled) out.push(`   ${statementLine(st, lang)}`);
    const note = item.key === 'overview' || item.key === 'data_items' || item.key === 'cause' ? capNote(item.key, item.prefilled.length, item.prefilledTotal, lang) : undefined;
    if (note !== undefined) out.push(`   - ${mdText(note)}`);
    if (item.toComplete) out.push(`   - *${L('to_complete')}*`);
  });
  out.push('');
  return out;
}
