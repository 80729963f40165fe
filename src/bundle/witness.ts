/**
 * The collector as a witness. At collection the collector signs, with its own key, a C2SP signed
 * note of the head of each store it copied: origin, tree size and root over ALL the copied records
 * (sealed by the agent or not), and a `witness <time>` extension line. From then on the unsealed
 * tail is pinned too: an agent key stolen later cannot rewrite what the collector saw.
 * Pure: no file system, no clock.
 */
import { extensionValue, formatCheckpointBody, noteSignedBy, parseCheckpointBody, parseNote, signNote, type CheckpointBody } from '../integrity/checkpoint.js';
import type { KeyObject } from 'node:crypto';
import { messageOf } from '../errors.js';

/** Key name in the witness note's signature line (signed notes need a name; the key id binds the key). */
export const WITNESS_KEY_NAME = 'custody-collector';

export function signWitnessNote(
  head: { origin: string; treeSize: number; rootHash: Uint8Array },
  witnessTime: string,
  key: { privateKey: KeyObject; publicKeyRaw: Uint8Array },
): string {
  const text = formatCheckpointBody({ origin: head.origin, treeSize: head.treeSize, rootHash: head.rootHash, extensions: [`witness ${witnessTime}`] });
  return signNote(text, { name: WITNESS_KEY_NAME, privateKey: key.privateKey, publicKeyRaw: key.publicKeyRaw });
}

export interface WitnessCheck {
  ok: boolean;
  body?: CheckpointBody;
  time?: string;
  problem?: 'malformed' | 'bad_signature' | 'origin_mismatch';
  detail?: string;
}

/** Parses a witness note and checks its signature by the collector key and its origin. */
export function checkWitnessNote(note: string, collectorKeyRaw: Uint8Array, origin: string | undefined): WitnessCheck {
  let body: CheckpointBody;
  let signed: boolean;
  try {
    const parsed = parseNote(note);
    body = parseCheckpointBody(parsed.text);
    signed = noteSignedBy(parsed, WITNESS_KEY_NAME, collectorKeyRaw);
  } catch (err) {
    return { ok: false, problem: 'malformed', detail: messageOf(err) };
  }
  const time = extensionValue(body, 'witness');
  if (!signed) return { ok: false, body, ...(time ? { time } : {}), problem: 'bad_signature', detail: 'the witness note is not signed by the collector key' };
  if (origin !== undefined && body.origin !== origin) {
    return { ok: false, body, ...(time ? { time } : {}), problem: 'origin_mismatch', detail: `the witness note is for ${body.origin}, not ${origin}` };
  }
  return { ok: true, body, ...(time ? { time } : {}) };
}
