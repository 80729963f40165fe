/**
 * A windowed store snapshot (`collect --vault --since/--until`): records S..E-1 of a store, not
 * 0..E-1. Pure: the window's description in, its parsed form or a problem out.
 *
 * Why a window can be verified at all: the Merkle root a checkpoint signs over records 0..n-1 can be
 * recomputed from the subtree roots that cover records 0..S-1 (the *frontier* at S, one root per set
 * bit of S, exactly what each vault segment carries) and the leaves S..n-1. So a snapshot holding
 * the frontier at S and records S..E-1 verifies against every signed checkpoint of size S..E, and a
 * checkpoint that verifies proves both the frontier and the records (forging either needs a SHA-256
 * collision). The frontier is never trusted on its own: only a signed root that it recomputes.
 *
 * What a window cannot prove, and the verifier says instead of hiding: anything about records
 * before S (they are summarised by the frontier only) or after E (not collected). It is never
 * VALID for the whole store, only for seq S..E-1.
 *
 * The snapshot describes its window in its `meta` table (names below), so that it verifies on its
 * own; the bundle's manifest states the same window, signed by the collector, and the bundle
 * verifier compares the two (a snapshot claiming a window the manifest does not is a finding).
 * Key certificates: a window's checkpoints may be signed by an epoch key certified before S. The
 * certificates (the `key.rotate` records the vault ships under keys/) are carried in the meta so the
 * key chain still runs from the trusted enrollment key; each is checked against the key before it,
 * exactly as in the log, but their positions before S are stated by the records themselves, not
 * proven (they are signed by the retiring key, which is what trusting them needs).
 */
import { messageOf } from '../errors.js';
import { HASH_SIZE, type MerkleFrontier } from '../integrity/merkle.js';
import { frontierFromRoots } from '../vault/segment.js';

export const WINDOW_META = {
  startSeq: 'window_start_seq',
  frontier: 'window_frontier',
  keyCertificates: 'window_key_certificates',
} as const;

export interface StoreWindow {
  /** The first seq the snapshot holds (S): records 0..S-1 are summarised by `frontier`. */
  startSeq: number;
  /** RFC 6962 subtree roots covering records [0, S), lowest level first (segment.ts's form). */
  frontierRoots: Uint8Array[];
  /** key.rotate records of the epochs certified before S, in epoch order (their canonical bytes). */
  keyCertificates: Uint8Array[];
}

/** The meta rows of a window (what writeStoreFromReader stores). */
export function windowMeta(window: StoreWindow): [string, string][] {
  return [
    [WINDOW_META.startSeq, String(window.startSeq)],
    [WINDOW_META.frontier, JSON.stringify(window.frontierRoots.map((h) => Buffer.from(h).toString('base64')))],
    [WINDOW_META.keyCertificates, JSON.stringify(window.keyCertificates.map((c) => Buffer.from(c).toString('base64')))],
  ];
}

/**
 * The window a store's meta describes: undefined for a whole store, a string saying what is wrong
 * for a malformed one (the verifier's `window.frontier_invalid`).
 */
export function parseWindow(meta: ReadonlyMap<string, string>): { window: StoreWindow; frontier: MerkleFrontier } | string | undefined {
  const start = meta.get(WINDOW_META.startSeq);
  const roots = meta.get(WINDOW_META.frontier);
  const certs = meta.get(WINDOW_META.keyCertificates);
  if (start === undefined && roots === undefined && certs === undefined) return undefined;
  if (start === undefined || roots === undefined || certs === undefined) return `a window needs all of ${Object.values(WINDOW_META).join(', ')} in the store's metadata`;
  if (!/^(0|[1-9]\d{0,15})$/.test(start) || !Number.isSafeInteger(Number(start))) return `the window's start seq ${JSON.stringify(start)} is not a seq`;
  const startSeq = Number(start);
  const base64List = (text: string, what: string): Uint8Array[] | string => {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch {
      return `the window's ${what} is not JSON`;
    }
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) return `the window's ${what} is not a list of base64 strings`;
    const out: Uint8Array[] = [];
    for (const b64 of list as string[]) {
      const d = Buffer.from(b64, 'base64');
      if (d.toString('base64') !== b64) return `the window's ${what} holds an entry that is not base64`;
      out.push(new Uint8Array(d));
    }
    return out;
  };
  const frontierRoots = base64List(roots, 'frontier');
  if (typeof frontierRoots === 'string') return frontierRoots;
  const keyCertificates = base64List(certs, 'key certificates');
  if (typeof keyCertificates === 'string') return keyCertificates;
  if (frontierRoots.some((r) => r.length !== HASH_SIZE)) return "the window's frontier holds an entry that is not a SHA-256 hash";
  let frontier: MerkleFrontier;
  try {
    frontier = frontierFromRoots(startSeq, frontierRoots);
  } catch (err) {
    return `the window's ${messageOf(err)}`;
  }
  return { window: { startSeq, frontierRoots, keyCertificates }, frontier };
}

/** One sentence for a windowed host: what it holds and what was not collected. */
export function windowSentence(w: { since?: string | undefined; until?: string | undefined; first_seq: number; end_seq: number; vault_tree_size: number }): string {
  const span = w.since !== undefined && w.until !== undefined ? `observed ${w.since} to ${w.until}` : w.since !== undefined ? `observed from ${w.since}` : `observed up to ${w.until}`;
  const held = w.end_seq > w.first_seq ? `seq ${w.first_seq}..${w.end_seq - 1}` : 'no record';
  const before = w.first_seq > 0 ? `records before seq ${w.first_seq}` : '';
  const after = w.vault_tree_size > w.end_seq ? `records ${w.end_seq}..${w.vault_tree_size - 1} (the vault's newest checkpoint covers ${w.vault_tree_size})` : '';
  const missing = [before, after].filter((x) => x !== '').join(' and ');
  return `window ${span}: holds ${held} (whole vault segments around the window)${missing !== '' ? `; ${missing} were not collected` : ''}`;
}
