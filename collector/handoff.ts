/**
 * `custody handoff BUNDLE --action … --actor "NAME, ORG" --key FILE`: appends one signed entry to the
 * bundle's custody.jsonl, and `custody keys init --out FILE`: a personal signing key. The log is
 * extended only when it verifies against manifest.json (appendEntry refuses a broken chain); the
 * new log is written beside the old one and renamed over it, so a crash leaves the old log or the
 * new one, never half of one.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../src/clock.js';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { appendEntry, custodyHead, CUSTODY_ACTIONS, type CustodyAction } from '../src/bundle/custody-log.js';
import { parseManifest } from '../src/bundle/manifest.js';
import { parsePersonalPrivateKey, personalKeyFiles } from '../src/bundle/personal-key.js';

export const HANDOFF_ACTIONS = ['transferred', 'received', 'examined', 'returned'] as const satisfies readonly CustodyAction[];

export interface HandoffOptions {
  bundle: string;
  action: string;
  actor: string;
  keyFile: string;
  note?: string;
}

export interface HandoffResult {
  bundle: string;
  action: CustodyAction;
  actor: string;
  fingerprint: string;
  head: { index: number; sha256: string };
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, { where: path, cause: err });
  }
}

export function handoff(options: HandoffOptions, clock: Clock): HandoffResult {
  if (!(HANDOFF_ACTIONS as readonly string[]).includes(options.action)) {
    throw new CustodyError(ErrorCodes.USAGE, `--action must be one of ${HANDOFF_ACTIONS.join(', ')}, not ${JSON.stringify(options.action)}`);
  }
  if (!(CUSTODY_ACTIONS as readonly string[]).includes(options.action)) throw new CustodyError(ErrorCodes.USAGE, `unknown action ${options.action}`);
  let st;
  try {
    st = lstatSync(options.bundle);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `no such bundle (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`, { where: options.bundle, cause: err });
  }
  if (!st.isDirectory()) {
    throw new CustodyError(ErrorCodes.USAGE, 'handoff extends a bundle folder: extract the .tar first (custody verify reads it the same way), or hand over the folder', { where: options.bundle });
  }
  const manifestPath = join(options.bundle, 'manifest.json');
  const mBytes = (() => {
    try {
      return new Uint8Array(readFileSync(manifestPath));
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `not a bundle: cannot read manifest.json (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`, { where: manifestPath, cause: err });
    }
  })();
  parseManifest(mBytes, manifestPath);
  const manifestSha256 = createHash('sha256').update(mBytes).digest('hex');
  const key = parsePersonalPrivateKey(readText(options.keyFile, 'the signing key'), options.keyFile);
  const logPath = join(options.bundle, 'custody.jsonl');
  const log = existsSync(logPath) ? readText(logPath, 'custody.jsonl') : '';
  let next: string;
  try {
    next = appendEntry(log, { manifestSha256, action: options.action as CustodyAction, actor: options.actor, ...(options.note !== undefined ? { note: options.note } : {}) }, key.privateKey, clock.nowMs());
  } catch (err) {
    if (err instanceof CustodyError) throw new CustodyError(err.code, err.message, { where: logPath, cause: err });
    throw err;
  }
  const temp = `${logPath}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, next, { flag: 'wx', mode: 0o644 });
    renameSync(temp, logPath);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new CustodyError(ErrorCodes.IO, `cannot write custody.jsonl: ${messageOf(err)}`, { where: logPath, cause: err });
  }
  return { bundle: options.bundle, action: options.action as CustodyAction, actor: options.actor, fingerprint: key.fingerprint, head: custodyHead(next) as { index: number; sha256: string } };
}

/** Writes a new personal key: FILE (PKCS#8 PEM, mode 0600) and FILE.pub (public JSON). Refuses to overwrite either. */
export function initPersonalKey(out: string, name?: string): { privatePath: string; publicPath: string; fingerprint: string } {
  const publicPath = `${out}.pub`;
  for (const p of [out, publicPath]) if (existsSync(p)) throw new CustodyError(ErrorCodes.KEY_EXISTS, 'already exists; not overwritten', { where: p });
  const files = personalKeyFiles(name);
  try {
    writeFileSync(out, files.privatePem, { flag: 'wx', mode: 0o600 });
    writeFileSync(publicPath, files.publicJson, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot write the key: ${messageOf(err)}`, { where: out, cause: err });
  }
  return { privatePath: out, publicPath, fingerprint: files.fingerprint };
}
