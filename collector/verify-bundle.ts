/**
 * `custody verify` of a bundle folder or its `.tar`: the I/O around the pure checks of
 * src/verify/bundle-verify.ts. A `.tar` is read with the hostile reader (src/bundle/tar.ts) into a
 * fresh temporary folder, verified there, and removed. A folder is walked with lstat: symlinks,
 * devices and files the manifest does not list are findings, never followed.
 */
import { windowSentence } from '../src/verify/store-window.js';
import { closeSync, lstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { makeTempFolder, removeTempFolder } from '../src/fs/temp-folder.js';
import { terminalLines } from '../src/text/terminal.js';
import { checksLine } from '../src/verify/format.js';
import { extractTar, TarRefusal } from '../src/bundle/tar.js';
import { SqliteStoreReader } from '../src/store/store-reader.js';
import { checkBundle, type BundleCheckOptions, type BundleEntry, type BundleReader, type BundleVerification, type OpenedStore } from '../src/verify/bundle-verify.js';
import { hashFile, walkBundleDir } from './bundle-files.js';
import { FolderTextReader } from './bundle-text.js';
import { loadTsaRoots } from './verify.js';

export type { BundleFinding, BundleFindingCode } from '../src/verify/bundle-findings.js';
export type { BundleCheckOptions, BundleCustodyEntry, BundleHostResult, BundleVerification } from '../src/verify/bundle-verify.js';

export interface VerifyBundleOptions extends BundleCheckOptions {
  /** Files with the TSA root certificates (PEM or DER). */
  tsaCa?: readonly string[];
}

/**
 * A bundle folder as the pure verifier reads it: walked once with lstat (never followed); a file is
 * opened only when the walk found it a regular file.
 */
export class FolderBundleReader implements BundleReader {
  private walked: BundleEntry[] | undefined;
  private regularFiles: Set<string> | undefined;
  private readonly text: FolderTextReader;

  constructor(private readonly root: string) {
    this.text = new FolderTextReader(root, (p) => this.isFile(p));
  }

  entries(): readonly BundleEntry[] {
    this.walked ??= walkBundleDir(this.root);
    return this.walked;
  }

  private isFile(path: string): boolean {
    this.regularFiles ??= new Set(this.entries().flatMap((e) => (e.type === 'file' ? [e.path] : [])));
    return this.regularFiles.has(path);
  }

  hash(path: string): Promise<{ size: number; sha256: string }> {
    return hashFile(join(this.root, path));
  }

  read(path: string): Uint8Array {
    return new Uint8Array(readFileSync(join(this.root, path)));
  }

  head(path: string, length: number): Uint8Array {
    const fd = openSync(join(this.root, path), 'r');
    try {
      const buf = Buffer.alloc(length);
      const got = readSync(fd, buf, 0, length, 0);
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  lines(path: string): Iterable<string> | undefined {
    return this.text.lines(path);
  }

  openStore(path: string): OpenedStore {
    return new SqliteStoreReader(join(this.root, path));
  }
}

/** Verifies a bundle folder or `.tar`. Throws only for usage and I/O problems of the verifier's own (e.g. an unreadable CA file). */
export async function verifyBundle(path: string, options: VerifyBundleOptions = {}): Promise<BundleVerification> {
  const tsaRoots = loadTsaRoots(options.tsaCa);
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, { where: path, cause: err });
  }
  if (st.isDirectory()) return checkBundle(new FolderBundleReader(path), path, 'folder', tsaRoots, options);
  if (!st.isFile()) throw new CustodyError(ErrorCodes.USAGE, 'is neither a bundle folder nor a .tar file', { where: path });
  // Registered, so the CLI entry removes it on SIGINT/SIGTERM too; removed without recursion at any depth.
  const temp = makeTempFolder('custody-verify-');
  try {
    const target = join(temp, 'bundle');
    try {
      await extractTar(path, target);
    } catch (err) {
      if (err instanceof TarRefusal) {
        return {
          ok: false,
          location: path,
          form: 'tar',
          tsa: { status: 'absent' },
          files: { listed: 0, verified: 0 },
          checks: { integrity: true, canonical: options.deep === true, schema: options.deep === true, recordsFullyChecked: 0, records: 0 },
          hosts: [],
          findings: [{ code: `tar.${err.reason}`, severity: 'error', message: err.message, where: `${path} offset ${err.offset}${err.entry !== undefined ? ` (${JSON.stringify(err.entry)})` : ''}` }],
        };
      }
      throw err;
    }
    return await checkBundle(new FolderBundleReader(target), path, 'tar', tsaRoots, options);
  } finally {
    removeTempFolder(temp);
  }
}

export function formatBundleVerification(r: BundleVerification): string {
  const lines: string[] = [];
  lines.push(`bundle:       ${r.location}${r.form === 'tar' ? ' (tar, read with the hostile reader into a temporary folder)' : ''}`);
  if (r.case !== undefined) lines.push(`case:         ${r.case}, sealed ${r.sealed_at ?? '?'}`);
  if (r.manifest_sha256 !== undefined) lines.push(`manifest:     sha256 ${r.manifest_sha256}`);
  if (r.collector) {
    lines.push(
      `collector:    ${r.collector.fingerprint} ${r.collector.trust === 'pinned' ? '(pinned by the verifier)' : '(from the manifest: pin it with --collector-key to know who sealed it)'}`,
    );
  }
  const tsa = { verified: 'verified against the pinned TSA root', unverified: 'present, not verified (no --tsa-ca)', invalid: 'INVALID', absent: 'none', missing: 'MISSING' }[r.tsa.status];
  lines.push(`time stamp:   ${tsa}${r.tsa.gen_time ? ` (${r.tsa.gen_time})` : ''}`);
  lines.push(`files:        ${r.files.verified} of ${r.files.listed} listed files match`);
  lines.push(checksLine(r.checks, r.checks.records));
  for (const h of r.hosts) {
    const s = h.store;
    const sealed = s?.sealed && s.sealed.treeSize > 0 ? `sealed to seq ${s.sealed.lastSeq} (checkpoint #${s.sealed.checkpointId}${s.sealed.trustedTime ? `, trusted time ${s.sealed.trustedTime}` : ''})` : 'nothing sealed';
    const unsealed = s?.unsealed ? `, ${s.unsealed.count} unsealed` : '';
    // A window is VALID for the seqs it holds, never for the whole store: the verdict names them.
    const verdict = s === undefined ? '' : s.window !== undefined ? `store ${s.ok ? 'VALID' : 'INVALID'} for the window seq ${s.window.startSeq}..${s.window.endSeq - 1} only` : `store ${s.ok ? 'VALID' : 'INVALID'}`;
    lines.push(
      `  ${h.path}: ${s ? `${s.records} records, ${sealed}${unsealed}, ${verdict}` : 'not verified'}; witness ${h.witness.ok ? `OK at size ${h.witness.tree_size}` : 'FAILED'}; agent key ${h.trust === 'pinned' ? 'pinned' : 'from the manifest'}`,
    );
    if (h.window !== undefined) lines.push(`    ${windowSentence(h.window)}`);
  }
  if (r.custody) {
    lines.push(`custody:      ${r.custody.entries} entries (${r.custody.actions.join(', ')})${r.custody.head ? `; head ${r.custody.head.index}:${r.custody.head.sha256}` : ''}`);
    const signer = { collector: 'the collector key', pinned: 'pinned with --custody-key', 'not pinned': 'NOT PINNED' } as const;
    for (const e of r.custody.log) {
      lines.push(`  #${e.index} ${e.action} by ${e.actor}, ${e.at}; signed by ${e.signer} (${signer[e.signer_known_as]}${e.signature_ok ? '' : ', signature INVALID'})`);
    }
  }
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const warnings = r.findings.length - errors;
  lines.push(`result:       ${r.ok ? 'VALID' : 'INVALID'} (${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'})`);
  for (const f of r.findings) lines.push(`  ${f.severity === 'error' ? 'ERROR' : 'warning'} ${f.code} at ${f.where}: ${f.message}`);
  // Case id, paths, actors, fingerprints, times and messages all come from the bundle: no control character reaches the terminal.
  return terminalLines(lines);
}
