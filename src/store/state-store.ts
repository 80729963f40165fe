/**
 * Mutable agent state (file cursors, journal cursors) in its own SQLite file beside the evidence.
 * Never evidence: it is a cache that saves re-reading, and anything in it is checked against the
 * evidence store (the source of truth) when the agent starts. Losing it loses no evidence.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { STATE_FILE } from './evidence-store.js';
import { BUSY_TIMEOUT_MS } from './pragmas.js';
import { STATE_SCHEMA } from './schema.js';

/** The state database's page cache, in KiB. */
const STATE_CACHE_KIB = 256;

export class StateStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement;
  private readonly putStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;

  constructor(storeDir: string) {
    const path = join(storeDir, STATE_FILE);
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      // `agent status` reads this file while the agent writes it.
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // State is a cache: NORMAL is enough, evidence is what must survive power loss.
      this.db.pragma('synchronous = NORMAL');
      // A few small rows: SQLite's 16 MB default cache (better-sqlite3's build) would only hold garbage.
      this.db.pragma(`cache_size = -${STATE_CACHE_KIB}`);
      for (const statement of STATE_SCHEMA) this.db.exec(statement);
    } catch (err) {
      throw new CustodyError(ErrorCodes.STORE_WRITE_FAILED, `cannot open the agent state database: ${messageOf(err)}`, { where: path, cause: err });
    }
    this.getStmt = this.db.prepare('SELECT value FROM kv WHERE name = ?');
    this.putStmt = this.db.prepare('INSERT INTO kv(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value');
    this.deleteStmt = this.db.prepare('DELETE FROM kv WHERE name = ?');
  }

  get<T>(name: string): T | undefined {
    const row = this.getStmt.get(name) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(name: string, value: unknown): void {
    this.putStmt.run(name, JSON.stringify(value));
  }

  /** Sets several values in one transaction. */
  setMany(entries: Iterable<[string, unknown]>): void {
    this.db.transaction(() => {
      for (const [name, value] of entries) this.putStmt.run(name, JSON.stringify(value));
    })();
  }

  delete(name: string): void {
    this.deleteStmt.run(name);
  }

  /** All entries whose name starts with `prefix`. */
  entries<T>(prefix: string): Array<[string, T]> {
    const rows = this.db.prepare(`SELECT name, value FROM kv WHERE name >= ? AND name < ? ORDER BY name`).all(prefix, `${prefix}\uffff`) as Array<{ name: string; value: string }>;
    return rows.map((r) => [r.name, JSON.parse(r.value) as T]);
  }

  close(): void {
    this.db.close();
  }
}
