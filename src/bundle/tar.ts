/**
 * Deterministic tar writing and hostile-input tar reading for bundles.
 *
 * Writing: the same entries give the same bytes, whatever order they are given in and whenever
 * they are written. Paths are sorted (bytewise UTF-8), every parent directory gets its own entry,
 * files are mode 0644 and directories 0755, uid/gid 0 with empty user and group names, one fixed
 * mtime for every entry, a pax header only where ustar cannot carry a path or size, two zero blocks
 * at the end and no padding to a record size. File data streams through (an async iterable of
 * chunks per file, opened only when the file's turn comes), so multi-GB files never sit in memory.
 *
 * Reading (`listTar`, `extractTar`): everything in src/bundle/tar-header.ts plus the checks that
 * need the whole archive (duplicates, paths under files, sizes against limits and the file's real
 * length, the end-of-archive marker). `extractTar` writes into a fresh temporary folder next to the
 * target, creating every file with O_CREAT|O_EXCL|O_NOFOLLOW, and renames it into place only when
 * the whole archive was accepted; on any refusal it removes the temporary folder, so nothing is
 * left behind and nothing is ever written outside it. Paths deeper than `maxDepth` components and
 * archives with more than `maxEntries` entries are refused before anything is created for them.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, rename, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { removeTree } from '../fs/temp-folder.js';
import { bundlePathProblem, compareBundlePaths } from './paths.js';
import {
  BLOCK,
  TarRefusal,
  USTAR_MAX_SIZE,
  encodeUstarHeader,
  isZeroBlock,
  paxRecord,
  parseHeader,
  parsePax,
  splitUstarName,
  truncateUtf8,
  type PaxOverrides,
} from './tar-header.js';

export { TarRefusal, type TarRefusalReason } from './tar-header.js';

// ---------------------------------------------------------------------------------------------
// Writing

/** One entry to write. A file gives its bytes, or its size and a function that streams them. */
export type TarInput =
  | { readonly path: string; readonly data: Uint8Array }
  | { readonly path: string; readonly size: number; readonly stream: () => AsyncIterable<Uint8Array> }
  | { readonly path: string; readonly type: 'dir' };

export interface TarWriteOptions {
  /** Seconds since the Unix epoch for every entry (e.g. the bundle's seal time); default 0. */
  readonly mtime?: number;
}

export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;
const ZEROS = new Uint8Array(BLOCK * 2);

interface PlannedEntry {
  /** Bundle path without a trailing '/'. */
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  readonly input?: TarInput;
}

function pathError(path: string, detail: string): CustodyError {
  return new CustodyError(ErrorCodes.BUNDLE_PATH_INVALID, `cannot put ${JSON.stringify(path)} in a tar: ${detail}`, { where: path });
}

/**
 * The entries in archive order, with implicit parent directories added. Pure. Refuses invalid
 * paths, the same path twice, a path under a file, and sizes that are not whole bytes.
 */
export function planTar(inputs: readonly TarInput[]): PlannedEntry[] {
  const byPath = new Map<string, PlannedEntry>();
  for (const input of inputs) {
    const problem = bundlePathProblem(input.path);
    if (problem !== undefined) throw pathError(input.path, `${problem.detail} (${problem.problem})`);
    let entry: PlannedEntry;
    if ('type' in input) {
      entry = { path: input.path, type: 'dir', size: 0 };
    } else {
      const size = 'data' in input ? input.data.length : input.size;
      if (!Number.isSafeInteger(size) || size < 0) throw pathError(input.path, `size ${size} is not a whole number of bytes`);
      entry = { path: input.path, type: 'file', size, input };
    }
    const existing = byPath.get(input.path);
    if (existing !== undefined && !(existing.type === 'dir' && entry.type === 'dir')) throw pathError(input.path, 'the path is given twice');
    byPath.set(input.path, entry);
  }
  // Parent directories: implicit ones are added; a parent that is a file is a conflict.
  for (const entry of [...byPath.values()]) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (existing === undefined) byPath.set(parent, { path: parent, type: 'dir', size: 0 });
      else if (existing.type === 'file') throw pathError(entry.path, `its parent ${JSON.stringify(parent)} is a file`);
    }
  }
  // Sorted by the name as stored (directories with their trailing '/'), bytewise: a directory always
  // precedes what is inside it, and the order never depends on the locale or the input order.
  const stored = (e: PlannedEntry): string => (e.type === 'dir' ? `${e.path}/` : e.path);
  return [...byPath.values()].sort((a, b) => compareBundlePaths(stored(a), stored(b)));
}

/** The header block(s) of one entry: a pax header first when ustar cannot carry the path or size. Pure. */
export function entryHeaders(entry: { path: string; type: 'file' | 'dir'; size: number }, mtime: number): Uint8Array[] {
  const storedName = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const nameBytes = Buffer.from(storedName, 'utf8');
  const split = splitUstarName(nameBytes);
  const records: Uint8Array[] = [];
  if (split === undefined) records.push(paxRecord('path', storedName));
  if (entry.size > USTAR_MAX_SIZE) records.push(paxRecord('size', String(entry.size)));
  const typeflag = entry.type === 'dir' ? '5' : '0';
  const mode = entry.type === 'dir' ? DIR_MODE : FILE_MODE;
  const headers: Uint8Array[] = [];
  if (records.length > 0) {
    const pax = Buffer.concat(records);
    const paxName = truncateUtf8(`PaxHeaders/${basename(entry.path)}`, 100);
    headers.push(encodeUstarHeader({ name: paxName, prefix: new Uint8Array(0), mode: FILE_MODE, size: pax.length, mtime, typeflag: 'x' }));
    headers.push(pax);
    const padding = (BLOCK - (pax.length % BLOCK)) % BLOCK;
    if (padding > 0) headers.push(new Uint8Array(padding));
  }
  const fallback = split ?? { name: truncateUtf8(storedName, 100), prefix: new Uint8Array(0) };
  headers.push(
    encodeUstarHeader({
      name: fallback.name,
      prefix: fallback.prefix,
      mode,
      size: entry.size > USTAR_MAX_SIZE ? 0 : entry.size,
      mtime,
      typeflag,
    }),
  );
  return headers;
}

function checkMtime(mtime: number): number {
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > USTAR_MAX_SIZE) {
    throw new CustodyError(ErrorCodes.USAGE, `tar mtime must be whole seconds between 0 and ${USTAR_MAX_SIZE}, got ${mtime}`);
  }
  return mtime;
}

/**
 * The archive as a stream of chunks. Each file's stream is opened only when its turn comes, and
 * must give exactly the size it declared (a file that changes while it is bundled is an error,
 * never a silently different archive).
 */
export async function* tarChunks(inputs: readonly TarInput[], options: TarWriteOptions = {}): AsyncGenerator<Uint8Array> {
  const mtime = checkMtime(options.mtime ?? 0);
  for (const entry of planTar(inputs)) {
    yield* entryHeaders(entry, mtime);
    if (entry.type !== 'file' || entry.input === undefined) continue;
    const input = entry.input;
    if ('data' in input) {
      if (input.data.length > 0) yield input.data;
    } else if ('stream' in input) {
      let written = 0;
      for await (const chunk of input.stream()) {
        written += chunk.length;
        if (written > entry.size) break;
        if (chunk.length > 0) yield chunk;
      }
      if (written !== entry.size) {
        throw new CustodyError(
          ErrorCodes.IO,
          `${entry.path}: the data stream gave ${written > entry.size ? `more than ${entry.size}` : written} bytes, the entry declared ${entry.size} (did the file change while it was being bundled?)`,
          { where: entry.path },
        );
      }
    }
    const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (padding > 0) yield ZEROS.subarray(0, padding);
  }
  yield ZEROS;
}

export interface TarWritten {
  /** Bytes written. */
  readonly size: number;
  /** SHA-256 (hex) of the archive bytes. */
  readonly sha256: string;
}

/** Writes the archive to a Writable (respecting backpressure) or a chunk callback. Does not end the Writable. */
export async function writeTar(
  inputs: readonly TarInput[],
  out: Writable | ((chunk: Uint8Array) => void | Promise<void>),
  options: TarWriteOptions = {},
): Promise<TarWritten> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of tarChunks(inputs, options)) {
    hash.update(chunk);
    size += chunk.length;
    if (typeof out === 'function') await out(chunk);
    else if (!out.write(chunk)) await once(out, 'drain');
  }
  return { size, sha256: hash.digest('hex') };
}

/** Writes the archive to a new file (refused if it exists). */
export async function writeTarFile(inputs: readonly TarInput[], path: string, options: TarWriteOptions = {}): Promise<TarWritten> {
  const out = createWriteStream(path, { flags: 'wx', mode: FILE_MODE });
  try {
    await once(out, 'open');
    const written = await writeTar(inputs, out, options);
    out.end();
    await once(out, 'finish');
    return written;
  } catch (err) {
    out.destroy();
    if (err instanceof CustodyError) throw err;
    throw new CustodyError(ErrorCodes.IO, `cannot write ${path}: ${messageOf(err)}`, { where: path, cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface TarLimits {
  /** Largest accepted entry, bytes. */
  readonly maxEntrySize: number;
  /** Largest accepted sum of all entries, bytes. */
  readonly maxTotalSize: number;
  readonly maxEntries: number;
  /** Most components in one path (`a/b/c` has 3). */
  readonly maxDepth: number;
  /** Largest accepted pax extended header, bytes. */
  readonly maxPaxHeaderSize: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxEntrySize: 1024 ** 4, // 1 TiB
  maxTotalSize: 16 * 1024 ** 4,
  // A bundle holds tens of files (manifest, sums, custody log, one snapshot per store, timeline,
  // tables, report), a few folders deep. These limits are far beyond that and far below what hurts:
  // every entry is a file or folder created in the temporary folder, every component a level the
  // tools that walk it must descend (a tar 1,800 folders deep used to overflow the stack).
  maxEntries: 100_000,
  maxDepth: 32,
  maxPaxHeaderSize: 64 * 1024,
};

export interface TarListEntry {
  /** Bundle path, without a leading './' or a trailing '/'. */
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  /** Offset of the entry's first header (its pax header when it has one). */
  readonly offset: number;
  /** SHA-256 (hex) of a file's data, when it was read (always by extractTar, by listTar with `hash`). */
  readonly sha256?: string;
}

export interface TarListing {
  readonly entries: TarListEntry[];
  /** Length of the archive file in bytes. */
  readonly archiveSize: number;
}

const READ_CHUNK = 1024 * 1024;

async function readExactly(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

interface WalkEntry extends TarListEntry {
  readonly dataOffset: number;
}

/**
 * Walks an archive header by header, calling `onEntry` for every accepted entry (in archive order)
 * with a function that streams its data. Every check that does not need to write happens here.
 */
async function walkTar(
  fh: FileHandle,
  source: string,
  limits: TarLimits,
  onEntry: (entry: WalkEntry, data: () => AsyncIterable<Uint8Array>) => Promise<string | undefined>,
): Promise<TarListing> {
  const archiveSize = (await fh.stat()).size;
  const entries: TarListEntry[] = [];
  const files = new Set<string>();
  const seen = new Set<string>();
  const folded = new Map<string, string>();
  let total = 0;
  let offset = 0;
  let pax: { overrides: PaxOverrides; offset: number } | undefined;

  for (;;) {
    if (offset + BLOCK > archiveSize) {
      if (offset === archiveSize) throw new TarRefusal('truncated_archive', 'the archive ends without the end-of-archive marker (two zero blocks)', offset, undefined, source);
      throw new TarRefusal('truncated_header', `the archive ends ${archiveSize - offset} bytes into a header`, offset, undefined, source);
    }
    const block = await readExactly(fh, offset, BLOCK);
    if (isZeroBlock(block)) {
      if (pax !== undefined) throw new TarRefusal('bad_pax', 'a pax header is followed by the end of the archive', pax.offset, undefined, source);
      if (offset + 2 * BLOCK > archiveSize) {
        throw new TarRefusal('truncated_archive', 'the archive ends after one zero block (the end marker is two)', offset, undefined, source);
      }
      const second = await readExactly(fh, offset + BLOCK, BLOCK);
      if (!isZeroBlock(second)) throw new TarRefusal('bad_end_marker', 'a zero block is followed by a non-zero block', offset, undefined, source);
      // GNU tar pads to a 10 KiB record with zeros; anything else after the marker is refused.
      for (let pos = offset + 2 * BLOCK; pos < archiveSize; pos += READ_CHUNK) {
        const rest = await readExactly(fh, pos, Math.min(READ_CHUNK, archiveSize - pos));
        if (!isZeroBlock(rest)) throw new TarRefusal('trailing_data', 'non-zero bytes after the end-of-archive marker', pos + rest.findIndex((b) => b !== 0), undefined, source);
      }
      return { entries, archiveSize };
    }

    let header;
    try {
      header = parseHeader(block, pax?.offset ?? offset);
    } catch (err) {
      if (err instanceof TarRefusal) throw err.inArchive(source);
      throw err;
    }
    const dataOffset = offset + BLOCK;
    if (header.type === 'pax') {
      if (pax !== undefined) throw new TarRefusal('bad_pax', 'two pax headers in a row', pax.offset, undefined, source);
      if (header.size > limits.maxPaxHeaderSize) {
        throw new TarRefusal('pax_too_large', `a pax header of ${header.size} bytes (limit ${limits.maxPaxHeaderSize})`, offset, undefined, source);
      }
      const padded = Math.ceil(header.size / BLOCK) * BLOCK;
      if (dataOffset + padded > archiveSize) throw new TarRefusal('truncated_data', 'the archive ends inside a pax header', offset, undefined, source);
      const data = await readExactly(fh, dataOffset, header.size);
      try {
        pax = { overrides: parsePax(data, offset), offset };
      } catch (err) {
        if (err instanceof TarRefusal) throw err.inArchive(source);
        throw err;
      }
      offset = dataOffset + padded;
      continue;
    }

    const entryOffset = pax?.offset ?? offset;
    const rawName = pax?.overrides.path ?? header.name;
    const size = pax?.overrides.size ?? header.size;
    pax = undefined;
    const refuse = (reason: ConstructorParameters<typeof TarRefusal>[0], detail: string): never => {
      throw new TarRefusal(reason, detail, entryOffset, rawName, source);
    };
    if (header.type === 'dir' && size !== 0) refuse('bad_header', `a directory entry declares ${size} bytes of data`);

    // Name: a directory may end in '/', a leading './' (what `tar -C dir .` writes) is dropped.
    let name = rawName;
    if (header.type === 'dir' && name.endsWith('/')) name = name.slice(0, -1);
    else if (name.endsWith('/')) refuse('non_normal_path', 'a regular file whose name ends in "/"');
    if (name.startsWith('./')) name = name.slice(2);
    if (name === '.' || name === '') {
      if (header.type === 'dir' && rawName !== '' && rawName !== '/') {
        offset = dataOffset; // the archive's root folder itself: nothing to create
        continue;
      }
      if (rawName.startsWith('/')) refuse('absolute_path', 'the path is absolute');
      refuse('empty_path', 'the entry has an empty name');
    }
    const problem = bundlePathProblem(name);
    if (problem !== undefined) refuse(problem.problem, problem.detail);

    if (seen.has(name)) refuse('duplicate', 'the archive contains this path twice');
    const fold = name.normalize('NFC').toLowerCase();
    const clash = folded.get(fold);
    if (clash !== undefined) refuse('case_collision', `the path collides with ${JSON.stringify(clash)} on case-insensitive or normalising file systems`);
    const parts = name.split('/');
    if (parts.length > limits.maxDepth) refuse('too_deep', `the path has ${parts.length} components, folders within folders (limit ${limits.maxDepth})`);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (files.has(parent)) refuse('path_conflict', `its parent ${JSON.stringify(parent)} is a file in this archive`);
    }
    seen.add(name);
    folded.set(fold, name);
    if (header.type === 'file') files.add(name);

    if (entries.length + 1 > limits.maxEntries) refuse('too_many_entries', `more than ${limits.maxEntries} entries`);
    if (size > limits.maxEntrySize) refuse('too_large', `the entry declares ${size} bytes (limit ${limits.maxEntrySize})`);
    total += size;
    if (total > limits.maxTotalSize) refuse('total_too_large', `the entries declare more than ${limits.maxTotalSize} bytes in all`);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (dataOffset + padded > archiveSize) {
      refuse('truncated_data', `the entry declares ${size} bytes but the archive ends ${archiveSize - dataOffset} bytes after its header`);
    }

    const entry: WalkEntry = { path: name, type: header.type, size, offset: entryOffset, dataOffset };
    const data = async function* (): AsyncGenerator<Uint8Array> {
      for (let pos = 0; pos < size; pos += READ_CHUNK) yield readExactly(fh, dataOffset + pos, Math.min(READ_CHUNK, size - pos));
    };
    const sha256 = await onEntry(entry, data);
    entries.push({ path: name, type: header.type, size, offset: entryOffset, ...(sha256 === undefined ? {} : { sha256 }) });
    offset = dataOffset + padded;
  }
}

async function openArchive(tarPath: string): Promise<FileHandle> {
  try {
    return await open(tarPath, 'r');
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot open ${tarPath}: ${messageOf(err)}`, { where: tarPath, cause: err });
  }
}

async function hashData(data: () => AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of data()) hash.update(chunk);
  return hash.digest('hex');
}

/** Lists and checks an archive without writing anything; with `hash`, reads every file to hash it. */
export async function listTar(tarPath: string, options: { limits?: Partial<TarLimits>; hash?: boolean } = {}): Promise<TarListing> {
  const limits = { ...DEFAULT_TAR_LIMITS, ...options.limits };
  const fh = await openArchive(tarPath);
  try {
    return await walkTar(fh, tarPath, limits, async (entry, data) => (options.hash === true && entry.type === 'file' ? hashData(data) : undefined));
  } finally {
    await fh.close();
  }
}

/**
 * Extracts an archive into `targetDir`, which must not exist yet (its parent must). All or
 * nothing: on any refusal or error nothing is left in the parent folder.
 */
export async function extractTar(tarPath: string, targetDir: string, limits: Partial<TarLimits> = {}): Promise<TarListing> {
  const target = resolve(targetDir);
  const parent = dirname(target);
  const exists = await lstat(target).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw new CustodyError(ErrorCodes.IO, `cannot check ${target}: ${messageOf(err)}`, { where: target, cause: err });
    },
  );
  if (exists) throw new CustodyError(ErrorCodes.IO, `cannot extract into ${target}: it already exists`, { where: target });
  const all = { ...DEFAULT_TAR_LIMITS, ...limits };
  const fh = await openArchive(tarPath);
  let temp: string | undefined;
  try {
    try {
      temp = await mkdtemp(join(parent, `.${basename(target)}.extract-`));
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot create a temporary folder in ${parent}: ${messageOf(err)}`, { where: parent, cause: err });
    }
    const root = temp;
    const made = new Set<string>(['']);
    const ensureDir = async (rel: string): Promise<void> => {
      if (made.has(rel)) return;
      const slash = rel.lastIndexOf('/');
      await ensureDir(slash === -1 ? '' : rel.slice(0, slash));
      const abs = join(root, rel);
      try {
        await mkdir(abs, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Only a real directory we may descend into; never a symlink someone raced into place.
        if (!(await lstat(abs)).isDirectory()) throw new CustodyError(ErrorCodes.IO, `${rel} exists and is not a directory`, { where: abs });
      }
      made.add(rel);
    };
    const listing = await walkTar(fh, tarPath, all, async (entry, data) => {
      if (entry.type === 'dir') {
        await ensureDir(entry.path);
        return undefined;
      }
      const slash = entry.path.lastIndexOf('/');
      await ensureDir(slash === -1 ? '' : entry.path.slice(0, slash));
      const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
      const out = await open(join(root, entry.path), flags, FILE_MODE);
      const hash = createHash('sha256');
      try {
        for await (const chunk of data()) {
          hash.update(chunk);
          let done = 0;
          while (done < chunk.length) done += (await out.write(chunk, done, chunk.length - done)).bytesWritten;
        }
      } finally {
        await out.close();
      }
      return hash.digest('hex');
    });
    await rename(root, target);
    temp = undefined;
    return listing;
  } catch (err) {
    if (err instanceof CustodyError) throw err;
    throw new CustodyError(ErrorCodes.IO, `cannot extract ${tarPath} into ${target}: ${messageOf(err)}`, { where: target, cause: err });
  } finally {
    await fh.close();
    if (temp !== undefined) {
      try {
        removeTree(temp);
      } catch {
        // The refusal or error that brought us here is what the caller must see; the caller's own
        // temporary folder (verify's, report's) holds this one and is removed with it.
      }
    }
  }
}
