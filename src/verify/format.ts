/**
 * Human-readable text of a verification result. Pure. The same facts go out as JSON with --json;
 * this is what an examiner reads and pastes into a report.
 */
import { terminalLines } from '../text/terminal.js';
import type { Finding, StoreVerification } from './store-verify.js';

export interface FormatOptions {
  /** `verify --strict`: warnings fail the verification too, and the result line says so. */
  strict?: boolean;
}

function where(f: Finding): string {
  const parts: string[] = [];
  if (f.where.seqRange) parts.push(`seq ${f.where.seqRange[0]}..${f.where.seqRange[1]}`);
  else if (f.where.seq !== undefined) parts.push(`seq ${f.where.seq}`);
  if (f.where.checkpoint !== undefined) parts.push(`checkpoint #${f.where.checkpoint}`);
  if (f.where.checkpointRange !== undefined) parts.push(`checkpoints #${f.where.checkpointRange[0]}..#${f.where.checkpointRange[1]}`);
  if (f.where.epoch !== undefined) parts.push(`epoch ${f.where.epoch}`);
  if (f.where.tsaToken !== undefined) parts.push(`tsa token #${f.where.tsaToken}`);
  if (f.where.blob !== undefined) parts.push(`blob ${f.where.blob.slice(0, 16)}…`);
  if (f.where.file !== undefined && parts.length === 0) parts.push(f.where.file);
  if (f.where.vaultObject !== undefined) parts.push(`vault object ${f.where.vaultObject}`);
  return parts.length ? ` at ${parts.join(', ')}` : '';
}

export function formatFinding(f: Finding): string {
  return `${f.severity === 'error' ? 'ERROR' : 'warning'} ${f.code}${where(f)}: ${f.message}`;
}

/**
 * What a local store cannot prove, said every time: a deletion of the newest seals that left no
 * trace makes the store shorter, not inconsistent. Says only what this store's evidence supports.
 */
function limits(r: StoreVerification): string {
  const stamped = r.sealed?.trustedTime
    ? ` The RFC 3161 time stamp on checkpoint #${r.sealed.trustedTimeCheckpointId} proves records existed at ${r.sealed.trustedTime}, up to that checkpoint.`
    : '';
  return (
    `limits:       a store on its own host cannot show newest seals removed together with every trace of them: that nothing was cut after seq ${(r.window?.startSeq ?? 0) + r.records - 1} ` +
    `is proven only against a seal kept off the host (a collector's witness, a time stamp, the evidence vault).${stamped}`
  );
}

/**
 * Which checks ran (issue 14), so nobody reads "VALID" as more than it proves. Default verify
 * proves integrity; only --deep proves every record canonical JSON valid against its kind's schema.
 */
export function checksLine(c: { canonical: boolean; schema: boolean; recordsFullyChecked: number }, records: number): string {
  if (c.canonical && c.schema) return 'checks:       integrity, canonical, schema (--deep): every record is also proven canonical JSON valid against its kind\'s schema';
  return (
    'checks:       integrity (leaf hashes, seq order, Merkle roots, checkpoint signatures, key chain, and the seq, kind, time, host and file offsets each record states); ' +
    `canonical JSON and schema: ${c.recordsFullyChecked} of ${records} records (key, agent and log.file records, the unsealed tail), not the others: --deep checks every record`
  );
}

function vaultLines(r: StoreVerification): string[] {
  const v = r.vault!;
  const newest = v.newest ? `newest #${v.newest.checkpointId} at size ${v.newest.treeSize}${v.newest.receivedAt ? `, received by the vault ${v.newest.receivedAt}` : ''}` : 'none';
  return [
    `vault:        ${v.url} (${v.prefix})`,
    `              ${v.mode === 'store' ? 'the store checked against ' : 'the store is not here; verified from '}${v.checkpoints} vault checkpoint${v.checkpoints === 1 ? '' : 's'} (${newest}); records 0..${v.recordsEnd - 1} in verified segments; ${v.objects} objects read`,
  ];
}

function vaultLimits(r: StoreVerification): string {
  const v = r.vault!;
  const size = v.newest?.treeSize ?? 0;
  if (v.mode === 'store') {
    return size === 0
      ? "limits:       the vault holds no verified seal of this store yet: nothing in the store is proven against it"
      : `limits:       the vault's seals (up to size ${size}) left the host when they were signed: a rollback of anything they cover is named; records after seq ${size - 1} are proven only by seals the vault does not hold yet`;
  }
  return `limits:       this is the vault's copy: what the agent shipped${v.recordsEnd > 0 ? `, up to seq ${v.recordsEnd - 1}` : ' (no record yet)'}; records the agent had not shipped are not in it`;
}

/** True when the result fails under the given options (errors; with --strict also warnings). */
export function verificationFails(r: { ok: boolean; findings: readonly { severity: 'error' | 'warning' }[] }, options: FormatOptions = {}): boolean {
  return !r.ok || (options.strict === true && r.findings.some((f) => f.severity === 'warning'));
}

export function formatStoreVerification(r: StoreVerification, options: FormatOptions = {}): string {
  const lines: string[] = [];
  lines.push(`store:        ${r.location}`);
  lines.push(`host:         ${r.host ?? '?'} (store ${r.storeId ?? '?'})`);
  lines.push(
    `trust anchor: enrollment key ${r.trust.fingerprint} ${
      r.trust.source === 'pinned'
        ? '(pinned by the verifier)'
        : r.trust.source === 'vault-enrollment'
          ? "(from the vault's enrollment.pub: compare it with the fingerprint recorded at enrollment)"
          : '(from enrollment.pub beside the store: compare it with the fingerprint recorded at enrollment)'
    }`,
  );
  const first = r.window?.startSeq ?? 0;
  lines.push(`records:      ${r.records}${r.records > 0 ? ` (seq ${first}..${first + r.records - 1})` : ''}`);
  if (r.window !== undefined) {
    lines.push(
      `window:       this snapshot is a window of its store: it holds seq ${r.window.startSeq}..${r.window.endSeq - 1} only, ` +
        `${r.window.frontierProven ? 'placed in the signed tree by a verified checkpoint over the frontier of the records before it' : 'NOT placed in the signed tree (no checkpoint verified)'}; ` +
        `records before seq ${r.window.startSeq} and after seq ${r.window.endSeq - 1} were not collected and are not verified here`,
    );
  }
  if (r.sealed) {
    const tsa = r.sealed.trustedTime ? `; trusted time ${r.sealed.trustedTime} (RFC 3161, checkpoint #${r.sealed.trustedTimeCheckpointId})` : '; no trusted time stamp';
    lines.push(`sealed:       seq ${first}..${r.sealed.lastSeq} by checkpoint #${r.sealed.checkpointId} (size ${r.sealed.treeSize}, ${r.sealed.time}, key epoch ${r.sealed.epoch})${tsa}`);
  } else {
    lines.push('sealed:       nothing (no checkpoint verified)');
  }
  if (r.unsealed) {
    lines.push(`unsealed:     seq ${r.unsealed.fromSeq}..${r.unsealed.toSeq} (${r.unsealed.count} records) are not covered by a verified checkpoint: present, but not protected against later change`);
  }
  lines.push(checksLine(r.checks, r.records));
  lines.push(`checkpoints:  ${r.checkpoints}; key epochs: ${r.epochs}; time stamps: ${r.tsa.verified} verified, ${r.tsa.unverified} not verified, of ${r.tsa.tokens}`);
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const warnings = r.findings.length - errors;
  if (r.vault) lines.push(...vaultLines(r));
  if (r.records > 0) lines.push(r.vault ? vaultLimits(r) : limits(r));
  const strictFail = r.ok && verificationFails(r, options);
  lines.push(
    `result:       ${r.ok && !strictFail ? 'VALID' : 'INVALID'}${r.window !== undefined ? ` for the window seq ${r.window.startSeq}..${r.window.endSeq - 1} only` : ''} (${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}${strictFail ? '; --strict: a warning fails it' : ''})`,
  );
  for (const f of r.findings) lines.push(`  ${formatFinding(f)}`);
  // Host, store id, paths, times and messages come from the store: no control character reaches the terminal.
  return terminalLines(lines);
}
