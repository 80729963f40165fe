/**
 * The store verifier's findings: one closed table of codes, each with its severity and what it
 * means, and one finding shape (code, severity, where, message). Scripts and tests match codes, so
 * a code is never renamed or reused; a new check adds a row here and to the README's table
 * (test/unit/store-findings.test.ts compares the two both ways).
 *
 * Severity is part of the code, not of the call site: an error makes the store INVALID, a warning
 * does not (except under `verify --strict`).
 */

import type { FindingCodeInfo, FindingOf, Severity } from './findings.js';

export type { Severity } from './findings.js';

export const STORE_FINDINGS = {
  'store.meta_missing': { severity: 'error', meaning: 'store metadata (ids, host, enrollment key) is missing' },
  'store.enrollment_mismatch': { severity: 'error', meaning: 'the store is not the one enrolled with the pinned key' },
  'store.corrupt': { severity: 'error', meaning: 'SQLite reports the file itself damaged' },
  'store.unreadable': { severity: 'error', meaning: 'the store could not be read to the end' },
  'record.seq_gap': { severity: 'error', meaning: 'records between two seqs are missing' },
  'record.seq_out_of_order': { severity: 'error', meaning: 'a record appears after a later one' },
  'record.seq_mismatch': { severity: 'error', meaning: "a row holds another seq's record (swapped or moved)" },
  'record.leaf_hash_mismatch': { severity: 'error', meaning: "a record's bytes no longer match their stored hash" },
  'record.not_canonical': { severity: 'error', meaning: "a record's bytes are not canonical JSON" },
  'record.invalid': { severity: 'error', meaning: 'a record does not match the schema of its kind' },
  'record.column_mismatch': { severity: 'error', meaning: "a row's kind or observed_at columns disagree with its bytes" },
  'record.host_mismatch': { severity: 'error', meaning: "a record names another host than the store's" },
  'record.unknown_kind': { severity: 'warning', meaning: 'a kind this version does not know: envelope checked, payload not' },
  'record.time_backwards': { severity: 'warning', meaning: "a record's observed_at is earlier than the previous record's (clock change?)" },
  'record.tail_truncated': { severity: 'error', meaning: "SQLite's high-water mark shows records after the last one were deleted" },
  'checkpoint.malformed': { severity: 'error', meaning: 'a checkpoint note cannot be parsed' },
  'checkpoint.origin_mismatch': { severity: 'error', meaning: 'a checkpoint names another store' },
  'checkpoint.size_mismatch': { severity: 'error', meaning: "a checkpoint row's tree size disagrees with its signed note" },
  'checkpoint.epoch_mismatch': { severity: 'error', meaning: "a checkpoint row's epoch disagrees with the key that signed it" },
  'checkpoint.root_mismatch': { severity: 'error', meaning: 'the records no longer hash to a signed root; the seq range says where' },
  'checkpoint.beyond_end': { severity: 'error', meaning: 'a checkpoint covers records that are gone' },
  'checkpoint.rollback': { severity: 'error', meaning: 'an older checkpoint was replayed after a newer one' },
  'checkpoint.time_backwards': { severity: 'warning', meaning: "a checkpoint's time is earlier than the previous one's" },
  'checkpoint.signature_invalid': { severity: 'error', meaning: "a checkpoint's signature does not verify" },
  'checkpoint.key_not_certified': { severity: 'error', meaning: 'signed by a key the log had not certified yet (the past re-signed)' },
  'checkpoint.key_retired': { severity: 'error', meaning: 'signed by a key after it was retired' },
  'checkpoint.deleted': { severity: 'error', meaning: "checkpoint rows were deleted: SQLite's id counter, or a hole in the ids, shows more than are left" },
  'key.epoch_out_of_order': { severity: 'error', meaning: 'a key.rotate skips or repeats an epoch' },
  'key.certificate_invalid': { severity: 'error', meaning: 'the key chain is broken: a certificate does not verify' },
  'key.rotation_unsealed': { severity: 'error', meaning: 'the retiring key never sealed a key.rotate though the log goes on after it (its seal was removed, or the past re-signed)' },
  'key.rotation_missing': { severity: 'warning', meaning: 'an epoch heartbeat without the key.rotate the agent writes after it (a rotation record deleted, or a rotation that failed)' },
  'key.file_beyond_log': { severity: 'error', meaning: "the key folder holds a later epoch's key but not the one the log ends in (the log was rolled back past a rotation)" },
  'agent.stop_unsealed': { severity: 'error', meaning: 'an agent.stop without the final checkpoint the agent writes with it (its seal was removed)' },
  'seal.tail_beyond_policy': { severity: 'warning', meaning: "the unsealed tail is far longer than the agent's own checkpoint policy allows (seals may have been removed)" },
  'tsa.token_invalid': { severity: 'error', meaning: 'a time stamp does not verify or does not cover its checkpoint' },
  'tsa.orphan': { severity: 'error', meaning: 'a time stamp names a checkpoint that does not exist' },
  'tsa.token_deleted': { severity: 'error', meaning: "time-stamp rows were deleted: SQLite's id counter shows more than are left" },
  'tsa.unverified': { severity: 'warning', meaning: 'time stamps were read but not verified (no --tsa-ca)' },
  'blob.hash_mismatch': { severity: 'error', meaning: 'preserved file content was changed' },
  'blob.chunk_missing': { severity: 'error', meaning: 'a chunk of preserved file content is missing' },
  'blob.missing': { severity: 'error', meaning: 'preserved file content a record names is not in the store' },
  'file.offset_skipped': {
    severity: 'error',
    meaning: "a followed file's line starts past where its previous line ended, and no `agent.gap` of that file says why: bytes were never preserved",
  },
  'file.offset_repeated': { severity: 'warning', meaning: "a followed file's line starts before where its previous line ended, with no `agent.gap`: bytes recorded twice" },
  'vault.store_not_shipped': { severity: 'error', meaning: 'the vault holds nothing of this store, so nothing was checked against it' },
  'vault.checkpoint_missing': { severity: 'error', meaning: 'a checkpoint the vault holds is not in the store, or the store holds another note under its id' },
  'vault.store_behind': { severity: 'error', meaning: 'the store holds fewer records than a checkpoint in the vault seals (rolled back or cut)' },
  'vault.store_inconsistent': { severity: 'error', meaning: "the store's records do not hash to a vault checkpoint's signed root (RFC 6962 consistency fails)" },
  'vault.record_mismatch': { severity: 'error', meaning: "a record differs from the bytes the vault's segment holds for its seq" },
  'vault.second_version': { severity: 'error', meaning: 'a write-once vault object has a second version or a delete marker' },
  'vault.duplicate_version': { severity: 'warning', meaning: 'a write-once vault object was written again with the same bytes (a shipper retry race)' },
  'vault.segment_invalid': { severity: 'error', meaning: 'a vault segment does not decode or does not verify against the vault checkpoint at its end' },
  'vault.copy_invalid': { severity: 'error', meaning: "the vault's copy does not verify on its own (enrollment key, key certificates, checkpoint signatures)" },
  'vault.records_pending': { severity: 'warning', meaning: 'the vault holds checkpoints whose records it does not hold (yet): shipping is behind, or segments are missing' },
  'window.frontier_invalid': { severity: 'error', meaning: "a windowed snapshot's description (start seq, frontier, key certificates) is malformed: none of its records can be placed" },
  'window.frontier_mismatch': { severity: 'error', meaning: "a windowed snapshot's frontier (standing for the records before its start) does not give the root the checkpoint at its start signed: forged or changed" },
  'window.frontier_unproven': { severity: 'error', meaning: 'no checkpoint of a windowed snapshot verifies, so nothing proves its records are those positions of the signed tree' },
  'window.in_store_folder': { severity: 'error', meaning: 'a store folder given to collect claims to be a window of its store: the records before its start are not there, and no collector read them from the vault' },
  'window.checkpoint_before_start': { severity: 'error', meaning: 'a windowed snapshot holds a checkpoint smaller than its start, which none of its records can check' },
  'vault.segment_misnamed': { severity: 'warning', meaning: "a vault segment's name states another observed-at range than its records (they verify, but a time window chosen by the names can miss records)" },
  'vault.object_unrecognised': { severity: 'warning', meaning: "a name under the store's vault prefix that custody never writes" },
} as const satisfies Record<string, FindingCodeInfo>;

export type StoreFindingCode = keyof typeof STORE_FINDINGS;

export const STORE_FINDING_CODES = Object.keys(STORE_FINDINGS) as StoreFindingCode[];

export function severityOf(code: StoreFindingCode): Severity {
  return STORE_FINDINGS[code].severity;
}

export interface FindingLocation {
  seq?: number;
  seqRange?: [number, number];
  checkpoint?: number;
  /** A range of checkpoint ids (rows that are gone). */
  checkpointRange?: [number, number];
  /** The key epoch a finding is about. */
  epoch?: number;
  tsaToken?: number;
  blob?: string;
  file?: string;
  /** The vault object (its key) a finding is about. */
  vaultObject?: string;
}

/** A store finding: `where` says where in the store (seq, seq range, checkpoint id, epoch, token id, blob hash). */
export type Finding = FindingOf<StoreFindingCode, FindingLocation>;
