/**
 * The shipping plan (agent/ship/plan.ts): the order the issue asks for, and the property resuming
 * rests on: after any number of acknowledged items, planning again gives exactly the rest of the
 * plan under exactly the same names (nothing skipped, nothing shipped twice under a new name).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { framedFrom, NOTHING_ACKNOWLEDGED, planShipping, segmentObject, type Acknowledged, type ShipItem, type ShippableStore } from '../../agent/ship/plan.js';
import { leafHash, MerkleFrontier, rootFromLeafHashes } from '../../src/integrity/merkle.js';
import { parseObjectKey } from '../../src/vault/layout.js';
import { decodeSegment, segmentRoot } from '../../src/vault/segment.js';

const STORE: ShippableStore = {
  host: 'web-01',
  storeId: 'd'.repeat(32),
  checkpoints: [
    { id: 1, treeSize: 100 },
    { id: 2, treeSize: 141 },
    { id: 3, treeSize: 141 }, // an epoch boundary with nothing new: no segment of its own
    { id: 4, treeSize: 250 },
  ],
  tsaTokens: [
    { id: 1, checkpointId: 1 },
    { id: 2, checkpointId: 4 },
  ],
  certificateEpochs: [1],
  blobs: ['f'.repeat(64), '0'.repeat(64)],
};

function ack(acked: Acknowledged, item: ShipItem): Acknowledged {
  switch (item.kind) {
    case 'enrollment':
      return { ...acked, enrollment: true };
    case 'checkpoint':
      return { ...acked, checkpointId: item.checkpointId };
    case 'tsa-token':
      return { ...acked, tsaTokenId: item.tokenId };
    case 'key-certificate':
      return { ...acked, certificateEpoch: item.epoch };
    case 'segment':
      return { ...acked, segmentEnd: item.end };
    case 'blob':
      return { ...acked, blobs: new Set([...acked.blobs, item.sha256]) };
  }
}

const label = (i: ShipItem): string => (i.kind === 'segment' ? `segment ${i.start}-${i.end}` : `${i.kind} ${i.key.split('/').slice(-2).join('/')}`);

describe('shipping plan', () => {
  it('ships the enrollment key, then seals (each with its time stamps), certificates, segments, blobs', () => {
    const plan = planShipping('', STORE, NOTHING_ACKNOWLEDGED);
    expect(plan.map((i) => i.kind)).toEqual(['enrollment', 'checkpoint', 'tsa-token', 'checkpoint', 'checkpoint', 'checkpoint', 'tsa-token', 'key-certificate', 'segment', 'segment', 'segment', 'blob', 'blob']);
    expect(plan.filter((i) => i.kind === 'segment').map(label)).toEqual(['segment 0-100', 'segment 100-141', 'segment 141-250']);
    for (const item of plan) {
      if (item.kind === 'segment') continue;
      expect(parseObjectKey('', item.key)).toMatchObject({ host: 'web-01', storeId: STORE.storeId });
    }
    const tsa = plan.filter((i) => i.kind === 'tsa-token');
    expect(tsa.map((t) => parseObjectKey('', t.key))).toEqual([
      { type: 'tsa-token', host: 'web-01', storeId: STORE.storeId, treeSize: 100, checkpointId: 1, tokenId: 1 },
      { type: 'tsa-token', host: 'web-01', storeId: STORE.storeId, treeSize: 250, checkpointId: 4, tokenId: 2 },
    ]);
  });

  it('after any number of acknowledged items, planning again gives exactly the rest, under the same names', () => {
    const full = planShipping('site', STORE, NOTHING_ACKNOWLEDGED);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.length }), (done) => {
        let acked = NOTHING_ACKNOWLEDGED;
        for (const item of full.slice(0, done)) acked = ack(acked, item);
        expect(planShipping('site', STORE, acked)).toEqual(full.slice(done));
      }),
    );
  });

  it('a store that grew (and a time stamp that came late) adds only the new items', () => {
    let acked = NOTHING_ACKNOWLEDGED;
    for (const item of planShipping('', STORE, NOTHING_ACKNOWLEDGED)) acked = ack(acked, item);
    expect(planShipping('', STORE, acked)).toEqual([]);
    const grown: ShippableStore = { ...STORE, checkpoints: [...STORE.checkpoints, { id: 5, treeSize: 300 }], tsaTokens: [...STORE.tsaTokens, { id: 3, checkpointId: 2 }] };
    expect(planShipping('', grown, acked).map(label)).toEqual([
      `tsa-token checkpoints/${'9007199254740850'}-${'9007199254740989'}.tsa-0000000000000003.tsr`,
      `checkpoint checkpoints/${'9007199254740691'}-${'9007199254740986'}.note`,
      'segment 250-300',
    ]);
  });

  it('a segment object recomputes the root of all records up to its end, and names its time range', () => {
    const records = Array.from({ length: 23 }, (_, i) => ({ bytes: new TextEncoder().encode(`{"seq":${i}}`), observedAt: `2026-12-04T10:00:${String(59 - i).padStart(2, '0')}.000000Z` }));
    const first = segmentObject('', 'web-01', STORE.storeId, new MerkleFrontier().toState(), framedFrom(records.slice(0, 10)));
    const second = segmentObject('', 'web-01', STORE.storeId, first.after, framedFrom(records.slice(10)));
    expect(parseObjectKey('', second.key)).toEqual({
      type: 'segment', host: 'web-01', storeId: STORE.storeId, start: 10, end: 23, minObserved: '2026-12-04T10:00:37.000000Z', maxObserved: '2026-12-04T10:00:49.000000Z',
    });
    const all = rootFromLeafHashes(records.map((r) => leafHash(r.bytes)));
    expect(Buffer.from(segmentRoot(decodeSegment(second.body))).equals(Buffer.from(all))).toBe(true);
    // A record whose time is not in the records' own form: the range is unknown, never wrong.
    const odd = segmentObject('', 'web-01', STORE.storeId, first.after, framedFrom([{ bytes: records[10]!.bytes, observedAt: '2026-12-04T10:00:00Z' }]));
    expect(parseObjectKey('', odd.key)).toMatchObject({ minObserved: undefined, maxObserved: undefined });
  });
});
