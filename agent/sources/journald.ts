/**
 * The systemd journal as a live source: every entry, as `journalctl -o json --all` prints it, is
 * preserved byte-exact as one `log.line` record (path `journald:system`, `journald:<directory>` or
 * `journald:file:<file>`; `offset` = the entry's index in this source's history, `line_no` =
 * offset + 1). The derivers read these lines like any syslog line (src/parsers/syslog.ts frames
 * journal JSON).
 *
 * Where it resumes is the evidence's own business: the `__CURSOR` inside the last preserved entry
 * (found by folding the store, see common.ts). Every (re)start runs two phases:
 *
 * 1. Catch-up: `journalctl -o json --all --cursor C` (no follow) prints the entry C itself and
 *    everything after it, across boots, and exits. The first entry must be C: it is skipped (it is
 *    already preserved). When it is not C, the entry was rotated or vacuumed away (or the journal
 *    replaced): what was written between C and the first entry now available may be lost, and an
 *    `agent.gap` (reason `cursor_not_found`) says so. A cursor journalctl cannot parse at all is a
 *    gap too (`cursor_invalid`), and reading restarts from the cursor's own time.
 * 2. Follow: `journalctl -f --no-tail --cursor C` from the last entry read. (journalctl 252's
 *    `--follow` shows only the newest boot, which is why the catch-up reads the rest without it.)
 *
 * When journalctl dies, it is restarted with backoff (1 s doubling to 60 s) and the catch-up runs
 * again from the last entry read. A `--file` journal cannot be followed (journalctl refuses), so it
 * is read by repeated catch-ups. When journalctl is not installed the source is unavailable: logged
 * once, shown in status, nothing else (that is not missing evidence; there is no journal to read).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { messageOf } from '../../src/errors.js';
import { appendRecord, appenderOf, Backoff, LineSeries, LineSplitter, storeBackedUp, tryFlush, type LineTail, type LiveSource, type LiveSourceStatus, type MarkerOf, type SourceDeps, terminateChild, WakeableSleep } from './common.js';

export interface JournaldOptions {
  directory?: string;
  file?: string;
  startAt: 'beginning' | 'end';
  /** The journalctl to run (tests point this at a missing program). */
  command?: string;
  /** Longer entries are preserved as consecutive partial pieces. */
  maxLineBytes?: number;
  /** How often a `--file` journal is re-read. */
  filePollMs?: number;
}

const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
const DEFAULT_FILE_POLL_MS = 2000;
const STDERR_KEEP_BYTES = 4096;
const CHECK_MS = 250;

/** The pseudo path (and record source) of a journal source. */
export function journaldPath(options: { directory?: string; file?: string }): string {
  if (options.directory !== undefined) return `journald:${options.directory}`;
  if (options.file !== undefined) return `journald:file:${options.file}`;
  return 'journald:system';
}

const CURSOR_RE = /"__CURSOR":"([^"\\]*)"/;

/** The `__CURSOR` of one `journalctl -o json` line. */
export const journalCursorOf: MarkerOf = (text) => CURSOR_RE.exec(text)?.[1];

/** The realtime (µs since the epoch) a cursor names in its `t=` field, if it has one. */
export function cursorRealtimeUs(cursor: string): bigint | undefined {
  const m = /(?:^|;)t=([0-9a-f]{1,16})(?:;|$)/.exec(cursor);
  if (!m) return undefined;
  try {
    return BigInt(`0x${m[1] ?? ''}`);
  } catch {
    return undefined;
  }
}

type Position =
  | { t: 'cursor'; cursor: string }
  | { t: 'since'; sec: bigint }
  | { t: 'beginning' };

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: NodeJS.ErrnoException;
  stderr: string;
  /** Lines recorded in this run. */
  recorded: number;
  /** Whether journalctl printed any line at all. */
  sawAny: boolean;
}

export class JournaldSource implements LiveSource {
  readonly name = 'journald';
  readonly path: string;
  private readonly series: LineSeries;
  private readonly opts: Required<Pick<JournaldOptions, 'startAt' | 'command' | 'maxLineBytes' | 'filePollMs'>> & JournaldOptions;
  private cursor: string | undefined;
  private child: ChildProcess | undefined;
  private loopPromise: Promise<void> | undefined;
  private stopping = false;
  private readonly sleeper = new WakeableSleep();
  private state: LiveSourceStatus['state'] = 'stopped';
  private restarts = 0;
  private gaps = 0;
  private lastError: string | undefined;
  private phase: 'catch-up' | 'follow' | 'idle' = 'idle';
  private emptyReported: string | undefined;

  constructor(
    private readonly deps: SourceDeps,
    options: JournaldOptions,
    tail: LineTail,
  ) {
    this.opts = {
      ...options,
      command: options.command ?? 'journalctl',
      maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      filePollMs: options.filePollMs ?? DEFAULT_FILE_POLL_MS,
    };
    this.path = journaldPath(options);
    this.series = new LineSeries(appenderOf(deps), this.path, tail);
    this.cursor = tail.marker;
  }

  /** The cursor of the last entry read (queued or committed). */
  get lastCursor(): string | undefined {
    return this.cursor;
  }

  lineTail(): LineTail {
    return this.series.tail(this.cursor);
  }

  async start(): Promise<void> {
    this.state = 'running';
    this.deps.logger.info({ evt: 'journald.start', path: this.path, resume_cursor: this.cursor ?? null, entries: this.series.count }, 'following the systemd journal');
    this.loopPromise = this.loop();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake();
    terminateChild(this.child);
    await this.loopPromise;
    if (this.state !== 'unavailable') this.state = 'stopped';
    this.deps.logger.info({ evt: 'journald.stopped', path: this.path, entries: this.series.lines, cursor: this.cursor ?? null }, 'stopped following the journal');
  }

  status(): LiveSourceStatus {
    const s: LiveSourceStatus = { name: this.name, state: this.state, path: this.path, phase: this.phase, records: this.series.lines, entries_total: this.series.count, restarts: this.restarts, gaps: this.gaps };
    if (this.series.lastSeq !== undefined) s.last_seq = this.series.lastSeq;
    if (this.cursor !== undefined) s.cursor = this.cursor;
    if (this.lastError !== undefined) s.last_error = this.lastError;
    if (this.state === 'unavailable') s.detail = `${this.opts.command} is not installed`;
    return s;
  }

  private baseArgs(): string[] {
    const args = ['-o', 'json', '--all', '--no-pager', '-q'];
    if (this.opts.directory !== undefined) args.push('--directory', this.opts.directory);
    else if (this.opts.file !== undefined) args.push('--file', this.opts.file);
    return args;
  }

  private gap(reason: string, detail: string): void {
    this.gaps++;
    appendRecord(appenderOf(this.deps), 'agent.gap', this.path, { source: this.path, path: this.path, reason, detail });
    this.deps.logger.warn({ evt: 'journald.gap', path: this.path, reason, detail }, 'recorded a gap in the journal evidence');
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff();
    let position: Position | undefined = this.cursor !== undefined ? { t: 'cursor', cursor: this.cursor } : undefined;
    if (position === undefined) {
      position = await this.firstPosition();
      if (position === undefined) return; // unavailable or stopping
    }
    while (!this.stopping) {
      // Phase 1: catch up from the position, across boots, to the end.
      const started = performance.now();
      this.phase = 'catch-up';
      const catchUp = await this.run(this.positionArgs(position), position.t === 'cursor' ? position.cursor : undefined, true);
      if (catchUp.spawnError) {
        this.unavailable(catchUp.spawnError);
        return;
      }
      if (this.stopping) break;
      if (catchUp.code !== 0) {
        if (position.t === 'cursor' && /seek to cursor/i.test(catchUp.stderr)) {
          const us = cursorRealtimeUs(position.cursor);
          const sec = us === undefined ? undefined : us / 1_000_000n;
          this.gap(
            'cursor_invalid',
            `journalctl cannot seek to the last preserved entry's cursor ${position.cursor} (${catchUp.stderr.trim() || `exit ${String(catchUp.code)}`}); ` +
              (sec === undefined
                ? 'reading restarts from the oldest entry available: entries may be missing or preserved twice'
                : `reading restarts from that cursor's time (${new Date(Number(sec) * 1000).toISOString()}): entries of that second may be preserved twice, others may be missing`),
          );
          position = sec === undefined ? { t: 'beginning' } : { t: 'since', sec };
          this.cursor = undefined;
          continue;
        }
        await this.failed('catch-up', catchUp, backoff, started);
        if (this.cursor !== undefined) position = { t: 'cursor', cursor: this.cursor };
        continue;
      }
      if (position.t === 'cursor' && !catchUp.sawAny && this.emptyReported !== position.cursor) {
        this.emptyReported = position.cursor;
        this.gap(
          'cursor_not_found',
          `the journal holds neither the last preserved entry (cursor ${position.cursor}) nor anything after it (rotated or vacuumed away, or the journal was replaced): entries written after it may be missing`,
        );
      }
      if (this.cursor !== undefined) position = { t: 'cursor', cursor: this.cursor };
      if (this.opts.file !== undefined) {
        // A single file cannot be followed: read it again a little later.
        this.phase = 'idle';
        await this.pause(this.opts.filePollMs);
        continue;
      }
      if (position.t !== 'cursor') {
        // Nothing in the journal yet: look again later.
        this.phase = 'idle';
        await this.pause(this.opts.filePollMs);
        continue;
      }
      // Phase 2: follow from the last entry read.
      this.phase = 'follow';
      const followStarted = performance.now();
      const follow = await this.run([...this.positionArgs(position), '-f', '--no-tail'], position.cursor, false);
      if (follow.spawnError) {
        this.unavailable(follow.spawnError);
        return;
      }
      if (this.stopping) break;
      await this.failed('follow', follow, backoff, followStarted);
      if (this.cursor !== undefined) position = { t: 'cursor', cursor: this.cursor };
    }
    this.phase = 'idle';
  }

  private positionArgs(position: Position): string[] {
    const args = this.baseArgs();
    if (position.t === 'cursor') args.push('--cursor', position.cursor);
    else if (position.t === 'since') args.push('--since', `@${position.sec.toString()}`);
    return args;
  }

  /** The first run's position: the oldest entry, or (startAt end) after the newest one, recorded as a gap. */
  private async firstPosition(): Promise<Position | undefined> {
    if (this.opts.startAt === 'beginning') return { t: 'beginning' };
    const args = [...this.baseArgs(), '-n', '1'];
    const out = await this.capture(args);
    if (out.spawnError) {
      this.unavailable(out.spawnError);
      return undefined;
    }
    const cursor = journalCursorOf(out.stdout);
    if (cursor === undefined) return { t: 'beginning' }; // an empty journal: nothing is skipped
    this.gap('start_at_end', `configured to start at the end: the entries already in the journal, up to and including cursor ${cursor}, were not recorded`);
    this.cursor = cursor;
    return { t: 'cursor', cursor };
  }

  private unavailable(err: NodeJS.ErrnoException): void {
    this.state = 'unavailable';
    this.lastError = messageOf(err);
    this.deps.logger.warn({ evt: 'journald.unavailable', command: this.opts.command, err: messageOf(err) }, 'journalctl is not available: the journal source does not run');
  }

  private async failed(phase: string, result: RunResult, backoff: Backoff, startedMono: number): Promise<void> {
    this.restarts++;
    const delay = backoff.next(performance.now() - startedMono);
    this.lastError = `${phase}: journalctl exited ${result.signal ?? String(result.code)}${result.stderr.trim() ? `: ${result.stderr.trim().slice(-500)}` : ''}`;
    this.state = 'restarting';
    this.deps.logger.warn(
      { evt: 'journald.exited', path: this.path, phase, code: result.code, signal: result.signal, stderr: result.stderr.trim().slice(-500), retry_in_ms: delay },
      'journalctl exited; it is restarted from the last entry read',
    );
    await this.pause(delay);
    if (!this.stopping) this.state = 'running';
  }

  private pause(ms: number): Promise<void> {
    return this.stopping ? Promise.resolve() : this.sleeper.sleep(ms);
  }

  /** Runs journalctl once and returns its whole output (small queries only). */
  private capture(args: string[]): Promise<{ stdout: string; spawnError?: NodeJS.ErrnoException }> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.opts.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        resolve({ stdout: '', spawnError: err as NodeJS.ErrnoException });
        return;
      }
      const chunks: Buffer[] = [];
      let spawnError: NodeJS.ErrnoException | undefined;
      child.stdout?.on('data', (c: Buffer) => chunks.push(c));
      child.stderr?.resume();
      child.on('error', (err) => {
        spawnError = err as NodeJS.ErrnoException;
      });
      child.on('close', () => resolve({ stdout: Buffer.concat(chunks).toString('utf8'), ...(spawnError ? { spawnError } : {}) }));
    });
  }

  /**
   * Runs journalctl and preserves every entry line it prints. `expect`: the cursor the output
   * starts at (that entry is already preserved and is skipped); `authoritative`: a different first
   * entry means the expected one is gone (a gap).
   */
  private run(args: string[], expect: string | undefined, authoritative: boolean): Promise<RunResult> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.opts.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        resolve({ code: null, signal: null, spawnError: err as NodeJS.ErrnoException, stderr: '', recorded: 0, sawAny: false });
        return;
      }
      this.child = child;
      let stderr = '';
      let spawnError: NodeJS.ErrnoException | undefined;
      let first = true;
      let recorded = 0;
      const stdout = child.stdout as NodeJS.ReadableStream & { isPaused(): boolean };
      const splitter = new LineSplitter(this.opts.maxLineBytes, (bytes, partial) => {
        const text = bytes.toString('utf8');
        const cursor = journalCursorOf(text);
        if (first) {
          first = false;
          if (expect !== undefined && !partial) {
            if (cursor === expect) return; // already preserved
            if (authoritative) {
              this.gap(
                'cursor_not_found',
                `the last preserved journal entry (cursor ${expect}) is no longer in the journal (rotated or vacuumed away, or the journal was replaced); ` +
                  `entries written after it and before the first one still available${cursor !== undefined ? ` (cursor ${cursor})` : ''} may be missing`,
              );
            }
          }
        }
        this.series.append(bytes, partial);
        recorded++;
        if (cursor !== undefined) this.cursor = cursor;
        if (this.series.storeFailing || storeBackedUp(appenderOf(this.deps))) stdout.pause();
      });
      stdout.on('data', (chunk: Buffer) => {
        try {
          splitter.push(chunk);
        } catch (err) {
          // An invalid record is a bug; say it loudly and stop this run rather than skip bytes.
          this.lastError = messageOf(err);
          this.deps.logger.error({ evt: 'journald.record_failed', path: this.path, err: messageOf(err) }, 'could not record a journal entry');
          child.kill('SIGTERM');
        }
      });
      child.stderr?.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString('utf8')).slice(-STDERR_KEEP_BYTES);
      });
      child.on('error', (err) => {
        spawnError = err as NodeJS.ErrnoException;
      });
      // Backpressure: while the store is failing or far behind, journalctl blocks on its pipe.
      const check = setInterval(() => {
        if (!stdout.isPaused()) return;
        if (this.series.storeFailing) {
          if (!tryFlush(appenderOf(this.deps))) return;
          this.series.storeFailing = false;
        }
        if (!storeBackedUp(appenderOf(this.deps))) stdout.resume();
      }, CHECK_MS);
      check.unref();
      child.on('close', (code, signal) => {
        clearInterval(check);
        this.child = undefined;
        // An entry cut off by the exit is not recorded: the next run reads it again from the cursor.
        const cut = splitter.discard();
        if (cut > 0 && !this.stopping) this.deps.logger.debug({ evt: 'journald.partial_dropped', bytes: cut }, 'journalctl exited mid-entry; it is read again on restart');
        const result: RunResult = { code, signal, stderr, recorded, sawAny: !first };
        if (spawnError) result.spawnError = spawnError;
        resolve(result);
      });
    });
  }
}
