/**
 * Pieces of the vault tests' store histories: a rotated log preserved whole (a blob the vault
 * ships), and a store closed with its final checkpoint and shipped with the agent's own shipper.
 */
import { shipStore } from '../../agent/ship/shipper.js';
import type { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import type { VaultClient } from '../../src/vault/s3.js';

/** A rotated auth.log of `host`, preserved whole: a log.file record whose content is a blob. */
export function preserveRotatedLog(store: EvidenceStore, host: string): void {
  const content = Buffer.from(`rotated log of ${host}\n`.repeat(30));
  const sha = store.putBlob(content);
  store.append('log.file', 'file:/var/log/auth.log', { path: '/var/log/auth.log.1', size: content.length, mtime: '2026-12-01T00:00:00.000000Z', sha256: sha, reason: 'rotated', content: 'stored' });
}

/** Closes the store (sealing it with a final checkpoint) and ships everything to the vault. */
export async function closeAndShip(store: EvidenceStore, dir: string, client: VaultClient): Promise<void> {
  store.close({ finalCheckpoint: true });
  const state = new StateStore(dir);
  try {
    await shipStore(dir, client, state);
  } finally {
    state.close();
  }
}
