/**
 * Pins given on the command line: empty, blank and malformed ones are usage errors (E_USAGE), never
 * "no pin"; the forms custody prints are accepted as they are.
 */
import { describe, expect, it } from 'vitest';
import { generatePersonalKey } from '../../src/bundle/personal-key.js';
import { filePin, fingerprintOrFilePin, fingerprintPin, publicKeyPin } from '../../src/integrity/pins.js';

const key = generatePersonalKey();
const FP = key.fingerprint;
const B64 = Buffer.from(key.publicKeyRaw).toString('base64');

function usage(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toMatchObject({ code: 'E_USAGE' });
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('command-line pins', () => {
  it('empty and blank pins are usage errors naming the flag', () => {
    for (const [flag, parse] of [
      ['--collector-key', publicKeyPin],
      ['--agent-key', fingerprintPin],
      ['--custody-key', fingerprintPin],
      ['--key', fingerprintOrFilePin],
      ['--tsa-ca', filePin],
    ] as const) {
      expect(usage(() => parse(flag, ''))).toMatch(new RegExp(`^${flag} is empty: .*an empty pin would turn the check off`));
      expect(usage(() => parse(flag, '  \t'))).toContain(`${flag} is empty`);
    }
  });

  it('malformed fingerprints are usage errors: wrong prefix, length, alphabet, non-canonical last character', () => {
    const body = FP.slice('SHA256:'.length);
    // 32 bytes in 43 characters leave the last character's two low bits zero; another character decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const nonCanonical = `${body.slice(0, 42)}${alphabet[alphabet.indexOf(body[42] as string) + 1] as string}`;
    for (const bad of ['SHA256:', `sha256:${body}`, `SHA256:${body.slice(1)}`, `SHA256:${body}A`, `SHA256:${body.slice(0, 42)}!`, `SHA256:${body}=`, 'MD5:abc', B64]) {
      expect(usage(() => fingerprintPin('--agent-key', bad))).toContain('--agent-key must be a key fingerprint');
    }
    expect(usage(() => fingerprintPin('--agent-key', `SHA256:${nonCanonical}`))).toContain('must be a key fingerprint');
    expect(usage(() => fingerprintOrFilePin('--key', 'SHA256:short'))).toContain('--key must be a key fingerprint');
    expect(usage(() => publicKeyPin('--collector-key', 'AAAA'))).toContain('--collector-key must be a key fingerprint (SHA256:…) or a base64 Ed25519 public key');
  });

  it('accepts what custody prints, trimmed', () => {
    expect(fingerprintPin('--agent-key', ` ${FP}\n`)).toBe(FP);
    expect(publicKeyPin('--collector-key', FP)).toBe(FP);
    expect(publicKeyPin('--collector-key', B64)).toBe(B64);
    expect(fingerprintOrFilePin('--key', FP)).toBe(FP);
    expect(fingerprintOrFilePin('--key', 'store/enrollment.pub')).toBe('store/enrollment.pub');
    expect(filePin('--tsa-ca', 'ca.pem')).toBe('ca.pem');
  });
});
