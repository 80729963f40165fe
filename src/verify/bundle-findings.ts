/**
 * Every finding `custody verify` can report about a bundle, as one closed table: each code with its
 * severity and what it means. Scripts and tests match these codes, so they are never renamed or
 * reused; a new check adds a row here and to the README's table of bundle codes
 * (test/unit/store-findings.test.ts compares the two both ways). The table is held to the union of
 * codes by the compiler: `satisfies` fails the build for a code of the union without a row, and for
 * a row that is not a code. The store verifier's findings appear under `store.` with the store's
 * own codes and severities; the custody log's codes are its own table, included here whole.
 */
import { CUSTODY_FINDINGS, type CustodyFindingCode } from '../bundle/custody-log.js';
import type { TarRefusalReason } from '../bundle/tar.js';
import type { TsaTokenProblem } from '../integrity/tsa.js';
import type { BundleContentCode } from './bundle-content.js';
import type { FindingCodeInfo, FindingOf, Severity } from './findings.js';
import { STORE_FINDINGS, STORE_FINDING_CODES, type StoreFindingCode } from './store-findings.js';

/** The codes a bundle check names itself (everything but the store verifier's, which are `store.` + a store code). */
type OwnBundleFindingCode =
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
  | `tsa.${Exclude<TsaTokenProblem, 'no_trust_anchor'>}`
  | 'sums.extra_entry'
  | 'sums.mismatch'
  | 'sums.missing_entry'
  | 'sums.invalid'
  // the hosts: which stores, under which pinned keys
  | 'bundle.no_hosts'
  | 'agent_key.unmatched'
  | 'host.evidence_missing'
  | 'host.agent_key_not_pinned'
  | 'host.not_a_snapshot'
  | 'host.unreadable'
  | 'host.mismatch'
  | 'window.manifest_mismatch'
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

const PATH_MEANING = 'a tar entry whose path is refused';
const CONTENT_FILES = { timeline: '`timeline/timeline.jsonl`', timeline_csv: '`timeline/timeline.csv`', table: 'a table (`tables/*.csv`)' } as const;
type ContentFile = keyof typeof CONTENT_FILES;
const contentRows = <F extends ContentFile>(f: F) =>
  ({
    [`${f}.missing`]: { severity: 'error', meaning: `${CONTENT_FILES[f]} is missing: the records it must show are not shown` },
    [`${f}.unreadable`]: { severity: 'error', meaning: `${CONTENT_FILES[f]} cannot be read as text (bytes that are not UTF-8, a line too long)` },
    [`${f}.row_malformed`]: { severity: 'error', meaning: `a row of ${CONTENT_FILES[f]} is not a row as the collector writes one` },
    [`${f}.row_unknown_store`]: { severity: 'error', meaning: `a row of ${CONTENT_FILES[f]} cites a store the bundle does not hold` },
    [`${f}.row_unknown_record`]: { severity: 'error', meaning: `a row of ${CONTENT_FILES[f]} cites a record its store's snapshot does not hold` },
    [`${f}.row_duplicate`]: { severity: 'error', meaning: `a second row of ${CONTENT_FILES[f]} for the same record` },
    [`${f}.row_mismatch`]: { severity: 'error', meaning: `a row of ${CONTENT_FILES[f]} does not say what the verified record it cites says` },
    [`${f}.row_out_of_order`]: { severity: 'error', meaning: `a row of ${CONTENT_FILES[f]} out of (time, seq) order` },
    [`${f}.row_missing`]: { severity: 'error', meaning: `no row of ${CONTENT_FILES[f]} for records the verified snapshot holds` },
  }) as Record<`${F}.${'missing' | 'unreadable' | `row_${'malformed' | 'unknown_store' | 'unknown_record' | 'duplicate' | 'mismatch' | 'out_of_order' | 'missing'}`}`, FindingCodeInfo>;

export const BUNDLE_OWN_FINDINGS = {
  'tar.empty_path': { severity: 'error', meaning: `${PATH_MEANING}: empty` },
  'tar.absolute_path': { severity: 'error', meaning: `${PATH_MEANING}: absolute` },
  'tar.dot_dot': { severity: 'error', meaning: `${PATH_MEANING}: it has a \`..\` component` },
  'tar.non_normal_path': { severity: 'error', meaning: `${PATH_MEANING}: not in normal form (\`.\`, \`//\`, a trailing \`/\`)` },
  'tar.nul_in_name': { severity: 'error', meaning: `${PATH_MEANING}: it holds a NUL byte` },
  'tar.backslash_in_name': { severity: 'error', meaning: `${PATH_MEANING}: it holds a backslash` },
  'tar.control_char_in_name': { severity: 'error', meaning: `${PATH_MEANING}: it holds a control character` },
  'tar.bad_name_encoding': { severity: 'error', meaning: `${PATH_MEANING}: not valid UTF-8` },
  'tar.name_too_long': { severity: 'error', meaning: `${PATH_MEANING}: too long` },
  'tar.truncated_archive': { severity: 'error', meaning: 'the tar ends before its end-of-archive marker' },
  'tar.truncated_header': { severity: 'error', meaning: 'the tar ends inside a header block' },
  'tar.truncated_data': { severity: 'error', meaning: "the tar ends inside an entry's data" },
  'tar.bad_checksum': { severity: 'error', meaning: "a tar header's checksum is wrong" },
  'tar.unsupported_format': { severity: 'error', meaning: 'a tar header is not POSIX ustar (old GNU or v7)' },
  'tar.bad_number': { severity: 'error', meaning: "a tar header's numeric field is not plain octal" },
  'tar.bad_header': { severity: 'error', meaning: 'a tar header contradicts itself (e.g. a directory with data)' },
  'tar.bad_pax': { severity: 'error', meaning: 'a malformed pax extended header' },
  'tar.unsupported_pax_key': { severity: 'error', meaning: 'a pax keyword whose meaning the reader does not apply (sparse files, link paths, …)' },
  'tar.pax_too_large': { severity: 'error', meaning: 'a pax extended header beyond the size limit' },
  'tar.unsupported_type': { severity: 'error', meaning: 'a tar entry other than a file, a directory or a pax header' },
  'tar.symlink': { severity: 'error', meaning: 'a symbolic link in the tar (never followed)' },
  'tar.hard_link': { severity: 'error', meaning: 'a hard link in the tar' },
  'tar.char_device': { severity: 'error', meaning: 'a character device in the tar' },
  'tar.block_device': { severity: 'error', meaning: 'a block device in the tar' },
  'tar.fifo': { severity: 'error', meaning: 'a FIFO in the tar' },
  'tar.duplicate': { severity: 'error', meaning: 'the same path twice in the tar' },
  'tar.case_collision': { severity: 'error', meaning: 'two tar paths that are the same on a case-insensitive or normalising file system' },
  'tar.path_conflict': { severity: 'error', meaning: 'a tar path below something that is a file' },
  'tar.too_large': { severity: 'error', meaning: 'a tar entry larger than the limit' },
  'tar.total_too_large': { severity: 'error', meaning: "the tar's entries together larger than the limit" },
  'tar.too_many_entries': { severity: 'error', meaning: 'more than 100,000 entries in the tar' },
  'tar.too_deep': { severity: 'error', meaning: 'a tar path deeper than 32 components' },
  'tar.bad_end_marker': { severity: 'error', meaning: 'one zero block in the tar followed by something else' },
  'tar.trailing_data': { severity: 'error', meaning: "bytes other than zeros after the tar's end-of-archive marker" },
  'file.symlink': { severity: 'error', meaning: 'a symbolic link in the bundle folder (not followed)' },
  'file.special': { severity: 'error', meaning: 'a device, FIFO or socket in the bundle folder (not read)' },
  'file.missing': { severity: 'error', meaning: 'a file the manifest lists, or a required one (SHA256SUMS, hashdeep.txt, custody.jsonl), is not in the bundle' },
  'file.not_regular': { severity: 'error', meaning: 'a file the manifest lists is not a regular file' },
  'file.size_mismatch': { severity: 'error', meaning: 'a file is not the size the manifest says' },
  'file.hash_mismatch': { severity: 'error', meaning: 'a file does not have the SHA-256 the manifest says' },
  'file.unlisted': { severity: 'error', meaning: 'a file the manifest does not list' },
  'file.unlisted_dir': { severity: 'warning', meaning: 'a folder holding nothing the manifest lists' },
  'manifest.missing': { severity: 'error', meaning: 'the bundle has no manifest.json: nothing in it can be checked' },
  'manifest.invalid': { severity: 'error', meaning: 'manifest.json is not a canonical, valid manifest (or its files are not sorted and unique)' },
  'manifest.collector_key_invalid': { severity: 'error', meaning: "the manifest's collector key is not a 32-byte Ed25519 key in base64" },
  'manifest.collector_key_mismatch': { severity: 'error', meaning: "the manifest's collector fingerprint is not that of its public key" },
  'manifest.collector_not_pinned': { severity: 'error', meaning: 'the bundle was sealed by another key than the pinned `--collector-key`' },
  'manifest.sig_missing': { severity: 'error', meaning: 'the bundle has no manifest.sig' },
  'manifest.bad_signature': { severity: 'error', meaning: 'manifest.sig is not a valid signature of manifest.json by its collector key' },
  'collector.pem_mismatch': { severity: 'error', meaning: "collector.pem is not the manifest's collector key" },
  'tsa.undeclared': { severity: 'warning', meaning: 'manifest.tsr is present but the manifest names no TSA' },
  'tsa.unverified': { severity: 'warning', meaning: 'manifest.tsr covers manifest.json, but no `--tsa-ca` was given: the time is not trusted' },
  'tsa.missing': { severity: 'error', meaning: 'the manifest names a TSA but manifest.tsr is missing' },
  'tsa.invalid': { severity: 'error', meaning: 'manifest.tsr does not verify' },
  'tsa.malformed': { severity: 'error', meaning: 'manifest.tsr is not a time-stamp token' },
  'tsa.imprint_mismatch': { severity: 'error', meaning: 'manifest.tsr time-stamps other bytes than manifest.json' },
  'tsa.bad_signature': { severity: 'error', meaning: "manifest.tsr's signature does not verify" },
  'tsa.untrusted_chain': { severity: 'error', meaning: "manifest.tsr's signer does not chain to the pinned `--tsa-ca`" },
  'tsa.not_timestamping_cert': { severity: 'error', meaning: "manifest.tsr's signer is not a time-stamping certificate" },
  'sums.extra_entry': { severity: 'error', meaning: 'SHA256SUMS or hashdeep.txt lists a file the bundle does not hold as a sealed file' },
  'sums.mismatch': { severity: 'error', meaning: 'SHA256SUMS or hashdeep.txt disagrees with the manifest and the file' },
  'sums.missing_entry': { severity: 'error', meaning: 'SHA256SUMS or hashdeep.txt does not list a sealed file' },
  'sums.invalid': { severity: 'error', meaning: 'SHA256SUMS or hashdeep.txt cannot be parsed' },
  'bundle.no_hosts': { severity: 'error', meaning: 'the manifest lists no host: the bundle holds no evidence to verify' },
  'agent_key.unmatched': { severity: 'error', meaning: "a pinned `--agent-key` enrolled none of the bundle's stores" },
  'host.evidence_missing': { severity: 'error', meaning: "a host's evidence.sqlite is not listed and present" },
  'host.agent_key_not_pinned': { severity: 'error', meaning: 'a store was enrolled with a key that is not among the pinned `--agent-key`s' },
  'host.not_a_snapshot': { severity: 'error', meaning: 'evidence.sqlite is not a SQLite file in rollback-journal mode (not opened)' },
  'host.unreadable': { severity: 'error', meaning: 'a store snapshot cannot be opened' },
  'host.mismatch': { severity: 'error', meaning: 'a snapshot is another store, host or origin than the manifest says' },
  'window.manifest_mismatch': { severity: 'error', meaning: "a snapshot's window (the seqs it holds, the checkpoints proving its ends) is not what the manifest's window says, or only one of them is windowed" },
  'witness.missing': { severity: 'error', meaning: "a host's witness.note is not listed and present" },
  'witness.mismatch': { severity: 'error', meaning: 'witness.note differs from the note in the manifest' },
  'witness.invalid': { severity: 'error', meaning: 'a witness note does not verify' },
  'witness.malformed': { severity: 'error', meaning: 'a witness note cannot be parsed' },
  'witness.bad_signature': { severity: 'error', meaning: 'a witness note is not signed by the collector key' },
  'witness.origin_mismatch': { severity: 'error', meaning: "a witness note names another store than its host's" },
  'witness.manifest_mismatch': { severity: 'error', meaning: 'the manifest states another size or root than the signed witness note' },
  'witness.unreadable': { severity: 'error', meaning: 'the records cannot be read up to the witnessed size to recompute its root' },
  'witness.beyond_end': { severity: 'error', meaning: 'the collector witnessed more records than the snapshot holds' },
  'witness.root_mismatch': { severity: 'error', meaning: 'the records no longer hash to the root the collector signed at collection' },
  ...contentRows('timeline'),
  ...contentRows('timeline_csv'),
  ...contentRows('table'),
  'timeline_csv.header_mismatch': { severity: 'error', meaning: '`timeline/timeline.csv` does not start with the header the collector writes' },
  'table.header_mismatch': { severity: 'error', meaning: 'a table (`tables/*.csv`) does not start with the header the collector writes' },
  'timeline.store_unchecked': { severity: 'warning', meaning: "a store's rows cannot be checked: its records were not all read in seq order (its own findings say why)" },
  ...CUSTODY_FINDINGS,
  'custody.first_not_collector': { severity: 'error', meaning: 'custody entry 0 is not "collected" by the collector key' },
} as const satisfies Record<OwnBundleFindingCode, FindingCodeInfo>;

export type BundleFindingCode = OwnBundleFindingCode | `store.${StoreFindingCode}`;

/** Every bundle code: the table's, then the store's under `store.`. */
export const BUNDLE_FINDING_CODES: readonly BundleFindingCode[] = [
  ...(Object.keys(BUNDLE_OWN_FINDINGS) as OwnBundleFindingCode[]),
  ...STORE_FINDING_CODES.map((c) => `store.${c}` as const),
];

export function bundleSeverityOf(code: BundleFindingCode): Severity {
  if (code.startsWith('store.') && code.slice('store.'.length) in STORE_FINDINGS) return STORE_FINDINGS[code.slice('store.'.length) as StoreFindingCode].severity;
  return BUNDLE_OWN_FINDINGS[code as OwnBundleFindingCode].severity;
}

/** A bundle finding: `where` is bundle-relative and says more (`custody.jsonl entry 2`, `evidence/h/s: seq 5`, `timeline/timeline.jsonl line 7 (h#12)`). */
export type BundleFinding = FindingOf<BundleFindingCode, string>;
