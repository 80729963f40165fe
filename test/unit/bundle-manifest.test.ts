import { describe, expect, it } from 'vitest';
import { manifestBytes, parseManifest, type BundleManifest } from '../../src/bundle/manifest.js';
import { CustodyError } from '../../src/errors.js';

const manifest: BundleManifest = {
  type: 'custody.bundle-manifest',
  version: 1,
  case: { id: 'IR-2026-014', examiner: 'A. Examiner' },
  collector: {
    version: '0.1.0',
    code_sha256: 'a'.repeat(64),
    host: 'responder-01',
    started_at: '2026-11-23T14:08:51.123000Z',
    sealed_at: '2026-11-23T14:09:51.123000Z',
    key: { fingerprint: 'SHA256:abc', public_key: 'AAAA' },
  },
  hosts: [],
  files: [
    { path: 'evidence/web-01/s1/evidence.sqlite', size: 10, sha256: 'b'.repeat(64) },
    { path: 'timeline/timeline.jsonl', size: 3, sha256: 'c'.repeat(64) },
  ],
};

describe('bundle manifest', () => {
  it('round-trips through its canonical bytes', () => {
    expect(parseManifest(manifestBytes(manifest))).toEqual(manifest);
  });

  it('refuses paths that leave the bundle, unsorted file lists and non-canonical bytes, naming the problem', () => {
    for (const path of ['../x', '/etc/passwd', 'a/../b', 'a/./b', 'a\\b', 'a\u0000b']) {
      const bad = { ...manifest, files: [{ path, size: 1, sha256: 'd'.repeat(64) }] };
      expect(() => manifestBytes(bad), path).toThrow(/files\.0\.path/);
    }
    expect(() => manifestBytes({ ...manifest, files: [...manifest.files].reverse() })).toThrow(/sorted/);
    const pretty = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
    try {
      parseManifest(pretty);
      expect.fail('accepted');
    } catch (err) {
      expect((err as CustodyError).code).toBe('E_MANIFEST_INVALID');
    }
  });
});
