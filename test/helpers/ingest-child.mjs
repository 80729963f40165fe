// A child process running the ingestor against a store, for the kill -9 test. Plain JS over dist/.
// argv: <storeDir> <glob> [partialLineFlushMs] [writerThread: auto|on|off]
// Prints READY when started; on SIGTERM stops cleanly and prints STOPPED. Logs (pino) go to stderr.
import { pino } from 'pino';
import { FileIngestor, DEFAULT_INGEST_OPTIONS } from '../../dist/agent/ingest.js';
import { systemClock } from '../../dist/src/clock.js';
import { EvidenceStore } from '../../dist/src/store/evidence-store.js';
import { StateStore } from '../../dist/src/store/state-store.js';

const [storeDir, glob, flushMs, writerThread] = process.argv.slice(2);
const logger = pino({ level: 'warn' }, pino.destination(2));
const store = EvidenceStore.open(storeDir, { clock: systemClock, onBackgroundError: () => undefined, writerThread: writerThread ?? 'auto' });
const state = new StateStore(storeDir);
const ingestor = new FileIngestor(
  { store, state, logger, clock: systemClock },
  { ...DEFAULT_INGEST_OPTIONS, watch: [glob], partialLineFlushMs: Number(flushMs ?? 2000) },
);
await ingestor.start();
process.stdout.write('READY\n');
process.on('SIGTERM', async () => {
  await ingestor.stop();
  store.close({ finalCheckpoint: true });
  state.close();
  process.stdout.write('STOPPED\n');
  process.exit(0);
});
setInterval(() => undefined, 1 << 30);
