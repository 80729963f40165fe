/**
 * The live sources beside the file ingestor (issue 4): the systemd journal, USB devices (sysfs
 * snapshots and the udev monitor) and the watch of sensitive folders. run.ts starts them after the
 * ingestor and stops them before it records `agent.stop`. Each is optional (its config block
 * absent: off) and independent: one that fails to start is logged and shown in status, the others
 * run on.
 */
import { messageOf } from '../../src/errors.js';
import type { AgentConfig } from '../config.js';
import { foldLineTails, saveLineTails, type LineTail, type LiveSource, type LiveSourceStatus, type SourceDeps } from './common.js';
import { FileWatchSource, watchPath } from './file-watch.js';
import { journalCursorOf, journaldPath, JournaldSource } from './journald.js';
import { UDEV_MONITOR_PATH, UsbLiveSource } from './usb-live.js';

export type { LiveSourceStatus } from './common.js';

/** Persist the line tails at most this often (a cache; the evidence is the truth). */
const SAVE_TAILS_MS = 1000;

export { hasLiveSources } from '../config.js';

export class LiveSources {
  private journald: JournaldSource | undefined;
  private usb: UsbLiveSource | undefined;
  private watch: FileWatchSource | undefined;
  private started: LiveSource[] = [];
  private readonly failed: LiveSourceStatus[] = [];
  private lastSave = 0;
  private lastSavedSize = -1;

  constructor(
    private readonly deps: SourceDeps,
    private readonly config: AgentConfig,
  ) {}

  async start(): Promise<void> {
    const s = this.config.sources;
    const linePaths: string[] = [];
    const markers: Record<string, (text: string) => string | undefined> = {};
    const j = s.journald !== undefined && s.journald.enabled ? s.journald : undefined;
    if (j) {
      const path = journaldPath(j);
      linePaths.push(path);
      markers[path] = journalCursorOf;
    }
    if (s.usb?.udev) linePaths.push(UDEV_MONITOR_PATH);
    const folders = s.watchFolders?.paths ?? [];
    for (const f of folders) linePaths.push(watchPath(f));
    const { tails, fromSeq, folded } = foldLineTails(this.deps.store, this.deps.state, linePaths, markers);
    if (linePaths.length > 0) this.deps.logger.info({ evt: 'sources.resumed', from_seq: fromSeq, folded, sources: linePaths }, 'live source positions recovered from the evidence store');
    const tail = (p: string): LineTail => tails.get(p) ?? { count: 0 };

    if (j) {
      this.journald = new JournaldSource(this.deps, { startAt: j.startAt, ...(j.directory !== undefined ? { directory: j.directory } : {}), ...(j.file !== undefined ? { file: j.file } : {}) }, tail(journaldPath(j)));
      await this.startOne(this.journald);
    }
    if (s.usb) {
      this.usb = new UsbLiveSource(this.deps, { sysfsRoot: s.usb.sysfsRoot, snapshotIntervalMs: s.usb.snapshotInterval, udev: s.usb.udev }, tail(UDEV_MONITOR_PATH));
      await this.startOne(this.usb);
    }
    if (folders.length > 0 && s.watchFolders) {
      this.watch = new FileWatchSource(this.deps, { paths: folders, maxHashBytes: s.watchFolders.maxHashBytes }, tails);
      await this.startOne(this.watch);
    }
  }

  private async startOne(source: LiveSource): Promise<void> {
    try {
      await source.start();
      this.started.push(source);
    } catch (err) {
      this.failed.push({ name: source.name, state: 'error', last_error: messageOf(err) });
      this.deps.logger.error({ evt: 'source.start_failed', source: source.name, err: messageOf(err) }, 'a live source could not start; the others run on');
      try {
        await source.stop();
      } catch {
        // already failing
      }
    }
  }

  /** Called on the agent's maintenance tick: caches the line tails when everything queued is committed. */
  tick(): void {
    const now = performance.now();
    if (now - this.lastSave < SAVE_TAILS_MS) return;
    this.lastSave = now;
    this.saveTails(false);
  }

  private saveTails(force: boolean): void {
    const store = this.deps.store;
    if (store.isClosed || store.pendingCount > 0) return;
    if (!force && store.size === this.lastSavedSize) return;
    const tails = new Map<string, LineTail>();
    if (this.journald) tails.set(this.journald.path, this.journald.lineTail());
    if (this.usb) tails.set(UDEV_MONITOR_PATH, this.usb.lineTail());
    if (this.watch) for (const [k, v] of this.watch.lineTails()) tails.set(k, v);
    if (tails.size === 0) return;
    try {
      saveLineTails(this.deps.state, store.size, tails);
      this.lastSavedSize = store.size;
    } catch (err) {
      this.deps.logger.warn({ evt: 'sources.state_error', err: messageOf(err) }, 'could not cache live source positions (a cache; evidence is unaffected)');
    }
  }

  async stop(): Promise<void> {
    const sources = [...this.started].reverse();
    this.started = [];
    for (const source of sources) {
      try {
        await source.stop();
      } catch (err) {
        this.deps.logger.error({ evt: 'source.stop_failed', source: source.name, err: messageOf(err) }, 'stopping a live source failed');
      }
    }
    try {
      if (!this.deps.store.isClosed) this.deps.store.flush();
      this.saveTails(true);
    } catch (err) {
      this.deps.logger.error({ evt: 'source.stop_failed', source: 'store', err: messageOf(err) }, 'committing the live sources\' last records failed');
    }
  }

  status(): LiveSourceStatus[] {
    const out: LiveSourceStatus[] = [];
    for (const s of [this.journald, this.usb, this.watch]) if (s) out.push(s.status());
    return [...out, ...this.failed.filter((f) => !out.some((o) => o.name === f.name && o.state !== 'error'))];
  }

  /** For tests: every folder event received so far is recorded. */
  async idle(): Promise<void> {
    await this.watch?.idle();
  }
}
