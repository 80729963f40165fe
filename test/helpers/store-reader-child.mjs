// A separate process that reads a store while another writes it, as a collector and `agent status`
// do: snapshots (VACUUM INTO), status, verification and plain reads, in a loop until its standard input closes.
// Prints one JSON line at the end: how many of each it did, and every error it met. Imports the
// built code from dist/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { agentStatus } from '../../dist/agent/status.js';
import { verifyStoreDir } from '../../dist/collector/verify.js';
import { snapshotStore } from '../../dist/src/store/snapshot.js';
import { SqliteStoreReader } from '../../dist/src/store/store-reader.js';

const [dir, snapshotsDir] = process.argv.slice(2);
mkdirSync(snapshotsDir, { recursive: true });
const result = { snapshots: [], statusReads: 0, reads: 0, verifications: 0, errors: [] };
let stopping = false;
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => {
  stopping = true;
});

function once(what, fn) {
  try {
    fn();
  } catch (err) {
    result.errors.push(`${what}: ${err?.code ?? ''} ${err?.message ?? String(err)}`);
  }
}

async function round() {
  if (stopping) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  once('snapshot', () => {
    const dest = join(snapshotsDir, `snap-${result.snapshots.length}`);
    const r = snapshotStore(dir, dest);
    result.snapshots.push({ dir: dest, records: r.records, sealedSize: r.sealedSize });
  });
  once('status', () => {
    agentStatus(dir);
    result.statusReads++;
  });
  once('read', () => {
    const reader = new SqliteStoreReader(dir);
    try {
      reader.meta();
      reader.highWaterSeq();
      reader.checkpoints();
      result.reads++;
    } finally {
      reader.close();
    }
  });
  // Verify the live store as an examiner might while the agent writes: no finding may come from the writing itself.
  if (result.statusReads % 5 === 1) {
    try {
      const v = await verifyStoreDir(dir);
      const errors = v.findings.filter((f) => f.severity === 'error');
      if (errors.length > 0) result.errors.push(`verify: ${JSON.stringify(errors)}`);
      result.verifications++;
    } catch (err) {
      result.errors.push(`verify: ${err?.code ?? ''} ${err?.message ?? String(err)}`);
    }
  }
  setTimeout(round, 5);
}
process.stdout.write('ready\n');
round();
