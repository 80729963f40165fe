/**
 * The chain-of-custody log: entries by different keys verify; reordering, removing, editing,
 * re-signing or re-linking any of them is named by its finding code; and (fast-check) no random
 * edit of a log ever verifies. Personal key files round-trip and are checked.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CustodyError } from '../../src/errors.js';
import { appendEntry, custodyHead, custodySigningBytes, verifyCustodyLog, type CustodyFindingCode } from '../../src/bundle/custody-log.js';
import { generatePersonalKey, parsePersonalPrivateKey, parsePersonalPublicKey, personalKeyFiles } from '../../src/bundle/personal-key.js';
import { signBytes } from '../../src/integrity/keys.js';

const MANIFEST = createHash('sha256').update('{"case":"IR-2026-014"}\n').digest('hex');
const OTHER_MANIFEST = createHash('sha256').update('{"case":"IR-2026-015"}\n').digest('hex');
const T0 = Date.UTC(2026, 10, 23, 14, 0, 0);

const collector = generatePersonalKey();
const vendor = generatePersonalKey();
const counsel = generatePersonalKey();

function threeEntries(): string {
  let log = appendEntry('', { manifestSha256: MANIFEST, action: 'collected', actor: 'Aiko Tanaka, Example Corp CSIRT' }, collector.privateKey, T0);
  log = appendEntry(log, { manifestSha256: MANIFEST, action: 'transferred', actor: 'Aiko Tanaka, Example Corp CSIRT', note: 'USB drive SN 4C53, sealed bag #0192' }, collector.privateKey, T0 + 3_600_000);
  log = appendEntry(log, { manifestSha256: MANIFEST, action: 'received', actor: 'Kenji Sato, Forensic Vendor KK', note: 'bag #0192 intact\nseal unbroken' }, vendor.privateKey, T0 + 7_200_000);
  return log;
}
const LOG = threeEntries();
const LINES = LOG.split('\n').slice(0, -1);

function codes(log: string, manifest = MANIFEST, options = {}): CustodyFindingCode[] {
  return verifyCustodyLog(log, manifest, options).findings.map((f) => f.code);
}

function join(lines: string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}

function edit(line: string, change: (entry: Record<string, unknown>) => void): string {
  const entry = JSON.parse(line) as Record<string, unknown>;
  change(entry);
  // Serialised canonically (sorted keys), so only the intended change is under test.
  const sorted = Object.fromEntries(Object.entries(entry).sort(([a], [b]) => (a < b ? -1 : 1)));
  return JSON.stringify(sorted);
}

describe('custody log', () => {
  it('entries by different keys verify, linked to the manifest and to each other', () => {
    const result = verifyCustodyLog(LOG, MANIFEST, { head: custodyHead(LOG), trustedKeys: [collector.fingerprint, vendor.fingerprint] });
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.entries).toHaveLength(3);
    const [e0, e1, e2] = result.entries;
    expect(e0?.entry?.prev).toBe(MANIFEST);
    expect(e1?.entry?.prev).toBe(e0?.sha256);
    expect(e2?.entry?.prev).toBe(e1?.sha256);
    expect(e0?.entry?.key.fingerprint).toBe(collector.fingerprint);
    expect(e2?.entry?.key.fingerprint).toBe(vendor.fingerprint);
    expect(e2?.entry?.at).toBe('2026-11-23T16:00:00.000000Z');
    expect(e1?.entry?.note).toBe('USB drive SN 4C53, sealed bag #0192');
    expect(e0?.entry).not.toHaveProperty('note');
    // Each line is canonical JSON of exactly the documented fields.
    expect(Object.keys(JSON.parse(LINES[1] as string) as object)).toEqual(['action', 'actor', 'at', 'index', 'key', 'note', 'prev', 'sig', 'v']);
    expect(custodyHead(LOG)).toEqual({ index: 2, sha256: createHash('sha256').update(LINES[2] as string).digest('hex') });
  });

  it('names a reordering', () => {
    const swapped = codes(join([LINES[0], LINES[2], LINES[1]] as string[]));
    expect(swapped).toContain('custody.index_gap');
    expect(swapped).toContain('custody.broken_link');
    const first = codes(join([LINES[1], LINES[0], LINES[2]] as string[]));
    expect(first).toContain('custody.first_not_manifest');
    expect(first).toContain('custody.index_gap');
  });

  it('names a removal: of the first, of a middle one, and (against a pinned head) of the last', () => {
    expect(codes(join([LINES[1], LINES[2]] as string[]))).toEqual(expect.arrayContaining(['custody.first_not_manifest', 'custody.index_gap']));
    expect(codes(join([LINES[0], LINES[2]] as string[]))).toEqual(expect.arrayContaining(['custody.index_gap', 'custody.broken_link']));
    const head = custodyHead(LOG);
    const cut = join([LINES[0], LINES[1]] as string[]);
    expect(codes(cut)).toEqual([]); // honest limit: without a pinned head, a cut tail is a valid shorter log
    expect(codes(cut, MANIFEST, { head })).toEqual(['custody.head_missing']);
    expect(codes('')).toEqual(['custody.empty']);
  });

  it('names an edit of any signed field', () => {
    const edited = codes(join([LINES[0], edit(LINES[1] as string, (e) => (e['note'] = 'USB drive SN 4C54, sealed bag #0192')), LINES[2]] as string[]));
    expect(edited).toEqual(['custody.bad_signature', 'custody.broken_link']);
    for (const [field, value] of [['actor', 'Mallory, Evil Ltd'], ['at', '2026-11-23T15:00:00.000001Z'], ['action', 'returned'], ['index', 7]] as const) {
      const found = codes(join([edit(LINES[0] as string, (e) => (e[field] = value)), LINES[1], LINES[2]] as string[]));
      expect(found, field).toContain('custody.bad_signature');
      expect(found, field).toContain('custody.broken_link');
    }
  });

  it('names a replaced signature, a key that is not its fingerprint, and a last entry re-signed by another key', () => {
    const sig1 = (JSON.parse(LINES[1] as string) as { sig: string }).sig;
    expect(codes(join([LINES[0], LINES[1], edit(LINES[2] as string, (e) => (e['sig'] = sig1))] as string[]))).toEqual(['custody.bad_signature']);
    const garbage = codes(join([LINES[0], LINES[1], edit(LINES[2] as string, (e) => (e['sig'] = 'AAAA'))] as string[]));
    expect(garbage).toEqual(['custody.bad_signature']);
    const wrongFp = codes(join([LINES[0], LINES[1], edit(LINES[2] as string, (e) => ((e['key'] as { fingerprint: string }).fingerprint = collector.fingerprint))] as string[]));
    expect(wrongFp).toEqual(['custody.key_mismatch', 'custody.bad_signature']);
    // Someone re-signs the last entry with their own key: self-consistent, so only a pinned head or trusted keys catch it.
    const resigned = edit(LINES[2] as string, (e) => {
      e['actor'] = 'Mallory, Evil Ltd';
      e['key'] = { fingerprint: counsel.fingerprint, public_key: Buffer.from(counsel.publicKeyRaw).toString('base64') };
      delete e['sig'];
      e['sig'] = Buffer.from(signBytes(counsel.privateKey, custodySigningBytes(e as never))).toString('base64');
    });
    const forged = join([LINES[0], LINES[1], resigned] as string[]);
    expect(codes(forged)).toEqual([]);
    expect(codes(forged, MANIFEST, { trustedKeys: [collector.fingerprint, vendor.fingerprint] })).toEqual(['custody.key_not_trusted']);
    expect(codes(forged, MANIFEST, { head: custodyHead(LOG) })).toEqual(['custody.head_mismatch']);
  });

  it('an entry by a key that is neither known (the collector) nor trusted is a warning naming its action, actor and key', () => {
    // The re-signed entry of the attack above, by a key nobody pinned, under the collector's known key.
    const resigned = edit(LINES[2] as string, (e) => {
      e['actor'] = 'Mallory, Evil Ltd';
      e['key'] = { fingerprint: counsel.fingerprint, public_key: Buffer.from(counsel.publicKeyRaw).toString('base64') };
      delete e['sig'];
      e['sig'] = Buffer.from(signBytes(counsel.privateKey, custodySigningBytes(e as never))).toString('base64');
    });
    const forged = join([LINES[0], LINES[1], resigned] as string[]);
    const result = verifyCustodyLog(forged, MANIFEST, { knownKeys: [collector.fingerprint] });
    expect(result.ok).toBe(true);
    expect(result.findings).toEqual([
      {
        code: 'custody.signer_not_pinned',
        severity: 'warning',
        where: 2,
        message: `entry 2: "received" by "Mallory, Evil Ltd" is signed by ${counsel.fingerprint}, a key the verifier did not pin (pin it with --custody-key to accept it)`,
      },
    ]);
    // The vendor's real entry in the untouched log is just as unknown without a pin; known, nothing is said.
    expect(codes(LOG, MANIFEST, { knownKeys: [collector.fingerprint] })).toEqual(['custody.signer_not_pinned']);
    expect(codes(LOG, MANIFEST, { knownKeys: [collector.fingerprint, vendor.fingerprint] })).toEqual([]);
    // Trusted keys given: the stricter error instead, never both.
    expect(codes(forged, MANIFEST, { knownKeys: [collector.fingerprint], trustedKeys: [collector.fingerprint, vendor.fingerprint] })).toEqual(['custody.key_not_trusted']);
  });

  it('names a log re-linked to another manifest', () => {
    expect(codes(LOG, OTHER_MANIFEST)).toEqual(['custody.first_not_manifest']);
    const relinked = appendEntry('', { manifestSha256: OTHER_MANIFEST, action: 'collected', actor: 'Aiko Tanaka, Example Corp CSIRT' }, collector.privateKey, T0);
    expect(codes(join([(relinked.split('\n')[0] as string), LINES[1], LINES[2]] as string[]))).toEqual(['custody.first_not_manifest', 'custody.broken_link']);
  });

  it('names lines that are not canonical, not JSON, not entries, or cut off', () => {
    const spaced = JSON.stringify(JSON.parse(LINES[2] as string), null, 0).replace('{"action"', '{ "action"');
    expect(codes(join([LINES[0], LINES[1], spaced] as string[]))).toEqual(['custody.not_canonical']);
    expect(codes(join([LINES[0], LINES[1], LINES[2], 'not json'] as string[]))).toEqual(['custody.bad_json']);
    expect(codes(join([LINES[0], LINES[1], '', LINES[2]] as string[]))).toEqual(expect.arrayContaining(['custody.bad_json', 'custody.index_gap', 'custody.broken_link']));
    expect(codes(join([LINES[0], LINES[1], edit(LINES[2] as string, (e) => (e['extra'] = 1))] as string[]))).toEqual(['custody.bad_entry']);
    expect(codes(join([LINES[0], LINES[1], edit(LINES[2] as string, (e) => (e['action'] = 'destroyed'))] as string[]))).toEqual(['custody.bad_entry']);
    expect(codes(LOG.slice(0, -1))).toEqual(['custody.truncated']);
    expect(codes(LOG.slice(0, -10))).toEqual(['custody.truncated', 'custody.bad_json']);
    const bytes = Buffer.concat([Buffer.from(LOG), Buffer.from([0xff, 0x0a])]);
    expect(verifyCustodyLog(bytes, MANIFEST).findings.map((f) => f.code)).toEqual(['custody.bad_json']);
    // Findings say where.
    const finding = verifyCustodyLog(join([LINES[0], LINES[2]] as string[]), MANIFEST).findings[0];
    expect(finding).toMatchObject({ code: 'custody.index_gap', severity: 'error', where: 1 });
    expect(finding?.message).toMatch(/^entry 1: has index 2, expected 1/);
  });

  it('warns, without failing, when an entry is dated before the one before it', () => {
    const log = appendEntry(LOG, { manifestSha256: MANIFEST, action: 'examined', actor: 'Kenji Sato, Forensic Vendor KK' }, vendor.privateKey, T0 + 60_000);
    const result = verifyCustodyLog(log, MANIFEST);
    expect(result.ok).toBe(true);
    expect(result.findings).toEqual([expect.objectContaining({ code: 'custody.time_backwards', severity: 'warning', where: 3 })]);
  });

  it('never extends a log that does not verify, and checks what goes in', () => {
    const broken = join([LINES[0], LINES[2]] as string[]);
    const input = { manifestSha256: MANIFEST, action: 'returned', actor: 'Kenji Sato, Forensic Vendor KK' } as const;
    expect(() => appendEntry(broken, input, vendor.privateKey, T0)).toThrow(/refusing to extend a custody log that does not verify: custody.index_gap/);
    expect(() => appendEntry(LOG, { ...input, manifestSha256: OTHER_MANIFEST }, vendor.privateKey, T0)).toThrow(/custody.first_not_manifest/);
    for (const actor of ['Kenji Sato', 'Kenji Sato,Vendor', ', Vendor', ' Kenji, Vendor', 'Kenji\u001b[31m, Vendor', '']) {
      const err = (() => {
        try {
          appendEntry(LOG, { ...input, actor }, vendor.privateKey, T0);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, actor).toBeInstanceOf(CustodyError);
      expect((err as CustodyError).code).toBe('E_CUSTODY_LOG_INVALID');
    }
    expect(() => appendEntry(LOG, { ...input, note: '' }, vendor.privateKey, T0)).toThrow(/note is empty/);
    expect(() => appendEntry(LOG, { ...input, note: 'a\u0007b' }, vendor.privateKey, T0)).toThrow(/control character/);
    expect(() => appendEntry(LOG, input, vendor.privateKey, 1.5)).toThrow(/whole milliseconds/);
    expect(() => appendEntry(LOG, input, vendor.privateKey, T0)).not.toThrow();
    expect(() => verifyCustodyLog(LOG, 'not-a-hash')).toThrow(CustodyError);
  });

  it('no random edit of a log ever verifies (property)', () => {
    const head = custodyHead(LOG);
    const editOp = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), ch: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom(' ', '\n', '"', '\\', '0')) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('lines' as const), perm: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(editOp, { minLength: 1, maxLength: 3 }), (ops) => {
        let text = LOG;
        for (const op of ops) {
          const chars = [...text];
          const at = op.kind === 'lines' ? 0 : op.at % (chars.length + 1);
          if (op.kind === 'replace' && at < chars.length) chars[at] = op.ch;
          else if (op.kind === 'insert') chars.splice(at, 0, op.ch);
          else if (op.kind === 'delete') chars.splice(at, op.len);
          text = op.kind === 'lines' ? join(op.perm.map((i) => LINES[i] as string)) : chars.join('');
        }
        fc.pre(text !== LOG);
        expect(verifyCustodyLog(text, MANIFEST, { head }).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('personal keys', () => {
  it('makes a PEM private key and a public key file that name the same key', () => {
    const files = personalKeyFiles('Kenji Sato, Forensic Vendor KK');
    expect(files.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = parsePersonalPrivateKey(files.privatePem, 'kenji.key');
    expect(key.fingerprint).toBe(files.fingerprint);
    const pub = parsePersonalPublicKey(files.publicJson, 'kenji.pub.json');
    expect(pub).toEqual({ name: 'Kenji Sato, Forensic Vendor KK', publicKeyRaw: key.publicKeyRaw, fingerprint: files.fingerprint });
    expect(files.publicJson).toMatch(/^\{"fingerprint":"SHA256:[^"]+","name":"Kenji Sato, Forensic Vendor KK","public_key":"[^"]+","type":"custody.personal-key.v1"\}\n$/);
    // A key from its file signs entries that verify under that fingerprint.
    const log = appendEntry('', { manifestSha256: MANIFEST, action: 'received', actor: 'Kenji Sato, Forensic Vendor KK' }, key.privateKey, T0);
    expect(verifyCustodyLog(log, MANIFEST, { trustedKeys: [pub.fingerprint] }).ok).toBe(true);
    expect(parsePersonalPublicKey(personalKeyFiles().publicJson).name).toBeUndefined();
  });

  it('refuses public key files whose fingerprint is not their key, and bad names', () => {
    const a = personalKeyFiles();
    const b = personalKeyFiles();
    const mixed = a.publicJson.replace(a.fingerprint, b.fingerprint);
    expect(() => parsePersonalPublicKey(mixed, 'x.pub.json')).toThrow(/does not match the key/);
    expect(() => parsePersonalPublicKey('{}', 'x.pub.json')).toThrow(CustodyError);
    expect(() => parsePersonalPublicKey('nope', 'x.pub.json')).toThrow(/not JSON/);
    expect(() => parsePersonalPrivateKey('nope', 'x.key')).toThrow(CustodyError);
    expect(() => personalKeyFiles('bad\nname')).toThrow(/control character/);
  });
});
