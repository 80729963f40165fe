/**
 * A store snapshot written from any StoreReader (the vault's copy of a store, src/vault/copy-reader.ts):
 * an evidence.sqlite in the store's own schema, in rollback-journal mode as `VACUUM INTO` leaves a
 * snapshot, so everything downstream (collect's snapshot, verify, the timeline, a bundle) treats it as
 * a store folder. Rows are copied as the reader gives them, ids included; nothing is recomputed but
 * what the store itself computes (the leaf hash column, from the bytes).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import type { StoreReader } from '../verify/reader.js';
import { EVIDENCE_FILE } from './evidence-store.js';
import { ENROLLMENT_FILE } from './keyfiles.js';
import { EVIDENCE_SCHEMA } from './schema.js';

export function writeStoreFromReader(destDir: string, reader: StoreReader, enrollmentFile: Uint8Array | undefined): { records: number; checkpoints: number } {
  const dest = join(destDir, EVIDENCE_FILE);
  if (existsSync(dest)) throw new CustodyError(ErrorCodes.STORE_EXISTS, 'the destination already holds a store', { where: destDir });
  mkdirSync(destDir, { recursive: true });
  const db = new Database(dest);
  let records = 0;
  let checkpoints = 0;
  try {
    db.pragma('journal_mode = DELETE');
    db.transaction(() => {
      for (const statement of EVIDENCE_SCHEMA) db.exec(statement);
      db.exec(`CREATE INDEX records_key_rotations ON records(seq) WHERE kind = 'key.rotate';`);
      db.exec(`CREATE INDEX records_gaps ON records(seq) WHERE kind = 'agent.gap';`);
      const meta = db.prepare('INSERT INTO meta(name, value) VALUES (?, ?)');
      for (const [name, value] of reader.meta()) meta.run(name, value);
      const record = db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (?, ?, ?, ?, ?)');
      for (const r of reader.records()) {
        record.run(r.seq, r.kind, r.observed_at, r.leaf_hash, r.bytes);
        records++;
      }
      const checkpoint = db.prepare('INSERT INTO checkpoints(id, tree_size, epoch, created_at, note) VALUES (?, ?, ?, ?, ?)');
      for (const c of reader.checkpoints()) {
        checkpoint.run(c.id, c.tree_size, c.epoch, c.created_at, c.note);
        checkpoints++;
      }
      const token = db.prepare('INSERT INTO tsa_tokens(id, checkpoint_id, tsa_url, gen_time, token) VALUES (?, ?, ?, ?, ?)');
      for (const t of reader.tsaTokens()) token.run(t.id, t.checkpoint_id, t.tsa_url, t.gen_time, t.token);
      const blob = db.prepare('INSERT INTO blobs(sha256, chunk, data) VALUES (?, ?, ?)');
      for (const b of reader.blobChunks()) blob.run(b.sha256, b.chunk, b.data);
    })();
  } catch (err) {
    if (err instanceof CustodyError) throw err;
    throw new CustodyError(ErrorCodes.IO, `cannot write the store snapshot: ${messageOf(err)}`, { where: destDir, cause: err });
  } finally {
    db.close();
  }
  if (enrollmentFile !== undefined) writeFileSync(join(destDir, ENROLLMENT_FILE), enrollmentFile, { mode: 0o644 });
  return { records, checkpoints };
}
