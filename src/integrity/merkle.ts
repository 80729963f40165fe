/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.
 * Pure: no file system, no clock.
 *
 *   leaf hash   = SHA-256(0x00 || data)
 *   node hash   = SHA-256(0x01 || left || right)
 *   empty root  = SHA-256("")
 *   MTH(D[n])   = NODE(MTH(D[0:k]), MTH(D[k:n])) with k the largest power of two < n
 *
 * Proof generators take the leaf *hashes* (not the data) either as an array or as an accessor
 * `(index) => leafHash`, so a store can hand them over lazily. Generators throw a CustodyError
 * (E_PROOF_INVALID) on bad arguments; verifiers never throw and answer `false` on anything
 * malformed. Verifiers use the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and need
 * only the proof and the roots.
 *
 * Tree sizes and indices are JS numbers; anything up to Number.MAX_SAFE_INTEGER is handled (all
 * bit arithmetic below is done with division, never with 32-bit bitwise operators).
 *
 * Hashes returned by this module are Buffers (a Uint8Array subclass), always freshly allocated:
 * callers may keep or mutate them.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { CustodyError, ErrorCodes } from '../errors.js';

export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
const EMPTY_ROOT: Uint8Array = createHash('sha256').digest();

/**
 * Scratch buffers for one-shot hashing. `crypto.hash` over a reused buffer is markedly faster than
 * a Hash object with several update() calls (no Hash object, one native call). JS is single
 * threaded and crypto.hash is synchronous, so sharing these module-level buffers is safe.
 */
const nodeScratch = new Uint8Array(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;
/** Leaf data up to this size goes through the scratch buffer; larger data is streamed. */
const LEAF_SCRATCH_MAX = 64 * 1024;
let leafScratch = new Uint8Array(1024);

/**
 * A digest from crypto.hash as a Buffer. Asking crypto.hash for 'binary' (latin1) text and turning that
 * into bytes is about twice as fast as asking for a 'buffer' (which allocates a fresh ArrayBuffer
 * per call); the result is still a Buffer of its own 32 bytes (from Node's pool), byte-exact.
 */
function digestBuffer(data: Uint8Array): Buffer {
  return Buffer.from(oneShotHash('sha256', data, 'binary'), 'latin1');
}

export function leafHash(data: Uint8Array): Uint8Array {
  const needed = data.length + 1;
  if (needed > LEAF_SCRATCH_MAX) {
    return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
  }
  if (needed > leafScratch.length) {
    let size = leafScratch.length;
    while (size < needed) size *= 2;
    leafScratch = new Uint8Array(Math.min(size, LEAF_SCRATCH_MAX));
  }
  leafScratch[0] = 0x00;
  leafScratch.set(data, 1);
  return digestBuffer(leafScratch.subarray(0, needed));
}

/**
 * leafHash(data) for data that already sits right after the leaf prefix: `prefixed` is
 * 0x00 || data, written so by the caller (the store lays each record's bytes out one byte after
 * a 0x00 it owns), which saves copying the record into the scratch buffer.
 */
export function leafHashPrefixed(prefixed: Uint8Array): Uint8Array {
  if (prefixed.length === 0 || prefixed[0] !== 0x00) {
    throw new CustodyError(ErrorCodes.PROOF_INVALID, 'leafHashPrefixed: the data must start with the 0x00 leaf prefix');
  }
  return digestBuffer(prefixed);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    nodeScratch.set(left, 1);
    nodeScratch.set(right, 1 + HASH_SIZE);
    return digestBuffer(nodeScratch);
  }
  // Not two SHA-256 values: still hash exactly what RFC 6962 says, just the slow way.
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

export function emptyRoot(): Uint8Array {
  return copyHash(EMPTY_ROOT);
}

/** A fresh copy. (Not `.slice()`: on a Buffer that is a view sharing memory, not a copy.) */
function copyHash(h: Uint8Array): Uint8Array {
  return Buffer.from(h);
}

/** MTH over leaf hashes (already leaf-hashed). */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  const frontier = new MerkleFrontier();
  for (const h of leafHashes) frontier.push(h);
  return frontier.root();
}

/**
 * The perfect subtrees inside a run of leaves at positions start..start+n-1 of a larger tree:
 * level h holds, for every position g that is a multiple of 2^h with g..g+2^h-1 inside the run,
 * the root of those 2^h leaves, in order. Level 0 is the leaves themselves (n × HASH_SIZE bytes).
 * `pushRange` feeds any stretch of the run into a MerkleFrontier with a few subtree pushes.
 */
export interface SubtreeLevels {
  start: number;
  count: number;
  levels: Uint8Array[];
}

/** First position at or after `start` that is a multiple of `span`. */
function alignedFrom(start: number, span: number): number {
  return Math.ceil(start / span) * span;
}

/** Hashes the subtrees of a run of leaf hashes (`leaves`: n × HASH_SIZE bytes, at positions start..). */
export function subtreeLevels(leaves: Uint8Array, start: number): SubtreeLevels {
  const count = leaves.length / HASH_SIZE;
  const levels: Uint8Array[] = [leaves];
  for (let h = 1; ; h++) {
    const span = 2 ** h;
    const first = alignedFrom(start, span);
    const entries = Math.max(0, Math.floor((start + count - first) / span));
    if (entries === 0) break;
    const below = levels[h - 1] as Uint8Array;
    const belowFirst = alignedFrom(start, span / 2);
    const out = new Uint8Array(entries * HASH_SIZE);
    for (let k = 0; k < entries; k++) {
      const g = first + k * span;
      const left = (g - belowFirst) / (span / 2);
      out.set(nodeHash(below.subarray(left * HASH_SIZE, (left + 1) * HASH_SIZE), below.subarray((left + 1) * HASH_SIZE, (left + 2) * HASH_SIZE)), k * HASH_SIZE);
    }
    levels.push(out);
  }
  return { start, count, levels };
}

/** Pushes the leaves at positions frontier.size .. to-1 (all inside the run) as the fewest subtrees. */
export function pushRange(frontier: MerkleFrontier, run: SubtreeLevels, to: number): void {
  if (frontier.size < run.start || to > run.start + run.count) {
    throw new CustodyError(ErrorCodes.PROOF_INVALID, `positions ${frontier.size}..${to - 1} are not inside the run ${run.start}..${run.start + run.count - 1}`);
  }
  while (frontier.size < to) {
    const at = frontier.size;
    let h = 0;
    while (h + 1 < run.levels.length && at % 2 ** (h + 1) === 0 && at + 2 ** (h + 1) <= to) h++;
    const span = 2 ** h;
    const index = (at - alignedFrom(run.start, span)) / span;
    frontier.pushSubtree((run.levels[h] as Uint8Array).subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE), h);
  }
}

/**
 * Streaming compact range / right frontier: O(log n) memory, push leaf hashes in order, root at
 * any time. Level L holds the root of the perfect subtree of 2^L leaves that bit L of `size`
 * stands for; push is a binary increment (one node hash amortized), root folds the levels right to
 * left (O(log n)).
 */
export class MerkleFrontier {
  private count = 0;
  /** levels[L] is meaningful only while bit L of `count` is set; allocated once per level, then copied into. */
  private readonly levels: Uint8Array[];

  constructor() {
    this.levels = [];
  }

  push(leafHash: Uint8Array): void {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) {
      const got = leafHash instanceof Uint8Array ? `${leafHash.length} bytes` : typeof leafHash;
      throw new CustodyError(ErrorCodes.PROOF_INVALID, `leaf hash must be ${HASH_SIZE} bytes, got ${got}`);
    }
    if (this.count >= Number.MAX_SAFE_INTEGER) {
      throw new CustodyError(ErrorCodes.PROOF_INVALID, `Merkle tree is full at ${this.count} leaves`);
    }
    let carry: Uint8Array = leafHash;
    let s = this.count;
    let level = 0;
    while (s % 2 === 1) {
      carry = nodeHash(this.levels[level] as Uint8Array, carry);
      s = (s - 1) / 2;
      level++;
    }
    let slot = this.levels[level];
    if (slot === undefined) {
      slot = new Uint8Array(HASH_SIZE);
      this.levels[level] = slot;
    }
    slot.set(carry);
    this.count++;
  }

  /**
   * Pushes a perfect subtree of 2^height leaves by its root: the same as pushing its leaves one by
   * one, when the frontier's size is a multiple of 2^height (so the subtree sits where those leaves
   * would). Lets the verifier's worker threads hash the tree of each batch of records.
   */
  pushSubtree(root: Uint8Array, height: number): void {
    const span = 2 ** height;
    if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE || !Number.isInteger(height) || height < 0 || this.count % span !== 0) {
      throw new CustodyError(ErrorCodes.PROOF_INVALID, `a subtree of height ${height} cannot be pushed at size ${this.count}`);
    }
    if (this.count + span > Number.MAX_SAFE_INTEGER) {
      throw new CustodyError(ErrorCodes.PROOF_INVALID, `Merkle tree is full at ${this.count} leaves`);
    }
    let carry: Uint8Array = root;
    let s = this.count / span;
    let level = height;
    while (s % 2 === 1) {
      carry = nodeHash(this.levels[level] as Uint8Array, carry);
      s = (s - 1) / 2;
      level++;
    }
    for (let l = this.levels.length; l < level; l++) this.levels.push(new Uint8Array(HASH_SIZE));
    let slot = this.levels[level];
    if (slot === undefined) {
      slot = new Uint8Array(HASH_SIZE);
      this.levels[level] = slot;
    }
    slot.set(carry);
    this.count += span;
  }

  get size(): number {
    return this.count;
  }

  /** Root of the tree of the first `size` leaves; emptyRoot() when size 0. */
  root(): Uint8Array {
    let acc: Uint8Array | undefined;
    let s = this.count;
    for (let level = 0; s > 0; level++) {
      if (s % 2 === 1) {
        const node = this.levels[level] as Uint8Array;
        acc = acc === undefined ? copyHash(node) : nodeHash(node, acc);
        s = (s - 1) / 2;
      } else {
        s = s / 2;
      }
    }
    return acc ?? emptyRoot();
  }

  clone(): MerkleFrontier {
    const copy = new MerkleFrontier();
    copy.count = this.count;
    for (const node of this.levels) copy.levels.push(new Uint8Array(node));
    return copy;
  }

  /** Plain data (a size and the subtree roots its bits stand for), to hand the frontier to another thread. */
  toState(): FrontierState {
    const levels: Uint8Array[] = [];
    for (let level = 0; level < this.levels.length; level++) {
      levels.push(new Uint8Array(this.levels[level] as Uint8Array));
    }
    return { size: this.count, levels };
  }

  /** The frontier toState() described, checked: a subtree root is needed for every set bit of its size. */
  static fromState(state: FrontierState): MerkleFrontier {
    assertCount('frontier size', state.size);
    const frontier = new MerkleFrontier();
    let s = state.size;
    for (let level = 0; s > 0 || level < state.levels.length; level++, s = Math.floor(s / 2)) {
      const node = state.levels[level];
      if (node === undefined) {
        if (s % 2 === 1) throw proofError(`frontier of size ${state.size} lacks the subtree root at level ${level}`);
        continue;
      }
      if (!(node instanceof Uint8Array) || node.length !== HASH_SIZE) throw proofError(`frontier level ${level} is not a ${HASH_SIZE}-byte hash`);
      frontier.levels[level] = new Uint8Array(node);
    }
    frontier.count = state.size;
    return frontier;
  }
}

/** A MerkleFrontier as plain data (structured-clone safe). */
export interface FrontierState {
  size: number;
  levels: Uint8Array[];
}

/** Accessor form so callers (a SQLite store) can supply leaf hashes lazily; arrays also accepted. */
export type LeafSource = readonly Uint8Array[] | ((index: number) => Uint8Array);

function proofError(message: string): CustodyError {
  return new CustodyError(ErrorCodes.PROOF_INVALID, message);
}

function assertCount(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw proofError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
}

/** A checked leaf-hash getter over either form of LeafSource, valid for indices below treeSize. */
function leafGetter(leaves: LeafSource, treeSize: number): (index: number) => Uint8Array {
  const check = (h: unknown, index: number): Uint8Array => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
      const got = h instanceof Uint8Array ? `${h.length} bytes` : h === undefined ? 'nothing' : typeof h;
      throw proofError(`leaf hash at index ${index} must be ${HASH_SIZE} bytes, got ${got}`);
    }
    return h;
  };
  if (typeof leaves === 'function') return (index) => check(leaves(index), index);
  if (!Array.isArray(leaves)) throw proofError('leaf source must be an array of leaf hashes or a function');
  if (leaves.length < treeSize) {
    throw proofError(`leaf source holds ${leaves.length} leaf hashes, fewer than tree size ${treeSize}`);
  }
  return (index) => check(leaves[index], index);
}

/** MTH(D[start:end]) for 0 <= start < end, computed in O(log) memory. */
function rangeHash(get: (index: number) => Uint8Array, start: number, end: number): Uint8Array {
  if (end - start === 1) return copyHash(get(start));
  const frontier = new MerkleFrontier();
  for (let i = start; i < end; i++) frontier.push(get(i));
  return frontier.root();
}

/** The largest power of two strictly less than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 6962 §2.1.1 PATH(index, D[treeSize]): sibling hashes from the leaf up to the root. */
export function inclusionProof(index: number, treeSize: number, leaves: LeafSource): Uint8Array[] {
  assertCount('leaf index', index);
  assertCount('tree size', treeSize);
  if (index >= treeSize) {
    throw proofError(`leaf index ${index} is out of range for tree size ${treeSize}`);
  }
  const get = leafGetter(leaves, treeSize);
  // Walk from the root down; the recursive definition appends the upper siblings last.
  const topDown: Uint8Array[] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      topDown.push(rangeHash(get, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(rangeHash(get, lo, lo + k));
      lo += k;
    }
  }
  return topDown.reverse();
}

/** RFC 9162 §2.1.3.2. Never throws; false for anything malformed. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    if (!isHash(leafHash) || !isHash(root) || !isCount(index) || !isCount(treeSize)) return false;
    if (index >= treeSize || !isHashList(proof)) return false;
    let fn = index;
    let sn = treeSize - 1;
    let r: Uint8Array = leafHash;
    for (const p of proof) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && bytesEqual(r, root);
  } catch {
    return false;
  }
}

/**
 * RFC 6962 §2.1.2 PROOF(oldSize, D[newSize]) = SUBPROOF(oldSize, D[newSize], true).
 * Empty when oldSize is 0 or equal to newSize.
 */
export function consistencyProof(oldSize: number, newSize: number, leaves: LeafSource): Uint8Array[] {
  assertCount('old tree size', oldSize);
  assertCount('new tree size', newSize);
  if (oldSize > newSize) {
    throw proofError(`old tree size ${oldSize} is larger than new tree size ${newSize}`);
  }
  const get = leafGetter(leaves, newSize);
  if (oldSize === 0 || oldSize === newSize) return [];
  // Iterative SUBPROOF: collect top-down, then reverse (the recursion appends upper nodes last).
  const topDown: Uint8Array[] = [];
  let lo = 0;
  let hi = newSize;
  let complete = true; // SUBPROOF's flag b: the old tree's root is the subtree root itself.
  while (oldSize !== hi) {
    const k = splitPoint(hi - lo);
    if (oldSize - lo <= k) {
      topDown.push(rangeHash(get, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(rangeHash(get, lo, lo + k));
      lo += k;
      complete = false;
    }
  }
  if (!complete) topDown.push(rangeHash(get, lo, hi));
  return topDown.reverse();
}

/**
 * RFC 9162 §2.1.4.2. Never throws; false for anything malformed.
 * Equal sizes need an empty proof and equal roots; an old size of 0 needs an empty proof and the
 * empty-tree root as oldRoot (the root of an empty tree is defined, so nothing else can match it).
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    if (!isCount(oldSize) || !isCount(newSize) || !isHash(oldRoot) || !isHash(newRoot)) return false;
    if (oldSize > newSize || !isHashList(proof)) return false;
    if (oldSize === newSize) {
      if (proof.length !== 0 || !bytesEqual(oldRoot, newRoot)) return false;
      return oldSize !== 0 || bytesEqual(oldRoot, EMPTY_ROOT);
    }
    if (oldSize === 0) return proof.length === 0 && bytesEqual(oldRoot, EMPTY_ROOT);
    if (proof.length === 0) return false;

    // When oldSize is a power of two the old root is the first node of the path (prepended).
    let next = 0;
    let seed: Uint8Array;
    if (isPowerOfTwo(oldSize)) {
      seed = oldRoot;
    } else {
      seed = proof[0] as Uint8Array;
      next = 1;
    }
    let fn = oldSize - 1;
    let sn = newSize - 1;
    while (fn % 2 === 1) {
      fn = (fn - 1) / 2;
      sn = Math.floor(sn / 2);
    }
    let fr = seed;
    let sr = seed;
    for (let i = next; i < proof.length; i++) {
      const c = proof[i] as Uint8Array;
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
  } catch {
    return false;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Trees have at most 2^53 leaves, so a proof is at most ~2·53 nodes; anything longer is garbage, not worth hashing. */
const MAX_PROOF_LENGTH = 2 * 54;

function isHashList(value: unknown): value is readonly Uint8Array[] {
  if (!Array.isArray(value) || value.length > MAX_PROOF_LENGTH) return false;
  for (const item of value) if (!isHash(item)) return false;
  return true;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}
