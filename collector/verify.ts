/**
 * `custody verify` for a store folder: resolves the trust anchor and the TSA roots from what the
 * examiner gives, then runs the pure verifier over a read-only view of the store.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { certificatesFromPemOrDer } from '../src/integrity/tsa.js';
import { ENROLLMENT_FILE, enrollmentSchema, listEpochKeys } from '../src/store/keyfiles.js';
import { SqliteStoreReader } from '../src/store/store-reader.js';
import { verifyStore, type StoreVerification, type TrustAnchor } from '../src/verify/store-verify.js';

export interface VerifyStoreDirOptions {
  /** A fingerprint (`SHA256:…`), an enrollment.pub file, or a file holding the base64 public key. */
  key?: string;
  /** Files with the TSA root certificates (PEM or DER). */
  tsaCa?: string[];
  /** `verify --deep`: also prove every record canonical JSON valid against its kind's schema. */
  deep?: boolean;
  onProgress?: (records: number) => void;
  /** Tree sizes whose root over the records as read is handed to `onRoot` (see VerifyStoreOptions). */
  rootsAt?: readonly number[];
  onRoot?: (treeSize: number, root: Uint8Array) => void;
}

function readFileOrThrow(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read ${what}: ${messageOf(err)}`, { where: path });
  }
}

/** Turns what the examiner pinned into a trust anchor; without a pin, uses enrollment.pub beside the store. */
export function resolveTrustAnchor(storeDir: string, key: string | undefined): TrustAnchor {
  if (key !== undefined) {
    const trimmed = key.trim();
    if (trimmed.startsWith('SHA256:')) return { fingerprint: trimmed, source: 'pinned' };
    const text = readFileOrThrow(trimmed, 'the trusted key').toString('utf8').trim();
    return { publicKeyRaw: publicKeyFromText(text, trimmed), source: 'pinned' };
  }
  const path = join(storeDir, ENROLLMENT_FILE);
  if (!existsSync(path)) {
    throw new CustodyError(ErrorCodes.USAGE, `no trust anchor: pass --key with the enrollment fingerprint (SHA256:…) or key file, or keep ${ENROLLMENT_FILE} beside the store`, { where: storeDir });
  }
  return { publicKeyRaw: publicKeyFromText(readFileOrThrow(path, ENROLLMENT_FILE).toString('utf8'), path), source: 'enrollment-file' };
}

function publicKeyFromText(text: string, where: string): Uint8Array {
  if (text.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new CustodyError(ErrorCodes.KEY_INVALID, `key file is not JSON: ${messageOf(err)}`, { where });
    }
    const parsed = enrollmentSchema.safeParse(json);
    if (!parsed.success) throw new CustodyError(ErrorCodes.KEY_INVALID, 'key file is not a custody enrollment file', { where });
    text = parsed.data.public_key;
  }
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== 32) throw new CustodyError(ErrorCodes.KEY_INVALID, 'key is not a base64 Ed25519 public key (32 bytes)', { where });
  return new Uint8Array(raw);
}

export function loadTsaRoots(files: readonly string[] | undefined): Uint8Array[] {
  return (files ?? []).flatMap((file) => {
    const certs = certificatesFromPemOrDer(new Uint8Array(readFileOrThrow(file, 'the TSA CA certificate')));
    if (certs.length === 0) throw new CustodyError(ErrorCodes.USAGE, 'no certificate found in the TSA CA file', { where: file });
    return certs;
  });
}

/** The epochs of the key files beside a store, or undefined when that folder cannot be read (another user's 0700 folder). */
function keyFilesIfReadable(storeDir: string): number[] | undefined {
  try {
    return listEpochKeys(storeDir);
  } catch {
    return undefined;
  }
}

export async function verifyStoreDir(storeDir: string, options: VerifyStoreDirOptions = {}): Promise<StoreVerification> {
  if (!existsSync(storeDir) || !statSync(storeDir).isDirectory()) {
    throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, 'not a folder', { where: storeDir });
  }
  const trust = resolveTrustAnchor(storeDir, options.key);
  const tsaRoots = loadTsaRoots(options.tsaCa);
  // Listed before the reader's snapshot of the database starts (at its first read): the log only
  // moves forward and the agent erases a retiring key only after the rotation is committed, so a
  // listing older than the snapshot never shows a key beyond the log that the log had certified.
  const epochKeyFiles = keyFilesIfReadable(storeDir);
  const reader = new SqliteStoreReader(storeDir);
  try {
    return await verifyStore(reader, {
      trust,
      tsaRoots,
      deep: options.deep === true,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.rootsAt !== undefined ? { rootsAt: options.rootsAt } : {}),
      ...(options.onRoot ? { onRoot: options.onRoot } : {}),
      // Beside a live store its key folder is evidence too (seal-traces.ts); a copy has none.
      ...(epochKeyFiles !== undefined ? { epochKeyFiles } : {}),
    });
  } finally {
    reader.close();
  }
}
