/**
 * What an examiner pins on the command line (`--key`, `--collector-key`, `--agent-key`,
 * `--custody-key`, `--tsa-ca`, a personal `--key` file), checked before anything is verified. Pure.
 *
 * An empty pin must never mean "no pin": `--collector-key "$COLLECTOR_FP"` with the variable unset
 * used to fall back to the key shipped inside the evidence, so a script silently trusted whoever
 * made the bundle. Every pin is therefore either well-formed or a usage error (E_USAGE, exit 2):
 * empty or blank, a fingerprint that is not `SHA256:` and 43 characters of canonical base64 (the
 * 32-byte SHA-256 without padding), a public key that is not 32 bytes of canonical base64.
 * Whether a pinned key matches is the verifier's question, not this file's.
 */
import { CustodyError, ErrorCodes } from '../errors.js';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

function usage(flag: string, message: string): CustodyError {
  return new CustodyError(ErrorCodes.USAGE, `${flag} ${message}`);
}

function nonEmpty(flag: string, value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '') throw usage(flag, `is empty: give ${what} (an empty pin would turn the check off, so it is refused)`);
  return trimmed;
}

function canonicalBase64(text: string, bytes: number): boolean {
  const raw = Buffer.from(text, 'base64');
  return raw.length === bytes && raw.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '');
}

/** A key fingerprint, `SHA256:` and 43 characters of base64, as custody prints it. */
export function fingerprintPin(flag: string, value: string): string {
  const pin = nonEmpty(flag, value, 'a key fingerprint, SHA256:…');
  if (!FINGERPRINT.test(pin) || !canonicalBase64(pin.slice('SHA256:'.length), 32)) {
    throw usage(flag, `must be a key fingerprint, SHA256: and 43 base64 characters as custody prints it, got ${JSON.stringify(value)}`);
  }
  return pin;
}

/** A fingerprint, or an Ed25519 public key as 32 bytes of base64. */
export function publicKeyPin(flag: string, value: string): string {
  const pin = nonEmpty(flag, value, 'a key fingerprint, SHA256:…');
  if (pin.startsWith('SHA256:')) return fingerprintPin(flag, pin);
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(pin) || !canonicalBase64(pin, 32)) {
    throw usage(flag, `must be a key fingerprint (SHA256:…) or a base64 Ed25519 public key, got ${JSON.stringify(value)}`);
  }
  return pin;
}

/** A fingerprint, or else the name of a file (an enrollment.pub, a key file); the file is read by the command. */
export function fingerprintOrFilePin(flag: string, value: string): string {
  const pin = nonEmpty(flag, value, 'a key fingerprint, SHA256:…, or a key file');
  return pin.startsWith('SHA256:') ? fingerprintPin(flag, pin) : pin;
}

/** The name of a file (a CA certificate, a key file); the file is read by the command. */
export function filePin(flag: string, value: string): string {
  if (value.trim() === '') throw usage(flag, 'is empty: give a file (an empty pin would turn the check off, so it is refused)');
  return value;
}
