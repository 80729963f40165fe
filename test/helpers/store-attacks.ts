/**
 * What an attacker with root does to an evidence file, for the hostile-evidence tests: open it as
 * the sqlite3 shell would (foreign keys off), drop the append-only triggers, then edit rows. None
 * of this needs a key.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { leafHash } from '../../src/integrity/merkle.js';
import { canonicalBytes, decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EVIDENCE_FILE } from '../../src/store/evidence-store.js';

/** Opens a store folder's evidence file as an attacker: foreign keys off, triggers dropped. */
export function openAsAttacker(storeDir: string): Database.Database {
  const db = new Database(join(storeDir, EVIDENCE_FILE));
  db.pragma('foreign_keys = OFF'); // as in the sqlite3 shell, where it is off by default
  for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as { name: string }[]) db.exec(`DROP TRIGGER ${name}`);
  return db;
}

/** The rollback's core: every checkpoint after the first deleted. */
export function deleteCheckpointsAfterFirst(db: Database.Database): void {
  db.prepare('DELETE FROM checkpoints WHERE id > 1').run();
}

/** Rewrites a record properly (canonical bytes, matching columns, recomputed leaf): what someone without the key can do. */
export function rewriteRecord(db: Database.Database, seq: number, change: (r: EvidenceRecord) => EvidenceRecord): void {
  const row = db.prepare('SELECT bytes FROM records WHERE seq = ?').get(seq) as { bytes: Uint8Array };
  const record = change(decodeCanonical(row.bytes) as EvidenceRecord);
  const bytes = canonicalBytes(record);
  db.prepare('UPDATE records SET bytes = ?, leaf_hash = ?, kind = ?, observed_at = ? WHERE seq = ?').run(bytes, leafHash(bytes), record.kind, record.observed_at, seq);
}

/** Deletes the records of the given seqs and renumbers the rest so seq stays gapless; resets SQLite's counter to match. */
export function deleteAndRenumber(db: Database.Database, doomed: ReadonlySet<number>): void {
  const rows = (db.prepare('SELECT seq, bytes FROM records ORDER BY seq').all() as { seq: number; bytes: Uint8Array }[]).filter((r) => !doomed.has(r.seq));
  db.prepare('DELETE FROM records').run();
  const insert = db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (?, ?, ?, ?, ?)');
  rows.forEach((row, seq) => {
    const record = { ...(decodeCanonical(row.bytes) as EvidenceRecord), seq };
    const bytes = canonicalBytes(record);
    insert.run(seq, record.kind, record.observed_at, leafHash(bytes), bytes);
  });
  db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'`).run(rows.length - 1);
}

/** Puts SQLite's id counters back to the rows that are left, and drops the tokens of deleted checkpoints. */
export function hideDeletedCheckpoints(db: Database.Database): void {
  db.prepare('DELETE FROM tsa_tokens WHERE checkpoint_id NOT IN (SELECT id FROM checkpoints)').run();
  db.prepare(`UPDATE sqlite_sequence SET seq = (SELECT COALESCE(MAX(id), 0) FROM checkpoints) WHERE name = 'checkpoints'`).run();
  db.prepare(`UPDATE sqlite_sequence SET seq = (SELECT COALESCE(MAX(id), 0) FROM tsa_tokens) WHERE name = 'tsa_tokens'`).run();
}

/** Seqs of the records of one kind. */
export function seqsOfKind(db: Database.Database, kind: string): number[] {
  return (db.prepare('SELECT seq FROM records WHERE kind = ? ORDER BY seq').raw().all(kind) as [number][]).map((r) => r[0]);
}
