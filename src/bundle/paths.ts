/**
 * The one rule for a path inside a bundle, shared by the tar writer and reader and the checksum
 * files. Pure: no I/O.
 *
 * A bundle path is relative, uses '/' as separator, and every component is a plain name: no empty
 * component, no '.', no '..', no backslash (a Windows separator: `..\x` is traversal there), no
 * NUL, no control characters (a newline would break SHA256SUMS and hashdeep lines, an escape
 * sequence would reach the examiner's terminal), no drive letter, valid Unicode.
 */

export const MAX_PATH_BYTES = 4096;
export const MAX_COMPONENT_BYTES = 255;

/** Why a path is refused; stable strings (they appear in error messages and tar refusals). */
export type PathProblem =
  | 'empty_path'
  | 'absolute_path'
  | 'dot_dot'
  | 'non_normal_path'
  | 'nul_in_name'
  | 'backslash_in_name'
  | 'control_char_in_name'
  | 'bad_name_encoding'
  | 'name_too_long';

// C0 controls except NUL (reported separately), DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0001-\u001f\u007f-\u009f]/;

/**
 * The problem with a bundle path, or undefined when it is acceptable. `path` must not carry a
 * trailing '/' (callers strip the one that marks a directory before asking).
 */
export function bundlePathProblem(path: string): { problem: PathProblem; detail: string } | undefined {
  if (path.length === 0) return { problem: 'empty_path', detail: 'the path is empty' };
  if (!path.isWellFormed()) return { problem: 'bad_name_encoding', detail: 'the path is not valid Unicode' };
  if (path.includes('\u0000')) return { problem: 'nul_in_name', detail: 'the path contains a NUL byte' };
  if (path.includes('\\')) return { problem: 'backslash_in_name', detail: 'the path contains a backslash' };
  if (CONTROL.test(path)) return { problem: 'control_char_in_name', detail: 'the path contains a control character' };
  if (path.startsWith('/')) return { problem: 'absolute_path', detail: 'the path is absolute' };
  if (/^[A-Za-z]:/.test(path)) return { problem: 'absolute_path', detail: 'the path starts with a drive letter' };
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) {
    return { problem: 'name_too_long', detail: `the path is longer than ${MAX_PATH_BYTES} bytes` };
  }
  for (const component of path.split('/')) {
    if (component === '..') return { problem: 'dot_dot', detail: "the path has a '..' component" };
    if (component === '' || component === '.') {
      return { problem: 'non_normal_path', detail: "the path has an empty or '.' component" };
    }
    if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES) {
      return { problem: 'name_too_long', detail: `a path component is longer than ${MAX_COMPONENT_BYTES} bytes` };
    }
  }
  return undefined;
}

/** Byte order of the UTF-8 encodings (what `LC_ALL=C sort` gives), so the order is the same everywhere. */
export function compareBundlePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
