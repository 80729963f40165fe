/**
 * Every finding `custody verify` can report about a bundle, as one closed union: scripts and tests
 * match these codes, so they are never renamed or reused. The store verifier's findings appear
 * under `store.` with their own codes; the custody log's and the content check's codes are their
 * own unions, included here whole.
 */
import type { CustodyFindingCode } from '../bundle/custody-log.js';
import type { TarRefusalReason } from '../bundle/tar.js';
import type { TsaTokenProblem } from '../integrity/tsa.js';
import type { BundleContentCode } from './bundle-content.js';

export type BundleFindingCode =
  // what is in the folder or the tar
  | `tar.${TarRefusalReason}`
  | 'file.symlink'
  | 'file.special'
  | 'file.missing'
  | 'file.not_regular'
  | 'file.size_mismatch'
  | 'file.hash_mismatch'
  | 'file.unlisted'
  | 'file.unlisted_dir'
  // manifest, its signature and time stamp, the collector key
  | 'manifest.missing'
  | 'manifest.invalid'
  | 'manifest.collector_key_invalid'
  | 'manifest.collector_key_mismatch'
  | 'manifest.collector_not_pinned'
  | 'manifest.sig_missing'
  | 'manifest.bad_signature'
  | 'collector.pem_mismatch'
  | 'tsa.undeclared'
  | 'tsa.unverified'
  | 'tsa.missing'
  | 'tsa.invalid'
  | `tsa.${TsaTokenProblem}`
  | 'sums.extra_entry'
  | 'sums.mismatch'
  | 'sums.missing_entry'
  | 'sums.invalid'
  // the hosts: which stores, under which pinned keys, and each store verified on its own
  | 'bundle.no_hosts'
  | 'agent_key.unmatched'
  | 'host.evidence_missing'
  | 'host.agent_key_not_pinned'
  | 'host.not_a_snapshot'
  | 'host.unreadable'
  | 'host.mismatch'
  | `store.${string}`
  | 'witness.missing'
  | 'witness.mismatch'
  | 'witness.invalid'
  | 'witness.malformed'
  | 'witness.bad_signature'
  | 'witness.origin_mismatch'
  | 'witness.manifest_mismatch'
  | 'witness.unreadable'
  | 'witness.beyond_end'
  | 'witness.root_mismatch'
  // the derived content against the verified records
  | BundleContentCode
  // the chain of custody
  | CustodyFindingCode
  | 'custody.first_not_collector';

/** The one shape of a bundle finding. */
export interface BundleFinding {
  code: BundleFindingCode;
  severity: 'error' | 'warning';
  message: string;
  /** Bundle-relative path and more: `custody.jsonl entry 2`, `evidence/h/s: seq 5`, `timeline/timeline.jsonl line 7 (h#12)`. */
  where: string;
}
