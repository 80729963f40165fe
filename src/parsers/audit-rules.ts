/**
 * The auditd rules that make the kernel record access to a path, for `custody agent audit-rules`.
 *
 * Choice: a watch, `-w PATH -p rwxa -k KEY`, by default. auditctl decides when it loads the rule
 * whether PATH is a file (an exact-path watch) or a directory (a recursive `dir=` watch), and the
 * kernel's permission classes (`-p`) cover every syscall that reads (r), writes (w), executes (x)
 * or changes attributes (a) on every architecture, so one line is right on x86_64 and aarch64
 * alike, for 64- and 32-bit processes, without custody having to know the file's type.
 *
 * `style: 'syscall'` prints the explicit form instead,
 * `-a always,exit -F arch=b64 -S open,openat,… -F dir=PATH -F key=KEY`, for people who want to add
 * filters of their own (`-F auid>=1000`, …): it needs `kind` (`dir=` vs `path=`) and the machine,
 * because the syscall names differ (aarch64 has no `open`, `unlink`, `rename`…).
 *
 * Paths: must be absolute, at most 4095 bytes. A path with spaces is written in double quotes, as
 * in go-libaudit's rule testdata (`-w "/folder with space" -p wa -k …`); a path holding a quote,
 * a backslash or a control character cannot be written in a rules file at all and is refused.
 * Keys: 1–31 characters of `[A-Za-z0-9._:-]`. Pure.
 */
import { CustodyError, ErrorCodes } from '../errors.js';
import { SYSCALLS_AARCH64, SYSCALLS_I386, SYSCALLS_X86_64 } from './syscalls.js';

export const DEFAULT_AUDIT_KEY = 'custody-file-access';

export interface AuditRulesOptions {
  /** The key every matching event carries (`key="…"` in audit.log). */
  key?: string;
  /** `watch` (default): `-w`; `syscall`: explicit `-a always,exit` rules. */
  style?: 'watch' | 'syscall';
  /** For `syscall` style: is the path a directory (`-F dir=`, recursive) or a file (`-F path=`)? */
  kind?: 'dir' | 'file';
  /** For `syscall` style: the ABIs to cover; default b64 and b32 on x86_64, b64 on aarch64. */
  arch?: ('b64' | 'b32')[];
  /** For `syscall` style: the machine the rules are for (syscall names differ); default x86_64. */
  machine?: 'x86_64' | 'aarch64';
}

/** The syscalls that open, change, remove, rename or execute a file, in the order they are printed. */
export const FILE_ACCESS_SYSCALLS = [
  'open', 'openat', 'openat2', 'open_by_handle_at', 'creat', 'truncate', 'ftruncate',
  'unlink', 'unlinkat', 'rmdir', 'rename', 'renameat', 'renameat2', 'mkdir', 'mkdirat', 'mknod', 'mknodat',
  'link', 'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'lchown', 'fchownat',
  'setxattr', 'lsetxattr', 'fsetxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
  'utime', 'utimes', 'futimesat', 'utimensat', 'execve', 'execveat',
] as const;

/** Quotes a path for a rules file, or throws when it cannot be written in one. */
export function ruleQuotePath(path: string): string {
  if (!path.startsWith('/')) {
    throw new CustodyError(ErrorCodes.USAGE, `audit rules need an absolute path, not ${JSON.stringify(path)}`);
  }
  if (Buffer.byteLength(path, 'utf8') > 4095) {
    throw new CustodyError(ErrorCodes.USAGE, 'path is longer than PATH_MAX (4095 bytes)');
  }
  // eslint-disable-next-line no-control-regex
  if (/["'\\\u0000-\u001f\u007f]/.test(path)) {
    throw new CustodyError(
      ErrorCodes.USAGE,
      `path ${JSON.stringify(path)} holds a quote, a backslash or a control character, which an audit rules file cannot express; watch its parent directory instead`,
    );
  }
  return /\s/.test(path) ? `"${path}"` : path;
}

function checkKey(key: string): string {
  if (!/^[A-Za-z0-9._:-]{1,31}$/.test(key)) {
    throw new CustodyError(ErrorCodes.USAGE, `audit key ${JSON.stringify(key)} must be 1–31 characters of A-Z a-z 0-9 . _ : -`);
  }
  return key;
}

/** The rules (one per line, with a comment line first) that record access to `path`. */
export function auditRulesForPath(path: string, opts: AuditRulesOptions = {}): string {
  const quoted = ruleQuotePath(path);
  const key = checkKey(opts.key ?? DEFAULT_AUDIT_KEY);
  const lines = [`## custody: record reads, writes, executions and attribute changes of ${path}`];
  if ((opts.style ?? 'watch') === 'watch') {
    lines.push(`-w ${quoted} -p rwxa -k ${key}`);
    return `${lines.join('\n')}\n`;
  }
  const kind = opts.kind;
  if (kind === undefined) {
    throw new CustodyError(ErrorCodes.USAGE, "syscall-style rules need to know whether the path is a directory or a file (kind: 'dir' | 'file')");
  }
  const machine = opts.machine ?? 'x86_64';
  const arches = opts.arch ?? (machine === 'x86_64' ? ['b64', 'b32'] : ['b64']);
  for (const arch of arches) {
    const table = arch === 'b64' ? (machine === 'x86_64' ? SYSCALLS_X86_64 : SYSCALLS_AARCH64) : machine === 'x86_64' ? SYSCALLS_I386 : undefined;
    if (table === undefined) {
      throw new CustodyError(ErrorCodes.USAGE, `custody has no syscall table for 32-bit processes on ${machine}; use the watch style`);
    }
    const known = new Set(table.values());
    const names = FILE_ACCESS_SYSCALLS.filter((s) => known.has(s));
    lines.push(`-a always,exit -F arch=${arch} -S ${names.join(',')} -F ${kind === 'dir' ? 'dir' : 'path'}=${quoted} -F key=${key}`);
  }
  return `${lines.join('\n')}\n`;
}
