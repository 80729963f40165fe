/**
 * The contract every parser keeps. Parsers are pure functions: text or bytes in, derived records
 * or named parse failures out. They never throw on any input (property tests feed them arbitrary
 * bytes), never do I/O, and never read a clock: what they need to know (the file's time for a
 * year-less syslog date, the host) comes in a context.
 */
import type { PayloadOf, RecordKind } from '../records/schema.js';

/** A derived record before the store gives it an envelope. `payload.derived_from` names its sources. */
export interface DerivedRecord<K extends RecordKind = RecordKind> {
  kind: K;
  payload: PayloadOf<K>;
}

/** Something the parser recognised as its kind of input but could not read: evidence of a problem, never dropped silently. */
export interface ParseFailure {
  parser: string;
  /** Stable short name, e.g. `auditd.bad_header`, `evtx.chunk_crc`, `wtmp.truncated`. */
  reason: string;
  detail: string;
  /** The raw record(s) or byte offset where it happened. */
  derived_from?: number[];
  offset?: number;
}

export interface ParseOutput {
  records: DerivedRecord[];
  failures: ParseFailure[];
}

/** Appends what `from` produced to `into`, in order (a loop, not a spread: no argument-count limit). */
export function appendOutput(into: ParseOutput, from: ParseOutput): void {
  for (const r of from.records) into.records.push(r);
  for (const f of from.failures) into.failures.push(f);
}

/** One preserved line as parsers see it: its bytes as text, and where it is in the store. */
export interface SourceLine {
  /** seq of the `log.line` record. */
  seq: number;
  /** Path of the file the line was read from. */
  path: string;
  text: string;
  /** When the agent observed it (record observed_at), for year inference and ordering. */
  observedAt: string;
}
