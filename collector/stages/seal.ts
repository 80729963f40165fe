/**
 * Collect's seal stage: case.jsonld (which names every content file with its hash), then the seal
 * over all of them: manifest.json, manifest.sig (raw Ed25519), manifest.tsr (RFC 3161, with --tsa),
 * SHA256SUMS and hashdeep.txt. The custody log's first entry, which cites the manifest's hash, is
 * the collector's to write after this.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { caseUcoDocument } from '../../src/bundle/case-uco.js';
import { manifestBytes, type BundleManifest } from '../../src/bundle/manifest.js';
import { compareBundlePaths } from '../../src/bundle/paths.js';
import type { PersonalKey } from '../../src/bundle/personal-key.js';
import { formatHashdeep, formatSha256Sums } from '../../src/bundle/sums.js';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { signBytes } from '../../src/integrity/keys.js';
import { verifyTimeStampToken } from '../../src/integrity/tsa.js';
import { requestTimeStamp } from '../../src/net/tsa-http.js';
import { writeNew } from '../bundle-files.js';
import { hashdeepTargets, type CollectDeps, type CollectOptions, type CollectSummary } from '../collect.js';

export interface SealInput {
  options: Pick<CollectOptions, 'caseId' | 'examiner' | 'note' | 'tsa'>;
  deps: Pick<CollectDeps, 'version' | 'collectorHost' | 'codeSha256'>;
  key: PersonalKey;
  startedAt: string;
  sealedAt: string;
  hosts: BundleManifest['hosts'];
  /** The content files with their hashes (case.jsonld is added, and the list sorted, here). */
  files: BundleManifest['files'];
  tsaRoots: readonly Uint8Array[];
  /** The bundle has report/ (hashdeep.txt's targets name it). */
  withReport: boolean;
  /** Told when the manifest is about to be signed (the progress line). */
  onSeal: () => void;
}

export async function sealStage(work: string, input: SealInput): Promise<{ manifestSha256: string; tsaSummary: CollectSummary['tsa'] }> {
  const { options, deps, key, startedAt, sealedAt, hosts, files, tsaRoots, withReport, onSeal } = input;
  const caseDoc = `${JSON.stringify(
    caseUcoDocument({
      caseId: options.caseId,
      ...(options.examiner !== undefined ? { examiner: options.examiner } : {}),
      ...(options.note !== undefined ? { note: options.note } : {}),
      collector: { version: deps.version, host: deps.collectorHost, fingerprint: key.fingerprint, startedAt, sealedAt },
      hosts: hosts.map((h) => ({ host: h.host, storeId: h.store_id, path: h.path, source: h.source })),
      files,
    }),
    null,
    2,
  )}\n`;
  writeNew(join(work, 'case.jsonld'), caseDoc);
  files.push({ path: 'case.jsonld', size: Buffer.byteLength(caseDoc), sha256: createHash('sha256').update(caseDoc).digest('hex') });
  files.sort((a, b) => compareBundlePaths(a.path, b.path));

  onSeal();
  const manifest: BundleManifest = {
    type: 'custody.bundle-manifest',
    version: 1,
    case: {
      id: options.caseId,
      ...(options.examiner !== undefined ? { examiner: options.examiner } : {}),
      ...(options.note !== undefined ? { note: options.note } : {}),
    },
    collector: {
      version: deps.version,
      code_sha256: deps.codeSha256,
      host: deps.collectorHost,
      started_at: startedAt,
      sealed_at: sealedAt,
      key: { fingerprint: key.fingerprint, public_key: Buffer.from(key.publicKeyRaw).toString('base64') },
    },
    hosts,
    files,
    ...(options.tsa !== undefined ? { tsa: { url: options.tsa.url } } : {}),
  };
  const mBytes = manifestBytes(manifest);
  const manifestSha256 = createHash('sha256').update(mBytes).digest('hex');
  writeNew(join(work, 'manifest.json'), mBytes);
  const sig = signBytes(key.privateKey, mBytes);
  writeNew(join(work, 'manifest.sig'), sig);
  const sealFiles = [
    { path: 'manifest.json', size: mBytes.length, sha256: manifestSha256 },
    { path: 'manifest.sig', size: sig.length, sha256: createHash('sha256').update(sig).digest('hex') },
  ];
  let tsaSummary: CollectSummary['tsa'];
  if (options.tsa !== undefined) {
    const stamped = await requestTimeStamp(options.tsa.url, mBytes, options.tsa.timeoutMs !== undefined ? { timeoutMs: options.tsa.timeoutMs } : {});
    let verified = false;
    if (tsaRoots.length > 0) {
      const v = await verifyTimeStampToken(stamped.tokenDer, mBytes, tsaRoots);
      if (!v.ok) throw new CustodyError(ErrorCodes.TSA_RESPONSE_INVALID, `the TSA's token over manifest.json does not verify against --tsa-ca: ${v.problem ?? ''} ${v.detail ?? ''}`.trim(), { where: options.tsa.url });
      verified = true;
    }
    writeNew(join(work, 'manifest.tsr'), stamped.tokenDer);
    sealFiles.push({ path: 'manifest.tsr', size: stamped.tokenDer.length, sha256: createHash('sha256').update(stamped.tokenDer).digest('hex') });
    tsaSummary = { url: options.tsa.url, gen_time: stamped.info.genTime, verified };
  }
  const listed = [...files, ...sealFiles];
  writeNew(join(work, 'SHA256SUMS'), formatSha256Sums(listed));
  writeNew(join(work, 'hashdeep.txt'), formatHashdeep(listed, { prefix: '', invokedFrom: '<bundle folder>', targets: hashdeepTargets(withReport) }));
  return { manifestSha256, tsaSummary };
}
