/**
 * Brings the ingest cursors up to the truth of the evidence store on start: take the cached fold
 * from the state database (if it is one we understand and not ahead of the store), then fold every
 * committed record written after it. A crash between an evidence commit and the state write only
 * means a longer tail to fold, never a duplicate or a lost line.
 *
 * The cache is checked against the evidence before it is used (cursor-check.ts): the records before
 * the cache's seq are searched backwards, in windows that double (4,096 records, then 8,192, …),
 * until the last record of every cached file identity is found, which for files written recently is
 * a few windows. A file quiet for a long time makes the search longer, never longer than one read
 * of the store. A cache that disagrees is dropped and the evidence is folded from seq 0.
 */
import type { EvidenceStore } from '../../src/store/evidence-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { applyEffect, effectOfRecord, fromCache, type CursorEffect, type CursorMap } from './cursor.js';
import { compressedDisagreements, cursorDisagreements, effectKey } from './cursor-check.js';

export const CURSOR_STATE_KEY = 'ingest.cursors';
const FOLDED_KINDS = new Set(['log.line', 'agent.gap', 'log.file']);
/** The first window of the backward search for the cached identities' last records. */
const FIRST_WINDOW_RECORDS = 4096;

export interface ResumeResult {
  cursors: CursorMap;
  compressed: Set<string>;
  /** Where the fold started (the cache's seq, or 0). */
  fromSeq: number;
  /** Records folded after the cache. */
  folded: number;
  cache: 'used' | 'missing' | 'invalid' | 'ahead_of_store' | 'disagrees_with_evidence';
  /** Why a cache that was read was not used (cursor-check.ts), one sentence each. */
  disagreements: string[];
  /** True when no record of this ingestor exists at all (a first start). */
  firstRun: boolean;
}

export function resumeFromEvidence(store: EvidenceStore, state: StateStore): ResumeResult {
  let cursors: CursorMap = new Map();
  let compressed = new Set<string>();
  let fromSeq = 0;
  let cache: ResumeResult['cache'] = 'missing';
  let disagreements: string[] = [];
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
      const found = lastEffectsBefore(store, parsed.seq, new Set(parsed.cursors.keys()));
      disagreements = [
        ...cursorDisagreements(parsed.cursors, found.effects, parsed.seq, found.searchedFrom),
        // An empty set can only make the agent preserve a file again, never skip one: no scan then.
        ...(parsed.compressed.size > 0 ? compressedDisagreements(parsed.compressed, compressedPreservedBefore(store, parsed.seq), parsed.seq) : []),
      ];
      if (disagreements.length > 0) cache = 'disagrees_with_evidence';
      else {
        cache = 'used';
        cursors = parsed.cursors;
        compressed = parsed.compressed;
        fromSeq = parsed.seq;
      }
    }
  }
  let sawOwn = cache === 'used' && (cursors.size > 0 || compressed.size > 0);
  let folded = 0;
  for (const row of store.records(fromSeq)) {
    if (!FOLDED_KINDS.has(row.kind)) continue;
    const effect = effectOfRow(row);
    if (!effect) continue;
    sawOwn = true;
    applyEffect(cursors, compressed, effect);
    folded++;
  }
  return { cursors, compressed, fromSeq, folded, cache, disagreements, firstRun: !sawOwn };
}

function effectOfRow(row: { bytes: Uint8Array }): CursorEffect | undefined {
  // Our own committed bytes: plain JSON.parse is enough here (verification is `custody verify`'s job).
  return effectOfRecord(JSON.parse(Buffer.from(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength).toString('utf8')) as Record<string, unknown>);
}

/**
 * The keys of the compressed files the evidence preserved before `beforeSeq`. Compressed rotations
 * are few but may be old, so this reads every `log.file` (SQLite filters by kind; only those
 * records are decoded): one pass over the store on a start whose cache lists any.
 */
export function compressedPreservedBefore(store: EvidenceStore, beforeSeq: number): Set<string> {
  const keys = new Set<string>();
  for (const row of store.recordsOfKinds(['log.file'])) {
    if (row.seq >= beforeSeq) break;
    const effect = effectOfRow(row);
    if (effect?.t === 'compressed') keys.add(effect.key);
  }
  return keys;
}

/**
 * The last cursor effect of each file identity in the records before `beforeSeq`, searched
 * backwards in doubling windows until every `wanted` identity is found (or seq 0 is reached). Also
 * holds every other identity met on the way, so a cursor missing from the cache can be noticed.
 */
export function lastEffectsBefore(store: EvidenceStore, beforeSeq: number, wanted: ReadonlySet<string>): { effects: Map<string, CursorEffect>; searchedFrom: number } {
  const effects = new Map<string, CursorEffect>();
  const pending = new Set(wanted);
  let hi = Math.min(beforeSeq, store.size);
  let window = FIRST_WINDOW_RECORDS;
  while (hi > 0 && pending.size > 0) {
    const lo = Math.max(0, hi - window);
    const lastInWindow = new Map<string, CursorEffect>();
    for (const row of store.records(lo)) {
      if (row.seq >= hi) break;
      if (!FOLDED_KINDS.has(row.kind)) continue;
      const effect = effectOfRow(row);
      const key = effect && effectKey(effect);
      if (key !== undefined && effect) lastInWindow.set(key, effect);
    }
    for (const [key, effect] of lastInWindow) {
      if (effects.has(key)) continue; // a later window already had a later record
      effects.set(key, effect);
      pending.delete(key);
    }
    hi = lo;
    window *= 2;
  }
  return { effects, searchedFrom: hi };
}
