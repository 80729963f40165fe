/**
 * The rollback matrix: an attacker with root deletes the newest seals (no key needed) and rewrites
 * what they covered. Each variant works on a fresh copy of one store written by the real store
 * code the way the agent writes it (three runs: agent.start with its policy, lines, heartbeats, key
 * rotations, agent.stop sealed with its final checkpoint; the last run ends without a stop, as a
 * kill -9 leaves it), with RFC 3161 tokens from a real (openssl) TSA. Each test names the attack
 * and asserts the finding's code and location; the last variants show what is left when every
 * trace is erased too, which is the limit the README states.
 */
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import { requestTimeStamp } from '../../src/net/tsa-http.js';
import { decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { formatStoreVerification, verificationFails } from '../../src/verify/format.js';
import { STORE_FINDINGS } from '../../src/verify/store-findings.js';
import type { Finding, StoreVerification } from '../../src/verify/store-verify.js';
import { deleteAndRenumber, deleteCheckpointsAfterFirst, hideDeletedCheckpoints, openAsAttacker, rewriteRecord } from '../helpers/store-attacks.js';
import { startTestTsa, type TestTsa } from '../helpers/tsa-server.js';
import { scriptedAgent } from '../helpers/scripted-agent.js';

const POLICY = { batchRecords: 10, batchMs: 250, checkpointRecords: 20, checkpointMs: 60_000, epochMs: 3_600_000 };
const RECORDED_POLICY = { batch_records: 10, batch_ms: 250, checkpoint_records: 20, checkpoint_ms: 60_000, epoch_ms: 3_600_000, heartbeat_ms: 30_000 };

let work: string;
let pristine: string;
let fingerprint: string;
let tsa: TestTsa;
/** What the pristine store holds, read back from it: the attacks' expected locations. */
let facts: {
  records: number;
  checkpoints: { id: number; tree_size: number }[];
  rotations: { seq: number; epoch: number }[];
  stops: number[];
  heartbeats: number[];
  epochHeartbeats: number[];
  stampedCheckpoints: number[];
};

const { clock, tick, agentRun } = scriptedAgent(RECORDED_POLICY);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-rollback-'));
  pristine = join(work, 'pristine');
  tsa = await startTestTsa();
  const created = EvidenceStore.create(pristine, { host: 'web-01', bootId: 'boot-1', clock, policy: POLICY });
  fingerprint = created.enrollment.fingerprint;
  agentRun(created.store, { lines: 90, rotateAfter: 59, stop: true });
  tick(3_600_000);
  const second = EvidenceStore.open(pristine, { bootId: 'boot-1', clock, policy: POLICY });
  agentRun(second, { lines: 90, rotateAfter: 59, stop: true });
  tick(3_600_000);
  const third = EvidenceStore.open(pristine, { bootId: 'boot-1', clock, policy: POLICY });
  agentRun(third, { lines: 15, stop: false });

  // Time stamps on the first checkpoint and on the final checkpoint of the first run.
  const db = new Database(join(pristine, EVIDENCE_FILE));
  const cps = db.prepare('SELECT id, tree_size, note FROM checkpoints ORDER BY id').all() as { id: number; tree_size: number; note: string }[];
  const seqOf = (kind: string): number[] => (db.prepare('SELECT seq FROM records WHERE kind = ? ORDER BY seq').raw().all(kind) as [number][]).map((r) => r[0]);
  const stops = seqOf('agent.stop');
  const stamped = [cps[0]!, cps.find((c) => c.tree_size === stops[0]! + 1)!];
  db.close();
  const store = EvidenceStore.open(pristine, { bootId: 'boot-1', clock, policy: POLICY });
  for (const cp of stamped) {
    const stamp = await requestTimeStamp(tsa.url, new TextEncoder().encode(cp.note));
    store.attachTimestamp(cp.id, tsa.url, stamp.info.genTime, stamp.tokenDer);
  }
  store.close();

  const check = new Database(join(pristine, EVIDENCE_FILE), { readonly: true });
  const rotations = (check.prepare(`SELECT seq, bytes FROM records WHERE kind = 'key.rotate' ORDER BY seq`).all() as { seq: number; bytes: Uint8Array }[]).map((r) => ({
    seq: r.seq,
    epoch: ((decodeCanonical(r.bytes) as EvidenceRecord).payload as { epoch: number }).epoch,
  }));
  facts = {
    records: (check.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n,
    checkpoints: check.prepare('SELECT id, tree_size FROM checkpoints ORDER BY id').all() as { id: number; tree_size: number }[],
    rotations,
    stops,
    heartbeats: (check.prepare(`SELECT seq FROM records WHERE kind = 'agent.heartbeat' ORDER BY seq`).raw().all() as [number][]).map((r) => r[0]),
    epochHeartbeats: (check.prepare(`SELECT seq FROM records WHERE kind = 'agent.heartbeat' AND json_extract(CAST(bytes AS TEXT), '$.payload.reason') = 'epoch' ORDER BY seq`).raw().all() as [number][]).map((r) => r[0]),
    stampedCheckpoints: stamped.map((c) => c.id),
  };
  check.close();
});

afterAll(async () => {
  await tsa?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function verifyCopy(dir: string): Promise<StoreVerification> {
  return verifyStoreDir(dir, { key: fingerprint, tsaCa: [tsa.caCertPath] });
}

let attackCount = 0;
/** Copies the pristine store, opens it as an attacker would (triggers dropped), mutates it, verifies it. */
async function attack(mutate: (db: Database.Database) => void, opts: { removeKeyFolder?: boolean } = {}): Promise<StoreVerification> {
  const dir = join(work, `attack-${++attackCount}`);
  cpSync(pristine, dir, { recursive: true });
  const db = openAsAttacker(dir);
  mutate(db);
  db.close();
  // The key folder betrays a log rolled back past a rotation (key.file_beyond_log); the thorough
  // attacker removes it too, at the price of an agent that can no longer start on this store.
  if (opts.removeKeyFolder) rmSync(join(dir, 'keys'), { recursive: true, force: true });
  const result = await verifyCopy(dir);
  // Every finding has the severity its code is declared with.
  for (const f of result.findings) expect(f.severity, f.code).toBe(STORE_FINDINGS[f.code].severity);
  return result;
}

const errors = (r: StoreVerification): Finding[] => r.findings.filter((f) => f.severity === 'error');
const warnings = (r: StoreVerification): Finding[] => r.findings.filter((f) => f.severity === 'warning');
const where = (r: StoreVerification, code: string): Finding['where'][] => r.findings.filter((f) => f.code === code).map((f) => f.where);

describe('the honest store', () => {
  it('has no finding: three runs, two rotations, two sealed stops, a crash-ended last run with a short unsealed tail', async () => {
    const result = await verifyCopy(pristine);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
    expect(facts.rotations.map((r) => r.epoch)).toEqual([1, 2]);
    expect(facts.stops).toHaveLength(2);
    // The last run ended without agent.stop: its records are the unsealed tail, within the policy.
    expect(result.unsealed?.count).toBeGreaterThan(0);
    expect(result.unsealed!.count).toBeLessThanOrEqual(RECORDED_POLICY.checkpoint_records + RECORDED_POLICY.batch_records);
    expect(result.tsa.verified).toBe(2);
    expect(formatStoreVerification(result)).toMatch(/^limits: .*cannot show newest seals removed together with every trace of them/m);
  });
});

describe('rollback matrix: seals removed without a key', () => {
  it('1. every checkpoint after the first deleted and an unsealed record rewritten: each trace named, INVALID', async () => {
    const victim = facts.rotations[0]!.seq + 5;
    const result = await attack((db) => {
      deleteCheckpointsAfterFirst(db);
      rewriteRecord(db, victim, (r) => ({ ...r, payload: { ...r.payload, text: 'Nov 23 10:00:00 web-01 sshd[1]: nothing happened' } }));
    });
    expect(result.ok).toBe(false);
    const lastId = facts.checkpoints.at(-1)!.id;
    expect(where(result, 'checkpoint.deleted')).toEqual([{ checkpointRange: [2, lastId] }]);
    expect(where(result, 'key.rotation_unsealed')).toEqual(facts.rotations.map((r) => ({ seq: r.seq, epoch: r.epoch })));
    expect(where(result, 'agent.stop_unsealed')).toEqual(facts.stops.map((seq) => ({ seq })));
    // The second token's checkpoint is gone; its token is left pointing at nothing.
    expect(where(result, 'tsa.orphan')).toEqual([{ tsaToken: 2 }]);
    expect(where(result, 'seal.tail_beyond_policy')).toEqual([{ seqRange: [facts.checkpoints[0]!.tree_size, facts.records - 1] }]);
    expect(result.sealed?.checkpointId).toBe(1);
    expect(new Set(errors(result).map((f) => f.code))).toEqual(new Set(['checkpoint.deleted', 'key.rotation_unsealed', 'agent.stop_unsealed', 'tsa.orphan']));
  });

  it('2. the same deletion with nothing rewritten is just as INVALID', async () => {
    const result = await attack(deleteCheckpointsAfterFirst);
    expect(result.ok).toBe(false);
    expect(new Set(errors(result).map((f) => f.code))).toEqual(new Set(['checkpoint.deleted', 'key.rotation_unsealed', 'agent.stop_unsealed', 'tsa.orphan']));
  });

  it("3. ... with SQLite's id counters reset and the orphaned token deleted: the rotations and stops still say it", async () => {
    const result = await attack((db) => {
      deleteCheckpointsAfterFirst(db);
      hideDeletedCheckpoints(db);
    });
    expect(result.ok).toBe(false);
    expect(errors(result).map((f) => f.code).sort()).toEqual(['agent.stop_unsealed', 'agent.stop_unsealed', 'key.rotation_unsealed', 'key.rotation_unsealed']);
    expect(where(result, 'key.rotation_unsealed')).toEqual(facts.rotations.map((r) => ({ seq: r.seq, epoch: r.epoch })));
  });

  it('4. ... and the token rows deleted with their counter left: tsa.token_deleted', async () => {
    const result = await attack((db) => {
      deleteCheckpointsAfterFirst(db);
      db.prepare('DELETE FROM tsa_tokens WHERE checkpoint_id NOT IN (SELECT id FROM checkpoints)').run();
      db.prepare(`UPDATE sqlite_sequence SET seq = 1 WHERE name = 'checkpoints'`).run();
    });
    expect(where(result, 'tsa.token_deleted')).toEqual([{ tsaToken: 2 }]);
    expect(where(result, 'checkpoint.deleted')).toEqual([]);
  });

  it('5. ... and the key.rotate and agent.stop records deleted, the rest renumbered: the key folder and the epoch heartbeats still say it', async () => {
    const doomed = [...facts.rotations.map((r) => r.seq), ...facts.stops];
    const result = await attack((db) => {
      deleteCheckpointsAfterFirst(db);
      hideDeletedCheckpoints(db);
      deleteAndRenumber(db, new Set(doomed));
    });
    expect(result.ok).toBe(false);
    // The agent holds the epoch 2 key; the log now ends in epoch 0, whose key it erased long ago.
    expect(errors(result).map((f) => [f.code, f.where])).toEqual([['key.file_beyond_log', { epoch: 2 }]]);
    const renumbered = (seq: number): number => seq - doomed.filter((d) => d < seq).length;
    expect(where(result, 'key.rotation_missing')).toEqual(facts.epochHeartbeats.map((seq) => ({ seq: renumbered(seq) })));
    expect(where(result, 'seal.tail_beyond_policy')).toEqual([{ seqRange: [facts.checkpoints[0]!.tree_size, facts.records - 1 - doomed.length] }]);
  });

  it('5b. ... and the key folder removed as well: only warnings are left (VALID; --strict fails)', async () => {
    const result = await attack(
      (db) => {
        deleteCheckpointsAfterFirst(db);
        hideDeletedCheckpoints(db);
        deleteAndRenumber(db, new Set([...facts.rotations.map((r) => r.seq), ...facts.stops]));
      },
      { removeKeyFolder: true },
    );
    expect(errors(result)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(warnings(result).map((f) => f.code)).toEqual(['key.rotation_missing', 'key.rotation_missing', 'seal.tail_beyond_policy']);
    expect(verificationFails(result)).toBe(false);
    expect(verificationFails(result, { strict: true })).toBe(true);
    expect(formatStoreVerification(result, { strict: true })).toMatch(/^result: +INVALID \(0 errors, 3 warnings; --strict: a warning fails it\)$/m);
  });

  it('6. ... and the heartbeats deleted too: the count of unsealed records still exceeds the policy', async () => {
    const result = await attack(
      (db) => {
        deleteCheckpointsAfterFirst(db);
        hideDeletedCheckpoints(db);
        deleteAndRenumber(db, new Set([...facts.rotations.map((r) => r.seq), ...facts.stops, ...facts.heartbeats]));
      },
      { removeKeyFolder: true },
    );
    expect(errors(result)).toEqual([]);
    expect(warnings(result).map((f) => f.code)).toEqual(['seal.tail_beyond_policy']);
  });

  it('7. ... with the tail cut back to what the policy allows, its records renumbered and their times kept: the time span still exceeds it', async () => {
    const first = facts.checkpoints[0]!.tree_size;
    const keep = new Set<number>();
    // Keep 20 records spread over the whole tail (their observed_at span days of the agent's time).
    for (let i = 0; i < 20; i++) keep.add(first + Math.floor(((facts.records - 1 - first) * i) / 19));
    const result = await attack((db) => {
      deleteCheckpointsAfterFirst(db);
      hideDeletedCheckpoints(db);
      const doomed = new Set<number>();
      for (let seq = first; seq < facts.records; seq++) if (!keep.has(seq)) doomed.add(seq);
      deleteAndRenumber(db, doomed);
    }, { removeKeyFolder: true });
    // The log lines deleted between the kept ones leave holes in the file's preserved offsets:
    // file.offset_skipped names each (since the continuity check), the only errors there are.
    expect(new Set(errors(result).map((f) => f.code))).toEqual(new Set(['file.offset_skipped']));
    expect(errors(result).length).toBeGreaterThan(0);
    expect(warnings(result).map((f) => f.code)).toEqual(['seal.tail_beyond_policy']);
    expect(warnings(result)[0]!.message).toMatch(/s after the last verified checkpoint/);
  });

  it('8. the limit: newest seals removed with every trace (records, counters, key folder, a short tail of plausible times) is not seen locally', async () => {
    const first = facts.checkpoints[0]!.tree_size;
    const result = await attack((db) => {
      deleteCheckpointsAfterFirst(db);
      hideDeletedCheckpoints(db);
      db.prepare('DELETE FROM records WHERE seq >= ?').run(first + 5);
      db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'`).run(first + 4);
    }, { removeKeyFolder: true });
    // This is what the README says a local store cannot prove; the output says it too.
    expect(result.findings).toEqual([]);
    expect(formatStoreVerification(result)).toMatch(/^limits: .*is proven only against a seal kept off the host/m);
  });

  it('9. only the final checkpoint of a run deleted: agent.stop_unsealed at that stop, checkpoint.deleted by id', async () => {
    const stop = facts.stops[1]!;
    const victim = facts.checkpoints.find((c) => c.tree_size === stop + 1)!;
    const result = await attack((db) => db.prepare('DELETE FROM checkpoints WHERE id = ?').run(victim.id));
    expect(where(result, 'agent.stop_unsealed')).toEqual([{ seq: stop }]);
    expect(where(result, 'checkpoint.deleted')).toEqual([{ checkpointRange: [victim.id, victim.id] }]);
  });

  it('10. one checkpoint in the middle deleted (nothing gained, still tampering): checkpoint.deleted names its id', async () => {
    const boundaries = new Set([...facts.rotations.map((r) => r.seq + 1), ...facts.stops.map((s) => s + 1)]);
    const victim = facts.checkpoints.find((c, i) => i > 0 && !boundaries.has(c.tree_size) && !facts.stampedCheckpoints.includes(c.id))!;
    const result = await attack((db) => db.prepare('DELETE FROM checkpoints WHERE id = ?').run(victim.id));
    expect(errors(result).map((f) => f.code)).toEqual(['checkpoint.deleted']);
    expect(where(result, 'checkpoint.deleted')).toEqual([{ checkpointRange: [victim.id, victim.id] }]);
  });
});
