/**
 * The one shape of a verifier finding, for the store, the bundle and the custody log alike: a
 * stable code (scripts and tests match it, so it is never renamed or reused), its severity (part of
 * the code: each code's table says which), a message, and where. Only `where` differs by what is
 * verified: a store location (seq, checkpoint, epoch, …), a bundle-relative path, a custody entry.
 */
export type Severity = 'error' | 'warning';

export interface FindingOf<Code extends string, Where> {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  readonly where: Where;
}

/** A row of a table of finding codes (and of the README's tables, which tests compare with them). */
export interface FindingCodeInfo {
  readonly severity: Severity;
  readonly meaning: string;
}
