/**
 * Ed25519 keys, fingerprints and the per-epoch key chain. Pure: no file system, no clock.
 *
 * Forward security: the agent's key evolves in epochs. Epoch 0 is the enrollment key, whose public
 * half an admin records when the agent is enrolled and which verifiers trust. To move to epoch e+1,
 * the epoch-e key signs a certificate for the new public key (carried in a `key.rotate` record, so
 * the chain lives inside the tamper-evident log) and the epoch-e private key is then erased: someone
 * who later steals the current key cannot re-sign anything sealed in an earlier epoch.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { CustodyError, ErrorCodes } from '../errors.js';
import { canonicalBytes } from '../records/canonical.js';

export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SigningKey {
  /** The signed-note key name, e.g. `custody:7f3a…:e0`. No spaces, no '+'. */
  readonly name: string;
  readonly epoch: number;
  readonly privateKey: KeyObject;
  readonly publicKeyRaw: Uint8Array;
}

export interface PublicKeyInfo {
  readonly name: string;
  readonly epoch: number;
  readonly publicKeyRaw: Uint8Array;
}

export function generateEd25519(): { privateKey: KeyObject; publicKeyRaw: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKeyRaw: rawPublicKey(publicKey) };
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  if (der.length !== SPKI_ED25519_PREFIX.length + ED25519_PUBLIC_KEY_SIZE || !der.subarray(0, 12).equals(SPKI_ED25519_PREFIX)) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, 'not an Ed25519 public key');
  }
  return new Uint8Array(der.subarray(SPKI_ED25519_PREFIX.length));
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `an Ed25519 public key is ${ED25519_PUBLIC_KEY_SIZE} bytes, got ${raw.length}`);
  }
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** PKCS#8 PEM text of a private key, for a key file. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function privateKeyFromPem(pem: string, where?: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, 'not a PEM private key', { where, cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `expected an Ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`, { where });
  }
  return key;
}

/** SSH-style fingerprint of a public key: `SHA256:` and unpadded base64 of SHA-256(raw key). */
export function fingerprint(publicKeyRaw: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(publicKeyRaw).digest('base64').replace(/=+$/, '')}`;
}

/** Accepts a fingerprint (`SHA256:…`) or a raw public key in base64, and says whether it names this key. */
export function keyMatches(pinned: string, publicKeyRaw: Uint8Array): boolean {
  const trimmed = pinned.trim();
  if (trimmed.startsWith('SHA256:')) return trimmed === fingerprint(publicKeyRaw);
  return Buffer.from(trimmed, 'base64').equals(Buffer.from(publicKeyRaw));
}

export function signBytes(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, data, privateKey));
}

/**
 * The last public key verifyBytes used, as a KeyObject: a verifier checks a thousand checkpoints
 * per million records with one key per epoch, and building the KeyObject cost more than the
 * signature check itself. Key objects are immutable, so reusing one is safe.
 */
let lastVerifyKey: { raw: Buffer; key: KeyObject } | undefined;

function verifyKey(publicKeyRaw: Uint8Array): KeyObject {
  if (lastVerifyKey !== undefined && lastVerifyKey.raw.equals(publicKeyRaw)) return lastVerifyKey.key;
  const key = publicKeyFromRaw(publicKeyRaw);
  lastVerifyKey = { raw: Buffer.from(publicKeyRaw), key };
  return key;
}

export function verifyBytes(publicKeyRaw: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_SIZE || publicKeyRaw.length !== ED25519_PUBLIC_KEY_SIZE) return false;
  try {
    return verify(null, data, verifyKey(publicKeyRaw), signature);
  } catch {
    return false;
  }
}

/** The signed-note key name for a store's epoch. */
export function epochKeyName(storeId: string, epoch: number): string {
  return `custody:${storeId}:e${epoch}`;
}

/**
 * The exact bytes the previous epoch's key signs to certify the next one. Binding the store id and
 * both keys means a certificate cannot be replayed into another store or spliced into another chain.
 */
export function keyCertificateStatement(storeId: string, previous: PublicKeyInfo, next: PublicKeyInfo): Uint8Array {
  return canonicalBytes({
    type: 'custody.key-certificate.v1',
    store_id: storeId,
    previous: { epoch: previous.epoch, name: previous.name, public_key: Buffer.from(previous.publicKeyRaw).toString('base64') },
    next: { epoch: next.epoch, name: next.name, public_key: Buffer.from(next.publicKeyRaw).toString('base64') },
  });
}

export function certifyNextKey(storeId: string, previous: SigningKey, next: PublicKeyInfo): Uint8Array {
  if (next.epoch !== previous.epoch + 1) {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `epoch ${previous.epoch} can only certify epoch ${previous.epoch + 1}, not ${next.epoch}`);
  }
  return signBytes(previous.privateKey, keyCertificateStatement(storeId, previous, next));
}

export function verifyKeyCertificate(storeId: string, previous: PublicKeyInfo, next: PublicKeyInfo, certificate: Uint8Array): boolean {
  if (next.epoch !== previous.epoch + 1) return false;
  return verifyBytes(previous.publicKeyRaw, keyCertificateStatement(storeId, previous, next), certificate);
}
