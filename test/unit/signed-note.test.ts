import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  extensionValue,
  formatCheckpointBody,
  noteKeyId,
  noteSignedBy,
  parseCheckpointBody,
  parseNote,
  signNote,
  verifierKey,
} from '../../src/integrity/checkpoint.js';
import { generateEd25519, rawPublicKey } from '../../src/integrity/keys.js';
import { CustodyError } from '../../src/errors.js';

// Reference vectors from Go's signed-note implementation, golang.org/x/mod/sumdb/note
// (note.go package doc and example_test.go), and the C2SP signed-note spec (c2sp.org/signed-note).
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
const SPEC_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE = 'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

function goSigningKey() {
  // The key's base64 holds a '+' of its own: take everything after the fourth separator.
  const seed = Buffer.from(GO_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1);
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  return { name: 'PeterNeumann', privateKey, publicKeyRaw: rawPublicKey(privateKey) };
}

function publicKeyOf(vkey: string): Uint8Array {
  return new Uint8Array(Buffer.from(vkey.split('+').slice(2).join('+'), 'base64').subarray(1));
}

describe('signed notes (C2SP signed-note)', () => {
  it('signs the Go reference example byte for byte', () => {
    const key = goSigningKey();
    expect(verifierKey(key.name, key.publicKeyRaw)).toBe(GO_VKEY);
    expect(noteKeyId(key.name, key.publicKeyRaw).toString(16)).toBe('c74f20a3');
    expect(signNote(GO_TEXT, key)).toBe(GO_NOTE);
  });

  it('verifies the Go and the C2SP spec examples, and nothing altered', () => {
    const go = parseNote(GO_NOTE);
    expect(go.text).toBe(GO_TEXT);
    expect(noteSignedBy(go, 'PeterNeumann', publicKeyOf(GO_VKEY))).toBe(true);
    const spec = parseNote(SPEC_NOTE);
    expect(noteSignedBy(spec, 'example.com/foo', publicKeyOf(SPEC_VKEY))).toBe(true);

    expect(noteSignedBy(parseNote(GO_NOTE.replace('answer', 'Answer')), 'PeterNeumann', publicKeyOf(GO_VKEY))).toBe(false);
    expect(noteSignedBy(go, 'PeterNeumann', publicKeyOf(SPEC_VKEY))).toBe(false);
    expect(noteSignedBy(go, 'SomeoneElse', publicKeyOf(GO_VKEY))).toBe(false);
  });

  it('refuses malformed notes with E_NOTE_MALFORMED', () => {
    for (const bad of [GO_TEXT, GO_NOTE.replace('— ', '- '), GO_NOTE.replace('\n\n', '\n'), GO_NOTE.slice(0, -1), `${GO_NOTE.slice(0, -3)}!!\n`, GO_NOTE.replace('If', 'I\u0001f')]) {
      expect(() => parseNote(bad)).toThrow(CustodyError);
    }
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  it('formats, signs, parses and verifies a checkpoint with an extension line', () => {
    const { privateKey, publicKeyRaw } = generateEd25519();
    const key = { name: 'custody:abc:e0', privateKey, publicKeyRaw };
    const body = { origin: 'custody/web-01/abc', treeSize: 42, rootHash: new Uint8Array(32).fill(7), extensions: ['time 2026-11-23T14:08:51.123000Z'] };
    const text = formatCheckpointBody(body);
    expect(text).toBe(`custody/web-01/abc\n42\n${Buffer.alloc(32, 7).toString('base64')}\ntime 2026-11-23T14:08:51.123000Z\n`);
    const note = parseNote(signNote(text, key));
    expect(noteSignedBy(note, key.name, publicKeyRaw)).toBe(true);
    const parsed = parseCheckpointBody(note.text);
    expect(parsed.treeSize).toBe(42);
    expect(Buffer.from(parsed.rootHash)).toEqual(Buffer.alloc(32, 7));
    expect(extensionValue(parsed, 'time')).toBe('2026-11-23T14:08:51.123000Z');
  });

  it('refuses checkpoint bodies with bad sizes or roots', () => {
    const root = Buffer.alloc(32).toString('base64');
    for (const bad of ['o\n-1\n' + root + '\n', 'o\n01\n' + root + '\n', 'o\n1\nAAAA\n', '\n1\n' + root + '\n', 'o\n1\n' + root, 'o\n1\n' + root + '\n\n']) {
      expect(() => parseCheckpointBody(bad)).toThrow(CustodyError);
    }
  });
});
