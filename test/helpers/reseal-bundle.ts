/**
 * What anyone who handles a bundle can do without any key of ours: edit its files, then seal it
 * again with a collector key of their own (witness notes re-signed over the same store roots,
 * manifest, signature, SHA256SUMS, hashdeep.txt, a fresh custody log). The result verifies unless
 * the verifier pins the collector key, or checks the content against the agent-signed records.
 * Built from the collector's own sealing code, so it is exactly what our collector would have made.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEntry } from '../../src/bundle/custody-log.js';
import { BUNDLE_META_FILES, manifestBytes, parseManifest, type BundleManifest } from '../../src/bundle/manifest.js';
import { compareBundlePaths } from '../../src/bundle/paths.js';
import { formatHashdeep, formatSha256Sums } from '../../src/bundle/sums.js';
import { signWitnessNote } from '../../src/bundle/witness.js';
import { parseCheckpointBody, parseNote } from '../../src/integrity/checkpoint.js';
import { fingerprint, generateEd25519, publicKeyFromRaw, signBytes } from '../../src/integrity/keys.js';
import { hashFile, walkBundleDir } from '../../collector/bundle-files.js';

/** Re-seals `dir` in place with a fresh collector key; returns that key's fingerprint. */
export async function resealBundle(dir: string): Promise<string> {
  const old = parseManifest(new Uint8Array(readFileSync(join(dir, 'manifest.json'))));
  const key = generateEd25519();
  const fp = fingerprint(key.publicKeyRaw);
  const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  for (const m of BUNDLE_META_FILES) rmSync(join(dir, m), { force: true });
  writeFileSync(join(dir, 'collector.pem'), publicKeyFromRaw(key.publicKeyRaw).export({ type: 'spki', format: 'pem' }).toString());
  const hosts: BundleManifest['hosts'] = old.hosts.map((h) => {
    // The same size and root the old collector witnessed (they are the store's), signed anew.
    const body = parseCheckpointBody(parseNote(h.witness.note).text);
    const note = signWitnessNote({ origin: h.origin, treeSize: body.treeSize, rootHash: body.rootHash }, now, key);
    writeFileSync(join(dir, h.path, 'witness.note'), note);
    return { ...h, witness: { ...h.witness, note } };
  });
  const files: BundleManifest['files'] = [];
  for (const e of walkBundleDir(dir)) {
    if (e.type !== 'file') continue;
    const h = await hashFile(join(dir, e.path));
    files.push({ path: e.path, size: h.size, sha256: h.sha256 });
  }
  files.sort((a, b) => compareBundlePaths(a.path, b.path));
  const manifest: BundleManifest = {
    ...old,
    collector: { ...old.collector, sealed_at: now, key: { fingerprint: fp, public_key: Buffer.from(key.publicKeyRaw).toString('base64') } },
    hosts,
    files,
  };
  const mBytes = manifestBytes(manifest);
  const sig = signBytes(key.privateKey, mBytes);
  writeFileSync(join(dir, 'manifest.json'), mBytes);
  writeFileSync(join(dir, 'manifest.sig'), sig);
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  const listed = [...files, { path: 'manifest.json', size: mBytes.length, sha256: sha(mBytes) }, { path: 'manifest.sig', size: sig.length, sha256: sha(sig) }];
  writeFileSync(join(dir, 'SHA256SUMS'), formatSha256Sums(listed));
  writeFileSync(join(dir, 'hashdeep.txt'), formatHashdeep(listed, { prefix: '', invokedFrom: '<bundle folder>' }));
  writeFileSync(join(dir, 'custody.jsonl'), appendEntry('', { manifestSha256: sha(mBytes), action: 'collected', actor: 'custody collect, ir-laptop' }, key.privateKey, Date.now()));
  return fp;
}
