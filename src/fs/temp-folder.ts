/**
 * Temporary folders that hold what a hostile archive put there (an extracted bundle), and their
 * removal on every path out: normal return, error, crash, and the signals the CLI entry forwards.
 *
 * Why not `rmSync(dir, { recursive: true })`: on Node 20 it is a recursive JavaScript walk
 * (internal/fs/rimraf), so a tree 1,800 folders deep overflows the stack ("Maximum call stack size
 * exceeded") and the whole extracted bundle stays behind, a new copy per run; and a tree deeper than
 * PATH_MAX cannot be named by any absolute path at all. `removeTree` keeps an explicit list instead
 * of a call stack and never reaches below the second level: each folder it empties has its
 * sub-folders renamed up to the top of the tree first, so every path it uses is the tree's own path
 * plus two names, whatever the depth. Memory grows with the number of folders, never the stack.
 *
 * The registry (`makeTempFolder`, `removeTempFolder`, `removeAllTempFolders`) is what lets the CLI
 * entry, which alone handles signals and exits, remove whatever a command still holds when it is
 * interrupted: synchronous, so it can run in an 'exit' handler.
 */
import { lstatSync, mkdtempSync, readdirSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Removes `path` and everything under it, without recursion and at any depth. A path that does
 * not exist is nothing to do; a file or symlink is unlinked (a symlink is never followed).
 */
export function removeTree(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  if (!st.isDirectory()) {
    unlinkSync(path);
    return;
  }
  let moved = 0;
  const upName = (): string => {
    for (;;) {
      const candidate = join(path, `.rm-${moved++}`);
      try {
        lstatSync(candidate);
      } catch (err) {
        if (errno(err) === 'ENOENT') return candidate;
        throw err;
      }
    }
  };
  // Folders still to empty, each `path` itself or directly inside it.
  const pending: string[] = [path];
  const top = (dir: string): boolean => dir === path;
  while (pending.length > 0) {
    const dir = pending[pending.length - 1] as string;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const child = join(dir, entry.name);
      if (!entry.isDirectory()) unlinkSync(child);
      else if (top(dir)) pending.push(child);
      else {
        const up = upName();
        renameSync(child, up);
        pending.push(up);
      }
    }
    if (pending[pending.length - 1] !== dir) continue; // sub-folders of the top level first
    try {
      rmdirSync(dir);
      pending.pop();
    } catch (err) {
      // Something was created in it meanwhile (an I/O request already in flight when a signal came): list it again.
      if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST') throw err;
    }
  }
}

const live = new Set<string>();

/** A new, empty folder under the system's temporary folder (`prefix` + random), removed by `removeAllTempFolders` if still there. */
export function makeTempFolder(prefix: string): string {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), prefix));
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot create a temporary folder in ${tmpdir()}: ${messageOf(err)}`, { where: tmpdir(), cause: err });
  }
  live.add(dir);
  return dir;
}

/** Removes a folder made by `makeTempFolder` and everything in it. */
export function removeTempFolder(dir: string): void {
  try {
    removeTree(dir);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot remove the temporary folder ${dir}: ${messageOf(err)}`, { where: dir, cause: err });
  }
  live.delete(dir);
}

/** Removes every temporary folder still held; for the CLI entry's exit and signal handlers. Never throws. */
export function removeAllTempFolders(): string[] {
  const failed: string[] = [];
  for (const dir of [...live]) {
    try {
      removeTree(dir);
      live.delete(dir);
    } catch {
      failed.push(dir);
    }
  }
  return failed;
}
