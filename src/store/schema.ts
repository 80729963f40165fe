/**
 * The evidence database's schema. Every evidence table is STRICT and append-only: triggers abort
 * any UPDATE or DELETE (a second guard behind the code, which has no such path), and a trigger
 * refuses a checkpoint that shrinks the tree or covers records that do not exist. Gapless `seq`
 * order is checked by the store once per batch inside the batch's transaction (a per-row trigger
 * cost a third of the insert time, measured in scripts/bench/store.mjs).
 */
export const EVIDENCE_FORMAT_VERSION = '1';

export const EVIDENCE_TABLES = ['meta', 'records', 'checkpoints', 'tsa_tokens', 'blobs'] as const;

const appendOnlyTriggers = EVIDENCE_TABLES.flatMap((table) => [
  `CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, 'custody: ${table} is append-only evidence; updates are refused'); END;`,
  `CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, 'custody: ${table} is append-only evidence; deletes are refused'); END;`,
]);

export const EVIDENCE_SCHEMA = [
  `CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;`,
  // AUTOINCREMENT keeps SQLite's high-water mark (sqlite_sequence), so a deleted tail leaves a trace
  // even where no checkpoint covered it yet.
  `CREATE TABLE records (
     seq INTEGER PRIMARY KEY AUTOINCREMENT CHECK (seq >= 0),
     kind TEXT NOT NULL,
     observed_at TEXT NOT NULL,
     leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
     bytes BLOB NOT NULL
   ) STRICT;`,
  `CREATE TABLE checkpoints (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
     epoch INTEGER NOT NULL CHECK (epoch >= 0),
     created_at TEXT NOT NULL,
     note TEXT NOT NULL
   ) STRICT;`,
  `CREATE INDEX checkpoints_by_size ON checkpoints(tree_size);`,
  `CREATE TRIGGER checkpoints_grow BEFORE INSERT ON checkpoints
     WHEN NEW.tree_size < (SELECT COALESCE(MAX(tree_size), 0) FROM checkpoints)
       OR NEW.tree_size > (SELECT COALESCE(MAX(seq) + 1, 0) FROM records)
     BEGIN SELECT RAISE(ABORT, 'custody: a checkpoint may not shrink the tree or cover records that do not exist'); END;`,
  `CREATE TABLE tsa_tokens (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
     tsa_url TEXT NOT NULL,
     gen_time TEXT NOT NULL,
     token BLOB NOT NULL
   ) STRICT;`,
  `CREATE TABLE blobs (
     sha256 TEXT NOT NULL,
     chunk INTEGER NOT NULL CHECK (chunk >= 0),
     data BLOB NOT NULL,
     PRIMARY KEY (sha256, chunk)
   ) STRICT;`,
  ...appendOnlyTriggers,
];

/** Mutable agent state: cursors and offsets. Never evidence; lives in its own file. */
export const STATE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;`,
];
