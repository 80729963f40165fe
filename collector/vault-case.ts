/**
 * Legal holds for a case: `collect --vault` puts one on every object version the case used, so the
 * evidence outlives its retention while the case is open, and records which in a case record in
 * the vault (custody/v1/cases/<case>/holds-<time>.json, written once and locked like the evidence);
 * `custody vault release s3://B --case ID` lifts them and writes release-<time>.json.
 *
 * An S3 legal hold is one flag per object version, not one per case: two open cases may hold the
 * same version, and releasing one must not lift the other's hold. So release reads every case's
 * records and keeps holding what another case still holds (a case is open from its holds records
 * until a release record later than all of them).
 *
 * Records are canonical JSON signed with the collector's key (the one that signs the bundle), so a
 * record names who placed or lifted the holds in a way the reader can check.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { fingerprint, rawPublicKey, signBytes, verifyBytes } from '../src/integrity/keys.js';
import { canonicalBytes } from '../src/records/canonical.js';
import { casePrefix, caseRecordKey, casesPrefix, parseCaseRecordKey } from '../src/vault/layout.js';
import { mapBounded } from '../src/vault/read.js';
import type { VaultClient } from '../src/vault/s3.js';
import { formatVaultUrl } from '../src/vault/url.js';
import { escapeForTerminal } from '../src/text/terminal.js';
import { openVault, type VaultAccess } from './vault.js';

export interface HeldObject {
  key: string;
  version_id: string;
}

export interface CaseRecord {
  type: 'custody.vault-holds.v1' | 'custody.vault-release.v1';
  case: string;
  at: string;
  vault: string;
  actor: string;
  /** Holds: every version the case placed a hold on. Release: every version whose hold was lifted. */
  objects: HeldObject[];
  /** Release only: versions left held because another open case holds them too. */
  kept?: (HeldObject & { cases: string[] })[];
  key: { fingerprint: string; public_key: string };
}

interface SignedCaseRecord extends CaseRecord {
  sig: string;
}

export interface CaseRecordWritten {
  key: string;
  versionId: string | undefined;
  sha256: string;
  bytes: Uint8Array;
}

function signRecord(record: CaseRecord, privateKey: KeyObject): Uint8Array {
  const sig = Buffer.from(signBytes(privateKey, canonicalBytes(record))).toString('base64');
  return canonicalBytes({ ...record, sig });
}

async function writeRecord(client: VaultClient, kind: 'holds' | 'release', record: CaseRecord, privateKey: KeyObject): Promise<CaseRecordWritten> {
  const bytes = signRecord(record, privateKey);
  const key = caseRecordKey(client.vault.prefix, record.case, kind, record.at);
  const put = await client.putOnce(key, bytes, { contentType: 'application/json' });
  return { key, versionId: put.versionId, sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
}

export interface PlaceHoldsInput {
  caseId: string;
  objects: readonly HeldObject[];
  at: string;
  actor: string;
  privateKey: KeyObject;
  concurrency?: number;
  /** The holds were placed already (collect places each store's as soon as it is read); only the record is written. */
  alreadyHeld?: boolean;
}

/** Places a legal hold on each version (bounded concurrency): what a case used, held as soon as it is read. */
export async function holdVersions(client: VaultClient, objects: readonly HeldObject[], concurrency = 8): Promise<void> {
  await mapBounded(objects, concurrency, (o) => client.setLegalHold(o.key, o.version_id, true));
}

/** Places a legal hold on each version (bounded concurrency), then writes the case's holds record. */
export async function placeHolds(client: VaultClient, input: PlaceHoldsInput): Promise<CaseRecordWritten & { held: number }> {
  const objects = [...new Map(input.objects.map((o) => [`${o.key}\u0000${o.version_id}`, o])).values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (input.alreadyHeld !== true) await holdVersions(client, objects, input.concurrency ?? 8);
  const pub = rawPublicKey(input.privateKey);
  const record: CaseRecord = {
    type: 'custody.vault-holds.v1',
    case: input.caseId,
    at: input.at,
    vault: formatVaultUrl(client.vault),
    actor: input.actor,
    objects,
    key: { fingerprint: fingerprint(pub), public_key: Buffer.from(pub).toString('base64') },
  };
  return { ...(await writeRecord(client, 'holds', record, input.privateKey)), held: objects.length };
}

/** Reads a case record; a record whose signature does not verify is refused (never trusted to lift or keep a hold). */
function parseRecord(bytes: Uint8Array, where: string): SignedCaseRecord {
  let r: SignedCaseRecord;
  try {
    r = JSON.parse(Buffer.from(bytes).toString('utf8')) as SignedCaseRecord;
  } catch (err) {
    throw new CustodyError(ErrorCodes.VAULT_REQUEST_FAILED, `a case record is not JSON: ${messageOf(err)}`, { where });
  }
  const { sig, ...unsigned } = r;
  const ok =
    typeof sig === 'string' &&
    Array.isArray(r.objects) &&
    typeof r.key?.public_key === 'string' &&
    verifyBytes(new Uint8Array(Buffer.from(r.key.public_key, 'base64')), canonicalBytes(unsigned), new Uint8Array(Buffer.from(sig, 'base64')));
  if (!ok) throw new CustodyError(ErrorCodes.VAULT_REQUEST_FAILED, 'a case record does not verify against the key it names; release stops here and lifts nothing', { where });
  return r;
}

export interface ReleaseOptions extends VaultAccess {
  caseId: string;
  actor: string;
  privateKey: KeyObject;
  concurrency?: number;
}

export interface ReleaseResult {
  vault: string;
  case: string;
  released: number;
  kept: (HeldObject & { cases: string[] })[];
  holdsRecords: string[];
  record: { key: string; sha256: string } | undefined;
}

/** `custody vault release s3://B --case ID`: lifts the case's holds (not those another open case needs). */
export async function releaseCase(options: ReleaseOptions, nowIso: string): Promise<ReleaseResult> {
  const client = openVault(options);
  try {
    const prefix = client.vault.prefix;
    const records: { key: string; caseId: string; kind: 'holds' | 'release'; at: string }[] = [];
    for await (const page of client.list(casesPrefix(prefix))) {
      for (const o of page.objects) {
        const parsed = parseCaseRecordKey(prefix, o.key);
        if (parsed !== undefined) records.push({ key: o.key, ...parsed });
      }
    }
    const mine = records.filter((r) => r.caseId === options.caseId && r.kind === 'holds');
    if (mine.length === 0) {
      throw new CustodyError(ErrorCodes.VAULT_NOT_FOUND, `the vault holds no legal-hold record of case ${JSON.stringify(options.caseId)} (collect --vault writes one)`, {
        where: `s3://${client.bucket}/${casePrefix(prefix, options.caseId)}`,
      });
    }
    const read = async (key: string): Promise<SignedCaseRecord> => parseRecord((await client.get(key)).body, `s3://${client.bucket}/${key}`);
    const ours = new Map<string, HeldObject>();
    for (const r of mine) for (const o of (await read(r.key)).objects) ours.set(`${o.key}\u0000${o.version_id}`, o);

    // What other open cases hold stays held.
    const heldElsewhere = new Map<string, string[]>();
    const byCase = new Map<string, typeof records>();
    for (const r of records) if (r.caseId !== options.caseId) byCase.set(r.caseId, [...(byCase.get(r.caseId) ?? []), r]);
    for (const [other, list] of byCase) {
      const lastHolds = list.filter((r) => r.kind === 'holds').map((r) => r.at).sort().pop();
      const lastRelease = list.filter((r) => r.kind === 'release').map((r) => r.at).sort().pop();
      if (lastHolds === undefined || (lastRelease !== undefined && lastRelease >= lastHolds)) continue;
      for (const r of list.filter((x) => x.kind === 'holds')) {
        for (const o of (await read(r.key)).objects) {
          const id = `${o.key}\u0000${o.version_id}`;
          if (ours.has(id)) heldElsewhere.set(id, [...(heldElsewhere.get(id) ?? []), other]);
        }
      }
    }
    const lift = [...ours].filter(([id]) => !heldElsewhere.has(id)).map(([, o]) => o);
    const kept = [...ours].filter(([id]) => heldElsewhere.has(id)).map(([id, o]) => ({ ...o, cases: [...new Set(heldElsewhere.get(id))].sort() }));
    await mapBounded(lift, options.concurrency ?? 8, (o) => client.setLegalHold(o.key, o.version_id, false));
    const pub = rawPublicKey(options.privateKey);
    const written = await writeRecord(
      client,
      'release',
      {
        type: 'custody.vault-release.v1',
        case: options.caseId,
        at: nowIso,
        vault: formatVaultUrl(client.vault),
        actor: options.actor,
        objects: lift,
        kept,
        key: { fingerprint: fingerprint(pub), public_key: Buffer.from(pub).toString('base64') },
      },
      options.privateKey,
    );
    return { vault: formatVaultUrl(client.vault), case: options.caseId, released: lift.length, kept, holdsRecords: mine.map((r) => r.key), record: { key: written.key, sha256: written.sha256 } };
  } finally {
    client.destroy();
  }
}

export function formatRelease(r: ReleaseResult): string {
  const esc = escapeForTerminal;
  let out = `vault ${r.vault}: case ${esc(r.case)} released\n  legal holds lifted: ${r.released} object versions (from ${r.holdsRecords.length} holds record${r.holdsRecords.length === 1 ? '' : 's'})\n`;
  if (r.kept.length > 0) out += `  still held for other open cases: ${r.kept.length} (${[...new Set(r.kept.flatMap((k) => k.cases))].map(esc).join(', ')})\n`;
  if (r.record) out += `  release record: ${esc(r.record.key)} (sha256 ${r.record.sha256})\n`;
  return out;
}
