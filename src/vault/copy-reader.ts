/**
 * The vault's copy of a store seen as a store: a StoreReader over the objects read from the vault
 * and analysed (src/verify/vault-copy.ts), so the one store verifier checks a host whose store is
 * gone exactly as it checks a store folder, and a collector can write it out as a store snapshot.
 *
 * What goes in, and why:
 * - records: the run of segments from seq 0 that verified against their checkpoints; nothing from a
 *   segment that did not (that is a vault.segment_invalid finding already);
 * - checkpoints: the notes that verified (signed by the trusted key chain) and that the records
 *   reach; a later one waits for its segment (vault.records_pending says so), because a checkpoint
 *   without its records would read as records removed;
 * - metadata from the shipped enrollment.pub; time-stamp tokens of the checkpoints kept (the URL of
 *   the TSA is not shipped: `tsa_url` is empty, `gen_time` read from the token when it parses);
 * - blobs in the store's own 1 MiB chunks.
 * - for a copy read for a time window (read.ts, collect --since/--until): records from its first
 *   segment's start S only, the checkpoints of sizes S..end, and the window's description in the
 *   metadata (src/verify/store-window.ts: the first segment's frontier, and the key certificates of
 *   the epochs certified before S), so the snapshot verifies as the window it is.
 * SQLite's counters do not exist in the vault: sqliteSequence() is empty and highWaterSeq()
 * undefined, so the verifier's counter-based traces do not apply (the vault's seals replace them).
 */
import { EVIDENCE_FORMAT_VERSION } from '../store/schema.js';
import { leafHash } from '../integrity/merkle.js';
import { readTimeStampToken } from '../integrity/tsa.js';
import type { BlobChunkRow, CheckpointRow, RecordRow, StoreReader, TsaTokenRow } from '../verify/reader.js';
import type { VaultCopyAnalysis } from '../verify/vault-copy.js';
import { windowMeta } from '../verify/store-window.js';
import type { VaultStoreCopy } from './read.js';

const BLOB_CHUNK_BYTES = 1 << 20;

function columnsOf(bytes: Uint8Array): { kind: string; observed_at: string } {
  try {
    const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as { kind?: unknown; observed_at?: unknown };
    return { kind: typeof r.kind === 'string' ? r.kind : '', observed_at: typeof r.observed_at === 'string' ? r.observed_at : '' };
  } catch {
    return { kind: '', observed_at: '' };
  }
}

/** The seq of a key certificate (a key.rotate record); Infinity when it states none (then it is not carried). */
function certifiedAt(bytes: Uint8Array): number {
  try {
    const seq = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : Infinity;
  } catch {
    return Infinity;
  }
}

export class VaultCopyReader implements StoreReader {
  readonly location: string;
  private readonly included: CheckpointRow[];
  private readonly tokens: TsaTokenRow[];

  constructor(
    private readonly copy: VaultStoreCopy,
    private readonly analysis: VaultCopyAnalysis,
    location: string,
  ) {
    this.location = location;
    this.included = analysis.checkpoints
      .filter((c) => c.treeSize <= analysis.recordsEnd && c.treeSize >= (copy.window !== undefined ? analysis.recordsStart : 0))
      .sort((a, b) => a.checkpointId - b.checkpointId)
      .map((c) => ({ id: c.checkpointId, tree_size: c.treeSize, epoch: c.epoch, created_at: c.time ?? '', note: c.note }));
    const ids = new Set(this.included.map((c) => c.id));
    this.tokens = copy.tsaTokens
      .filter((t) => ids.has(t.checkpointId))
      .map((t) => {
        let genTime = '';
        try {
          genTime = readTimeStampToken(t.bytes).genTime;
        } catch {
          // A malformed token is the verifier's finding (tsa.token_invalid).
        }
        return { id: t.tokenId, checkpoint_id: t.checkpointId, tsa_url: '', gen_time: genTime, token: t.bytes };
      });
  }

  /** Checkpoints the reader holds (those the vault's records reach). */
  get checkpointCount(): number {
    return this.included.length;
  }

  meta(): Map<string, string> {
    const e = this.analysis.enrollment;
    const m = new Map<string, string>([['format_version', EVIDENCE_FORMAT_VERSION]]);
    if (e === undefined) return m;
    m.set('store_id', e.storeId);
    m.set('host', e.host);
    m.set('origin', e.origin);
    m.set('enrollment_public_key', Buffer.from(e.publicKeyRaw).toString('base64'));
    m.set('created_at', e.createdAt);
    if (this.copy.window !== undefined) {
      const before = this.copy.certificates.filter((c) => certifiedAt(c.bytes) < this.analysis.recordsStart).map((c) => c.bytes);
      for (const [name, value] of windowMeta({ startSeq: this.analysis.recordsStart, frontierRoots: this.analysis.startFrontier, keyCertificates: before })) m.set(name, value);
    }
    return m;
  }

  highWaterSeq(): number | undefined {
    return undefined;
  }

  sqliteSequence(): Map<string, number> {
    return new Map();
  }

  *records(): Iterable<RecordRow> {
    const records = this.analysis.records;
    for (let i = 0; i < records.length; i++) {
      const bytes = records[i] as Uint8Array;
      yield { seq: this.analysis.recordsStart + i, ...columnsOf(bytes), leaf_hash: leafHash(bytes), bytes };
    }
  }

  checkpoints(): CheckpointRow[] {
    return this.included.map((c) => ({ ...c }));
  }

  tsaTokens(): TsaTokenRow[] {
    return this.tokens.map((t) => ({ ...t }));
  }

  *blobChunks(): Iterable<BlobChunkRow> {
    for (const b of this.copy.blobs) {
      const data = b.bytes;
      let chunk = 0;
      for (let offset = 0; offset < data.length || chunk === 0; offset += BLOB_CHUNK_BYTES, chunk++) {
        yield { sha256: b.sha256, chunk, data: data.subarray(offset, offset + BLOB_CHUNK_BYTES) };
      }
    }
  }
}
