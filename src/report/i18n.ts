/**
 * The words of the report, English and Japanese, from the model's codes. The Japanese is written
 * the way a Japanese incident responder writes a 報告書 (JST times, である調, the regulator's own
 * item names), not translated sentence by sentence. Pure.
 */
import type { FinalDeadline, PpcDeadlines, SkippedDay } from './deadlines.js';
import { MAX_DEPTH, type AncestorStep, type ChainEnd } from './ancestry.js';
import type { Cite, HostIntegrity, Param, PatternType, ReportModel, Statement } from './model.js';

export type Lang = 'en' | 'ja';
export const LANGS: readonly Lang[] = ['en', 'ja'];

/** Times: UTC in English, Japan Standard Time in Japanese (the regulator's forms use JST). */
export function fmtTime(ts: string | undefined, lang: Lang): string {
  if (ts === undefined || ts === '') return '—';
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return ts;
  if (lang === 'en') return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const j = new Date(ms + 9 * 3600_000).toISOString();
  return `${j.slice(0, 4)}/${j.slice(5, 7)}/${j.slice(8, 10)} ${j.slice(11, 19)} JST`;
}

/** A calendar date with its day of the week (a deadline's weekday is what a reader checks first). */
export function fmtDate(date: string, lang: Lang): string {
  const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
  if (lang === 'en') return `${date} (${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][dow] ?? ''})`;
  const wd = '日月火水木金土'[dow] ?? '';
  return `${date.slice(0, 4)}年${Number(date.slice(5, 7))}月${Number(date.slice(8, 10))}日(${wd})`;
}

/** Why an administrative holiday is one, as the subject of "day 30 is …" (`long`) or in a list (short). */
function closedReason(day: SkippedDay, lang: Lang, long: boolean): string {
  if (day.reason !== 'national_holiday' || day.holiday === undefined) return tCode(`${long ? 'r' : 'rs'}.${day.reason}`, lang);
  const name = lang === 'ja' ? day.holiday.ja : day.holiday.en;
  if (!long) return day.holiday.kind === 'statutory' || lang === 'ja' ? name : `${name} (${day.holiday.ja})`;
  return t(`r.${day.holiday.kind}`, lang, { name });
}

/** The date to show in the deadline table: the deadline, marked when it was moved or could not be checked. */
export function finalDeadlineCell(f: FinalDeadline<30 | 60>, lang: Lang): string {
  const date = fmtDate(f.date, lang);
  if (f.not_adjusted !== undefined) return t('dl.not_adjusted_mark', lang, { date });
  return f.skipped.length > 0 ? t('dl.moved_mark', lang, { date }) : date;
}

/** What the reader needs to check a final-report deadline: why it moved, or that it was not adjusted; undefined when day N is a working day. */
export function finalDeadlineNote(f: FinalDeadline<30 | 60>, lang: Lang): string | undefined {
  const calendar = fmtDate(f.calendar_date, lang);
  const parts: string[] = [];
  if (f.not_adjusted !== undefined) {
    parts.push(t('dl.not_adjusted', lang, { n: f.days, calendar, from: f.not_adjusted.known_years.from, to: f.not_adjusted.known_years.to, year: f.not_adjusted.year }));
  } else if (f.skipped.length > 0) {
    const [first, ...rest] = f.skipped as [SkippedDay, ...SkippedDay[]];
    const params = { n: f.days, calendar, reason: closedReason(first, lang, true), date: fmtDate(f.date, lang) };
    if (rest.length === 0) parts.push(t('dl.moved_one', lang, params));
    else {
      const others = [...new Set(rest.map((d) => closedReason(d, lang, false)))];
      parts.push(t('dl.moved_run', lang, { ...params, last: fmtDate(rest[rest.length - 1]?.date ?? f.date, lang), others: others.join(lang === 'ja' ? '・' : ', ') }));
    }
  }
  if (f.computed_equinox) parts.push(t('dl.computed_equinox', lang));
  return parts.length > 0 ? parts.join(lang === 'ja' ? '' : ' ') : undefined;
}

/** The equinox caveat under the deadlines: which years' equinox days are computed rather than proclaimed. */
export function equinoxBasisText(d: PpcDeadlines, lang: Lang): string {
  return d.equinox_proclaimed_through !== undefined ? t('dl.equinox_basis', lang, { year: d.equinox_proclaimed_through }) : t('dl.equinox_basis_unknown', lang);
}

export function citeLabel(c: Cite): string {
  return `${c.host}#${c.seq}:${c.sha256.slice(0, 12)}`;
}

function list(v: Param | undefined, lang: Lang): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.join(lang === 'ja' ? '、' : ', ');
  return String(v);
}

type Texts = Record<string, string>;

const en = {
  title: 'Investigation report',
  // The verdict opens the report, before the title: nothing else may be read first.
  verdict_invalid: 'INVALID: this bundle did not verify, or parts of it could not be used (see section 1). Do not rely on anything in this report until every finding is explained.',
  verdict_valid: 'VALID: the bundle verified when this report was made (see section 1).',
  verdict_unverified: "NOT VERIFIED: this draft was written by the collector before the bundle was sealed, so it is the collector's claim. Verify the bundle (`custody verify` with the agent and collector keys pinned) and make the report from it with `custody report`.",
  claim_collector: "The collector key was not pinned (--collector-key): who sealed this bundle is not proven, and the draft report in the bundle's report/ folder is the collector's claim, not checked against the evidence.",
  claim_agents: 'The agent keys were not pinned (--agent-key): the stores were checked against keys shipped inside the bundle, which shows only that the bundle agrees with itself.',
  rejected_rows: 'Timeline lines left out ({n}): they do not match the timeline or record schema, or name a host or store the manifest does not list; nothing in this report rests on them.',
  rejected_more: '… and {n} more',
  window_note: '{host} was collected for a time window only ({since} to {until}): this report rests on its records seq {first}..{last} (the whole vault segments around the window); records before seq {first} and after seq {last} (the vault held {vault}) were not collected, and nothing here says anything about them.',
  draft: 'Draft made from the sealed evidence. Every statement cites the record it rests on (host#seq:sha256). Nothing here goes beyond what the records show; conclusions are for the investigator.',
  case: 'Case',
  examiner: 'Examiner',
  generated: 'Generated',
  sealed: 'Bundle sealed',
  collector_key: 'Collector key',
  manifest: 'manifest.json SHA-256',
  s_integrity: '1. Integrity of the evidence',
  s_when: '2. When',
  s_where: '3. Where',
  s_who: '4. Who',
  s_what: '5. What',
  s_how: '6. How (patterns in the records)',
  s_why: '7. Why (questions for the investigator)',
  s_reg: '8. Report to the Personal Information Protection Commission (Japan)',
  s_timeline: 'Timeline chart',
  s_evidence: 'Evidence index',
  verified_now: 'Verification of the bundle when this report was made',
  verified_now_none: 'The bundle was not re-verified for this report (made before sealing, inside collect). Run `custody verify` on the bundle.',
  valid: 'VALID',
  invalid: 'INVALID',
  tsa: 'Time-stamp of the manifest',
  custody: 'Custody log',
  host: 'Host',
  store: 'Store',
  source: 'Source',
  records: 'Records',
  status: 'At collection',
  sealed_to: 'Sealed up to',
  unsealed: 'Unsealed tail',
  witness: 'Witnessed size',
  skew: 'Clock (collector − last record)',
  findings: 'Findings',
  none: 'none',
  gaps: 'Where evidence may be missing',
  no_gaps: 'The records name no gap, agent stop or clock anomaly.',
  first_event: 'First relevant event',
  last_event: 'Last relevant event',
  discovered: 'Discovered',
  not_given: 'not given (use --discovered-at)',
  excerpt: 'Timeline excerpt',
  excerpt_of: 'shown {n} of {total} relevant events; the full timeline is timeline/timeline.csv',
  time: 'Time',
  kind: 'Kind',
  event: 'Event',
  evidence: 'Evidence',
  first: 'First',
  last: 'Last',
  sources: 'Sources',
  users: 'Users',
  user: 'User',
  logons: 'Logons',
  failed: 'Failed',
  file_accesses: 'File accesses',
  from: 'From',
  successes: 'Successes',
  failures: 'Failures',
  usb_devices: 'USB devices',
  device: 'Device',
  serial: 'Serial',
  ids: 'Vendor:product',
  name: 'Name',
  mass_storage: 'Storage',
  connects: 'Connects',
  yes: 'yes',
  no: 'no',
  files_sensitive: 'Files under the sensitive paths ({globs})',
  files_all: 'Files accessed (no --sensitive paths were given, so none is classified as sensitive)',
  files_other: '{n} other file(s) accessed outside the sensitive paths are in tables/file-access.csv.',
  path: 'Path',
  count: 'Accesses',
  operations: 'Operations',
  no_files: 'No file access under these paths is recorded.',
  no_patterns: 'None of the patterns looked for appears in the records.',
  logon_table: 'Logons',
  logons_of: 'shown {n} of {total}; all of them are in tables/logons.csv',
  // lists shown in part (the model's rowLimit): which rows, and where all of them are
  'cap.users': 'Shown {n} of {total} users: the most active (logons, failed logons, file accesses), and every user a pattern names. All of them are in {where}.',
  'cap.sources': 'Shown {n} of {total} source addresses: those with the most logon attempts, and every one a pattern names. All of them are in {where}.',
  'cap.usb': 'Shown {n} of {total} USB devices: storage devices first, then the most connected, and every device a pattern names. All of them are in {where}.',
  'cap.files': 'Shown {n} of {total} files: the most accessed, and every file a pattern names. All of them are in {where}.',
  'cap.gaps': 'Shown {n} of {total}: the earliest, and every one a pattern cites. All of them are in {where}.',
  'cap.how': 'Shown {n} of {total} patterns found, at most {limit} of each kind ({kinds}): the earliest; for working hours, the days with the most events; for new logon sources, those after failed logons first. The records of all of them are in {where}.',
  'cap.how_kind': '{name}: {n} of {total}',
  'cap.sessions': 'USB sessions drawn: {n} of {total} (storage devices and those in a pattern first); all of them are in {where}.',
  'cap.data_items': 'Shown {n} of {total} sensitive files (those of section 5); all of them are in {where}.',
  'cap.overview': 'Shown {n} of {total}: those that point to a wrongful purpose first, then the earliest. The records of all of them are in {where}.',
  'cap.cause': 'Shown {n} of {total}, the earliest. The records of all of them are in {where}.',
  more: '{list} and {n} more',
  more_people: '{list} and {n} more',
  more_cell: '{list} +{n} more',
  service: 'Service',
  action: 'Action',
  result: 'Result',
  ok: 'ok',
  fail: 'FAILED',
  rule: 'Rule applied',
  rule_text:
    'APPI Art. 26(1) and Enforcement Rules Art. 7–8. Prompt report (速報): "promptly" (Rules Art. 8(1)), about 3–5 days per the PPC General Guidelines 3-5-3-3; shown as days 3–5, as guidance, so not moved for holidays. Final report (確報): within 30 days, 60 when the leak was (or may have been) for a wrongful purpose (Rules Art. 8(2), Art. 7(iii)). The day of discovery is day 1 and the days are calendar days in JST, weekends and holidays included; but when day 30 (60) falls on a Saturday, Sunday, national holiday or in the year-end closure (29 December – 3 January), the deadline is the next day that is none of these (Guidelines 3-5-3-4; Act on Holidays of Administrative Organs (行政機関の休日に関する法律, Act No. 91 of 1988) Art. 1–2). Computed reminders, not legal advice: confirm the dates before filing.',
  prompt: 'Prompt report (速報)',
  final30: 'Final report (確報), 30 days',
  final60: 'Final report (確報), 60 days (wrongful purpose)',
  day1: 'Day 1 (discovery, JST)',
  between: '{from} to {to}',
  no_deadlines: 'No discovery time was given (--discovered-at), so no deadline is computed.',
  due: 'Due',
  'dl.moved_mark': '{date}, moved for holidays (see below)',
  'dl.not_adjusted_mark': '{date}, NOT adjusted for holidays (see below)',
  'dl.moved_one': 'Day {n}, {calendar}, is {reason}, so the deadline is the next day, {date}.',
  'dl.moved_run': 'Day {n}, {calendar}, is {reason}; the days after it up to {last} are administrative holidays too ({others}), so the deadline is {date}.',
  'dl.not_adjusted': 'Day {n} is {calendar}, not adjusted for holidays: this tool knows Japan\'s holidays for {from}–{to} only, not {year}. If day {n} is a Saturday, Sunday, national holiday or between 29 December and 3 January, the deadline is the next day that is none of these: check the official calendar.',
  'dl.computed_equinox': 'It rests on an equinox day computed by formula, not yet proclaimed: check it against the official calendar.',
  'dl.equinox_basis': 'Equinox days after {year} are computed, not yet proclaimed (the official gazette fixes them each February for the following year).',
  'dl.equinox_basis_unknown': 'Equinox days are computed by formula: check those of years not yet proclaimed (the official gazette fixes them each February for the following year).',
  'r.saturday': 'a Saturday',
  'r.sunday': 'a Sunday',
  'r.year_end_closure': 'in the year-end closure (29 December – 3 January)',
  'r.statutory': 'a national holiday ({name})',
  'r.substitute': 'a substitute holiday (振替休日)',
  'r.citizens': "a citizens' holiday (国民の休日)",
  'rs.saturday': 'Saturday',
  'rs.sunday': 'Sunday',
  'rs.year_end_closure': 'year-end closure',
  triggers: 'Reporting triggers (Rules Art. 7): a report is due if any applies',
  t_sensitive_info: 'Sensitive personal information (要配慮個人情報) involved',
  t_financial_damage: 'Data whose misuse may cause financial damage (card numbers, banking credentials…)',
  t_malicious: 'A wrongful purpose, including suspected (unauthorised access, an insider taking data…)',
  t_over_1000: 'More than 1,000 people affected',
  indicated: 'the evidence points to it',
  to_decide: 'to be decided by a person',
  items: "The final report's items (Rules Art. 8(1) i–ix)",
  to_complete: 'To be completed by a person.',
  i_overview: 'Overview (概要)',
  i_data_items: 'Items of personal data (個人データの項目)',
  i_people: 'Number of people (本人の数)',
  i_cause: 'Cause (原因)',
  i_secondary_damage: 'Secondary damage or its risk (二次被害又はそのおそれ)',
  i_individuals: 'Response to the individuals (本人への対応)',
  i_publication: 'Publication (公表)',
  i_prevention: 'Measures against recurrence (再発防止策)',
  i_other: 'Other (その他)',
  chart_caption: 'Events per hour per host (bars), USB sessions (green: storage, grey: other), patterns (red marks); from an hour before the first relevant event to an hour after the last, UTC.',
  ev_host: 'Host',
  ev_seq: 'Seq',
  ev_sha: 'Record SHA-256',
  ev_msg: 'Record',
  options: 'Settings used',
  usb_window: 'USB window: {n} min; failed logons before a success: {f} within {w} min',
  working_hours: 'Working hours: {days}, {start}:00–{end}:00 (UTC{offset})',
  no_working_hours: 'No working hours given: activity outside them is not looked for.',
  // patterns
  'p.sensitive_then_usb': 'On {host}, {users} accessed sensitive files {reads} time(s) ({files}) from {first_read}; within {window_minutes} minutes a USB storage device {device} was connected at {connected_at}{disconnected}.',
  'p.sensitive_during_usb': 'On {host}, while USB storage device {device} was connected (from {connected_at}{disconnected}), {users} accessed sensitive files {reads} time(s): {files}.',
  'p.new_usb_serial': 'On {host}, USB device serial {serial} ({device}) appears for the first time at {time} in this host\'s evidence, which covers from {evidence_since}.',
  'p.failed_then_success': 'On {host}, {failures} failed logon(s) from {from} (from {first_failure}, users {failed_users}) were followed at {time} by a successful logon as {user} from the same source.',
  'p.new_logon_source': 'On {host}, the first successful logon from {from} in this host\'s evidence (which covers from {evidence_since}): {user} at {time}.',
  'p.anti_forensics.gap': 'On {host} at {time}, the agent recorded a gap ({reason}) {path}: evidence may be missing there.',
  'p.anti_forensics.agent_stop': 'On {host} at {time}, the agent stopped ({reason}).',
  'p.anti_forensics.clock': 'On {host} at {time}, a clock anomaly: {reason}.',
  'p.anti_forensics.log_deleted': 'On {host} at {time}, a log file was removed or changed ({reason}): {path}.',
  'p.off_hours': 'On {host}, {events} event(s) ({kinds}) outside working hours on {day} (local).',
  // what ran, where data went (section 5)
  ran: 'What ran',
  ran_intro: '{runs} program run(s) in the records (an auditd execve, read as both a file access and a program run, is counted once). A program is marked "first seen" when its first run on a host comes after the first {baseline} minutes of that host\'s process records, or is from a user-writable folder: it had not run before within the evidence, which says nothing about the time before the evidence.',
  no_runs: 'No program run is recorded (that needs auditd execve rules, Windows 4688 or Sysmon event 1).',
  program: 'Program',
  runs: 'Runs',
  first_seen: 'first seen',
  tool: 'Kind of tool',
  command_lines: 'Command lines',
  sensitive_commands: 'Command lines naming sensitive paths',
  no_sensitive_commands: 'No command line names a sensitive path.',
  no_sensitive_given: 'No --sensitive paths were given, so command lines are not checked against them.',
  command_line: 'Command line',
  sensitive_paths: 'Sensitive paths',
  parent: 'Started by',
  cut_note: 'Long command lines and URLs are cut: "… [+N]" counts the characters left out, and the cited record holds all of them. Control and invisible characters are shown as escapes (\\x1b, \\u202e).',
  went: 'Where data went',
  went_intro: 'Uploads (POST, PUT, PATCH) and CONNECT tunnels through a proxy to destinations outside the internal ranges ({ranges}), most bytes first. A destination given by name is outside unless the proxy logged an internal address for it; names are not resolved. Tunnel bytes are what the proxy logged for a tunnel: its log does not say which way they went.',
  no_transfers: 'No upload or tunnel to a destination outside the internal ranges is recorded (this needs a proxy log).',
  destination: 'Destination',
  judged_by_name: '(by name)',
  ports: 'Ports',
  methods: 'Methods',
  requests: 'Requests',
  request_bytes: 'Request bytes',
  tunnel_bytes: 'Tunnel bytes',
  no_size: '{n} upload(s) without a logged size',
  clients: 'Clients',
  logged_on: 'Logged on',
  shares: 'File share access (Windows 5140/5145)',
  no_shares: 'No file share access is recorded.',
  share: 'Share',
  client: 'Client',
  targets: 'Targets',
  sensitive_col: 'Sensitive',
  'tool.archiver': 'archiver / copy',
  'tool.transfer': 'file transfer',
  'tool.tunnel': 'tunnel',
  'tool.remote_control': 'remote control',
  'tool.remote_exec': 'remote execution',
  'bytes.request': '{bytes} bytes in the request',
  'bytes.tunnel': '{bytes} bytes logged for the tunnel (direction not logged)',
  'bytes.unknown': 'the request size is not logged',
  writable: ', from a user-writable folder',
  'cap.programs': 'Shown {n} of {total} programs: those a pattern cites, known tools, those run on sensitive paths, archivers, first sightings, then the rarest. All runs are in {where}.',
  'cap.commands': 'Shown {n} of {total} command lines: the earliest, and every one a pattern cites. All of them are in {where}.',
  'cap.transfers': 'Shown {n} of {total} destinations: the most bytes, and every one a pattern cites. All of them are in {where}.',
  'cap.shares': 'Shown {n} of {total}: sensitive shares first, then the most accessed. All of them are in {where}.',
  focus_users: 'What ran is about the programs run by {users}',
  focus_hosts: 'What ran is about the programs run on {hosts}',
  focus_both: 'What ran is about the programs run by {users} on {hosts}',
  focus_none: 'None of the runs in the records is theirs.',
  focus_left_out: '{who} ({flags}). Left out of this section: {runs} run(s) by other users or on other hosts, {programs} program(s) only they ran, and {commands} command line(s) naming sensitive paths. The patterns in section 6 weigh every run, and {where} holds them all.',
  trees: 'Process ancestry',
  trees_intro: 'For the runs of known tools, of first-seen programs and of command lines naming sensitive paths: the process that started each, its parent, and so on, as far as the records link them. A Sysmon process GUID links a child to its parent; otherwise the process id does, within one boot: the latest start of that pid on the host before the child, with no end of it in between, at most 24 hours before, and of the image the child\'s record names as its parent when it names one. Runs of one program with the same ancestors are one row.',
  trees_boots: 'Boot markers in the evidence (agent starts, stops and gaps; the audit event serial starting over), per host: {list}. No link by process id is made across one.',
  trees_unmarked: 'The evidence of {hosts} holds no boot marker: a reboot there is not seen, so a link by process id there assumes none happened between parent and child.',
  no_trees: 'No run of a known tool, of a first-seen program or of a command line naming sensitive paths to trace.',
  ancestry: 'Started by (parent first)',
  why: 'Why',
  'why.known_tool': 'known tool',
  'why.first_seen': 'first seen',
  'why.sensitive': 'sensitive paths',
  'by.process_guid': 'linked by process GUID',
  'by.pid+exe': 'linked by pid and image',
  'by.pid': 'linked by pid only',
  step: 'pid {pid}, {user}, {time}, {by}',
  'end.no_parent_named': 'the top record names no parent',
  'end.not_in_evidence': 'its parent ({parent}) has no start in the evidence that can be tied to it',
  'end.other_boot': 'its parent\'s pid {ppid}{parent} started in the evidence before a boot marker: not linked across it',
  'end.too_deep': 'further ancestors are not shown (more than {n})',
  'end.loop': 'the records name each other as parent: the chain is cut where it loops',
  'cap.trees': 'Shown {n} of {total} ancestries: those a pattern cites, known tools, sensitive command lines, then first sightings. All runs are in {where}.',
  'p.archive_then_usb': 'On {host}, {users} ran {programs} on sensitive paths ({files}) {runs} time(s) from {first_run} (e.g. {command_line}); within {window_minutes} minutes, USB storage device {device} was connected at {connected_at}.',
  'p.archive_then_upload': 'On {host}, {users} ran {programs} on sensitive paths ({files}) {runs} time(s) from {first_run} (e.g. {command_line}); within {window_minutes} minutes, at {sent_at}, the proxy log on {logged_on} shows {method} from {client} to {destination}, outside the internal ranges ({bytes_text}). The records do not tie the client address to {host}.',
  'p.large_upload': 'On {host} at {time}, the proxy logged {method} from {client} (user {user}) to {endpoint}, outside the internal ranges: {bytes_text}, at or over the threshold of {threshold} bytes.',
  'p.known_tool': 'On {host}, {exe} ({tool_name}) ran {runs} time(s) from {time}, by {users}. Tools of this kind move data out or control a computer remotely; whether this use was authorised is not in the records. Command line: {command_line}.',
  'p.new_executable': 'On {host}, {exe} runs for the first time in this host\'s process records at {time} (they cover from {evidence_since}){writable_text}: by {users}, {runs} run(s).',
  'q.archive_purpose': 'Why did {users} run {programs} on {files} on {host}, and what became of the result? Was {to} the destination of it?',
  'q.destination_known': 'Is {destination} a service the organisation uses? Who used client {client} (user {user}) at the time, and what was sent?',
  'q.tool_authorised': 'Is {exe} on {host} authorised, and who installed it? What did {users} use it for?',
  'item.overview.archive_then_usb': 'On {host}, {users} ran {programs} on sensitive paths ({files}), and USB storage ({device}) was connected at {connected_at}.',
  'item.overview.archive_then_upload': 'On {host}, {users} ran {programs} on sensitive paths ({files}), and the proxy then logged {method} to {destination} ({bytes_text}).',
  'item.overview.large_upload': 'At {time}, the proxy logged {method} from {client} to {destination}, outside the internal ranges ({bytes_text}).',
  'item.overview.known_tool': 'On {host}, {exe} ({tool_name}) ran from {time}.',
  'item.cause.archive_then_usb': 'An archive or copy of {files} made by {users} with {programs} on {host}, followed by the connection of USB storage {device} (what was copied to it must be established).',
  'item.cause.archive_then_upload': 'An archive or copy of {files} made by {users} with {programs} on {host}, followed by {method} to {destination} ({bytes_text}; what was sent must be established).',
  disconnected: ', disconnected at {disconnected_at}',
  // gaps
  'gap.reported': '{reason}: {detail}',
  'gap.agent_down': 'the agent was not running ({reason})',
  'gap.clock': 'clock anomaly: {detail} (skew {skew_ms} ms)',
  // questions
  'q.usb_purpose': 'Were {users} authorised to copy {files} from {host}, and to removable media? What was on device {device} afterwards?',
  'q.usb_owner': 'Whose is USB device {device}, and where is it now? (Seized devices can be matched by serial.)',
  'q.source_known': 'Is {from} a known address (VPN, office, provider)? Was the password of {user} on {host} known to others or guessed? Has it been changed?',
  'q.gap_reason': 'Why is evidence missing on {host} at {time} ({what})? Who had the rights to stop the agent or touch the logs?',
  'q.data_content': 'Which personal data items, and how many people, do the {files} file(s) hold? (This decides the reporting triggers.)',
  'q.other_channels': 'Could the data have left by a channel these records do not cover (mail, cloud storage, printing, photos)?',
  'reg.malicious_indicated': 'The records show {patterns}; a wrongful purpose is suspected until ruled out, so the 60-day final report and Art. 7(iii) may apply.',
  'item.overview.sensitive_then_usb': 'On {host}, sensitive files ({files}) were read by {users} and a USB storage device ({device}) was connected at {connected_at}.',
  'item.overview.sensitive_during_usb': 'On {host}, sensitive files ({files}) were accessed by {users} while a USB storage device ({device}) was connected.',
  'item.overview.failed_then_success': 'On {host}, repeated failed logons from {from} were followed by a successful logon as {user} at {time}.',
  'item.overview.anti_forensics': 'On {host} at {time}, evidence may be missing ({what}).',
  'item.overview.off_hours': 'On {host}, activity outside working hours on {day}.',
  'item.data_items.file': '{path} on {host} ({count} access(es)): its data items are to be listed.',
  'item.cause.sensitive_then_usb': 'Reading of {files} by {users} followed by the connection of USB storage {device} on {host} (copying is not shown by these records and must be established).',
  'item.cause.sensitive_during_usb': 'Access to {files} by {users} while USB storage {device} was connected to {host}.',
  'item.cause.failed_then_success': 'A logon as {user} on {host} from {from} after {failures} failed attempts (password guessing is suspected).',
  'item.other.preserved': 'The logs were preserved in sealed bundle {case} ({hosts} host(s), sealed {sealed_at}, manifest SHA-256 {manifest_sha256}, collector key {fingerprint}); any third party can verify it with `custody verify` or sha256sum/hashdeep.',
  'item.other.gaps': '{gaps} place(s) where evidence may be missing are listed in section 1.',
  'item.other.preserving': 'The logs were preserved in bundle {case} ({hosts} host(s), collection started {sealed_at}, collector key {fingerprint}); this draft was written into the bundle before it was sealed, so the bundle\'s manifest covers it, and any third party can verify the bundle with `custody verify` or sha256sum/hashdeep.',
} satisfies Texts;

/** Every message of the report: Japanese must have each, and nothing else (a missing or misspelled key fails the build). */
export type MessageKey = keyof typeof en;

const ja: Record<MessageKey, string> = {
  title: '調査報告書(ドラフト)',
  verdict_invalid: '検証結果: 異常あり(INVALID)。本バンドルは検証に失敗したか、使用できない部分がある(第1章参照)。すべての指摘の原因が説明されるまで、本書の記載に依拠してはならない。',
  verdict_valid: '検証結果: 正常(VALID)。本書の作成時にバンドルの検証に成功した(第1章参照)。',
  verdict_unverified: '未検証(NOT VERIFIED)。本書はバンドルの封印前に収集者が作成したドラフトであり、収集者の主張にすぎない。エージェント鍵と収集者鍵を固定して `custody verify` でバンドルを検証し、`custody report` で報告書を作成すること。',
  claim_collector: '収集者の鍵が固定されていない(--collector-key 未指定)。誰がバンドルを封印したかは証明されておらず、バンドル内 report/ フォルダのドラフト報告書は収集者の主張であり、証拠と照合されたものではない。',
  claim_agents: 'エージェントの鍵が固定されていない(--agent-key 未指定)。ストアはバンドルに同梱された鍵で検証されており、バンドルが自己整合していることしか示さない。',
  rejected_rows: '使用しなかったタイムライン行({n}行): タイムラインまたはレコードのスキーマに適合しないか、マニフェストにないホスト・ストアを示している。本書の記載はこれらの行に基づかない。',
  rejected_more: 'ほか{n}行',
  window_note: '{host}は期間を限って収集した({since}〜{until})。本書はそのレコードseq {first}..{last}(期間を含むボールトのセグメント全体)のみに基づく。seq {first}より前とseq {last}より後のレコード(ボールトには{vault}件あった)は収集しておらず、本書はそれらについて何も述べない。',
  draft: '本書は封印済みの証拠から自動作成したドラフトである。各記載には根拠となるレコード(ホスト#連番:SHA-256)を付している。記録から読み取れる事実のみを記載し、評価・結論は調査担当者が行う。',
  case: '事案番号',
  examiner: '証拠保全担当者',
  generated: '作成日時',
  sealed: '封印日時',
  collector_key: '保全者の鍵',
  manifest: 'manifest.json の SHA-256',
  s_integrity: '1. 証拠の完全性',
  s_when: '2. いつ(When)',
  s_where: '3. どこで(Where)',
  s_who: '4. 誰が(Who)',
  s_what: '5. 何を(What)',
  s_how: '6. どのように(How:記録に現れたパターン)',
  s_why: '7. なぜ(Why:調査担当者が確認すべき事項)',
  s_reg: '8. 個人情報保護委員会への報告',
  s_timeline: 'タイムライン図',
  s_evidence: '証拠一覧',
  verified_now: '本書作成時のバンドル検証結果',
  verified_now_none: '本書は封印前(collect 実行中)に作成したため、バンドルの再検証結果は含まない。`custody verify` で検証すること。',
  valid: '正常',
  invalid: '異常あり',
  tsa: 'マニフェストのタイムスタンプ',
  custody: '証拠保管記録(Chain of Custody)',
  host: 'ホスト',
  store: 'ストア',
  source: '取得元',
  records: 'レコード数',
  status: '保全時の検証',
  sealed_to: '封印済みの範囲',
  unsealed: '未封印の末尾',
  witness: '保全者の証明サイズ',
  skew: '時刻差(保全者 − 最終レコード)',
  findings: '指摘事項',
  none: 'なし',
  gaps: '証拠が欠けている可能性のある期間',
  no_gaps: '記録上、欠落・エージェント停止・時刻異常はない。',
  first_event: '最初の関連イベント',
  last_event: '最後の関連イベント',
  discovered: '事態を知った日時',
  not_given: '未指定(--discovered-at で指定)',
  excerpt: 'タイムライン抜粋',
  excerpt_of: '関連イベント {total} 件中 {n} 件を掲載。全件は timeline/timeline.csv を参照。',
  time: '日時',
  kind: '種別',
  event: '内容',
  evidence: '根拠',
  first: '初回',
  last: '最終',
  sources: '取得元',
  users: '利用者',
  user: '利用者',
  logons: 'ログオン',
  failed: '失敗',
  file_accesses: 'ファイルアクセス',
  from: '接続元',
  successes: '成功',
  failures: '失敗',
  usb_devices: 'USB機器',
  device: '機器',
  serial: 'シリアル番号',
  ids: 'ベンダー:製品ID',
  name: '名称',
  mass_storage: '記憶装置',
  connects: '接続回数',
  yes: 'はい',
  no: 'いいえ',
  files_sensitive: '重要ファイル({globs})へのアクセス',
  files_all: 'アクセスされたファイル(--sensitive 未指定のため、重要ファイルの区別はしていない)',
  files_other: '重要ファイル以外の {n} 件は tables/file-access.csv を参照。',
  path: 'パス',
  count: 'アクセス数',
  operations: '操作',
  no_files: '該当するファイルアクセスの記録はない。',
  no_patterns: '調査対象のパターンは記録上見当たらない。',
  logon_table: 'ログオン記録',
  logons_of: '{total} 件中 {n} 件を掲載。全件は tables/logons.csv を参照。',
  'cap.users': '利用者 {total} 名中 {n} 名を掲載(ログオン・ログオン失敗・ファイルアクセスの多い順。パターンに現れる利用者はすべて含む)。全員分は {where} を参照。',
  'cap.sources': '接続元 {total} 件中 {n} 件を掲載(ログオン試行の多い順。パターンに現れる接続元はすべて含む)。全件は {where} を参照。',
  'cap.usb': 'USB機器 {total} 台中 {n} 台を掲載(記憶装置を優先し、接続回数の多い順。パターンに現れる機器はすべて含む)。全台分は {where} を参照。',
  'cap.files': 'ファイル {total} 件中 {n} 件を掲載(アクセス数の多い順。パターンに現れるファイルはすべて含む)。全件は {where} を参照。',
  'cap.gaps': '{total} 件中 {n} 件を掲載(古い順。パターンの根拠となるものはすべて含む)。全件は {where} を参照。',
  'cap.how': '検出したパターン {total} 件中 {n} 件を掲載(種類ごとに最大 {limit} 件。{kinds})。古い順に選び、業務時間外の操作は操作件数の多い日を、初出の接続元はログオン失敗の後に成功したものを優先した。全パターンの根拠となるレコードは {where} にある。',
  'cap.how_kind': '{name} {total} 件中 {n} 件',
  'cap.sessions': 'USB接続期間は {total} 件中 {n} 件を図示(記憶装置とパターンに現れるものを優先)。全件は {where} を参照。',
  'cap.data_items': '重要ファイル {total} 件中 {n} 件を掲載(第5章に掲載したもの)。全件は {where} を参照。',
  'cap.overview': '{total} 件中 {n} 件を掲載(不正の目的を示すパターンを優先し、古い順)。全件の根拠となるレコードは {where} にある。',
  'cap.cause': '{total} 件中 {n} 件を掲載(古い順)。全件の根拠となるレコードは {where} にある。',
  more: '{list} ほか{n}件',
  more_people: '{list} ほか{n}名',
  more_cell: '{list} ほか{n}件',
  service: 'サービス',
  action: '動作',
  result: '結果',
  ok: '成功',
  fail: '失敗',
  rule: '適用した基準',
  rule_text:
    '個人情報保護法第26条第1項、同法施行規則第7条・第8条による。速報は事態を知った後「速やかに」(規則第8条第1項)行うもので、通則編ガイドライン3-5-3-3により概ね3～5日以内とし、本書では3日目から5日目を目安として示す(目安であるため休日による繰下げはしない)。確報は30日以内、不正の目的によるもの(そのおそれを含む。規則第7条第3号)は60日以内(規則第8条第2項)。期限は事態を知った日を1日目として日本時間の暦日で数え、土日・祝日も日数に含める。ただし、30日目(60日目)が土曜日・日曜日・祝日または年末年始(12月29日～1月3日)にあたる場合は、その翌日以降でこれらにあたらない最初の日が期限となる(ガイドライン3-5-3-4、行政機関の休日に関する法律第1条・第2条)。本欄は期限の目安であり法的助言ではないため、報告前に必ず確認すること。',
  prompt: '速報',
  final30: '確報(30日以内)',
  final60: '確報(60日以内:不正の目的による場合)',
  day1: '1日目(事態を知った日、日本時間)',
  between: '{from} ～ {to}',
  no_deadlines: '事態を知った日時(--discovered-at)が未指定のため、期限は算出していない。',
  due: '期限',
  'dl.moved_mark': '{date} ※休日による繰下げあり(下記参照)',
  'dl.not_adjusted_mark': '{date} ※休日未調整(下記参照)',
  'dl.moved_one': '{n}日目の{calendar}は{reason}にあたるため、期限は翌日の{date}となる。',
  'dl.moved_run': '{n}日目の{calendar}は{reason}にあたり、{last}まで行政機関の休日({others})が続くため、期限は{date}となる。',
  'dl.not_adjusted': '{n}日目は{calendar}であるが、休日による繰下げの判定はしていない(本ツールが扱う祝日は{from}年～{to}年のみで、{year}年は対象外)。{n}日目が土曜日・日曜日・祝日または年末年始(12月29日～1月3日)にあたる場合は、その後の最初の開庁日が期限となるため、暦で確認すること。',
  'dl.computed_equinox': 'この判定は、まだ公示されていない春分の日・秋分の日の計算値によっている。官報の公示で確認すること。',
  'dl.equinox_basis': '{year}年より後の春分の日・秋分の日は計算による日付であり、まだ公示されていない(毎年2月に翌年分が官報で公示される)。',
  'dl.equinox_basis_unknown': '春分の日・秋分の日は計算による日付である。公示前の年については官報で確認すること(毎年2月に翌年分が公示される)。',
  'r.saturday': '土曜日',
  'r.sunday': '日曜日',
  'r.year_end_closure': '年末年始の閉庁日(12月29日～1月3日)',
  'r.statutory': '祝日({name})',
  'r.substitute': '振替休日',
  'r.citizens': '国民の休日',
  'rs.saturday': '土曜日',
  'rs.sunday': '日曜日',
  'rs.year_end_closure': '年末年始',
  triggers: '報告対象事態(規則第7条):いずれかに該当すれば報告が必要',
  t_sensitive_info: '要配慮個人情報が含まれる',
  t_financial_damage: '不正に利用されることにより財産的被害が生じるおそれがある(クレジットカード番号、ネットバンキングのID・パスワード等)',
  t_malicious: '不正の目的をもって行われたおそれがある(不正アクセス、従業員による持ち出し等)',
  t_over_1000: '本人の数が1,000人を超える',
  indicated: '記録上その可能性を示す事実あり',
  to_decide: '担当者が判断',
  items: '確報の報告事項(規則第8条第1項各号)',
  to_complete: '【要記入】担当者が記載すること。',
  i_overview: '概要',
  i_data_items: '漏えい等が発生し、又は発生したおそれがある個人データの項目',
  i_people: '本人の数',
  i_cause: '原因',
  i_secondary_damage: '二次被害又はそのおそれの有無及びその内容',
  i_individuals: '本人への対応の実施状況',
  i_publication: '公表の実施状況',
  i_prevention: '再発防止のための措置',
  i_other: 'その他参考となる事項',
  chart_caption: 'ホスト別・1時間ごとのイベント数(棒)、USB接続期間(緑:記憶装置、灰:その他)、検出パターン(赤印)。表示範囲は最初の関連イベントの1時間前から最後の関連イベントの1時間後まで。目盛りはUTC。',
  ev_host: 'ホスト',
  ev_seq: '連番',
  ev_sha: 'レコードの SHA-256',
  ev_msg: '内容',
  options: '判定条件',
  usb_window: 'USB接続前の判定範囲:{n}分、ログオン失敗:{w}分以内に{f}回以上の後の成功',
  working_hours: '業務時間:{days}曜 {start}時～{end}時(UTC{offset})',
  no_working_hours: '業務時間の指定がないため、業務時間外の判定は行っていない。',
  'p.sensitive_then_usb': '{host} において、{first_read} 以降 {users} が重要ファイル({files})に計{reads}回アクセスし、その後{window_minutes}分以内の {connected_at} にUSB記憶装置 {device} が接続された{disconnected}。',
  'p.sensitive_during_usb': '{host} において、USB記憶装置 {device} の接続中({connected_at} 接続{disconnected})に、{users} が重要ファイル({files})に計{reads}回アクセスした。',
  'p.new_usb_serial': '{host} において、シリアル番号 {serial} のUSB機器({device})が {time} に初めて記録された(同ホストの記録は {evidence_since} 以降)。',
  'p.failed_then_success': '{host} において、{from} からのログオン失敗が{failures}回({first_failure} 以降、対象ユーザー {failed_users})続いた後、{time} に同じ接続元から {user} としてログオンに成功した。',
  'p.new_logon_source': '{host} において、{from} からのログオン成功は記録上初めてである({time}、{user}。同ホストの記録は {evidence_since} 以降)。',
  'p.anti_forensics.gap': '{host} において {time} に記録の欠落({reason}){path} がある。この間の証拠が欠けている可能性がある。',
  'p.anti_forensics.agent_stop': '{host} において {time} にエージェントが停止した({reason})。',
  'p.anti_forensics.clock': '{host} において {time} に時刻の異常を検知した({reason})。',
  'p.anti_forensics.log_deleted': '{host} において {time} にログファイルの削除・変更({reason})があった:{path}',
  'p.off_hours': '{host} において、{day}(現地時間)の業務時間外に{events}件の操作({kinds})がある。',
  ran: '実行されたプログラム',
  ran_intro: '記録上のプログラム実行は{runs}件(auditd の execve はファイルアクセスとプログラム実行の両方として読まれるが、1回として数えた)。ホストのプロセス記録の最初の{baseline}分より後に初めて実行されたもの、または利用者が書き込めるフォルダから実行されたものを「初出」と表示した。証拠の範囲内で初めて実行されたことを示すにとどまり、それ以前については何も示さない。',
  no_runs: 'プログラム実行の記録はない(auditd の execve ルール、Windows 4688 または Sysmon イベント1が必要)。',
  program: 'プログラム',
  runs: '実行回数',
  first_seen: '初出',
  tool: 'ツールの種類',
  command_lines: 'コマンドライン',
  sensitive_commands: '重要ファイルのパスを含むコマンドライン',
  no_sensitive_commands: '重要ファイルのパスを含むコマンドラインはない。',
  no_sensitive_given: '--sensitive が未指定のため、コマンドラインと重要ファイルの照合は行っていない。',
  command_line: 'コマンドライン',
  sensitive_paths: '重要ファイルのパス',
  parent: '親プロセス',
  cut_note: '長いコマンドライン・URL は省略して表示した。「… [+N]」は省略した文字数であり、全文は根拠のレコードにある。制御文字・不可視文字はエスケープ(\\x1b、\\u202e 等)で表示した。',
  went: 'データの送信先',
  went_intro: 'プロキシ経由で内部アドレス範囲({ranges})の外へ送られたアップロード(POST・PUT・PATCH)と CONNECT トンネルを、バイト数の多い順に掲載した。名前で記録された送信先は、プロキシが内部アドレスを記録していない限り外部とした(名前解決はしていない)。トンネルのバイト数はプロキシが記録した値であり、送受信の方向は記録されていない。',
  no_transfers: '内部アドレス範囲外へのアップロード・トンネルの記録はない(プロキシのログが必要)。',
  destination: '送信先',
  judged_by_name: '(名前で判定)',
  ports: 'ポート',
  methods: 'メソッド',
  requests: 'リクエスト数',
  request_bytes: '送信バイト数',
  tunnel_bytes: 'トンネルのバイト数',
  no_size: 'サイズ記録のないアップロード{n}件',
  clients: 'クライアント',
  logged_on: '記録したホスト',
  shares: 'ファイル共有へのアクセス(Windows 5140/5145)',
  no_shares: 'ファイル共有へのアクセスの記録はない。',
  share: '共有名',
  client: 'クライアント',
  targets: '対象',
  sensitive_col: '重要',
  'tool.archiver': '圧縮・複製',
  'tool.transfer': 'ファイル転送',
  'tool.tunnel': 'トンネル',
  'tool.remote_control': '遠隔操作',
  'tool.remote_exec': 'リモート実行',
  'bytes.request': 'リクエスト {bytes} バイト',
  'bytes.tunnel': 'トンネルとして {bytes} バイトを記録。方向は記録なし',
  'bytes.unknown': 'リクエストのサイズは記録なし',
  writable: '。利用者が書き込めるフォルダからの実行',
  'cap.programs': 'プログラム {total} 件中 {n} 件を掲載(パターンの根拠、既知のツール、重要ファイルに対する実行、圧縮・複製ツール、初出のもの、実行回数の少ないものの順)。全実行は {where} を参照。',
  'cap.commands': 'コマンドライン {total} 件中 {n} 件を掲載(古い順。パターンの根拠となるものはすべて含む)。全件は {where} を参照。',
  'cap.transfers': '送信先 {total} 件中 {n} 件を掲載(バイト数の多い順。パターンの根拠となるものはすべて含む)。全件は {where} を参照。',
  'cap.shares': '{total} 件中 {n} 件を掲載(重要ファイルの共有を優先し、アクセス数の多い順)。全件は {where} を参照。',
  focus_users: '本項は {users} が実行したプログラムを対象とした',
  focus_hosts: '本項は {hosts} で実行されたプログラムを対象とした',
  focus_both: '本項は {users} が {hosts} で実行したプログラムを対象とした',
  focus_none: '記録上の実行に対象のものはない。',
  focus_left_out: '{who}({flags})。対象外として本項に掲載していないもの:他の利用者・ホストによる実行 {runs} 件、それらだけが実行したプログラム {programs} 件、重要パスを含むコマンドライン {commands} 件。第6項のパターンはすべての実行を対象としており、全件は {where} にある。',
  trees: 'プロセスの親子関係',
  trees_intro: '持ち出し・遠隔操作ツール、初出のプログラム、重要パスを含むコマンドラインの実行について、それを起動したプロセス、さらにその親を、記録で結び付けられる範囲でさかのぼって示した。Sysmon のプロセス GUID があればそれで親子を結び付け、ない場合はプロセスIDで結び付けた。プロセスIDによる結び付けは同一起動期間内に限り、同じホストで子より前の直近の同じPIDの起動で、その間に終了の記録がなく、24時間以内であり、子の記録が親のイメージを示す場合はそれと一致するものに限った。同じプログラムで祖先が同じ実行は1行にまとめた。',
  trees_boots: '証拠中の起動区切り(エージェントの開始・停止・欠落、監査イベント番号の巻き戻り)はホストごとに {list}。これをまたいでプロセスIDによる結び付けはしていない。',
  trees_unmarked: '{hosts} の証拠には起動区切りがない。再起動があっても検出できないため、プロセスIDによる結び付けは親子の間に再起動がなかったことを前提としている。',
  no_trees: '親子関係をさかのぼる対象(ツール・初出のプログラム・重要パスを含むコマンドラインの実行)はない。',
  ancestry: '起動元(親から順に)',
  why: '対象理由',
  'why.known_tool': 'ツール',
  'why.first_seen': '初出',
  'why.sensitive': '重要パス',
  'by.process_guid': 'プロセスGUIDで結合',
  'by.pid+exe': 'PIDとイメージで結合',
  'by.pid': 'PIDのみで結合',
  step: 'PID {pid}、{user}、{time}、{by}',
  'end.no_parent_named': '最上位の記録は親を示していない',
  'end.not_in_evidence': '親({parent})の起動は、結び付けられる形では証拠中にない',
  'end.other_boot': '親のPID {ppid}{parent}の起動は証拠中にあるが起動区切りより前であり、結び付けていない',
  'end.too_deep': 'これより上の祖先は省略した({n}段を超える)',
  'end.loop': '記録が互いを親として示しており、循環する箇所で打ち切った',
  'cap.trees': '{total} 件中 {n} 件を掲載(パターンの根拠となるもの、ツール、重要パスを含むコマンドライン、初出の順)。全件は {where} を参照。',
  'p.archive_then_usb': '{host} において、{first_run} 以降 {users} が重要ファイルのパス({files})に対して {programs} を計{runs}回実行し(例:{command_line})、その後{window_minutes}分以内の {connected_at} にUSB記憶装置 {device} が接続された。',
  'p.archive_then_upload': '{host} において、{first_run} 以降 {users} が重要ファイルのパス({files})に対して {programs} を計{runs}回実行し(例:{command_line})、その後{window_minutes}分以内の {sent_at} に、{logged_on} のプロキシログに {client} から内部アドレス範囲外の {destination} への {method} が記録されている({bytes_text})。クライアントのアドレスと {host} の対応は本記録からは確認できない。',
  'p.large_upload': '{host} において {time} に、プロキシが {client}(利用者 {user})から内部アドレス範囲外の {endpoint} への {method} を記録した({bytes_text}。しきい値 {threshold} バイト以上)。',
  'p.known_tool': '{host} において、{time} 以降 {exe}({tool_name})が {users} により計{runs}回実行された。この種のツールはデータの持ち出しや遠隔操作に用いられるが、今回の利用が許可されたものかは記録からは分からない。コマンドライン:{command_line}',
  'p.new_executable': '{host} において、{exe} が {time} に同ホストのプロセス記録上初めて実行された(同記録は {evidence_since} 以降){writable_text}。実行者 {users}、計{runs}回。',
  'q.archive_purpose': '{users} が {host} で {files} に対して {programs} を実行した目的は何か。作成されたファイルはどうなったか。{to} へ送られたものか。',
  'q.destination_known': '{destination} は組織が利用しているサービスか。当時クライアント {client}(利用者 {user})を使っていたのは誰で、何が送られたか。',
  'q.tool_authorised': '{host} の {exe} は許可されたものか、誰が導入したか。{users} は何に使ったか。',
  'item.overview.archive_then_usb': '{host} において、{users} が重要ファイルのパス({files})に対して {programs} を実行し、{connected_at} にUSB記憶装置({device})が接続された。',
  'item.overview.archive_then_upload': '{host} において、{users} が重要ファイルのパス({files})に対して {programs} を実行し、その後プロキシに {destination} への {method} が記録された({bytes_text})。',
  'item.overview.large_upload': '{time} に、{client} から内部アドレス範囲外の {destination} への {method} がプロキシに記録された({bytes_text})。',
  'item.overview.known_tool': '{host} において、{time} 以降 {exe}({tool_name})が実行された。',
  'item.cause.archive_then_usb': '{host} において {users} が {programs} により {files} を圧縮・複製した後、USB記憶装置 {device} が接続されたこと(同装置へ複製された内容は別途確認を要する)。',
  'item.cause.archive_then_upload': '{host} において {users} が {programs} により {files} を圧縮・複製した後、{destination} への {method} が記録されたこと({bytes_text}。送信内容は別途確認を要する)。',
  disconnected: '({disconnected_at} 取り外し)',
  'gap.reported': '{reason}:{detail}',
  'gap.agent_down': 'エージェント停止中({reason})',
  'gap.clock': '時刻異常:{detail}(ずれ {skew_ms} ms)',
  'q.usb_purpose': '{users} は {host} の {files} を外部記憶媒体へ複製する権限を有していたか。USB機器 {device} のその後の内容はどうか。',
  'q.usb_owner': 'USB機器 {device} の所有者は誰か、現在どこにあるか(押収した機器とはシリアル番号で照合できる)。',
  'q.source_known': '{from} は既知の接続元(VPN、社内、委託先等)か。{host} の {user} のパスワードは漏えい・推測されたものか、変更済みか。',
  'q.gap_reason': '{host} で {time} に証拠が欠けている({what})理由は何か。エージェントの停止やログの操作ができる権限を持つのは誰か。',
  'q.data_content': '該当する{files}件のファイルに、どの項目の個人データが何人分含まれるか(報告対象事態の判断に必要)。',
  'q.other_channels': '本記録の対象外の経路(メール、クラウドストレージ、印刷、撮影等)で持ち出された可能性はないか。',
  'reg.malicious_indicated': '記録上 {patterns} が認められるため、否定されるまでは不正の目的のおそれがあるものとして扱い、規則第7条第3号(確報60日以内)に該当しうる。',
  'item.overview.sensitive_then_usb': '{host} において、{users} が重要ファイル({files})を読み取り、{connected_at} にUSB記憶装置({device})が接続された。',
  'item.overview.sensitive_during_usb': '{host} において、USB記憶装置({device})の接続中に {users} が重要ファイル({files})にアクセスした。',
  'item.overview.failed_then_success': '{host} において、{from} からのログオン失敗が続いた後、{time} に {user} としてログオンに成功した。',
  'item.overview.anti_forensics': '{host} において {time} に証拠の欠落のおそれがある({what})。',
  'item.overview.off_hours': '{host} において、{day} に業務時間外の操作がある。',
  'item.data_items.file': '{host} の {path}({count}回アクセス):含まれる個人データの項目を記載すること。',
  'item.cause.sensitive_then_usb': '{host} において {users} が {files} を読み取った後、USB記憶装置 {device} が接続されたこと(複製の有無は本記録からは確認できず、別途確認を要する)。',
  'item.cause.sensitive_during_usb': '{host} において USB記憶装置 {device} の接続中に {users} が {files} にアクセスしたこと。',
  'item.cause.failed_then_success': '{host} において {from} から{failures}回のログオン失敗の後、{user} としてログオンに成功したこと(パスワード推測による不正アクセスの疑い)。',
  'item.other.preserved': 'ログは封印済みバンドル {case} として保全した(対象 {hosts} ホスト、封印 {sealed_at}、manifest の SHA-256 {manifest_sha256}、保全者の鍵 {fingerprint})。第三者が `custody verify` または sha256sum/hashdeep で検証できる。',
  'item.other.gaps': '証拠が欠けている可能性のある箇所 {gaps} 件は第1章に記載した。',
  'item.other.preserving': 'ログはバンドル {case} として保全した(対象 {hosts} ホスト、保全開始 {sealed_at}、保全者の鍵 {fingerprint})。本ドラフトは封印前にバンドル内に作成したため、マニフェストの対象に含まれ、第三者が `custody verify` または sha256sum/hashdeep で検証できる。',
};

const TEXTS: Record<Lang, Record<MessageKey, string>> = { en, ja };

const TIME_PARAMS = new Set(['time', 'connected_at', 'disconnected_at', 'first_read', 'first_failure', 'evidence_since', 'sealed_at', 'first_run', 'sent_at']);
const PATTERN_NAMES: Record<Lang, Record<PatternType, string>> = {
  en: {
    sensitive_then_usb: 'sensitive reads then USB storage',
    sensitive_during_usb: 'sensitive reads during a USB storage session',
    new_usb_serial: 'USB serial not seen before',
    failed_then_success: 'failed logons then success',
    new_logon_source: 'logon from a new source',
    anti_forensics: 'gaps, stops, log removal',
    off_hours: 'outside working hours',
    archive_then_usb: 'archiver on sensitive paths then USB storage',
    archive_then_upload: 'archiver on sensitive paths then an upload',
    large_upload: 'large upload or tunnel to an outside host',
    known_tool: 'known exfiltration or remote-access tool',
    new_executable: 'program not seen before',
  },
  ja: {
    sensitive_then_usb: '重要ファイル読取後のUSB記憶装置接続',
    sensitive_during_usb: 'USB記憶装置接続中の重要ファイルアクセス',
    new_usb_serial: '初出のUSBシリアル',
    failed_then_success: 'ログオン失敗後の成功',
    new_logon_source: '初出の接続元からのログオン',
    anti_forensics: '記録の欠落・停止・ログ削除',
    off_hours: '業務時間外の操作',
    archive_then_usb: '重要ファイルの圧縮・複製後のUSB記憶装置接続',
    archive_then_upload: '重要ファイルの圧縮・複製後のアップロード',
    large_upload: '外部への大容量アップロード・トンネル通信',
    known_tool: '持ち出し・遠隔操作に使われるツールの実行',
    new_executable: '初出のプログラム',
  },
};

/** The words of a windowed host's note (window_note): its bounds in the report's time zone and its seqs. */
export function windowParams(h: HostIntegrity, lang: Lang): Record<string, string | number> {
  const w = h.window;
  if (w === undefined) return {};
  return { host: h.host, since: w.since !== undefined ? fmtTime(w.since, lang) : '—', until: w.until !== undefined ? fmtTime(w.until, lang) : '—', first: w.first_seq, last: w.end_seq - 1, vault: w.vault_tree_size };
}

export function patternName(code: PatternType, lang: Lang): string {
  return PATTERN_NAMES[lang][code];
}

export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

/**
 * A key built from a model's code at run time (a statement's code, a holiday's reason): looked up
 * like `t`, and a key with no message shows as itself, marked, rather than as an empty string.
 */
export function tCode(key: string, lang: Lang, params: Record<string, Param> = {}): string {
  return isMessageKey(key) ? t(key, lang, params) : `[${key}]`;
}

export function t(key: MessageKey, lang: Lang, params: Record<string, Param> = {}): string {
  const template = TEXTS[lang][key];
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) return '';
    if (name === 'patterns' && Array.isArray(v)) return v.map((c) => patternName(c as PatternType, lang)).join(lang === 'ja' ? '、' : ', ');
    if (TIME_PARAMS.has(name) && typeof v === 'string') return fmtTime(v, lang);
    // A list the model cut short (`<name>_total`): the names shown, and how many more there are.
    const total = params[`${name}_total`];
    if (Array.isArray(v) && typeof total === 'number' && total > v.length) return t(name.endsWith('users') ? 'more_people' : 'more', lang, { list: list(v, lang), n: total - v.length });
    return list(v, lang);
  });
}

/** The names of a table cell that holds at most some of them (`total` counts all). */
export function namesCell(names: readonly string[], total: number, lang: Lang): string {
  const shown = names.join(', ');
  return total > names.length ? t('more_cell', lang, { list: shown, n: total - names.length }) : shown;
}

/** Where the bundle has every row of each list the report may show only part of. */
const FULL_LISTS = {
  users: ['tables/logons.csv', 'tables/file-access.csv'],
  sources: ['tables/logons.csv'],
  usb: ['tables/usb-devices.csv'],
  files: ['tables/file-access.csv'],
  gaps: ['tables/gaps.csv', 'timeline/timeline.csv'],
  how: ['timeline/timeline.csv'],
  sessions: ['timeline/timeline.csv'],
  data_items: ['tables/file-access.csv'],
  overview: ['timeline/timeline.csv'],
  cause: ['timeline/timeline.csv'],
  programs: ['tables/process-executions.csv'],
  commands: ['tables/process-executions.csv'],
  trees: ['tables/process-executions.csv'],
  transfers: ['tables/net-access.csv'],
  shares: ['tables/net-access.csv'],
} as const;

/** "Shown N of M …; all of them are in <file>" for a list shown in part; undefined when it is shown whole. */
export function capNote(listName: keyof typeof FULL_LISTS, n: number, total: number, lang: Lang, params: Record<string, Param> = {}): string | undefined {
  if (total <= n) return undefined;
  return t(`cap.${listName}`, lang, { ...params, n, total, where: FULL_LISTS[listName].join(lang === 'ja' ? ' と ' : ' and ') });
}

/** The note under section 6 when some patterns are not shown: per kind, how many of how many. */
export function howCapNote(model: ReportModel, lang: Lang): string | undefined {
  const shown = new Map<PatternType, number>();
  for (const p of model.how) shown.set(p.code, (shown.get(p.code) ?? 0) + 1);
  const cut = (Object.keys(PATTERN_NAMES.en) as PatternType[]).flatMap((code) => {
    const total = model.howTotals[code] ?? 0;
    return total > (shown.get(code) ?? 0) ? [[code, total] as const] : [];
  });
  const kinds = cut.map(([code, total]) => t('cap.how_kind', lang, { name: patternName(code, lang), n: shown.get(code) ?? 0, total }));
  return capNote('how', model.how.length, model.howTotal, lang, { limit: model.options.rowLimit, kinds: kinds.join(lang === 'ja' ? '、' : '; ') });
}

/** The sentence of a statement (patterns, gaps, questions, report items), without its citations. */
export function statementText(st: Statement & { host?: string; time?: string }, lang: Lang): string {
  const params: Record<string, Param> = { ...st.params, ...(st.host !== undefined ? { host: st.host } : {}), ...(st.time !== undefined ? { time: st.time } : {}) };
  if (st.code === 'anti_forensics') return tCode(`p.anti_forensics.${String(st.params['what'])}`, lang, params);
  if (st.code.startsWith('item.overview.anti_forensics')) return t('item.overview.anti_forensics', lang, params);
  if (params['disconnected_at'] !== undefined) params['disconnected'] = t('disconnected', lang, params);
  if (typeof params['basis'] === 'string') params['bytes_text'] = tCode(`bytes.${params['basis']}`, lang, { bytes: typeof params['bytes'] === 'number' ? params['bytes'].toLocaleString('en-US') : '?' });
  if (typeof params['tool'] === 'string') params['tool_name'] = tCode(`tool.${params['tool']}`, lang);
  if (params['writable'] !== undefined) params['writable_text'] = params['writable'] === true ? t('writable', lang) : '';
  const key = st.code.startsWith('q.') || st.code.startsWith('gap.') || st.code.startsWith('item.') || st.code.startsWith('reg.') ? st.code : `p.${st.code}`;
  return tCode(key, lang, params);
}

/**
 * What opens the report, in both renderers: the verdict, then what the verification trusted that
 * the examiner did not pin (the collector's claim, the keys shipped in the bundle).
 */
export function verdictTexts(model: ReportModel, lang: Lang): { verdict: string; notes: string[] } {
  const notes: string[] = [];
  const trust = model.integrity.now?.trust;
  if (trust?.collector === 'manifest') notes.push(t('claim_collector', lang));
  if (trust?.agents === 'manifest') notes.push(t('claim_agents', lang));
  return { verdict: t(`verdict_${model.verdict}`, lang), notes };
}

/** The sentence that says whom What ran is about and what it left out; undefined when it is about everyone. */
export function focusText(ran: ReportModel['ran'], lang: Lang): string | undefined {
  const f = ran.focus;
  if (f === undefined) return undefined;
  const who = f.users.length > 0 && f.hosts.length > 0 ? 'focus_both' : f.users.length > 0 ? 'focus_users' : 'focus_hosts';
  const flags = [...(f.users.length > 0 ? ['--user-of-interest'] : []), ...(f.hosts.length > 0 ? ['--host-of-interest'] : [])];
  return t('focus_left_out', lang, { who: t(who, lang, { users: f.users, hosts: f.hosts }), flags, runs: f.runsLeftOut, programs: f.programsLeftOut, commands: f.commandsLeftOut, where: FULL_LISTS.programs.join(lang === 'ja' ? ' と ' : ' and ') });
}

/** An ancestor's details after its program: pid, user, start time, how it was linked. */
export function stepText(s: AncestorStep, lang: Lang): string {
  return t('step', lang, { pid: s.pid !== undefined ? String(s.pid) : '?', user: s.user, time: s.time, by: tCode(`by.${s.by}`, lang) });
}

/** Where and why a chain stops. */
export function chainEndText(end: ChainEnd, lang: Lang): string {
  switch (end.reason) {
    case 'not_in_evidence': {
      const named = [end.parent, end.ppid !== undefined ? `pid ${end.ppid}` : undefined, end.parent_guid !== undefined ? `GUID ${end.parent_guid}` : undefined].filter((x) => x !== undefined);
      return t('end.not_in_evidence', lang, { parent: named.join(', ') });
    }
    case 'other_boot':
      return t('end.other_boot', lang, { ppid: String(end.ppid), parent: end.parent === undefined ? '' : lang === 'ja' ? `(${end.parent})` : ` (${end.parent})` });
    case 'too_deep':
      return t('end.too_deep', lang, { n: MAX_DEPTH });
    default:
      return t(`end.${end.reason}`, lang);
  }
}

/** "host: N" per host, for the boot markers note. */
export function bootMarkersText(ran: ReportModel['ran'], lang: Lang): string {
  return ran.bootMarkers.map((b) => `${b.host}: ${b.markers}`).join(lang === 'ja' ? '、' : ', ');
}
