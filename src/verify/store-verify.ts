/**
 * Verifies an evidence store without trusting it. Pure over a StoreReader: no file system, no
 * SQLite, no clock. Streams the records once with O(log n) memory (a Merkle frontier), checking:
 *
 * - every record's bytes hash to its leaf, and what its envelope states (seq, kind, observed_at,
 *   host, a followed file's read position) agrees with its row and its neighbours;
 * - with `deep` (`verify --deep`), every record's bytes are also canonical JSON valid against its
 *   kind's schema; without it, only the records whose payload the verifier uses (key.rotate, agent
 *   and log.file records) and the unsealed tail are, the rest are read with the envelope scan
 *   (record-scan.ts), and the result says so (`checks`);
 * - seq runs 0, 1, 2, … with no gap, and nothing was cut off the end (SQLite's high-water mark);
 * - every checkpoint's root recomputes from the records, its size never shrinks, and it is signed
 *   by the key of its epoch, where epoch keys chain back to the trusted enrollment key through
 *   certificates inside the log, and no key signs outside the span it was valid for;
 * - RFC 3161 tokens cover the checkpoint they are attached to and chain to a pinned TSA root;
 * - preserved file contents (blobs) hash to what their records say.
 *
 * Every problem is a named finding with a location; nothing stops at the first one.
 *
 * The per-record work that needs no other record (hashing, scanning or decoding, validating) lives in
 * record-check.ts and, for large stores, runs in worker threads (record-pipeline.ts); everything
 * that depends on order stays here. Either way the findings are the same, in the same order.
 */
import { createHash } from 'node:crypto';
import { extensionValue, noteSignedBy, parseCheckpointBody, parseNote, type CheckpointBody, type ParsedNote } from '../integrity/checkpoint.js';
import { epochKeyName, fingerprint, verifyKeyCertificate, type PublicKeyInfo } from '../integrity/keys.js';
import { bytesEqual, emptyRoot, MerkleFrontier, pushRange, type SubtreeLevels } from '../integrity/merkle.js';
import { readTimeStampToken, verifyTimeStampToken } from '../integrity/tsa.js';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import type { CheckpointRow, RecordRangeSource, RecordRow, StoreReader } from './reader.js';
import type { BatchContent, ContentSpec } from './bundle-content.js';
import { fileEventAt, FileOffsetTracker } from './file-offsets.js';
import { DEEP, SEQ_MISMATCH, VALID, type CheckedBatch } from './record-check.js';
import { batchesOf, DEFAULT_BATCH, runRecordPipeline, type PipelineStats } from './record-pipeline.js';
import { sealTraceFindings, type RecordedPolicy } from './seal-traces.js';
import type { Finding, FindingLocation, Severity, StoreFindingCode } from './store-findings.js';
import { parseWindow, type StoreWindow } from './store-window.js';

export type { Finding, FindingLocation, Severity, StoreFindingCode } from './store-findings.js';

export interface TrustAnchor {
  /** The enrollment key the verifier trusts, as the key itself or as its fingerprint (`SHA256:…`). */
  publicKeyRaw?: Uint8Array;
  fingerprint?: string;
  /** How the verifier came to trust it, said in the output. */
  source: 'pinned' | 'enrollment-file' | 'vault-enrollment';
}

export interface VerifyStoreOptions {
  trust: TrustAnchor;
  /**
   * Also prove every record well-formed: canonical JSON valid against its kind's schema
   * (`verify --deep`; collect, which parses every record anyway). Default: integrity only, with
   * the records whose payload the verifier uses and the unsealed tail still checked in full.
   */
  deep?: boolean;
  /** DER certificates of TSA roots. Without them, tokens are read but not trusted. */
  tsaRoots?: readonly Uint8Array[];
  /** Called every `progressEvery` records. */
  onProgress?: (recordsSeen: number) => void;
  progressEvery?: number;
  /**
   * Worker threads for the per-record checks of a large store; 0 checks everything in this thread.
   * The findings are the same either way. Default: one fewer than the CPUs (at least 1, at most 4).
   */
  workers?: number;
  /** Records per batch handed to the per-record checks (default 1024). */
  batchSize?: number;
  /** Records checked in this thread before worker threads are started (default 8192). */
  parallelAfter?: number;
  /** Check batches in this thread too while the workers are behind (default true). */
  shareWork?: boolean;
  /**
   * Let the workers read the records themselves, in seq ranges over their own read-only connections,
   * when the reader offers it (StoreReader.recordRangeSource; default true). False: this thread
   * reads every record and hands batches to the workers.
   */
  readInWorkers?: boolean;
  /** Told how many records were checked in this thread and in workers (tests, benchmarks). */
  onPipelineStats?: (stats: PipelineStats) => void;
  /**
   * Tree sizes whose Merkle root over the records as read (leaf hashes computed from their bytes)
   * the caller wants, e.g. a collector's witness; each is handed to `onRoot` when the stream passes
   * it, so the caller need not read and hash the records a second time.
   */
  rootsAt?: readonly number[];
  onRoot?: (treeSize: number, root: Uint8Array) => void;
  /**
   * A bundle's content check (bundle-content.ts): each record is also rendered where it is checked
   * (in the worker threads for a large store) and every batch handed to `take` in seq order.
   */
  recordContent?: { spec: ContentSpec; take: (rows: readonly RecordRow[], content: BatchContent | undefined) => void };
  /**
   * The epochs of the private key files beside the store (`keys/epoch-N.key`), when the store is
   * read where its agent keeps them; undefined for a copy without keys. See seal-traces.ts.
   */
  epochKeyFiles?: readonly number[];
}

export interface SealedPoint {
  checkpointId: number;
  treeSize: number;
  lastSeq: number;
  time: string;
  epoch: number;
  /** genTime of a verified RFC 3161 token on this or an earlier checkpoint. */
  trustedTime?: string;
  trustedTimeCheckpointId?: number;
}

export interface StoreVerification {
  ok: boolean;
  location: string;
  storeId: string | undefined;
  host: string | undefined;
  origin: string | undefined;
  trust: { source: TrustAnchor['source']; fingerprint: string };
  records: number;
  checkpoints: number;
  epochs: number;
  tsa: { tokens: number; verified: number; unverified: number };
  /** The largest checkpoint that verified, with everything before it. */
  sealed: SealedPoint | undefined;
  /** Records after the last good checkpoint: present, but not yet protected by a signature. */
  unsealed: { fromSeq: number; toSeq: number; count: number } | undefined;
  /** Which checks ran: integrity always; canonical JSON and schema for every record only with `deep`. */
  checks: StoreChecks;
  findings: Finding[];
  /**
   * A windowed snapshot (store-window.ts): it holds records startSeq..endSeq-1 only, and this result
   * is about them; frontierProven when a signed checkpoint recomputed over the frontier and them.
   */
  window?: { startSeq: number; endSeq: number; frontierProven: boolean };
  /** What the vault held when the store (or, without a store, the vault's copy) was checked against it (`verify --vault`). */
  vault?: VaultCheckSummary;
}

export interface VaultCheckSummary {
  /** s3://BUCKET[/PREFIX] */
  url: string;
  /** The store's prefix in the bucket. */
  prefix: string;
  /** 'store': a store folder checked against the vault; 'vault-only': the vault's copy verified alone. */
  mode: 'store' | 'vault-only';
  /** Vault checkpoints whose signature verified. */
  checkpoints: number;
  newest: { checkpointId: number; treeSize: number; receivedAt: string | undefined } | undefined;
  /** Records [0, recordsEnd) are in the vault as verified segments. */
  recordsEnd: number;
  /** Objects read (names, each at one version). */
  objects: number;
}

export interface StoreChecks {
  integrity: true;
  /** Every record's bytes proven canonical JSON and valid against its kind's schema (`deep`). */
  canonical: boolean;
  schema: boolean;
  /** Records decoded and schema-checked in full (all of them with `deep`). */
  recordsFullyChecked: number;
}

interface CheckpointInfo {
  row: CheckpointRow;
  parsed?: ParsedNote;
  body?: CheckpointBody;
  signerEpoch?: number;
  good: boolean;
}

const KEY_NAME = /^custody:([0-9a-f]+):e(\d+)$/;

export async function verifyStore(reader: StoreReader, options: VerifyStoreOptions): Promise<StoreVerification> {
  const findings: Finding[] = [];
  const add = (code: StoreFindingCode, severity: Severity, message: string, where: FindingLocation = {}): void => {
    findings.push({ code, severity, message, where });
  };

  const result: StoreVerification = {
    ok: false,
    location: reader.location,
    storeId: undefined,
    host: undefined,
    origin: undefined,
    trust: { source: options.trust.source, fingerprint: trustedFingerprint(options.trust) },
    records: 0,
    checkpoints: 0,
    epochs: 1,
    tsa: { tokens: 0, verified: 0, unverified: 0 },
    sealed: undefined,
    unsealed: undefined,
    checks: { integrity: true, canonical: options.deep === true, schema: options.deep === true, recordsFullyChecked: 0 },
    findings,
  };

  // --- metadata and trust ---------------------------------------------------------------------
  let meta: Map<string, string>;
  let checkpointRows: CheckpointRow[];
  try {
    meta = reader.meta();
    checkpointRows = reader.checkpoints();
  } catch (err) {
    add(codeForReadError(err), 'error', `cannot read the store: ${messageOf(err)}`, { file: reader.location });
    return finish(result);
  }
  const storeId = meta.get('store_id');
  const host = meta.get('host');
  const origin = meta.get('origin');
  result.storeId = storeId;
  result.host = host;
  result.origin = origin;
  for (const name of ['format_version', 'store_id', 'host', 'origin', 'enrollment_public_key']) {
    if (!meta.has(name)) add('store.meta_missing', 'error', `store metadata lacks ${name}`, { file: reader.location });
  }
  const enrollmentKey = new Uint8Array(Buffer.from(meta.get('enrollment_public_key') ?? '', 'base64'));
  if (enrollmentKey.length !== 32) {
    add('store.meta_missing', 'error', 'store metadata holds no valid enrollment key', { file: reader.location });
    return finish(result);
  }
  if (fingerprint(enrollmentKey) !== result.trust.fingerprint) {
    // The rest is still checked against the store's own enrollment key, so the report also says
    // whether the store is at least internally consistent; but nothing in it is trusted.
    add(
      'store.enrollment_mismatch',
      'error',
      `the store was enrolled with key ${fingerprint(enrollmentKey)}, not the trusted ${result.trust.fingerprint}: this is another agent's store, or a swapped one`,
      { file: reader.location },
    );
  }
  if (storeId === undefined || origin === undefined || host === undefined) return finish(result);

  // A windowed snapshot (store-window.ts): records S..E-1 and the frontier of 0..S-1.
  const parsedWindow = parseWindow(meta);
  if (typeof parsedWindow === 'string') {
    add('window.frontier_invalid', 'error', `the snapshot claims a window but ${parsedWindow}: none of its records can be placed in the signed tree`, { file: reader.location });
    return finish(result);
  }
  const windowStart = parsedWindow?.window.startSeq ?? 0;

  // Epoch keys, learnt from the log as it streams. Epoch 0 is the trusted enrollment key.
  const epochKeys = new Map<number, PublicKeyInfo & { certifiedAt: number }>();
  epochKeys.set(0, { name: epochKeyName(storeId, 0), epoch: 0, publicKeyRaw: enrollmentKey, certifiedAt: -1 });
  let currentEpoch = 0;
  if (parsedWindow !== undefined) currentEpoch = windowKeyChain(storeId, parsedWindow.window, epochKeys, add);

  // --- checkpoints: parse up front (there are few), check as the tree reaches their size -----
  result.checkpoints = checkpointRows.length;
  const checkpoints: CheckpointInfo[] = [];
  const bySize = new Map<number, CheckpointInfo[]>();
  let previousSize = -1;
  let previousTime = '';
  for (const row of checkpointRows) {
    const info: CheckpointInfo = { row, good: false };
    checkpoints.push(info);
    try {
      info.parsed = parseNote(row.note);
      info.body = parseCheckpointBody(info.parsed.text);
    } catch (err) {
      add('checkpoint.malformed', 'error', `checkpoint note is malformed: ${messageOf(err)}`, { checkpoint: row.id });
      continue;
    }
    const body = info.body;
    if (body.origin !== origin) add('checkpoint.origin_mismatch', 'error', `checkpoint is for ${body.origin}, not this store (${origin})`, { checkpoint: row.id });
    if (body.treeSize !== row.tree_size) {
      add('checkpoint.size_mismatch', 'error', `row says tree size ${row.tree_size} but the signed note says ${body.treeSize}`, { checkpoint: row.id });
    }
    if (body.treeSize < previousSize) {
      add('checkpoint.rollback', 'error', `checkpoint of size ${body.treeSize} comes after one of size ${previousSize}: an older checkpoint was replayed or the order was changed`, { checkpoint: row.id });
    }
    previousSize = Math.max(previousSize, body.treeSize);
    const time = extensionValue(body, 'time') ?? '';
    if (time !== '' && time < previousTime) {
      add('checkpoint.time_backwards', 'warning', `checkpoint time ${time} is earlier than the previous checkpoint's ${previousTime}`, { checkpoint: row.id });
    }
    if (time > previousTime) previousTime = time;
    const signer = info.parsed.signatures.map((s) => KEY_NAME.exec(s.name)).find((m) => m !== null && m[1] === storeId);
    if (!signer) {
      add('checkpoint.signature_invalid', 'error', `checkpoint is not signed by any key of store ${storeId}`, { checkpoint: row.id });
      continue;
    }
    info.signerEpoch = Number(signer[2]);
    if (info.signerEpoch !== row.epoch) {
      add('checkpoint.epoch_mismatch', 'error', `row says epoch ${row.epoch} but the note is signed by the epoch ${info.signerEpoch} key`, { checkpoint: row.id });
    }
    const list = bySize.get(body.treeSize) ?? [];
    list.push(info);
    bySize.set(body.treeSize, list);
    if (body.treeSize < windowStart) {
      // Its root covers records the window summarises only by the frontier at the start: no check can reach it.
      add('window.checkpoint_before_start', 'error', `the snapshot's window starts at seq ${windowStart}, but it holds a checkpoint of size ${body.treeSize}, which no record of the window can check`, { checkpoint: row.id });
    }
  }

  const checkAt = (size: number, root: Uint8Array, lastSeqOk: boolean): void => {
    for (const info of bySize.get(size) ?? []) {
      const { parsed, body, signerEpoch, row } = info;
      if (!parsed || !body || signerEpoch === undefined) continue;
      let good = lastSeqOk;
      if (!bytesEqual(body.rootHash, root) && parsedWindow !== undefined && size === windowStart) {
        add('window.frontier_mismatch', 'error', `the window's frontier (the subtree roots standing for records 0..${size - 1}) does not hash to the root this checkpoint signed at size ${size}: the frontier was forged or changed`, {
          checkpoint: row.id,
        });
        good = false;
      } else if (!bytesEqual(body.rootHash, root)) {
        add('checkpoint.root_mismatch', 'error', `the records 0..${size - 1} do not hash to the root this checkpoint signed: records up to seq ${size - 1} were changed, removed, inserted or reordered after it was sealed`, {
          checkpoint: row.id,
          seqRange: [Math.max(lastGoodSize(), windowStart), size - 1],
        });
        good = false;
      }
      const key = epochKeys.get(signerEpoch);
      if (!key) {
        add('checkpoint.key_not_certified', 'error', `signed with the epoch ${signerEpoch} key, which the log had not certified by seq ${size - 1}: the past was re-signed with a later key, or a key certificate is missing`, { checkpoint: row.id });
        good = false;
      } else if (!noteSignedBy(parsed, key.name, key.publicKeyRaw)) {
        add('checkpoint.signature_invalid', 'error', `signature by ${key.name} does not verify`, { checkpoint: row.id });
        good = false;
      }
      info.good = good;
      if (good && (result.sealed === undefined || size >= result.sealed.treeSize)) {
        result.sealed = { checkpointId: row.id, treeSize: size, lastSeq: size - 1, time: extensionValue(body, 'time') ?? row.created_at, epoch: signerEpoch };
      }
    }
  };
  const lastGoodSize = (): number => result.sealed?.treeSize ?? 0;

  // Checkpoints of the empty tree are checked before any record.
  // (For a window: the checkpoint at its start checks the frontier itself.)
  const frontier = parsedWindow?.frontier ?? new MerkleFrontier();
  const startRoot = parsedWindow === undefined ? emptyRoot() : frontier.root();
  checkAt(windowStart, startRoot, true);
  const rootsWanted = new Set(options.rootsAt ?? []);
  if (rootsWanted.has(windowStart)) options.onRoot?.(windowStart, startRoot);

  // --- the records, streamed -------------------------------------------------------------------
  const blobsNeeded = new Map<string, number>();
  let expectedSeq = windowStart;
  let integrityOk = true;
  let lastObservedAt = '';
  // The agent's account of itself, for the traces of removed seals (seal-traces.ts).
  const agentStops: number[] = [];
  const agentStarts: { seq: number; policy: RecordedPolicy | undefined }[] = [];
  const clockAnomalies: number[] = [];
  const epochHeartbeats: number[] = [];
  let firstObservedAt: string | undefined;
  // In a window, a file's first line may continue one read before the window began.
  const fileOffsets = new FileOffsetTracker({ windowed: parsedWindow !== undefined });
  const progressEvery = options.progressEvery ?? 100_000;
  // Per-record work (hashing, decoding, validation) is done by checkRecords, in this thread or in
  // worker threads (record-pipeline.ts); what depends on order is done here, record by record, in
  // exactly the order the findings are reported.
  const consume = (rows: RecordRow[], checked: CheckedBatch): void => {
    options.recordContent?.take(rows, checked.content);
    const findingsOf = checked.findings;
    let f = 0;
    let k = 0;
    let b = 0;
    let a = 0;
    let e = 0;
    const end = checked.fatal ? checked.fatal.index + 1 : rows.length;
    // The batch's Merkle subtrees were hashed with its leaves (record-check.ts): the frontier is
    // brought up to a size only where a root is needed, and to the batch's end after it.
    const run: SubtreeLevels = { start: checked.start, count: checked.count, levels: [checked.leaves, ...checked.levels] };
    for (let i = 0; i < end; i++) {
      const rowSeq = (rows[i] as RecordRow).seq;
      if (rowSeq !== expectedSeq) {
        if (rowSeq > expectedSeq) {
          add('record.seq_gap', 'error', `records ${expectedSeq}..${rowSeq - 1} are missing`, { seqRange: [expectedSeq, rowSeq - 1] });
        } else {
          add('record.seq_out_of_order', 'error', `record ${rowSeq} appears after ${expectedSeq - 1}`, { seq: rowSeq });
        }
        integrityOk = false;
      }
      expectedSeq = rowSeq + 1;
      if (checked.fatal && i === checked.fatal.index) throw checked.fatal.error;

      for (let next = findingsOf[f]; next !== undefined && next.index === i; next = findingsOf[++f]) {
        add(next.code, next.severity, next.message, { seq: next.seq });
      }
      const flags = checked.flags[i] as number;
      if (flags & VALID) {
        if (flags & SEQ_MISMATCH) integrityOk = false;
        if (i === checked.firstValid && checked.firstObservedAt < lastObservedAt) {
          add('record.time_backwards', 'warning', `observed_at ${checked.firstObservedAt} is earlier than the previous record's ${lastObservedAt} (clock change?)`, { seq: rowSeq });
        }
        const rotation = checked.keyRotations[k];
        if (rotation !== undefined && rotation.index === i) {
          k++;
          const payload = rotation;
          const previous = epochKeys.get(currentEpoch);
          const next: PublicKeyInfo = { name: payload.key_name, epoch: payload.epoch, publicKeyRaw: new Uint8Array(Buffer.from(payload.public_key, 'base64')) };
          if (payload.epoch !== currentEpoch + 1) {
            add('key.epoch_out_of_order', 'error', `key.rotate to epoch ${payload.epoch} follows epoch ${currentEpoch}`, { seq: rowSeq });
          } else if (payload.key_name !== epochKeyName(storeId, payload.epoch)) {
            add('key.certificate_invalid', 'error', `key name ${payload.key_name} is not this store's epoch ${payload.epoch} name`, { seq: rowSeq });
          } else if (!previous || !verifyKeyCertificate(storeId, previous, next, new Uint8Array(Buffer.from(payload.certificate, 'base64')))) {
            add('key.certificate_invalid', 'error', `the certificate of the epoch ${payload.epoch} key does not verify against the epoch ${currentEpoch} key`, { seq: rowSeq });
          } else {
            epochKeys.set(payload.epoch, { ...next, certifiedAt: rowSeq });
            currentEpoch = payload.epoch;
          }
        }
        const fact = checked.agentFacts[a];
        if (fact !== undefined && fact.index === i) {
          a++;
          if (fact.kind === 'agent.stop') agentStops.push(rowSeq);
          else if (fact.kind === 'clock.anomaly') clockAnomalies.push(rowSeq);
          else if (fact.kind === 'epoch.heartbeat') epochHeartbeats.push(rowSeq);
          else agentStarts.push({ seq: rowSeq, policy: fact.policy });
        }
        const stored = checked.storedFiles[b];
        if (stored !== undefined && stored.index === i) {
          b++;
          if (!blobsNeeded.has(stored.sha256)) blobsNeeded.set(stored.sha256, rowSeq);
        }
      }
      // Also for a record that failed its full check but states a read position (record-check.ts).
      if (e < checked.fileEvents.data.length && checked.fileEvents.data[e] === i) {
        const fileEvent = fileEventAt(checked.fileEvents, e);
        e += 5;
        const jump = fileOffsets.observe(rowSeq, fileEvent.event);
        if (jump) add(jump.code, jump.severity, jump.message, { seq: jump.seq, file: jump.file });
      }
      result.records++;
      if (options.onProgress && result.records % progressEvery === 0) options.onProgress(result.records);
      const size = checked.start + i + 1;
      if (bySize.has(size)) {
        pushRange(frontier, run, size);
        checkAt(size, frontier.root(), integrityOk);
      }
      if (rootsWanted.has(size)) {
        pushRange(frontier, run, size);
        options.onRoot?.(size, frontier.root());
      }
    }
    pushRange(frontier, run, checked.start + end);
    result.checks.recordsFullyChecked += checked.fullyChecked;
    if (checked.lastObservedAt !== undefined) lastObservedAt = checked.lastObservedAt;
    if (firstObservedAt === undefined && checked.firstValid >= 0) firstObservedAt = checked.firstObservedAt;
  };
  try {
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    const batches = reader.recordBatches ? reader.recordBatches(batchSize) : batchesOf(reader.records(), batchSize);
    // Without --deep, records no checkpoint claims to cover (the unsealed tail) are still checked
    // in full: no signature vouches for them. A claim that fails to verify is an error anyway.
    let claimed = 0;
    for (const info of checkpoints) if (info.body !== undefined && info.body.treeSize > claimed) claimed = info.body.treeSize;
    let ranges: RecordRangeSource | undefined;
    if (options.readInWorkers !== false && options.workers !== 0) {
      try {
        ranges = reader.recordRangeSource?.();
      } catch {
        // Then this thread reads every record, and the stream reports where the file cannot be read.
      }
    }
    await runRecordPipeline(
      batches,
      {
        host,
        mode: { ...(options.deep === true ? DEEP : { deep: false, fullFrom: claimed }), ...(options.recordContent ? { content: options.recordContent.spec } : {}) },
        batchSize,
        firstPosition: windowStart,
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        ...(options.parallelAfter !== undefined ? { parallelAfter: options.parallelAfter } : {}),
        ...(options.shareWork !== undefined ? { shareWork: options.shareWork } : {}),
        ...(options.onPipelineStats ? { onStats: options.onPipelineStats } : {}),
        ...(ranges !== undefined ? { ranges } : {}),
      },
      consume,
    );
  } catch (err) {
    add(codeForReadError(err), 'error', `the store could not be read to the end (after ${result.records} records): ${messageOf(err)}`, { file: reader.location, seq: expectedSeq });
  }
  result.epochs = epochKeys.size;
  const recordCount = expectedSeq;
  const moreJumps = fileOffsets.rest();
  if (moreJumps) add(moreJumps.code, moreJumps.severity, moreJumps.message, { seqRange: moreJumps.seqRange });

  // --- what the stream could not settle --------------------------------------------------------
  for (const info of checkpoints) {
    const size = info.body?.treeSize;
    if (size !== undefined && size > recordCount) {
      add('checkpoint.beyond_end', 'error', `checkpoint covers ${size} records but the store holds ${recordCount}: records ${recordCount}..${size - 1} were removed`, {
        checkpoint: info.row.id,
        seqRange: [recordCount, size - 1],
      });
    }
    // A key may sign only up to (and including) the record that certified its successor.
    const next = info.signerEpoch === undefined ? undefined : epochKeys.get(info.signerEpoch + 1);
    if (next && size !== undefined && size > next.certifiedAt + 1) {
      add('checkpoint.key_retired', 'error', `signed with the epoch ${info.signerEpoch} key after that key was retired at seq ${next.certifiedAt}`, { checkpoint: info.row.id });
      info.good = false;
    }
  }
  const rotations: { seq: number; epoch: number; sealedByRetiring: boolean }[] = [];
  for (const [epoch, key] of epochKeys) {
    // Rotations before a window's start were checked against their certificates only (windowKeyChain).
    if (epoch === 0 || key.certifiedAt < windowStart) continue;
    const boundary = key.certifiedAt + 1;
    const sealedByRetiring = (bySize.get(boundary) ?? []).some((c) => c.good && c.signerEpoch === epoch - 1);
    rotations.push({ seq: key.certifiedAt, epoch, sealedByRetiring });
    // A rotation no checkpoint covers yet is part of the unsealed tail (a crash can leave one there);
    // once anything covers it, the retiring key must have sealed it first.
    const covered = checkpoints.some((c) => (c.body?.treeSize ?? 0) >= boundary);
    if (!sealedByRetiring && covered) {
      add('key.rotation_unsealed', 'error', `the certificate of epoch ${epoch} (seq ${key.certifiedAt}) was not sealed by a checkpoint of the retiring epoch ${epoch - 1} key`, { seq: key.certifiedAt, epoch });
    }
  }
  // The sealed point is the largest checkpoint that survived every check.
  const best = checkpoints.filter((c) => c.good && c.body).sort((a, b) => b.row.tree_size - a.row.tree_size)[0];
  result.sealed = best?.body
    ? { checkpointId: best.row.id, treeSize: best.body.treeSize, lastSeq: best.body.treeSize - 1, time: extensionValue(best.body, 'time') ?? best.row.created_at, epoch: best.signerEpoch ?? 0 }
    : undefined;
  const sealedSize = result.sealed?.treeSize ?? 0;
  const unsealedFrom = Math.max(sealedSize, windowStart);
  if (recordCount > unsealedFrom) result.unsealed = { fromSeq: unsealedFrom, toSeq: recordCount - 1, count: recordCount - unsealedFrom };
  if (parsedWindow !== undefined) {
    result.window = { startSeq: windowStart, endSeq: recordCount, frontierProven: best !== undefined };
    // An empty window at seq 0 (a store that shipped no segment yet) has nothing to prove.
    if (best === undefined && (windowStart > 0 || recordCount > windowStart)) {
      add('window.frontier_unproven', 'error', `no checkpoint of the window (seq ${windowStart}..${recordCount - 1}) verifies: nothing proves that its records are those positions of the signed tree`, { seqRange: [windowStart, Math.max(windowStart, recordCount - 1)] });
    }
  }

  let highWater: number | undefined;
  try {
    highWater = reader.highWaterSeq();
  } catch {
    highWater = undefined;
  }
  if (highWater !== undefined && highWater >= recordCount) {
    add('record.tail_truncated', 'error', `the database once held records up to seq ${highWater}, but now ends at ${recordCount - 1}: records ${recordCount}..${highWater} were deleted`, {
      seqRange: [recordCount, highWater],
    });
  }

  let tsaTokenIds: number[] = [];
  let sequences = new Map<string, number>();
  try {
    tsaTokenIds = reader.tsaTokens().map((t) => t.id);
    sequences = reader.sqliteSequence();
  } catch {
    // Reading these again fails only where verifyTimestamps (below) or the high-water mark says so.
  }
  sealTraceFindings(
    {
      recordCount,
      checkpoints: checkpoints.map((c) => ({ id: c.row.id, treeSize: c.body?.treeSize })),
      sealed: result.sealed ? { treeSize: result.sealed.treeSize, time: result.sealed.time } : undefined,
      rotations,
      agentStops,
      agentStarts,
      clockAnomalies,
      epochHeartbeats,
      epochKeyFiles: options.epochKeyFiles,
      firstObservedAt,
      windowStart,
      lastObservedAt: lastObservedAt === '' ? undefined : lastObservedAt,
      sequences,
      tsaTokenIds,
    },
    add,
  );

  await verifyTimestamps(reader, checkpoints, options, result, add);
  verifyBlobs(reader, blobsNeeded, add);
  return finish(result);
}

async function verifyTimestamps(
  reader: StoreReader,
  checkpoints: CheckpointInfo[],
  options: VerifyStoreOptions,
  result: StoreVerification,
  add: (code: StoreFindingCode, severity: Severity, message: string, where?: FindingLocation) => void,
): Promise<void> {
  let tokens;
  try {
    tokens = reader.tsaTokens();
  } catch (err) {
    add(codeForReadError(err), 'error', `cannot read the time-stamp tokens: ${messageOf(err)}`, { file: reader.location });
    return;
  }
  result.tsa.tokens = tokens.length;
  const byId = new Map(checkpoints.map((c) => [c.row.id, c]));
  const roots = options.tsaRoots ?? [];
  let best: { time: string; checkpointId: number; size: number } | undefined;
  for (const token of tokens) {
    const checkpoint = byId.get(token.checkpoint_id);
    if (!checkpoint) {
      add('tsa.orphan', 'error', `time-stamp token names checkpoint ${token.checkpoint_id}, which does not exist`, { tsaToken: token.id });
      continue;
    }
    const noteBytes = new TextEncoder().encode(checkpoint.row.note);
    if (roots.length === 0) {
      result.tsa.unverified++;
      try {
        const info = readTimeStampToken(token.token);
        const imprintOk = bytesEqual(info.messageImprint, createHash('sha256').update(noteBytes).digest());
        if (!imprintOk) add('tsa.token_invalid', 'error', `time-stamp token does not cover checkpoint ${token.checkpoint_id}'s note (imprint mismatch)`, { tsaToken: token.id, checkpoint: token.checkpoint_id });
      } catch (err) {
        add('tsa.token_invalid', 'error', `time-stamp token is malformed: ${messageOf(err)}`, { tsaToken: token.id, checkpoint: token.checkpoint_id });
      }
      continue;
    }
    const verification = await verifyTimeStampToken(token.token, noteBytes, roots);
    if (!verification.ok || !verification.info) {
      add('tsa.token_invalid', 'error', `time-stamp token on checkpoint ${token.checkpoint_id} does not verify (${verification.problem ?? 'unknown'}${verification.detail ? `: ${verification.detail}` : ''})`, {
        tsaToken: token.id,
        checkpoint: token.checkpoint_id,
      });
      continue;
    }
    result.tsa.verified++;
    const genTime = verification.info.genTime;
    const size = checkpoint.body?.treeSize ?? -1;
    if (checkpoint.good && (best === undefined || size > best.size)) best = { time: genTime, checkpointId: token.checkpoint_id, size };
  }
  if (roots.length === 0 && tokens.length > 0) {
    add('tsa.unverified', 'warning', `${tokens.length} time-stamp token(s) were read but not verified: give the TSA's CA certificate (--tsa-ca) to trust their times`, {});
  }
  if (best && result.sealed && best.size <= result.sealed.treeSize) {
    result.sealed.trustedTime = best.time;
    result.sealed.trustedTimeCheckpointId = best.checkpointId;
  }
}

function verifyBlobs(reader: StoreReader, needed: Map<string, number>, add: (code: StoreFindingCode, severity: Severity, message: string, where?: FindingLocation) => void): void {
  const seen = new Set<string>();
  let current: { sha: string; hash: ReturnType<typeof createHash>; nextChunk: number } | undefined;
  const close = (): void => {
    if (!current) return;
    const actual = current.hash.digest('hex');
    if (actual !== current.sha) add('blob.hash_mismatch', 'error', `preserved content stored under ${current.sha} hashes to ${actual}`, { blob: current.sha });
    seen.add(current.sha);
  };
  try {
    for (const chunk of reader.blobChunks()) {
      if (!current || current.sha !== chunk.sha256) {
        close();
        current = { sha: chunk.sha256, hash: createHash('sha256'), nextChunk: 0 };
      }
      if (chunk.chunk !== current.nextChunk) add('blob.chunk_missing', 'error', `blob ${chunk.sha256} is missing chunk ${current.nextChunk}`, { blob: chunk.sha256 });
      current.nextChunk = chunk.chunk + 1;
      current.hash.update(chunk.data);
    }
    close();
  } catch (err) {
    add(codeForReadError(err), 'error', `cannot read preserved file contents: ${messageOf(err)}`, { file: reader.location });
    return;
  }
  for (const [sha, seq] of needed) {
    if (!seen.has(sha)) add('blob.missing', 'error', `record ${seq} preserved a file with SHA-256 ${sha}, but its content is not in the store`, { seq, blob: sha });
  }
}

/**
 * The epoch keys certified before a window's start, from the key.rotate records it carries: each
 * certificate checked against the key before it, as the stream checks those inside the log. Returns
 * the epoch the chain reaches.
 */
function windowKeyChain(
  storeId: string,
  window: StoreWindow,
  epochKeys: Map<number, PublicKeyInfo & { certifiedAt: number }>,
  add: (code: StoreFindingCode, severity: Severity, message: string, where?: FindingLocation) => void,
): number {
  let epoch = 0;
  for (const bytes of window.keyCertificates) {
    let record: { kind?: unknown; seq?: unknown; payload?: { epoch?: unknown; key_name?: unknown; public_key?: unknown; certificate?: unknown } };
    try {
      record = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof record;
    } catch {
      record = {};
    }
    const p = record.payload;
    if (record.kind !== 'key.rotate' || typeof record.seq !== 'number' || p === undefined || typeof p.epoch !== 'number' || typeof p.key_name !== 'string' || typeof p.public_key !== 'string' || typeof p.certificate !== 'string') {
      add('key.certificate_invalid', 'error', `a key certificate the window carries (for the epochs before seq ${window.startSeq}) is not a key.rotate record`, {});
      continue;
    }
    const where = { seq: record.seq, epoch: p.epoch };
    const previous = epochKeys.get(epoch);
    const next: PublicKeyInfo = { name: p.key_name, epoch: p.epoch, publicKeyRaw: new Uint8Array(Buffer.from(p.public_key, 'base64')) };
    if (record.seq >= window.startSeq) {
      add('key.certificate_invalid', 'error', `the window carries the key.rotate of seq ${record.seq} as a certificate from before its start (seq ${window.startSeq})`, where);
    } else if (p.epoch !== epoch + 1) {
      add('key.epoch_out_of_order', 'error', `the window's key certificate for epoch ${p.epoch} follows epoch ${epoch}`, where);
    } else if (p.key_name !== epochKeyName(storeId, p.epoch) || previous === undefined || !verifyKeyCertificate(storeId, previous, next, new Uint8Array(Buffer.from(p.certificate, 'base64')))) {
      add('key.certificate_invalid', 'error', `the window's certificate of the epoch ${p.epoch} key does not verify against the epoch ${epoch} key`, where);
    } else {
      epochKeys.set(p.epoch, { ...next, certifiedAt: record.seq });
      epoch = p.epoch;
    }
  }
  return epoch;
}

function trustedFingerprint(trust: TrustAnchor): string {
  if (trust.publicKeyRaw) return fingerprint(trust.publicKeyRaw);
  if (trust.fingerprint) return trust.fingerprint;
  throw new CustodyError(ErrorCodes.USAGE, 'a trust anchor needs a public key or a fingerprint');
}

function codeForReadError(err: unknown): StoreFindingCode {
  return err instanceof CustodyError && err.code === 'E_STORE_CORRUPT' ? 'store.corrupt' : 'store.unreadable';
}

function finish(result: StoreVerification): StoreVerification {
  result.ok = !result.findings.some((f) => f.severity === 'error');
  return result;
}
