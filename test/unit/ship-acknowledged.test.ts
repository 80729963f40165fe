/**
 * What the state database says was acknowledged (agent/ship/shipper.ts loadAcknowledged), as
 * `agent status` and the shipper read it: the watermarks of this vault and, given a store id, of
 * that store only. A real state database in a temporary folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOTHING_ACKNOWLEDGED } from '../../agent/ship/plan.js';
import { loadAcknowledged } from '../../agent/ship/shipper.js';
import { StateStore } from '../../src/store/state-store.js';

describe('loadAcknowledged', () => {
  let dir: string;
  let state: StateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'custody-ship-ack-'));
    state = new StateStore(dir);
    state.set('ship.acknowledged', { vault: 's3://b-1/fleet', storeId: 'a'.repeat(32), enrollment: true, checkpointId: 3, tsaTokenId: 2, certificateEpoch: 0, segmentEnd: 100, inFlight: ['x'], frontier: { size: 100, levels: [] } });
    state.set(`ship.blob.${'f'.repeat(64)}`, 's3://b-1/fleet');
  });
  afterEach(() => {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the watermarks and blobs only: not the store id, the frontier or the names in flight', () => {
    const acked = loadAcknowledged(state, 's3://b-1/fleet');
    expect(acked).toEqual({ enrollment: true, checkpointId: 3, tsaTokenId: 2, certificateEpoch: 0, segmentEnd: 100, blobs: new Set(['f'.repeat(64)]) });
    expect(loadAcknowledged(state, 's3://b-1/fleet', 'a'.repeat(32))).toEqual(acked);
  });

  it('gives nothing for another vault, or for a store made anew beside the old state database', () => {
    expect(loadAcknowledged(state, 's3://b-2')).toEqual(NOTHING_ACKNOWLEDGED);
    expect(loadAcknowledged(state, 's3://b-1/fleet', 'b'.repeat(32))).toEqual(NOTHING_ACKNOWLEDGED);
  });
});
