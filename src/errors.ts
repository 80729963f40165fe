/**
 * One error base class for the whole project. Every error that custody raises on purpose is a
 * CustodyError with a stable `code`: scripts and tests match on the code, people read the message.
 * Only the CLI entry (src/cli.ts) turns these into exit codes and printed text.
 */

/** Stable error codes. Add new ones at the end of a group; never rename or reuse a shipped code. */
export const ErrorCodes = {
  // usage and configuration
  USAGE: 'E_USAGE',
  CONFIG_INVALID: 'E_CONFIG_INVALID',
  // input that is not what it claims to be
  RECORD_INVALID: 'E_RECORD_INVALID',
  CANONICAL_INVALID: 'E_CANONICAL_INVALID',
  NOTE_MALFORMED: 'E_NOTE_MALFORMED',
  KEY_INVALID: 'E_KEY_INVALID',
  PROOF_INVALID: 'E_PROOF_INVALID',
  TSA_RESPONSE_INVALID: 'E_TSA_RESPONSE_INVALID',
  TSA_UNREACHABLE: 'E_TSA_UNREACHABLE',
  // the store
  STORE_NOT_FOUND: 'E_STORE_NOT_FOUND',
  STORE_EXISTS: 'E_STORE_EXISTS',
  STORE_CORRUPT: 'E_STORE_CORRUPT',
  STORE_LOCKED: 'E_STORE_LOCKED',
  STORE_WRITE_FAILED: 'E_STORE_WRITE_FAILED',
  STORE_APPEND_ONLY: 'E_STORE_APPEND_ONLY',
  STORE_CLOSED: 'E_STORE_CLOSED',
  KEY_MISSING: 'E_KEY_MISSING',
  KEY_EXISTS: 'E_KEY_EXISTS',
  // generic I/O that is not the store's
  IO: 'E_IO',
  // the bundle (tar, checksum files, custody log)
  TAR_REFUSED: 'E_TAR_REFUSED',
  BUNDLE_PATH_INVALID: 'E_BUNDLE_PATH_INVALID',
  SUMS_INVALID: 'E_SUMS_INVALID',
  CUSTODY_LOG_INVALID: 'E_CUSTODY_LOG_INVALID',
  MANIFEST_INVALID: 'E_MANIFEST_INVALID',
  // the investigation report
  REPORT_TOO_LARGE: 'E_REPORT_TOO_LARGE',
  // the evidence vault (S3 Object Lock)
  VAULT_UNREACHABLE: 'E_VAULT_UNREACHABLE',
  VAULT_ACCESS_DENIED: 'E_VAULT_ACCESS_DENIED',
  VAULT_NOT_FOUND: 'E_VAULT_NOT_FOUND',
  VAULT_NOT_LOCKABLE: 'E_VAULT_NOT_LOCKABLE',
  VAULT_OBJECT_EXISTS: 'E_VAULT_OBJECT_EXISTS',
  VAULT_REQUEST_FAILED: 'E_VAULT_REQUEST_FAILED',
  VAULT_SEGMENT_INVALID: 'E_VAULT_SEGMENT_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class CustodyError extends Error {
  readonly code: ErrorCode;
  /** Where the problem is (a file, a seq, a checkpoint id, a config path), for people and for --json. */
  readonly where: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { where?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CustodyError';
    this.code = code;
    this.where = options?.where;
  }
}

export function isCustodyError(err: unknown): err is CustodyError {
  return err instanceof CustodyError;
}

/** The message of any thrown value, for wrapping foreign errors with context. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
