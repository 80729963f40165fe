/**
 * The checks of a bundle, pure over a reader: what entries the bundle holds (lstat-like, never
 * followed), each regular file's bytes or streamed hash, and its store snapshots opened for reading.
 * The I/O (walking a folder, extracting a `.tar` with the hostile reader) stays in
 * collector/verify-bundle.ts, like the store verifier's over src/verify/reader.ts. Fails closed:
 * every check runs, every problem is a named finding with where it is, and the bundle is valid only
 * with no error finding.
 *
 * In order: manifest.json canonical and valid; manifest.sig by the manifest's collector key (and the
 * pinned one when given); manifest.tsr against the pinned TSA roots (or a `tsa.unverified` warning);
 * every listed file present with its size and SHA-256; SHA256SUMS and hashdeep.txt agree with the
 * manifest and the files; each store snapshot verifies (trust: the pinned enrollment fingerprints,
 * else the manifest's keys); each witness note is signed by the collector key and its root
 * recomputes at its size; every row of timeline/ and tables/ is the rendering of a verified record,
 * each record's once (src/verify/bundle-content.ts, each record rendered where the store
 * verification checks it, in its worker threads for a large store); custody.jsonl verifies against manifest.json's hash, its first entry by the collector.
 */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { messageOf } from '../errors.js';
import { custodyHead, verifyCustodyLog, type VerifiedEntry } from '../bundle/custody-log.js';
import { BUNDLE_META_FILES, parseManifest, type BundleManifest } from '../bundle/manifest.js';
import { parseHashdeep, parseSha256Sums, type FileHash } from '../bundle/sums.js';
import { checkWitnessNote } from '../bundle/witness.js';
import { bytesEqual } from '../integrity/merkle.js';
import { fingerprint, keyMatches, rawPublicKey, verifyBytes } from '../integrity/keys.js';
import { readTimeStampToken, verifyTimeStampToken } from '../integrity/tsa.js';
import { BundleContentCheck, type BundleTextReader } from './bundle-content.js';
import { bundleSeverityOf, type BundleFinding, type BundleFindingCode } from './bundle-findings.js';
import type { StoreReader } from './reader.js';
import { verifyStore, type Finding as StoreFinding, type StoreVerification, type TrustAnchor } from './store-verify.js';

/** One entry of a bundle as lstat sees it; a symlink is reported as one, never followed. */
export interface BundleEntry {
  /** Bundle path ('/'-separated, relative). */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/** A store snapshot opened for reading; closed by the verifier when it is done with it. */
export type OpenedStore = StoreReader & { close(): void };

/**
 * What the bundle verifier reads. Every path is one of entries()'s, and the verifier asks for a
 * file's bytes, hash, head or lines only when entries() says it is a regular file.
 */
export interface BundleReader extends BundleTextReader {
  /** Every entry of the bundle, sorted bytewise by path. */
  entries(): readonly BundleEntry[];
  /** A regular file's size and SHA-256 (streamed: a snapshot may be large). */
  hash(path: string): Promise<{ size: number; sha256: string }>;
  /** A regular file's bytes (only the small ones are asked for: manifest, signature, token, sums, notes, custody log). */
  read(path: string): Uint8Array;
  /** Up to the first `length` bytes of a regular file. */
  head(path: string, length: number): Uint8Array;
  /** The store snapshot in the folder `path` (holding evidence.sqlite), opened read-only. Throws when it cannot be opened. */
  openStore(path: string): OpenedStore;
}

const META = new Set<string>(BUNDLE_META_FILES);

/** Text as readFileSync(…, 'utf8') gives it (bytes that are not UTF-8 become U+FFFD). */
const utf8 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/** What the examiner pinned (the TSA roots are passed as certificates, read by the caller). */
export interface BundleCheckOptions {
  /** The collector key the verifier expects: its SHA256:… fingerprint (or base64 public key). */
  collectorKey?: string;
  /** Enrollment fingerprints the verifier pinned; every store must be enrolled with one of them. */
  agentKeys?: readonly string[];
  /** Fingerprints of keys allowed to sign custody entries. */
  custodyKeys?: readonly string[];
  /** The last custody entry the verifier knows of (`INDEX:SHA256` from a handoff). */
  custodyHead?: { index: number; sha256: string };
  /** `verify --deep`: also prove every record of every store canonical JSON valid against its kind's schema. */
  deep?: boolean;
}

export interface BundleHostResult {
  host: string;
  store_id: string;
  path: string;
  trust: 'pinned' | 'manifest';
  store?: StoreVerification;
  witness: { tree_size: number; ok: boolean; time?: string };
  /** A windowed snapshot: what the manifest says was collected (and the verification proved, unless a finding says otherwise). */
  window?: NonNullable<BundleManifest['hosts'][number]['window']>;
}

export interface BundleVerification {
  ok: boolean;
  location: string;
  form: 'folder' | 'tar';
  case?: string;
  sealed_at?: string;
  manifest_sha256?: string;
  collector?: { fingerprint: string; trust: 'pinned' | 'manifest' };
  tsa: { status: 'verified' | 'unverified' | 'invalid' | 'absent' | 'missing'; gen_time?: string };
  files: { listed: number; verified: number };
  /** Which checks ran on the stores' records (integrity always; canonical and schema of every record with `deep`). */
  checks: BundleChecks;
  hosts: BundleHostResult[];
  custody?: { entries: number; head?: { index: number; sha256: string }; actions: string[]; log: BundleCustodyEntry[] };
  findings: BundleFinding[];
}

export interface BundleChecks {
  integrity: true;
  canonical: boolean;
  schema: boolean;
  /** Records of all stores decoded and schema-checked in full (all of them with `deep`). */
  recordsFullyChecked: number;
  records: number;
}

/** One custody entry as verify shows it: what was done, in whose name, when, and which key signed it. */
export interface BundleCustodyEntry {
  index: number;
  action: string;
  actor: string;
  at: string;
  signer: string;
  /** Whom the signing key is known as: the bundle's collector key, a --custody-key pin, or neither. */
  signer_known_as: 'collector' | 'pinned' | 'not pinned';
  signature_ok: boolean;
}

function storeWhere(f: StoreFinding, prefix: string): string {
  const w = f.where;
  const parts: string[] = [];
  if (w.seqRange) parts.push(`seq ${w.seqRange[0]}..${w.seqRange[1]}`);
  else if (w.seq !== undefined) parts.push(`seq ${w.seq}`);
  if (w.checkpoint !== undefined) parts.push(`checkpoint #${w.checkpoint}`);
  if (w.checkpointRange !== undefined) parts.push(`checkpoints #${w.checkpointRange[0]}..#${w.checkpointRange[1]}`);
  if (w.epoch !== undefined) parts.push(`epoch ${w.epoch}`);
  if (w.tsaToken !== undefined) parts.push(`tsa token #${w.tsaToken}`);
  if (w.blob !== undefined) parts.push(`blob ${w.blob}`);
  return parts.length > 0 ? `${prefix}: ${parts.join(', ')}` : `${prefix}/evidence.sqlite`;
}

export async function checkBundle(
  reader: BundleReader,
  location: string,
  form: 'folder' | 'tar',
  tsaRoots: readonly Uint8Array[],
  options: BundleCheckOptions = {},
): Promise<BundleVerification> {
  const findings: BundleFinding[] = [];
  // Severity is part of the code (src/verify/bundle-findings.ts), never chosen at the call site.
  const add = (code: BundleFindingCode, message: string, where: string): void => {
    findings.push({ code, severity: bundleSeverityOf(code), message, where });
  };
  const deep = options.deep === true;
  const result: BundleVerification = {
    ok: false,
    location,
    form,
    tsa: { status: 'absent' },
    files: { listed: 0, verified: 0 },
    checks: { integrity: true, canonical: deep, schema: deep, recordsFullyChecked: 0, records: 0 },
    hosts: [],
    findings,
  };
  const finish = (): BundleVerification => {
    result.ok = findings.every((f) => f.severity !== 'error');
    return result;
  };

  // --- what is there (lstat, never followed) -------------------------------------------------
  const walked = reader.entries();
  const entries = new Map<string, BundleEntry>(walked.map((e) => [e.path, e]));
  for (const e of walked) {
    if (e.type === 'symlink') add('file.symlink', 'a symbolic link in the bundle (not followed)', e.path);
    if (e.type === 'other') add('file.special', 'a device, FIFO or socket in the bundle (not read)', e.path);
  }
  const actual = new Map<string, { size: number; sha256: string }>();
  for (const e of walked) if (e.type === 'file') actual.set(e.path, await reader.hash(e.path));
  const isFile = (p: string): boolean => entries.get(p)?.type === 'file';

  // --- manifest ------------------------------------------------------------------------------
  if (!isFile('manifest.json')) {
    add('manifest.missing', 'the bundle has no manifest.json: nothing in it can be checked', 'manifest.json');
    return finish();
  }
  const mBytes = reader.read('manifest.json');
  const manifestSha256 = createHash('sha256').update(mBytes).digest('hex');
  result.manifest_sha256 = manifestSha256;
  let manifest: BundleManifest;
  try {
    manifest = parseManifest(mBytes);
  } catch (err) {
    add('manifest.invalid', messageOf(err), 'manifest.json');
    return finish();
  }
  result.case = manifest.case.id;
  result.sealed_at = manifest.collector.sealed_at;
  result.files.listed = manifest.files.length;
  const sortedOk = manifest.files.every((f, i) => i === 0 || f.path > (manifest.files[i - 1] as { path: string }).path);
  if (!sortedOk) add('manifest.invalid', 'files are not sorted by path and unique', 'manifest.json');

  const collectorRaw = Buffer.from(manifest.collector.key.public_key, 'base64');
  const collectorKeyOk = collectorRaw.length === 32 && collectorRaw.toString('base64') === manifest.collector.key.public_key;
  if (!collectorKeyOk) add('manifest.collector_key_invalid', 'collector.key.public_key is not a 32-byte Ed25519 key in base64', 'manifest.json');
  else if (fingerprint(collectorRaw) !== manifest.collector.key.fingerprint) {
    add('manifest.collector_key_mismatch', `collector.key.fingerprint ${manifest.collector.key.fingerprint} is not that of its public key (${fingerprint(collectorRaw)})`, 'manifest.json');
  }
  const collectorFp = collectorKeyOk ? fingerprint(collectorRaw) : manifest.collector.key.fingerprint;
  result.collector = { fingerprint: collectorFp, trust: options.collectorKey !== undefined ? 'pinned' : 'manifest' };
  if (options.collectorKey !== undefined && (!collectorKeyOk || !keyMatches(options.collectorKey, collectorRaw))) {
    add('manifest.collector_not_pinned', `the bundle was sealed by ${collectorFp}, not the pinned collector key ${options.collectorKey}`, 'manifest.json');
  }

  // --- manifest.sig ---------------------------------------------------------------------------
  if (!isFile('manifest.sig')) add('manifest.sig_missing', 'the bundle has no manifest.sig', 'manifest.sig');
  else {
    const sig = reader.read('manifest.sig');
    if (!collectorKeyOk || !verifyBytes(collectorRaw, mBytes, sig)) {
      add('manifest.bad_signature', `manifest.sig is not a valid Ed25519 signature of manifest.json by the collector key ${collectorFp}`, 'manifest.sig');
    }
  }

  // --- manifest.tsr ---------------------------------------------------------------------------
  if (isFile('manifest.tsr')) {
    const token = reader.read('manifest.tsr');
    if (manifest.tsa === undefined) add('tsa.undeclared', 'manifest.tsr is present but the manifest names no TSA', 'manifest.tsr');
    const v = await verifyTimeStampToken(token, mBytes, tsaRoots);
    if (v.ok) result.tsa = { status: 'verified', ...(v.info ? { gen_time: v.info.genTime } : {}) };
    else if (v.problem === 'no_trust_anchor') {
      result.tsa = { status: 'unverified', ...(v.info ? { gen_time: v.info.genTime } : {}) };
      add('tsa.unverified', 'manifest.tsr covers manifest.json, but no --tsa-ca was given: the time is not trusted', 'manifest.tsr');
    } else {
      let genTime: string | undefined;
      try {
        genTime = readTimeStampToken(token).genTime;
      } catch {
        genTime = undefined;
      }
      result.tsa = { status: 'invalid', ...(genTime ? { gen_time: genTime } : {}) };
      add(`tsa.${v.problem ?? 'invalid'}`, `manifest.tsr does not verify: ${v.detail ?? v.problem ?? 'invalid'}`, 'manifest.tsr');
    }
  } else if (manifest.tsa !== undefined) {
    result.tsa = { status: 'missing' };
    add('tsa.missing', `the manifest says it was time-stamped by ${manifest.tsa.url}, but manifest.tsr is missing`, 'manifest.tsr');
  }

  // --- files against the manifest --------------------------------------------------------------
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  let verifiedFiles = 0;
  for (const f of manifest.files) {
    const e = entries.get(f.path);
    const got = actual.get(f.path);
    if (e === undefined) add('file.missing', 'listed in the manifest but not in the bundle', f.path);
    else if (got === undefined) add('file.not_regular', `listed in the manifest but is a ${e.type}`, f.path);
    else if (got.size !== f.size) add('file.size_mismatch', `is ${got.size} bytes, the manifest says ${f.size}`, f.path);
    else if (got.sha256 !== f.sha256) add('file.hash_mismatch', `SHA-256 is ${got.sha256}, the manifest says ${f.sha256}`, f.path);
    else verifiedFiles++;
  }
  result.files.verified = verifiedFiles;
  const listedDirs = new Set<string>();
  for (const p of listed.keys()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) listedDirs.add(parts.slice(0, i).join('/'));
  }
  for (const e of walked) {
    if (e.type === 'file' && !listed.has(e.path) && !META.has(e.path)) add('file.unlisted', 'a file the manifest does not list', e.path);
    if (e.type === 'dir' && !listedDirs.has(e.path)) add('file.unlisted_dir', 'a folder holding nothing the manifest lists', e.path);
  }
  for (const required of ['SHA256SUMS', 'hashdeep.txt', 'custody.jsonl']) {
    if (!isFile(required)) add('file.missing', `the bundle has no ${required}`, required);
  }
  if (listed.has('collector.pem') && collectorKeyOk && isFile('collector.pem')) {
    let same = false;
    try {
      same = Buffer.from(rawPublicKey(createPublicKey(Buffer.from(reader.read('collector.pem'))))).equals(collectorRaw);
    } catch {
      same = false;
    }
    if (!same) add('collector.pem_mismatch', "collector.pem is not the manifest's collector key", 'collector.pem');
  }

  // --- SHA256SUMS and hashdeep.txt ---------------------------------------------------------------
  const sealed = new Map<string, { size: number; sha256: string }>(manifest.files.map((f) => [f.path, { size: f.size, sha256: f.sha256 }]));
  for (const m of ['manifest.json', 'manifest.sig', 'manifest.tsr']) {
    const got = actual.get(m);
    if (got !== undefined) sealed.set(m, got);
  }
  const compareList = (file: string, list: Array<FileHash & { size?: number }>): void => {
    const seen = new Set<string>();
    for (const item of list) {
      seen.add(item.path);
      const want = sealed.get(item.path);
      if (want === undefined) add('sums.extra_entry', `${file} lists ${item.path}, which the bundle does not hold as a sealed file`, `${file}: ${item.path}`);
      else if (item.sha256 !== want.sha256 || (item.size !== undefined && item.size !== want.size)) {
        add('sums.mismatch', `${file} says ${item.size !== undefined ? `${item.size} bytes, ` : ''}${item.sha256} for ${item.path}; the manifest/file say ${want.size} bytes, ${want.sha256}`, `${file}: ${item.path}`);
      }
    }
    for (const p of sealed.keys()) if (!seen.has(p)) add('sums.missing_entry', `${file} does not list ${p}`, `${file}: ${p}`);
  };
  if (isFile('SHA256SUMS')) {
    try {
      compareList('SHA256SUMS', parseSha256Sums(utf8(reader.read('SHA256SUMS')), 'SHA256SUMS'));
    } catch (err) {
      add('sums.invalid', messageOf(err), 'SHA256SUMS');
    }
  }
  if (isFile('hashdeep.txt')) {
    try {
      compareList('hashdeep.txt', parseHashdeep(utf8(reader.read('hashdeep.txt')), { prefix: '', where: 'hashdeep.txt' }));
    } catch (err) {
      add('sums.invalid', messageOf(err), 'hashdeep.txt');
    }
  }

  // --- store snapshots and witness notes ---------------------------------------------------------
  const pinnedAgents = options.agentKeys?.map((k) => k.trim());
  if (manifest.hosts.length === 0) add('bundle.no_hosts', 'the manifest lists no host: the bundle holds no evidence to verify', 'manifest.json');
  for (const k of pinnedAgents ?? []) {
    // A pin that matches nothing is a verifier's mistake or a swapped bundle; either way not silence.
    if (!manifest.hosts.some((h) => h.enrollment.fingerprint === k)) add('agent_key.unmatched', `the pinned agent key ${k} enrolled none of the bundle's ${manifest.hosts.length} store(s)`, `--agent-key ${k}`);
  }
  // Each store's records pass through the content check as the store verifier reads them (once).
  const content = new BundleContentCheck(
    manifest.hosts.map((h) => ({ host: h.host, storeId: h.store_id })),
    randomBytes(32),
  );
  for (const [hostIndex, h] of manifest.hosts.entries()) {
    const where = h.path;
    const hostResult: BundleHostResult = { host: h.host, store_id: h.store_id, path: h.path, trust: pinnedAgents ? 'pinned' : 'manifest', witness: { tree_size: h.witness.tree_size, ok: false } };
    result.hosts.push(hostResult);
    const evidence = `${h.path}/evidence.sqlite`;
    if (!listed.has(evidence) || !isFile(evidence)) {
      add('host.evidence_missing', `no ${evidence} listed and present for host ${h.host}`, evidence);
      continue;
    }
    if (pinnedAgents !== undefined && !pinnedAgents.includes(h.enrollment.fingerprint)) {
      add('host.agent_key_not_pinned', `store ${h.store_id} of ${h.host} was enrolled with ${h.enrollment.fingerprint}, which is not among the pinned agent keys`, where);
    }
    // Opening SQLite in WAL mode would create -wal/-shm files beside it; snapshots are never in WAL mode.
    const header = Buffer.from(reader.head(evidence, 20));
    if (header.length < 20 || header.subarray(0, 16).toString('latin1') !== 'SQLite format 3\u0000' || header[18] !== 1 || header[19] !== 1) {
      add('host.not_a_snapshot', 'evidence.sqlite is not a SQLite file in rollback-journal mode (snapshots always are); not opened', evidence);
      continue;
    }
    const enrollmentRaw = new Uint8Array(Buffer.from(h.enrollment.public_key, 'base64'));
    const trust: TrustAnchor = pinnedAgents ? { fingerprint: h.enrollment.fingerprint, source: 'pinned' } : { publicKeyRaw: enrollmentRaw, source: 'enrollment-file' };
    let store: OpenedStore;
    try {
      store = reader.openStore(h.path);
    } catch (err) {
      add('host.unreadable', messageOf(err), evidence);
      continue;
    }
    try {
      // Witness: the note in the folder is the one in the manifest, signed by the collector, and its
      // root recomputes over the snapshot's records (computed by the store's verification as it
      // streams them, not by reading the records again).
      const notePath = `${h.path}/witness.note`;
      let note: string | undefined;
      if (!listed.has(notePath) || !isFile(notePath)) add('witness.missing', 'the witness note is not listed and present', notePath);
      else {
        note = utf8(reader.read(notePath));
        if (note !== h.witness.note) add('witness.mismatch', 'witness.note differs from the note in the manifest', notePath);
      }
      const check = collectorKeyOk ? checkWitnessNote(h.witness.note, collectorRaw, h.origin) : { ok: false, problem: 'bad_signature' as const, detail: 'no valid collector key' };
      const witnessSize = check.body?.treeSize;
      let witnessRoot: Uint8Array | undefined;
      const taker = content.batchTaker(hostIndex, h.window?.first_seq ?? 0);
      const storeResult = await verifyStore(store, {
        ...(taker ? { recordContent: taker } : {}),
        trust,
        deep: options.deep === true,
        tsaRoots,
        ...(witnessSize !== undefined ? { rootsAt: [witnessSize], onRoot: (_size: number, root: Uint8Array) => (witnessRoot = root) } : {}),
      });
      hostResult.store = storeResult;
      result.checks.records += storeResult.records;
      result.checks.recordsFullyChecked += storeResult.checks.recordsFullyChecked;
      if (storeResult.findings.some((f) => f.code === 'store.unreadable' || f.code === 'store.corrupt')) content.markIncomplete(hostIndex);
      for (const f of storeResult.findings) add(`store.${f.code}`, f.message, storeWhere(f, h.path));
      if (storeResult.storeId !== h.store_id || storeResult.host !== h.host || storeResult.origin !== h.origin) {
        add('host.mismatch', `the snapshot is store ${storeResult.storeId ?? '?'} of ${storeResult.host ?? '?'} (${storeResult.origin ?? '?'}), the manifest says ${h.store_id} of ${h.host} (${h.origin})`, evidence);
      }
      for (const problem of windowDisagreements(h.window, storeResult)) add('window.manifest_mismatch', problem, evidence);
      if (h.window !== undefined) hostResult.window = h.window;
      if (!check.ok) add(`witness.${check.problem ?? 'invalid'}`, check.detail ?? 'the witness note does not verify', notePath);
      if (check.body !== undefined) {
        hostResult.witness.time = 'time' in check ? check.time : undefined;
        if (check.body.treeSize !== h.witness.tree_size || Buffer.from(check.body.rootHash).toString('base64') !== h.witness.root_hash) {
          add('witness.manifest_mismatch', 'the manifest states another size or root than the signed witness note', notePath);
        }
        const size = check.body.treeSize;
        const root = witnessRoot;
        if (root === undefined) {
          // The stream stopped before the witnessed size: the snapshot holds fewer records, or could
          // not be read up to them (the store's findings say where).
          const unreadable = storeResult.findings.some((f) => f.code === 'store.unreadable' || f.code === 'store.corrupt');
          if (unreadable) add('witness.unreadable', `cannot read the records to recompute the witnessed root: the store could not be read beyond ${storeResult.records} records`, evidence);
          else add('witness.beyond_end', `the collector witnessed ${size} records, the snapshot holds ${storeResult.records}`, `${h.path}: tree size ${size}`);
        } else if (!bytesEqual(root, check.body.rootHash)) {
          add('witness.root_mismatch', `the records 0..${size - 1} no longer hash to the root the collector signed at collection`, `${h.path}: seq 0..${size - 1}`);
        } else if (check.ok) hostResult.witness.ok = true;
      }
    } finally {
      store.close();
    }
  }

  // --- timeline and tables against the verified records ------------------------------------------
  for (const f of content.check(reader)) add(f.code, f.message, f.where);

  // --- custody.jsonl ---------------------------------------------------------------------------
  if (isFile('custody.jsonl')) {
    const log = reader.read('custody.jsonl');
    const v = verifyCustodyLog(log, manifestSha256, {
      ...(options.custodyHead ? { head: options.custodyHead } : {}),
      ...(options.custodyKeys ? { trustedKeys: options.custodyKeys } : {}),
      knownKeys: [collectorFp],
    });
    for (const f of v.findings) add(f.code, f.message, f.where >= 0 ? `custody.jsonl entry ${f.where}` : 'custody.jsonl');
    const first = v.entries[0]?.entry;
    if (first !== undefined && (first.action !== 'collected' || first.key.fingerprint !== collectorFp)) {
      add('custody.first_not_collector', `entry 0 is "${first.action}" by ${first.key.fingerprint}; it must be "collected" by the collector key ${collectorFp}`, 'custody.jsonl entry 0');
    }
    const head = custodyHead(log);
    result.custody = { entries: v.entries.length, ...(head ? { head } : {}), actions: v.entries.map((e) => e.entry?.action ?? '?'), log: custodyEntries(v.entries, collectorFp, options.custodyKeys) };
  }
  return finish();
}

/**
 * Where the manifest's window (signed by the collector) and the snapshot's own (its metadata, as the
 * store verification read it) disagree: the bundle must not say it holds more, less or other
 * records than the snapshot proves.
 */
function windowDisagreements(claim: BundleManifest['hosts'][number]['window'], store: StoreVerification): string[] {
  const held = store.window;
  if (claim === undefined && held === undefined) return [];
  if (claim === undefined) return [`the snapshot holds only the window seq ${held!.startSeq}..${held!.endSeq - 1} of its store, but the manifest states no window (it would read as the whole store)`];
  if (held === undefined) return [`the manifest states a window (seq ${claim.first_seq}..${claim.end_seq - 1}), but the snapshot is not a windowed one`];
  const out: string[] = [];
  if (claim.first_seq !== held.startSeq || claim.end_seq !== held.endSeq) {
    out.push(`the manifest's window is seq ${claim.first_seq}..${claim.end_seq - 1}, the snapshot holds seq ${held.startSeq}..${held.endSeq - 1}`);
  }
  if (claim.start_checkpoint !== undefined && claim.start_checkpoint.tree_size !== claim.first_seq) out.push(`the manifest says checkpoint #${claim.start_checkpoint.checkpoint_id} of size ${claim.start_checkpoint.tree_size} proves a window starting at seq ${claim.first_seq}`);
  if (claim.end_checkpoint !== undefined && (store.sealed === undefined || store.sealed.treeSize !== claim.end_checkpoint.tree_size || claim.end_checkpoint.tree_size !== claim.end_seq)) {
    out.push(`the manifest says checkpoint #${claim.end_checkpoint.checkpoint_id} (size ${claim.end_checkpoint.tree_size}) proves the window's end at seq ${claim.end_seq}; the snapshot's newest verified checkpoint is ${store.sealed === undefined ? 'none' : `#${store.sealed.checkpointId} (size ${store.sealed.treeSize})`}`);
  }
  if (claim.vault_tree_size < claim.end_seq) out.push(`the manifest says the vault's newest checkpoint covers ${claim.vault_tree_size} records, fewer than the window's end (${claim.end_seq})`);
  return out;
}

function custodyEntries(entries: readonly VerifiedEntry[], collectorFp: string, custodyKeys: readonly string[] | undefined): BundleCustodyEntry[] {
  const pinned = new Set(custodyKeys?.map((k) => k.trim()));
  return entries.flatMap(({ position, entry, signatureValid }) => {
    if (entry === undefined) return [];
    // The key that signed it, not the fingerprint it claims (a mismatch is a custody.key_mismatch error).
    const raw = Buffer.from(entry.key.public_key, 'base64');
    const signer = raw.length === 32 ? fingerprint(raw) : entry.key.fingerprint;
    const knownAs = signer === collectorFp ? 'collector' : pinned.has(signer) ? 'pinned' : 'not pinned';
    return [{ index: position, action: entry.action, actor: entry.actor, at: entry.at, signer, signer_known_as: knownAs, signature_ok: signatureValid }];
  });
}
