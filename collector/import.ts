/**
 * `custody import`: preserve files taken from another machine (logs, `.evtx`, `setupapi.dev.log`,
 * wtmp/btmp/utmp, compressed logs) in a store, then read them into the same typed records the agent
 * derives, so a host without an agent still yields evidence.
 *
 * For each file, in the order given: its bytes go into the store (a blob under their SHA-256) and a
 * `log.file` record (`reason: import`, `content: stored`, size, mtime, sha256); then its content is
 * read (import-content.ts) into derived records that name the `log.file` seq in `derived_from`.
 * Plain text is hashed, stored and read in 1 MiB pieces, and its records go to the store as they
 * are derived, so memory does not grow with the file; it is read back from the stored blob, so the
 * records come from exactly the bytes preserved. Other formats are read whole. A
 * truncated tail is an `agent.gap` (evidence that could not be read); last, an `import.derived`
 * record says the file was read to its end.
 *
 * Repeating an import is safe, because a store says how far each file got:
 * - a file whose content an earlier import preserved (same SHA-256; one store holds one host) is
 *   not stored again. When that import finished (`import.derived`), nothing is done; when it was cut
 *   short (kill -9, a full disk), the file is read again from its first `log.file`'s path and mtime,
 *   which gives the same records (import-content.ts is deterministic), the ones already in the
 *   store are checked against them and skipped, and the rest follow: nothing is derived twice;
 * - `preserveAgain` stores a second `log.file` on purpose (`duplicate_of` the first, with a note) and
 *   derives nothing from it: its evidence is the first copy's, so no event is counted twice.
 * An import that cannot finish (a write fails) records an `agent.gap` (`import_incomplete`) saying
 * how far the file got, when the store can still take it, seals what was written, and returns a
 * summary with `complete: false`: the command prints it and exits 2. Run it again to finish.
 *
 * All files are checked before anything is written (a missing file, a folder, an unreadable file is
 * an error naming it, and nothing is imported). Takes the store folder and options; never reads argv.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Clock } from '../src/clock.js';
import { systemClock } from '../src/clock.js';
import { CustodyError, ErrorCodes, isCustodyError, messageOf } from '../src/errors.js';
import type { ParseFailure } from '../src/parsers/types.js';
import { canonicalText, decodeCanonical } from '../src/records/canonical.js';
import { formatTimestamp, validatePayload, type EvidenceRecord, type PayloadOf, type RecordKind } from '../src/records/schema.js';
import { EVIDENCE_FILE, EvidenceStore } from '../src/store/evidence-store.js';
import { terminalLines } from '../src/text/terminal.js';
import { deriveTextPieces, parseContent, readContent, scanContent, type ContentScan, type ContentSink, type ParsedContent } from './import-content.js';

/** `source` of the log.file, agent.gap and import.derived records of an import; derived records: `import:<parser>`. */
export const IMPORT_SOURCE = 'import';
/** `reason` of the gap an interrupted import leaves. */
export const IMPORT_INCOMPLETE = 'import_incomplete';

/**
 * What happened to a file: `imported` (preserved and read now), `resumed` (an earlier import had
 * preserved it and read part of it; this one read the rest), `already_imported` (nothing to do),
 * `preserved_again` (a second copy kept on purpose; nothing derived), `incomplete` (cut short now).
 */
export type ImportOutcome = 'imported' | 'resumed' | 'already_imported' | 'preserved_again' | 'incomplete';

export interface ImportedFile {
  path: string;
  size: number;
  sha256: string;
  mtime: string;
  /** seq of the `log.file` record its evidence is derived from (an earlier import's, when it had preserved the same content). */
  seq: number;
  outcome: ImportOutcome;
  /** seq of the `log.file` of the second copy (`preserved_again`). */
  copy_seq?: number;
  /** What the content was read as; `gzip+…` for a compressed file. */
  format: string;
  /** Records derived by this run, by kind. */
  records: Record<string, number>;
  /** Records earlier runs had derived from it (resumed or already imported). */
  records_before: number;
  failures: Record<string, number>;
  /** Failure examples (at most 3 per reason). */
  failure_samples: ParseFailure[];
  gaps: Array<{ seq: number; reason: string; detail: string }>;
  /** seq of the `import.derived` record that closes it (this run's or an earlier one's). */
  done_seq?: number;
}

export interface ImportProblem {
  code: string;
  message: string;
  where: string | undefined;
}

export interface ImportSummary {
  store: string;
  host: string;
  store_id: string;
  /** Set when this import created the store: the enrollment key fingerprint to record. */
  created?: { fingerprint: string };
  files: ImportedFile[];
  totals: { files: number; bytes: number; records: Record<string, number>; failures: Record<string, number>; gaps: number };
  /** Records in the store after the import (sealed by a final checkpoint when `sealed`). */
  store_records: number;
  sealed: boolean;
  /** False when the import was cut short: `incomplete` says where, `not_imported` what was not reached. */
  complete: boolean;
  incomplete?: {
    path: string;
    error: ImportProblem;
    /** Whether the file's content and `log.file` record are in the store. */
    preserved: boolean;
    /** Records derived from it that are committed (earlier runs included). */
    derived_committed: number;
    /** seq of the `agent.gap` that records the interruption, when the store could take it. */
    gap_seq?: number;
    /** Why no gap could be recorded. */
    gap_error?: ImportProblem;
  };
  /** Files given that this run did not reach. */
  not_imported: string[];
}

export interface ImportOptions {
  /** Host the files came from; required to create a store, must match an existing store's host. */
  host?: string;
  clock?: Clock;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Preserve a file again even when the store holds its content from an earlier import (`--preserve-again`). */
  preserveAgain?: boolean;
  /** Caps the evidence file's size (see OpenOptions.maxDatabaseBytes): a full disk, for tests. */
  maxDatabaseBytes?: number;
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Checks every file before anything is written. */
function checkFiles(files: readonly string[]): string[] {
  if (files.length === 0) throw new CustodyError(ErrorCodes.USAGE, 'give at least one file to import');
  return files.map((f) => {
    const abs = resolve(f);
    let st;
    try {
      st = statSync(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CustodyError(ErrorCodes.IO, code === 'ENOENT' ? 'no such file; nothing was imported' : `cannot read it (${code ?? messageOf(err)}); nothing was imported`, { where: f, cause: err });
    }
    if (st.isDirectory()) throw new CustodyError(ErrorCodes.USAGE, 'is a folder; give the files in it; nothing was imported', { where: f });
    if (!st.isFile()) throw new CustodyError(ErrorCodes.USAGE, 'is not a regular file; nothing was imported', { where: f });
    try {
      accessSync(abs, constants.R_OK);
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot read it (${(err as NodeJS.ErrnoException).code ?? messageOf(err)}); nothing was imported`, { where: f, cause: err });
    }
    return abs;
  });
}

function mtimeOf(path: string): string {
  const st = statSync(path, { bigint: true });
  const ns = st.mtimeNs;
  return formatTimestamp(Number(ns / 1_000_000n), Number((ns / 1000n) % 1000n));
}

/** The `log.file` of an earlier import of the same content, and whether it was read to its end. */
interface EarlierImport {
  seq: number;
  path: string;
  mtime: string;
  doneSeq: number | undefined;
}

function decodeRecord(bytes: Uint8Array): EvidenceRecord {
  return decodeCanonical(bytes) as EvidenceRecord;
}

/** The first `log.file` of each content an import preserved, by SHA-256 (copies kept on purpose are not firsts). */
function earlierImports(store: EvidenceStore): Map<string, EarlierImport> {
  const bySha = new Map<string, EarlierImport>();
  const bySeq = new Map<number, EarlierImport>();
  for (const row of store.recordsOfKinds(['log.file', 'import.derived'])) {
    const r = decodeRecord(row.bytes);
    if (r.source !== IMPORT_SOURCE) continue;
    if (r.kind === 'log.file') {
      const p = r.payload as PayloadOf<'log.file'>;
      if (p.reason !== 'import' || p.duplicate_of !== undefined || bySha.has(p.sha256)) continue;
      const earlier: EarlierImport = { seq: row.seq, path: p.path, mtime: p.mtime, doneSeq: undefined };
      bySha.set(p.sha256, earlier);
      bySeq.set(row.seq, earlier);
    } else {
      const earlier = bySeq.get((r.payload as PayloadOf<'import.derived'>).file_seq);
      if (earlier !== undefined) earlier.doneSeq ??= row.seq;
    }
  }
  return bySha;
}

/** What earlier runs derived from the file at `fileSeq`: canonical payloads of its records, in order, and its gaps. */
function derivedEarlier(store: EvidenceStore, fileSeq: number, path: string): { records: string[]; gaps: number } {
  const records: string[] = [];
  let gaps = 0;
  for (const row of store.records(fileSeq + 1)) {
    if (row.kind === 'log.line' || row.kind === 'log.file') continue;
    const r = decodeRecord(row.bytes);
    if (r.kind === 'agent.gap') {
      const g = r.payload as PayloadOf<'agent.gap'>;
      // Gaps of imports before file_seq existed name only the path.
      const ours = g.file_seq === fileSeq || (g.file_seq === undefined && r.source === IMPORT_SOURCE && g.path === path);
      if (ours && g.reason !== IMPORT_INCOMPLETE) gaps++;
      continue;
    }
    if (!r.source.startsWith(`${IMPORT_SOURCE}:`)) continue;
    const from = (r.payload as { derived_from?: unknown }).derived_from;
    if (Array.isArray(from) && from.length === 1 && from[0] === fileSeq) records.push(canonicalText(r.payload));
  }
  return { records, gaps };
}

function count(into: Record<string, number>, key: string, n = 1): void {
  into[key] = (into[key] ?? 0) + n;
}

function problemOf(err: unknown): ImportProblem {
  if (isCustodyError(err)) return { code: err.code, message: err.message, where: err.where };
  return { code: ErrorCodes.IO, message: messageOf(err), where: undefined };
}

/** An earlier run derived records from this content that this version does not read from it (the `index`-th differs, or there are fewer). */
function resumeMismatch(earlier: number, index: number, fileSeq: number, given: string): CustodyError {
  return new CustodyError(
    ErrorCodes.STORE_CORRUPT,
    `an earlier import derived ${earlier} records from this content (log.file seq ${fileSeq}), and record ${index + 1} of them is not what this version of custody reads from it: ` +
      'the import cannot be resumed without deriving evidence twice; nothing more was derived from it',
    { where: given },
  );
}

/** Progress of the file being imported, for the summary of an import cut short. */
interface InProgress {
  path: string;
  fileSeq: number | undefined;
  /** seq of every derived record appended from it by this run. */
  appended: number[];
  before: number;
}

/** Opens the store (creating it when a host is given), imports every file, seals with a checkpoint. */
export function importFiles(storeDir: string, files: readonly string[], options: ImportOptions = {}): ImportSummary {
  const paths = checkFiles(files);
  const clock = options.clock ?? systemClock;
  const bootId = readBootId();
  const storeOptions = { clock, bootId, ...(options.maxDatabaseBytes !== undefined ? { maxDatabaseBytes: options.maxDatabaseBytes } : {}) };
  let store: EvidenceStore;
  let created: ImportSummary['created'];
  if (!existsSync(join(storeDir, EVIDENCE_FILE))) {
    if (options.host === undefined) {
      throw new CustodyError(ErrorCodes.USAGE, 'there is no store here yet: give --host NAME (the machine the files came from) to create one', { where: storeDir });
    }
    const r = EvidenceStore.create(storeDir, { host: options.host, ...storeOptions });
    store = r.store;
    created = { fingerprint: r.enrollment.fingerprint };
  } else {
    store = EvidenceStore.open(storeDir, storeOptions);
    if (options.host !== undefined && options.host !== store.host) {
      store.close();
      throw new CustodyError(
        ErrorCodes.USAGE,
        `this store holds the evidence of host ${store.host}, not ${options.host}: import each machine's files into a store of its own`,
        { where: storeDir },
      );
    }
  }

  const summary: ImportSummary = {
    store: storeDir,
    host: store.host,
    store_id: store.storeId,
    ...(created ? { created } : {}),
    files: [],
    totals: { files: 0, bytes: 0, records: {}, failures: {}, gaps: 0 },
    store_records: 0,
    sealed: false,
    complete: true,
    not_imported: [],
  };
  let progress: InProgress | undefined;
  let failure: unknown;
  try {
    const earlier = earlierImports(store);
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i] ?? '';
      progress = { path, fileSeq: undefined, appended: [], before: 0 };
      const file = importOne(store, path, files[i] ?? path, earlier, options, progress, summary);
      summary.files.push(file);
      summary.totals.files++;
      summary.totals.bytes += file.size;
      for (const [k, n] of Object.entries(file.records)) count(summary.totals.records, k, n);
      for (const [k, n] of Object.entries(file.failures)) count(summary.totals.failures, k, n);
      summary.totals.gaps += file.gaps.length;
      progress = undefined;
    }
  } catch (err) {
    failure = err;
  }
  if (failure !== undefined) recordInterruption(store, summary, progress, paths, failure);
  // What was imported is committed and sealed either way.
  try {
    store.close({ finalCheckpoint: true });
    summary.sealed = true;
  } catch (err) {
    if (failure === undefined) {
      failure = err;
      summary.complete = false;
      summary.incomplete = { path: paths.at(-1) ?? '', error: problemOf(err), preserved: true, derived_committed: 0 };
    }
  }
  summary.store_records = store.size;
  if (summary.incomplete !== undefined && progress !== undefined) {
    // Only what reached the disk counts: queued records a failed commit left behind are not there.
    const committed = progress.appended.filter((seq) => seq < summary.store_records).length;
    summary.incomplete.derived_committed = progress.before + committed;
    summary.incomplete.preserved = progress.fileSeq !== undefined && progress.fileSeq < summary.store_records;
    if (summary.incomplete.gap_seq !== undefined && summary.incomplete.gap_seq >= summary.store_records) {
      summary.incomplete.gap_error = { code: ErrorCodes.STORE_WRITE_FAILED, message: 'the gap record could not be committed', where: storeDir };
      delete summary.incomplete.gap_seq;
    }
  }
  if (failure !== undefined && summary.incomplete === undefined) throw failure;
  return summary;
}

/** Notes in the summary, and in the store when it can still take it, that the import stopped and where. */
function recordInterruption(store: EvidenceStore, summary: ImportSummary, progress: InProgress | undefined, paths: readonly string[], err: unknown): void {
  summary.complete = false;
  const at = progress === undefined ? -1 : paths.indexOf(progress.path);
  summary.not_imported = paths.slice(at + 1);
  const path = progress?.path ?? '';
  summary.incomplete = { path, error: problemOf(err), preserved: progress?.fileSeq !== undefined, derived_committed: 0 };
  const fileSeq = progress?.fileSeq;
  const done = (progress?.before ?? 0) + (progress?.appended.length ?? 0);
  const detail =
    fileSeq === undefined
      ? `import stopped before ${path} was preserved: ${problemOf(err).message}`
      : `import stopped after ${done} records derived from ${path} (log.file seq ${fileSeq}): ${problemOf(err).message}; ` +
        'the rest of the file was not read into evidence: run the same import again to finish it';
  try {
    summary.incomplete.gap_seq = store.append('agent.gap', IMPORT_SOURCE, {
      source: IMPORT_SOURCE,
      path,
      reason: IMPORT_INCOMPLETE,
      detail,
      ...(fileSeq !== undefined ? { file_seq: fileSeq } : {}),
    });
  } catch (gapErr) {
    summary.incomplete.gap_error = problemOf(gapErr);
  }
}

function importOne(
  store: EvidenceStore,
  path: string,
  given: string,
  earlier: Map<string, EarlierImport>,
  options: ImportOptions,
  progress: InProgress,
  summary: ImportSummary,
): ImportedFile {
  let scan: ContentScan;
  let whole: Buffer | undefined;
  let mtime: string;
  try {
    // One pass hashes the file and tells plain text (read line by line, in pieces, so memory does
    // not grow with the file) from the formats that are read whole (EVTX, gzip, utmp, setupapi,
    // UTF-16, other binary), which are read into memory as they always were.
    scan = scanContent(readContent(path));
    mtime = mtimeOf(path);
    if (!scan.streamable) whole = readFileSync(path);
  } catch (err) {
    const done = summary.files.map((f) => f.path);
    throw new CustodyError(
      ErrorCodes.IO,
      `cannot read it: ${messageOf(err)}; ${done.length === 0 ? 'no file was imported' : `the ${done.length} file(s) before it were imported and stay in the store (${done.join(', ')})`}`,
      { where: given, cause: err },
    );
  }
  let sha256: string;
  let size: number;
  if (whole !== undefined) {
    sha256 = store.putBlob(whole);
    size = whole.length;
  } else {
    // Stored in pieces and hashed again as it is stored: a file that changed since the scan is
    // refused (E_IO) with nothing stored, so the blob is always the content its hash names.
    sha256 = scan.sha256;
    size = scan.size;
    store.putBlobStreaming(sha256, () => readContent(path));
  }
  const first = earlier.get(sha256);
  let fileSeq: number;
  let copySeq: number | undefined;
  let readPath = path;
  let readMtime = mtime;
  if (first === undefined) {
    const payload: PayloadOf<'log.file'> = { path, size, mtime, sha256, reason: 'import', content: 'stored' };
    fileSeq = store.append('log.file', IMPORT_SOURCE, payload);
    earlier.set(sha256, { seq: fileSeq, path, mtime, doneSeq: undefined });
  } else {
    fileSeq = first.seq;
    // Read as the first import read it: the same records come out (the path and the mtime, the
    // reference for year-less dates, are part of them).
    readPath = first.path;
    readMtime = first.mtime;
    if (options.preserveAgain) {
      copySeq = store.append('log.file', IMPORT_SOURCE, {
        path,
        size,
        mtime,
        sha256,
        reason: 'import',
        content: 'stored',
        duplicate_of: first.seq,
        note: `a second copy preserved on purpose (--preserve-again); the same content as seq ${first.seq}, whose evidence is derived once, from seq ${first.seq}`,
      });
    }
  }
  progress.fileSeq = fileSeq;
  const file: ImportedFile = {
    path,
    size,
    sha256,
    mtime,
    seq: fileSeq,
    outcome: 'imported',
    ...(copySeq !== undefined ? { copy_seq: copySeq } : {}),
    format: '',
    records: {},
    records_before: 0,
    failures: {},
    failure_samples: [],
    gaps: [],
  };
  if (first?.doneSeq !== undefined) {
    file.outcome = copySeq !== undefined ? 'preserved_again' : 'already_imported';
    file.done_seq = first.doneSeq;
    file.format = 'already read';
    options.logger?.info({ evt: 'import.file', path, seq: fileSeq, sha256, outcome: file.outcome, copy_seq: copySeq }, 'already imported');
    return file;
  }

  // Records an earlier, interrupted run derived from this file: the first ones the store accepts
  // of what is read now must be exactly these (then skipped), the rest are appended.
  const before = first === undefined ? undefined : derivedEarlier(store, fileSeq, readPath);
  const skipRecords = before?.records.length ?? 0;
  if (first !== undefined) {
    file.records_before = skipRecords;
    progress.before = skipRecords;
    file.outcome = copySeq !== undefined ? 'preserved_again' : 'resumed';
  }
  const allRecords: Record<string, number> = {};
  let accepted = 0;
  const onFailure = (f: ParseFailure): void => {
    count(file.failures, f.reason);
    if (file.failure_samples.filter((s) => s.reason === f.reason).length < 3) file.failure_samples.push({ ...f, detail: f.detail.slice(0, 300) });
  };
  // One source string per parser, not one per record (a new string each time is compared by content in the store's memo).
  const sources = new Map<string, string>();
  const sourceOf = (parser: string): string => {
    let source = sources.get(parser);
    if (source === undefined) {
      source = `${IMPORT_SOURCE}:${parser}`;
      sources.set(parser, source);
    }
    return source;
  };
  const sink: ContentSink = {
    record(rec) {
      const parser = (rec.payload as { parser?: string }).parser ?? 'import';
      try {
        if (accepted < skipRecords) {
          // The store checks what it appends; what is skipped is checked here, as append would.
          validatePayload(rec.kind as RecordKind, rec.payload as never);
          if (canonicalText(rec.payload) !== before!.records[accepted]) throw resumeMismatch(skipRecords, accepted, fileSeq, given);
        } else {
          progress.appended.push(store.append(rec.kind, sourceOf(parser), rec.payload));
          count(file.records, rec.kind);
        }
      } catch (err) {
        if (!(err instanceof CustodyError && err.code === ErrorCodes.RECORD_INVALID)) throw err;
        onFailure({ parser, reason: 'import.invalid_record', detail: `${rec.kind}: ${err.message}`, derived_from: [fileSeq] });
        return;
      }
      count(allRecords, rec.kind);
      accepted++;
    },
    failure: onFailure,
  };
  let gaps: ParsedContent['gaps'];
  if (whole === undefined) {
    // Derived from the preserved bytes as the store holds them, chunk by chunk, and handed to the
    // store as they come: neither the file nor its records are ever all in memory.
    deriveTextPieces(store.blobChunks(sha256), readPath, fileSeq, readMtime, sink);
    file.format = 'text';
    gaps = [];
  } else {
    const parsed = parseContent(whole, readPath, fileSeq, readMtime);
    whole = undefined;
    file.format = parsed.format;
    for (const rec of parsed.out.records) sink.record(rec);
    for (const f of parsed.out.failures) onFailure(f);
    gaps = parsed.gaps;
  }
  if (accepted < skipRecords) throw resumeMismatch(skipRecords, accepted, fileSeq, given);
  const skipGaps = Math.min(before?.gaps ?? 0, gaps.length);
  for (const g of gaps.slice(skipGaps)) {
    const gapSeq = store.append('agent.gap', IMPORT_SOURCE, { source: IMPORT_SOURCE, path: readPath, file_seq: fileSeq, ...g });
    file.gaps.push({ seq: gapSeq, reason: g.reason, detail: g.detail });
  }
  file.done_seq = store.append('import.derived', IMPORT_SOURCE, {
    file_seq: fileSeq,
    path: readPath,
    sha256,
    format: file.format,
    records: allRecords,
    failures: file.failures,
    gaps: gaps.length,
    ...(first !== undefined ? { resumed_after: skipRecords } : {}),
  });
  earlier.get(sha256)!.doneSeq = file.done_seq;
  options.logger?.info(
    { evt: 'import.file', path, seq: fileSeq, sha256, format: file.format, outcome: file.outcome, records: file.records, records_before: skipRecords, failures: file.failures, gaps: file.gaps.length },
    'imported',
  );
  return file;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function listCounts(c: Record<string, number>): string {
  const entries = Object.entries(c).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

const OUTCOME_TEXT: Record<ImportOutcome, string> = {
  imported: 'preserved and read',
  resumed: 'preserved by an earlier import that was cut short; read on from where it stopped',
  already_imported: 'already imported (same content): not stored again, nothing derived twice',
  preserved_again: 'a second copy preserved on purpose (--preserve-again); its evidence is the first copy\'s',
  incomplete: 'cut short',
};

/** The summary as people read it. */
export function formatImportSummary(s: ImportSummary): string {
  const out: string[] = [];
  if (s.created) {
    out.push(`created store ${s.store} for host ${s.host}`);
    out.push(`enrollment key fingerprint: ${s.created.fingerprint}`);
    out.push('Record this fingerprint somewhere the host cannot change: examiners pin it with `custody verify --key`.');
  }
  const sealed = s.sealed ? 'sealed by a checkpoint' : 'NOT sealed (the final checkpoint could not be written)';
  const head = s.complete ? 'imported' : 'import INCOMPLETE:';
  out.push(`${head} ${plural(s.totals.files, 'file')} (${s.totals.bytes} bytes) into ${s.store} (host ${s.host}); the store now holds ${s.store_records} records, ${sealed}`);
  for (const f of s.files) {
    out.push(`  ${f.path}`);
    out.push(`    seq ${f.seq}  ${f.size} bytes  sha256 ${f.sha256}  read as ${f.format}`);
    out.push(`    ${OUTCOME_TEXT[f.outcome]}${f.copy_seq !== undefined ? ` (copy: seq ${f.copy_seq})` : ''}${f.records_before > 0 ? `; ${f.records_before} records were derived before` : ''}`);
    out.push(`    records: ${listCounts(f.records)}`);
    if (Object.keys(f.failures).length > 0) out.push(`    not read: ${listCounts(f.failures)}`);
    for (const g of f.gaps) out.push(`    gap (seq ${g.seq}, ${g.reason}): ${g.detail}`);
  }
  out.push(`records: ${listCounts(s.totals.records)}`);
  out.push(`failures: ${listCounts(s.totals.failures)}`);
  out.push(`gaps: ${s.totals.gaps}`);
  const inc = s.incomplete;
  if (inc !== undefined) {
    out.push(`INCOMPLETE at ${inc.path}: ${inc.error.message} [${inc.error.code}]`);
    out.push(`  preserved: ${inc.preserved ? 'yes' : 'no'}; records derived from it and committed: ${inc.derived_committed}`);
    if (inc.gap_seq !== undefined) out.push(`  recorded in the store as a gap (seq ${inc.gap_seq}, ${IMPORT_INCOMPLETE})`);
    else if (inc.gap_error !== undefined) out.push(`  the store could not record it (${inc.gap_error.message}): this summary is the only record`);
    if (s.not_imported.length > 0) out.push(`  not reached: ${s.not_imported.join(', ')}`);
    out.push('  Run the same import again to finish: what is in the store is kept, nothing is stored or derived twice.');
  }
  // File paths, host names and gap details come from the imported files: no control character reaches the terminal.
  return terminalLines(out);
}
