/**
 * Enrollment: creating a store and its epoch-0 signing key. The fingerprint printed here is what an
 * admin records, and what an examiner later pins with `custody verify --key`.
 */
import { hostname } from 'node:os';
import type { Clock } from '../src/clock.js';
import { EvidenceStore } from '../src/store/evidence-store.js';
import type { Enrollment } from '../src/store/keyfiles.js';

/** This machine's name, reduced to the characters a store's origin line allows. */
export function defaultHostName(): string {
  const name = hostname().replace(/[^A-Za-z0-9._-]/g, '-');
  return name === '' ? 'localhost' : name;
}

export function enrollStore(storeDir: string, options: { host?: string; clock?: Clock } = {}): Enrollment {
  const { store, enrollment } = EvidenceStore.create(storeDir, {
    host: options.host ?? defaultHostName(),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  store.close();
  return enrollment;
}
