/**
 * The verifier's per-record work that does not depend on any other record: leaf hash, the
 * row-versus-bytes checks, the facts the order-dependent part needs (observed_at order, key.rotate
 * and log.file payloads, file read positions), and (for the records RecordCheckMode says) canonical
 * decoding and schema validation. Pure: no file system, no SQLite, no clock, so it runs the same in
 * the verifier's thread and in worker threads (record-check-worker.ts), over the same `RecordRow`s.
 *
 * By default most records are read with the envelope scan (record-scan.ts): integrity needs the
 * bytes' hash and the few values the envelope states, not a parse. `verify --deep` decodes and
 * validates every record.
 *
 * One fast path keeps the common record cheap without changing a single verdict or message:
 * canonical decoding checks `JSON.stringify(JSON.parse(text)) === text`, with every object's keys
 * already in UTF-16 order, every number a safe integer and no lone surrogate escaped, which is
 * exactly "re-canonicalising gives back the same text" (see `decodeCanonicalFast`). Anything else
 * goes through `decodeCanonical`, which decides and words the error.
 * test/integration/verify-record-check.test.ts holds the two to agreement. Schema validation has
 * no shortcut: the zod schemas in src/records/schema.ts are the one definition of a valid record.
 */
import { bytesEqual, HASH_SIZE, leafHash, subtreeLevels } from '../integrity/merkle.js';
import { CustodyError, messageOf } from '../errors.js';
import { decodeCanonical } from '../records/canonical.js';
import { isKnownKind, validateRecord, type EvidenceRecord, type PayloadOf } from '../records/schema.js';
import { emptyFileEvents, FILE_SOURCE_PREFIX, fileEventOf, pushFileEvent, type FileEvent, type FileEventsOfBatch } from './file-offsets.js';
import { recordText, scanEnvelope, scanFileLine } from './record-scan.js';
import { renderBatchDigests, type BatchContent, type ContentSpec } from './bundle-content.js';
import type { RecordRow } from './reader.js';
import type { Severity, StoreFindingCode } from './store-findings.js';

/** A finding about one record, found without looking at any other record. */
export interface RecordFinding {
  /** Index of the record in its batch. */
  index: number;
  code: StoreFindingCode;
  severity: Severity;
  message: string;
  seq: number;
}

export interface KeyRotateFact {
  index: number;
  epoch: number;
  public_key: string;
  key_name: string;
  certificate: string;
}

/** The agent's account of itself, for the traces a removed seal leaves (seal-traces.ts). */
export interface AgentFact {
  index: number;
  kind: 'agent.start' | 'agent.stop' | 'clock.anomaly' | 'epoch.heartbeat';
  /** agent.start: the sealing policy of that run, when recorded. */
  policy?: PayloadOf<'agent.start'>['policy'];
}

export interface StoredFileFact {
  index: number;
  sha256: string;
}

/** Flags per record. */
export const VALID = 1;
export const SEQ_MISMATCH = 2;

/** What checking a batch of records found, in record order: compact, and cheap to post between threads. */
export interface CheckedBatch {
  /** Records fully checked (fewer than the batch when `fatal` is set). */
  count: number;
  /** The computed leaf hashes, HASH_SIZE bytes each. */
  leaves: Uint8Array;
  /** Position of the first record in the whole stream (the Merkle tree's leaf index). */
  start: number;
  /**
   * The Merkle subtrees inside the batch (merkle.ts subtreeLevels, levels 1 and up; level 0 is
   * `leaves`), hashed here so the verifier's thread only pushes a few subtrees per batch.
   */
  levels: Uint8Array[];
  /** With RecordCheckMode.content: the records' rendered bundle rows, as digests. */
  content?: BatchContent;
  /** VALID when the record decoded and validated; SEQ_MISMATCH when its seq is not its row's. */
  flags: Uint8Array;
  /** In record order, and per record in the order the verifier reports them. */
  findings: RecordFinding[];
  /** Records decoded and validated in full (RecordCheckMode); the others were read with the envelope scan. */
  fullyChecked: number;
  /** The first valid record (its observed_at is compared with the previous batch's last), or -1. */
  firstValid: number;
  firstObservedAt: string;
  /** observed_at of the last valid record, or undefined when none was valid. */
  lastObservedAt: string | undefined;
  keyRotations: KeyRotateFact[];
  storedFiles: StoredFileFact[];
  agentFacts: AgentFact[];
  /** Read positions of followed files (file-offsets.ts), for the continuity check. */
  fileEvents: FileEventsOfBatch;
  /**
   * Something threw where the single-threaded verifier had no per-record guard (hashing a row
   * whose columns have impossible types): the record at `index` was not checked, and the verifier
   * must stop there exactly as it did before, with this error.
   */
  fatal?: { index: number; error: unknown };
}

/**
 * How much of each record is checked (issue 14). Integrity (leaf hash, and the envelope values the
 * order checks use) is always checked. Well-formedness (canonical JSON, the kind's schema) is
 * checked for every record under `deep`; otherwise only for the records whose payload the verifier
 * itself uses (FULL_CHECK_KINDS: the key chain and the traces of removed seals), for the records
 * no checkpoint can cover (seq ≥ `fullFrom`: the unsealed tail), and for any record the envelope
 * scan refuses (record-scan.ts). The others are read with the scan: the same values, no parse.
 */
export interface RecordCheckMode {
  deep: boolean;
  /** Records with a seq at or past this are checked in full (no checkpoint claims to cover them). */
  fullFrom: number;
  /** Also render each record's bundle rows and keep their digests (bundle verify: bundle-content.ts). */
  content?: ContentSpec;
}

export const DEEP: RecordCheckMode = { deep: true, fullFrom: 0 };

/**
 * Kinds whose payload the verifier uses beyond the envelope: key.rotate (the key chain), log.file
 * (preserved blobs, rotations), agent.* and clock.anomaly (seal traces, file gaps). They are few
 * (a handful per run and per rotation), so they are always decoded and validated in full.
 */
export const FULL_CHECK_KINDS: ReadonlySet<string> = new Set(['key.rotate', 'log.file', 'agent.start', 'agent.stop', 'agent.heartbeat', 'agent.gap', 'clock.anomaly']);

/**
 * Checks a batch of rows. `host` is the store's host from its metadata; `start` is the position of
 * the batch's first row in the stream (0 for the first batch).
 */
export function checkRecords(rows: readonly RecordRow[], host: string, mode: RecordCheckMode = DEEP, start = 0): CheckedBatch {
  const out = checkEach(rows, host, mode, start);
  out.levels = subtreeLevels(out.leaves.subarray(0, out.count * HASH_SIZE), start).levels.slice(1);
  if (mode.content !== undefined) out.content = renderBatchDigests(out.count === rows.length ? rows : rows.slice(0, out.count), mode.content);
  return out;
}

function checkEach(rows: readonly RecordRow[], host: string, mode: RecordCheckMode, start: number): CheckedBatch {
  const n = rows.length;
  const leaves = new Uint8Array(n * HASH_SIZE);
  const flags = new Uint8Array(n);
  const out: CheckedBatch = {
    count: n,
    leaves,
    start,
    levels: [],
    flags,
    findings: [],
    fullyChecked: 0,
    firstValid: -1,
    firstObservedAt: '',
    lastObservedAt: undefined,
    keyRotations: [],
    storedFiles: [],
    agentFacts: [],
    fileEvents: emptyFileEvents(),
  };
  const fileIndex = new Map<string, number>();
  const findings = out.findings;
  let last: string | undefined;
  for (let i = 0; i < n; i++) {
    const row = rows[i] as RecordRow;
    const rowSeq = row.seq;
    let leaf: Uint8Array;
    let leafOk: boolean;
    try {
      leaf = leafHash(row.bytes);
      leafOk = bytesEqual(leaf, row.leaf_hash);
    } catch (error) {
      out.count = i;
      out.fatal = { index: i, error };
      return out;
    }
    leaves.set(leaf, i * HASH_SIZE);
    if (!leafOk) {
      findings.push({ index: i, code: 'record.leaf_hash_mismatch', severity: 'error', message: 'the stored leaf hash is not the hash of the stored bytes: the record or its hash was changed', seq: rowSeq });
    }

    // The envelope values, from the scan or from the full check.
    let envelope: { seq: number; kind: string; observed_at: string; host: string; source: string } | undefined;
    let fileEvent: FileEvent | undefined;
    let record: EvidenceRecord | undefined;
    if (!mode.deep && rowSeq < mode.fullFrom) {
      const text = recordText(row.bytes);
      const scanned = text === undefined ? undefined : scanEnvelope(text);
      if (scanned !== undefined && isKnownKind(scanned.kind) && !FULL_CHECK_KINDS.has(scanned.kind)) {
        if (scanned.kind === 'log.line' && scanned.source.startsWith(FILE_SOURCE_PREFIX)) {
          const line = scanFileLine(text as string, scanned.payloadStart, scanned.payloadEnd);
          if (line !== undefined) {
            envelope = scanned;
            fileEvent = { t: 'line', dev: line.dev, ino: line.ino, path: line.path, offset: line.offset, end: line.offset + line.length + (line.partial === true ? 0 : 1) };
          }
        } else envelope = scanned;
      }
    }
    if (envelope === undefined) {
      out.fullyChecked++;
      try {
        record = validateRecord(decodeCanonicalFast(row.bytes), { unknownKind: 'allow' });
      } catch (err) {
        findings.push({ index: i, code: err instanceof CustodyError && err.code === 'E_CANONICAL_INVALID' ? 'record.not_canonical' : 'record.invalid', severity: 'error', message: messageOf(err), seq: rowSeq });
      }
      if (!record) {
        // Still the read position its sealed bytes state, when the envelope scan can read one: the
        // record's own finding says what is wrong with it, and without its position the next line
        // of its file would look like skipped bytes (file.offset_skipped) that were preserved.
        const position = filePositionOf(row.bytes);
        if (position) pushFileEvent(out.fileEvents, fileIndex, i, position);
        continue;
      }
      envelope = record;
    }
    let f = VALID;
    if (envelope.seq !== rowSeq) {
      findings.push({ index: i, code: 'record.seq_mismatch', severity: 'error', message: `row ${rowSeq} holds the record with seq ${envelope.seq}: records were moved or swapped`, seq: rowSeq });
      f |= SEQ_MISMATCH;
    }
    flags[i] = f;
    if (envelope.kind !== row.kind || envelope.observed_at !== row.observed_at) {
      findings.push({ index: i, code: 'record.column_mismatch', severity: 'error', message: 'the row\'s kind/observed_at columns disagree with the record bytes', seq: rowSeq });
    }
    if (envelope.host !== host) findings.push({ index: i, code: 'record.host_mismatch', severity: 'error', message: `record is from host ${envelope.host}, not ${host}`, seq: rowSeq });
    const known = isKnownKind(envelope.kind);
    if (!known) {
      findings.push({ index: i, code: 'record.unknown_kind', severity: 'warning', message: `kind ${envelope.kind} is not known to this version of custody; its envelope was checked, its payload was not`, seq: rowSeq });
    }
    if (last === undefined) {
      out.firstValid = i;
      out.firstObservedAt = envelope.observed_at;
    } else if (envelope.observed_at < last) {
      findings.push({ index: i, code: 'record.time_backwards', severity: 'warning', message: `observed_at ${envelope.observed_at} is earlier than the previous record's ${last} (clock change?)`, seq: rowSeq });
    }
    last = envelope.observed_at;
    if (record !== undefined) {
      if (record.kind === 'key.rotate') {
        const p = record.payload as PayloadOf<'key.rotate'>;
        out.keyRotations.push({ index: i, epoch: p.epoch, public_key: p.public_key, key_name: p.key_name, certificate: p.certificate });
      } else if (record.kind === 'log.file') {
        const p = record.payload as PayloadOf<'log.file'>;
        if (p.content === 'stored') out.storedFiles.push({ index: i, sha256: p.sha256 });
      } else if (record.kind === 'agent.start') {
        const p = record.payload as PayloadOf<'agent.start'>;
        out.agentFacts.push(p.policy ? { index: i, kind: 'agent.start', policy: p.policy } : { index: i, kind: 'agent.start' });
      } else if (record.kind === 'agent.stop' || record.kind === 'clock.anomaly') {
        out.agentFacts.push({ index: i, kind: record.kind });
      } else if (record.kind === 'agent.heartbeat' && (record.payload as PayloadOf<'agent.heartbeat'>).reason === 'epoch') {
        out.agentFacts.push({ index: i, kind: 'epoch.heartbeat' });
      }
      if (known && (record.kind === 'log.line' || record.kind === 'agent.gap' || record.kind === 'log.file')) fileEvent = fileEventOf(record);
    }
    if (fileEvent) pushFileEvent(out.fileEvents, fileIndex, i, fileEvent);
  }
  out.lastObservedAt = last;
  return out;
}

/** The read position a file `log.line`'s bytes state, read with the envelope scan, or undefined. */
function filePositionOf(bytes: Uint8Array): FileEvent | undefined {
  const text = recordText(bytes);
  const scanned = text === undefined ? undefined : scanEnvelope(text);
  if (scanned === undefined || scanned.kind !== 'log.line' || !scanned.source.startsWith(FILE_SOURCE_PREFIX)) return undefined;
  const line = scanFileLine(text as string, scanned.payloadStart, scanned.payloadEnd);
  return line && { t: 'line', dev: line.dev, ino: line.ino, path: line.path, offset: line.offset, end: line.offset + line.length + (line.partial === true ? 0 : 1) };
}

// --- canonical decoding ------------------------------------------------------------------------

const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Every object's own keys in strictly ascending UTF-16 order, and every number a safe integer. */
function sortedAndSafe(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value);
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!sortedAndSafe(value[i])) return false;
    return true;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (i > 0 && !((keys[i - 1] as string) < key)) return false;
    if (!sortedAndSafe(obj[key])) return false;
  }
  return true;
}

/**
 * `decodeCanonical`, answered cheaply for bytes that are canonical. Why the fast test is exact:
 * for a value from JSON.parse (plain objects and arrays, no undefined, no holes), RFC 8785 text as
 * custody writes it (canonicalText) is JSON.stringify with keys sorted, and it refuses non-safe
 * numbers and lone surrogates. When every object already enumerates its keys in sorted order and
 * every number is a safe integer, canonicalText(value) === JSON.stringify(value), whose strings are
 * the same as `quote` makes for well-formed strings. A lone surrogate can only come from a `\ud…`
 * escape in the text, which JSON.stringify writes back as `\ud…`; any such text takes the slow path.
 * So `stringify === text` plus those checks means decodeCanonical would return this very value,
 * and anything else is handed to decodeCanonical to decide and to word the error.
 */
export function decodeCanonicalFast(bytes: Uint8Array): unknown {
  let text: string;
  let value: unknown;
  try {
    text = strictUtf8Decoder.decode(bytes);
    value = JSON.parse(text);
  } catch {
    return decodeCanonical(bytes);
  }
  if (JSON.stringify(value) === text && !text.includes('\\ud') && sortedAndSafe(value)) return value;
  return decodeCanonical(bytes);
}

// --- batches between threads ---------------------------------------------------------------------

/** Rows packed into a few flat arrays: one copy per batch instead of one object per row. */
export interface PackedRows {
  count: number;
  seqs: Float64Array;
  /** Every row's kind then observed_at, concatenated (one string crosses threads faster than 2n). */
  columns: string;
  /** Where each of those 2n strings ends in `columns`. */
  columnEnds: Uint32Array;
  leafHashes: Uint8Array;
  /** bytes of row i are data[offsets[i] .. offsets[i + 1]). */
  offsets: Uint32Array;
  data: Uint8Array;
}

/**
 * Packs rows whose columns have the types the schema says (number, text, text, 32-byte blob,
 * blob). Returns undefined when any row does not: such a batch is checked where it was read.
 */
export function packRows(rows: readonly RecordRow[]): PackedRows | undefined {
  const n = rows.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i] as RecordRow;
    if (
      typeof r.seq !== 'number' ||
      typeof r.kind !== 'string' ||
      typeof r.observed_at !== 'string' ||
      !(r.leaf_hash instanceof Uint8Array) ||
      r.leaf_hash.length !== HASH_SIZE ||
      !(r.bytes instanceof Uint8Array)
    ) {
      return undefined;
    }
    total += r.bytes.length;
  }
  if (total > 0xffff_ffff) return undefined;
  const seqs = new Float64Array(n);
  let columns = '';
  const columnEnds = new Uint32Array(2 * n);
  const leafHashes = new Uint8Array(n * HASH_SIZE);
  const offsets = new Uint32Array(n + 1);
  const data = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i] as RecordRow;
    seqs[i] = r.seq;
    columns += r.kind;
    columnEnds[2 * i] = columns.length;
    columns += r.observed_at;
    columnEnds[2 * i + 1] = columns.length;
    leafHashes.set(r.leaf_hash, i * HASH_SIZE);
    offsets[i] = at;
    data.set(r.bytes, at);
    at += r.bytes.length;
  }
  offsets[n] = at;
  if (columns.length > 0xffff_ffff) return undefined;
  return { count: n, seqs, columns, columnEnds, leafHashes, offsets, data };
}

/** The rows back, as views into the packed arrays. */
export function unpackRows(p: PackedRows): RecordRow[] {
  const rows: RecordRow[] = new Array<RecordRow>(p.count);
  let at = 0;
  for (let i = 0; i < p.count; i++) {
    const kindEnd = p.columnEnds[2 * i] as number;
    const observedEnd = p.columnEnds[2 * i + 1] as number;
    const kind = p.columns.slice(at, kindEnd);
    const observedAt = p.columns.slice(kindEnd, observedEnd);
    at = observedEnd;
    rows[i] = {
      seq: p.seqs[i] as number,
      kind,
      observed_at: observedAt,
      leaf_hash: p.leafHashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE),
      bytes: p.data.subarray(p.offsets[i] as number, p.offsets[i + 1] as number),
    };
  }
  return rows;
}
