/**
 * The file ingestor's folder watchers: one `fs.watch` (inotify on Linux) per folder where a
 * followed or matching file is or may appear: each glob's base, the folders below it the glob
 * reaches, and the folder of every followed file. Events only make reading prompt; the ingestor's
 * polls and rescans are what correctness rests on, so a folder that cannot be watched (not there
 * yet, not readable, removed) is left to them and tried again at the next refresh.
 */
import fg from 'fast-glob';
import { watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { messageOf } from '../../src/errors.js';

export interface FolderWatchEvents {
  /** A write to, or a new, renamed or removed name in, a watched folder (`name` null: the kernel did not say which). */
  onEvent(folder: string, event: string, name: string | Buffer | null): void;
  /** A watcher failed (e.g. its folder was removed): the next rescan decides what to watch. */
  onError(): void;
}

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class FolderWatchers {
  /** Watched folder → its watcher. */
  private readonly watchers = new Map<string, FSWatcher>();
  /** Each glob's base folder and how deep below it the glob reaches (undefined: any depth). */
  private readonly bases = new Map<string, number | undefined>();

  /** `patterns`: the absolute globs the ingestor follows. */
  constructor(
    patterns: readonly string[],
    private readonly log: Logger,
    private readonly events: FolderWatchEvents,
  ) {
    for (const task of fg.generateTasks([...patterns])) {
      const base = resolve(task.base === '' ? '.' : task.base);
      const baseDepth = base.split('/').filter(Boolean).length;
      let depth: number | undefined = 0;
      for (const p of task.patterns) {
        if (p.includes('**')) {
          depth = undefined;
          break;
        }
        depth = Math.max(depth ?? 0, p.split('/').filter(Boolean).length - baseDepth - 1);
      }
      const prev = this.bases.has(base) ? this.bases.get(base) : 0;
      this.bases.set(base, depth === undefined || prev === undefined ? undefined : Math.max(prev, depth));
    }
  }

  /**
   * Watches every folder the globs can reach and every folder of `followed` (the folders of the
   * followed files); stops watching the ones no longer needed. Runs at start and with every
   * rescan, so a folder created later is watched from the next rescan on (its own creation is an
   * event in the folder above it).
   */
  async refresh(followed: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const [base, depth] of this.bases) {
      wanted.add(base);
      if (depth === 0) continue;
      const below = await fg('**', { cwd: base, absolute: true, onlyDirectories: true, suppressErrors: true, followSymbolicLinks: true, dot: true, ...(depth === undefined ? {} : { deep: depth }) });
      for (const folder of below) wanted.add(resolve(folder));
    }
    for (const folder of followed) wanted.add(folder);
    for (const [folder, watcher] of this.watchers) {
      if (wanted.has(folder)) continue;
      watcher.close();
      this.watchers.delete(folder);
    }
    for (const folder of wanted) if (!this.watchers.has(folder)) this.watch(folder);
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private watch(folder: string): void {
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, { persistent: true }, (event, name) => this.events.onEvent(folder, event, name));
    } catch (err) {
      // Not there yet (or not readable): polling and the rescans cover it, and the next rescan tries again.
      if (!isEnoent(err)) this.log.warn({ evt: 'ingest.watch_error', folder, err: messageOf(err) }, 'cannot watch a folder (polling continues)');
      return;
    }
    watcher.on('error', (err) => {
      // E.g. the folder was removed: let the next rescan decide whether to watch it again.
      watcher.close();
      if (this.watchers.get(folder) === watcher) this.watchers.delete(folder);
      if (!isEnoent(err)) this.log.warn({ evt: 'ingest.watch_error', folder, err: messageOf(err) }, 'file watcher error (polling continues)');
      this.events.onError();
    });
    this.watchers.set(folder, watcher);
  }
}
