import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, configFromFlags, configHash, configWarnings, loadConfig, MAX_CONFIG_BYTES, MAX_CONFIG_VALUES, parseConfigText, redactConfig } from '../../agent/config.js';
import { CustodyError, ErrorCodes } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'custody-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The `path: message` lines of a CONFIG_INVALID error. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CustodyError);
    expect((err as CustodyError).code).toBe(ErrorCodes.CONFIG_INVALID);
    return (err as CustodyError).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected the configuration to be refused');
}

const FULL_YAML = `# a complete configuration
store: /var/lib/custody
host: web-01
logLevel: debug
sources:
  files:
    watch:
      - /var/log/syslog
      - /var/log/auth.log*
    startAt: end
    partialLineFlush: 5s
    maxLineBytes: 128KiB
    maxPendingRecords: 5000
    retry: { initial: 500ms, max: 2m }
batching: { records: 100, interval: 200 }
checkpoint: { records: 500, interval: 30s }
keyEpoch: 12h
heartbeatInterval: 5m
clockAnomalyThreshold: 1500ms
tsa:
  url: https://tsa.example.net/tsr
  caFile: tsa-root.pem
  interval: 1h
  timeout: 10s
maxDatabaseBytes: 2GiB
`;

describe('agent configuration', () => {
  it('reads a complete YAML file, with units, and resolves relative paths against its folder', () => {
    const config = loadConfig(file('full.yaml', FULL_YAML));
    expect(config).toEqual({
      store: '/var/lib/custody',
      host: 'web-01',
      logLevel: 'debug',
      sources: {
        files: {
          watch: ['/var/log/syslog', '/var/log/auth.log*'],
          startAt: 'end',
          partialLineFlush: 5000,
          maxLineBytes: 128 * 1024,
          maxPendingRecords: 5000,
          retry: { initial: 500, max: 120_000 },
        },
      },
      batching: { records: 100, interval: 200 },
      checkpoint: { records: 500, interval: 30_000 },
      keyEpoch: 12 * 3_600_000,
      heartbeatInterval: 300_000,
      clockAnomalyThreshold: 1500,
      tsa: { url: 'https://tsa.example.net/tsr', caFile: join(dir, 'tsa-root.pem'), interval: 3_600_000, timeout: 10_000 },
      maxDatabaseBytes: 2 * 2 ** 30,
    });
  });

  it('reads JSON, applies every default, and hashes the effective configuration stably', () => {
    const path = file('min.json', JSON.stringify({ store: 'store', sources: { files: { watch: ['logs/*.log'] } } }));
    const config = loadConfig(path);
    expect(config.store).toBe(join(dir, 'store'));
    expect(config.sources.files.watch).toEqual([join(dir, 'logs/*.log')]);
    expect(config.sources.files.startAt).toBe(CONFIG_DEFAULTS.startAt);
    expect(config.batching).toEqual({ records: CONFIG_DEFAULTS.batchRecords, interval: CONFIG_DEFAULTS.batchMs });
    expect(config.checkpoint).toEqual({ records: CONFIG_DEFAULTS.checkpointRecords, interval: CONFIG_DEFAULTS.checkpointMs });
    expect(config.keyEpoch).toBe(CONFIG_DEFAULTS.keyEpochMs);
    expect(config.heartbeatInterval).toBe(CONFIG_DEFAULTS.heartbeatMs);
    expect(config.tsa).toBeUndefined();
    expect(config.maxDatabaseBytes).toBeUndefined();

    // The same effective configuration written differently hashes the same; a change changes it.
    const yaml = loadConfig(file('min.yaml', `sources: { files: { watch: [logs/*.log], startAt: ${CONFIG_DEFAULTS.startAt} } }\nstore: store\nbatching: { interval: 250ms }\n`));
    expect(configHash(yaml)).toBe(configHash(config));
    expect(configHash(config)).toMatch(/^[0-9a-f]{64}$/);
    expect(configHash({ ...config, keyEpoch: config.keyEpoch + 1 })).not.toBe(configHash(config));
  });

  it('builds the quick-start configuration from flags through the same schema', () => {
    const config = configFromFlags({ store: 'rel-store', watch: ['/var/log/syslog'] });
    expect(config.store).toBe(join(process.cwd(), 'rel-store'));
    expect(config.logLevel).toBe('info');
    expect(problemsOf(() => configFromFlags({ store: '', watch: [] }))).toEqual([
      'store: must not be empty',
      'sources.files.watch: give at least one file or glob to watch',
    ]);
  });

  it('reports every problem of an invalid file at once, as path: message with its line', () => {
    const problems = problemsOf(() =>
      loadConfig(
        file(
          'bad.yaml',
          `store: 5
host: "bad host"
logLevel: loud
sources:
  files:
    watch: []
    startAt: middle
    retry: { initial: 10s, max: 1s }
batching: { records: 0, interval: "3 fortnights" }
checkpointt: { records: 5 }
tsa: { url: "ftp://tsa.example.net" }
maxDatabaseBytes: 12XB
keyEpoch: -5
`,
        ),
      ),
    );
    expect(problems).toEqual([
      'store: must be a folder path (text) (line 1)',
      "host: may hold only letters, digits, '.', '_' and '-' (line 2)",
      expect.stringMatching(/^logLevel: .*"info".* \(line 3\)$/),
      'sources.files.watch: give at least one file or glob to watch (line 6)',
      expect.stringMatching(/^sources\.files\.startAt: .*"beginning"\|"end" \(line 7\)$/),
      'sources.files.retry.initial: initial must not exceed max (line 8)',
      expect.stringMatching(/^batching\.records: .*>=1 \(line 9\)$/),
      'batching.interval: must be a duration: milliseconds or a number with ms, s, m, h or d (got "3 fortnights") (line 9)',
      'keyEpoch: must be a whole number of milliseconds, at least 1000 ms (got -5) (line 13)',
      'tsa.url: must be an http:// or https:// URL (line 11)',
      'maxDatabaseBytes: must be a size: bytes or a number with B, KB, MB, GB, KiB, MiB, GiB (got "12XB") (line 12)',
      'checkpointt: unknown setting (line 10)',
    ]);
  });

  it('a vault block: defaults filled in, no secret in it, and each mistake named with its line', () => {
    const config = parseConfigText('store: /s\nsources: { files: { watch: [/l] } }\nvault: { url: s3://acme-evidence/fleet }\n');
    expect(config.vault).toEqual({
      url: 's3://acme-evidence/fleet',
      interval: CONFIG_DEFAULTS.vaultIntervalMs,
      retryMax: CONFIG_DEFAULTS.vaultRetryMaxMs,
      requestTimeout: CONFIG_DEFAULTS.vaultRequestTimeoutMs,
      recordsPerRound: CONFIG_DEFAULTS.vaultRecordsPerRound,
    });
    expect(parseConfigText('store: /s\nsources: { files: { watch: [/l] } }\n').vault).toBeUndefined();
    const full = parseConfigText('store: /s\nsources: { files: { watch: [/l] } }\nvault: { url: "s3://b-1", endpoint: "http://127.0.0.1:7480", region: eu-central-1, interval: 2s, retryMax: 1m, requestTimeout: 5s, recordsPerRound: 500 }\n');
    expect(full.vault).toEqual({ url: 's3://b-1', endpoint: 'http://127.0.0.1:7480', region: 'eu-central-1', interval: 2000, retryMax: 60_000, requestTimeout: 5000, recordsPerRound: 500 });
    expect(
      problemsOf(() =>
        parseConfigText(
          [
            'store: /s',
            'sources: { files: { watch: [/l] } }',
            'vault:',
            '  url: https://acme-evidence',
            '  endpoint: "http://key:secret@127.0.0.1:7480"',
            '  interval: 10m',
            '  retryMax: 1m',
            '  accessKey: AKIA',
            '',
          ].join('\n'),
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^vault\.url: a vault is named s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX, got "https:\/\/acme-evidence" \(line 4\)$/),
      'vault.endpoint: may not carry credentials: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials file (line 5)',
      'vault.accessKey: unknown setting (line 8)',
      'vault.retryMax: must not be shorter than interval (line 7)',
    ]);
  });

  it('names missing required settings', () => {
    expect(problemsOf(() => parseConfigText('logLevel: info\n'))).toEqual([
      'store: required: the evidence store folder',
      'sources: required: the sources to watch (sources.files.watch)',
    ]);
    expect(problemsOf(() => parseConfigText('store: /s\nsources: { files: {} }\n'))).toEqual([expect.stringMatching(/^sources\.files\.watch: .* \(line 2\)$/)]);
    expect(problemsOf(() => parseConfigText(''))).toHaveLength(2);
  });

  it('reports YAML and JSON syntax errors with line and column', () => {
    expect(problemsOf(() => loadConfig(file('syntax.yaml', 'store: x\nsources:\n  files:\n    watch: [a, b\n')))).toEqual([
      expect.stringMatching(/^line \d+, column \d+: .+/),
    ]);
    const json = problemsOf(() => loadConfig(file('syntax.json', '{\n  "store": "x",\n  "sources": {"files": {"watch": ["a"]}\n')));
    expect(json.length).toBeGreaterThan(0);
    for (const p of json) expect(p).toMatch(/^line \d+, column \d+: .+/);
    expect(problemsOf(() => parseConfigText('store: a\nstore: b\n'))).toEqual(['line 2, column 1: Map keys must be unique']);
    expect(problemsOf(() => parseConfigText('- just\n- a list\n'))).toEqual(['(root): must be a mapping of settings (key: value)']);
  });

  it('says which file could not be read', () => {
    try {
      loadConfig(join(dir, 'missing.yaml'));
      expect.unreachable();
    } catch (err) {
      expect((err as CustodyError).code).toBe(ErrorCodes.IO);
      expect((err as CustodyError).where).toBe(join(dir, 'missing.yaml'));
    }
  });

  it('warns about globs that match nothing and hides a TSA password', () => {
    const logs = join(dir, 'wlogs');
    file('present.log', 'x\n');
    const config = parseConfigText(`store: s\nsources: { files: { watch: [present.log, "nothing-*.log", ${logs}/none.log] } }\ntsa: { url: "https://user:secret@tsa.example.net/" }\n`, { baseDir: dir });
    expect(configWarnings(config)).toEqual([
      `sources.files.watch[1]: ${join(dir, 'nothing-*.log')} matches no file now`,
      `sources.files.watch[2]: ${logs}/none.log matches no file now`,
    ]);
    expect(JSON.stringify(redactConfig(config))).not.toContain('secret');
    expect(config.tsa?.url).toContain('secret');
  });
});

describe('agent configuration: live sources (journald, usb, watchFolders)', () => {
  it('keeps them off when absent, and fills their defaults when present', () => {
    const off = parseConfigText('store: /s\nsources:\n  files:\n    watch: [/var/log/syslog]\n');
    expect(off.sources.journald).toBeUndefined();
    expect(off.sources.usb).toBeUndefined();
    expect(off.sources.watchFolders).toBeUndefined();
    const on = parseConfigText(
      'store: /s\nsources:\n  files:\n    watch: [/var/log/syslog]\n  journald: {}\n  usb: {}\n  watchFolders:\n    paths: [data, /srv/customer-data]\n',
      { baseDir: '/etc/custody' },
    );
    expect(on.sources.journald).toEqual({ enabled: true, startAt: 'beginning' });
    expect(on.sources.usb).toEqual({ sysfsRoot: '/sys', snapshotInterval: 15 * 60_000, udev: true });
    expect(on.sources.watchFolders).toEqual({ paths: ['/etc/custody/data', '/srv/customer-data'], maxHashBytes: 2 ** 30 });
  });

  it('reads every setting, resolving relative paths against the file', () => {
    const config = parseConfigText(
      [
        'store: /s',
        'sources:',
        '  files: { watch: [/var/log/syslog] }',
        '  journald: { enabled: false, directory: journal, startAt: end }',
        '  usb: { sysfsRoot: fake-sys, snapshotInterval: 5m, udev: false }',
        '  watchFolders: { paths: [/srv/hr], maxHashBytes: 64MiB }',
      ].join('\n'),
      { baseDir: '/etc/custody' },
    );
    expect(config.sources.journald).toEqual({ enabled: false, directory: '/etc/custody/journal', startAt: 'end' });
    expect(config.sources.usb).toEqual({ sysfsRoot: '/etc/custody/fake-sys', snapshotInterval: 300_000, udev: false });
    expect(config.sources.watchFolders).toEqual({ paths: ['/srv/hr'], maxHashBytes: 64 * 2 ** 20 });
  });

  it('reports every problem of the new blocks as path: message with its line', () => {
    const problems = problemsOf(() =>
      parseConfigText(
        [
          'store: /s',
          'sources:',
          '  files: { watch: [/var/log/syslog] }',
          '  journald: { directory: /a, file: /b.journal, startAt: middle }',
          '  usb: { snapshotInterval: often, udev: maybe }',
          '  watchFolders: { paths: [""], maxHashBytes: lots, recursive: true }',
        ].join('\n'),
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^sources\.journald\.startAt: .*\(line 4\)$/),
        expect.stringMatching(/^sources\.usb\.snapshotInterval: must be a duration.*\(line 5\)$/),
        expect.stringMatching(/^sources\.usb\.udev: .*\(line 5\)$/),
        expect.stringMatching(/^sources\.watchFolders\.paths\[0\]: must not be empty/),
        expect.stringMatching(/^sources\.watchFolders\.maxHashBytes: must be a size/),
        'sources.watchFolders.recursive: unknown setting (line 6)',
      ]),
    );
    expect(problemsOf(() => parseConfigText('store: /s\nsources:\n  files: { watch: [/x] }\n  journald: { directory: /a, file: /b.journal }\n'))).toEqual([
      'sources.journald.file: give directory or file, not both (line 4)',
    ]);
  });
});

describe('agent configuration: hostile files (issue 11, item 9)', () => {
  /** The CustodyError a call throws (it must throw one). */
  function refusal(fn: () => unknown): CustodyError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(CustodyError);
      return err as CustodyError;
    }
    throw new Error('expected the configuration to be refused');
  }
  const VALID = 'store: ./store\nsources:\n  files:\n    watch: [/var/log/syslog]\n';

  it('refuses a character device (/dev/zero, /dev/null) instead of reading it until memory runs out', () => {
    for (const device of ['/dev/zero', '/dev/null']) {
      const err = refusal(() => loadConfig(device));
      expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
      expect(err.where).toBe(device);
      expect(err.message).toContain('a character device: only a regular file is read');
    }
  });

  it('refuses a FIFO at once, with no writer on the other end (the open does not block)', () => {
    const fifo = join(dir, 'agent.fifo');
    execFileSync('mkfifo', [fifo]);
    const err = refusal(() => loadConfig(fifo));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.where).toBe(fifo);
    expect(err.message).toContain('a FIFO (named pipe)');
  });

  it('refuses a folder', () => {
    const err = refusal(() => loadConfig(dir));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.message).toContain('is a folder');
  });

  it('reads a file of exactly MAX_CONFIG_BYTES and refuses one byte more', () => {
    const padded = (size: number): string => VALID + '#'.repeat(size - Buffer.byteLength(VALID) - 1) + '\n';
    const atLimit = file('at-limit.yaml', padded(MAX_CONFIG_BYTES));
    expect(loadConfig(atLimit).sources.files.watch).toEqual(['/var/log/syslog']);
    const over = file('over-limit.yaml', padded(MAX_CONFIG_BYTES + 1));
    const err = refusal(() => loadConfig(over));
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.where).toBe(over);
    expect(err.message).toContain(`larger than ${MAX_CONFIG_BYTES} bytes`);
  });

  it('reads through a symbolic link to a regular file', () => {
    const target = file('linked-target.yaml', VALID);
    const link = join(dir, 'linked.yaml');
    symlinkSync(target, link);
    expect(loadConfig(link).store).toBe(join(dir, 'store'));
  });

  it('refuses a billion-laughs alias bomb with the line of the alias that crosses the limit, before expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
      'g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]',
      'h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]',
      'i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]',
      '',
    ].join('\n');
    // c expands to 9 * (1 + 9 * 10) + 1 = 820 values, d to 7381: the running total passes 10,000 on line 5.
    expect(problemsOf(() => loadConfig(file('bomb.yaml', bomb)))).toEqual([`line 5: alias *d expands the configuration beyond ${MAX_CONFIG_VALUES} values (an alias bomb?)`]);
  });

  it('refuses an alias with no anchor before it, and an alias inside the node it names, with their lines', () => {
    expect(problemsOf(() => parseConfigText(`${VALID}host: *nowhere\n`))).toEqual(['line 5: alias *nowhere names no anchor before it']);
    expect(problemsOf(() => parseConfigText('store: x\nsources: &s\n  files:\n    watch: [*s]\n'))).toEqual(['line 4: alias *s is inside the node it names (a cycle)']);
  });

  it("turns the yaml package's own alias guard (maxAliasCount) into E_CONFIG_INVALID too", () => {
    // Few values, but yaml counts each use of b times the uses of a before it: 200 × 51 > 10,000.
    const lines = ['x: &a one', ...Array.from({ length: 50 }, (_, i) => `a${i}: *a`), 'y: &b [*a]', ...Array.from({ length: 200 }, (_, i) => `b${i}: *b`), ''];
    expect(problemsOf(() => parseConfigText(lines.join('\n')))).toEqual(['(aliases): Excessive alias count indicates a resource exhaustion attack']);
  });

  it('still accepts ordinary aliases (a shared retry block)', () => {
    const config = parseConfigText(`${VALID}    retry: &r { initial: 1s, max: 1m }\ncheckpoint: { records: 100, interval: 10s }\n`);
    expect(config.sources.files.retry).toEqual({ initial: 1000, max: 60_000 });
    const shared = parseConfigText('store: s\nsources:\n  files: &f\n    watch: &w [/var/log/a.log, /var/log/b.log]\n  watchFolders: { paths: *w }\n');
    expect(shared.sources.watchFolders?.paths).toEqual(['/var/log/a.log', '/var/log/b.log']);
  });
});
