/**
 * `custody report BUNDLE`: the investigation report of a bundle (folder or .tar), as Markdown and
 * one self-contained HTML file, English and/or Japanese, plus the model as JSON.
 *
 * Where it goes: a sealed bundle's files are all listed by its manifest, and `custody verify` names
 * any file it does not list, so a report made after sealing is never written inside the bundle. It
 * goes to `--out` (default: `<bundle>-report/` beside the bundle). `custody collect` writes the
 * draft report into the bundle's `report/` folder itself, before sealing, so that one is covered by
 * the manifest (see `writeReportFiles`).
 *
 * The bundle is verified first (the result opens the report); then manifest.json (its schema) and
 * timeline/timeline.jsonl (streamed, each line through the gate of src/report/timeline-input.ts:
 * a line that fails is left out and named) feed the pure model (src/report/model.ts). The report
 * is written even for an INVALID bundle, and then says INVALID before anything else; the exit
 * code follows the report's verdict.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Clock } from '../src/clock.js';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { parseManifest } from '../src/bundle/manifest.js';
import { extractTar } from '../src/bundle/tar.js';
import { makeTempFolder, removeTempFolder } from '../src/fs/temp-folder.js';
import { formatTimestamp } from '../src/records/schema.js';
import { parseInstant, type PpcDeadlines } from '../src/report/deadlines.js';
import type { Lang } from '../src/report/i18n.js';
import { buildReportModel, type ReportEntryPass, type ReportInput, type ReportManifest, type ReportModel, type ReportOptions, type WorkingHours } from '../src/report/model.js';
import type { ReportNetOptions } from '../src/report/net-options.js';
import { renderHtml } from '../src/report/render-html.js';
import { renderMarkdown } from '../src/report/render-md.js';
import { knownStores, parseTimelineLine, rejectLine, type KnownStores, type TimelineRow } from '../src/report/timeline-input.js';
import { terminalLines } from '../src/text/terminal.js';
import { verifyBundle, type VerifyBundleOptions } from './verify-bundle.js';

export interface WriteReportOptions {
  /** One language; both (en as report.*, ja as report.ja.*) when absent. */
  lang?: Lang;
  discoveredAt?: string;
  sensitive?: readonly string[];
  /** Output folder; default `<bundle>-report` beside the bundle (or the .tar). */
  out?: string;
  workingHours?: WorkingHours;
  usbWindowMinutes?: number;
  /** Most events the report holds in memory (`ReportOptions.maxEvents`); past it, E_REPORT_TOO_LARGE. */
  maxEvents?: number;
  /** Internal address ranges, the large-upload threshold, the users and hosts of interest (src/report/net-options.ts); defaults when absent. */
  net?: ReportNetOptions;
  /** Options for the verification that opens the report (pinned keys, TSA roots). */
  verify?: VerifyBundleOptions;
}

export interface ReportSummary {
  out: string;
  files: string[];
  /** The bundle verified and every timeline line was usable (the report's verdict is VALID); the exit code follows it. */
  verified: boolean;
  /** Timeline lines left out because they failed their schema (named in section 1 of the report). */
  rejected_rows: number;
  patterns: Record<string, number>;
  /** final/final_malicious are the deadlines after moving past administrative holidays; `notes` says what was moved or could not be. */
  deadlines?: { prompt: string; final: string; final_malicious: string; notes: string[] };
}

/** Reads a JSON-lines file line by line, synchronously, in bounded memory. */
export function* readJsonLines<T>(path: string): Generator<T> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let rest = '';
    const decoder = new TextDecoder('utf-8');
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      const text = rest + decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line !== '') yield JSON.parse(line) as T;
      if (n === 0) break;
    }
    if (rest.trim() !== '') yield JSON.parse(rest) as T;
  } finally {
    closeSync(fd);
  }
}

/** Longest timeline line read whole (a real one is a few KB); past it the line is a rejected row, skipped to its newline. */
export const MAX_TIMELINE_LINE = 16 << 20;

/**
 * The rows of timeline.jsonl, each checked by `parseTimelineLine` (src/report/timeline-input.ts)
 * with its 1-based line number: an entry, or a rejected row naming the line. Bounded memory: a line
 * longer than `maxLine` characters is rejected without being held whole.
 */
export function* readTimelineRows(path: string, stores: KnownStores, maxLine = MAX_TIMELINE_LINE): Generator<TimelineRow> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const decoder = new TextDecoder('utf-8');
    let rest = '';
    let lineNo = 0;
    let skipping = false; // inside an over-long line, until its newline
    const row = (text: string): TimelineRow => (text === '' ? rejectLine('report.timeline_empty_line', lineNo, 'empty line') : parseTimelineLine(text, lineNo, stores));
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      const text = rest + decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      let start = 0;
      let nl: number;
      while ((nl = text.indexOf('\n', start)) !== -1) {
        const line = text.slice(start, nl);
        start = nl + 1;
        if (skipping) skipping = false; // the end of the over-long line already rejected
        else {
          lineNo++;
          yield row(line);
        }
      }
      rest = skipping ? '' : text.slice(start);
      if (rest.length > maxLine) {
        lineNo++;
        skipping = true;
        rest = '';
        yield rejectLine('report.timeline_line_too_long', lineNo, `line longer than ${maxLine} characters`);
      }
      if (n === 0) break;
    }
    if (rest !== '') {
      lineNo++;
      yield row(rest);
    }
  } finally {
    closeSync(fd);
  }
}

/** `09-18` or `09:00-18:00`, with `--utc-offset +09:00` and Monday–Friday. */
export function parseWorkingHours(spec: string, utcOffset = '+09:00', days: readonly number[] = [1, 2, 3, 4, 5]): WorkingHours {
  const m = /^(\d{1,2})(?::00)?-(\d{1,2})(?::00)?$/.exec(spec.trim());
  const o = /^([+-])(\d{2}):(\d{2})$/.exec(utcOffset.trim());
  if (m === null) throw new CustodyError(ErrorCodes.USAGE, `--working-hours must look like 09-18 (whole hours, local time), got ${JSON.stringify(spec)}`);
  if (o === null) throw new CustodyError(ErrorCodes.USAGE, `--utc-offset must look like +09:00, got ${JSON.stringify(utcOffset)}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!(start >= 0 && start < end && end <= 24)) throw new CustodyError(ErrorCodes.USAGE, `--working-hours: the start must be before the end, within 0–24, got ${JSON.stringify(spec)}`);
  const minutes = (Number(o[2]) * 60 + Number(o[3])) * (o[1] === '-' ? -1 : 1);
  return { start, end, utcOffsetMinutes: minutes, days: [...days] };
}

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.partial-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CustodyError(ErrorCodes.IO, `cannot write ${path}: ${messageOf(err)}`, { where: path, cause: err });
  }
}

/** The report files for a model: report.md/.html (+ report.ja.md/.html when both languages), report.json. Returns their names. */
export function reportFiles(model: ReportModel, lang?: Lang): Array<{ name: string; content: string }> {
  const langs: Array<{ lang: Lang; suffix: string }> = lang !== undefined ? [{ lang, suffix: '' }] : [{ lang: 'en', suffix: '' }, { lang: 'ja', suffix: '.ja' }];
  const files: Array<{ name: string; content: string }> = [];
  for (const l of langs) {
    files.push({ name: `report${l.suffix}.md`, content: renderMarkdown(model, l.lang) });
    files.push({ name: `report${l.suffix}.html`, content: renderHtml(model, l.lang) });
  }
  files.push({ name: 'report.json', content: `${JSON.stringify(model, null, 2)}\n` });
  return files;
}

/** Writes the report files of `model` into `dir` (created). Used by `writeReport` and by collect before sealing. */
export function writeReportFiles(dir: string, model: ReportModel, lang?: Lang): string[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot create the report folder: ${messageOf(err)}`, { where: dir, cause: err });
  }
  const names: string[] = [];
  for (const f of reportFiles(model, lang)) {
    writeAtomic(join(dir, f.name), f.content);
    names.push(join(dir, f.name));
  }
  return names;
}

export function checkReportOptions(options: Pick<WriteReportOptions, 'discoveredAt' | 'lang'>): void {
  if (options.discoveredAt !== undefined && parseInstant(options.discoveredAt) === undefined) {
    throw new CustodyError(ErrorCodes.USAGE, `--discovered-at must be an ISO 8601 time with a zone, e.g. 2026-11-21T10:30:00+09:00, got ${JSON.stringify(options.discoveredAt)}`);
  }
  if (options.lang !== undefined && options.lang !== 'en' && options.lang !== 'ja') throw new CustodyError(ErrorCodes.USAGE, `--lang must be en or ja, got ${JSON.stringify(options.lang)}`);
}

export function defaultReportDir(bundlePath: string): string {
  const abs = resolve(bundlePath);
  return join(dirname(abs), `${basename(abs).replace(/\.tar$/, '')}-report`);
}

/** Verifies the bundle, builds the model and writes the report files. */
export async function writeReport(bundlePath: string, options: WriteReportOptions, deps: { clock: Clock }): Promise<ReportSummary> {
  checkReportOptions(options);
  let st;
  try {
    st = statSync(bundlePath);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, { where: bundlePath, cause: err });
  }
  const out = resolve(options.out ?? defaultReportDir(bundlePath));
  const bundleAbs = resolve(bundlePath);
  if (st.isDirectory()) {
    const rel = relative(bundleAbs, out);
    if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !rel.startsWith('/'))) {
      throw new CustodyError(ErrorCodes.USAGE, 'the report would be written inside the sealed bundle, where `custody verify` would name it as an unlisted file; choose an --out outside it', { where: out });
    }
  }
  // The report reads every record's rendering anyway: it also proves each record well-formed (issue 14).
  const verification = await verifyBundle(bundlePath, { deep: true, ...options.verify });
  let temp: string | undefined;
  try {
    let dir = bundleAbs;
    if (st.isFile()) {
      temp = makeTempFolder('custody-report-');
      dir = join(temp, 'bundle');
      await extractTar(bundlePath, dir);
    }
    const manifestPath = join(dir, 'manifest.json');
    const timelinePath = join(dir, 'timeline', 'timeline.jsonl');
    if (!existsSync(manifestPath)) throw new CustodyError(ErrorCodes.USAGE, 'not a bundle: no manifest.json', { where: bundlePath });
    if (!existsSync(timelinePath)) throw new CustodyError(ErrorCodes.USAGE, 'the bundle has no timeline/timeline.jsonl', { where: bundlePath });
    const mBytes = new Uint8Array(readFileSync(manifestPath));
    const manifest = parseManifest(mBytes, manifestPath);
    const input: ReportInput = {
      manifest,
      manifestSha256: createHash('sha256').update(mBytes).digest('hex'),
      verification: {
        ok: verification.ok,
        tsa: verification.tsa,
        ...(verification.custody ? { custody: verification.custody } : {}),
        findings: verification.findings,
        trust: { collector: verification.collector?.trust ?? 'manifest', agents: verification.hosts.length > 0 && verification.hosts.every((h) => h.trust === 'pinned') ? 'pinned' : 'manifest' },
      },
      entries: readTimelineRows(timelinePath, knownStores(manifest.hosts)),
    };
    const model = buildReportModel(input, reportModelOptions(options, formatTimestamp(deps.clock.nowMs())));
    const files = writeReportFiles(out, model, options.lang);
    const patterns: Record<string, number> = {};
    // From the totals: model.how is capped per kind for the reader.
    for (const [code, n] of Object.entries(model.howTotals)) if (n !== undefined) patterns[code] = n;
    const d = model.regulator.deadlines;
    return {
      out,
      files,
      verified: model.verdict === 'valid',
      rejected_rows: model.integrity.rejected.count,
      patterns,
      ...(d ? { deadlines: { prompt: `${d.prompt.from_date}..${d.prompt.to_date}`, final: d.final.date, final_malicious: d.final_malicious.date, notes: deadlineNotes(d) } } : {}),
    };
  } finally {
    if (temp !== undefined) removeTempFolder(temp);
  }
}

/**
 * The draft report `collect` puts inside the bundle before sealing (so the manifest covers it):
 * from the hosts as verified at collection and the timeline just written, without a verification of
 * the sealed bundle (the report says so). Writes `<bundleDir>/report/`; returns the bundle-relative names.
 * `pass`: the model's pass over the timeline, made by the collector as it wrote it (made from the file without it).
 */
export function writeDraftReport(bundleDir: string, manifest: ReportManifest, options: WriteReportOptions, generatedAt: string, pass?: ReportEntryPass): string[] {
  checkReportOptions(options);
  const model = buildReportModel(
    // The collector's pass was fed the lines as it wrote them (collector/timeline.ts), each gated as
    // readTimelineRows gates them: the same rows, without reading the file back.
    { manifest, entries: pass ?? readTimelineRows(join(bundleDir, 'timeline', 'timeline.jsonl'), knownStores(manifest.hosts)) },
    reportModelOptions(options, generatedAt),
  );
  return writeReportFiles(join(bundleDir, 'report'), model, options.lang).map((p) => relative(bundleDir, p).split(sep).join('/'));
}

export function reportModelOptions(options: WriteReportOptions, generatedAt: string): ReportOptions {
  return {
    generatedAt,
    ...(options.discoveredAt !== undefined ? { discoveredAt: options.discoveredAt } : {}),
    ...(options.sensitive !== undefined ? { sensitive: options.sensitive } : {}),
    ...(options.workingHours !== undefined ? { workingHours: options.workingHours } : {}),
    ...(options.usbWindowMinutes !== undefined ? { usbWindowMinutes: options.usbWindowMinutes } : {}),
    ...(options.maxEvents !== undefined ? { maxEvents: options.maxEvents } : {}),
    ...(options.net !== undefined ? { internalRanges: options.net.internal_ranges, uploadThreshold: options.net.upload_threshold } : {}),
    ...(options.net?.users_of_interest !== undefined ? { usersOfInterest: options.net.users_of_interest } : {}),
    ...(options.net?.hosts_of_interest !== undefined ? { hostsOfInterest: options.net.hosts_of_interest } : {}),
  };
}

/** One line per final-report deadline that was moved, or that could not be checked against the holiday calendar. */
function deadlineNotes(d: PpcDeadlines): string[] {
  const notes: string[] = [];
  for (const f of [d.final, d.final_malicious]) {
    if (f.not_adjusted) notes.push(`day ${f.days} (${f.calendar_date}) is in ${f.not_adjusted.year}, outside the holiday calendar known here (${f.not_adjusted.known_years.from}–${f.not_adjusted.known_years.to}): not adjusted for holidays, check it`);
    else if (f.date !== f.calendar_date) notes.push(`day ${f.days} (${f.calendar_date}) is an administrative holiday; the deadline moves to ${f.date}`);
    if (f.computed_equinox) notes.push(`day ${f.days}: an equinox day on the way is computed, not yet proclaimed`);
  }
  return notes;
}

export function formatReportSummary(s: ReportSummary): string {
  const lines = [`report:   ${s.out}`, `bundle:   ${s.verified ? 'VALID' : 'INVALID (see section 1 of the report)'}`];
  if (s.rejected_rows > 0) lines.push(`          ${s.rejected_rows} timeline line(s) failed their schema and were left out`);
  for (const f of s.files) lines.push(`  ${f}`);
  const pats = Object.entries(s.patterns);
  lines.push(`patterns: ${pats.length === 0 ? 'none' : pats.map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  if (s.deadlines) {
    lines.push(`PPC:      prompt report ${s.deadlines.prompt} (JST), final report ${s.deadlines.final} (${s.deadlines.final_malicious} if malicious)`);
    for (const n of s.deadlines.notes) lines.push(`          ${n}`);
  }
  return terminalLines(lines);
}
