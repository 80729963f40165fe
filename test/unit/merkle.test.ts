import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import {
  HASH_SIZE,
  MerkleFrontier,
  bytesEqual,
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  nodeHash,
  pushRange,
  rootFromLeafHashes,
  subtreeLevels,
  verifyConsistency,
  verifyInclusion,
  type LeafSource,
} from '../../src/integrity/merkle.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const hexes = (list: readonly Uint8Array[]): string[] => list.map(hex);

/* -------------------------------------------------------------------------------------------------
 * Published RFC 6962 test vectors, copied verbatim from transparency-dev/merkle (the successor of
 * google/certificate-transparency-go's merkle package):
 *
 *   - testonly/constants.go @ 582a6ad190b6848f1d26f8bf08ddef29955d9db1
 *       LeafInputs(), NodeHashes(), RootHashes(), EmptyRootHash()
 *   - proof/verify_test.go  @ 02194e9afb6c1d95b5381350007963aa70fff472
 *       inclusionProofs, consistencyProofs, roots, sha256SomeHash, and the corruption probes of
 *       corruptInclusionProof / corruptConsistencyProof / TestVerifyConsistency.
 *
 * verify_test.go numbers leaves from 1 in `inclusionProofs` ({leaf, size, proof}; the Go test
 * passes `leaf-1`), so {1, 8} there is index 0 here, {6, 8} is index 5, {3, 3} is index 2 and
 * {2, 5} is index 1. Its {0, 0, nil} entry is documented there as "an invalid path" and skipped.
 * ---------------------------------------------------------------------------------------------- */

const LEAF_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];

const NODE_HASHES: string[][] = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];

const EMPTY_ROOT_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** ROOTS[n] is the root of the tree of the first n leaves; ROOTS[0] is the empty root. */
const ROOTS = [
  EMPTY_ROOT_HEX,
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const SOME_HASH = unhex('abacaba000000000000000000000000000000000000000000060061e00123456');

interface InclusionVector {
  index: number;
  size: number;
  proof: string[];
}

const INCLUSION_VECTORS: InclusionVector[] = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

interface ConsistencyVector {
  oldSize: number;
  newSize: number;
  proof: string[];
}

const CONSISTENCY_VECTORS: ConsistencyVector[] = [
  { oldSize: 1, newSize: 1, proof: [] },
  {
    oldSize: 1,
    newSize: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    oldSize: 6,
    newSize: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    oldSize: 2,
    newSize: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    oldSize: 6,
    newSize: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const VECTOR_LEAF_HASHES: Uint8Array[] = LEAF_INPUTS.map((d) => leafHash(unhex(d)));
const root = (n: number): Uint8Array => unhex(ROOTS[n] as string);

/* -------------------------------------------------------------------------------------------------
 * An independent reference: the recursive definitions of RFC 6962 §2.1, §2.1.1 and §2.1.2, written
 * as directly as possible and hashing with their own createHash calls.
 * ---------------------------------------------------------------------------------------------- */

const refLeaf = (d: Uint8Array): Uint8Array => createHash('sha256').update(Uint8Array.of(0)).update(d).digest();
const refNode = (l: Uint8Array, r: Uint8Array): Uint8Array =>
  createHash('sha256').update(Uint8Array.of(1)).update(l).update(r).digest();

function refSplit(n: number): number {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

function refMth(d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return createHash('sha256').digest();
  if (d.length === 1) return d[0] as Uint8Array;
  const k = refSplit(d.length);
  return refNode(refMth(d.slice(0, k)), refMth(d.slice(k)));
}

function refPath(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = refSplit(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))] : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}

function refSubproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = d.length;
  if (m === n) return b ? [] : [refMth(d)];
  const k = refSplit(n);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

const refConsistency = (m: number, d: readonly Uint8Array[]): Uint8Array[] => (m === 0 ? [] : refSubproof(m, d, true));

/** Which side each sibling of PATH(m, D[n]) sits on, leaf upward: the shape a verifier follows. */
function pathShape(m: number, n: number): string {
  if (n <= 1) return '';
  const k = refSplit(n);
  return m < k ? `${pathShape(m, k)}R` : `${pathShape(m - k, n - k)}L`;
}

/** Deterministic leaf hashes for a random tree. */
function makeLeaves(n: number, seed: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => refLeaf(Buffer.from(`custody-merkle-test:${seed}:${i}`)));
}

function flipBit(h: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(h);
  const byte = Math.floor(bit / 8) % copy.length;
  copy[byte] = (copy[byte] as number) ^ (1 << (bit % 8));
  return copy;
}

function withElement(proof: readonly Uint8Array[], i: number, value: Uint8Array): Uint8Array[] {
  const copy = [...proof];
  copy[i] = value;
  return copy;
}

function expectProofInvalid(fn: () => unknown, ...mentions: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CustodyError);
  const err = caught as CustodyError;
  expect(err.code).toBe(ErrorCodes.PROOF_INVALID);
  expect(err.code).toBe('E_PROOF_INVALID');
  for (const m of mentions) expect(err.message).toContain(m);
}

/* ---------------------------------------------------------------------------------------------- */

describe('RFC 6962 hashing (published vectors)', () => {
  it('HASH_SIZE is 32', () => {
    expect(HASH_SIZE).toBe(32);
  });

  it('empty tree root is SHA-256("")', () => {
    expect(hex(emptyRoot())).toBe(EMPTY_ROOT_HEX);
    expect(hex(rootFromLeafHashes([]))).toBe(EMPTY_ROOT_HEX);
    expect(hex(new MerkleFrontier().root())).toBe(EMPTY_ROOT_HEX);
    // A fresh copy every time: mutating one must not change the next.
    const e = emptyRoot();
    e[0] = 0;
    expect(hex(emptyRoot())).toBe(EMPTY_ROOT_HEX);
  });

  it('leaf hashes of the 8 published inputs', () => {
    expect(hexes(VECTOR_LEAF_HASHES)).toEqual(NODE_HASHES[0]);
  });

  it('every complete subtree (NodeHashes) from nodeHash', () => {
    for (let level = 1; level < NODE_HASHES.length; level++) {
      const below = (NODE_HASHES[level - 1] as string[]).map(unhex);
      const want = NODE_HASHES[level] as string[];
      want.forEach((h, i) => {
        expect(hex(nodeHash(below[2 * i] as Uint8Array, below[2 * i + 1] as Uint8Array))).toBe(h);
      });
    }
  });

  it('roots of every size 1..8 from rootFromLeafHashes, the frontier and the reference', () => {
    const frontier = new MerkleFrontier();
    for (let n = 1; n <= 8; n++) {
      frontier.push(VECTOR_LEAF_HASHES[n - 1] as Uint8Array);
      expect(frontier.size).toBe(n);
      expect(hex(frontier.root())).toBe(ROOTS[n]);
      expect(hex(rootFromLeafHashes(VECTOR_LEAF_HASHES.slice(0, n)))).toBe(ROOTS[n]);
      expect(hex(refMth(VECTOR_LEAF_HASHES.slice(0, n)))).toBe(ROOTS[n]);
    }
  });

  it('nodeHash of inputs that are not 32 bytes still follows RFC 6962', () => {
    const l = Uint8Array.of(1, 2, 3);
    const r = new Uint8Array(40).fill(7);
    expect(hex(nodeHash(l, r))).toBe(hex(refNode(l, r)));
  });

  it('leafHash of large and growing inputs matches the reference', () => {
    for (const size of [0, 1, 31, 32, 200, 1023, 1024, 1025, 5000, 65535, 65536, 200_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      expect(hex(leafHash(data))).toBe(hex(refLeaf(data)));
    }
  });
});

describe('inclusion proofs (published vectors)', () => {
  for (const v of INCLUSION_VECTORS) {
    describe(`index ${v.index} in size ${v.size}`, () => {
      const leaf = VECTOR_LEAF_HASHES[v.index] as Uint8Array;
      const proof = v.proof.map(unhex);
      const r = root(v.size);

      it('is generated exactly, from an array and from an accessor', () => {
        expect(hexes(inclusionProof(v.index, v.size, VECTOR_LEAF_HASHES))).toEqual(v.proof);
        expect(hexes(inclusionProof(v.index, v.size, VECTOR_LEAF_HASHES.slice(0, v.size)))).toEqual(v.proof);
        expect(hexes(inclusionProof(v.index, v.size, (i) => VECTOR_LEAF_HASHES[i] as Uint8Array))).toEqual(v.proof);
      });

      it('verifies', () => {
        expect(verifyInclusion(leaf, v.index, v.size, proof, r)).toBe(true);
      });

      it('fails every corruption probe of corruptInclusionProof', () => {
        const probes: [string, Uint8Array, number, number, Uint8Array[], Uint8Array][] = [
          ['leafIndex - 1', leaf, v.index - 1, v.size, proof, r],
          ['leafIndex + 1', leaf, v.index + 1, v.size, proof, r],
          ['leafIndex ^ 2', leaf, v.index ^ 2, v.size, proof, r],
          ['treeSize * 2', leaf, v.index, v.size * 2, proof, r],
          ['treeSize / 2', leaf, v.index, Math.floor(v.size / 2), proof, r],
          ['wrong leaf', new TextEncoder().encode('WrongLeaf'), v.index, v.size, proof, r],
          ['wrong leaf, right size', flipBit(leaf, 0), v.index, v.size, proof, r],
          ['empty root', leaf, v.index, v.size, proof, emptyRoot()],
          ['random root', leaf, v.index, v.size, proof, SOME_HASH],
          ['trailing garbage', leaf, v.index, v.size, [...proof, new Uint8Array(0)], r],
          ['trailing root', leaf, v.index, v.size, [...proof, r], r],
          ['preceding garbage', leaf, v.index, v.size, [new Uint8Array(0), ...proof], r],
          ['preceding root', leaf, v.index, v.size, [r, ...proof], r],
        ];
        proof.forEach((p, i) => probes.push([`modified proof[${i}] bit 3`, leaf, v.index, v.size, withElement(proof, i, flipBit(p, 3)), r]));
        if (proof.length > 0) probes.push(['removed component', leaf, v.index, v.size, proof.slice(0, -1), r]);
        if (proof.length > 1) {
          probes.push(['inserted component', leaf, v.index, v.size, [proof[0] as Uint8Array, SOME_HASH, ...proof.slice(1)], r]);
        }
        const accepted = probes.filter(([, l, i, s, p, rt]) => verifyInclusion(l, i, s, p, rt)).map(([d]) => d);
        expect(accepted).toEqual([]);
      });
    });
  }

  it('single entry (TestVerifyInclusionSingleEntry)', () => {
    const h = leafHash(new TextEncoder().encode('data'));
    const empty = new Uint8Array(0);
    expect(verifyInclusion(h, 0, 1, [], h)).toBe(true);
    expect(verifyInclusion(empty, 0, 1, [], h)).toBe(false);
    expect(verifyInclusion(h, 0, 1, [], empty)).toBe(false);
    expect(verifyInclusion(empty, 0, 1, [], empty)).toBe(false);
  });

  it('degenerate index/size probes (TestVerifyInclusion)', () => {
    for (const [index, size] of [[0, 0], [0, 1], [1, 0], [2, 1]] as const) {
      expect(verifyInclusion(SOME_HASH, index, size, [], new Uint8Array(0))).toBe(false);
      expect(verifyInclusion(new Uint8Array(0), index, size, [], emptyRoot())).toBe(false);
      expect(verifyInclusion(SOME_HASH, index, size, [], emptyRoot())).toBe(false);
    }
  });
});

describe('consistency proofs (published vectors)', () => {
  for (const v of CONSISTENCY_VECTORS) {
    describe(`${v.oldSize} -> ${v.newSize}`, () => {
      const proof = v.proof.map(unhex);
      const r1 = root(v.oldSize);
      const r2 = root(v.newSize);

      it('is generated exactly, from an array and from an accessor', () => {
        expect(hexes(consistencyProof(v.oldSize, v.newSize, VECTOR_LEAF_HASHES))).toEqual(v.proof);
        expect(hexes(consistencyProof(v.oldSize, v.newSize, (i) => VECTOR_LEAF_HASHES[i] as Uint8Array))).toEqual(v.proof);
      });

      it('verifies', () => {
        expect(verifyConsistency(v.oldSize, v.newSize, r1, r2, proof)).toBe(true);
      });

      // (Go runs the probes only for non-empty proofs; {1, 1} has none.)
      if (proof.length > 0) it('fails every corruption probe of corruptConsistencyProof', () => {
        const wrongRoot = new TextEncoder().encode('WrongRoot');
        const probes: [string, number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
          ['size1 - 1', v.oldSize - 1, v.newSize, r1, r2, proof],
          ['size1 + 1', v.oldSize + 1, v.newSize, r1, r2, proof],
          ['size1 ^ 2', v.oldSize ^ 2, v.newSize, r1, r2, proof],
          ['size2 * 2', v.oldSize, v.newSize * 2, r1, r2, proof],
          ['size2 / 2', v.oldSize, Math.floor(v.newSize / 2), r1, r2, proof],
          ['wrong root1', v.oldSize, v.newSize, wrongRoot, r2, proof],
          ['wrong root2', v.oldSize, v.newSize, r1, wrongRoot, proof],
          ['root1 bit flip', v.oldSize, v.newSize, flipBit(r1, 9), r2, proof],
          ['root2 bit flip', v.oldSize, v.newSize, r1, flipBit(r2, 9), proof],
          ['swapped roots', v.oldSize, v.newSize, r2, r1, proof],
          ['empty proof', v.oldSize, v.newSize, r1, r2, []],
          ['trailing garbage', v.oldSize, v.newSize, r1, r2, [...proof, new Uint8Array(0)]],
          ['trailing root1', v.oldSize, v.newSize, r1, r2, [...proof, r1]],
          ['trailing root2', v.oldSize, v.newSize, r1, r2, [...proof, r2]],
          ['preceding garbage', v.oldSize, v.newSize, r1, r2, [new Uint8Array(0), ...proof]],
          ['preceding root1', v.oldSize, v.newSize, r1, r2, [r1, ...proof]],
          ['preceding root2', v.oldSize, v.newSize, r1, r2, [r2, ...proof]],
          ['preceding proof[0]', v.oldSize, v.newSize, r1, r2, [proof[0] as Uint8Array, ...proof]],
          ['truncated proof', v.oldSize, v.newSize, r1, r2, proof.slice(0, -1)],
        ];
        proof.forEach((p, i) => probes.push([`modified proof[${i}] bit 4`, v.oldSize, v.newSize, r1, r2, withElement(proof, i, flipBit(p, 4))]));
        const accepted = probes.filter(([, m, n, a, b, p]) => verifyConsistency(m, n, a, b, p)).map(([d]) => d);
        expect(accepted).toEqual([]);
      });
    });
  }

  it('trivial and impossible size pairs (TestVerifyConsistency)', () => {
    // The Go test uses "don't care" roots; ours must be 32 bytes, and for size 0 we require the
    // empty-tree root (stricter than Go, which accepts any root for a size-0 tree).
    const r1 = refLeaf(new TextEncoder().encode("don't care 1"));
    const r2 = refLeaf(new TextEncoder().encode("don't care 2"));
    const e = emptyRoot();
    const cases: [number, number, Uint8Array, Uint8Array, Uint8Array[], boolean][] = [
      [0, 0, r1, r2, [], false],
      [1, 1, r1, r2, [], false],
      // always consistent
      [0, 0, e, e, [], true],
      [0, 1, e, r2, [], true],
      [1, 1, r2, r2, [], true],
      // time travel to the past
      [1, 0, r1, r2, [], false],
      [2, 1, r1, r2, [], false],
      // empty proof
      [1, 2, r1, r2, [], false],
      // roots don't match
      [0, 0, e, r2, [], false],
      [1, 1, e, r2, [], false],
      // roots match but the proof is not empty
      [0, 0, e, e, [e], false],
      [0, 1, e, e, [e], false],
      [1, 1, e, e, [e], false],
      // ours: a size-0 tree has exactly one root
      [0, 0, r1, r1, [], false],
      [0, 5, r1, r2, [], false],
    ];
    for (const [m, n, a, b, p, want] of cases) {
      expect(verifyConsistency(m, n, a, b, p), `${m} -> ${n}`).toBe(want);
    }
  });

  it('every pair of sizes 0..8 of the vector tree matches the reference and verifies', () => {
    for (let n = 0; n <= 8; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(m, n, VECTOR_LEAF_HASHES);
        expect(hexes(proof)).toEqual(hexes(refConsistency(m, VECTOR_LEAF_HASHES.slice(0, n))));
        expect(verifyConsistency(m, n, root(m), root(n), proof)).toBe(true);
      }
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, n, VECTOR_LEAF_HASHES);
        expect(hexes(proof)).toEqual(hexes(refPath(i, VECTOR_LEAF_HASHES.slice(0, n))));
        expect(verifyInclusion(VECTOR_LEAF_HASHES[i] as Uint8Array, i, n, proof, root(n))).toBe(true);
      }
    }
  });
});

describe('properties on random trees', () => {
  const treeSize = fc.integer({ min: 0, max: 300 });
  const seed = fc.integer({ min: 0, max: 0x7fffffff });

  it('frontier root equals rootFromLeafHashes and the reference for every prefix; clone is independent', () => {
    fc.assert(
      fc.property(treeSize, seed, fc.nat(), (n, s, cloneAtRaw) => {
        const leaves = makeLeaves(n, s);
        const frontier = new MerkleFrontier();
        const cloneAt = n === 0 ? 0 : cloneAtRaw % (n + 1);
        let snapshot: MerkleFrontier | undefined;
        let snapshotRoot = '';
        for (let i = 0; i <= n; i++) {
          if (i === cloneAt) {
            snapshot = frontier.clone();
            snapshotRoot = hex(frontier.root());
          }
          const want = hex(refMth(leaves.slice(0, i)));
          expect(frontier.size).toBe(i);
          expect(hex(frontier.root())).toBe(want);
          expect(hex(rootFromLeafHashes(leaves.slice(0, i)))).toBe(want);
          if (i < n) frontier.push(leaves[i] as Uint8Array);
        }
        // The clone does not see later pushes, and pushing into it does not touch the original.
        const clone = snapshot as MerkleFrontier;
        expect(clone.size).toBe(cloneAt);
        expect(hex(clone.root())).toBe(snapshotRoot);
        const rootBefore = hex(frontier.root());
        clone.push(refLeaf(Uint8Array.of(1, 2, 3)));
        expect(hex(clone.root())).toBe(hex(refMth([...leaves.slice(0, cloneAt), refLeaf(Uint8Array.of(1, 2, 3))])));
        expect(hex(frontier.root())).toBe(rootBefore);
      }),
      { numRuns: 25 },
    );
  });

  it('frontier copies pushed hashes and hands out copies', () => {
    const frontier = new MerkleFrontier();
    const reused = new Uint8Array(32);
    const leaves: Uint8Array[] = [];
    for (let i = 0; i < 11; i++) {
      reused.fill(i + 1);
      leaves.push(new Uint8Array(reused));
      frontier.push(reused);
    }
    const r = frontier.root();
    expect(hex(r)).toBe(hex(refMth(leaves)));
    r.fill(0);
    expect(hex(frontier.root())).toBe(hex(refMth(leaves)));
    const single = new MerkleFrontier();
    single.push(leaves[0] as Uint8Array);
    single.root().fill(0);
    expect(hex(single.root())).toBe(hex(leaves[0] as Uint8Array));
  });

  it('every inclusion proof matches the reference, verifies, and fails when anything is altered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), seed, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 700 }), (n, s, rawIndex, bit, otherSize) => {
        const leaves = makeLeaves(n, s);
        const index = rawIndex % n;
        const leaf = leaves[index] as Uint8Array;
        const r = refMth(leaves);
        const proof = inclusionProof(index, n, leaves);
        expect(hexes(proof)).toEqual(hexes(refPath(index, leaves)));
        expect(hexes(inclusionProof(index, n, (i) => leaves[i] as Uint8Array))).toEqual(hexes(proof));
        expect(verifyInclusion(leaf, index, n, proof, r)).toBe(true);

        // any proof element altered
        for (let i = 0; i < proof.length; i++) {
          expect(verifyInclusion(leaf, index, n, withElement(proof, i, flipBit(proof[i] as Uint8Array, bit)), r)).toBe(false);
        }
        // the leaf or the root altered
        expect(verifyInclusion(flipBit(leaf, bit), index, n, proof, r)).toBe(false);
        expect(verifyInclusion(leaf, index, n, proof, flipBit(r, bit))).toBe(false);
        // the proof shortened or lengthened
        if (proof.length > 0) expect(verifyInclusion(leaf, index, n, proof.slice(0, -1), r)).toBe(false);
        expect(verifyInclusion(leaf, index, n, [...proof, r], r)).toBe(false);
        expect(verifyInclusion(leaf, index, n, [SOME_HASH, ...proof], r)).toBe(false);
        // any other index in the tree (and out of range)
        for (const other of new Set([index - 1, index + 1, index ^ 1, index ^ 2, (index + (bit % n)) % n, n, -1])) {
          if (other === index) continue;
          expect(verifyInclusion(leaf, other, n, proof, r)).toBe(false);
        }
        // Another tree size: the proof does not commit to the size, only the caller's root does;
        // it verifies exactly when the other size gives the same path shape for this index.
        for (const size of new Set([n - 1, n + 1, n * 2, Math.floor(n / 2), otherSize])) {
          if (size === n) continue;
          const sameShape = size > index && pathShape(index, size) === pathShape(index, n);
          expect(verifyInclusion(leaf, index, size, proof, r)).toBe(sameShape);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('every consistency proof matches the reference, verifies, and fails when altered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), seed, fc.nat(), fc.nat(), fc.nat(), fc.nat(), (n, s, rawM, bit, rawM2, rawN2) => {
        const big = makeLeaves(Math.max(n, 1) * 2 + 1, s);
        const leaves = big.slice(0, n);
        const m = rawM % (n + 1);
        const r1 = refMth(leaves.slice(0, m));
        const r2 = refMth(leaves);
        const proof = consistencyProof(m, n, leaves);
        expect(hexes(proof)).toEqual(hexes(refConsistency(m, leaves)));
        expect(hexes(consistencyProof(m, n, (i) => leaves[i] as Uint8Array))).toEqual(hexes(proof));
        expect(verifyConsistency(m, n, r1, r2, proof)).toBe(true);

        // roots altered
        expect(verifyConsistency(m, n, flipBit(r1, bit), r2, proof)).toBe(false);
        // (Every tree extends the empty tree: with m = 0 there is nothing to check the new root against.)
        expect(verifyConsistency(m, n, r1, flipBit(r2, bit), proof)).toBe(m === 0 && n > 0);
        if (!bytesEqual(r1, r2)) expect(verifyConsistency(m, n, r2, r1, proof)).toBe(false);
        // proof altered, shortened, lengthened
        for (let i = 0; i < proof.length; i++) {
          expect(verifyConsistency(m, n, r1, r2, withElement(proof, i, flipBit(proof[i] as Uint8Array, bit)))).toBe(false);
        }
        if (proof.length > 0) expect(verifyConsistency(m, n, r1, r2, proof.slice(0, -1))).toBe(false);
        expect(verifyConsistency(m, n, r1, r2, [...proof, r2])).toBe(false);
        expect(verifyConsistency(m, n, r1, r2, [r1, ...proof])).toBe(false);
        // Other sizes: a verifier accepts only a proof of exactly the length the sizes call for,
        // so any size pair whose proof has another length must fail.
        const m2 = rawM2 % (2 * n + 2);
        const n2 = rawN2 % (2 * n + 2);
        for (const [mm, nn] of [[m - 1, n], [m + 1, n], [m, n + 1], [m, n - 1], [m, 2 * n], [m2, n2], [n, m]] as const) {
          if (mm === m && nn === n) continue;
          const result = verifyConsistency(mm, nn, r1, r2, proof);
          if (mm < 0 || nn < 0 || mm > nn) {
            expect(result).toBe(false);
          } else if (refConsistency(mm, big.slice(0, nn)).length !== proof.length) {
            expect(result).toBe(false);
          }
        }
        // Consistency agrees with inclusion: the old root's last leaf is in the new tree.
        if (m > 0) {
          expect(verifyInclusion(leaves[m - 1] as Uint8Array, m - 1, n, inclusionProof(m - 1, n, leaves), r2)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('verifiers return false, never throw, on garbage', () => {
    const anything = fc.anything();
    fc.assert(
      fc.property(anything, anything, anything, anything, anything, (a, b, c, d, e) => {
        const vi = verifyInclusion as (...args: unknown[]) => unknown;
        const vc = verifyConsistency as (...args: unknown[]) => unknown;
        expect(vi(a, b, c, d, e)).toBe(false);
        expect(vc(a, b, c, d, e)).toBe(false);
      }),
      { numRuns: 300 },
    );

    const count = fc.oneof(
      fc.integer({ min: -3, max: 40 }),
      fc.constantFrom(NaN, Infinity, -Infinity, 0.5, 2 ** 53, 2 ** 60, -0),
      fc.double(),
    );
    const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 });
    const proofLike = fc.array(fc.oneof(bytes, fc.uint8Array({ minLength: 32, maxLength: 32 })), { maxLength: 12 });
    fc.assert(
      fc.property(bytes, count, count, proofLike, bytes, (h1, x, y, p, h2) => {
        const inc = verifyInclusion(h1, x, y, p, h2);
        const con = verifyConsistency(x, y, h1, h2, p);
        expect(typeof inc).toBe('boolean');
        expect(typeof con).toBe('boolean');
        const malformed =
          h1.length !== 32 || h2.length !== 32 || p.some((e) => e.length !== 32) || ![x, y].every((v) => Number.isSafeInteger(v) && v >= 0);
        if (malformed) {
          expect(inc).toBe(false);
          expect(con).toBe(false);
        }
      }),
      { numRuns: 500 },
    );

    const h = VECTOR_LEAF_HASHES[0] as Uint8Array;
    const evil: Uint8Array[] = [h];
    Object.defineProperty(evil, 0, {
      get() {
        throw new Error('boom');
      },
    });
    expect(verifyInclusion(h, 0, 2, evil, root(2))).toBe(false);
    expect(verifyConsistency(1, 2, root(1), root(2), evil)).toBe(false);
    const huge = Array.from({ length: 10_000 }, () => h);
    expect(verifyInclusion(h, 0, 2 ** 40, huge, root(2))).toBe(false);
    expect(verifyConsistency(3, 2 ** 40, root(3), root(2), huge)).toBe(false);
  });

  it('bytesEqual', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Buffer.from([1, 2]))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect(bytesEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});

describe('large sizes (no 32-bit arithmetic)', () => {
  it('verifies a hand-built proof for the last leaf of a 2^33 + 1 leaf tree', () => {
    // Tree of 2^33 + 1 leaves: left is a perfect subtree of 2^33 leaves (opaque here), right is
    // the single last leaf. Its inclusion proof is [left root]; consistency 2^33 -> 2^33 + 1 is
    // [last leaf] (the old size is a power of two, so the old root is implied).
    const leftRoot = SOME_HASH;
    const last = VECTOR_LEAF_HASHES[7] as Uint8Array;
    const n = 2 ** 33 + 1;
    const r = nodeHash(leftRoot, last);
    expect(verifyInclusion(last, n - 1, n, [leftRoot], r)).toBe(true);
    expect(verifyInclusion(last, n - 1 - 2 ** 32, n, [leftRoot], r)).toBe(false);
    expect(verifyInclusion(last, n - 1, n + 2 ** 32, [leftRoot], r)).toBe(false);
    expect(verifyConsistency(2 ** 33, n, leftRoot, r, [last])).toBe(true);
    expect(verifyConsistency(2 ** 32, n, leftRoot, r, [last])).toBe(false);
  });
});

describe('errors', () => {
  const leaves = VECTOR_LEAF_HASHES;

  it('inclusionProof rejects out-of-range and non-integer arguments', () => {
    expectProofInvalid(() => inclusionProof(8, 8, leaves), '8');
    expectProofInvalid(() => inclusionProof(9, 8, leaves), '9', '8');
    expectProofInvalid(() => inclusionProof(0, 0, leaves), '0');
    expectProofInvalid(() => inclusionProof(-1, 8, leaves), '-1');
    expectProofInvalid(() => inclusionProof(1.5, 8, leaves), '1.5');
    expectProofInvalid(() => inclusionProof(NaN, 8, leaves), 'NaN');
    expectProofInvalid(() => inclusionProof(0, -3, leaves), '-3');
    expectProofInvalid(() => inclusionProof(0, 2.5, leaves), '2.5');
    expectProofInvalid(() => inclusionProof(0, Infinity, leaves), 'Infinity');
    expectProofInvalid(() => inclusionProof(0, 2 ** 60, leaves));
  });

  it('consistencyProof rejects out-of-range and non-integer arguments', () => {
    expectProofInvalid(() => consistencyProof(5, 4, leaves), '5', '4');
    expectProofInvalid(() => consistencyProof(9, 8, leaves), '9', '8');
    expectProofInvalid(() => consistencyProof(-1, 4, leaves), '-1');
    expectProofInvalid(() => consistencyProof(1, -4, leaves), '-4');
    expectProofInvalid(() => consistencyProof(1, 2.5, leaves), '2.5');
    expectProofInvalid(() => consistencyProof(NaN, 3, leaves), 'NaN');
  });

  it('generators reject a leaf source that is too short or yields bad hashes', () => {
    expectProofInvalid(() => inclusionProof(0, 9, leaves), '8', '9');
    expectProofInvalid(() => consistencyProof(1, 9, leaves), '8', '9');
    expectProofInvalid(() => inclusionProof(0, 4, () => new Uint8Array(31)), '31');
    expectProofInvalid(() => consistencyProof(1, 4, (i) => (i === 3 ? (undefined as unknown as Uint8Array) : (leaves[i] as Uint8Array))), '3');
    expectProofInvalid(() => inclusionProof(0, 2, 'nope' as unknown as LeafSource));
    expectProofInvalid(() => rootFromLeafHashes([new Uint8Array(33)]), '33');
    expectProofInvalid(() => new MerkleFrontier().push(new Uint8Array(0)), '0');
  });

  it('an accessor is only asked for leaves below the tree size', () => {
    const asked: number[] = [];
    const source = (i: number): Uint8Array => {
      asked.push(i);
      return leaves[i] as Uint8Array;
    };
    inclusionProof(5, 6, source);
    consistencyProof(3, 6, source);
    expect(asked.length).toBeGreaterThan(0);
    expect(Math.max(...asked)).toBeLessThan(6);
    expect(Math.min(...asked)).toBeGreaterThanOrEqual(0);
  });

  it('a size-0 or equal-size consistency proof is empty, not an error', () => {
    expect(consistencyProof(0, 0, [])).toEqual([]);
    expect(consistencyProof(0, 8, leaves)).toEqual([]);
    expect(consistencyProof(8, 8, leaves)).toEqual([]);
  });
});

describe('subtree pushes (the verifier hashes each batch\'s subtrees in its worker threads)', () => {
  it('give the same frontier as pushing the leaves one by one, for any batches and any stops inside them', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (batchSizes, stops) => {
        const total = batchSizes.reduce((a, b) => a + b, 0);
        const leaves = Array.from({ length: total }, (_, i) => leafHash(new Uint8Array([i & 0xff, i >> 8])));
        const byOne = new MerkleFrontier();
        const bySubtrees = new MerkleFrontier();
        let start = 0;
        for (const n of batchSizes) {
          const flat = new Uint8Array(n * HASH_SIZE);
          for (let i = 0; i < n; i++) flat.set(leaves[start + i] as Uint8Array, i * HASH_SIZE);
          const run = subtreeLevels(flat, start);
          const inside = [...new Set(stops.map((s) => start + 1 + (s % n)))].sort((a, b) => a - b);
          for (const to of [...inside, start + n]) {
            while (byOne.size < to) byOne.push(leaves[byOne.size] as Uint8Array);
            pushRange(bySubtrees, run, to);
            expect(bySubtrees.size).toBe(to);
            expect(Buffer.from(bySubtrees.root()).toString('hex')).toBe(Buffer.from(byOne.root()).toString('hex'));
          }
          start += n;
        }
        // The subtree roots the size's bits stand for (the other levels hold nothing meaningful).
        const meaningful = (f: MerkleFrontier) => f.toState().levels.filter((_, level) => Math.floor(f.size / 2 ** level) % 2 === 1);
        expect(meaningful(bySubtrees)).toEqual(meaningful(byOne));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a subtree where its leaves would not sit', () => {
    const f = new MerkleFrontier();
    f.push(leafHash(new Uint8Array([1])));
    expect(() => f.pushSubtree(leafHash(new Uint8Array([2])), 1)).toThrow(CustodyError);
  });
});
