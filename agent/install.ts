/**
 * `custody agent install`: a hardened systemd unit (or a launchd daemon plist) that runs
 * `custody agent run --config FILE` as its own unprivileged user. The text is made by pure
 * functions; `installService` writes it (under a root folder that tests point elsewhere).
 *
 * Running the agent as root is refused unless asked for by name (`allowRoot`, the CLI's
 * `--allow-root`): the agent only reads logs and writes its store, and a typo'd or copied
 * `--user root` would otherwise quietly give a network-facing process (it talks to a TSA) every
 * privilege. Everything the written files refer to exists: the documentation is the README shipped
 * beside the CLI, named by its absolute path, and left out when there is none.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';

export const SYSTEMD_UNIT_PATH = '/etc/systemd/system/custody-agent.service';
export const SYSUSERS_PATH = '/etc/sysusers.d/custody.conf';
export const LAUNCHD_PLIST_PATH = '/Library/LaunchDaemons/org.custody.agent.plist';
export const LAUNCHD_LABEL = 'org.custody.agent';
export const DEFAULT_CONFIG_PATH = '/etc/custody/agent.yaml';
export const DEFAULT_STORE_DIR = '/var/lib/custody';
export const DEFAULT_SERVICE_USER = 'custody';
/**
 * Node flags for the service, which mostly waits or follows a few lines a second:
 * - a 1 MiB young generation (V8's default grows it to 16 MiB per semi-space) and V8's
 *   optimize-for-size mode: about 35 MB less RSS at a steady 1,000 lines/s and 16 MB less idle;
 * - one V8 background thread instead of four: each thread also gets its own malloc arena, and
 *   four of them held about 4-8 MB of RSS (measured with the agent's idle and steady benches);
 * - `gc()` for the agent: a full collection when it goes quiet after a burst (agent/settle-memory.ts)
 *   instead of V8's own about 8 s later, whose garbage plateau was the idle agent's highest RSS.
 * Measured with scripts/bench/agent-idle.mjs and agent-steady.mjs (BENCHMARKS.md), which run the
 * agent with exactly these flags.
 * A foreground `custody agent run` gets them only on node's command line (README; NODE_OPTIONS
 * refuses --optimize-for-size): V8's own flags cannot be changed safely in a running process
 * (node's documentation of v8.setFlagsFromString).
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size', '--v8-pool-size=1', '--expose-gc'] as const;

/**
 * The service's environment beyond NODE_ENV (systemd only: glibc's tunable, and macOS has no glibc):
 * blocks of 256 KiB and more come from mmap and go back to the system when freed. glibc's own
 * threshold starts at 128 KiB and rises with every such block freed, up to 32 MiB, after which a
 * burst's large buffers stay in the malloc heap for reuse. Together with `--expose-gc` (a full
 * collection when the agent goes quiet after a burst, agent/settle-memory.ts) it took the idle
 * agent with a vault to 78-79 MB at most (79.7-83.6 MB with the collection alone, 84-88 MB with
 * neither), and at 1,000 lines/s from 79.5 to 77-78 MB at a CPU cost within the run-to-run noise
 * (scripts/bench/agent-idle.mjs and agent-steady.mjs, BENCHMARKS.md). 32 KiB and 128 KiB saved as
 * much idle and cost about 1.5 points of a core at 1,000 lines/s.
 */
export const SERVICE_ENVIRONMENT: Readonly<Record<string, string>> = { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=262144' };


export interface ServiceSpec {
  /** The node binary (absolute). */
  nodePath: string;
  /** custody's CLI entry, dist/src/cli.js (absolute). */
  cliPath: string;
  /** The agent configuration file the service runs with (absolute). */
  configPath: string;
  /** The store folder, the only place the service may write (absolute). */
  storeDir: string;
  /** The service's own user (and group). */
  user: string;
  /** Memory ceiling for the service (systemd MemoryMax), e.g. `256M`. */
  memoryMax: string;
  /** The service user may be a superuser (root, or a name with uid 0 in `superusers`): only when asked for explicitly. */
  allowRoot: boolean;
  /** Names with uid 0 on this host besides `root` (from /etc/passwd; see `superusersOf`). */
  superusers: readonly string[];
  /** custody's README (absolute), named as the service's documentation; none when the install has no README. */
  readmePath: string | undefined;
}

export function defaultServiceSpec(partial: Partial<ServiceSpec> & Pick<ServiceSpec, 'nodePath' | 'cliPath'>): ServiceSpec {
  return {
    configPath: DEFAULT_CONFIG_PATH,
    storeDir: DEFAULT_STORE_DIR,
    user: DEFAULT_SERVICE_USER,
    memoryMax: '256M',
    allowRoot: false,
    superusers: [],
    readmePath: undefined,
    ...partial,
  };
}

function checkSpec(spec: ServiceSpec): void {
  for (const [name, value] of [
    ['node path', spec.nodePath],
    ['CLI path', spec.cliPath],
    ['config path', spec.configPath],
    ['store folder', spec.storeDir],
  ] as const) {
    if (!isAbsolute(value)) throw new CustodyError(ErrorCodes.USAGE, `the ${name} in a service definition must be absolute: ${value}`);
    // systemd splits ExecStart on whitespace and treats % and \ specially; keep paths plain.
    if (/[\s"'\\%$;]/.test(value)) throw new CustodyError(ErrorCodes.USAGE, `the ${name} may not contain spaces, quotes, '%', '$', ';' or '\\': ${value}`);
  }
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(spec.user)) throw new CustodyError(ErrorCodes.USAGE, `service user name ${JSON.stringify(spec.user)} is not a valid system user name`);
  if (runsAsRoot(spec) && !spec.allowRoot) {
    throw new CustodyError(
      ErrorCodes.USAGE,
      `the service user ${spec.user} is a superuser (uid 0); the agent needs only to read logs (the default user \`${DEFAULT_SERVICE_USER}\` reads them through the adm and systemd-journal groups). Pass --allow-root to run it as ${spec.user} anyway`,
    );
  }
  if (spec.readmePath !== undefined && (!isAbsolute(spec.readmePath) || /[\s"'\\%$;]/.test(spec.readmePath))) {
    throw new CustodyError(ErrorCodes.USAGE, `the README path in a service definition must be absolute and plain: ${spec.readmePath}`);
  }
  if (!/^\d+[KMGT]?$/.test(spec.memoryMax)) throw new CustodyError(ErrorCodes.USAGE, `memory limit ${JSON.stringify(spec.memoryMax)} must look like 256M`);
}

/** Whether the service user is root by name or has uid 0 on this host. */
export function runsAsRoot(spec: Pick<ServiceSpec, 'user' | 'superusers'>): boolean {
  return spec.user === 'root' || spec.superusers.includes(spec.user);
}

/** The names with uid 0 in an /etc/passwd text (`toor` and the like are root too). */
export function superusersOf(passwd: string): string[] {
  return passwd
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 3 && fields[2] === '0' && fields[0] !== '')
    .map((fields) => fields[0] as string);
}

/** The uid-0 names of this host's /etc/passwd (none when it cannot be read: `root` is refused by name anyway). */
export function superusersOnThisHost(passwdPath = '/etc/passwd'): string[] {
  try {
    return superusersOf(readFileSync(passwdPath, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * custody's README beside the CLI (`<package>/dist/src/cli.js` → `<package>/README.md`; npm ships
 * a package's README whatever its `files` say), when it is there as a regular file.
 */
export function readmeBeside(cliPath: string): string | undefined {
  const readme = join(dirname(cliPath), '..', '..', 'README.md');
  try {
    return statSync(readme).isFile() ? readme : undefined;
  } catch {
    return undefined;
  }
}

/** Where the generated files point a reader: the README when there is one, else the CLI's own help. */
function docsNote(spec: ServiceSpec): string {
  return spec.readmePath !== undefined ? `See ${spec.readmePath}, "Running the agent".` : 'See `custody agent install --help`.';
}

/** A StateDirectory= name when the store is under /var/lib (systemd then creates and owns it). */
function stateDirectoryOf(storeDir: string): string | undefined {
  const m = /^\/var\/lib\/([^/].*?)\/?$/.exec(storeDir);
  return m?.[1];
}

/** The systemd unit text: least privilege, read-only system, writes only to the store. */
export function systemdUnit(spec: ServiceSpec): string {
  checkSpec(spec);
  const stateDir = stateDirectoryOf(spec.storeDir);
  return `# custody-agent.service — generated by \`custody agent install --systemd\`.
# Preserves log evidence in ${spec.storeDir}. ${docsNote(spec)}
[Unit]
Description=custody log-evidence agent
${spec.readmePath !== undefined ? `Documentation=file://${spec.readmePath}\n` : ''}After=local-fs.target network-online.target
Wants=network-online.target
StartLimitIntervalSec=10min
StartLimitBurst=10

[Service]
Type=exec
ExecStart=${spec.nodePath} ${SERVICE_NODE_FLAGS.join(' ')} ${spec.cliPath} agent run --config ${spec.configPath}
# SIGTERM makes the agent commit, record its stop and sign a final checkpoint, then exit 0.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=60s
Restart=on-failure
RestartSec=5s
SyslogIdentifier=custody-agent
Environment=NODE_ENV=production
${Object.entries(SERVICE_ENVIRONMENT).map(([name, value]) => `Environment=${name}=${value}\n`).join('')}# The evidence vault's keys (the configuration's \`vault:\` block), read as the AWS SDK reads them:
# AWS_ACCESS_KEY_ID=… and AWS_SECRET_ACCESS_KEY=… lines in a file only root can read. Optional.
EnvironmentFile=-/etc/custody/vault.env

# Its own user; reads logs through the adm group (Debian/Ubuntu /var/log) and systemd-journal.
# Where logs are not group-readable, replace SupplementaryGroups with:
#   AmbientCapabilities=CAP_DAC_READ_SEARCH
#   CapabilityBoundingSet=CAP_DAC_READ_SEARCH
User=${spec.user}
Group=${spec.user}
SupplementaryGroups=adm systemd-journal
UMask=0027

# The file system is read-only except the store.
ProtectSystem=strict
${stateDir !== undefined ? `StateDirectory=${stateDir}\nStateDirectoryMode=0750\n` : ''}ReadWritePaths=${spec.storeDir}
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes

# No privileges, nothing to gain.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictNamespaces=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RemoveIPC=yes
# Network only for an RFC 3161 time-stamping authority and the evidence vault (and local sockets).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# Not MemoryDenyWriteExecute: Node's JIT needs writable executable memory.

# A small, quiet service.
MemoryMax=${spec.memoryMax}
TasksMax=64
LimitNOFILE=65536
Nice=5

[Install]
WantedBy=multi-user.target
`;
}

/** systemd-sysusers(8) entry that creates the service user and puts it in the log-reading groups. */
export function sysusersConf(spec: ServiceSpec): string {
  checkSpec(spec);
  return `# Generated by \`custody agent install --systemd\`: the custody agent's own system user.
u ${spec.user} - "custody log-evidence agent" ${spec.storeDir}
m ${spec.user} adm
m ${spec.user} systemd-journal
`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The launchd daemon plist (macOS). */
export function launchdPlist(spec: ServiceSpec): string {
  checkSpec(spec);
  const args = [spec.nodePath, ...SERVICE_NODE_FLAGS, spec.cliPath, 'agent', 'run', '--config', spec.configPath];
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Generated by \`custody agent install --launchd\`. ${xml(docsNote(spec)).replace(/--/g, '- -')} -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args.map((a) => `    <string>${xml(a)}</string>`).join('\n')}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>10</integer>
  <key>ExitTimeOut</key>
  <integer>60</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>Umask</key>
  <integer>23</integer>
  <key>WorkingDirectory</key>
  <string>${xml(spec.storeDir)}</string>
  <key>StandardErrorPath</key>
  <string>/var/log/custody-agent.log</string>
  <key>EnvironmentVariables</key>
  <dict>
    <key>NODE_ENV</key>
    <string>production</string>
  </dict>
</dict>
</plist>
`;
}

export interface InstallResult {
  /** Files written, absolute (under `root`). */
  written: string[];
  /** What the admin runs next. */
  nextSteps: string[];
}

/**
 * Writes the service definition and creates the configuration folder. `root` prefixes every path
 * (default `/`), so tests can install into a temporary folder.
 */
export function installService(kind: 'systemd' | 'launchd', spec: ServiceSpec, options: { root?: string } = {}): InstallResult {
  const root = options.root ?? '/';
  const at = (p: string): string => join(root, p);
  const written: string[] = [];
  const write = (path: string, text: string, mode: number): void => {
    const target = at(path);
    try {
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      writeFileSync(target, text, { mode });
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot write ${target}: ${messageOf(err)}`, { where: target, cause: err });
    }
    written.push(target);
  };
  const configDir = at(dirname(spec.configPath));
  try {
    mkdirSync(configDir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot create the configuration folder: ${messageOf(err)}`, { where: configDir, cause: err });
  }
  const configMissing = !existsSync(at(spec.configPath));
  const nextSteps: string[] = [];
  const configDocs = spec.readmePath !== undefined ? `see ${spec.readmePath}, "Configuration"` : 'see `custody agent check-config --help`';
  if (configMissing) nextSteps.push(`write the agent configuration to ${spec.configPath} (${configDocs}), then: custody agent check-config ${spec.configPath}`);
  if (kind === 'systemd') {
    write(SYSTEMD_UNIT_PATH, systemdUnit(spec), 0o644);
    // root exists already: no sysusers entry (it would add root to the log groups for nothing).
    if (!runsAsRoot(spec)) write(SYSUSERS_PATH, sysusersConf(spec), 0o644);
    nextSteps.push(...(runsAsRoot(spec) ? [] : ['systemd-sysusers']), 'systemctl daemon-reload', 'systemctl enable --now custody-agent', 'journalctl -u custody-agent -f   # the enrollment fingerprint is logged on first start');
  } else {
    write(LAUNCHD_PLIST_PATH, launchdPlist(spec), 0o644);
    nextSteps.push(`launchctl bootstrap system ${LAUNCHD_PLIST_PATH}`, `launchctl print system/${LAUNCHD_LABEL}`);
  }
  return { written, nextSteps };
}
