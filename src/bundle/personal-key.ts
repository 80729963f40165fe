/**
 * Personal keys: the Ed25519 key a person uses to sign custody entries when a bundle changes
 * hands (`custody keys init --out FILE`, then `custody handoff … --key FILE`). Pure: key material
 * in, file contents out; the command writes the files (the private one mode 0600).
 *
 * The private key file is PKCS#8 PEM (what `openssl pkey` reads). The public file is one line of
 * canonical JSON, `{"fingerprint":…,"name":…,"public_key":…,"type":"custody.personal-key.v1"}`,
 * for the person to hand to whoever will verify their entries; the fingerprint is the same
 * `SHA256:…` form the rest of custody prints.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CustodyError, ErrorCodes } from '../errors.js';
import { fingerprint, generateEd25519, privateKeyFromPem, privateKeyToPem, rawPublicKey } from '../integrity/keys.js';
import { canonicalText } from '../records/canonical.js';

export const PERSONAL_KEY_TYPE = 'custody.personal-key.v1';

export interface PersonalKey {
  readonly privateKey: KeyObject;
  readonly publicKeyRaw: Uint8Array;
  readonly fingerprint: string;
}

export interface PersonalPublicKey {
  readonly name: string | undefined;
  readonly publicKeyRaw: Uint8Array;
  readonly fingerprint: string;
}

export interface PersonalKeyFiles {
  /** Contents of the private key file (PKCS#8 PEM). Write it mode 0600. */
  readonly privatePem: string;
  /** Contents of the public key file (canonical JSON and a newline). */
  readonly publicJson: string;
  readonly fingerprint: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Checks a display name (for keys and custody actors): trimmed, printable, at most 256 characters. */
export function displayNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 256) return 'is longer than 256 characters';
  if (!name.isWellFormed()) return 'is not valid Unicode';
  if (CONTROL.test(name)) return 'contains a control character';
  if (name.trim() !== name) return 'has leading or trailing spaces';
  return undefined;
}

/** Base64 that decodes to exactly `length` bytes and re-encodes to the same text (no alternative spellings). */
export function strictBase64(text: string, length: number): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== length || bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

export function personalKeyFromPrivate(privateKey: KeyObject): PersonalKey {
  const publicKeyRaw = rawPublicKey(privateKey);
  return { privateKey, publicKeyRaw, fingerprint: fingerprint(publicKeyRaw) };
}

export function generatePersonalKey(): PersonalKey {
  return personalKeyFromPrivate(generateEd25519().privateKey);
}

/** The public key file's text for a key. */
export function personalPublicJson(publicKeyRaw: Uint8Array, name?: string): string {
  if (name !== undefined) {
    const problem = displayNameProblem(name);
    if (problem !== undefined) throw new CustodyError(ErrorCodes.USAGE, `key name ${problem}`);
  }
  return `${canonicalText({ type: PERSONAL_KEY_TYPE, name, fingerprint: fingerprint(publicKeyRaw), public_key: Buffer.from(publicKeyRaw).toString('base64') })}\n`;
}

/** A new personal key as the two files `custody keys init --out FILE` writes. */
export function personalKeyFiles(name?: string, key: PersonalKey = generatePersonalKey()): PersonalKeyFiles {
  const publicJson = personalPublicJson(key.publicKeyRaw, name);
  return { privatePem: privateKeyToPem(key.privateKey), publicJson, fingerprint: key.fingerprint };
}

/** Reads a personal private key file's text. */
export function parsePersonalPrivateKey(pem: string, where?: string): PersonalKey {
  return personalKeyFromPrivate(privateKeyFromPem(pem, where));
}

const PublicFile = z.strictObject({
  type: z.literal(PERSONAL_KEY_TYPE),
  name: z.string().optional(),
  fingerprint: z.string(),
  public_key: z.string(),
});

/** Reads a personal public key file's text; the fingerprint must match the key. */
export function parsePersonalPublicKey(text: string, where?: string): PersonalPublicKey {
  const fail = (message: string): never => {
    throw new CustodyError(ErrorCodes.KEY_INVALID, `not a custody personal public key: ${message}`, { where });
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON (${(err as Error).message})`);
  }
  const parsed = PublicFile.safeParse(json);
  if (!parsed.success) return fail(parsed.error.issues.map((i) => `${i.path.join('.') || '$'}: ${i.message}`).join('; '));
  const raw = strictBase64(parsed.data.public_key, 32);
  if (raw === undefined) return fail('public_key is not 32 bytes of base64');
  if (fingerprint(raw) !== parsed.data.fingerprint) return fail(`fingerprint ${parsed.data.fingerprint} does not match the key (${fingerprint(raw)})`);
  return { name: parsed.data.name, publicKeyRaw: raw, fingerprint: parsed.data.fingerprint };
}
