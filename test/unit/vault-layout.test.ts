/**
 * The vault's names and segment framing, without a vault: URLs, the object layout (every name
 * parses back to exactly what made it, foreign names do not parse), and segments cut from a real
 * store that verify against that store's own signed checkpoints — and stop verifying when a record
 * or the frontier is altered.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustodyError } from '../../src/errors.js';
import { parseCheckpointBody, parseNote } from '../../src/integrity/checkpoint.js';
import { leafHash, MerkleFrontier } from '../../src/integrity/merkle.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import {
  blobKey,
  checkpointKey,
  decodeHost,
  encodeHost,
  enrollmentKey,
  keyCertificateKey,
  parseObjectKey,
  segmentKey,
  tsaTokenKey,
  type VaultObject,
} from '../../src/vault/layout.js';
import { decodeSegment, encodeSegment, frameRecords, frontierRoots, segmentRoot, unframeRecords, type Segment } from '../../src/vault/segment.js';
import { formatVaultUrl, parseVaultUrl } from '../../src/vault/url.js';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    return err instanceof CustodyError ? err.code : `not a CustodyError: ${String(err)}`;
  }
}

describe('vault URL', () => {
  it('parses a bucket and a prefix, one spelling per vault', () => {
    expect(parseVaultUrl('s3://evidence')).toEqual({ bucket: 'evidence', prefix: '' });
    expect(parseVaultUrl('s3://evidence/')).toEqual({ bucket: 'evidence', prefix: '' });
    expect(parseVaultUrl('s3://ev.idence-1/site/tokyo/')).toEqual({ bucket: 'ev.idence-1', prefix: 'site/tokyo' });
    expect(formatVaultUrl(parseVaultUrl('s3://evidence/site/tokyo/'))).toBe('s3://evidence/site/tokyo');
  });

  it.each([
    ['https://evidence', 'not s3://'],
    ['s3://', 'no bucket'],
    ['s3://Evidence', 'uppercase'],
    ['s3://ev', 'too short'],
    ['s3://-evidence', 'leading hyphen'],
    ['s3://ev..idence', 'two dots'],
    ['s3://192.168.1.10', 'an IP address'],
    ['s3://evidence/a//b', 'empty segment'],
    ['s3://evidence/a/../b', 'dot-dot'],
    ['s3://evidence/a\u0007b', 'control character'],
    ['s3://evidence?versionId=1', 'query'],
  ])('refuses %j (%s) with E_USAGE', (url) => {
    expect(codeOf(() => parseVaultUrl(url))).toBe('E_USAGE');
  });
});

const STORE = '0123456789abcdef0123456789abcdef';

describe('object layout', () => {
  it('names each kind of object as documented', () => {
    expect(enrollmentKey('', 'web-01', STORE)).toBe(`custody/v1/hosts/web-01/${STORE}/enrollment.pub`);
    expect(keyCertificateKey('site', 'web-01', STORE, 3)).toBe(`site/custody/v1/hosts/web-01/${STORE}/keys/0000000000000003.cert`);
    // 2^53-1 minus the tree size, minus the id: newest first in a listing.
    expect(checkpointKey('', 'web-01', STORE, 1000, 7)).toBe(`custody/v1/hosts/web-01/${STORE}/checkpoints/9007199254739991-9007199254740984.note`);
    expect(tsaTokenKey('', 'web-01', STORE, 1000, 7, 2)).toBe(`custody/v1/hosts/web-01/${STORE}/checkpoints/9007199254739991-9007199254740984.tsa-0000000000000002.tsr`);
    expect(segmentKey('', 'web-01', STORE, { start: 0, end: 1000, minObserved: '2026-12-04T16:55:15.123456Z', maxObserved: '2026-12-04T17:00:00.000001Z' })).toBe(
      `custody/v1/hosts/web-01/${STORE}/segments/0000000000000000-0000000000001000_20261204T165515.123456Z_20261204T170000.000001Z.seg`,
    );
    expect(blobKey('', 'web-01', STORE, 'ab'.repeat(32))).toBe(`custody/v1/hosts/web-01/${STORE}/blobs/${'ab'.repeat(32)}`);
  });

  it('lists a newer checkpoint before an older one (S3 lists names in ascending byte order)', () => {
    const names = [checkpointKey('', 'h', STORE, 5, 1), checkpointKey('', 'h', STORE, 12, 2), checkpointKey('', 'h', STORE, 12, 3), checkpointKey('', 'h', STORE, 999_999, 4)];
    const sorted = [...names].sort();
    expect(sorted.map((k) => (parseObjectKey('', k) as { checkpointId: number }).checkpointId)).toEqual([4, 3, 2, 1]);
    // A checkpoint's TSA token sorts after its note, so the first name of a listing is a note.
    expect([tsaTokenKey('', 'h', STORE, 12, 3, 1), checkpointKey('', 'h', STORE, 12, 3)].sort()[0]).toMatch(/\.note$/);
  });

  it('encodes any host name as one path segment and decodes it back exactly', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60, unit: 'binary' }), (host) => {
        const enc = encodeHost(host);
        expect(enc).not.toContain('/');
        expect(enc === '.' || enc === '..').toBe(false);
        expect(decodeHost(enc)).toBe(host);
      }),
    );
    expect(encodeHost('db 01/ü')).toBe('db%2001%2F%C3%BC');
    expect(encodeHost('..')).toBe('%2E%2E');
    expect(decodeHost('%2e%2e')).toBeUndefined(); // lowercase hex: not the canonical spelling
    expect(decodeHost('a%41')).toBeUndefined(); // over-encoded 'A'
    expect(decodeHost('..')).toBeUndefined();
  });

  it('parses every name it makes back to the same object, under any prefix', () => {
    const time = fc.option(
      fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString().replace('Z', '123Z')),
      { nil: undefined },
    );
    const n = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    const host = fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' });
    const obj: fc.Arbitrary<VaultObject> = fc.oneof(
      fc.record({ type: fc.constant('enrollment' as const), host, storeId: fc.constant(STORE) }),
      fc.record({ type: fc.constant('key-certificate' as const), host, storeId: fc.constant(STORE), epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }),
      fc.record({ type: fc.constant('checkpoint' as const), host, storeId: fc.constant(STORE), treeSize: n, checkpointId: n }),
      fc.record({ type: fc.constant('tsa-token' as const), host, storeId: fc.constant(STORE), treeSize: n, checkpointId: n, tokenId: n }),
      fc
        .record({ type: fc.constant('segment' as const), host, storeId: fc.constant(STORE), start: fc.integer({ min: 0, max: 2 ** 52 }), len: fc.integer({ min: 1, max: 2 ** 40 }), minObserved: time, maxObserved: time })
        .map(({ len, ...s }) => ({ ...s, end: s.start + len })),
      fc.record({ type: fc.constant('blob' as const), host, storeId: fc.constant(STORE), sha256: fc.stringMatching(/^[0-9a-f]{64}$/) }),
    );
    const nameOf = (prefix: string, o: VaultObject): string => {
      switch (o.type) {
        case 'enrollment':
          return enrollmentKey(prefix, o.host, o.storeId);
        case 'key-certificate':
          return keyCertificateKey(prefix, o.host, o.storeId, o.epoch);
        case 'checkpoint':
          return checkpointKey(prefix, o.host, o.storeId, o.treeSize, o.checkpointId);
        case 'tsa-token':
          return tsaTokenKey(prefix, o.host, o.storeId, o.treeSize, o.checkpointId, o.tokenId);
        case 'segment':
          return segmentKey(prefix, o.host, o.storeId, o);
        case 'blob':
          return blobKey(prefix, o.host, o.storeId, o.sha256);
      }
    };
    fc.assert(
      fc.property(fc.constantFrom('', 'site', 'a/b'), obj, (prefix, o) => {
        const key = nameOf(prefix, o);
        expect(Buffer.byteLength(key)).toBeLessThan(1024);
        expect(parseObjectKey(prefix, key)).toEqual(o);
        // The same name read under another prefix is not this vault's object.
        expect(parseObjectKey(prefix === '' ? 'other' : '', key)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    `custody/v1/hosts/web-01/${STORE}/checkpoints/1-2.note`, // not fixed width
    `custody/v1/hosts/web-01/${STORE}/checkpoints/9999999999999999-9007199254740984.note`, // above 2^53-1
    `custody/v1/hosts/web-01/${STORE.toUpperCase()}/enrollment.pub`,
    `custody/v1/hosts/web-01/${STORE}/keys/0000000000000000.cert`, // epoch 0 has no certificate
    `custody/v1/hosts/web-01/${STORE}/segments/0000000000000005-0000000000000005_unknown_unknown.seg`, // empty
    `custody/v1/hosts/web-01/${STORE}/segments/0000000000000000-0000000000000005_20261204T165515Z_x.seg`,
    `custody/v1/hosts/web-01/${STORE}/blobs/${'AB'.repeat(32)}`,
    `custody/v1/hosts/web-01/${STORE}/notes.txt`,
    `custody/v1/hosts/web%2f01/${STORE}/enrollment.pub`,
    `custody/v2/hosts/web-01/${STORE}/enrollment.pub`,
  ])('does not take %s for one of its own names', (key) => {
    expect(parseObjectKey('', key)).toBeUndefined();
  });

  it('refuses to name what cannot be named (E_USAGE)', () => {
    expect(codeOf(() => encodeHost(''))).toBe('E_USAGE');
    expect(codeOf(() => encodeHost('x'.repeat(256)))).toBe('E_USAGE');
    expect(codeOf(() => checkpointKey('', 'h', 'not-a-store', 1, 1))).toBe('E_USAGE');
    expect(codeOf(() => checkpointKey('', 'h', STORE, -1, 1))).toBe('E_USAGE');
    expect(codeOf(() => checkpointKey('', 'h', STORE, 2 ** 53, 1))).toBe('E_USAGE');
    expect(codeOf(() => keyCertificateKey('', 'h', STORE, 0))).toBe('E_USAGE');
    expect(codeOf(() => segmentKey('', 'h', STORE, { start: 5, end: 5, minObserved: undefined, maxObserved: undefined }))).toBe('E_USAGE');
    expect(codeOf(() => blobKey('', 'h', STORE, 'abc'))).toBe('E_USAGE');
  });
});

describe('segments cut from a real store', () => {
  let work: string;
  let storeId: string;
  let records: Uint8Array[];
  let checkpoints: { id: number; tree_size: number; note: string }[];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'custody-vault-seg-'));
    const dir = join(work, 'store');
    const { store } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'boot-1', policy: { batchRecords: 50, checkpointRecords: 100, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 333; i++) {
      store.append('log.line', 'file:/var/log/syslog', { path: '/var/log/syslog', dev: '2049', ino: '7', offset: i * 40, line_no: i + 1, length: 10, text: `line ${i}\n:x` });
      if (i === 140) store.checkpoint(); // a boundary that is not a multiple of the policy
    }
    store.rotateKey();
    store.close({ finalCheckpoint: true });
    const db = new Database(join(dir, EVIDENCE_FILE), { readonly: true });
    storeId = (db.prepare("SELECT value FROM meta WHERE name = 'store_id'").get() as { value: string }).value;
    records = (db.prepare('SELECT bytes FROM records ORDER BY seq').all() as { bytes: Buffer }[]).map((r) => new Uint8Array(r.bytes));
    checkpoints = db.prepare('SELECT id, tree_size, note FROM checkpoints ORDER BY id').all() as typeof checkpoints;
    db.close();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** One segment per checkpoint that grew the tree, as the layout prescribes. */
  function cut(): { segment: Segment; root: Uint8Array }[] {
    const out: { segment: Segment; root: Uint8Array }[] = [];
    const frontier = new MerkleFrontier();
    let start = 0;
    for (const c of checkpoints) {
      if (c.tree_size === start) continue;
      const segment: Segment = { storeId, start, end: c.tree_size, frontier: frontierRoots(frontier.toState()), records: records.slice(start, c.tree_size) };
      for (const r of segment.records) frontier.push(leafHash(r));
      out.push({ segment, root: parseCheckpointBody(parseNote(c.note).text).rootHash });
      start = c.tree_size;
    }
    return out;
  }

  it('each segment alone recomputes its checkpoint’s signed root, and round-trips byte for byte', () => {
    const segments = cut();
    expect(segments.length).toBeGreaterThanOrEqual(4);
    expect(segments.at(-1)?.segment.end).toBe(records.length);
    for (const { segment, root } of segments) {
      const bytes = encodeSegment(segment);
      const decoded = decodeSegment(bytes);
      expect(decoded).toEqual(segment);
      expect(Buffer.from(segmentRoot(decoded)).equals(Buffer.from(root))).toBe(true);
    }
  });

  it('a changed record byte (same length) still decodes but no longer matches the signed root', () => {
    const { segment, root } = cut()[2] as { segment: Segment; root: Uint8Array };
    const bytes = Buffer.from(encodeSegment(segment));
    const at = bytes.indexOf(Buffer.from('line '), bytes.indexOf(0x0a, 20));
    bytes[at + 5] = bytes[at + 5] === 0x31 ? 0x32 : 0x31;
    const tampered = decodeSegment(bytes);
    expect(Buffer.from(segmentRoot(tampered)).equals(Buffer.from(root))).toBe(false);
  });

  it('a forged frontier (records claimed at other positions) no longer matches the signed root', () => {
    const { segment, root } = cut()[1] as { segment: Segment; root: Uint8Array };
    const forged = { ...segment, frontier: segment.frontier.map((h, i) => (i === 0 ? leafHash(new Uint8Array([1])) : h)) };
    expect(Buffer.from(segmentRoot(decodeSegment(encodeSegment(forged)))).equals(Buffer.from(root))).toBe(false);
  });

  it.each([
    ['a record cut short', (b: Buffer) => b.subarray(0, b.length - 3)],
    ['a length prefix with a leading zero', (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\n(\d+):/, '\n0$1:'), 'latin1')],
    ['a header with an extra field', (b: Buffer) => Buffer.from(b.toString('latin1').replace('{"end"', '{"x":1,"end"'), 'latin1')],
    ['a header without its end', (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\{"end":(\d+),/, '{"start_":0,'), 'latin1')],
    ['a header that is JSON but not canonical (a space)', (b: Buffer) => Buffer.from(b.toString('latin1').replace('{"end":', '{ "end":'), 'latin1')],
    ['another magic line', (b: Buffer) => Buffer.concat([Buffer.from('custody-segment v2\n'), b.subarray(19)])],
    ['a frontier that does not fit the start', (b: Buffer) => Buffer.from(b.toString('latin1').replace('"frontier":["', `"frontier":["${Buffer.alloc(32).toString('base64')}","`), 'latin1')],
  ])('refuses %s (E_VAULT_SEGMENT_INVALID)', (_what, mangle) => {
    const { segment } = cut()[1] as { segment: Segment };
    expect(codeOf(() => decodeSegment(mangle(Buffer.from(encodeSegment(segment)))))).toBe('E_VAULT_SEGMENT_INVALID');
  });

  it('unframes exactly as the length-prefix grammar says, on arbitrary bytes (held to a plain reading of it)', () => {
    // The grammar read the plain way: the text up to the next colon must be 0 or 1-9 then at most
    // nine digits; then that many bytes and a newline.
    const reference = (body: Buffer): Buffer[] | 'invalid' => {
      const out: Buffer[] = [];
      let at = 0;
      while (at < body.length) {
        const colon = body.indexOf(0x3a, at);
        const digits = colon === -1 ? '' : body.subarray(at, colon).toString('latin1');
        if (!/^(0|[1-9]\d{0,9})$/.test(digits)) return 'invalid';
        const stop = colon + 1 + Number(digits);
        if (stop >= body.length || body[stop] !== 0x0a) return 'invalid';
        out.push(body.subarray(colon + 1, stop));
        at = stop + 1;
      }
      return out;
    };
    const attempt = (body: Buffer): Buffer[] | 'invalid' => {
      try {
        return unframeRecords(body).map((r) => Buffer.from(r));
      } catch {
        return 'invalid';
      }
    };
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x30, 0x31, 0x39, 0x3a, 0x0a, 0x41, 0x00)), { maxLength: 3 }), (records, edits) => {
        const body = Buffer.from(frameRecords(records));
        for (const [pos, byte] of edits) if (body.length > 0) body[pos % body.length] = byte;
        expect(attempt(body)).toEqual(reference(body));
      }),
      { numRuns: 3000 },
    );
    expect(attempt(Buffer.from('00:\n'))).toBe('invalid');
    expect(attempt(Buffer.from('12345678901:x\n'))).toBe('invalid');
    expect(attempt(Buffer.from('0:\n3:abc\n')).map((b) => b.toString())).toEqual(['', 'abc']);
  });
});
