import { describe, expect, it } from 'vitest';
import {
  certifyNextKey,
  epochKeyName,
  fingerprint,
  generateEd25519,
  keyMatches,
  privateKeyFromPem,
  privateKeyToPem,
  rawPublicKey,
  verifyKeyCertificate,
} from '../../src/integrity/keys.js';
import { CustodyError } from '../../src/errors.js';
import { generateKeyPairSync } from 'node:crypto';

function epochKey(storeId: string, epoch: number) {
  const k = generateEd25519();
  return { name: epochKeyName(storeId, epoch), epoch, ...k };
}

describe('keys', () => {
  it('fingerprints like OpenSSH (SHA256: and unpadded base64) and matches pins', () => {
    const { publicKeyRaw } = generateEd25519();
    const fp = fingerprint(publicKeyRaw);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyMatches(fp, publicKeyRaw)).toBe(true);
    expect(keyMatches(Buffer.from(publicKeyRaw).toString('base64'), publicKeyRaw)).toBe(true);
    expect(keyMatches(fingerprint(generateEd25519().publicKeyRaw), publicKeyRaw)).toBe(false);
  });

  it('round-trips private keys through PEM and refuses non-Ed25519 keys', () => {
    const { privateKey, publicKeyRaw } = generateEd25519();
    expect(rawPublicKey(privateKeyFromPem(privateKeyToPem(privateKey)))).toEqual(publicKeyRaw);
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => privateKeyFromPem(rsa)).toThrow(CustodyError);
    expect(() => privateKeyFromPem('garbage')).toThrow(CustodyError);
  });

  it('certifies the next epoch key, bound to the store, the epochs and both keys', () => {
    const e0 = epochKey('s1', 0);
    const e1 = epochKey('s1', 1);
    const cert = certifyNextKey('s1', e0, e1);
    expect(verifyKeyCertificate('s1', e0, e1, cert)).toBe(true);
    // replayed into another store, signed by the wrong key, for another key, or skipping an epoch
    expect(verifyKeyCertificate('s2', e0, e1, cert)).toBe(false);
    expect(verifyKeyCertificate('s1', e1, { ...e1, epoch: 2 }, cert)).toBe(false);
    expect(verifyKeyCertificate('s1', e0, epochKey('s1', 1), cert)).toBe(false);
    expect(() => certifyNextKey('s1', e0, epochKey('s1', 2))).toThrow(CustodyError);
  });
});
