/**
 * removeTree on real folders: a tree 1,800 deep (what overflowed Node 20's recursive rmSync in
 * verify) and one 100,000 deep (far beyond PATH_MAX, so no absolute path can name its bottom) are
 * removed completely; symlinks inside are removed, never followed; the temp-folder registry removes
 * what is still held.
 *
 * The deep trees live on tmpfs (/dev/shm) where there is one: on this machine's ext4 each rmdir of
 * a just-emptied folder costs about a millisecond under load (measured: 20,000 levels, 45 s of
 * rmdir on ext4, 0.4 s on tmpfs), which is the disk, not the algorithm under test.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempFolder, removeAllTempFolders, removeTempFolder, removeTree } from '../../src/fs/temp-folder.js';

let work: string;
beforeAll(() => {
  const fast = '/dev/shm';
  work = mkdtempSync(join(existsSync(fast) && statSync(fast).isDirectory() ? fast : tmpdir(), 'custody-temp-folder-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * `root/t`, `depth` folders deep with a file at the bottom, built with short paths only: the tree
 * so far is moved into a new folder again and again, so no path is ever longer than two names.
 */
function deepTree(root: string, depth: number): string {
  const tree = join(root, 't');
  const spare = join(root, 'spare');
  mkdirSync(tree);
  writeFileSync(join(tree, 'bottom.txt'), 'the deepest file\n');
  for (let i = 1; i < depth; i++) {
    mkdirSync(spare);
    renameSync(tree, join(spare, 'd'));
    renameSync(spare, tree);
  }
  return tree;
}

/** Folders along the chain, counted by walking down (paths stay under PATH_MAX for 1,800). */
function chainDepth(tree: string): number {
  let depth = 1;
  let dir = tree;
  for (;;) {
    const names = readdirSync(dir);
    if (!names.includes('d')) return depth;
    dir = join(dir, 'd');
    depth++;
  }
}

describe('removeTree', () => {
  it('a tree 1,800 folders deep: built as verify would extract it, removed completely', () => {
    const root = join(work, 'd1800');
    mkdirSync(root);
    const tree = deepTree(root, 1800);
    expect(chainDepth(tree)).toBe(1800);
    removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });

  it('a tree 100,000 folders deep (no path can name its bottom): removed completely', () => {
    const root = join(work, 'd100000');
    mkdirSync(root);
    const tree = deepTree(root, 100_000);
    // The premise: the bottom is beyond what any path reaches.
    expect(() => readFileSync(join(tree, ...Array<string>(99_999).fill('d'), 'bottom.txt'))).toThrow(/ENAMETOOLONG/);
    removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });

  it('wide and deep with files at every level, and a name like the ones it renames to', () => {
    const tree = join(work, 'wide');
    for (let i = 0; i < 20; i++) {
      const dir = join(tree, ...Array<string>(i).fill('sub'), `.rm-${i}`);
      mkdirSync(dir, { recursive: true });
      for (let j = 0; j < 5; j++) writeFileSync(join(dir, `f${j}`), 'x');
      mkdirSync(join(dir, 'empty'));
    }
    removeTree(tree);
    expect(existsSync(tree)).toBe(false);
  });

  it('symlinks inside are removed, never followed; a path that does not exist is nothing to do', () => {
    const outside = join(work, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep.txt'), 'not the tree\n');
    const tree = join(work, 'links');
    mkdirSync(join(tree, 'a'), { recursive: true });
    symlinkSync(outside, join(tree, 'a', 'to-dir'));
    symlinkSync(join(outside, 'keep.txt'), join(tree, 'to-file'));
    removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('not the tree\n');
    expect(() => removeTree(join(work, 'never-was'))).not.toThrow();
  });
});

describe('temporary folders', () => {
  it('makeTempFolder makes a fresh folder; removeTempFolder and removeAllTempFolders remove what is held', () => {
    const a = makeTempFolder('custody-test-a-');
    const b = makeTempFolder('custody-test-b-');
    expect(a.startsWith(tmpdir())).toBe(true);
    deepTree(a, 50);
    deepTree(b, 50);
    removeTempFolder(a);
    expect(existsSync(a)).toBe(false);
    expect(existsSync(b)).toBe(true);
    expect(removeAllTempFolders()).toEqual([]);
    expect(existsSync(b)).toBe(false);
  });
});
