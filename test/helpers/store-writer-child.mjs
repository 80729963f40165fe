// A separate process that writes to a store as fast as it can, rotating keys now and then, until
// it is killed. Used by the crash and snapshot tests: it imports the built code from dist/.
import { EvidenceStore } from '../../dist/src/store/evidence-store.js';

const [dir, rotateEvery = '700'] = process.argv.slice(2);
const store = EvidenceStore.open(dir, { bootId: 'child', policy: { batchRecords: 64, batchMs: 20, checkpointRecords: 150, checkpointMs: 100 } });
let n = store.nextSequence;
process.stdout.write(`ready ${n}\n`);

function burst() {
  for (let i = 0; i < 200; i++) {
    const text = `line ${n} ${'x'.repeat(n % 50)}`;
    // Not a file ingestor's layout (offsets are not contiguous), so not a `file:` source: verify checks those.
    store.append('log.line', 'child:/tmp/x.log', { path: '/tmp/x.log', dev: '1', ino: '2', offset: n * 100, line_no: n + 1, length: Buffer.byteLength(text), text });
    n++;
    if (Number(rotateEvery) > 0 && n % Number(rotateEvery) === 0) store.rotateKey();
  }
  process.stdout.write(`seq ${n}\n`);
  setImmediate(burst);
}
burst();
