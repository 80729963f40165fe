/**
 * Does the cached fold in the state database agree with the evidence? Pure: no I/O.
 *
 * The cursor cache (`ingest.cursors` in state.sqlite) is only a shortcut: anyone who can write the
 * state database can move a read position forward (the agent would skip lines and say nothing),
 * backward (it would record lines twice) or onto another inode. So before the agent trusts a cached
 * cursor it compares it with the last record the evidence holds for that file identity before the
 * cache's seq: a `log.line` fixes the offset (its offset + length, + 1 for a complete line), the
 * line number and the bytes just before the offset (the window that is compared with the file on
 * disk when reading resumes); an `agent.gap` that restarts or skips fixes the offset with no
 * window; a gap for a vanished file or a `log.file` for a finished rotation says there is no cursor.
 * The cache's set of compressed files already preserved is checked too: a key in it that no
 * `log.file` of the evidence carries would make the agent skip that file for good, silently.
 * Any disagreement and the whole cache is discarded: resume.ts then folds the evidence from seq 0,
 * which costs a full read of the store once but can only give what the evidence proves.
 */
import { identityKey, type Cursor, type CursorEffect, type CursorMap } from './cursor.js';

/** The cursor an identity's last effect leaves (undefined: the identity is finished). */
function cursorAfter(effect: Exclude<CursorEffect, { t: 'compressed' }>): Omit<Cursor, 'path'> & { path?: string } | undefined {
  switch (effect.t) {
    case 'line':
      return { path: effect.path, dev: effect.dev, ino: effect.ino, offset: effect.end, lineNo: effect.nextLineNo, window: effect.window };
    case 'reset':
      return { path: effect.path, dev: effect.dev, ino: effect.ino, offset: effect.offset, lineNo: 1, window: Buffer.alloc(0) };
    case 'close':
      return undefined;
  }
}

/** The identity key an effect is about, or undefined for a compressed-file effect. */
export function effectKey(effect: CursorEffect): string | undefined {
  return effect.t === 'compressed' ? undefined : identityKey(effect.dev, effect.ino);
}

/**
 * Where the cached cursors and the evidence disagree, one sentence each (empty when they agree).
 * `lastEffects` holds, per identity key, the last effect the evidence records before the cache's
 * seq, for every cached identity it could find and every other identity met on the way;
 * `searchedFrom` is the lowest seq that was searched (0 when the whole store was).
 */
export function cursorDisagreements(cached: CursorMap, lastEffects: ReadonlyMap<string, CursorEffect>, cacheSeq: number, searchedFrom: number): string[] {
  const out: string[] = [];
  for (const [key, c] of cached) {
    const name = `${c.path} (dev ${c.dev}, inode ${c.ino})`;
    const effect = lastEffects.get(key);
    if (effect === undefined || effect.t === 'compressed') {
      out.push(`${name}: the cache has a cursor at offset ${c.offset}, but the evidence before seq ${cacheSeq} holds no record of this file`);
      continue;
    }
    const truth = cursorAfter(effect);
    if (truth === undefined) {
      out.push(`${name}: the cache has a cursor at offset ${c.offset}, but the evidence finished this file before seq ${cacheSeq}`);
      continue;
    }
    if (truth.offset !== c.offset) out.push(`${name}: the cache says offset ${c.offset}, the evidence says ${truth.offset}`);
    else if (truth.lineNo !== c.lineNo) out.push(`${name}: the cache says line ${c.lineNo}, the evidence says ${truth.lineNo}`);
    else if (!truth.window.equals(c.window)) out.push(`${name}: the cache's bytes before offset ${c.offset} are not the ones the evidence recorded`);
    else if (truth.path !== undefined && truth.path !== c.path) out.push(`${name}: the cache names the file ${c.path}, the evidence ${truth.path}`);
  }
  for (const [key, effect] of lastEffects) {
    if (cached.has(key) || effect.t === 'compressed' || effect.t === 'close') continue;
    const truth = cursorAfter(effect);
    out.push(`${truth?.path ?? key} (dev ${effect.dev}, inode ${effect.ino}): the evidence (searched from seq ${searchedFrom}) reads this file up to offset ${truth?.offset ?? 0}, but the cache has no cursor for it`);
  }
  return out;
}

/**
 * Where the cached set of preserved compressed files and the evidence disagree (empty when they
 * agree). `preserved` holds the keys of every compressed `log.file` the evidence records before
 * `cacheSeq`. A cached key the evidence lacks would skip a file that was never preserved; a key the
 * evidence has and the cache lacks would only preserve a file twice, but is a sign of an edited
 * cache all the same.
 */
export function compressedDisagreements(cached: ReadonlySet<string>, preserved: ReadonlySet<string>, cacheSeq: number): string[] {
  const out: string[] = [];
  for (const key of cached) {
    if (!preserved.has(key)) out.push(`compressed file ${key} (dev:inode:size:mtime): the cache says it was preserved, but the evidence before seq ${cacheSeq} holds no log.file for it`);
  }
  for (const key of preserved) {
    if (!cached.has(key)) out.push(`compressed file ${key} (dev:inode:size:mtime): the evidence preserved it before seq ${cacheSeq}, but the cache does not list it`);
  }
  return out;
}
