/**
 * `custody import`: preserve files taken from another machine (logs, `.evtx`, `setupapi.dev.log`,
 * wtmp/btmp/utmp, compressed logs) in a store, then read them into the same typed records the agent
 * derives, so a host without an agent still yields evidence.
 *
 * For each file, in the order given: its bytes go into the store (a blob under their SHA-256) and a
 * `log.file` record (`reason: import`, `content: stored`, size, mtime, sha256); then the content
 * decides the parser, never the name: EVTX (`ElfFile\0`) → Windows event mapping; gzip → the
 * decompressed content, read the same way (the compressed bytes are what is preserved);
 * setupapi.dev.log (`>>>  [Device Install`) → USB first installs; utmp-format records (size and
 * layout sanity) → logons; any other text → the line parsers (syslog, kernel USB, auth, auditd).
 * Derived records name the `log.file` seq in `derived_from`, and keep where in the file they came
 * from in `extra` (`lines`, `file_offset`, record indexes). A truncated tail (wtmp record, EVTX
 * chunk, gzip stream) is an `agent.gap` record: evidence that could not be read. Parser failures are
 * counted in the summary.
 *
 * All files are checked before anything is written (a missing file, a folder, an unreadable file is
 * an error naming it, and nothing is imported). Takes the store folder and options; never reads argv.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { gunzipSync, constants as zc } from 'node:zlib';
import type { Clock } from '../src/clock.js';
import { systemClock } from '../src/clock.js';
import { deriveFromLines, decodeLineBytes, LATIN1_NOTE } from '../src/derive/lines.js';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { readEvtx } from '../src/parsers/evtx/index.js';
import { parseSetupapiDevLog } from '../src/parsers/setupapi.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from '../src/parsers/types.js';
import { createWindowsEventMapper } from '../src/parsers/windows-events.js';
import { parseUtmp, UT_TYPES } from '../src/parsers/wtmp.js';
import { formatTimestamp, type PayloadOf } from '../src/records/schema.js';
import { EVIDENCE_FILE, EvidenceStore } from '../src/store/evidence-store.js';

/** `source` of the log.file and agent.gap records of an import; derived records: `import:<parser>`. */
export const IMPORT_SOURCE = 'import';
/** Most bytes read from one gzip stream for parsing. */
const MAX_INFLATED_BYTES = 1 << 30;
/** Line numbers listed in a record's `extra.lines`. */
const MAX_LISTED_LINES = 64;

export type DetectedFormat = 'evtx' | 'setupapi' | 'utmp' | 'text' | 'binary' | 'empty';

export interface ImportedFile {
  path: string;
  size: number;
  sha256: string;
  mtime: string;
  /** seq of the file's `log.file` record. */
  seq: number;
  /** What the content was read as; `gzip+…` for a compressed file. */
  format: string;
  records: Record<string, number>;
  failures: Record<string, number>;
  /** Failure examples (at most 3 per reason). */
  failure_samples: ParseFailure[];
  gaps: Array<{ seq: number; reason: string; detail: string }>;
}

export interface ImportSummary {
  store: string;
  host: string;
  store_id: string;
  /** Set when this import created the store: the enrollment key fingerprint to record. */
  created?: { fingerprint: string };
  files: ImportedFile[];
  totals: { files: number; bytes: number; records: Record<string, number>; failures: Record<string, number>; gaps: number };
  /** Records in the store after the import (sealed by a final checkpoint). */
  store_records: number;
}

export interface ImportOptions {
  /** Host the files came from; required to create a store, must match an existing store's host. */
  host?: string;
  clock?: Clock;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
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

function hasPrefix(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

const EVTX_MAGIC = [0x45, 0x6c, 0x66, 0x46, 0x69, 0x6c, 0x65, 0x00];
const GZIP_MAGIC = [0x1f, 0x8b];
const OTHER_COMPRESSION: Array<[string, number[]]> = [
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** utmp-format: binary, at least one record, mostly known record types, and a real login-accounting entry. */
function looksLikeUtmp(bytes: Uint8Array): boolean {
  if (bytes.length < 384) return false;
  if (!bytes.subarray(0, 384).includes(0)) return false;
  const o = parseUtmp(bytes, { source: 'wtmp', derivedFrom: [0] });
  if (o.entries.length === 0) return false;
  const known = o.entries.filter((e) => e.type >= 0 && e.type < UT_TYPES.length).length;
  const real = o.entries.some((e) => e.type >= 1 && e.type <= 8 && e.time !== undefined);
  return real && known * 2 >= o.entries.length;
}

function looksBinary(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  return head.includes(0);
}

function utmpSource(path: string): 'wtmp' | 'btmp' | 'utmp' {
  const name = basename(path).toLowerCase();
  if (name.includes('btmp')) return 'btmp';
  if (name.startsWith('utmp')) return 'utmp';
  return 'wtmp';
}

/** Decompresses a gzip file as far as it goes; `truncated` when the stream ends early or is damaged. */
function inflate(bytes: Uint8Array): { data: Buffer; truncated?: string } {
  try {
    return { data: gunzipSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES }) };
  } catch (err) {
    // Read what is there: a sync flush returns the bytes before the damage.
    try {
      const data = gunzipSync(bytes, { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED_BYTES });
      return { data, truncated: messageOf(err) };
    } catch (err2) {
      return { data: Buffer.alloc(0), truncated: messageOf(err2) };
    }
  }
}

function count(into: Record<string, number>, key: string, n = 1): void {
  into[key] = (into[key] ?? 0) + n;
}

/** Text lines of a file's bytes (split at \n), each decoded on its own (UTF-8, else latin1). */
function* textLines(bytes: Uint8Array, seqBase: number, path: string, observedAt: string, latin1: Set<number>): Generator<SourceLine> {
  let start = 0;
  // A UTF-8 byte order mark is not part of the first line.
  if (hasPrefix(bytes, [0xef, 0xbb, 0xbf])) start = 3;
  let lineNo = 1;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const d = decodeLineBytes(bytes.subarray(start, end));
    if (d.latin1) latin1.add(lineNo);
    yield { seq: seqBase + lineNo, path, text: d.text, observedAt };
    start = end + 1;
    lineNo++;
  }
}

function listLines(nums: readonly number[]): string {
  const sorted = [...new Set(nums)].sort((a, b) => a - b);
  const shown = sorted.slice(0, MAX_LISTED_LINES).join(',');
  return sorted.length > MAX_LISTED_LINES ? `${shown},… (${sorted.length} lines)` : shown;
}

/**
 * Text parsers name lines by seq; an import feeds line numbers instead (seq = line number) and
 * then points every record at the file's `log.file` seq, keeping the line numbers in `extra.lines`.
 */
function relocateTextRecord(r: DerivedRecord, fileSeq: number, latin1: Set<number>): DerivedRecord {
  const p = { ...(r.payload as Record<string, unknown>) } as { derived_from: number[]; extra?: Record<string, string>; session?: string };
  const lines = p.derived_from;
  const extra: Record<string, string> = { ...(p.extra ?? {}), lines: listLines(lines) };
  if (lines.some((l) => latin1.has(l))) extra['text_decoding'] = LATIN1_NOTE;
  if (extra['connect_seq'] !== undefined) {
    extra['connect_line'] = extra['connect_seq'];
    delete extra['connect_seq'];
  }
  if (typeof p.session === 'string') p.session = p.session.replace(/@(\d+)$/, (_m, line: string) => `@${fileSeq}:L${line}`);
  p.derived_from = [fileSeq];
  p.extra = extra;
  return { kind: r.kind, payload: p } as DerivedRecord;
}

function relocateFailure(f: ParseFailure, fileSeq: number): ParseFailure {
  const lines = f.derived_from;
  const out: ParseFailure = { ...f, derived_from: [fileSeq] };
  if (lines !== undefined && lines.length > 0) out.detail = `line ${listLines(lines)}: ${f.detail}`;
  return out;
}

interface Parsed {
  format: string;
  out: ParseOutput;
  /** Truncated tails: evidence that could not be read. */
  gaps: Array<{ reason: string; detail: string; from_offset?: number; to_offset?: number; bytes?: number }>;
}

function parseContent(bytes: Uint8Array, path: string, fileSeq: number, mtime: string, depth = 0): Parsed {
  if (bytes.length === 0) return { format: 'empty', out: { records: [], failures: [] }, gaps: [] };
  if (hasPrefix(bytes, EVTX_MAGIC)) {
    const r = readEvtx(bytes);
    const out: ParseOutput = { records: [], failures: r.failures.map((f) => ({ ...f, derived_from: [fileSeq] })) };
    const gaps: Parsed['gaps'] = r.failures
      .filter((f) => f.reason === 'evtx.truncated_chunk')
      .map((f) => ({ reason: 'truncated', detail: `EVTX: ${f.detail}`, ...(f.offset !== undefined ? { from_offset: f.offset, to_offset: bytes.length } : {}) }));
    const mapper = createWindowsEventMapper();
    for (const e of r.records) {
      const o = mapper.map(e, [fileSeq]);
      for (const rec of o.records) {
        const p = rec.payload as { extra?: Record<string, string> };
        p.extra = { ...(p.extra ?? {}), file_offset: String(e.offset), record_number: e.recordNumber };
        out.records.push(rec);
      }
      out.failures.push(...o.failures);
    }
    return { format: 'evtx', out, gaps };
  }
  if (hasPrefix(bytes, GZIP_MAGIC) && depth === 0) {
    const z = inflate(bytes);
    const inner = parseContent(z.data, path, fileSeq, mtime, depth + 1);
    const gaps = [...inner.gaps];
    if (z.truncated !== undefined) {
      gaps.push({
        reason: 'truncated',
        detail: `gzip stream damaged or cut short (${z.truncated}); ${z.data.length} bytes were decompressed and read, the rest could not be`,
      });
    }
    return { format: `gzip+${inner.format}`, out: inner.out, gaps };
  }
  for (const [name, magic] of OTHER_COMPRESSION) {
    if (hasPrefix(bytes, magic)) {
      return {
        format: name,
        out: { records: [], failures: [{ parser: 'import', reason: 'import.unsupported_compression', detail: `${name} content is preserved but not read (decompress it and import the result too)`, derived_from: [fileSeq] }] },
        gaps: [],
      };
    }
  }
  if (looksLikeUtmp(bytes)) {
    const o = parseUtmp(bytes, { source: utmpSource(path), derivedFrom: [fileSeq] });
    const gaps: Parsed['gaps'] = o.failures
      .filter((f) => f.reason === 'wtmp.truncated')
      .map((f) => ({ reason: 'truncated', detail: f.detail, ...(f.offset !== undefined ? { from_offset: f.offset, to_offset: bytes.length, bytes: bytes.length - f.offset } : {}) }));
    return { format: 'utmp', out: { records: o.records, failures: o.failures }, gaps };
  }
  if (hasPrefix(bytes, [0xff, 0xfe]) || hasPrefix(bytes, [0xfe, 0xff])) {
    // UTF-16 text (some Windows logs): read as text, the preserved bytes stay as they are.
    const le = bytes[0] === 0xff;
    const body = Buffer.from(bytes.subarray(2));
    if (!le) body.swap16();
    const text = body.toString('utf16le');
    return parseText(Buffer.from(text, 'utf8'), path, fileSeq, mtime, 'utf16-text');
  }
  if (looksBinary(bytes)) {
    return {
      format: 'binary',
      out: { records: [], failures: [{ parser: 'import', reason: 'import.unknown_binary', detail: 'binary content of no known format: preserved, not read', derived_from: [fileSeq] }] },
      gaps: [],
    };
  }
  return parseText(bytes, path, fileSeq, mtime, 'text');
}

function parseText(bytes: Uint8Array, path: string, fileSeq: number, mtime: string, format: string): Parsed {
  // setupapi.dev.log: sections, not lines.
  const probe = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (probe.includes('>>>  [Device Install')) {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    return { format: format === 'text' ? 'setupapi' : `${format}+setupapi`, out: parseSetupapiDevLog(text, [fileSeq]), gaps: [] };
  }
  const latin1 = new Set<number>();
  // Line numbers as seqs (see relocateTextRecord); the file's mtime is the reference for year-less dates.
  const raw = deriveFromLines(textLines(bytes, 0, path, mtime, latin1), { referenceTime: () => mtime });
  return {
    format,
    out: { records: raw.records.map((r) => relocateTextRecord(r, fileSeq, latin1)), failures: raw.failures.map((f) => relocateFailure(f, fileSeq)) },
    gaps: [],
  };
}

function mtimeOf(path: string): string {
  const st = statSync(path, { bigint: true });
  const ns = st.mtimeNs;
  return formatTimestamp(Number(ns / 1_000_000n), Number((ns / 1000n) % 1000n));
}

/** Opens the store (creating it when a host is given), imports every file, seals with a checkpoint. */
export function importFiles(storeDir: string, files: readonly string[], options: ImportOptions = {}): ImportSummary {
  const paths = checkFiles(files);
  const clock = options.clock ?? systemClock;
  const bootId = readBootId();
  let store: EvidenceStore;
  let created: ImportSummary['created'];
  if (!existsSync(join(storeDir, EVIDENCE_FILE))) {
    if (options.host === undefined) {
      throw new CustodyError(ErrorCodes.USAGE, 'there is no store here yet: give --host NAME (the machine the files came from) to create one', { where: storeDir });
    }
    const r = EvidenceStore.create(storeDir, { host: options.host, clock, bootId });
    store = r.store;
    created = { fingerprint: r.enrollment.fingerprint };
  } else {
    store = EvidenceStore.open(storeDir, { clock, bootId });
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
  };
  let failed: unknown;
  try {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i] ?? '';
      const given = files[i] ?? path;
      let bytes: Buffer;
      let mtime: string;
      try {
        bytes = readFileSync(path);
        mtime = mtimeOf(path);
      } catch (err) {
        const done = summary.files.map((f) => f.path);
        throw new CustodyError(
          ErrorCodes.IO,
          `cannot read it: ${messageOf(err)}; ${done.length === 0 ? 'no file was imported' : `the ${done.length} file(s) before it were imported and stay in the store (${done.join(', ')})`}`,
          { where: given, cause: err },
        );
      }
      const sha256 = store.putBlob(bytes);
      const payload: PayloadOf<'log.file'> = { path, size: bytes.length, mtime, sha256, reason: 'import', content: 'stored' };
      const seq = store.append('log.file', IMPORT_SOURCE, payload);
      const parsed = parseContent(bytes, path, seq, mtime);
      const file: ImportedFile = { path, size: bytes.length, sha256, mtime, seq, format: parsed.format, records: {}, failures: {}, failure_samples: [], gaps: [] };
      for (const rec of parsed.out.records) {
        const parser = (rec.payload as { parser: string }).parser;
        try {
          store.append(rec.kind, `${IMPORT_SOURCE}:${parser}`, rec.payload);
          count(file.records, rec.kind);
        } catch (err) {
          if (err instanceof CustodyError && err.code === ErrorCodes.RECORD_INVALID) {
            parsed.out.failures.push({ parser, reason: 'import.invalid_record', detail: `${rec.kind}: ${err.message}`, derived_from: [seq] });
          } else throw err;
        }
      }
      for (const f of parsed.out.failures) {
        count(file.failures, f.reason);
        if (file.failure_samples.filter((s) => s.reason === f.reason).length < 3) file.failure_samples.push({ ...f, detail: f.detail.slice(0, 300) });
      }
      for (const g of parsed.gaps) {
        const gapSeq = store.append('agent.gap', IMPORT_SOURCE, { source: IMPORT_SOURCE, path, ...g });
        file.gaps.push({ seq: gapSeq, reason: g.reason, detail: g.detail });
      }
      options.logger?.info({ evt: 'import.file', path, seq, sha256, format: parsed.format, records: file.records, failures: file.failures, gaps: file.gaps.length }, 'imported');
      summary.files.push(file);
      summary.totals.files++;
      summary.totals.bytes += bytes.length;
      for (const [k, n] of Object.entries(file.records)) count(summary.totals.records, k, n);
      for (const [k, n] of Object.entries(file.failures)) count(summary.totals.failures, k, n);
      summary.totals.gaps += file.gaps.length;
    }
  } catch (err) {
    failed = err;
  }
  // What was imported is committed and sealed either way.
  try {
    store.close({ finalCheckpoint: true });
  } catch (err) {
    if (failed === undefined) failed = err;
  }
  if (failed !== undefined) throw failed;
  summary.store_records = store.size;
  return summary;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function listCounts(c: Record<string, number>): string {
  const entries = Object.entries(c).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** The summary as people read it. */
export function formatImportSummary(s: ImportSummary): string {
  const out: string[] = [];
  if (s.created) {
    out.push(`created store ${s.store} for host ${s.host}`);
    out.push(`enrollment key fingerprint: ${s.created.fingerprint}`);
    out.push('Record this fingerprint somewhere the host cannot change: examiners pin it with `custody verify --key`.');
  }
  out.push(`imported ${plural(s.totals.files, 'file')} (${s.totals.bytes} bytes) into ${s.store} (host ${s.host}); the store now holds ${s.store_records} records, sealed by a checkpoint`);
  for (const f of s.files) {
    out.push(`  ${f.path}`);
    out.push(`    seq ${f.seq}  ${f.size} bytes  sha256 ${f.sha256}  read as ${f.format}`);
    out.push(`    records: ${listCounts(f.records)}`);
    if (Object.keys(f.failures).length > 0) out.push(`    not read: ${listCounts(f.failures)}`);
    for (const g of f.gaps) out.push(`    gap (seq ${g.seq}, ${g.reason}): ${g.detail}`);
  }
  out.push(`records: ${listCounts(s.totals.records)}`);
  out.push(`failures: ${listCounts(s.totals.failures)}`);
  out.push(`gaps: ${s.totals.gaps}`);
  return `${out.join('\n')}\n`;
}
