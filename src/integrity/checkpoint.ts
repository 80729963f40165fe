/**
 * Checkpoints as C2SP signed notes (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint).
 * Pure: no file system, no clock.
 *
 * A checkpoint note is:
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n ...]\n— <key name> <base64(key id || signature)>\n
 *
 * The signature covers the text up to and including the newline before the blank line. Tools that
 * speak signed notes (Go's golang.org/x/mod/sumdb/note, transparency-dev) can check ours with the
 * verifier key from `verifierKey()`.
 */
import { createHash } from 'node:crypto';
import { CustodyError, ErrorCodes } from '../errors.js';
import { ED25519_SIGNATURE_SIZE, signBytes, verifyBytes, type SigningKey } from './keys.js';

const EM_DASH_PREFIX = '\u2014 ';
const ED25519_ALGORITHM = 0x01;
const utf8 = new TextEncoder();

export interface CheckpointBody {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  /** Extra signed lines after the root hash (custody writes `time <RFC 3339>`). */
  extensions: string[];
}

export interface NoteSignature {
  name: string;
  /** The 4-byte key hash, as an unsigned 32-bit integer. */
  keyId: number;
  signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, ending in a newline. */
  text: string;
  signatures: NoteSignature[];
}

/** C2SP key hash: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key), big-endian. */
export function noteKeyId(name: string, publicKeyRaw: Uint8Array): number {
  const digest = createHash('sha256').update(name).update('\n').update(Uint8Array.of(ED25519_ALGORITHM)).update(publicKeyRaw).digest();
  return digest.readUInt32BE(0);
}

/** The verifier key string other signed-note tools take: `<name>+<hex key id>+<base64(0x01||key)>`. */
export function verifierKey(name: string, publicKeyRaw: Uint8Array): string {
  const id = noteKeyId(name, publicKeyRaw).toString(16).padStart(8, '0');
  return `${name}+${id}+${Buffer.concat([Uint8Array.of(ED25519_ALGORITHM), publicKeyRaw]).toString('base64')}`;
}

function assertKeyName(name: string): void {
  if (name === '' || /[\s+]/u.test(name)) {
    throw new CustodyError(ErrorCodes.NOTE_MALFORMED, `key name ${JSON.stringify(name)} must be non-empty with no spaces or '+'`);
  }
}

export function formatCheckpointBody(body: CheckpointBody): string {
  if (body.origin === '' || /[\n\r]/.test(body.origin)) {
    throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint origin must be one non-empty line');
  }
  if (!Number.isSafeInteger(body.treeSize) || body.treeSize < 0) {
    throw new CustodyError(ErrorCodes.NOTE_MALFORMED, `checkpoint tree size ${body.treeSize} is not a non-negative integer`);
  }
  if (body.rootHash.length !== 32) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint root hash must be 32 bytes');
  for (const ext of body.extensions) {
    if (ext === '' || /[\n\r]/.test(ext)) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint extension lines must be non-empty single lines');
  }
  const lines = [body.origin, String(body.treeSize), Buffer.from(body.rootHash).toString('base64'), ...body.extensions];
  return `${lines.join('\n')}\n`;
}

/** Signs a note text (which must end in a newline) and returns the full note with its signature line. */
export function signNote(text: string, key: Pick<SigningKey, 'name' | 'privateKey' | 'publicKeyRaw'>): string {
  assertKeyName(key.name);
  if (!text.endsWith('\n')) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'note text must end with a newline');
  const signature = signBytes(key.privateKey, utf8.encode(text));
  const id = Buffer.alloc(4);
  id.writeUInt32BE(noteKeyId(key.name, key.publicKeyRaw));
  return `${text}\n${EM_DASH_PREFIX}${key.name} ${Buffer.concat([id, signature]).toString('base64')}\n`;
}

/** Splits a signed note into its text and signature lines. Throws E_NOTE_MALFORMED, naming what is wrong. */
export function parseNote(note: string): ParsedNote {
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'note contains control characters');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split('\n');
  const signatures: NoteSignature[] = [];
  for (const line of sigLines) {
    if (!line.startsWith(EM_DASH_PREFIX)) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, `signature line does not start with "— ": ${JSON.stringify(line.slice(0, 40))}`);
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.lastIndexOf(' ');
    if (space <= 0) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'signature line has no key name');
    const name = rest.slice(0, space);
    const blob = Buffer.from(rest.slice(space + 1), 'base64');
    if (blob.length < 5 || blob.toString('base64') !== rest.slice(space + 1)) {
      throw new CustodyError(ErrorCodes.NOTE_MALFORMED, `signature by ${name} is not valid base64 of key id and signature`);
    }
    signatures.push({ name, keyId: blob.readUInt32BE(0), signature: new Uint8Array(blob.subarray(4)) });
  }
  if (signatures.length === 0) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'note has no signatures');
  return { text, signatures };
}

/** Parses the text of a checkpoint note (without its signatures). */
export function parseCheckpointBody(text: string): CheckpointBody {
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint text must end with a newline');
  const [origin, size, root, ...extensions] = lines;
  if (origin === undefined || origin === '' || size === undefined || root === undefined) {
    throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint needs an origin, a tree size and a root hash line');
  }
  if (!/^(0|[1-9]\d*)$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new CustodyError(ErrorCodes.NOTE_MALFORMED, `checkpoint tree size ${JSON.stringify(size)} is not a decimal integer`);
  }
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== root) {
    throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint root hash is not base64 of 32 bytes');
  }
  if (extensions.some((e) => e === '')) throw new CustodyError(ErrorCodes.NOTE_MALFORMED, 'checkpoint has an empty extension line');
  return { origin, treeSize: Number(size), rootHash: new Uint8Array(rootHash), extensions };
}

/** True when `note` carries a valid signature by the named key over its text. */
export function noteSignedBy(parsed: ParsedNote, name: string, publicKeyRaw: Uint8Array): boolean {
  const id = noteKeyId(name, publicKeyRaw);
  const data = utf8.encode(parsed.text);
  return parsed.signatures.some(
    (s) => s.name === name && s.keyId === id && s.signature.length === ED25519_SIGNATURE_SIZE && verifyBytes(publicKeyRaw, data, s.signature),
  );
}

/** The value of a `<name> <value>` extension line, if present. */
export function extensionValue(body: CheckpointBody, name: string): string | undefined {
  const prefix = `${name} `;
  return body.extensions.find((e) => e.startsWith(prefix))?.slice(prefix.length);
}
