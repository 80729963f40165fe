/**
 * The agent's own watch of sensitive folders (chokidar): files created, modified, deleted or
 * renamed, each with its size, mtime and SHA-256 after the change.
 *
 * A derived record must name raw evidence, and here the raw evidence is the agent's own
 * observation. So every observation is preserved first, as one `log.line` under the pseudo path
 * `watch:<folder>` whose text is the RFC 8785 canonical JSON of what was observed (the watcher's
 * event(s), the path, and what lstat and hashing found: dev, ino, size, mtime, mode, sha256, or why
 * there is none). The `file.change` that interprets it (create / modify / delete / rename, a rename
 * being an unlink and an add of the same device + inode within a short window) names those lines in
 * `derived_from`. Someone who doubts the interpretation can read exactly what the agent saw.
 *
 * Bounded memory under bursts: events are coalesced per path in a queue of at most `maxQueued`
 * paths, processed one at a time, and files are hashed through a 1 MiB buffer. Events beyond the
 * queue are counted and recorded as an `agent.gap` (reason `watch_overflow`), never dropped quietly.
 * A file that disappears before it could be read gets its record with no hash and a note.
 */
import { watch, type FSWatcher } from 'chokidar';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { messageOf } from '../../src/errors.js';
import { canonicalBytes } from '../../src/records/canonical.js';
import { formatTimestamp, type PayloadOf } from '../../src/records/schema.js';
import { appendRecord, appenderOf, LineSeries, type LineTail, type LiveSource, type LiveSourceStatus, type SourceDeps } from './common.js';

export const FILE_WATCH_PARSER = 'agent.watch@1';
export const WATCH_PATH_PREFIX = 'watch:';

export interface FileWatchOptions {
  paths: string[];
  maxHashBytes: number;
  /** An unlink and an add of the same file within this long are one rename. */
  renameWindowMs?: number;
  /** Paths with events waiting at most (beyond: counted, and recorded as a gap). */
  maxQueued?: number;
}

const HASH_CHUNK_BYTES = 1 << 20;
const DEFAULT_RENAME_WINDOW_MS = 1000;
const DEFAULT_MAX_QUEUED = 10_000;

type WatchEvent = 'add' | 'change' | 'unlink';

interface Queued {
  root: string;
  events: WatchEvent[];
  /** Seen in the watcher's initial scan: the folder as it was at start, not a change. */
  baseline: boolean;
}

interface PendingUnlink {
  root: string;
  path: string;
  seq: number;
  timer: NodeJS.Timeout;
}

/** The observation as preserved (the `log.line` text). */
interface Observation {
  v: 1;
  watched: string;
  path: string;
  /** The watcher's events for this path since the last observation, oldest first (a burst is coalesced). */
  events: WatchEvent[];
  exists: boolean;
  dev?: string;
  ino?: string;
  size?: number;
  mtime?: string;
  mode?: string;
  type?: 'file' | 'symlink' | 'other';
  sha256?: string;
  note?: string;
  /** For a removal: the identity the path had when it was last seen. */
  previous_dev_ino?: string;
}

function mtimeOf(st: BigIntStats): string {
  return formatTimestamp(Number(st.mtimeNs / 1_000_000n), Number((st.mtimeNs / 1000n) % 1000n));
}

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The path under the watched folder that holds it (the longest match). */
function rootOf(roots: readonly string[], path: string): string {
  let best = roots[0] ?? path;
  let bestLen = -1;
  for (const r of roots) {
    if ((path === r || path.startsWith(r.endsWith(sep) ? r : r + sep)) && r.length > bestLen) {
      best = r;
      bestLen = r.length;
    }
  }
  return best;
}

/** SHA-256 of a file through one open handle, with the handle's stat before and after (to see a change while hashing). */
async function hashFile(path: string): Promise<{ sha256: string; before: BigIntStats; after: BigIntStats }> {
  const fd = await open(path, 'r');
  try {
    const before = await fd.stat({ bigint: true });
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(HASH_CHUNK_BYTES, Math.max(1, Number(before.size))));
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fd.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const after = await fd.stat({ bigint: true });
    return { sha256: hash.digest('hex'), before, after };
  } finally {
    await fd.close();
  }
}

export class FileWatchSource implements LiveSource {
  readonly name = 'watch';
  private readonly roots: string[];
  private readonly series = new Map<string, LineSeries>();
  private readonly renameWindowMs: number;
  private readonly maxQueued: number;
  private watcher: FSWatcher | undefined;
  private scanned = false;
  private stopping = false;
  private readonly queue = new Map<string, Queued>();
  private working: Promise<void> | undefined;
  /** Known files: path → `dev:ino`, and back. */
  private readonly known = new Map<string, string>();
  private readonly byId = new Map<string, string>();
  private readonly pendingUnlinks = new Map<string, PendingUnlink>();
  /** Old paths already accounted for by a rename seen from its add side. */
  private readonly renamedAway = new Map<string, string>();
  private overflow = { count: 0, sample: [] as string[], since: '' };
  private changes = 0;
  private errors = 0;
  private lastError: string | undefined;
  private readonly reportedErrors = new Set<string>();

  constructor(
    private readonly deps: SourceDeps,
    private readonly options: FileWatchOptions,
    tails: ReadonlyMap<string, LineTail>,
  ) {
    this.roots = options.paths.map((p) => resolve(p));
    this.renameWindowMs = options.renameWindowMs ?? DEFAULT_RENAME_WINDOW_MS;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    for (const root of this.roots) {
      const path = watchPath(root);
      this.series.set(root, new LineSeries(appenderOf(deps), path, tails.get(path) ?? { count: 0 }));
    }
  }

  lineTails(): Map<string, LineTail> {
    const out = new Map<string, LineTail>();
    for (const s of this.series.values()) out.set(s.path, s.tail());
    return out;
  }

  async start(): Promise<void> {
    const watcher = watch(this.roots, { ignoreInitial: false, followSymlinks: false, persistent: true, atomic: true, alwaysStat: false });
    this.watcher = watcher;
    watcher.on('add', (path) => this.onEvent('add', path));
    watcher.on('change', (path) => this.onEvent('change', path));
    watcher.on('unlink', (path) => this.onEvent('unlink', path));
    watcher.on('error', (err) => this.onError(err));
    await new Promise<void>((res) =>
      watcher.once('ready', () => {
        this.scanned = true;
        res();
      }),
    );
    // The files already there are the baseline (their identities, for renames), not changes.
    await this.drain();
    this.deps.logger.info({ evt: 'watch.ready', folders: this.roots, files: this.known.size }, 'watching sensitive folders');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.watcher?.close().catch(() => undefined);
    this.watcher = undefined;
    await this.drain();
    // Removals still waiting for a possible rename partner are removals.
    for (const [id, pending] of [...this.pendingUnlinks]) {
      clearTimeout(pending.timer);
      this.pendingUnlinks.delete(id);
      this.emitDelete(pending);
    }
    this.recordOverflow();
    this.deps.logger.info({ evt: 'watch.stopped', changes: this.changes }, 'stopped watching folders');
  }

  status(): LiveSourceStatus {
    const s: LiveSourceStatus = {
      name: this.name,
      state: this.stopping ? 'stopped' : 'running',
      folders: this.roots,
      files_known: this.known.size,
      records: this.changes,
      queued: this.queue.size,
      errors: this.errors,
    };
    if (this.lastError !== undefined) s.last_error = this.lastError;
    return s;
  }

  /** Resolves when every event received so far has been recorded. */
  async idle(): Promise<void> {
    await this.drain();
  }

  private onError(err: unknown): void {
    this.errors++;
    const message = messageOf(err);
    this.lastError = message;
    this.deps.logger.warn({ evt: 'watch.error', err: message }, 'the folder watcher reported an error');
    const path = (err as { path?: string }).path;
    const key = `${path ?? ''}:${(err as NodeJS.ErrnoException).code ?? message}`;
    if (this.reportedErrors.has(key)) return;
    this.reportedErrors.add(key);
    const root = path !== undefined ? rootOf(this.roots, path) : (this.roots[0] ?? '');
    appendRecord(appenderOf(this.deps), 'agent.gap', watchPath(root), {
      source: watchPath(root),
      path: path ?? root,
      reason: 'unreadable',
      detail: `the watch of ${root} reported an error; changes there may not be seen: ${message}`,
    });
  }

  private onEvent(event: WatchEvent, path: string): void {
    const existing = this.queue.get(path);
    if (existing && this.scanned && existing.baseline) {
      existing.baseline = false;
      existing.events = [event];
    } else if (existing) {
      if (existing.events.length < 16) existing.events.push(event);
      else existing.events[15] = event; // keep the latest; the count of a long burst is not evidence of content
    } else if (this.queue.size >= this.maxQueued) {
      if (this.overflow.count === 0) this.overflow.since = formatTimestamp(this.deps.clock.nowMs());
      this.overflow.count++;
      if (this.overflow.sample.length < 5) this.overflow.sample.push(path);
      return;
    } else {
      this.queue.set(path, { root: rootOf(this.roots, path), events: [event], baseline: !this.scanned });
    }
    this.kick();
  }

  private kick(): void {
    if (this.working) return;
    this.working = this.work().finally(() => {
      this.working = undefined;
      if (this.queue.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.working || this.queue.size > 0) {
      if (!this.working) this.kick();
      await this.working;
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      const next = this.queue.entries().next();
      if (next.done) break;
      const [path, item] = next.value;
      this.queue.delete(path);
      try {
        if (item.baseline) await this.baseline(path);
        else await this.observe(path, item);
      } catch (err) {
        this.errors++;
        this.lastError = messageOf(err);
        this.deps.logger.error({ evt: 'watch.record_failed', path, err: messageOf(err) }, 'could not record a file change');
      }
    }
    this.recordOverflow();
  }

  private recordOverflow(): void {
    if (this.overflow.count === 0 || this.deps.store.isClosed) return;
    const { count, sample, since } = this.overflow;
    this.overflow = { count: 0, sample: [], since: '' };
    const root = this.roots[0] ?? '';
    appendRecord(appenderOf(this.deps), 'agent.gap', watchPath(root), {
      source: watchPath(root),
      path: root,
      reason: 'watch_overflow',
      detail: `${count} file events arrived while ${this.maxQueued} paths were already waiting and were not examined (for example ${sample.join(', ')})`,
      since,
      until: formatTimestamp(this.deps.clock.nowMs()),
    });
    this.deps.logger.warn({ evt: 'watch.overflow', dropped: count }, 'a burst of file events overflowed the watch queue; recorded as a gap');
  }

  private async baseline(path: string): Promise<void> {
    try {
      const st = await lstat(path, { bigint: true });
      this.remember(path, `${st.dev}:${st.ino}`);
    } catch {
      // gone already: nothing to remember
    }
  }

  private remember(path: string, id: string): void {
    const old = this.known.get(path);
    if (old !== undefined && this.byId.get(old) === path) this.byId.delete(old);
    this.known.set(path, id);
    this.byId.set(id, path);
  }

  private forget(path: string): string | undefined {
    const id = this.known.get(path);
    this.known.delete(path);
    if (id !== undefined && this.byId.get(id) === path) this.byId.delete(id);
    return id;
  }

  private preserve(root: string, obs: Observation): number {
    const series = this.series.get(root);
    if (!series) throw new Error(`no line series for ${root}`);
    return series.append(canonicalBytes(obs));
  }

  private async observe(path: string, item: Queued): Promise<void> {
    const last = item.events[item.events.length - 1] as WatchEvent;
    const obs: Observation = { v: 1, watched: item.root, path, events: item.events, exists: false };
    let st: BigIntStats | undefined;
    if (last !== 'unlink') {
      try {
        st = await lstat(path, { bigint: true });
      } catch (err) {
        if (!isEnoent(err)) obs.note = `could not be examined: ${messageOf(err)}`;
      }
    }
    if (last === 'unlink' || st === undefined) {
      const previous = this.known.get(path);
      if (previous !== undefined) obs.previous_dev_ino = previous;
      if (last !== 'unlink' && obs.note === undefined) obs.note = 'it disappeared before it could be examined';
      const seq = this.preserve(item.root, obs);
      const id = this.forget(path);
      const renamedTo = this.renamedAway.get(path);
      if (renamedTo !== undefined) {
        this.renamedAway.delete(path);
        return; // already recorded as the rename to `renamedTo`
      }
      if (last !== 'unlink') {
        // Seen added or changed, but gone before it could be read.
        this.emitChange(item.root, path, last === 'add' ? 'create' : 'modify', [seq], undefined, undefined, obs.note);
        return;
      }
      if (id === undefined) {
        this.emitDelete({ root: item.root, path, seq });
        return;
      }
      const timer = setTimeout(() => {
        const p = this.pendingUnlinks.get(id);
        if (!p) return;
        this.pendingUnlinks.delete(id);
        this.emitDelete(p);
      }, this.renameWindowMs);
      timer.unref();
      this.pendingUnlinks.set(id, { root: item.root, path, seq, timer });
      return;
    }
    // It exists: identity, size, mtime, and the hash of its content now.
    obs.exists = true;
    const id = `${st.dev}:${st.ino}`;
    obs.dev = String(st.dev);
    obs.ino = String(st.ino);
    obs.size = Number(st.size);
    obs.mtime = mtimeOf(st);
    obs.mode = (Number(st.mode) & 0o7777).toString(8).padStart(4, '0');
    obs.type = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    if (!st.isFile()) {
      obs.note = `not a regular file (${obs.type}): not hashed`;
    } else if (st.size > BigInt(this.options.maxHashBytes)) {
      obs.note = `larger than maxHashBytes (${this.options.maxHashBytes}): not hashed`;
    } else {
      try {
        const h = await hashFile(path);
        const same = h.before.ino === h.after.ino && h.before.size === h.after.size && h.before.mtimeNs === h.after.mtimeNs && h.before.ino === st.ino;
        if (same) {
          obs.sha256 = h.sha256;
          obs.size = Number(h.after.size);
          obs.mtime = mtimeOf(h.after);
        } else {
          obs.note = 'it changed while it was being hashed: no hash (the next change event records it again)';
        }
      } catch (err) {
        obs.note = isEnoent(err) ? 'it disappeared before it could be hashed' : `could not be hashed: ${messageOf(err)}`;
      }
    }
    const seq = this.preserve(item.root, obs);
    // A rename: the same file just left another path (its unlink seen first, or not yet).
    const pending = this.pendingUnlinks.get(id);
    const first = item.events[0];
    if (pending && pending.path !== path) {
      clearTimeout(pending.timer);
      this.pendingUnlinks.delete(id);
      this.remember(path, id);
      this.emitChange(item.root, path, 'rename', [pending.seq, seq], obs, pending.path);
      return;
    }
    const oldPath = this.byId.get(id);
    if (first === 'add' && oldPath !== undefined && oldPath !== path) {
      let oldGone = false;
      try {
        const o = await lstat(oldPath, { bigint: true });
        oldGone = `${o.dev}:${o.ino}` !== id;
      } catch {
        oldGone = true;
      }
      if (oldGone) {
        this.forget(oldPath);
        this.renamedAway.set(oldPath, path);
        this.remember(path, id);
        this.emitChange(item.root, path, 'rename', [seq], obs, oldPath);
        return;
      }
    }
    const wasKnown = this.known.has(path);
    this.remember(path, id);
    this.emitChange(item.root, path, first === 'add' && !wasKnown ? 'create' : 'modify', [seq], obs);
  }

  private emitDelete(p: { root: string; path: string; seq: number }): void {
    if (this.deps.store.isClosed) return;
    this.emitChange(p.root, p.path, 'delete', [p.seq]);
  }

  private emitChange(root: string, path: string, operation: PayloadOf<'file.change'>['operation'], derivedFrom: number[], obs?: Observation, previousPath?: string, note?: string): void {
    const payload: PayloadOf<'file.change'> = { derived_from: derivedFrom, parser: FILE_WATCH_PARSER, path, operation };
    if (previousPath !== undefined) payload.previous_path = previousPath;
    if (obs?.size !== undefined) payload.size = obs.size;
    if (obs?.mtime !== undefined) payload.mtime = obs.mtime;
    if (obs?.sha256 !== undefined) payload.sha256 = obs.sha256;
    const extra: Record<string, string> = { watched: root };
    const n = note ?? obs?.note;
    if (n !== undefined) extra['note'] = n;
    if (obs?.dev !== undefined && obs.ino !== undefined) {
      extra['dev'] = obs.dev;
      extra['ino'] = obs.ino;
    }
    payload.extra = extra;
    appendRecord(appenderOf(this.deps), 'file.change', watchPath(root), payload);
    this.changes++;
    this.deps.logger.debug({ evt: 'watch.change', path, operation, previous_path: previousPath }, 'file change recorded');
  }
}

/** The pseudo path (and record source) of a watched folder's observations. */
export function watchPath(root: string): string {
  return `${WATCH_PATH_PREFIX}${root}`;
}
