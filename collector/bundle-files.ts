/**
 * File-system helpers shared by collect, verify and handoff: hashing a file by streaming it, listing
 * a bundle folder's regular files, and packing a bundle folder into a deterministic tar.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { compareBundlePaths } from '../src/bundle/paths.js';
import { parseManifest } from '../src/bundle/manifest.js';
import { writeTarFile, type TarInput, type TarWritten } from '../src/bundle/tar.js';

/** Read size for hashing: big reads into one reused buffer keep Node's SHA-256 (CPU SHA extensions) busy. */
const HASH_READ_BYTES = 4 << 20;

export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  let size = 0;
  let handle;
  try {
    handle = await open(path, 'r');
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read ${path}: ${messageOf(err)}`, { where: path, cause: err });
  } finally {
    await handle?.close();
  }
  return { size, sha256: hash.digest('hex') };
}

export interface WalkedEntry {
  /** Bundle path ('/'-separated, relative). */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/**
 * Every entry under `root`, by lstat (symlinks are reported, never followed), sorted bytewise. An
 * explicit list of folders to visit, not recursion: a hostile folder's depth cannot overflow the stack.
 */
export function walkBundleDir(root: string): WalkedEntry[] {
  const out: WalkedEntry[] = [];
  const folders: string[] = [''];
  for (let rel = folders.pop(); rel !== undefined; rel = folders.pop()) {
    const abs = rel === '' ? root : join(root, rel);
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot list ${abs}: ${messageOf(err)}`, { where: abs, cause: err });
    }
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, childRel));
      if (st.isSymbolicLink()) out.push({ path: childRel, type: 'symlink', size: 0 });
      else if (st.isDirectory()) {
        out.push({ path: childRel, type: 'dir', size: 0 });
        folders.push(childRel);
      } else if (st.isFile()) out.push({ path: childRel, type: 'file', size: st.size });
      else out.push({ path: childRel, type: 'other', size: 0 });
    }
  }
  return out.sort((a, b) => compareBundlePaths(a.path, b.path));
}

/**
 * Packs a sealed bundle folder into `tarPath` (which must not exist): every regular file, in byte
 * order, mtime = the manifest's seal time. The same folder always gives the same bytes. Refuses a
 * folder with symlinks or special files.
 */
export async function packBundle(dir: string, tarPath: string): Promise<TarWritten> {
  const manifest = parseManifest(new Uint8Array(readFileSync(join(dir, 'manifest.json'))), join(dir, 'manifest.json'));
  const mtime = Math.floor(Date.parse(manifest.collector.sealed_at) / 1000);
  const inputs: TarInput[] = [];
  for (const e of walkBundleDir(dir)) {
    if (e.type === 'symlink' || e.type === 'other') {
      throw new CustodyError(ErrorCodes.BUNDLE_PATH_INVALID, `cannot pack ${e.path}: it is a ${e.type === 'symlink' ? 'symbolic link' : 'special file'}`, { where: join(dir, e.path) });
    }
    if (e.type === 'dir') inputs.push({ path: e.path, type: 'dir' });
    else {
      const abs = join(dir, e.path);
      inputs.push({ path: e.path, size: e.size, stream: () => createReadStream(abs, { highWaterMark: HASH_READ_BYTES }) as AsyncIterable<Uint8Array> });
    }
  }
  return writeTarFile(inputs, tarPath, { mtime });
}

/** Writes a new file of the bundle (refused if it exists). */
export function writeNew(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot write ${path}: ${messageOf(err)}`, { where: path, cause: err });
  }
}
