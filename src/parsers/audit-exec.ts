/**
 * An audit event of execve/execveat → one `process.exec` record: what ran (exe, argv as the kernel
 * logged it), who ran it (uid, auid, euid, session, tty), from where (cwd, ppid), and whether it
 * ran (success, exit).
 *
 * The argv comes from the event's EXECVE records, rebuilt the way the kernel writes them
 * (audit_log_execve_info in kernel/auditsc.c): `argc=N`, then `aI="text"` (printable ASCII without
 * a quote) or `aI=HEX` (anything else); an argument too long for one record is written as
 * `aI_len=BYTES` followed by chunks `aI[0]=…`, `aI[1]=…`, each quoted or hex on its own, and a
 * long argv is spread over several EXECVE records of the same event. Arguments are rebuilt as bytes
 * and decoded as UTF-8 at the end, so a multibyte character cut between two chunks comes out whole.
 *
 * What the evidence does not hold is said, never filled in: `incomplete` names the arguments that
 * are missing (a truncated set of EXECVE records), the ones whose chunks never completed or fall
 * short of their `aI_len`, an argc that is missing, and the part of a very long argv that is not
 * copied into the record (the derived record keeps at most {@link MAX_ARGV_BYTES}; the preserved
 * lines keep every byte). An argument that is not valid UTF-8 is shown with U+FFFD in `argv`, and
 * its exact bytes are in `extra.argN_b64`. PROCTITLE (the kernel's first 128 bytes of the new
 * process's command line) is kept in `extra.proctitle` only: it is not the argv and is not used to
 * fill one in. Pure: no I/O, never throws on its own input shapes (the caller catches anyway).
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import { auditKeyText, decodedField, eventParts, type AuditEvent, type AuditRecord } from './auditd.js';
import { archName, syscallName } from './syscalls.js';
import type { DerivedRecord, ParseOutput } from './types.js';

export const AUDITD_EXEC_PARSER = 'auditd.execve@1';

/** Argument bytes copied into one record (the kernel's argv limit is far larger: a quarter of the stack rlimit). */
export const MAX_ARGV_BYTES = 1 << 20;
/** Arguments looked at: argc beyond this is not believed (the kernel caps argv at MAX_ARG_STRINGS = 0x7FFFFFFF, but no real argv has more). */
const MAX_ARGC = 1 << 20;
/** Missing-argument names listed in `incomplete` before the rest is counted. */
const MAX_LISTED = 16;

const MAX_EVENT_TIME_SEC = 253402300799;

const ARG_KEY = /^a(\d{1,7})(?:\[(\d{1,7})\]|(_len))?$/;

interface ArgParts {
  /** The whole argument: its bytes, or its text when it was quoted (printable text, kept as it is: its bytes decode back to it). */
  whole?: Uint8Array | string;
  declaredLen?: number;
  /** Made when the first chunk comes (most arguments are whole). */
  chunks?: Map<number, Uint8Array>;
}

/** The chunks of an argument that has none (read only). */
const NO_CHUNKS: ReadonlyMap<number, Uint8Array> = new Map();

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Loose = new TextDecoder('utf-8', { fatal: false });

function hexBytes(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) return undefined;
  return Buffer.from(hex, 'hex');
}

/** One argument value as bytes: quoted text as written, unquoted hex decoded, anything else as written. */
function valueBytes(value: string, quoted: boolean): Uint8Array {
  if (!quoted) {
    const b = hexBytes(value);
    if (b !== undefined) return b;
  }
  return Buffer.from(value, 'utf8');
}

/** N of a key `aN` (1 to 7 digits, as ARG_KEY reads it), or -1 for any other key. */
function wholeArgIndex(key: string): number {
  const n = key.length;
  if (n < 2 || n > 8 || key.charCodeAt(0) !== 0x61 /* a */) return -1;
  let index = 0;
  for (let i = 1; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    index = index * 10 + (c - 0x30);
  }
  return index;
}

function isExecSyscall(record: AuditRecord): { name: string; arch: string } | undefined {
  const arch = record.fields.value('arch');
  const nr = record.fields.value('syscall');
  if (arch === undefined || nr === undefined || !/^[0-9a-fA-F]{1,8}$/.test(arch) || !/^\d{1,6}$/.test(nr)) return undefined;
  const name = syscallName(arch, Number(nr));
  if (name !== 'execve' && name !== 'execveat') return undefined;
  return { name, arch };
}

function listed(names: string[]): string {
  return names.length > MAX_LISTED ? `${names.slice(0, MAX_LISTED).join(', ')}, … (${names.length} in all)` : names.join(', ');
}

/** The `process.exec` record of one event, appended to `out`: for an execve/execveat SYSCALL, or EXECVE records without a SYSCALL. */
export function eventToProcessExec(event: AuditEvent, out: ParseOutput): void {
  const byType = eventParts(event);
  const syscallRecord = byType.syscall;
  const execveRecords = byType.execves;
  // The kernel writes EXECVE only for a program being loaded, so EXECVE records without their
  // SYSCALL (lost, or cut out of the file) still say a program ran; what only SYSCALL says is named.
  const exec = syscallRecord === undefined ? undefined : isExecSyscall(syscallRecord);
  if (exec === undefined && (syscallRecord !== undefined || execveRecords.length === 0)) return;
  const f = (name: string): string | undefined => syscallRecord?.fields.value(name);
  const incomplete: string[] = [];
  const extra: Record<string, string> = { audit_id: event.id };
  if (exec !== undefined) {
    extra['syscall'] = exec.name;
    extra['arch'] = archName(exec.arch) ?? exec.arch.toLowerCase();
  } else {
    incomplete.push('no SYSCALL record in the event: the executable, the user, the process ids and the outcome are not known');
  }

  // --- argv from the EXECVE records, in event order
  let argc: number | undefined;
  const parts = new Map<number, ArgParts>();
  let highest = -1;
  for (const r of execveRecords) {
    // eachField, not for…of: no iterator, entry array or value object per field.
    r.fields.eachField((key, value, quoted) => {
      if (key === 'argc') {
        if (argc === undefined && /^\d{1,15}$/.test(value)) argc = Number(value);
        return;
      }
      // `aN`, most keys, read by hand; the chunk and length forms through ARG_KEY
      const simple = wholeArgIndex(key);
      const m = simple < 0 ? ARG_KEY.exec(key) : null;
      if (simple < 0 && m === null) return;
      const index = simple >= 0 ? simple : Number(m![1]);
      if (index >= MAX_ARGC) return;
      let p = parts.get(index);
      if (p === undefined) {
        p = {};
        parts.set(index, p);
      }
      highest = Math.max(highest, index);
      if (m === null) {
        if (p.whole === undefined) p.whole = quoted && value.isWellFormed() ? value : valueBytes(value, quoted);
      } else if (m[3] !== undefined) {
        if (/^\d{1,12}$/.test(value)) p.declaredLen = Number(value);
      } else if (m[2] !== undefined) {
        const chunk = Number(m[2]);
        const chunks = (p.chunks ??= new Map());
        if (!chunks.has(chunk)) chunks.set(chunk, valueBytes(value, quoted));
      } else if (p.whole === undefined) {
        p.whole = valueBytes(value, quoted);
      }
    });
  }

  const payload: PayloadOf<'process.exec'> = {
    derived_from: event.records.map((r) => r.seq),
    parser: AUDITD_EXEC_PARSER,
    action: 'start',
  };
  const success = f('success');
  if (success === 'yes') payload.success = true;
  else if (success === 'no') payload.success = false;

  if (execveRecords.length === 0) {
    // The kernel writes EXECVE only once the new program is being loaded; a failed execve has none.
    if (payload.success !== false) incomplete.push('argv: the event has no EXECVE record');
  } else {
    if (argc === undefined) {
      incomplete.push('argc: no EXECVE record of the event gives it; argv holds the arguments that are there');
    } else if (argc > MAX_ARGC) {
      incomplete.push(`argc: ${argc} is more than ${MAX_ARGC}; only the arguments below that were read`);
    }
    // argv runs to the last argument present: a gap inside is an empty string, the missing tail is only named
    const count = argc === undefined ? highest + 1 : Math.min(argc, MAX_ARGC, highest + 1);
    if (argc !== undefined && highest >= argc) {
      incomplete.push(`argv: argument a${highest} is beyond argc=${argc}; it is left out of argv`);
    }
    const argv: string[] = [];
    const missing: string[] = [];
    const partial: string[] = [];
    let budget = MAX_ARGV_BYTES;
    let cutAt: number | undefined;
    let totalBytes = 0;
    for (let i = 0; i < count; i++) {
      const p = parts.get(i);
      let bytes: Uint8Array;
      if (p !== undefined && typeof p.whole === 'string') {
        // quoted text: its UTF-8 length counted, the text itself taken (no bytes made and decoded again)
        const known = p.whole;
        const length = Buffer.byteLength(known, 'utf8');
        totalBytes += length;
        if (cutAt !== undefined) continue;
        if (length > budget) {
          cutAt = i;
          continue;
        }
        budget -= length;
        argv.push(known);
        continue;
      }
      if (p === undefined) {
        missing.push(`a${i}`);
        bytes = new Uint8Array(0);
      } else if (p.whole !== undefined && typeof p.whole !== 'string') {
        bytes = p.whole;
      } else {
        // chunks aI[0], aI[1], … in order; stop at the first one missing
        const got: Uint8Array[] = [];
        const chunks = p.chunks ?? NO_CHUNKS;
        for (let c = chunks.get(0); c !== undefined; c = chunks.get(got.length)) got.push(c);
        const n = got.length;
        bytes = Buffer.concat(got);
        const more = chunks.size > n;
        if (p.declaredLen === undefined) {
          if (n === 0 || more) partial.push(`a${i} (${n === 0 ? 'no chunk' : `chunks after a${i}[${n - 1}] missing`})`);
          else partial.push(`a${i} (no a${i}_len to check ${n} chunk(s) against)`);
        } else if (bytes.length !== p.declaredLen || more) {
          partial.push(`a${i} (${bytes.length} of a${i}_len=${p.declaredLen} bytes${more ? `, chunks after a${i}[${n - 1}] missing` : ''})`);
        }
      }
      totalBytes += bytes.length;
      if (cutAt !== undefined) continue;
      if (bytes.length > budget) {
        cutAt = i;
        continue;
      }
      budget -= bytes.length;
      let text: string;
      try {
        text = utf8Strict.decode(bytes);
      } catch {
        text = utf8Loose.decode(bytes);
        extra[`arg${i}_b64`] = Buffer.from(bytes).toString('base64');
      }
      argv.push(text);
    }
    if (argc !== undefined && Math.min(argc, MAX_ARGC) > count) {
      const first = count;
      const last = Math.min(argc, MAX_ARGC) - 1;
      missing.push(first === last ? `a${first}` : `a${first}…a${last}`);
    }
    if (missing.length > 0) incomplete.push(`argv: ${listed(missing)} missing (no EXECVE record of the event holds them); a gap before the last argument present is an empty string`);
    if (partial.length > 0) incomplete.push(`argv: ${listed(partial)} incomplete`);
    if (cutAt !== undefined) {
      incomplete.push(
        `argv: ${count - cutAt} of ${count} arguments (from a${cutAt}, ${totalBytes} argument bytes in all) not copied into this record, which keeps at most ${MAX_ARGV_BYTES} bytes; the preserved lines hold them`,
      );
    }
    payload.argv = argv;
    if (argc !== undefined) payload.argc = argc;
    payload.command_line = argv.join(' ');
  }

  // --- who, what, where
  const exe = syscallRecord === undefined ? undefined : decodedField(syscallRecord, 'exe');
  if (exe !== undefined) payload.exe = exe;
  const comm = syscallRecord === undefined ? undefined : decodedField(syscallRecord, 'comm');
  if (comm !== undefined) payload.comm = comm;
  // set by name (no list made per event, no store by computed key)
  const uid = f('uid');
  if (uid !== undefined) payload.uid = uid;
  const auid = f('auid');
  if (auid !== undefined) payload.auid = auid;
  const euid = f('euid');
  if (euid !== undefined) payload.euid = euid;
  const user = syscallRecord?.enriched?.get('UID');
  if (user !== undefined) payload.user = user;
  const pid = f('pid');
  if (pid !== undefined && /^\d{1,15}$/.test(pid)) payload.pid = Number(pid);
  const ppid = f('ppid');
  if (ppid !== undefined && /^\d{1,15}$/.test(ppid)) payload.ppid = Number(ppid);
  const tty = f('tty');
  if (tty !== undefined && tty !== '(none)') payload.tty = tty;
  const ses = f('ses');
  if (ses !== undefined) payload.session = ses;
  const exit = f('exit');
  if (exit !== undefined) payload.exit_code = exit;
  const key = syscallRecord === undefined ? undefined : decodedField(syscallRecord, 'key');
  const auditKey = auditKeyText(key);
  if (auditKey !== undefined) payload.audit_key = auditKey;
  const cwdRecord = byType.cwd;
  const cwd = cwdRecord === undefined ? undefined : decodedField(cwdRecord, 'cwd');
  if (cwd !== undefined) payload.cwd = cwd;
  if (event.sec <= MAX_EVENT_TIME_SEC && event.milli <= 999) payload.event_time = formatTimestamp(event.sec * 1000 + event.milli);
  if (event.node !== undefined) payload.event_host = event.node;

  const put = (k: string, v: string | undefined): void => {
    if (v !== undefined && v !== '') extra[k] = v;
  };
  const proctitleRecord = byType.proctitle;
  put('proctitle', proctitleRecord === undefined ? undefined : decodedField(proctitleRecord, 'proctitle'));
  // The path the caller named (PATH item 0) and the interpreter the kernel loaded (item 1), as written.
  let item0: AuditRecord | undefined;
  let item1: AuditRecord | undefined;
  for (const r of byType.paths) {
    const n = r.fields.value('item');
    if (n === '0') item0 ??= r;
    else if (n === '1') item1 ??= r;
  }
  put('path', item0 === undefined ? undefined : decodedField(item0, 'name'));
  put('interpreter', item1 === undefined ? undefined : decodedField(item1, 'name'));
  put('suid', f('suid'));
  put('fsuid', f('fsuid'));
  put('gid', f('gid'));
  put('egid', f('egid'));
  put('subj', f('subj'));
  if (exec?.name === 'execveat') put('dirfd', f('a0'));
  const enriched = syscallRecord?.enriched;
  if (enriched !== undefined) {
    put('auid_user', enriched.get('AUID'));
    put('euid_user', enriched.get('EUID'));
  }
  payload.extra = extra;
  if (incomplete.length > 0) payload.incomplete = incomplete.join('; ');
  out.records.push({ kind: 'process.exec', payload } satisfies DerivedRecord<'process.exec'>);
}
