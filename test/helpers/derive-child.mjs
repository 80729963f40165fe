// A child process that runs what the agent runs for evidence: the file ingestor and the deriver,
// over one store, for the deriver's kill -9 test. Plain JS over dist/.
// argv: <storeDir> <glob> <idleFinishMs>
// Prints READY when both run; on SIGTERM stops cleanly and prints STOPPED. Logs go to stderr.
import { pino } from 'pino';
import { FileIngestor, DEFAULT_INGEST_OPTIONS } from '../../dist/agent/ingest.js';
import { systemClock } from '../../dist/src/clock.js';
import { Deriver } from '../../dist/src/derive/deriver.js';
import { EvidenceStore } from '../../dist/src/store/evidence-store.js';
import { StateStore } from '../../dist/src/store/state-store.js';

const [storeDir, glob, idleMs] = process.argv.slice(2);
const logger = pino({ level: 'warn' }, pino.destination(2));
const store = EvidenceStore.open(storeDir, { clock: systemClock, onBackgroundError: () => undefined });
const state = new StateStore(storeDir);
const ingestor = new FileIngestor({ store, state, logger, clock: systemClock }, { ...DEFAULT_INGEST_OPTIONS, watch: [glob] });
await ingestor.start();
const deriver = new Deriver({ store, state, logger, clock: systemClock }, { idleFinishMs: Number(idleMs ?? 2000), intervalMs: 20 });
deriver.start();
process.stdout.write('READY\n');
process.on('SIGTERM', async () => {
  await ingestor.stop();
  deriver.stop();
  store.close({ finalCheckpoint: true });
  state.close();
  process.stdout.write('STOPPED\n');
  process.exit(0);
});
setInterval(() => undefined, 1 << 30);
