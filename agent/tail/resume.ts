/**
 * Brings the ingest cursors up to the truth of the evidence store on start: take the cached fold
 * from the state database (if it is one we understand and not ahead of the store), then fold every
 * committed record written after it. A crash between an evidence commit and the state write only
 * means a longer tail to fold, never a duplicate or a lost line.
 */
import type { EvidenceStore } from '../../src/store/evidence-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { applyEffect, effectOfRecord, fromCache, type CursorMap } from './cursor.js';

export const CURSOR_STATE_KEY = 'ingest.cursors';
const FOLDED_KINDS = new Set(['log.line', 'agent.gap', 'log.file']);

export interface ResumeResult {
  cursors: CursorMap;
  compressed: Set<string>;
  /** Where the fold started (the cache's seq, or 0). */
  fromSeq: number;
  /** Records folded after the cache. */
  folded: number;
  cache: 'used' | 'missing' | 'invalid' | 'ahead_of_store';
  /** True when no record of this ingestor exists at all (a first start). */
  firstRun: boolean;
}

export function resumeFromEvidence(store: EvidenceStore, state: StateStore): ResumeResult {
  let cursors: CursorMap = new Map();
  let compressed = new Set<string>();
  let fromSeq = 0;
  let cache: ResumeResult['cache'] = 'missing';
  let raw: unknown;
  try {
    raw = state.get(CURSOR_STATE_KEY);
  } catch {
    raw = undefined;
  }
  if (raw !== undefined) {
    const parsed = fromCache(raw);
    if (!parsed) cache = 'invalid';
    else if (parsed.seq > store.size) cache = 'ahead_of_store';
    else {
      cache = 'used';
      cursors = parsed.cursors;
      compressed = parsed.compressed;
      fromSeq = parsed.seq;
    }
  }
  let sawOwn = cache === 'used' && (cursors.size > 0 || compressed.size > 0);
  let folded = 0;
  for (const row of store.records(fromSeq)) {
    if (!FOLDED_KINDS.has(row.kind)) continue;
    // Our own committed bytes: plain JSON.parse is enough here (verification is `custody verify`'s job).
    const record = JSON.parse(Buffer.from(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength).toString('utf8')) as Record<string, unknown>;
    const effect = effectOfRecord(record);
    if (!effect) continue;
    sawOwn = true;
    applyEffect(cursors, compressed, effect);
    folded++;
  }
  return { cursors, compressed, fromSeq, folded, cache, firstRun: !sawOwn };
}
