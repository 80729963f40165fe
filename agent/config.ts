/**
 * The agent's configuration: one zod schema for the YAML/JSON file and for the quick-start flags,
 * its defaults, and the hash of the effective configuration that `agent.start` records.
 *
 * Durations are milliseconds or strings with a unit (`250ms`, `10s`, `5m`, `24h`, `7d`); sizes are
 * bytes or strings with a unit (`512MiB`, `2GB`). Relative paths in a file are relative to the
 * file's folder. Every problem is reported at once, one `path: message` line each.
 *
 * The file is input we do not trust blindly (a path on the command line may name anything): only
 * a regular file of at most MAX_CONFIG_BYTES (1 MiB; a complete configuration is about 1 KB) is
 * read, so `/dev/zero` is refused instead of exhausting memory and a FIFO is refused instead of
 * blocking forever. YAML aliases may not expand the document beyond MAX_CONFIG_VALUES values, and
 * an alias that names no earlier anchor or its own ancestor is refused with its line: an alias bomb
 * is a configuration error (E_CONFIG_INVALID), not an out-of-memory crash.
 */
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import fg from 'fast-glob';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isPair, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { canonicalBytes } from '../src/records/canonical.js';
import { DEFAULT_POLICY } from '../src/store/evidence-store.js';
import { parseVaultUrl } from '../src/vault/url.js';
import { DEFAULT_INGEST_OPTIONS } from './ingest.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** A positive duration in milliseconds: a number (ms) or a string such as `30s`. */
function duration(min = 1): z.ZodType<number, number | string> {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      let ms: number;
      if (typeof value === 'number') {
        ms = value;
      } else {
        const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
        if (!m) {
          ctx.addIssue({ code: 'custom', message: `must be a duration: milliseconds or a number with ms, s, m, h or d (got ${JSON.stringify(value)})` });
          return z.NEVER;
        }
        ms = Number(m[1]) * (DURATION_UNITS[m[2] as string] ?? 1);
      }
      if (!Number.isSafeInteger(ms) || ms < min) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number of milliseconds, at least ${min} ms (got ${JSON.stringify(value)})` });
        return z.NEVER;
      }
      return ms;
    });
}

/** A positive size in bytes: a number or a string such as `512MiB`. */
function byteSize(min = 1): z.ZodType<number, number | string> {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      let bytes: number;
      if (typeof value === 'number') {
        bytes = value;
      } else {
        const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
        const factor = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
        if (!m || factor === undefined) {
          ctx.addIssue({ code: 'custom', message: `must be a size: bytes or a number with B, KB, MB, GB, KiB, MiB, GiB (got ${JSON.stringify(value)})` });
          return z.NEVER;
        }
        bytes = Math.floor(Number(m[1]) * factor);
      }
      if (!Number.isSafeInteger(bytes) || bytes < min) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number of bytes, at least ${min} (got ${JSON.stringify(value)})` });
        return z.NEVER;
      }
      return bytes;
    });
}

const count = (min: number, max: number) => z.number().int(`must be a whole number`).min(min).max(max);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Defaults, in one place: the schema applies them and the docs quote them. */
export const CONFIG_DEFAULTS = {
  logLevel: 'info' as LogLevel,
  // File ingest and store policy defaults are the engine's and the store's own.
  startAt: DEFAULT_INGEST_OPTIONS.startAt,
  partialLineFlushMs: DEFAULT_INGEST_OPTIONS.partialLineFlushMs,
  maxLineBytes: DEFAULT_INGEST_OPTIONS.maxLineBytes,
  maxPendingRecords: DEFAULT_INGEST_OPTIONS.maxPendingRecords,
  retryInitialMs: DEFAULT_INGEST_OPTIONS.retry.initialMs,
  retryMaxMs: DEFAULT_INGEST_OPTIONS.retry.maxMs,
  batchRecords: DEFAULT_POLICY.batchRecords,
  batchMs: DEFAULT_POLICY.batchMs,
  checkpointRecords: DEFAULT_POLICY.checkpointRecords,
  checkpointMs: DEFAULT_POLICY.checkpointMs,
  keyEpochMs: DEFAULT_POLICY.epochMs,
  heartbeatMs: 60_000,
  clockAnomalyThresholdMs: 2_000,
  tsaIntervalMs: 15 * 60_000,
  tsaTimeoutMs: 30_000,
  vaultIntervalMs: 10_000,
  vaultRetryMaxMs: 5 * 60_000,
  vaultRequestTimeoutMs: 60_000,
  vaultRecordsPerRound: 20_000,
} as const;

const fileSourceSchema = z.strictObject({
  watch: z.array(z.string().min(1, 'must not be empty')).min(1, 'give at least one file or glob to watch'),
  startAt: z.enum(['beginning', 'end']).default(CONFIG_DEFAULTS.startAt),
  partialLineFlush: duration().default(CONFIG_DEFAULTS.partialLineFlushMs),
  maxLineBytes: byteSize(64).default(CONFIG_DEFAULTS.maxLineBytes),
  maxPendingRecords: count(1, 10_000_000).default(CONFIG_DEFAULTS.maxPendingRecords),
  retry: z
    .strictObject({
      initial: duration().default(CONFIG_DEFAULTS.retryInitialMs),
      max: duration().default(CONFIG_DEFAULTS.retryMaxMs),
    })
    .refine((r) => r.initial <= r.max, { message: 'initial must not exceed max', path: ['initial'] })
    .default({ initial: CONFIG_DEFAULTS.retryInitialMs, max: CONFIG_DEFAULTS.retryMaxMs }),
});

/** Live sources beside the files (issue 4): each block is optional; an absent block keeps that source off. */
export const SOURCE_DEFAULTS = {
  journaldStartAt: 'beginning' as 'beginning' | 'end',
  usbSysfsRoot: '/sys',
  usbSnapshotIntervalMs: 15 * 60_000,
  usbUdev: true,
  watchMaxHashBytes: 1024 * 1024 * 1024,
} as const;

const journaldSourceSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Read the journal files of this folder (`journalctl --directory`) instead of the system journal. */
    directory: z.string().min(1, 'must not be empty').optional(),
    /** Read one journal file (`journalctl --file`); it is re-read for new entries every few seconds. */
    file: z.string().min(1, 'must not be empty').optional(),
    /** Where to start the very first time (no cursor in the evidence yet): the oldest entry, or new entries only. */
    startAt: z.enum(['beginning', 'end']).default(SOURCE_DEFAULTS.journaldStartAt),
  })
  .refine((j) => j.directory === undefined || j.file === undefined, { message: 'give directory or file, not both', path: ['file'] });

const usbSourceSchema = z.strictObject({
  /** Where sysfs is mounted (a copy of its layout in tests). */
  sysfsRoot: z.string().min(1, 'must not be empty').default(SOURCE_DEFAULTS.usbSysfsRoot),
  /** A `usb.present` snapshot of the attached devices this often (and at every start). */
  snapshotInterval: duration(1000).default(SOURCE_DEFAULTS.usbSnapshotIntervalMs),
  /** Follow `udevadm monitor --udev --property` for connects and disconnects when udevadm exists. */
  udev: z.boolean().default(SOURCE_DEFAULTS.usbUdev),
});

const watchFoldersSchema = z.strictObject({
  /** Folders whose files are watched (recursively) for create / modify / delete / rename. */
  paths: z.array(z.string().min(1, 'must not be empty')).default([]),
  /** Files larger than this are recorded with size and mtime but not hashed. */
  maxHashBytes: byteSize(1).default(SOURCE_DEFAULTS.watchMaxHashBytes),
});

/**
 * Where the agent ships its evidence (issue 12). Only names and timings: credentials come the way
 * the AWS SDK finds them (environment, shared credentials file, roles), never from this file, so
 * the configuration (logged, hashed into agent.start, printed by check-config) holds no secret.
 */
const vaultSchema = z.strictObject({
  /** `s3://BUCKET[/PREFIX]`. */
  url: z.string().superRefine((value, ctx) => {
    try {
      parseVaultUrl(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: messageOf(err) });
    }
  }),
  /** The S3 endpoint (Ceph RGW, MinIO…); overrides AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. Path-style addressing. */
  endpoint: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), { message: 'may not carry credentials: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials file' })
    .optional(),
  /** Overrides AWS_REGION. */
  region: z.string().regex(/^[a-z0-9-]+$/, 'must be an S3 region name such as eu-central-1').optional(),
  /** How often a shipping round starts when the last one succeeded (a new checkpoint starts one at once). */
  interval: duration(100).default(CONFIG_DEFAULTS.vaultIntervalMs),
  /** The longest pause between rounds after failures (the pause doubles from `interval` up to this). */
  retryMax: duration(100).default(CONFIG_DEFAULTS.vaultRetryMaxMs),
  /** The longest one S3 request may take before it is abandoned (and retried in a later round). */
  requestTimeout: duration(1000).default(CONFIG_DEFAULTS.vaultRequestTimeoutMs),
  /** At most this many records per round, so a large backlog is shipped in steps the agent hardly notices. */
  recordsPerRound: count(1, 10_000_000).default(CONFIG_DEFAULTS.vaultRecordsPerRound),
}).refine((v) => v.interval <= v.retryMax, { message: 'must not be shorter than interval', path: ['retryMax'] });

export const agentConfigSchema = z.strictObject({
  /** The store folder (created with its keys on first run). */
  store: z
    .string({ error: (iss) => (iss.input === undefined ? 'required: the evidence store folder' : 'must be a folder path (text)') })
    .min(1, 'must not be empty'),
  /** Host name recorded in every record; only used when the store is created. */
  host: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, "may hold only letters, digits, '.', '_' and '-'")
    .optional(),
  logLevel: z.enum(LOG_LEVELS).default(CONFIG_DEFAULTS.logLevel),
  sources: z.strictObject({
    files: fileSourceSchema,
    journald: journaldSourceSchema.optional(),
    usb: usbSourceSchema.optional(),
    watchFolders: watchFoldersSchema.optional(),
  }, { error: (iss) => (iss.input === undefined ? 'required: the sources to watch (sources.files.watch)' : undefined) }),
  batching: z
    .strictObject({
      records: count(1, 100_000).default(CONFIG_DEFAULTS.batchRecords),
      interval: duration().default(CONFIG_DEFAULTS.batchMs),
    })
    .default({ records: CONFIG_DEFAULTS.batchRecords, interval: CONFIG_DEFAULTS.batchMs }),
  checkpoint: z
    .strictObject({
      records: count(1, 10_000_000).default(CONFIG_DEFAULTS.checkpointRecords),
      interval: duration(100).default(CONFIG_DEFAULTS.checkpointMs),
    })
    .default({ records: CONFIG_DEFAULTS.checkpointRecords, interval: CONFIG_DEFAULTS.checkpointMs }),
  keyEpoch: duration(1000).default(CONFIG_DEFAULTS.keyEpochMs),
  heartbeatInterval: duration(1000).default(CONFIG_DEFAULTS.heartbeatMs),
  clockAnomalyThreshold: duration(1).default(CONFIG_DEFAULTS.clockAnomalyThresholdMs),
  tsa: z
    .strictObject({
      url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
      caFile: z.string().min(1).optional(),
      interval: duration(1000).default(CONFIG_DEFAULTS.tsaIntervalMs),
      timeout: duration(100).default(CONFIG_DEFAULTS.tsaTimeoutMs),
    })
    .optional(),
  maxDatabaseBytes: byteSize(64 * 1024).optional(),
  /** Derive typed evidence (usb.*, file.access, auth.logon) from the preserved lines as they are committed; absent = true. */
  derive: z.boolean().optional(),
  /** Ship checkpoints, records, keys and blobs to an S3 Object Lock vault; absent = the store stays on the host only. */
  vault: vaultSchema.optional(),
});

/** The file as written (before defaults). */
export type AgentConfigInput = z.input<typeof agentConfigSchema>;
/** The effective configuration: every default applied, durations in ms, sizes in bytes, absolute paths. */
export type AgentConfig = z.output<typeof agentConfigSchema>;

function invalid(problems: string[], where: string | undefined): CustodyError {
  const head = where === undefined ? 'the agent configuration is invalid' : `the agent configuration ${where} is invalid`;
  // The file is named in the first line; no `where`, so the CLI's suffix does not trail the last problem.
  return new CustodyError(ErrorCodes.CONFIG_INVALID, `${head}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

function resolvePaths(config: AgentConfig, baseDir: string): AgentConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...config,
    store: abs(config.store),
    sources: {
      ...config.sources,
      files: { ...config.sources.files, watch: config.sources.files.watch.map(abs) },
      ...(config.sources.journald
        ? {
            journald: {
              ...config.sources.journald,
              ...(config.sources.journald.directory !== undefined ? { directory: abs(config.sources.journald.directory) } : {}),
              ...(config.sources.journald.file !== undefined ? { file: abs(config.sources.journald.file) } : {}),
            },
          }
        : {}),
      ...(config.sources.usb ? { usb: { ...config.sources.usb, sysfsRoot: abs(config.sources.usb.sysfsRoot) } } : {}),
      ...(config.sources.watchFolders ? { watchFolders: { ...config.sources.watchFolders, paths: config.sources.watchFolders.paths.map(abs) } } : {}),
    },
    ...(config.tsa ? { tsa: { ...config.tsa, ...(config.tsa.caFile !== undefined ? { caFile: abs(config.tsa.caFile) } : {}) } } : {}),
  };
}

function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(root)';
}

/**
 * Validates a parsed configuration value. `baseDir` resolves relative paths; `lineOf` (from a
 * parsed file) adds the line a problem is on.
 */
export function parseConfig(value: unknown, options: { baseDir?: string; where?: string; lineOf?: (path: readonly PropertyKey[]) => number | undefined } = {}): AgentConfig {
  const result = agentConfigSchema.safeParse(value ?? {});
  if (!result.success) {
    const at = (path: readonly PropertyKey[]): string => {
      const line = options.lineOf?.(path);
      return line === undefined ? '' : ` (line ${line})`;
    };
    const problems = result.error.issues.flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') {
        // One line per unknown key, at the key itself: usually a typo of a known setting.
        return issue.keys.map((key) => `${issuePath([...issue.path, key])}: unknown setting${at([...issue.path, key])}`);
      }
      return [`${issuePath(issue.path)}: ${issue.message}${at(issue.path)}`];
    });
    throw invalid(problems, options.where);
  }
  return resolvePaths(result.data, options.baseDir ?? process.cwd());
}

/** The largest configuration file read: far above any real one (about 1 KB), far below harm. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * The most values (scalars, mappings, sequences, pairs) a configuration may expand to once its
 * aliases are resolved; also the `maxAliasCount` given to the yaml package as a second guard. A
 * real configuration holds a few hundred.
 */
export const MAX_CONFIG_VALUES = 10_000;

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The file's text, when it is a regular file of at most MAX_CONFIG_BYTES. Opened non-blocking so
 * that a FIFO cannot hang the open; its type and size are taken from the open descriptor (what is
 * read), and reading stops one byte past the limit so a file that grows meanwhile is still refused.
 */
function readConfigFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read the agent configuration: ${messageOf(err)}`, { where: path, cause: err });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new CustodyError(ErrorCodes.CONFIG_INVALID, `the agent configuration is ${fileKind(stats)}: only a regular file is read`, { where: path });
    }
    const tooLarge = (): CustodyError =>
      new CustodyError(ErrorCodes.CONFIG_INVALID, `the agent configuration is larger than ${MAX_CONFIG_BYTES} bytes (1 MiB): refused`, { where: path });
    if (stats.size > MAX_CONFIG_BYTES) throw tooLarge();
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_BYTES) throw tooLarge();
    }
    return buffer.toString('utf8', 0, length);
  } catch (err) {
    if (err instanceof CustodyError) throw err;
    throw new CustodyError(ErrorCodes.IO, `cannot read the agent configuration: ${messageOf(err)}`, { where: path, cause: err });
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates a YAML or JSON configuration file (a regular file of at most MAX_CONFIG_BYTES). */
export function loadConfig(path: string): AgentConfig {
  const text = readConfigFile(path);
  return parseConfigText(text, { where: path, baseDir: dirname(resolve(path)) });
}

/**
 * Problems with the document's aliases, each with its line: an alias with no anchor before it, an
 * alias inside the node it names (a cycle), and the alias at which the resolved document first
 * exceeds MAX_CONFIG_VALUES values. Counted on the syntax tree, before anything is expanded: each
 * anchor's expanded size is computed once, so a billion-laughs document costs its own size here.
 */
export function aliasProblems(doc: Document, lineCounter: LineCounter): string[] {
  const lineOf = (node: { range?: [number, number, number] | null }): string => (node.range ? `line ${lineCounter.linePos(node.range[0]).line}` : '(alias)');
  // Anchors and aliases in document order: an alias names the last anchor of that name before it (YAML 1.2, 3.2.2.2).
  const order: YamlNode[] = [];
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node) || (node as { anchor?: string }).anchor !== undefined) order.push(node);
    },
  });
  const targetOf = new Map<YamlNode, YamlNode | undefined>();
  const lastAnchor = new Map<string, YamlNode>();
  for (const node of order) {
    if (isAlias(node)) targetOf.set(node, lastAnchor.get(node.source));
    else lastAnchor.set((node as { anchor: string }).anchor, node);
  }

  const problems: string[] = [];
  const sizeOf = new Map<unknown, number>();
  const inProgress = new Set<unknown>();
  let total = 0;
  let failed = false;
  // The expanded size of a node; `counting` adds the document's own nodes to the running total.
  const size = (node: unknown, counting: boolean): number => {
    if (failed) return 0;
    if (isAlias(node)) {
      const target = targetOf.get(node);
      if (target === undefined) {
        problems.push(`${lineOf(node)}: alias *${node.source} names no anchor before it`);
        failed = true;
        return 0;
      }
      if (inProgress.has(target)) {
        problems.push(`${lineOf(node)}: alias *${node.source} is inside the node it names (a cycle)`);
        failed = true;
        return 0;
      }
      const n = size(target, false);
      if (counting) {
        total += n;
        if (total > MAX_CONFIG_VALUES) {
          problems.push(`${lineOf(node)}: alias *${node.source} expands the configuration beyond ${MAX_CONFIG_VALUES} values (an alias bomb?)`);
          failed = true;
        }
      }
      return n;
    }
    const known = sizeOf.get(node);
    if (known !== undefined && !counting) return known;
    inProgress.add(node);
    let n = 1;
    if (isMap(node) || isSeq(node)) for (const item of node.items) n += size(item, counting);
    else if (isPair(node)) n = size(node.key, counting) + size(node.value, counting);
    inProgress.delete(node);
    if (counting && !isPair(node)) total += 1;
    sizeOf.set(node, n);
    return n;
  };
  size(doc.contents, true);
  return problems;
}

/** Parses YAML (JSON is YAML) with line and column for syntax errors, then validates. */
export function parseConfigText(text: string, options: { where?: string; baseDir?: string } = {}): AgentConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const firstLine = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
      return `${pos ? `line ${pos.line}, column ${pos.col}` : '(syntax)'}: ${firstLine}`;
    });
    throw invalid(problems, options.where);
  }
  const aliases = aliasProblems(doc, lineCounter);
  if (aliases.length > 0) throw invalid(aliases, options.where);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_CONFIG_VALUES }) as unknown;
  } catch (err) {
    // The yaml package's own alias guard, behind ours: still a configuration error, never a crash.
    if (err instanceof ReferenceError || err instanceof RangeError) throw invalid([`(aliases): ${err.message}`], options.where);
    throw err;
  }
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    throw invalid(['(root): must be a mapping of settings (key: value)'], options.where);
  }
  return parseConfig(value, {
    ...(options.baseDir !== undefined ? { baseDir: options.baseDir } : {}),
    ...(options.where !== undefined ? { where: options.where } : {}),
    lineOf: (path) => lineOfPath(doc, lineCounter, path),
  });
}

function lineOfPath(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  // The deepest node that exists on the path: a missing key is reported where its parent is.
  for (let n = path.length; n >= 0; n--) {
    const keys = path.slice(0, n).map((p) => (typeof p === 'symbol' ? String(p) : p));
    const node = (n === 0 ? doc.contents : doc.getIn(keys, true)) as { range?: [number, number, number] } | null | undefined;
    if (node && typeof node === 'object' && Array.isArray(node.range)) {
      if (n === 0 && path.length > 0) return undefined;
      return lineCounter.linePos(node.range[0]).line;
    }
  }
  return undefined;
}

/** The quick-start configuration from `--store` and `--watch` flags, validated like a file. */
export function configFromFlags(flags: { store: string; watch: string[]; logLevel?: string }): AgentConfig {
  return parseConfig(
    { store: flags.store, sources: { files: { watch: flags.watch } }, ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}) },
    { where: '(command line)' },
  );
}

/** SHA-256 (hex) of the RFC 8785 canonical JSON of the effective configuration. */
export function configHash(config: AgentConfig): string {
  const plain = JSON.parse(JSON.stringify(config)) as unknown;
  return createHash('sha256').update(canonicalBytes(plain)).digest('hex');
}

/** The configuration with secrets removed, for logs and `check-config` (a TSA URL may carry a password). */
export function redactConfig(config: AgentConfig): AgentConfig {
  if (!config.tsa) return config;
  let url = config.tsa.url;
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = '***';
      url = u.href;
    }
  } catch {
    // the schema accepted it; keep it as it is
  }
  return { ...config, tsa: { ...config.tsa, url } };
}

/**
 * Things that are valid but probably not what was meant, for `check-config` (the agent starts
 * anyway: a log that appears later is picked up then).
 */
export function configWarnings(config: AgentConfig): string[] {
  const warnings: string[] = [];
  config.sources.files.watch.forEach((pattern, i) => {
    const matches = fg.isDynamicPattern(pattern) ? fg.sync(pattern, { onlyFiles: true, suppressErrors: true, dot: true }).length : existsSync(pattern) ? 1 : 0;
    if (matches === 0) warnings.push(`sources.files.watch[${i}]: ${pattern} matches no file now`);
  });
  if (config.tsa?.caFile !== undefined) {
    try {
      accessSync(config.tsa.caFile, constants.R_OK);
    } catch {
      warnings.push(`tsa.caFile: ${config.tsa.caFile} cannot be read here (the agent will refuse to start without it)`);
    }
  }
  return warnings;
}

/**
 * Whether any live source (journald, USB, watched folders) is configured. Here rather than beside
 * the sources, so that an agent without them never loads their code (agent/sources/, chokidar).
 */
export function hasLiveSources(config: AgentConfig): boolean {
  const s = config.sources;
  return (s.journald !== undefined && s.journald.enabled) || s.usb !== undefined || (s.watchFolders !== undefined && s.watchFolders.paths.length > 0);
}
