/**
 * The vault's copy of a store, checked: on its own (analyseVaultCopy) and against the store on the
 * host (compareWithVault). Pure: the objects come in as bytes (src/vault/read.ts reads them), the
 * findings go out; no network, no file, no clock.
 *
 * What makes the vault worth having is that its checkpoints left the host when they were signed:
 * an attacker with root who rolls the store back and erases every local trace (later checkpoints,
 * their key rotations and heartbeats, records renumbered, SQLite's counters reset) leaves a store
 * that verifies on its own, but not one whose records hash to the roots the vault holds.
 *
 * - Each vault checkpoint note must be signed by this store's key chain: the enrollment key the
 *   verifier trusts, then each epoch key certified by the one before (the certificates are the
 *   `key.rotate` records the agent ships under keys/). A note that is not is vault.copy_invalid and
 *   is never used to accuse the store.
 * - Each segment must decode, name the store and range its object name says, and recompute the
 *   signed root of the vault checkpoint at its end (segment.ts); only then are its records used.
 * - Against the store: the root of the store's first n records must equal the vault's signed root
 *   at n for every vault checkpoint of size n (RFC 6962: a tree of size n is a prefix of a larger
 *   one exactly when the roots agree; the verifier holds every leaf, so it compares the roots
 *   directly in one pass); the store's own newest signed checkpoint must be consistent with the
 *   vault's newest, by an RFC 6962 consistency proof built from the store's records; every record
 *   the vault holds must be byte-identical to the store's at the same seq; and every checkpoint the
 *   vault holds must be in the store, with the same note.
 */
import { extensionValue, noteSignedBy, parseCheckpointBody, parseNote } from '../integrity/checkpoint.js';
import { epochKeyName, fingerprint, verifyKeyCertificate, type PublicKeyInfo } from '../integrity/keys.js';
import { bytesEqual, consistencyProof, emptyRoot, HASH_SIZE, leafHash, MerkleFrontier, verifyConsistency } from '../integrity/merkle.js';
import { decodeSegment, segmentRoot, type Segment } from '../vault/segment.js';
import { recordText, scanEnvelope } from './record-scan.js';
import type { VaultStoreCopy } from '../vault/read.js';
import { messageOf } from '../errors.js';
import type { Finding, FindingLocation, Severity, StoreFindingCode } from './store-findings.js';
import { maxOf } from '../extremes.js';
import { RECORD_TIME_FORM } from '../records/schema.js';

export interface VaultTrust {
  /** The enrollment key the verifier trusts, or its fingerprint (`SHA256:…`). */
  publicKeyRaw?: Uint8Array;
  fingerprint?: string;
}

export interface VaultCheckpoint {
  checkpointId: number;
  treeSize: number;
  key: string;
  versionId: string | undefined;
  note: string;
  root: Uint8Array;
  epoch: number;
  time: string | undefined;
}

export interface VaultCopyAnalysis {
  storeId: string;
  host: string;
  /** The enrollment file as shipped (fields the store's meta holds), when it parses. */
  enrollment: { publicKeyRaw: Uint8Array; origin: string; host: string; storeId: string; createdAt: string } | undefined;
  /** Vault checkpoints whose note parses and is signed by the store's key chain, by id. */
  checkpoints: VaultCheckpoint[];
  /** Records [recordsStart, recordsEnd) as the verified segments hold them, in seq order. */
  records: Uint8Array[];
  /** 0, or for a copy read for a time window (copy.window), the start of its first segment. */
  recordsStart: number;
  /** The Merkle frontier of records [0, recordsStart) its first segment carries (empty at 0). */
  startFrontier: Uint8Array[];
  /** Where the verified, contiguous run of segments from seq 0 ends. */
  recordsEnd: number;
  /** Records of verified segments past a gap (not in `records`), by seq, for the comparison with a store. */
  laterRecords: Map<number, Uint8Array>;
  findings: Finding[];
}

type Add = (code: StoreFindingCode, severity: Severity, message: string, where?: FindingLocation) => void;

function collector(findings: Finding[]): Add {
  return (code, severity, message, where = {}) => findings.push({ code, severity, message, where });
}

const KEY_NAME = /^custody:([0-9a-f]+):e(\d+)$/;

function parseEnrollment(bytes: Uint8Array): NonNullable<VaultCopyAnalysis['enrollment']> | string {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return 'enrollment.pub is not JSON';
  }
  const e = json as Record<string, unknown>;
  if (typeof e !== 'object' || e === null || e['type'] !== 'custody.enrollment.v1') return 'enrollment.pub is not a custody enrollment file';
  for (const f of ['store_id', 'host', 'origin', 'public_key', 'created_at']) if (typeof e[f] !== 'string') return `enrollment.pub lacks ${f}`;
  const raw = Buffer.from(e['public_key'] as string, 'base64');
  if (raw.length !== 32) return 'enrollment.pub holds no Ed25519 public key';
  return { publicKeyRaw: new Uint8Array(raw), origin: e['origin'] as string, host: e['host'] as string, storeId: e['store_id'] as string, createdAt: e['created_at'] as string };
}

/** Epoch keys from the shipped certificates (key.rotate records), each verified against the one before. */
function epochKeysOf(copy: VaultStoreCopy, enrollmentKey: Uint8Array, add: Add): Map<number, PublicKeyInfo> {
  const keys = new Map<number, PublicKeyInfo>([[0, { name: epochKeyName(copy.storeId, 0), epoch: 0, publicKeyRaw: enrollmentKey }]]);
  for (const cert of copy.certificates) {
    const where = { epoch: cert.epoch, vaultObject: cert.key };
    let payload: { epoch?: unknown; key_name?: unknown; public_key?: unknown; certificate?: unknown } | undefined;
    try {
      const record = JSON.parse(Buffer.from(cert.bytes).toString('utf8')) as { kind?: unknown; payload?: typeof payload };
      if (record.kind === 'key.rotate') payload = record.payload;
    } catch {
      payload = undefined;
    }
    if (payload === undefined || typeof payload.epoch !== 'number' || typeof payload.key_name !== 'string' || typeof payload.public_key !== 'string' || typeof payload.certificate !== 'string') {
      add('vault.copy_invalid', 'error', `the vault's key certificate of epoch ${cert.epoch} is not a key.rotate record`, where);
      continue;
    }
    const previous = keys.get(cert.epoch - 1);
    const next: PublicKeyInfo = { name: payload.key_name, epoch: payload.epoch, publicKeyRaw: new Uint8Array(Buffer.from(payload.public_key, 'base64')) };
    if (payload.epoch !== cert.epoch || payload.key_name !== epochKeyName(copy.storeId, cert.epoch)) {
      add('vault.copy_invalid', 'error', `the vault's key certificate named epoch ${cert.epoch} certifies ${JSON.stringify(payload.key_name)} (epoch ${String(payload.epoch)})`, where);
    } else if (previous === undefined) {
      add('vault.copy_invalid', 'error', `the vault holds the key certificate of epoch ${cert.epoch} but not the one of epoch ${cert.epoch - 1}: the chain from the enrollment key is broken`, where);
    } else if (!verifyKeyCertificate(copy.storeId, previous, next, new Uint8Array(Buffer.from(payload.certificate, 'base64')))) {
      add('vault.copy_invalid', 'error', `the vault's certificate of the epoch ${cert.epoch} key does not verify against the epoch ${cert.epoch - 1} key`, where);
    } else keys.set(cert.epoch, next);
  }
  return keys;
}

/** Checks the vault's copy of one store on its own: versions, names, notes, key chain, segments. */
export function analyseVaultCopy(copy: VaultStoreCopy, trust: VaultTrust): VaultCopyAnalysis {
  const findings: Finding[] = [];
  const add = collector(findings);
  const analysis: VaultCopyAnalysis = { storeId: copy.storeId, host: copy.host, enrollment: undefined, checkpoints: [], records: [], recordsStart: 0, startFrontier: [], recordsEnd: 0, laterRecords: new Map(), findings };

  for (const m of copy.multipleVersions) {
    const markers = m.versions.filter((v) => v.deleteMarker).length;
    const etags = new Set(m.versions.map((v) => v.etag));
    if (markers === 0 && etags.size === 1 && !etags.has(undefined) && new Set(m.versions.map((v) => v.size)).size === 1) {
      // Same size and ETag (the MD5 of a single PUT's bytes): the same bytes written twice, which two
      // shippers racing between put-once's HEAD and PUT leave on a vault that ignores If-None-Match.
      add('vault.duplicate_version', 'warning', `a write-once vault object was written ${m.versions.length} times with the same bytes (ETag ${[...etags][0]}): a shipper's retry race, nothing rewritten`, { vaultObject: m.key });
      continue;
    }
    const versions = m.versions.length - markers;
    add(
      'vault.second_version',
      'error',
      `a write-once vault object has ${versions} version${versions === 1 ? '' : 's'}${markers > 0 ? ` and ${markers} delete marker${markers === 1 ? '' : 's'}` : ''} (${m.versions.map((v) => `${v.deleteMarker ? 'delete marker ' : ''}${v.versionId} at ${v.lastModified ?? '?'}`).join(', ')}): it was written again or someone asked to delete it; the oldest version is the one used`,
      { vaultObject: m.key },
    );
  }
  for (const key of copy.unrecognised) add('vault.object_unrecognised', 'warning', "a name under this store's vault prefix that custody never writes", { vaultObject: key });

  if (copy.enrollment === undefined) {
    add('vault.copy_invalid', 'error', "the vault holds no enrollment.pub for this store: nothing in its copy can be checked against the trusted key's chain", {});
    return analysis;
  }
  const enrollment = parseEnrollment(copy.enrollment.bytes);
  if (typeof enrollment === 'string') {
    add('vault.copy_invalid', 'error', `the vault's ${enrollment}`, { vaultObject: copy.enrollment.key });
    return analysis;
  }
  analysis.enrollment = enrollment;
  if (enrollment.storeId !== copy.storeId || enrollment.host !== copy.host) {
    add('vault.copy_invalid', 'error', `the vault's enrollment.pub is for store ${enrollment.storeId} of host ${JSON.stringify(enrollment.host)}, not the store it is filed under`, { vaultObject: copy.enrollment.key });
  }
  const trusted = trust.publicKeyRaw !== undefined ? fingerprint(trust.publicKeyRaw) : trust.fingerprint;
  if (trusted !== undefined && fingerprint(enrollment.publicKeyRaw) !== trusted) {
    add('vault.copy_invalid', 'error', `the vault's copy was enrolled with key ${fingerprint(enrollment.publicKeyRaw)}, not the trusted ${trusted}: nothing in it is trusted`, { vaultObject: copy.enrollment.key });
    return analysis;
  }
  const keys = epochKeysOf(copy, enrollment.publicKeyRaw, add);

  // Checkpoint notes: parsed, for this store, signed by the key of the epoch they name.
  for (const c of copy.checkpoints) {
    const where = { checkpoint: c.checkpointId, vaultObject: c.key };
    let parsed;
    let body;
    try {
      parsed = parseNote(Buffer.from(c.bytes).toString('utf8'));
      body = parseCheckpointBody(parsed.text);
    } catch (err) {
      add('vault.copy_invalid', 'error', `the vault's checkpoint note is malformed: ${messageOf(err)}`, where);
      continue;
    }
    if (body.origin !== enrollment.origin || body.treeSize !== c.treeSize) {
      add('vault.copy_invalid', 'error', `the vault's checkpoint note is for ${body.origin} at size ${body.treeSize}, not what its name says (${enrollment.origin} at size ${c.treeSize})`, where);
      continue;
    }
    const signer = parsed.signatures.map((s) => KEY_NAME.exec(s.name)).find((m) => m !== null && m[1] === copy.storeId);
    const epoch = signer ? Number(signer[2]) : undefined;
    const key = epoch === undefined ? undefined : keys.get(epoch);
    if (epoch === undefined || key === undefined || !noteSignedBy(parsed, key.name, key.publicKeyRaw)) {
      add(
        'vault.copy_invalid',
        'error',
        epoch === undefined
          ? `the vault's checkpoint note is not signed by any key of store ${copy.storeId}`
          : key === undefined
            ? `the vault's checkpoint note is signed with the epoch ${epoch} key, which the vault's key certificates do not certify`
            : `the vault's checkpoint note's signature by the epoch ${epoch} key does not verify`,
        where,
      );
      continue;
    }
    analysis.checkpoints.push({ checkpointId: c.checkpointId, treeSize: c.treeSize, key: c.key, versionId: c.versionId, note: Buffer.from(c.bytes).toString('utf8'), root: body.rootHash, epoch, time: extensionValue(body, 'time') });
  }
  const rootsAt = new Map<number, VaultCheckpoint[]>();
  for (const c of analysis.checkpoints) rootsAt.set(c.treeSize, [...(rootsAt.get(c.treeSize) ?? []), c]);

  // Segments: each must recompute the signed root at its end. A run from seq 0 (for a window: from
  // its first segment, whose frontier stands for the records before it) gives the records.
  let end = copy.window !== undefined ? (copy.segments[0]?.start ?? 0) : 0;
  analysis.recordsStart = end;
  for (const s of copy.segments) {
    const where = { seqRange: [s.start, s.end - 1] as [number, number], vaultObject: s.key };
    let seg: Segment;
    try {
      seg = decodeSegment(s.bytes);
    } catch (err) {
      add('vault.segment_invalid', 'error', `the vault's segment does not decode: ${messageOf(err)}`, where);
      continue;
    }
    if (seg.storeId !== copy.storeId || seg.start !== s.start || seg.end !== s.end) {
      add('vault.segment_invalid', 'error', `the segment holds store ${seg.storeId} records [${seg.start}, ${seg.end}), not what its name says`, where);
      continue;
    }
    const sealing = rootsAt.get(s.end);
    if (sealing === undefined) {
      add('vault.segment_invalid', 'error', `no verified vault checkpoint of size ${s.end} seals this segment (a segment always ends at a checkpoint the agent shipped before it)`, where);
      continue;
    }
    const root = segmentRoot(seg);
    const bad = sealing.find((c) => !bytesEqual(c.root, root));
    if (bad !== undefined) {
      add('vault.segment_invalid', 'error', `the segment's records do not hash to the root vault checkpoint #${bad.checkpointId} signed at size ${s.end}`, { ...where, checkpoint: bad.checkpointId });
      continue;
    }
    const named = observedRange(seg.records);
    if (named.min !== s.minObserved || named.max !== s.maxObserved) {
      add(
        'vault.segment_misnamed',
        'warning',
        `the segment's name says its records were observed ${s.minObserved ?? 'unknown'} to ${s.maxObserved ?? 'unknown'}, its records say ${named.min ?? 'unknown'} to ${named.max ?? 'unknown'}: the records verify, but a time window chosen by the names (collect --since/--until) can miss records`,
        where,
      );
    }
    if (s.start === end) {
      if (analysis.records.length === 0) analysis.startFrontier = seg.frontier;
      // A loop, not push(...records): a segment can hold more records than a spread call takes.
      for (const r of seg.records) analysis.records.push(r);
      end = s.end;
    } else if (s.start > end) {
      seg.records.forEach((r, i) => analysis.laterRecords.set(s.start + i, r));
    }
  }
  analysis.recordsEnd = end;
  const beyond = analysis.checkpoints.filter((c) => c.treeSize > end);
  if (beyond.length > 0 || copy.skippedSegments.length > 0) {
    const max = maxOf(beyond.map((c) => c.treeSize), end);
    if (max > end && copy.skippedSegments.length === 0) {
      add(
        'vault.records_pending',
        'warning',
        `the vault holds checkpoints up to size ${max} but the records of seq ${end}..${max - 1} are not in it as verified segments (shipping is behind, or segments are missing): those checkpoints are checked against the store's records only`,
        { seqRange: [end, max - 1] },
      );
    }
  }
  return analysis;
}

/**
 * The observed-at range a segment's name must carry: the shipper's rule (agent/ship/plan.ts), the
 * smallest and largest observed_at when every record has the records' own UTC form, else unknown.
 */
function observedRange(records: readonly Uint8Array[]): { min: string | undefined; max: string | undefined } {
  let min: string | undefined;
  let max: string | undefined;
  for (const bytes of records) {
    // The envelope scan (record-scan.ts) reads observed_at without parsing the payload; a record
    // it does not recognise is parsed in full.
    const text = recordText(bytes);
    let at: unknown = text === undefined ? undefined : scanEnvelope(text)?.observed_at;
    if (at === undefined) {
      try {
        at = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { observed_at?: unknown }).observed_at;
      } catch {
        at = undefined;
      }
    }
    if (typeof at !== 'string' || !RECORD_TIME_FORM.test(at)) return { min: undefined, max: undefined };
    if (min === undefined || at < min) min = at;
    if (max === undefined || at > max) max = at;
  }
  return { min, max };
}

/** What the comparison needs of the store on the host. */
export interface LocalStoreFacts {
  /** Records in the store (seq 0..records-1; a store with gaps is the local verification's finding). */
  records: number;
  /** SHA-256 leaf hashes of the records' bytes as read (32 bytes each, seq order). */
  leaves: Uint8Array;
  checkpoints: readonly { id: number; tree_size: number; note: string }[];
}

function leafAt(local: LocalStoreFacts, seq: number): Uint8Array {
  return local.leaves.subarray(seq * HASH_SIZE, (seq + 1) * HASH_SIZE);
}

/** The store on the host against the vault's (analysed) copy: the vault.* findings. */
export function compareWithVault(local: LocalStoreFacts, vault: VaultCopyAnalysis): Finding[] {
  const findings: Finding[] = [];
  const add = collector(findings);
  const count = Math.min(local.records, Math.floor(local.leaves.length / HASH_SIZE));

  // 1. Every vault checkpoint is in the store, with the same note.
  const localById = new Map(local.checkpoints.map((c) => [c.id, c]));
  for (const c of vault.checkpoints) {
    const mine = localById.get(c.checkpointId);
    if (mine === undefined) {
      add('vault.checkpoint_missing', 'error', `the vault holds checkpoint #${c.checkpointId} (size ${c.treeSize}${c.time ? `, ${c.time}` : ''}, signed by the epoch ${c.epoch} key) and the store does not: it was deleted from the store`, {
        checkpoint: c.checkpointId,
        vaultObject: c.key,
      });
    } else if (mine.note !== c.note) {
      add('vault.checkpoint_missing', 'error', `the store's checkpoint #${c.checkpointId} is not the note the vault holds under that id (size ${mine.tree_size} in the store, ${c.treeSize} in the vault): the store's was replaced`, {
        checkpoint: c.checkpointId,
        vaultObject: c.key,
      });
    }
  }

  // 2. The store reaches every vault checkpoint, and its first n records hash to the vault's root at n.
  const sizes = [...new Set(vault.checkpoints.map((c) => c.treeSize))].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1];
  if (largest !== undefined && largest > count) {
    add('vault.store_behind', 'error', `the vault holds a checkpoint of size ${largest} but the store holds ${count} records: records ${count}..${largest - 1}, sealed off the host, are gone from the store (rolled back or cut)`, {
      seqRange: [count, largest - 1],
    });
  }
  const roots = new Map<number, Uint8Array>();
  const frontier = new MerkleFrontier();
  const wanted = sizes.filter((s) => s <= count);
  let w = 0;
  if (wanted[0] === 0) {
    roots.set(0, emptyRoot());
    w++;
  }
  for (let seq = 0; seq < count && w < wanted.length; seq++) {
    frontier.push(leafAt(local, seq));
    if (frontier.size === wanted[w]) roots.set(wanted[w++] as number, frontier.root());
  }
  let consistentUpTo = 0;
  let newestConsistent: VaultCheckpoint | undefined;
  for (const c of [...vault.checkpoints].sort((a, b) => a.treeSize - b.treeSize || a.checkpointId - b.checkpointId)) {
    const mine = roots.get(c.treeSize);
    if (mine === undefined) continue;
    if (bytesEqual(mine, c.root)) {
      consistentUpTo = Math.max(consistentUpTo, c.treeSize);
      newestConsistent = c;
    } else {
      add(
        'vault.store_inconsistent',
        'error',
        `the store's records 0..${c.treeSize - 1} do not hash to the root vault checkpoint #${c.checkpointId} signed: records after seq ${consistentUpTo - 1} were changed, removed, inserted or renumbered after the vault received that seal`,
        { checkpoint: c.checkpointId, seqRange: [consistentUpTo, c.treeSize - 1], vaultObject: c.key },
      );
    }
  }

  // 3. The store's own newest signed head extends the vault's newest agreeing checkpoint (RFC 6962 proof).
  const head = [...local.checkpoints].filter((c) => c.tree_size <= count).sort((a, b) => b.tree_size - a.tree_size || b.id - a.id)[0];
  if (head !== undefined && newestConsistent !== undefined && head.tree_size > newestConsistent.treeSize) {
    let headRoot: Uint8Array | undefined;
    try {
      headRoot = parseCheckpointBody(parseNote(head.note).text).rootHash;
    } catch {
      headRoot = undefined; // a malformed local note is the local verification's finding
    }
    if (headRoot !== undefined) {
      const proof = consistencyProof(newestConsistent.treeSize, head.tree_size, (i) => leafAt(local, i));
      if (!verifyConsistency(newestConsistent.treeSize, head.tree_size, newestConsistent.root, headRoot, proof)) {
        add(
          'vault.store_inconsistent',
          'error',
          `the store's checkpoint #${head.id} (size ${head.tree_size}) is not consistent with vault checkpoint #${newestConsistent.checkpointId} (size ${newestConsistent.treeSize}): no RFC 6962 consistency proof from the store's records joins them`,
          { checkpoint: head.id, seqRange: [newestConsistent.treeSize, head.tree_size - 1] },
        );
      }
    }
  }

  // 4. Record by record where the vault holds the record: runs of differing seqs, one finding each.
  let runStart: number | undefined;
  const close = (endExclusive: number): void => {
    if (runStart === undefined) return;
    const range: [number, number] = [runStart, endExclusive - 1];
    add('vault.record_mismatch', 'error', `the store's record${range[0] === range[1] ? ` ${range[0]} differs` : `s ${range[0]}..${range[1]} differ`} from the vault's copy (the bytes the agent shipped)`, range[0] === range[1] ? { seq: range[0] } : { seqRange: range });
    runStart = undefined;
  };
  const compare = (seq: number, bytes: Uint8Array): void => {
    if (seq >= count) return;
    const same = bytesEqual(leafHash(bytes), leafAt(local, seq));
    if (!same && runStart === undefined) runStart = seq;
    if (same) close(seq);
  };
  vault.records.forEach((bytes, i) => compare(vault.recordsStart + i, bytes));
  close(Math.min(vault.recordsStart + vault.records.length, count));
  const later = [...vault.laterRecords.keys()].sort((a, b) => a - b);
  let previous = -2;
  for (const seq of later) {
    if (seq !== previous + 1) close(Math.min(previous + 1, count));
    compare(seq, vault.laterRecords.get(seq) as Uint8Array);
    previous = seq;
  }
  close(Math.min(previous + 1, count));
  return findings;
}
