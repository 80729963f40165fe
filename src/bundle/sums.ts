/**
 * The two checksum files a bundle carries for people who do not run custody: `SHA256SUMS`, which
 * `sha256sum -c SHA256SUMS` checks, and `hashdeep.txt`, which `hashdeep -c sha256 -r -l -a -k
 * hashdeep.txt …` audits. Pure: formatters and strict parsers, no I/O.
 *
 * Paths are bundle paths (src/bundle/paths.ts), relative to the bundle root and sorted bytewise.
 * Names with a newline or a backslash are refused, not escaped: sha256sum would write such a line
 * with a leading backslash that other tools misread, and hashdeep has no escaping at all.
 *
 * hashdeep's audit matches files by hash and then by name: a file listed as `./a` but given to
 * hashdeep as `a` counts as "moved" and fails the audit. So the names in hashdeep.txt carry the
 * prefix of the command the reader will run: `./` (the default) for `hashdeep … -r -l .` run in
 * the bundle root, or '' for `hashdeep … -r -l manifest.json evidence …`. An audit also fails on
 * any file it finds that the list does not name ("new files"), which includes hashdeep.txt itself
 * when the audit runs over `.`; the bundle layout has to account for that.
 */
import { CustodyError, ErrorCodes } from '../errors.js';
import { bundlePathProblem, compareBundlePaths } from './paths.js';

export interface FileHash {
  /** Bundle path, relative, '/'-separated. */
  readonly path: string;
  /** SHA-256, 64 lowercase hex digits. */
  readonly sha256: string;
}

export interface SizedFileHash extends FileHash {
  readonly size: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

function sumsError(what: string, message: string, where?: string): CustodyError {
  return new CustodyError(ErrorCodes.SUMS_INVALID, `${what}: ${message}`, where === undefined ? undefined : { where });
}

function checkEntries(what: string, files: readonly FileHash[]): FileHash[] {
  const seen = new Set<string>();
  for (const f of files) {
    const problem = bundlePathProblem(f.path);
    if (problem !== undefined) throw sumsError(what, `cannot list ${JSON.stringify(f.path)}: ${problem.detail} (${problem.problem})`, f.path);
    if (!HEX64.test(f.sha256)) throw sumsError(what, `${JSON.stringify(f.path)}: sha256 must be 64 lowercase hex digits`, f.path);
    if (seen.has(f.path)) throw sumsError(what, `${JSON.stringify(f.path)} is listed twice`, f.path);
    seen.add(f.path);
  }
  return [...files].sort((a, b) => compareBundlePaths(a.path, b.path));
}

/** `SHA256SUMS` text: `<hex>  <path>` per line (text mode, two spaces), sorted, '\n' after each. */
export function formatSha256Sums(files: readonly FileHash[]): string {
  return checkEntries('SHA256SUMS', files)
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('');
}

function splitLines(what: string, text: string, where: string | undefined): string[] {
  if (text.includes('\r')) throw sumsError(what, 'contains a carriage return (CRLF line endings are not accepted)', where);
  if (text.length > 0 && !text.endsWith('\n')) throw sumsError(what, 'the last line has no newline (truncated?)', where);
  return text.length === 0 ? [] : text.slice(0, -1).split('\n');
}

/** Parses `SHA256SUMS` strictly (what formatSha256Sums writes; ` *` binary-mode lines are accepted too). */
export function parseSha256Sums(text: string, where?: string): FileHash[] {
  const out: FileHash[] = [];
  const lines = splitLines('SHA256SUMS', text, where);
  lines.forEach((line, i) => {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m === null) throw sumsError('SHA256SUMS', `line ${i + 1} is not "<sha256>  <path>"`, where);
    out.push({ sha256: m[1] as string, path: m[2] as string });
  });
  try {
    checkEntries('SHA256SUMS', out);
  } catch (err) {
    if (err instanceof CustodyError) throw new CustodyError(err.code, err.message, { where: where ?? err.where });
    throw err;
  }
  return out;
}

export const HASHDEEP_HEADER = '%%%% HASHDEEP-1.0\n%%%% size,sha256,filename\n';

export interface HashdeepOptions {
  /** Prefix of every name, matching how the audit will be invoked: './' (default) or ''. */
  readonly prefix?: './' | '';
  /** Text of the `## Invoked from:` comment (hashdeep writes its working directory); default '.'. */
  readonly invokedFrom?: string;
  /** The paths of the `## $ hashdeep …` comment line, i.e. what the audit names (default '.' or '<files>'). */
  readonly targets?: string;
}

/**
 * The audit file `hashdeep -c sha256 -r -l` writes: its two `%%%%` header lines, three `##`
 * comment lines, then `size,sha256,name` per file (sorted here; hashdeep's own order is the
 * directory walk's, which its audit does not care about).
 */
export function formatHashdeep(files: readonly SizedFileHash[], options: HashdeepOptions = {}): string {
  const prefix = options.prefix ?? './';
  const invokedFrom = options.invokedFrom ?? '.';
  if (/[\r\n]/.test(invokedFrom)) throw sumsError('hashdeep.txt', 'the "Invoked from" text has a line break');
  for (const f of files) {
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw sumsError('hashdeep.txt', `${JSON.stringify(f.path)}: size ${f.size} is not a byte count`, f.path);
  }
  const sorted = checkEntries('hashdeep.txt', files) as SizedFileHash[];
  const target = options.targets ?? (prefix === './' ? '.' : '<files>');
  if (/[\r\n]/.test(target)) throw sumsError('hashdeep.txt', 'the targets text has a line break');
  let out = `${HASHDEEP_HEADER}## Invoked from: ${invokedFrom}\n## $ hashdeep -c sha256 -r -l ${target}\n## \n`;
  for (const f of sorted) out += `${f.size},${f.sha256},${prefix}${f.path}\n`;
  return out;
}

/** Parses a hashdeep audit file with exactly the `size,sha256,filename` columns, stripping `prefix` from names. */
export function parseHashdeep(text: string, options: { prefix?: './' | ''; where?: string } = {}): SizedFileHash[] {
  const prefix = options.prefix ?? './';
  const where = options.where;
  if (!text.startsWith(HASHDEEP_HEADER)) throw sumsError('hashdeep.txt', 'does not start with the "%%%% HASHDEEP-1.0" and "%%%% size,sha256,filename" lines', where);
  const lines = splitLines('hashdeep.txt', text.slice(HASHDEEP_HEADER.length), where);
  const out: SizedFileHash[] = [];
  lines.forEach((line, i) => {
    const lineNo = i + 3;
    if (line.startsWith('##')) return;
    const m = /^(0|[1-9][0-9]{0,15}),([0-9a-f]{64}),(.+)$/.exec(line);
    if (m === null) throw sumsError('hashdeep.txt', `line ${lineNo} is not "<size>,<sha256>,<name>"`, where);
    const name = m[3] as string;
    if (!name.startsWith(prefix)) throw sumsError('hashdeep.txt', `line ${lineNo}: the name does not start with ${JSON.stringify(prefix)}`, where);
    out.push({ size: Number(m[1]), sha256: m[2] as string, path: name.slice(prefix.length) });
  });
  try {
    checkEntries('hashdeep.txt', out);
  } catch (err) {
    if (err instanceof CustodyError) throw new CustodyError(err.code, err.message, { where: where ?? err.where });
    throw err;
  }
  return out;
}
