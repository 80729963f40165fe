/**
 * A consistent copy of a store while its agent keeps writing. `VACUUM INTO` runs inside one read
 * transaction, so under WAL it sees exactly the committed state at its start, whatever the writer
 * does meanwhile, and never blocks the writer. The copy holds the evidence and the enrollment key,
 * never the private signing key or the mutable agent state.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { BUSY_TIMEOUT_MS } from './pragmas.js';
import { EVIDENCE_FILE } from './evidence-store.js';
import { ENROLLMENT_FILE } from './keyfiles.js';

export interface SnapshotResult {
  dir: string;
  records: number;
  checkpoints: number;
  /** Size of the last checkpoint in the copy. */
  sealedSize: number;
}

export function snapshotStore(storeDir: string, destDir: string): SnapshotResult {
  const source = join(storeDir, EVIDENCE_FILE);
  if (!existsSync(source)) throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, 'no evidence store here', { where: storeDir });
  const dest = join(destDir, EVIDENCE_FILE);
  if (existsSync(dest)) throw new CustodyError(ErrorCodes.STORE_EXISTS, 'snapshot destination already holds a store', { where: destDir });
  mkdirSync(destDir, { recursive: true });
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.prepare('VACUUM INTO ?').run(dest);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `snapshot failed: ${messageOf(err)}`, { where: storeDir, cause: err });
  } finally {
    db.close();
  }
  if (existsSync(join(storeDir, ENROLLMENT_FILE))) copyFileSync(join(storeDir, ENROLLMENT_FILE), join(destDir, ENROLLMENT_FILE));
  const copy = new Database(dest, { readonly: true });
  try {
    const records = (copy.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n;
    const cps = copy.prepare('SELECT COUNT(*) AS n, COALESCE(MAX(tree_size), 0) AS s FROM checkpoints').get() as { n: number; s: number };
    return { dir: destDir, records, checkpoints: cps.n, sealedSize: cps.s };
  } finally {
    copy.close();
  }
}
