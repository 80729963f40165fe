/**
 * Preserved lines → derived records, by content, with no store and no clock: the part of deriving
 * that the agent's deriver and `custody import` share. Every line goes to exactly one parser family:
 * audit records (`type=… msg=audit(…)`, with or without `node=`) to the auditd parser of its file,
 * everything else to the text dispatcher (syslog framing, kernel USB, logons). State is per file
 * path, so lines of different files never continue one another. Pure and never throws.
 */
import { createAuditdParser, type AuditdParser } from '../parsers/auditd.js';
import { createTextParsers, type TextParsers, type TextParsersContext, type TextParsersOptions, type TextParsersRestore } from '../parsers/text-dispatch.js';
import { appendOutput, type ParseOutput, type SourceLine } from '../parsers/types.js';

/** An audit.log record header (RAW or ENRICHED): `[node=N ]type=NAME msg=audit(`. */
const AUDIT_LINE = /^(?:node=\S+ +)?type=[A-Za-z0-9_]+(?:\[\d{1,10}\])? +msg=audit\(/;

export function isAuditLine(text: string): boolean {
  return text.charCodeAt(0) !== 0x20 && AUDIT_LINE.test(text);
}

export interface LineDeriver {
  push(line: SourceLine): ParseOutput;
  /** End of input (or a pause treated as one): completes everything still building. */
  finish(): ParseOutput;
  /** Files with parser state. */
  readonly files: number;
  /**
   * What the parsers keep after finish() (year context, open USB sessions), as plain JSON; call it
   * right after finish(). Audit parsers hold nothing then, so this is the text parsers' context.
   */
  context(): TextParsersContext;
  /** Takes a context from context(), into a fresh deriver; ignores (and counts) what it does not understand, never throws. */
  restore(ctx: unknown): TextParsersRestore;
}

/** A stateful router of lines to the content parsers. */
export function createLineDeriver(options: TextParsersOptions = {}): LineDeriver {
  let text: TextParsers = createTextParsers(options);
  const audit = new Map<string, AuditdParser>();
  return {
    push(line) {
      try {
        // The parsers' output is a fresh object of the caller's: handed on as it is, not copied.
        if (isAuditLine(line.text)) {
          let p = audit.get(line.path);
          if (p === undefined) {
            p = createAuditdParser();
            audit.set(line.path, p);
          }
          return p.push(line);
        }
        return text.push(line);
      } catch (err) {
        return { records: [], failures: [{ parser: 'derive', reason: 'derive.internal', detail: err instanceof Error ? err.message : String(err), derived_from: [line.seq] }] };
      }
    },
    finish() {
      const out: ParseOutput = { records: [], failures: [] };
      try {
        appendOutput(out, text.finish());
        for (const p of audit.values()) appendOutput(out, p.finish());
      } catch (err) {
        out.failures.push({ parser: 'derive', reason: 'derive.internal', detail: err instanceof Error ? err.message : String(err) });
      }
      // Audit parsers hold nothing after finish(); dropping them keeps memory bounded by live files.
      audit.clear();
      // The text dispatcher keeps per-file context (year, continuation, open USB sessions) on
      // purpose; it is replaced only when it has grown to many files (paths that come and go).
      if (text.files > 4096) text = createTextParsers(options);
      return out;
    },
    get files() {
      return text.files + audit.size;
    },
    context() {
      return text.context();
    },
    restore(ctx) {
      return text.restore(ctx);
    },
  };
}

/**
 * All derived records and failures of a list of lines (in the order given), finish() included.
 * For tests and `custody import`.
 */
export function deriveFromLines(lines: Iterable<SourceLine>, options: TextParsersOptions = {}): ParseOutput {
  const d = createLineDeriver(options);
  const out: ParseOutput = { records: [], failures: [] };
  for (const line of lines) appendOutput(out, d.push(line));
  appendOutput(out, d.finish());
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Text of one line's bytes for the parsers: UTF-8 when valid, otherwise latin1 (every byte one
 * character, so nothing is dropped or replaced; the preserved record keeps the exact bytes).
 */
export function decodeLineBytes(bytes: Uint8Array): { text: string; latin1: boolean } {
  try {
    return { text: utf8.decode(bytes), latin1: false };
  } catch {
    return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), latin1: true };
  }
}

/** What derived records carry in `extra.text_decoding` when a source line was not valid UTF-8. */
export const LATIN1_NOTE = 'latin1: the line was not valid UTF-8, so each byte was read as one character; the preserved record keeps the exact bytes';
