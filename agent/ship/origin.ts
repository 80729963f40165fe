/**
 * What the shipper may assume about a vault it has no position for. Its own small module so that the
 * agent can record it when it creates a store without loading shipping (and the AWS SDK) at all.
 */
import type { StateStore } from '../../src/store/state-store.js';

/**
 * `{ store_id, vaults }`: this state database has existed since the store was created (the agent
 * that created the store wrote it: recordShippingOrigin), and `vaults` are all it ever shipped to.
 * So to any other vault nothing of this store was ever sent, and its first round needs no LIST.
 */
export const ORIGIN_KEY = 'ship.origin';

export interface ShippingOrigin {
  store_id: string;
  vaults: string[];
  /**
   * The boot it was written in. The state database is written without an fsync per commit (it is
   * a cache), so a power loss can take its newest writes with it; a reboot since is when they may be gone.
   */
  boot_id?: string;
}

/**
 * Called by whoever creates a store together with its state database (the agent, on its first
 * start): from now on every shipping of this store is recorded here. A state database without it
 * (lost and made anew, or from an older version) makes the first round to a vault ask the vault.
 */
export function recordShippingOrigin(state: StateStore, storeId: string, bootId?: string): void {
  state.set(ORIGIN_KEY, { store_id: storeId, vaults: [], ...(bootId !== undefined ? { boot_id: bootId } : {}) } satisfies ShippingOrigin);
}
