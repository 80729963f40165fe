/**
 * Key files on disk: the current epoch's private key (mode 0600 in a 0700 folder) and the
 * enrollment public key that an admin records and verifiers trust.
 *
 * Erasing a retired key overwrites it before unlinking it. On copy-on-write or flash storage that
 * is best effort (old blocks may survive in the file system or the SSD's spare area); the README
 * says so. The guarantee verifiers rely on is the certificate chain, not the erasure.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { fingerprint, privateKeyFromPem, privateKeyToPem } from '../integrity/keys.js';

export const KEYS_DIR = 'keys';
export const ENROLLMENT_FILE = 'enrollment.pub';

const EPOCH_KEY_FILE = /^epoch-(\d+)\.key$/;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a file atomically (temp file, fsync, rename, fsync folder) with the given mode. */
export function writeFileDurably(path: string, data: string | Uint8Array, mode: number): void {
  const dir = join(path, '..');
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dir);
}

export function keysDir(storeDir: string): string {
  return join(storeDir, KEYS_DIR);
}

export function epochKeyPath(storeDir: string, epoch: number): string {
  return join(keysDir(storeDir), `epoch-${epoch}.key`);
}

export function writeEpochKey(storeDir: string, epoch: number, privateKey: KeyObject): void {
  mkdirSync(keysDir(storeDir), { recursive: true, mode: 0o700 });
  writeFileDurably(epochKeyPath(storeDir, epoch), privateKeyToPem(privateKey), 0o600);
}

export function readEpochKey(storeDir: string, epoch: number): KeyObject {
  const path = epochKeyPath(storeDir, epoch);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CustodyError(ErrorCodes.KEY_MISSING, `cannot read the epoch ${epoch} signing key: ${messageOf(err)}`, { where: path, cause: err });
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `signing key is readable by others (mode ${mode.toString(8)}); it must be 0600`, { where: path });
  }
  return privateKeyFromPem(pem, path);
}

/** Epochs for which a private key file exists, ascending. */
export function listEpochKeys(storeDir: string): number[] {
  const dir = keysDir(storeDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => EPOCH_KEY_FILE.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Overwrites and removes a retired epoch key. */
export function eraseEpochKey(storeDir: string, epoch: number): void {
  const path = epochKeyPath(storeDir, epoch);
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
  fsyncDir(keysDir(storeDir));
}

export const enrollmentSchema = z.strictObject({
  type: z.literal('custody.enrollment.v1'),
  store_id: z.string(),
  host: z.string(),
  origin: z.string(),
  public_key: z.string(),
  fingerprint: z.string(),
  created_at: z.string(),
});
export type Enrollment = z.infer<typeof enrollmentSchema>;

export function enrollmentFor(storeId: string, host: string, origin: string, publicKeyRaw: Uint8Array, createdAt: string): Enrollment {
  return {
    type: 'custody.enrollment.v1',
    store_id: storeId,
    host,
    origin,
    public_key: Buffer.from(publicKeyRaw).toString('base64'),
    fingerprint: fingerprint(publicKeyRaw),
    created_at: createdAt,
  };
}

export function writeEnrollment(storeDir: string, enrollment: Enrollment): void {
  writeFileDurably(join(storeDir, ENROLLMENT_FILE), `${JSON.stringify(enrollment, null, 2)}\n`, 0o644);
}

export function readEnrollmentFile(path: string): Enrollment {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read enrollment file: ${messageOf(err)}`, { where: path, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `enrollment file is not JSON: ${messageOf(err)}`, { where: path });
  }
  const parsed = enrollmentSchema.safeParse(json);
  if (!parsed.success) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `enrollment file is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { where: path });
  }
  return parsed.data;
}
