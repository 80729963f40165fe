/**
 * The traces a removed seal leaves. Pure: facts gathered while the records stream, in; findings out.
 *
 * Why this exists: on the host, an attacker with root can drop the triggers and delete the newest
 * checkpoints without any key (retired epoch keys are erased, but deleting needs none). Everything
 * after the oldest checkpoint left is then "unsealed", so they can rewrite it, and a verifier that
 * only checks the checkpoints it is shown would say VALID. The store's own writing habits leave
 * traces of such a deletion, each named here with its own code:
 *
 * - `checkpoint.deleted`: checkpoint ids are SQLite AUTOINCREMENT ids, never reused and never
 *   rolled back except with the transaction that allocated them, so the rows are 1..n with no hole
 *   and `sqlite_sequence` says n. A hole, or a counter above the last id, is a deleted row.
 *   (`tsa.token_deleted`: the same for time-stamp tokens.)
 * - `key.rotation_unsealed`: the store commits a `key.rotate` in one transaction with the retiring
 *   key's checkpoint over it (EvidenceStore.appendSealed; older stores seal it on the next open
 *   when a crash came between). A rotation without that seal is honest only as the very last
 *   record (a snapshot or a crash at that instant); anywhere else, its seal was removed.
 * - `agent.stop_unsealed`: the agent writes its `agent.stop` in one transaction with a checkpoint
 *   of exactly the size that ends with it. Without that checkpoint, it was removed. A kill -9 leaves
 *   no `agent.stop` at all, so it never fires on a crash.
 * - `key.rotation_missing` (a warning): the agent writes an `agent.heartbeat` (reason `epoch`)
 *   right before each rotation; one with no key.rotate after it is a deleted rotation record, or
 *   a rotation that failed or crashed at that point (honest, and rare: hence a warning).
 * - `key.file_beyond_log`: where the store is read beside its key folder, a key file of a later
 *   epoch than the log ends in, without the log's own, is a log rolled back past a rotation.
 * - `seal.tail_beyond_policy` (a warning): each run's `agent.start` records its checkpoint policy
 *   (every N records or T ms). An honest unsealed tail is never longer than that policy allows
 *   (plus a batch); one far longer is what deleting seals leaves when every other trace was erased
 *   too. A warning, not an error: the policy record itself is unsealed evidence when it is in the
 *   tail, and `verify --strict` turns warnings into a failure for those who want it.
 *
 * What no local check can see: an attacker who deletes the newest seals *and* every record and
 * counter that would betray them leaves a store that is shorter, not inconsistent. Only seals kept
 * off the host (the evidence vault, a time stamp or a collector's copy) settle that.
 */
import type { FindingLocation, Severity, StoreFindingCode } from './store-findings.js';

/** The checkpoint policy an `agent.start` records (snake_case, as in the record). */
export interface RecordedPolicy {
  batch_records: number;
  batch_ms: number;
  checkpoint_records: number;
  checkpoint_ms: number;
  epoch_ms: number;
  heartbeat_ms: number;
}

export interface SealFacts {
  /** Records in the store (seq 0..recordCount-1, or windowStart..recordCount-1). */
  recordCount: number;
  /**
   * A windowed snapshot's first seq (store-window.ts), 0 for a whole store. A window holds the
   * checkpoints of its own span only, so their ids start above 1 without any row deleted.
   */
  windowStart?: number;
  /** Every checkpoint row, in id order, with its signed size when it parsed. */
  checkpoints: readonly { id: number; treeSize: number | undefined }[];
  /** The largest checkpoint that verified (size and its signed time), if any. */
  sealed: { treeSize: number; time: string } | undefined;
  /** key.rotate records the key chain accepted: seq, epoch, and whether the retiring key sealed it. */
  rotations: readonly { seq: number; epoch: number; sealedByRetiring: boolean }[];
  agentStops: readonly number[];
  agentStarts: readonly { seq: number; policy: RecordedPolicy | undefined }[];
  clockAnomalies: readonly number[];
  /** agent.heartbeat records with reason 'epoch': the agent writes one just before each key.rotate. */
  epochHeartbeats: readonly number[];
  /** Epochs of the private key files beside the store, if it was read where they are kept. */
  epochKeyFiles: readonly number[] | undefined;
  /** observed_at of the first record, if it decoded (where an unsealed tail starts when nothing is sealed). */
  firstObservedAt: string | undefined;
  /** observed_at of the last record, if it decoded. */
  lastObservedAt: string | undefined;
  /** sqlite_sequence: table → highest id ever allocated. */
  sequences: ReadonlyMap<string, number>;
  tsaTokenIds: readonly number[];
}

type Add = (code: StoreFindingCode, severity: Severity, message: string, where?: FindingLocation) => void;

/**
 * How many times the policy an honest tail can reach before it is called "far longer". The honest
 * bound is one checkpoint interval plus a batch (a checkpoint is due at the first commit past it);
 * twice that leaves room for a commit that waited on a busy disk without hiding a day of records.
 */
const POLICY_SLACK = 2;
/** Added to the time bound: the agent's maintenance tick and commit latency (seconds, not hours). */
const TIME_SLACK_MS = 60_000;

export function sealTraceFindings(facts: SealFacts, add: Add): void {
  const windowed = (facts.windowStart ?? 0) > 0;
  deletedRows('checkpoints', facts.checkpoints.map((c) => c.id), facts.sequences, add, windowed);
  deletedRows('tsa_tokens', facts.tsaTokenIds, facts.sequences, add, windowed);

  const last = facts.recordCount - 1;
  for (const rotation of facts.rotations) {
    if (rotation.sealedByRetiring || rotation.seq >= last) continue;
    // Rotations that some checkpoint covers are named by the stream's own check (store-verify.ts).
    const covered = facts.checkpoints.some((c) => (c.treeSize ?? 0) > rotation.seq);
    if (covered) continue;
    add(
      'key.rotation_unsealed',
      'error',
      `the key.rotate to epoch ${rotation.epoch} at seq ${rotation.seq} was never sealed by the retiring epoch ${rotation.epoch - 1} key, yet records ${rotation.seq + 1}..${last} follow it: the store writes that seal in the same transaction, so checkpoints were deleted`,
      { seq: rotation.seq, epoch: rotation.epoch },
    );
  }

  const sizes = new Set(facts.checkpoints.map((c) => c.treeSize));
  for (const seq of facts.agentStops) {
    if (sizes.has(seq + 1)) continue;
    add(
      'agent.stop_unsealed',
      'error',
      `the agent.stop at seq ${seq} has no checkpoint of size ${seq + 1}: the agent writes its final checkpoint in the same transaction, so that checkpoint was deleted`,
      { seq },
    );
  }

  // The agent writes an epoch heartbeat, seals it, then the key.rotate: one without the other is a
  // rotation record deleted (or a rotation that failed or crashed there: hence a warning).
  const rotationSeqs = new Set(facts.rotations.map((r) => r.seq));
  for (const seq of facts.epochHeartbeats) {
    if (rotationSeqs.has(seq + 1) || seq >= last) continue;
    add(
      'key.rotation_missing',
      'warning',
      `the epoch heartbeat at seq ${seq} is not followed by the key.rotate the agent writes after it: a rotation record was deleted, or that rotation failed`,
      { seq },
    );
  }

  keyFilesBeyondLog(facts, add);
  tailBeyondPolicy(facts, add);
}

/**
 * The agent's key folder moves with the log: the next epoch's key is written just before its
 * key.rotate, and the retiring key is erased only after that record and its seal are committed. So
 * the key of the log's own last epoch is on disk whenever a later one is. A later key without the
 * log's own is what rolling the log back past a rotation leaves on the host.
 */
function keyFilesBeyondLog(facts: SealFacts, add: Add): void {
  const files = facts.epochKeyFiles;
  if (files === undefined || files.length === 0) return;
  const logEpoch = facts.rotations.reduce((max, r) => Math.max(max, r.epoch), 0);
  const newest = Math.max(...files);
  if (newest > logEpoch && !files.includes(logEpoch)) {
    add(
      'key.file_beyond_log',
      'error',
      `the store's key folder holds the epoch ${newest} key but not the epoch ${logEpoch} key the log ends in: the agent had certified and moved to later epochs, whose key.rotate records and seals were removed from the log (or this folder is a copy whose keys were copied later than its database)`,
      { epoch: newest },
    );
  }
}

function deletedRows(table: 'checkpoints' | 'tsa_tokens', ids: readonly number[], sequences: ReadonlyMap<string, number>, add: Add, windowed: boolean): void {
  const code = table === 'checkpoints' ? 'checkpoint.deleted' : 'tsa.token_deleted';
  const what = table === 'checkpoints' ? 'checkpoint' : 'time-stamp token';
  const sorted = [...ids].sort((a, b) => a - b);
  let expected = windowed ? (sorted[0] ?? 1) : 1;
  for (const id of sorted) {
    if (id > expected) {
      add(code, 'error', `${what} rows ${expected}..${id - 1} are missing between the ones left: they were deleted`, table === 'checkpoints' ? { checkpointRange: [expected, id - 1] } : { tsaToken: expected });
    }
    expected = id + 1;
  }
  const counter = sequences.get(table);
  if (counter !== undefined && counter >= expected) {
    add(
      code,
      'error',
      `SQLite allocated ${what} ids up to ${counter}, but the last one left is ${expected - 1}: ${what} rows ${expected}..${counter} were deleted`,
      table === 'checkpoints' ? { checkpointRange: [expected, counter] } : { tsaToken: expected },
    );
  }
}

function tailBeyondPolicy(facts: SealFacts, add: Add): void {
  const from = Math.max(facts.sealed?.treeSize ?? 0, facts.windowStart ?? 0);
  const count = facts.recordCount - from;
  if (count <= 0) return;
  // The policies in force while the tail grew: the last run that started before it, and every run
  // that started inside it. The loosest of them is what an honest tail may reach.
  const before = facts.agentStarts.filter((s) => s.seq < from).at(-1);
  const inside = facts.agentStarts.filter((s) => s.seq >= from);
  const runs = before ? [before, ...inside] : inside;
  const policies = runs.map((s) => s.policy);
  if (policies.length === 0 || policies.some((p) => p === undefined)) return; // no policy recorded: nothing to compare with
  const known = policies as RecordedPolicy[];
  const maxRecords = Math.max(...known.map((p) => p.checkpoint_records + p.batch_records));
  const maxMs = Math.max(...known.map((p) => p.checkpoint_ms + p.batch_ms));
  const where: FindingLocation = { seqRange: [from, facts.recordCount - 1] };
  if (count > POLICY_SLACK * maxRecords) {
    add(
      'seal.tail_beyond_policy',
      'warning',
      `${count} records after the last verified checkpoint, but the agent's own policy seals at least every ${maxRecords} (checkpoint plus one batch): checkpoints after seq ${from - 1} may have been deleted, and everything after it rewritten`,
      where,
    );
    return;
  }
  // A clock that jumped makes observed_at and checkpoint times incomparable: the count still counts.
  const clockJumped = facts.clockAnomalies.some((seq) => seq >= from);
  // Nothing sealed: the agent seals at its first commit, so the tail is timed from the first record.
  const since = facts.sealed?.time ?? facts.firstObservedAt;
  if (clockJumped || since === undefined || facts.lastObservedAt === undefined) return;
  const spanMs = Date.parse(facts.lastObservedAt) - Date.parse(since);
  if (Number.isFinite(spanMs) && spanMs > POLICY_SLACK * maxMs + TIME_SLACK_MS) {
    add(
      'seal.tail_beyond_policy',
      'warning',
      `the unsealed records run until ${facts.lastObservedAt}, ${Math.round(spanMs / 1000)} s after ${facts.sealed ? `the last verified checkpoint (${since})` : `the first record (${since}), and no checkpoint verified`}, but the agent's own policy seals at least every ${Math.round(maxMs / 1000)} s: checkpoints after seq ${from - 1} may have been deleted`,
      where,
    );
  }
}
