/**
 * "What ran" and "Where data went": the report's reading of `process.exec` and `net.access`
 * records, and the patterns they show. Pure: entries in, rows and patterns out.
 *
 * What ran. A run is a `process.exec` start. auditd writes an execve as one event from which both a
 * `file.access` (operation `execute`, the program file) and a `process.exec` are derived, both
 * naming the event in `extra.audit_id`: such a run is counted once, from its `process.exec`; an
 * `execute` file access with no `process.exec` of the same event on its host (an audit watch on
 * the file alone) is a run too. A program's first run in a host's process records is "first seen
 * in the evidence", which is all the evidence can say: it is flagged only after the host's process
 * records have run for `baselineMinutes` (before that, every program is a first sighting).
 * Command lines touch a sensitive path when one of their path-like arguments (made absolute with
 * the run's working folder when the record has one) matches a `--sensitive` glob, as a file or as a
 * folder.
 *
 * Where data went. Uploads (POST, PUT, PATCH) and CONNECT tunnels through a proxy to a destination
 * outside the internal ranges, per destination, ranked by bytes: the request bytes of an upload
 * when the log has them, and for a tunnel the bytes the proxy logged (Squid's native log counts
 * what it delivered and does not say which way the bytes of a tunnel went, so the report says so
 * and never calls them uploaded). A destination given by name is outside unless the proxy logged
 * an internal address for it; names are never resolved. Web server logs are requests made *to*
 * the logging server, so they are not destinations. File share access (Windows 5140/5145) is
 * listed per server, share and client, marked when its path is sensitive.
 *
 * Display: command lines and URLs are evidence someone else wrote, of any length. What the report
 * shows of one is at most DISPLAY_CHARS characters, cut with the count of the rest, and with every
 * control, format and invisible character as a visible escape; the cited record holds every byte.
 */
import { CidrSet, parseAddress } from '../net/cidr.js';
import { escapeForTerminal } from '../text/terminal.js';
import type { GlobSet } from './glob.js';
import { bound } from './kit.js';

/** Characters of a command line or URL the report shows; the rest is counted. */
export const DISPLAY_CHARS = 300;
/** Characters of a command line or URL kept in memory per record (enough to find sensitive paths in it). */
export const KEPT_CHARS = 4096;

/** Archivers and copy tools (basename, lower case, without `.exe`). */
export const ARCHIVE_TOOLS: ReadonlySet<string> = new Set(['zip', '7z', '7za', '7zr', '7zg', '7zfm', 'tar', 'bsdtar', 'rar', 'winrar', 'unrar', 'gzip', 'pigz', 'bzip2', 'xz', 'zstd', 'lz4', 'cpio', 'pax', 'makecab', 'compact', 'xcopy', 'robocopy', 'copy', 'cp', 'rsync', 'scp', 'sftp', 'dd', 'ditto']);
/**
 * Tools known from exfiltration and intrusions: file transfer to cloud storage, tunnels, remote
 * control and remote execution (basename, lower case, without `.exe`). Their run is a pattern; it
 * says a tool of this kind ran, not that it was misused.
 */
export const KNOWN_TOOLS: ReadonlyMap<string, 'transfer' | 'tunnel' | 'remote_control' | 'remote_exec'> = new Map([
  ...(['rclone', 'megacmd', 'megacmdshell', 'megacmdserver', 'mega-put', 'mega-cmd', 'megasync', 'megatools', 'megaput', 'gdrive', 'restic', 'croc', 'pscp', 'winscp', 'filezilla', 'cyberduck', 'azcopy', 'gsutil', 'dropbox', 'onedrive', 'ftp', 'tftp', 'curl-upload', 'transfer.sh'] as const).map((n) => [n, 'transfer'] as const),
  ...(['ngrok', 'cloudflared', 'chisel', 'frpc', 'frps', 'plink', 'socat', 'ncat', 'nc', 'netcat', 'iodine', 'dnscat2', 'ligolo', 'gost', 'localtonet', 'pinggy'] as const).map((n) => [n, 'tunnel'] as const),
  ...(['anydesk', 'teamviewer', 'teamviewer_service', 'rustdesk', 'screenconnect', 'screenconnect.clientservice', 'connectwisecontrol', 'splashtop', 'srservice', 'ammyy', 'aa_v3', 'atera', 'atera_agent', 'logmein', 'remoteutilities', 'rutserv', 'rfusclient', 'tightvnc', 'tvnserver', 'winvnc', 'vncserver', 'x11vnc', 'chrome-remote-desktop-host', 'remotely', 'meshagent', 'supremo', 'zoho-assist'] as const).map((n) => [n, 'remote_control'] as const),
  ...(['psexec', 'psexec64', 'psexesvc', 'paexec', 'remcom', 'csexec', 'winexe', 'impacket-psexec', 'wmiexec', 'smbexec', 'atexec', 'dcomexec', 'crackmapexec', 'nxc'] as const).map((n) => [n, 'remote_exec'] as const),
]);

/** Where a program in a user-writable folder runs from: worth a first sighting at once, whatever the baseline. */
const WRITABLE_DIR = /^(?:\/tmp\/|\/var\/tmp\/|\/dev\/shm\/|\/home\/|\/Users\/|\/run\/user\/)|\\(?:Temp|Downloads|AppData|Desktop|Public)\\|^[A-Za-z]:\\(?:Users\\Public|ProgramData|PerfLogs)\\|^\\\\/i;

export interface ActivityCite {
  host: string;
  seq: number;
  sha256: string;
  time: string;
  kind: string;
}

/** What the activity reading needs of a timeline entry (the model's compact copy). */
export interface ActivityEntry {
  readonly datetime: string;
  readonly host: string;
  readonly seq: number;
  readonly record_sha256: string;
  readonly kind: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface UsbStorageConnect {
  host: string;
  device: string;
  start: string;
  entry: ActivityEntry;
}

export interface ProgramRow {
  host: string;
  exe: string;
  runs: number;
  failed: number;
  users: string[];
  usersTotal: number;
  first: string;
  last: string;
  /** Its first run is after the host's baseline (or from a user-writable folder): not seen before in the evidence. */
  firstSeen: boolean;
  tool?: 'archiver' | 'transfer' | 'tunnel' | 'remote_control' | 'remote_exec';
  /** Distinct command lines as displayed (at most 3); `commandLinesTotal` counts all. */
  commandLines: string[];
  commandLinesTotal: number;
  /** Runs whose command line touched a sensitive path. */
  sensitiveRuns: number;
  cites: ActivityCite[];
}

export interface CommandRow {
  time: string;
  host: string;
  exe: string;
  user: string;
  /** The command line as displayed (cut at DISPLAY_CHARS, escapes visible). */
  command_line: string;
  /** The program that started it, when the record names it (4688 v2, Sysmon 1). */
  parent?: string;
  /** Its whole length in characters (more than shown: cut). */
  command_line_length: number;
  /** The sensitive paths it names (at most 10) and the globs they match. */
  paths: string[];
  cite: ActivityCite;
}

export interface TransferRow {
  destination: string;
  /** The address it was judged by (the destination itself, or the server address the proxy logged). */
  address?: string;
  judgedBy: 'address' | 'name';
  ports: string[];
  methods: string[];
  requests: number;
  /** Bytes sent in uploads whose request size the log has. */
  requestBytes: number;
  /** Uploads whose request size the log does not have. */
  uploadsWithoutSize: number;
  /** Bytes the proxy logged for CONNECT tunnels (direction not logged). */
  tunnelBytes: number;
  clients: string[];
  users: string[];
  /** Hosts whose logs hold the records (the proxy). */
  loggedOn: string[];
  first: string;
  last: string;
  cites: ActivityCite[];
}

export interface ShareRow {
  /** The host whose log holds the records (the file server). */
  host: string;
  share: string;
  share_path?: string;
  client?: string;
  user?: string;
  count: number;
  /** Targets within the share (first 10) and whether one is sensitive. */
  targets: string[];
  targetsTotal: number;
  glob?: string;
  first: string;
  last: string;
  cites: ActivityCite[];
}

export interface ActivityPattern {
  code: 'archive_then_usb' | 'archive_then_upload' | 'large_upload' | 'known_tool' | 'new_executable';
  host: string;
  time: string;
  params: Record<string, string | number | boolean | readonly string[]>;
  evidence: ActivityEntry[];
  total: number;
}

export interface ActivityOptions {
  sensitive: GlobSet;
  sensitiveConfigured: boolean;
  internal: CidrSet;
  uploadThreshold: number;
  windowMinutes: number;
  baselineMinutes: number;
  citeLimit: number;
  /** Which runs What ran is about (src/report/interest.ts); all runs when undefined. Patterns weigh every run either way. */
  ofInterest?: (host: string, payload: Readonly<Record<string, unknown>>) => boolean;
}

/** What What ran left out when it is about some users and hosts only: counted, never dropped silently. */
export interface ActivityFocusCounts {
  runsLeftOut: number;
  /** Programs (per host) none of whose runs is of interest. */
  programsLeftOut: number;
  /** Command lines naming sensitive paths whose run is not of interest. */
  commandsLeftOut: number;
}

export interface Activity {
  programs: ProgramRow[];
  runs: number;
  commands: CommandRow[];
  transfers: TransferRow[];
  shares: ShareRow[];
  patterns: ActivityPattern[];
  /** Present when `ofInterest` was given. */
  focus?: ActivityFocusCounts;
  /** Program starts of interest worth their ancestry (src/report/ancestry.ts), in time order, and why. */
  notable: NotableRun[];
}

export type NotableReason = 'known_tool' | 'first_seen' | 'sensitive';
export interface NotableRun {
  entry: ActivityEntry;
  why: NotableReason[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function citeOf(e: ActivityEntry): ActivityCite {
  return { host: e.host, seq: e.seq, sha256: e.record_sha256, time: e.datetime, kind: e.kind };
}

/** A value someone else wrote, as the report shows it: at most `limit` characters, controls visible, and the count of what is cut. */
export function displayValue(value: string, wholeLength = value.length, limit = DISPLAY_CHARS): string {
  const cut = value.length > limit ? value.slice(0, limit) : value;
  // A cut through a surrogate pair would leave half a character: drop it.
  const clean = /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
  const rest = wholeLength - clean.length;
  return rest > 0 ? `${escapeForTerminal(clean)}… [+${rest.toLocaleString('en-US')}]` : escapeForTerminal(clean);
}

/** What the model keeps of a long value: KEPT_CHARS characters and the whole length. */
export function keptValue(value: string): { text: string; length: number } {
  return { text: value.length > KEPT_CHARS ? value.slice(0, KEPT_CHARS) : value, length: value.length };
}

/** `C:\Tools\7z.exe` → `7z`; `/usr/bin/zip` → `zip`. */
export function programName(exe: string): string {
  const base = exe.slice(Math.max(exe.lastIndexOf('/'), exe.lastIndexOf('\\')) + 1).toLowerCase();
  return base.endsWith('.exe') ? base.slice(0, -4) : base;
}

export function toolOf(exe: string): ProgramRow['tool'] {
  const name = programName(exe);
  if (ARCHIVE_TOOLS.has(name)) return 'archiver';
  return KNOWN_TOOLS.get(name);
}

/** Who a run was: its user, else `auid=N`, else `uid=N`, else `?`. */
export function actorOf(p: Readonly<Record<string, unknown>>): string {
  const user = str(p['user']);
  if (user !== undefined) return user;
  const auid = str(p['auid']);
  if (auid !== undefined && auid !== '4294967295' && auid !== '-1') return `auid=${auid}`;
  const uid = str(p['uid']);
  return uid !== undefined ? `uid=${uid}` : '?';
}

/** The sensitive paths a command line names: its path-like arguments, absolute or joined to the working folder. */
export function sensitivePathsOf(commandLine: string, cwd: string | undefined, sensitive: GlobSet): string[] {
  const found: string[] = [];
  // Arguments: quoted strings or runs without spaces; `--opt=/path` gives the path.
  let first = true;
  for (const m of commandLine.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    let arg = m[1] ?? m[2] ?? m[3] ?? '';
    // The program itself is no argument (a relative one would be joined to the working folder).
    const isProgram = first;
    first = false;
    if (isProgram && !arg.startsWith('/') && !/^[A-Za-z]:\\/.test(arg)) continue;
    const eq = arg.indexOf('=');
    if (eq > 0 && arg.startsWith('-')) arg = arg.slice(eq + 1);
    if (arg === '' || arg.startsWith('-')) continue;
    const candidates: string[] = [];
    if (arg.startsWith('/') || /^[A-Za-z]:\\/.test(arg) || arg.startsWith('\\\\')) candidates.push(arg);
    else if (cwd !== undefined && cwd.startsWith('/')) candidates.push(arg === '.' ? cwd : `${cwd.replace(/\/$/, '')}/${arg.replace(/^\.\//, '')}`);
    for (const c of candidates) {
      const bare = c.replace(/[/\\]+$/, '');
      if (sensitive.match(c) !== undefined || sensitive.match(`${bare}/`) !== undefined || sensitive.match(`${bare}\\`) !== undefined || sensitive.match(`${bare}/x`) !== undefined) {
        if (!found.includes(c)) found.push(c);
      }
    }
    if (found.length >= 10) break;
  }
  return found;
}

interface Destination {
  name: string;
  address?: string;
  judgedBy: 'address' | 'name';
  internal: boolean;
}

function destinationOf(p: Readonly<Record<string, unknown>>, internal: CidrSet): Destination | undefined {
  const host = str(p['host']);
  if (host === undefined) return undefined;
  if (parseAddress(host) !== undefined) return { name: host, address: host, judgedBy: 'address', internal: internal.match(host) !== undefined };
  const server = str(p['server_ip']);
  if (server !== undefined && parseAddress(server) !== undefined) return { name: host, address: server, judgedBy: 'address', internal: internal.match(server) !== undefined };
  const lower = host.toLowerCase();
  return { name: host, judgedBy: 'name', internal: lower === 'localhost' || lower.endsWith('.localhost') };
}

const UPLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** A request through a proxy that may carry data out: an upload, or a CONNECT tunnel. */
function transferOf(e: ActivityEntry): { method: string; upload: boolean } | undefined {
  if (e.kind !== 'net.access' || str(e.payload['service']) !== 'proxy') return undefined;
  const method = (str(e.payload['method']) ?? '').toUpperCase();
  if (method === 'CONNECT') return { method, upload: false };
  if (UPLOAD_METHODS.has(method)) return { method, upload: true };
  return undefined;
}

/** Whether the model keeps a `net.access` entry (what this reading uses; a web server's own requests are not). */
export function keepNetAccess(p: Readonly<Record<string, unknown>>): boolean {
  const service = str(p['service']);
  if (service === 'smb') return true;
  if (service !== 'proxy') return false;
  const method = (str(p['method']) ?? '').toUpperCase();
  return method === 'CONNECT' || UPLOAD_METHODS.has(method);
}

function minutes(ts: string): number {
  return Date.parse(ts) / 60_000;
}

export function readActivity(kept: readonly ActivityEntry[], usb: readonly UsbStorageConnect[], o: ActivityOptions): Activity {
  const patterns: ActivityPattern[] = [];

  // --- what ran ---
  const execEvents = new Set<string>();
  for (const e of kept) {
    const id = e.kind === 'process.exec' ? str(e.payload['audit_id']) : undefined;
    if (id !== undefined) execEvents.add(`${e.host}\u0000${id}`);
  }
  const isRun = (e: ActivityEntry): boolean => {
    if (e.kind === 'process.exec') return e.payload['action'] === 'start';
    if (e.kind !== 'file.access' || e.payload['operation'] !== 'execute') return false;
    const id = str(e.payload['audit_id']);
    return id === undefined || !execEvents.has(`${e.host}\u0000${id}`);
  };
  const firstRunOnHost = new Map<string, number>();
  type ProgAcc = Omit<ProgramRow, 'users' | 'usersTotal' | 'commandLines' | 'commandLinesTotal'> & { users: Set<string>; lines: Set<string>; runEntries: ActivityEntry[] };
  const programs = new Map<string, ProgAcc>();
  /** The same, of the runs of interest only (when `ofInterest` is given): what the table shows. */
  const focused = new Map<string, ProgAcc>();
  let runsLeftOut = 0;
  let commandsLeftOut = 0;
  const notable: NotableRun[] = [];
  const commands: CommandRow[] = [];
  /** Archiver runs on sensitive paths, per host, in time order. */
  const archiveRuns: Array<{ e: ActivityEntry; paths: string[]; line: string }> = [];
  let runs = 0;
  for (const e of kept) {
    if (!isRun(e)) continue;
    runs++;
    const p = e.payload;
    const exe = str(p['exe']) ?? (e.kind === 'file.access' ? str(p['path']) : undefined) ?? str(p['comm']) ?? '?';
    const user = actorOf(p);
    const line = str(p['command_line']) ?? '';
    const lineLength = typeof p['command_line_length'] === 'number' ? p['command_line_length'] : line.length;
    const hostStart = firstRunOnHost.get(e.host) ?? minutes(e.datetime);
    if (!firstRunOnHost.has(e.host)) firstRunOnHost.set(e.host, hostStart);
    const interesting = o.ofInterest === undefined || o.ofInterest(e.host, p);
    if (!interesting) runsLeftOut++;
    const named = o.sensitiveConfigured ? sensitivePathsOf(line, str(p['cwd']), o.sensitive) : [];
    const acc = addRun(programs, e, exe, user, line, lineLength, named.length > 0, () => minutes(e.datetime) - hostStart >= o.baselineMinutes || WRITABLE_DIR.test(exe));
    if (interesting && o.ofInterest !== undefined) addRun(focused, e, exe, user, line, lineLength, named.length > 0, () => acc.firstSeen);
    if (interesting && e.kind === 'process.exec') {
      const why: NotableReason[] = [...(acc.tool !== undefined && acc.tool !== 'archiver' ? ['known_tool' as const] : []), ...(acc.firstSeen ? ['first_seen' as const] : []), ...(named.length > 0 ? ['sensitive' as const] : [])];
      if (why.length > 0) notable.push({ entry: e, why });
    }
    if (named.length > 0) {
      const parent = str(p['parent_exe']);
      if (interesting) commands.push({ time: e.datetime, host: e.host, exe: shown(exe), user: shown(user), ...(parent !== undefined ? { parent: shown(parent) } : {}), command_line: displayValue(line, lineLength), command_line_length: lineLength, paths: named.map(shown), cite: citeOf(e) });
      else commandsLeftOut++;
      if (acc.tool === 'archiver') archiveRuns.push({ e, paths: named.map(shown), line: displayValue(line, lineLength) });
    }
  }
  /** One more run of a program on a host in `map` (its row made on its first run, `firstSeen` asked then). */
  function addRun(map: Map<string, ProgAcc>, e: ActivityEntry, exe: string, user: string, line: string, lineLength: number, sensitive: boolean, firstSeen: () => boolean): ProgAcc {
    const key = `${e.host}\u0000${exe}`;
    let acc = map.get(key);
    if (acc === undefined) {
      const tool = toolOf(exe);
      acc = { host: e.host, exe, runs: 0, failed: 0, users: new Set(), lines: new Set(), first: e.datetime, last: e.datetime, firstSeen: firstSeen(), ...(tool !== undefined ? { tool } : {}), sensitiveRuns: 0, cites: [], runEntries: [] };
      map.set(key, acc);
    }
    acc.runs++;
    if (e.payload['success'] === false) acc.failed++;
    acc.users.add(user);
    acc.last = e.datetime;
    if (line !== '') acc.lines.add(displayValue(line, lineLength));
    if (acc.cites.length < o.citeLimit) acc.cites.push(citeOf(e));
    if (acc.runEntries.length < o.citeLimit) acc.runEntries.push(e);
    if (sensitive) acc.sensitiveRuns++;
    return acc;
  }
  const programRows: ProgramRow[] = [...(o.ofInterest !== undefined ? focused : programs).values()].map(({ users, lines, runEntries: _r, ...rest }) => ({ ...rest, exe: shown(rest.exe), users: shownList(users), usersTotal: users.size, commandLines: [...lines].slice(0, 3), commandLinesTotal: lines.size }));
  for (const acc of programs.values()) {
    const tool = acc.tool;
    if (tool !== undefined && tool !== 'archiver') {
      patterns.push({ code: 'known_tool', host: acc.host, time: acc.first, params: { exe: shown(acc.exe), tool, runs: acc.runs, users: shownList(acc.users), command_line: [...acc.lines][0] ?? '' }, evidence: acc.runEntries, total: acc.runs });
    }
    if (acc.firstSeen) {
      const since = firstRunOnHost.get(acc.host);
      patterns.push({ code: 'new_executable', host: acc.host, time: acc.first, params: { exe: shown(acc.exe), users: shownList(acc.users), runs: acc.runs, evidence_since: since !== undefined ? new Date(since * 60_000).toISOString() : acc.first, writable: WRITABLE_DIR.test(acc.exe) }, evidence: acc.runEntries.slice(0, 1), total: 1 });
    }
  }

  // --- where data went ---
  const transfers = new Map<string, TransferRow & { clientSet: Set<string>; userSet: Set<string>; hostSet: Set<string>; portSet: Set<string>; methodSet: Set<string> }>();
  /** Outside uploads and large tunnels, in time order: what an archiver run may be followed by. */
  const outsideSends: Array<{ e: ActivityEntry; dest: Destination; method: string; bytes?: number; basis: 'request' | 'tunnel' | 'unknown' }> = [];
  const shares = new Map<string, ShareRow & { targetSet: Set<string> }>();
  for (const e of kept) {
    if (e.kind !== 'net.access') continue;
    const p = e.payload;
    if (str(p['service']) === 'smb') {
      const share = str(p['share']) ?? '?';
      const client = str(p['client_ip']);
      const user = str(p['user']);
      const key = `${e.host}\u0000${share}\u0000${client ?? ''}\u0000${user ?? ''}`;
      let row = shares.get(key);
      if (row === undefined) {
        const sharePath = str(p['share_path']);
        row = { host: e.host, share, ...(sharePath !== undefined ? { share_path: sharePath } : {}), ...(client !== undefined ? { client } : {}), ...(user !== undefined ? { user } : {}), count: 0, targets: [], targetsTotal: 0, first: e.datetime, last: e.datetime, cites: [], targetSet: new Set() };
        shares.set(key, row);
      }
      row.count++;
      row.last = e.datetime;
      const target = str(p['target']);
      if (target !== undefined) row.targetSet.add(target);
      if (row.glob === undefined && o.sensitiveConfigured) {
        const local = str(p['share_path']);
        const full = local !== undefined && target !== undefined ? `${local.replace(/\\+$/, '')}\\${target}` : (local ?? target);
        const g = full !== undefined ? (o.sensitive.match(full) ?? o.sensitive.match(full.replace(/\\/g, '/')) ?? o.sensitive.match(`${full.replace(/\\/g, '/')}/x`)) : undefined;
        if (g !== undefined) row.glob = g;
      }
      if (row.cites.length < o.citeLimit) row.cites.push(citeOf(e));
      continue;
    }
    const t = transferOf(e);
    if (t === undefined) continue;
    const dest = destinationOf(p, o.internal);
    if (dest === undefined || dest.internal) continue;
    const sent = typeof p['bytes_sent'] === 'number' ? p['bytes_sent'] : undefined;
    const received = typeof p['bytes_received'] === 'number' ? p['bytes_received'] : undefined;
    let row = transfers.get(dest.name);
    if (row === undefined) {
      row = { destination: dest.name, ...(dest.address !== undefined ? { address: dest.address } : {}), judgedBy: dest.judgedBy, ports: [], methods: [], requests: 0, requestBytes: 0, uploadsWithoutSize: 0, tunnelBytes: 0, clients: [], users: [], loggedOn: [], first: e.datetime, last: e.datetime, cites: [], clientSet: new Set(), userSet: new Set(), hostSet: new Set(), portSet: new Set(), methodSet: new Set() };
      transfers.set(dest.name, row);
    }
    row.requests++;
    row.last = e.datetime;
    row.methodSet.add(t.method);
    if (p['port'] !== undefined) row.portSet.add(String(p['port']));
    const client = str(p['client_ip']);
    if (client !== undefined) row.clientSet.add(client);
    const user = str(p['user']);
    if (user !== undefined) row.userSet.add(user);
    row.hostSet.add(e.host);
    if (row.cites.length < o.citeLimit) row.cites.push(citeOf(e));
    let bytes: number | undefined;
    let basis: 'request' | 'tunnel' | 'unknown';
    if (t.upload) {
      if (received !== undefined) {
        row.requestBytes += received;
        bytes = received;
        basis = 'request';
      } else {
        row.uploadsWithoutSize++;
        basis = 'unknown';
      }
    } else {
      bytes = (sent ?? 0) + (received ?? 0);
      row.tunnelBytes += bytes;
      basis = 'tunnel';
    }
    if (t.upload || (bytes !== undefined && bytes >= o.uploadThreshold)) outsideSends.push({ e, dest, method: t.method, ...(bytes !== undefined ? { bytes } : {}), basis });
    if (bytes !== undefined && bytes >= o.uploadThreshold) {
      patterns.push({
        code: 'large_upload',
        host: e.host,
        time: e.datetime,
        params: { destination: shown(dest.name), endpoint: shown(p['port'] !== undefined ? `${dest.name}:${String(p['port'])}` : dest.name), method: shown(t.method), bytes, basis, threshold: o.uploadThreshold.toLocaleString('en-US'), client: shown(client ?? '?'), user: shown(user ?? '?'), url: displayValue(str(p['url']) ?? '', typeof p['url_length'] === 'number' ? p['url_length'] : undefined) },
        evidence: [e],
        total: 1,
      });
    }
  }
  const transferRows: TransferRow[] = [...transfers.values()]
    .map(({ clientSet, userSet, hostSet, portSet, methodSet, ...r }) => ({ ...r, destination: shown(r.destination), ...(r.address !== undefined ? { address: shown(r.address) } : {}), clients: shownList(clientSet), users: shownList(userSet), loggedOn: [...hostSet], ports: [...portSet].sort(), methods: shownList(methodSet).sort() }))
    .sort((a, b) => b.requestBytes + b.tunnelBytes - (a.requestBytes + a.tunnelBytes) || (a.destination < b.destination ? -1 : 1));
  const shareRows: ShareRow[] = [...shares.values()].map(({ targetSet, ...r }) => ({
    ...r,
    share: shown(r.share),
    ...(r.share_path !== undefined ? { share_path: shown(r.share_path) } : {}),
    ...(r.client !== undefined ? { client: shown(r.client) } : {}),
    ...(r.user !== undefined ? { user: shown(r.user) } : {}),
    targets: shownList(targetSet),
    targetsTotal: targetSet.size,
  }));

  // --- an archiver on sensitive paths, then a USB storage connection (same host) or an outside upload (any proxy) ---
  const windowMin = o.windowMinutes;
  // The runs are in time order (the entries are): a window is found by binary search, not a scan per event.
  const runTimes = archiveRuns.map((r) => minutes(r.e.datetime));
  const firstAtOrAfter = (x: number, after: boolean): number => bound(runTimes, x, after);
  const runsBefore = (at: string, host: string | undefined): typeof archiveRuns => {
    const t = minutes(at);
    return archiveRuns.slice(firstAtOrAfter(t - windowMin, false), firstAtOrAfter(t, true)).filter((r) => host === undefined || r.e.host === host);
  };
  for (const c of usb) {
    const before = runsBefore(c.start, c.host);
    if (before.length === 0) continue;
    patterns.push({
      code: 'archive_then_usb',
      host: c.host,
      time: c.start,
      params: { programs: shownList(before.map((r) => programName(str(r.e.payload['exe']) ?? '?'))), users: shownList(before.map((r) => actorOf(r.e.payload))), files: uniq(before.flatMap((r) => r.paths)).slice(0, 10), command_line: before[0]?.line ?? '', runs: before.length, first_run: before[0]?.e.datetime ?? '', device: c.device, connected_at: c.start, window_minutes: windowMin },
      evidence: [...before.slice(0, o.citeLimit).map((r) => r.e), c.entry],
      total: before.length + 1,
    });
  }
  for (const u of outsideSends) {
    const before = runsBefore(u.e.datetime, undefined);
    if (before.length === 0) continue;
    patterns.push({
      code: 'archive_then_upload',
      host: before[0]?.e.host ?? u.e.host,
      time: u.e.datetime,
      params: { programs: shownList(before.map((r) => programName(str(r.e.payload['exe']) ?? '?'))), users: shownList(before.map((r) => actorOf(r.e.payload))), files: uniq(before.flatMap((r) => r.paths)).slice(0, 10), command_line: before[0]?.line ?? '', runs: before.length, first_run: before[0]?.e.datetime ?? '', destination: shown(u.dest.name), method: shown(u.method), bytes: u.bytes ?? -1, basis: u.basis, client: shown(str(u.e.payload['client_ip']) ?? '?'), logged_on: u.e.host, sent_at: u.e.datetime, window_minutes: windowMin },
      evidence: [...before.slice(0, o.citeLimit).map((r) => r.e), u.e],
      total: before.length + 1,
    });
  }

  const focus = o.ofInterest !== undefined ? { runsLeftOut, programsLeftOut: programs.size - focused.size, commandsLeftOut } : undefined;
  return { programs: programRows, runs, commands, transfers: transferRows, shares: shareRows, patterns, ...(focus !== undefined ? { focus } : {}), notable };
}

function uniq(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** A short value someone else wrote (a program path, a user, a host name), as shown: cut and with controls visible. */
function shown(v: string): string {
  return displayValue(v, v.length, DISPLAY_CHARS);
}

/** The first 10 distinct values of a list, as shown. */
function shownList(values: Iterable<string>): string[] {
  return uniq([...values]).slice(0, 10).map(shown);
}
