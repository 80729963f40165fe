import type Database from 'better-sqlite3';

/** Pragmas for durability: a committed batch survives power loss and kill -9. */
export function applyDurablePragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
}
