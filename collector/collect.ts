/**
 * `custody collect --case ID`: freeze what the agents hold and seal it into a bundle.
 *
 * For each store (a store folder, or a folder of them): a consistent snapshot (VACUUM INTO, safe
 * while the agent writes) into `evidence/<host>/<store_id>/`; verify the snapshot against the live
 * store's enrollment.pub (the result goes into the manifest); the collector signs a witness note
 * of the snapshot's head (every copied record, sealed or not); the host's clock is compared with
 * the collector's (stated, never applied). Then the merged timeline and the tables, case.jsonld,
 * collector.pem, and the seal: manifest.json, manifest.sig (raw Ed25519), manifest.tsr (RFC 3161,
 * with --tsa), SHA256SUMS, hashdeep.txt, custody.jsonl (entry 0: `collected`). The bundle is built
 * in a temporary folder beside `out` and renamed into place only when sealed; `--tar` then packs it
 * deterministically into `<out>.tar`.
 *
 * The stages are functions of their own in collector/stages/ (snapshot, verify, timeline and tables,
 * report, hash, seal), each with its progress line; this function runs them in order and keeps what
 * spans them (the work folder, the vault's holds, what to clean up). Takes options and dependencies
 * (clock, host name, progress sink); never reads argv.
 */
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import fg from 'fast-glob';
import type { Clock } from '../src/clock.js';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { appendEntry, custodyHead } from '../src/bundle/custody-log.js';
import type { BundleManifest } from '../src/bundle/manifest.js';
import { compareBundlePaths } from '../src/bundle/paths.js';
import { generatePersonalKey, parsePersonalPrivateKey, type PersonalKey } from '../src/bundle/personal-key.js';
import { signWitnessNote } from '../src/bundle/witness.js';
import { leafHash, MerkleFrontier } from '../src/integrity/merkle.js';
import { parseWindow, windowSentence } from '../src/verify/store-window.js';
import { fingerprint, publicKeyFromRaw } from '../src/integrity/keys.js';
import { formatTimestamp } from '../src/records/schema.js';
import { EVIDENCE_FILE } from '../src/store/evidence-store.js';
import type { SealRequestResult } from '../src/net/agent-control.js';
import { SqliteStoreReader } from '../src/store/store-reader.js';
import { terminalLines } from '../src/text/terminal.js';
import { packBundle, walkBundleDir, writeNew } from './bundle-files.js';
import { BackgroundHasher, hashStage } from './stages/hash.js';
import { draftReportStage } from './stages/report.js';
import { timelineStage, timelineStore, type TimelineStore } from './stages/timeline.js';
import { sealStage } from './stages/seal.js';
import { safeComponent, snapshotStage, type StoreSnapshot, type StoreSource } from './stages/snapshot.js';
import { verifyStage, type StoreVerified } from './stages/verify.js';
import { importFiles } from './import.js';
import { checkReportOptions, type WriteReportOptions } from './report.js';
import { loadTsaRoots } from './verify.js';
import { collectFromVault, type VaultCollectOptions, type VaultSource } from './collect-vault.js';
import { placeHolds, type HeldObject } from './vault-case.js';
import { openVault } from './vault.js';
import type { VaultClient } from '../src/vault/s3.js';

/** The log files a triage preserves when no agent configuration names any. */
export const DEFAULT_TRIAGE_PATHS = [
  '/var/log/auth.log',
  '/var/log/auth.log.1',
  '/var/log/secure',
  '/var/log/syslog',
  '/var/log/syslog.1',
  '/var/log/messages',
  '/var/log/kern.log',
  '/var/log/kern.log.1',
  '/var/log/audit/audit.log',
  '/var/log/audit/audit.log.1',
  '/var/log/wtmp',
  '/var/log/btmp',
];

/**
 * What `hashdeep -a -k hashdeep.txt` audits: every content file, named by folder because the audit
 * fails on any file it finds that the list does not hold (custody.jsonl grows with every handoff,
 * and SHA256SUMS, hashdeep.txt and the signatures are the seal, not content).
 */
export function hashdeepTargets(withReport: boolean): string {
  return `manifest.* collector.pem case.jsonld evidence timeline tables${withReport ? ' report' : ''}`;
}
export function hashdeepAuditCommand(withReport: boolean): string {
  return `hashdeep -c sha256 -r -l -a -k hashdeep.txt ${hashdeepTargets(withReport)}`;
}
/** The audit of a bundle collected with the default options (which include the draft report). */
export const HASHDEEP_AUDIT_COMMAND = hashdeepAuditCommand(true);

export interface CollectOptions {
  caseId: string;
  /** Store folders, or folders holding stores (subfolders with evidence.sqlite). */
  stores: readonly string[];
  /** Bundle folder to create (must not exist). */
  out: string;
  /** Also write `<out>.tar`. */
  tar?: boolean;
  examiner?: string;
  note?: string;
  tsa?: { url: string; caFiles?: readonly string[]; timeoutMs?: number };
  /** The collector's personal key (PKCS#8 PEM from `custody keys init --out`); without it a per-collection key is made. */
  keyFile?: string;
  /** Preserve this host's logs now: the files matching these paths/globs go into a collector-side store. */
  triage?: { paths: readonly string[] };
  /**
   * The draft investigation report written into `report/` before sealing (so the manifest covers
   * it), with the case's settings; see collector/report.ts. Written by default; `false` leaves it out.
   */
  report?: Pick<WriteReportOptions, 'sensitive' | 'discoveredAt' | 'workingHours' | 'usbWindowMinutes' | 'lang' | 'maxEvents' | 'net'> | false;
  /** How long to wait for a running agent to seal its store before the snapshot (default 5 s). */
  sealTimeoutMs?: number;
  /** Hosts to collect from the evidence vault (`--vault`, `--host`, `--all-hosts`); combinable with `stores`. */
  vault?: VaultCollectOptions;
}

const DEFAULT_SEAL_TIMEOUT_MS = 5_000;

export interface CollectProgress {
  stage: 'vault' | 'snapshot' | 'verify' | 'triage' | 'timeline' | 'report' | 'hold' | 'hash' | 'seal' | 'tar' | 'done';
  storesDone: number;
  storesTotal: number;
  records: number;
  recordsTotal: number;
  bytes: number;
  bytesTotal: number;
  detail?: string;
  /** A line of its own for the log (one per host read from the vault), printed once. */
  line?: string;
}

export interface CollectDeps {
  clock: Clock;
  /** Name of the machine collecting (recorded in the manifest). */
  collectorHost: string;
  version: string;
  codeSha256: string;
  onProgress?: (p: CollectProgress) => void;
}

export interface CollectSummary {
  out: string;
  tar?: { path: string; size: number; sha256: string };
  case: string;
  collector: { fingerprint: string; generated: boolean; key_file?: string };
  hosts: Array<{
    host: string;
    store_id: string;
    source: string;
    path: string;
    records: number;
    verified: boolean;
    findings: number;
    witness_size: number;
    /** Size of the newest checkpoint that verified in the snapshot. */
    sealed_size?: number;
    /** What asking the store's agent to seal before the snapshot gave (agent stores only). */
    agent_seal?: { state: SealRequestResult['state']; tree_size?: number; detail?: string };
    clock_skew_ms?: number;
    /** Read from the vault: the object versions it was built from, and whether the host is behind its policy. */
    vault?: { objects: number; newest_received_at?: string; behind_policy?: string };
    /** A time window (--since/--until): the seqs the snapshot holds and the vault's newest size. */
    window?: BundleManifest['hosts'][number]['window'];
  }>;
  /** The legal holds collect --vault placed for the case (custody/v1/cases/<case>/holds-….json). */
  holds?: { held: number; record: string; sha256: string; bundle_file: string };
  triage?: { files: string[]; skipped: string[] };
  timeline_entries: number;
  files: number;
  bytes: number;
  manifest_sha256: string;
  custody_head: { index: number; sha256: string };
  tsa?: { url: string; gen_time: string; verified: boolean };
  /** The draft report's files inside the bundle (bundle-relative), unless collected without one. */
  report?: { files: string[] };
  /** Why the draft report was asked for but not written (the bundle was sealed without it). */
  report_error?: { code: string; message: string };
  audit: { custody: string; sha256sum: string; hashdeep: string; openssl_sig: string; openssl_tsr?: string };
}

function isStore(dir: string): boolean {
  return existsSync(join(dir, EVIDENCE_FILE));
}

/** Resolves `--store` arguments: a store folder, or a folder whose subfolders (two levels deep at most) are stores. */
export function findStores(paths: readonly string[]): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const add = (dir: string): void => {
    const real = realpathSync(dir);
    if (!seen.has(real)) {
      seen.add(real);
      found.push(dir);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, `no such folder (${(err as NodeJS.ErrnoException).code ?? messageOf(err)}); nothing was collected`, { where: p });
    }
    if (!st.isDirectory()) throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, 'is not a folder; give a store folder or a folder of stores', { where: p });
    if (isStore(p)) {
      add(p);
      continue;
    }
    const before = found.length;
    const scan = (dir: string, depth: number): void => {
      for (const name of readdirSync(dir).sort()) {
        const child = join(dir, name);
        let cst;
        try {
          cst = statSync(child);
        } catch {
          continue;
        }
        if (!cst.isDirectory()) continue;
        if (isStore(child)) add(child);
        else if (depth < 2) scan(child, depth + 1);
      }
    };
    scan(p, 1);
    if (found.length === before) throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, `holds no evidence store (no ${EVIDENCE_FILE} in it or in its subfolders)`, { where: p });
  }
  return found;
}

function checkCaseId(id: string): void {
  if (id.trim() === '' || id !== id.trim() || /[\u0000-\u001f\u007f]/.test(id) || id.length > 200) {
    throw new CustodyError(ErrorCodes.USAGE, `--case must be a non-empty printable id without surrounding spaces, got ${JSON.stringify(id)}`);
  }
}

function loadKey(keyFile: string | undefined): { key: PersonalKey; generated: boolean } {
  if (keyFile === undefined) return { key: generatePersonalKey(), generated: true };
  let pem: string;
  try {
    pem = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read the collector key: ${messageOf(err)}`, { where: keyFile, cause: err });
  }
  return { key: parsePersonalPrivateKey(pem, keyFile), generated: false };
}

function triageFiles(patterns: readonly string[]): { files: string[]; skipped: string[] } {
  const matched = new Set<string>();
  for (const pattern of patterns) {
    const abs = resolve(pattern);
    if (fg.isDynamicPattern(abs)) for (const f of fg.sync(abs, { onlyFiles: true, absolute: true, dot: true, followSymbolicLinks: false })) matched.add(f);
    else if (existsSync(abs)) matched.add(abs);
  }
  const files: string[] = [];
  const skipped: string[] = [];
  for (const f of [...matched].sort()) {
    try {
      if (!statSync(f).isFile()) continue;
      accessSync(f, constants.R_OK);
      files.push(f);
    } catch {
      skipped.push(f);
    }
  }
  return { files, skipped };
}

/** Root over every record of a snapshot (leaf hashes recomputed from the bytes) and the last observed_at. */
/**
 * What the collector witnesses of a snapshot: its size and Merkle root over every record, sealed or
 * not, and the newest record's time. `root` is the one the snapshot's verification computed at the
 * snapshot's size as it streamed the records; without it (the verification stopped before the end)
 * the records are read and hashed here, and a read error stops the collection as it would have.
 */
function snapshotHead(dir: string, treeSize: number, root: Uint8Array | undefined): { treeSize: number; root: Uint8Array; lastObservedAt: string | undefined; kinds: Map<string, number> } {
  const reader = new SqliteStoreReader(dir);
  try {
    if (root !== undefined) {
      const last = reader.lastRecord();
      return { treeSize: treeSize, root, lastObservedAt: last?.observed_at, kinds: reader.kindCounts() };
    }
    // A windowed snapshot's tree starts at its window's frontier (store-window.ts).
    const window = parseWindow(reader.meta());
    const frontier = typeof window === 'object' ? window.frontier : new MerkleFrontier();
    let lastObservedAt: string | undefined;
    for (const r of reader.records()) {
      frontier.push(leafHash(r.bytes));
      lastObservedAt = r.observed_at;
    }
    return { treeSize: frontier.size, root: frontier.root(), lastObservedAt, kinds: reader.kindCounts() };
  } finally {
    reader.close();
  }
}

function msOf(ts: string): number | undefined {
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? undefined : ms;
}


/**
 * A store's manifest entry: its verification result, the collector's witness note of the snapshot's
 * head (written beside it), its vault provenance and window, and its clock against the collector's.
 */
function hostEntry(src: StoreSource, snap: StoreSnapshot, verified: StoreVerified, clock: Clock, key: PersonalKey): BundleManifest['hosts'][number] {
  const { host, storeId, origin, rel, dest, meta, treeSize } = snap;
  const { verification, root, vaultOf } = verified;
  const enrollmentKey = meta.get('enrollment_public_key') ?? '';
  const rawKey = new Uint8Array(Buffer.from(enrollmentKey, 'base64'));
  const head = snapshotHead(dest, treeSize, root);
  const collectorTime = formatTimestamp(clock.nowMs());
  const note = signWitnessNote({ origin, treeSize: head.treeSize, rootHash: head.root }, collectorTime, key);
  writeNew(join(dest, 'witness.note'), note);
  const lastMs = head.lastObservedAt !== undefined ? msOf(head.lastObservedAt) : undefined;
  const source: StoreSource['source'] = src.source === 'triage' || src.source === 'vault' ? src.source : (head.kinds.get('agent.start') ?? 0) > 0 ? 'agent-store' : 'import';
  return {
    host,
    store_id: storeId,
    origin,
    source,
    path: rel,
    enrollment: { fingerprint: rawKey.length === 32 ? fingerprint(rawKey) : 'SHA256:', public_key: enrollmentKey },
    verified: {
      ok: verification.ok,
      records: verification.records,
      ...(verification.sealed
        ? {
            sealed: {
              checkpoint_id: verification.sealed.checkpointId,
              tree_size: verification.sealed.treeSize,
              time: verification.sealed.time,
              ...(verification.sealed.trustedTime ? { trusted_time: verification.sealed.trustedTime } : {}),
            },
          }
        : {}),
      ...(verification.unsealed ? { unsealed: { from_seq: verification.unsealed.fromSeq, to_seq: verification.unsealed.toSeq, count: verification.unsealed.count } } : {}),
      findings: verification.findings.map((f) => ({ code: f.code, severity: f.severity, message: f.message })),
    },
    witness: { tree_size: head.treeSize, root_hash: Buffer.from(head.root).toString('base64'), note },
    ...(vaultOf !== undefined ? { vault: vaultOf.provenance } : {}),
    ...(src.vault?.window !== undefined ? { window: src.vault.window } : {}),
    clock: {
      collector_time: collectorTime,
      ...(head.lastObservedAt !== undefined ? { last_observed_at: head.lastObservedAt } : {}),
      ...(lastMs !== undefined ? { estimated_skew_ms: clock.nowMs() - lastMs } : {}),
      basis:
        "collector clock minus the newest record's observed_at (the agent's clock). A running agent writes a heartbeat at least every heartbeat interval, so for a live store a value well above that interval means the host clock is behind (or the agent was stalled); a negative value means the host clock is ahead. For a stopped agent or a copied store it is only the age of the newest record. Stated, never applied to any time in this bundle.",
    },
  };
}

export async function collectCase(options: CollectOptions, deps: CollectDeps): Promise<CollectSummary> {
  checkCaseId(options.caseId);
  const out = resolve(options.out);
  if (existsSync(out)) throw new CustodyError(ErrorCodes.USAGE, 'the bundle folder already exists; choose a new --out', { where: options.out });
  if (options.tar && existsSync(`${out}.tar`)) throw new CustodyError(ErrorCodes.USAGE, 'the tar already exists; choose a new --out', { where: `${out}.tar` });
  if (!existsSync(dirname(out))) throw new CustodyError(ErrorCodes.USAGE, 'the folder to create the bundle in does not exist', { where: dirname(out) });
  if (options.stores.length === 0 && options.triage === undefined && options.vault === undefined) {
    throw new CustodyError(ErrorCodes.USAGE, 'nothing to collect: give --store DIR (repeatable), --vault s3://BUCKET with --host NAME or --all-hosts, and/or --triage');
  }
  const reportOptions = options.report === false ? undefined : (options.report ?? {});
  if (reportOptions !== undefined) checkReportOptions(reportOptions);
  if (options.vault !== undefined && (options.vault.since !== undefined || options.vault.until !== undefined) && (options.stores.length > 0 || options.triage !== undefined)) {
    // A store folder (or triage) is snapshotted whole: a window there would be a timeline narrower
    // than its verified snapshot, or a snapshot cut by the collector with no signed frontier to prove
    // it. Rather than one bundle that mixes the two meanings, collect them in separate bundles.
    throw new CustodyError(ErrorCodes.USAGE, '--since/--until apply to hosts read from the vault only: collect --store and --triage without a window, in a bundle of their own');
  }
  const storeDirs = findStores(options.stores);
  const tsaRoots = options.tsa?.caFiles !== undefined ? loadTsaRoots(options.tsa.caFiles) : [];
  const { key, generated } = loadKey(options.keyFile);
  const clock = deps.clock;
  const startedAt = formatTimestamp(clock.nowMs());

  const progress: CollectProgress = { stage: 'snapshot', storesDone: 0, storesTotal: storeDirs.length + (options.triage ? 1 : 0), records: 0, recordsTotal: 0, bytes: 0, bytesTotal: 0 };
  const report = (patch: Partial<CollectProgress>): void => {
    const { line, ...rest } = patch;
    Object.assign(progress, rest);
    deps.onProgress?.({ ...progress, ...(line !== undefined ? { line } : {}) });
  };

  const work = mkdtempSync(join(dirname(out), `.${basename(out)}.partial-`));
  let triageStore: string | undefined;
  let vaultWork: string | undefined;
  let vaultClient: VaultClient | undefined;
  const heldSoFar: HeldObject[] = [];
  let holdsRecorded = false;
  let hasher: BackgroundHasher | undefined;
  /** Stores given with --store that the vault also holds: checked against the vault's copy. */
  // By store id: the vault's copies of stores also given with --store (a store id filed under more
  // than one host in the vault is a forgery in all but one place, so each copy is kept).
  const vaultChecks = new Map<string, VaultSource[]>();
  try {
    const sources: StoreSource[] = storeDirs.map((dir) => ({ dir, source: 'agent-store' }));
    let triageSummary: CollectSummary['triage'];
    if (options.triage !== undefined) {
      report({ stage: 'triage', detail: 'preserving this host\'s logs' });
      const { files, skipped } = triageFiles(options.triage.paths);
      triageSummary = { files, skipped };
      if (files.length > 0) {
        triageStore = mkdtempSync(join(tmpdir(), 'custody-triage-'));
        const storeDir = join(triageStore, 'store');
        importFiles(storeDir, files, { host: safeComponent(deps.collectorHost), clock });
        sources.push({ dir: storeDir, source: 'triage' });
      } else {
        progress.storesTotal--;
      }
    }

    if (options.vault !== undefined) {
      vaultWork = mkdtempSync(join(tmpdir(), 'custody-vault-collect-'));
      const local = new Map<string, Uint8Array | undefined>();
      for (const src of sources) {
        const r = new SqliteStoreReader(src.dir);
        try {
          const meta = r.meta();
          const id = meta.get('store_id');
          const pub = Buffer.from(meta.get('enrollment_public_key') ?? '', 'base64');
          if (id !== undefined) local.set(id, pub.length === 32 ? new Uint8Array(pub) : undefined);
        } finally {
          r.close();
        }
      }
      vaultClient = openVault(options.vault.access);
      const fromVault = await collectFromVault(options.vault, vaultClient, vaultWork, { nowMs: clock.nowMs(), localStores: local, report, onHeld: (o) => heldSoFar.push(...o) });
      for (const v of fromVault) {
        if (v.dir !== undefined) {
          sources.push({ dir: v.dir, source: 'vault', vault: v });
          progress.storesTotal++;
        } else vaultChecks.set(v.storeId, [...(vaultChecks.get(v.storeId) ?? []), v]);
      }
    }

    const hosts: BundleManifest['hosts'] = [];
    const timelineInputs: TimelineStore[] = [];
    const usedPaths = new Set<string>();
    const agentSeals = new Map<string, SealRequestResult>();
    for (const src of sources) {
      const snap = await snapshotStage(src, { work, usedPaths, sealTimeoutMs: options.sealTimeoutMs ?? DEFAULT_SEAL_TIMEOUT_MS, report: (detail) => report({ stage: 'snapshot', detail }) });
      report({ recordsTotal: progress.recordsTotal + snap.records });
      report({ stage: 'verify', detail: `${snap.host} ${snap.storeId}` });
      const verified = await verifyStage(src, snap, { tsaCaFiles: options.tsa?.caFiles, vaultChecks });
      const entry = hostEntry(src, snap, verified, clock, key);
      hosts.push(entry);
      if (verified.inTimeline) timelineInputs.push(timelineStore({ dir: snap.dest, host: snap.host, storeId: snap.storeId }, entry.verified, verified.verification.findings));
      if (snap.agentSeal !== undefined) agentSeals.set(snap.rel, snap.agentSeal);
      report({ storesDone: progress.storesDone + 1 });
    }
    hosts.sort((a, b) => compareBundlePaths(a.path, b.path));

    // Every vault object version the case used gets a legal hold, listed in a case record in the
    // vault and, the same signed bytes, in the bundle (so the manifest and the custody entry cover it).
    let holdsSummary: CollectSummary['holds'];
    const vaultSources = [...sources.filter((s) => s.vault !== undefined).map((s) => s.vault as VaultSource), ...[...vaultChecks.values()].flat()];
    if (options.vault !== undefined && options.vault.hold !== false && vaultSources.length > 0) {
      const objects = vaultSources.flatMap((v) => v.provenance.objects);
      report({ stage: 'hold', detail: `legal holds on ${objects.length} vault objects` });
      const client = vaultSources[0]!.client;
      const placed = await placeHolds(client, { caseId: options.caseId, objects, at: formatTimestamp(clock.nowMs()), actor: actorOf(options, deps), privateKey: key.privateKey, alreadyHeld: true });
      holdsRecorded = true;
      const bundleFile = 'evidence/vault-holds.json';
      writeNew(join(work, bundleFile), placed.bytes);
      holdsSummary = { held: placed.held, record: `s3://${client.bucket}/${placed.key}`, sha256: placed.sha256, bundle_file: bundleFile };
      report({ line: `legal holds: ${placed.held} object versions held for case ${options.caseId}, recorded in ${holdsSummary.record}` });
    }

    // The snapshots are final: hashed in a worker thread while the timeline and the report are written.
    hasher = new BackgroundHasher();
    for (const e of walkBundleDir(work)) if (e.type === 'file') hasher.start(join(work, e.path));

    report({ stage: 'timeline', detail: 'merging the timeline' });
    const timeline = await timelineStage(work, timelineInputs, {
      records: progress.recordsTotal,
      ...(reportOptions !== undefined ? { report: reportOptions } : {}),
      generatedAt: startedAt,
      onRecord: (n) => report({ records: n }),
    });

    let reportFiles: string[] | undefined;
    let reportError: { code: string; message: string } | undefined;
    if (reportOptions !== undefined) {
      report({ stage: 'report', detail: 'writing the draft report' });
      const drafted = draftReportStage(
        work,
        {
          case: { id: options.caseId, ...(options.examiner !== undefined ? { examiner: options.examiner } : {}), ...(options.note !== undefined ? { note: options.note } : {}) },
          collector: { version: deps.version, host: deps.collectorHost, started_at: startedAt, key: { fingerprint: key.fingerprint, public_key: Buffer.from(key.publicKeyRaw).toString('base64') } },
          hosts,
          ...(options.tsa !== undefined ? { tsa: { url: options.tsa.url } } : {}),
        },
        reportOptions,
        formatTimestamp(clock.nowMs()),
        timeline,
      );
      reportFiles = drafted.files;
      reportError = drafted.error;
    }

    const publicPem = publicKeyFromRaw(key.publicKeyRaw).export({ type: 'spki', format: 'pem' }).toString();
    writeNew(join(work, 'collector.pem'), publicPem);

    // Every content file's hash (case.jsonld, which names them, is hashed as the seal writes it).
    report({ stage: 'hash', bytes: 0 });
    const files = await hashStage(work, timeline.timeline.hashes, hasher, (bytes, bytesTotal) => report({ bytes, bytesTotal }));
    await hasher.close();
    const { manifestSha256, tsaSummary } = await sealStage(work, {
      options,
      deps,
      key,
      startedAt,
      sealedAt: formatTimestamp(clock.nowMs()),
      hosts,
      files,
      tsaRoots,
      withReport: reportFiles !== undefined,
      onSeal: () => report({ stage: 'seal', detail: 'signing the manifest' }),
    });
    const actor = actorOf(options, deps);
    const holdsNote = holdsSummary ? `; legal holds on ${holdsSummary.held} vault object versions, listed in ${holdsSummary.bundle_file} and ${holdsSummary.record} (sha256 ${holdsSummary.sha256})` : '';
    const log = appendEntry('', { manifestSha256, action: 'collected', actor, note: `collected case ${options.caseId}: ${hosts.length} store(s), ${files.length} files${holdsNote}${options.note ? `; ${options.note}` : ''}` }, key.privateKey, clock.nowMs());
    writeNew(join(work, 'custody.jsonl'), log);

    renameSync(work, out);
    let tarSummary: CollectSummary['tar'];
    if (options.tar) {
      report({ stage: 'tar', detail: `${out}.tar` });
      const written = await packBundle(out, `${out}.tar`);
      tarSummary = { path: `${out}.tar`, size: written.size, sha256: written.sha256 };
    }
    report({ stage: 'done', detail: out });
    const headEntry = custodyHead(log) as { index: number; sha256: string };
    return {
      out,
      ...(tarSummary ? { tar: tarSummary } : {}),
      case: options.caseId,
      collector: { fingerprint: key.fingerprint, generated, ...(options.keyFile !== undefined ? { key_file: options.keyFile } : {}) },
      hosts: hosts.map((h) => ({
        host: h.host,
        store_id: h.store_id,
        source: h.source,
        path: h.path,
        records: h.verified.records,
        verified: h.verified.ok,
        findings: h.verified.findings.length,
        witness_size: h.witness.tree_size,
        ...(h.verified.sealed ? { sealed_size: h.verified.sealed.tree_size } : {}),
        ...(agentSeals.has(h.path) ? { agent_seal: sealSummary(agentSeals.get(h.path)!) } : {}),
        ...(h.clock.estimated_skew_ms !== undefined ? { clock_skew_ms: h.clock.estimated_skew_ms } : {}),
        ...(h.vault !== undefined
          ? {
              vault: {
                objects: h.vault.objects.length,
                ...(h.vault.newest_checkpoint?.received_at !== undefined ? { newest_received_at: h.vault.newest_checkpoint.received_at } : {}),
                ...(h.vault.behind_policy !== undefined ? { behind_policy: h.vault.behind_policy } : {}),
              },
            }
          : {}),
        ...(h.window !== undefined ? { window: h.window } : {}),
      })),
      ...(holdsSummary ? { holds: holdsSummary } : {}),
      ...(triageSummary ? { triage: triageSummary } : {}),
      timeline_entries: timeline.timeline.entries,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      manifest_sha256: manifestSha256,
      custody_head: headEntry,
      ...(tsaSummary ? { tsa: tsaSummary } : {}),
      ...(reportFiles !== undefined ? { report: { files: reportFiles } } : {}),
      ...(reportError !== undefined ? { report_error: reportError } : {}),
      audit: {
        custody: `custody verify ${out} --collector-key ${key.fingerprint}${options.tsa ? ' --tsa-ca tsa-ca.pem' : ''}`,
        sha256sum: 'sha256sum -c SHA256SUMS',
        hashdeep: hashdeepAuditCommand(reportFiles !== undefined),
        openssl_sig: 'openssl pkeyutl -verify -pubin -inkey collector.pem -rawin -in manifest.json -sigfile manifest.sig',
        ...(options.tsa ? { openssl_tsr: 'openssl ts -verify -data manifest.json -in manifest.tsr -token_in -CAfile tsa-ca.pem' } : {}),
      },
    };
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    if (vaultClient !== undefined && heldSoFar.length > 0 && !holdsRecorded) {
      // The collection failed after holds were placed: record them, so `vault release --case` can lift them.
      try {
        const placed = await placeHolds(vaultClient, { caseId: options.caseId, objects: heldSoFar, at: formatTimestamp(clock.nowMs()), actor: actorOf(options, deps), privateKey: key.privateKey, alreadyHeld: true });
        report({ line: `the collection failed after legal holds were placed on ${placed.held} object versions; they are recorded in s3://${vaultClient.bucket}/${placed.key}: lift them with \`custody vault release --case\` if the case does not go on` });
      } catch (recordErr) {
        report({ line: `the collection failed after legal holds were placed on ${heldSoFar.length} object versions, and recording them failed too (${messageOf(recordErr)}): they stay held until lifted by hand` });
      }
    }
    throw err;
  } finally {
    if (triageStore !== undefined) rmSync(triageStore, { recursive: true, force: true });
    if (vaultWork !== undefined) rmSync(vaultWork, { recursive: true, force: true });
    vaultClient?.destroy();
    await hasher?.close();
  }
}

function actorOf(options: CollectOptions, deps: CollectDeps): string {
  return options.examiner !== undefined && /, \S/.test(options.examiner) ? options.examiner : `${options.examiner ?? 'custody collect'}, ${safeComponent(deps.collectorHost)}`;
}

function sealSummary(r: SealRequestResult): NonNullable<CollectSummary['hosts'][number]['agent_seal']> {
  return r.state === 'sealed' ? { state: r.state, tree_size: r.treeSize } : { state: r.state, detail: r.detail };
}

export function formatCollectSummary(s: CollectSummary): string {
  const lines: string[] = [];
  lines.push(`case:         ${s.case}`);
  lines.push(`bundle:       ${s.out}`);
  if (s.tar) lines.push(`tar:          ${s.tar.path} (${s.tar.size} bytes, sha256 ${s.tar.sha256})`);
  lines.push(`collector key ${s.collector.fingerprint}${s.collector.generated ? ' (generated for this collection: record this fingerprint now; it is what verifiers pin)' : ` (${s.collector.key_file ?? ''})`}`);
  for (const h of s.hosts) {
    lines.push(
      `  ${h.host} ${h.store_id} [${h.source}]: ${h.records} records, verified ${h.verified ? 'VALID' : 'INVALID'}${h.window !== undefined ? ` for the window seq ${h.window.first_seq}..${h.window.end_seq - 1} only` : ''}${h.findings > 0 ? ` (${h.findings} findings)` : ''}, witnessed at size ${h.witness_size}${h.clock_skew_ms !== undefined ? `, collector clock - last record = ${h.clock_skew_ms} ms` : ''}`,
    );
    const unsealed = h.sealed_size === undefined ? h.records : h.records - h.sealed_size;
    if (h.vault !== undefined) {
      lines.push(`    read from the vault: ${h.vault.objects} object versions${h.vault.newest_received_at ? `, newest checkpoint received ${h.vault.newest_received_at}` : ''}`);
      if (h.window !== undefined) lines.push(`    ${windowSentence(h.window)}`);
      if (h.vault.behind_policy !== undefined) lines.push(`    BEHIND ITS POLICY: ${h.vault.behind_policy}`);
    }
    const seal = h.agent_seal;
    if (seal?.state === 'sealed') {
      lines.push(`    its agent sealed ${seal.tree_size} records on request before the snapshot${unsealed > 0 ? `; ${unsealed} appended after that are unsealed (witnessed by the collector)` : ''}`);
    } else if (seal !== undefined) {
      lines.push(`    its agent was not asked to seal: ${seal.detail ?? seal.state}${unsealed > 0 ? `; ${unsealed} records are unsealed (witnessed by the collector)` : ''}`);
    }
  }
  if (s.triage) lines.push(`triage:       ${s.triage.files.length} files preserved${s.triage.skipped.length > 0 ? `, ${s.triage.skipped.length} unreadable: ${s.triage.skipped.join(', ')}` : ''}`);
  if (s.holds) lines.push(`legal holds:  ${s.holds.held} vault object versions held for the case (${s.holds.record}; lift with \`custody vault release\`)`);
  lines.push(`timeline:     ${s.timeline_entries} entries; ${s.files} files, ${s.bytes} bytes`);
  lines.push(`manifest:     sha256 ${s.manifest_sha256}`);
  if (s.tsa) lines.push(`time stamp:   ${s.tsa.gen_time} from ${s.tsa.url}${s.tsa.verified ? ' (verified against --tsa-ca)' : ' (not verified: no --tsa-ca)'}`);
  if (s.report) {
    const html = s.report.files.filter((f) => f.endsWith('.html')).map((f) => join(s.out, f));
    lines.push(`draft report: ${html.join(', ')} (inside the seal; made before it, so \`custody report\` on the bundle makes one that includes the bundle's verification)`);
  }
  if (s.report_error) {
    lines.push(`draft report: NOT WRITTEN (${s.report_error.code}): ${s.report_error.message}`);
    lines.push(`              the bundle is sealed without report/; make the report afterwards with \`custody report ${s.out}\``);
  }
  lines.push(`custody head: ${s.custody_head.index}:${s.custody_head.sha256}`);
  lines.push('verify with:');
  lines.push(`  ${s.audit.custody}`);
  lines.push(`  cd ${s.out} && ${s.audit.sha256sum} && ${s.audit.hashdeep}`);
  lines.push(`  ${s.audit.openssl_sig}`);
  if (s.audit.openssl_tsr) lines.push(`  ${s.audit.openssl_tsr}`);
  // Case id, host names and paths come from the user and the stores: no control character reaches the terminal.
  return terminalLines(lines);
}
