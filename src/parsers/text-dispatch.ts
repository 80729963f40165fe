/**
 * Text log lines → derived records, by content: access logs are recognised by shape (IIS W3C by its
 * directives, Squid native, Apache/nginx common and combined); every other line is framed
 * (syslog.ts) and offered to each content parser, cheapest test first, so users never say which
 * parser a file needs. State is kept
 * per file path (year inference, continuations, USB announcements), since lines of different files
 * do not continue one another. What that state still holds after finish() (the year, open USB
 * sessions, a W3C file's current #Fields:) comes out of context() as plain JSON and goes into new parsers with restore(), so that a
 * restarted deriver carries on where the saved position left off. Pure and never throws.
 */
import { createSyslogFramer, type RestoreCounts, type SyslogFrame, type SyslogFramer, type SyslogFramerContext } from './syslog.js';
import { createKernelUsbParser, type KernelUsbContext, type KernelUsbParser } from './linux-usb.js';
import { mayBeAuth, parseAuthLine } from './linux-auth.js';
import { isAccessLogLine, parseAccessLogLine } from './access-log.js';
import { createW3cParser, isW3cDirective, type W3cContext, type W3cParser } from './iis-w3c.js';
import { isSquidLine, parseSquidLine } from './squid.js';
import { appendOutput, type ParseOutput, type SourceLine } from './types.js';

export interface TextParsersOptions {
  /**
   * The reference time for year-less dates of a file (its mtime, when it was imported rather than
   * tailed). Default: the line's observedAt.
   */
  referenceTime?: (path: string) => string | undefined;
  /** Zone of year-less local timestamps, minutes east of UTC. Default: unknown (read as UTC, noted). */
  utcOffsetMinutes?: number;
}

/**
 * What the parsers of each file keep after finish(), as plain JSON, for a restarted deriver to carry
 * on with: the year of the last RFC 3164 line, the open USB sessions and what tells a reboot. Files
 * with nothing to keep are left out.
 */
export interface TextParsersContext {
  v: typeof TEXT_CONTEXT_VERSION;
  files: Array<{ path: string; syslog?: SyslogFramerContext; usb?: KernelUsbContext; w3c?: W3cContext }>;
}

/** Changes when a context of this version would be misread by the previous code (restore ignores other versions). */
export const TEXT_CONTEXT_VERSION = 1;
/** Files a context restores (the line deriver replaces its text parsers beyond 4096 files anyway). */
const MAX_CONTEXT_FILES = 4096;
/** Open USB sessions a context keeps over all files, so that many kernel-log files cannot make it large. */
const MAX_CONTEXT_USB_SESSIONS = 1024;
/** Longer paths are no file's (PATH_MAX is 4096 bytes). */
const MAX_CONTEXT_PATH = 4096;

export interface TextParsers {
  push(line: SourceLine): ParseOutput;
  finish(): ParseOutput;
  /** Files with parser state. */
  readonly files: number;
  /** What each file's parsers keep; meant to be called right after finish(). */
  context(): TextParsersContext;
  /**
   * Takes a context from context(), into fresh parsers. What it does not understand (another
   * version, a malformed entry) is ignored and counted; it never throws.
   */
  restore(ctx: unknown): TextParsersRestore;
}

export interface TextParsersRestore extends RestoreCounts {
  /** Files whose parsers took something from the context. */
  files: number;
  /** Open USB sessions restored, over all files. */
  usbSessions: number;
}

interface PerFile {
  framer: SyslogFramer;
  usb: KernelUsbParser;
  /** IIS W3C: the current #Fields: of the file (line state a restart must carry). */
  w3c: W3cParser;
}

export function createTextParsers(options: TextParsersOptions = {}): TextParsers {
  const byPath = new Map<string, PerFile>();
  const framerOptions = options.utcOffsetMinutes === undefined ? {} : { utcOffsetMinutes: options.utcOffsetMinutes };
  const newPerFile = (): PerFile => ({ framer: createSyslogFramer(framerOptions), usb: createKernelUsbParser(), w3c: createW3cParser() });

  function stateFor(path: string): PerFile {
    let s = byPath.get(path);
    if (!s) {
      s = newPerFile();
      byPath.set(path, s);
    }
    return s;
  }

  /** One file's entry of a context, into new parsers for that file, kept only when something in it was taken. */
  function restoreFile(entry: unknown, counts: TextParsersRestore): void {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      counts.ignored++;
      return;
    }
    const e = entry as { path?: unknown; syslog?: unknown; usb?: unknown; w3c?: unknown };
    const path = e.path;
    if (typeof path !== 'string' || path.length > MAX_CONTEXT_PATH || byPath.has(path) || byPath.size >= MAX_CONTEXT_FILES) {
      counts.ignored++;
      return;
    }
    const s = newPerFile();
    let restored = 0;
    if (e.syslog !== undefined) {
      const r = s.framer.restore(e.syslog);
      restored += r.restored;
      counts.ignored += r.ignored;
    }
    if (e.usb !== undefined) {
      const r = s.usb.restore(e.usb);
      restored += r.restored;
      counts.ignored += r.ignored;
      counts.usbSessions += r.sessions;
    }
    if (e.w3c !== undefined) {
      if (s.w3c.restore(e.w3c)) restored++;
      else counts.ignored++;
    }
    if (restored === 0) return;
    byPath.set(path, s);
    counts.restored += restored;
    counts.files++;
  }

  function offer(out: ParseOutput, s: PerFile, line: SourceLine, framed: SyslogFrame): void {
    appendOutput(out, s.usb.push(line, framed));
    if (mayBeAuth(framed)) appendOutput(out, parseAuthLine(line, framed));
  }

  return {
    push(line) {
      const out: ParseOutput = { records: [], failures: [] };
      try {
        const s = stateFor(line.path);
        let ref: string | undefined;
        try {
          ref = options.referenceTime?.(line.path);
        } catch {
          ref = undefined;
        }
        // Access logs first (by shape, cheapest test first); they are not syslog and never framed as it.
        const text = line.text;
        if (s.w3c.active || (text.charCodeAt(0) === 0x23 && isW3cDirective(text))) {
          appendOutput(out, s.w3c.push(line));
          return out;
        }
        if (isSquidLine(text)) {
          appendOutput(out, parseSquidLine(line));
          return out;
        }
        if (isAccessLogLine(text)) {
          appendOutput(out, parseAccessLogLine(line));
          return out;
        }
        for (const framed of s.framer.frame(line.text, ref ?? line.observedAt)) offer(out, s, line, framed);
      } catch (err) {
        out.failures.push({
          parser: 'text-dispatch',
          reason: 'dispatch.internal',
          detail: err instanceof Error ? err.message : String(err),
          derived_from: [line.seq],
        });
      }
      return out;
    },
    finish() {
      const out: ParseOutput = { records: [], failures: [] };
      for (const s of byPath.values()) appendOutput(out, s.usb.finish());
      return out;
    },
    get files() {
      return byPath.size;
    },
    context() {
      const ctx: TextParsersContext = { v: TEXT_CONTEXT_VERSION, files: [] };
      let sessionsLeft = MAX_CONTEXT_USB_SESSIONS;
      for (const [path, s] of byPath) {
        if (ctx.files.length >= MAX_CONTEXT_FILES) break;
        if (path.length > MAX_CONTEXT_PATH) continue; // restore() would not take it
        const syslog = s.framer.context();
        const usb = s.usb.context(sessionsLeft);
        const w3c = s.w3c.context();
        if (syslog === undefined && usb === undefined && w3c === undefined) continue;
        const entry: TextParsersContext['files'][number] = { path };
        if (syslog !== undefined) entry.syslog = syslog;
        if (w3c !== undefined) entry.w3c = w3c;
        if (usb !== undefined) {
          entry.usb = usb;
          sessionsLeft -= usb.open.length;
        }
        ctx.files.push(entry);
      }
      return ctx;
    },
    restore(ctx) {
      const counts: TextParsersRestore = { restored: 0, ignored: 0, files: 0, usbSessions: 0 };
      try {
        const c = ctx as { v?: unknown; files?: unknown } | null | undefined;
        if (typeof c !== 'object' || c === null || c.v !== TEXT_CONTEXT_VERSION || !Array.isArray(c.files)) {
          counts.ignored++;
          return counts;
        }
        for (const entry of c.files as unknown[]) {
          try {
            restoreFile(entry, counts);
          } catch {
            // Not JSON from a state database (a getter that throws): still not the deriver's end.
            counts.ignored++;
          }
        }
      } catch {
        counts.ignored++;
      }
      return counts;
    },
  };
}
