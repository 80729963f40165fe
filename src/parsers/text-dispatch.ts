/**
 * Text log lines → derived records, by content: every line is framed (syslog.ts) and offered to each
 * content parser, cheapest test first, so users never say which parser a file needs. State is kept
 * per file path (year inference, continuations, USB announcements), since lines of different files
 * do not continue one another. Pure and never throws.
 */
import { createSyslogFramer, type SyslogFrame } from './syslog.js';
import { createKernelUsbParser, type KernelUsbParser } from './linux-usb.js';
import { mayBeAuth, parseAuthLine } from './linux-auth.js';
import type { ParseOutput, SourceLine } from './types.js';

export interface TextParsersOptions {
  /**
   * The reference time for year-less dates of a file (its mtime, when it was imported rather than
   * tailed). Default: the line's observedAt.
   */
  referenceTime?: (path: string) => string | undefined;
  /** Zone of year-less local timestamps, minutes east of UTC. Default: unknown (read as UTC, noted). */
  utcOffsetMinutes?: number;
}

export interface TextParsers {
  push(line: SourceLine): ParseOutput;
  finish(): ParseOutput;
}

interface PerFile {
  framer: ReturnType<typeof createSyslogFramer>;
  usb: KernelUsbParser;
}

export function createTextParsers(options: TextParsersOptions = {}): TextParsers {
  const files = new Map<string, PerFile>();
  const framerOptions = options.utcOffsetMinutes === undefined ? {} : { utcOffsetMinutes: options.utcOffsetMinutes };

  function stateFor(path: string): PerFile {
    let s = files.get(path);
    if (!s) {
      s = { framer: createSyslogFramer(framerOptions), usb: createKernelUsbParser() };
      files.set(path, s);
    }
    return s;
  }

  function offer(out: ParseOutput, s: PerFile, line: SourceLine, framed: SyslogFrame): void {
    const u = s.usb.push(line, framed);
    if (u.records.length > 0) out.records.push(...u.records);
    if (u.failures.length > 0) out.failures.push(...u.failures);
    if (mayBeAuth(framed)) {
      const a = parseAuthLine(line, framed);
      if (a.records.length > 0) out.records.push(...a.records);
      if (a.failures.length > 0) out.failures.push(...a.failures);
    }
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
      for (const s of files.values()) {
        const u = s.usb.finish();
        out.records.push(...u.records);
        out.failures.push(...u.failures);
      }
      return out;
    },
  };
}
