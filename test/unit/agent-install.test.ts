import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultServiceSpec,
  installService,
  LAUNCHD_PLIST_PATH,
  launchdPlist,
  readmeBeside,
  superusersOf,
  SERVICE_NODE_FLAGS,
  superusersOnThisHost,
  SYSTEMD_UNIT_PATH,
  systemdUnit,
  SYSUSERS_PATH,
  type ServiceSpec,
} from '../../agent/install.js';
import { CustodyError, ErrorCodes } from '../../src/errors.js';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const dir = mkdtempSync(join(tmpdir(), 'custody-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ExecStart must name real files for `systemd-analyze verify`: this very test file stands in for the CLI.
// The README is the repository's own, found as the CLI finds it beside dist/src/cli.js.
const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..');
const README = readmeBeside(join(REPO, 'dist', 'src', 'cli.js'));
const spec: ServiceSpec = defaultServiceSpec({ nodePath: process.execPath, cliPath: fileURLToPath(import.meta.url), readmePath: README });

/** The unit's settings as key → values (a key may repeat). */
function settings(unit: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) map.set(m[1] as string, [...(map.get(m[1] as string) ?? []), m[2] as string]);
  }
  return map;
}

describe('systemd unit', () => {
  const unit = systemdUnit(spec);
  const s = settings(unit);
  const one = (key: string): string | undefined => s.get(key)?.at(-1);

  it("runs node with flags this node accepts (a typo would stop the service at every start)", () => {
    const r = spawnSync(process.execPath, [...SERVICE_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('runs the agent with its config as its own user, reading logs through adm', () => {
    expect(one('ExecStart')).toBe(`${process.execPath} --max-semi-space-size=1 --optimize-for-size --v8-pool-size=1 --expose-gc ${spec.cliPath} agent run --config /etc/custody/agent.yaml`);
    expect(one('User')).toBe('custody');
    expect(one('Group')).toBe('custody');
    expect(one('SupplementaryGroups')).toContain('adm');
    expect(one('Restart')).toBe('on-failure');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('WantedBy')).toBe('multi-user.target');
  });

  it('is hardened: read-only system, writes only to the store, no privileges', () => {
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ReadWritePaths')).toBe('/var/lib/custody');
    expect(one('StateDirectory')).toBe('custody');
    expect(one('NoNewPrivileges')).toBe('yes');
    // The vault's keys come from an optional root-only file, never from the configuration.
    expect(one('EnvironmentFile')).toBe('-/etc/custody/vault.env');
    // glibc returns freed blocks of 256 KiB and more to the system (agent/install.ts, SERVICE_ENVIRONMENT).
    expect(s.get('Environment')).toEqual(['NODE_ENV=production', 'GLIBC_TUNABLES=glibc.malloc.mmap_threshold=262144']);
    expect(one('ProtectHome')).toBe('read-only');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    for (const key of ['ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectControlGroups', 'RestrictSUIDSGID', 'LockPersonality']) {
      expect(one(key), key).toBe('yes');
    }
    expect(one('RestrictAddressFamilies')).toBe('AF_UNIX AF_INET AF_INET6');
    expect(one('MemoryMax')).toBe('256M');
    expect(one('SystemCallFilter')).toBe('@system-service');
    // Node's JIT needs W^X exceptions; ProcSubset=pid would hide /proc/sys/kernel/random/boot_id.
    expect(s.has('MemoryDenyWriteExecute')).toBe(false);
    expect(s.has('ProcSubset')).toBe(false);
  });

  it('writes only where told when the store is outside /var/lib', () => {
    const other = settings(systemdUnit({ ...spec, storeDir: '/srv/evidence' }));
    expect(other.get('ReadWritePaths')).toEqual(['/srv/evidence']);
    expect(other.has('StateDirectory')).toBe(false);
  });

  it('refuses paths systemd would split or expand, and relative paths', () => {
    for (const bad of [{ storeDir: '/var/lib/my store' }, { configPath: 'agent.yaml' }, { cliPath: '/opt/%h/cli.js' }, { user: 'Root!' }]) {
      try {
        systemdUnit({ ...spec, ...bad });
        expect.unreachable(JSON.stringify(bad));
      } catch (err) {
        expect((err as CustodyError).code).toBe(ErrorCodes.USAGE);
      }
    }
  });

  it.skipIf(!existsSync(SYSTEMD_ANALYZE))('passes systemd-analyze verify without a warning', () => {
    const path = join(dir, 'custody-agent.service');
    writeFileSync(path, unit);
    const result = spawnSync(SYSTEMD_ANALYZE, ['verify', path], { encoding: 'utf8', cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);

    // The check is real: a misspelt key or a missing binary is reported.
    const broken = join(dir, 'broken.service');
    writeFileSync(broken, unit.replace('ProtectSystem=strict', 'ProtectSytem=strict').replace(process.execPath, join(dir, 'no-such-node')));
    const bad = spawnSync(SYSTEMD_ANALYZE, ['verify', broken], { encoding: 'utf8', cwd: dir });
    expect(bad.stderr).toContain('ProtectSytem');
    expect(bad.stderr).toContain('no-such-node');
  });
});

describe('launchd plist', () => {
  it('runs the agent at load and restarts it after a failure', () => {
    const plist = launchdPlist(spec);
    expect(plist).toContain('<string>org.custody.agent</string>');
    expect(plist).toContain(`<string>${process.execPath}</string>`);
    expect(plist).toMatch(/<string>agent<\/string>\s*<string>run<\/string>\s*<string>--config<\/string>\s*<string>\/etc\/custody\/agent.yaml<\/string>/);
    expect(plist).toMatch(/<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
    if (existsSync('/usr/bin/plutil')) execFileSync('/usr/bin/plutil', ['-lint', '-'], { input: plist });
  });
});

describe('installService', () => {
  it('writes the unit and the sysusers entry and creates the config folder, under the given root', () => {
    const root = join(dir, 'root-systemd');
    const result = installService('systemd', spec, { root });
    expect(result.written).toEqual([join(root, SYSTEMD_UNIT_PATH), join(root, SYSUSERS_PATH)]);
    expect(readFileSync(join(root, SYSTEMD_UNIT_PATH), 'utf8')).toBe(systemdUnit(spec));
    expect(readFileSync(join(root, SYSUSERS_PATH), 'utf8')).toMatch(/^u custody - ".*" \/var\/lib\/custody$/m);
    expect(readFileSync(join(root, SYSUSERS_PATH), 'utf8')).toMatch(/^m custody adm$/m);
    expect(statSync(join(root, '/etc/custody')).isDirectory()).toBe(true);
    expect(result.nextSteps.join('\n')).toContain('systemctl enable --now custody-agent');
    expect(result.nextSteps[0]).toContain('/etc/custody/agent.yaml');
  });

  it('writes the launchd plist', () => {
    const root = join(dir, 'root-launchd');
    const result = installService('launchd', spec, { root });
    expect(result.written).toEqual([join(root, LAUNCHD_PLIST_PATH)]);
    expect(readFileSync(join(root, LAUNCHD_PLIST_PATH), 'utf8')).toBe(launchdPlist(spec));
  });
});

/** Every absolute path a generated file names (after `=`, `>`, `file://` or a space), `file://` stripped. */
function pathsNamedIn(text: string): string[] {
  return [...text.matchAll(/(?:^|[\s=>]|file:\/\/)(\/[^\s"'<>]+)/gm)].map((m) => (m[1] as string).replace(/[.,)]+$/, ''));
}

describe('no dangling references (issue 11, item 10)', () => {
  it('finds the README beside the CLI as the CLI does, and nothing where there is none', () => {
    expect(README).toBe(join(REPO, 'README.md'));
    expect(readmeBeside(join(dir, 'nowhere', 'dist', 'src', 'cli.js'))).toBeUndefined();
    // A folder named README.md is not documentation.
    mkdirSync(join(dir, 'pkg', 'README.md'), { recursive: true });
    expect(readmeBeside(join(dir, 'pkg', 'dist', 'src', 'cli.js'))).toBeUndefined();
  });

  it('names, in the unit, the sysusers entry and the next steps, only files that exist after install', () => {
    const config = join(dir, 'refs', 'agent.yaml');
    const store = join(dir, 'refs', 'store');
    mkdirSync(store, { recursive: true });
    writeFileSync(config, 'store: ./store\nsources: { files: { watch: [/var/log/syslog] } }\n');
    const root = join(dir, 'root-refs');
    const refSpec = { ...spec, configPath: config, storeDir: store };
    const result = installService('systemd', refSpec, { root });
    const texts = [...result.written.map((f) => readFileSync(f, 'utf8')), result.nextSteps.join('\n')];
    const named = texts.flatMap(pathsNamedIn);
    expect(named).toEqual(expect.arrayContaining([process.execPath, spec.cliPath, config, store, README]));
    for (const path of named) expect(existsSync(path), `${path} is named but does not exist`).toBe(true);
    expect(settings(texts[0] as string).get('Documentation')).toEqual([`file://${README}`]);
    expect(texts.join('\n')).not.toContain('docs/agent-service.md');
  });

  it('leaves the documentation out when the install has no README, and points to --help instead', () => {
    const bare = { ...spec, readmePath: undefined };
    const unit = systemdUnit(bare);
    expect(settings(unit).has('Documentation')).toBe(false);
    expect(unit).toContain('See `custody agent install --help`.');
    expect(launchdPlist(bare)).not.toContain('README');
    const result = installService('systemd', bare, { root: join(dir, 'root-bare') });
    expect(result.nextSteps[0]).toContain('see `custody agent check-config --help`');
    for (const text of [unit, launchdPlist(bare), result.nextSteps.join('\n')]) expect(text).not.toContain('docs/');
  });

  it('names in the launchd plist only files that exist, or the log launchd creates', () => {
    const plist = launchdPlist(spec);
    expect(plist).toContain(`See ${README}`);
    for (const path of pathsNamedIn(plist)) {
      if (path === '/var/log/custody-agent.log' || path === '/etc/custody/agent.yaml' || path === '/var/lib/custody') continue;
      expect(existsSync(path), path).toBe(true);
    }
  });
});

describe('running as root needs --allow-root (issue 11, item 10)', () => {
  function usageError(fn: () => unknown): CustodyError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(CustodyError);
      expect((err as CustodyError).code).toBe(ErrorCodes.USAGE);
      return err as CustodyError;
    }
    throw new Error('expected a usage error');
  }

  it('refuses user root for the unit, the plist and the install, and writes nothing', () => {
    const rootSpec = { ...spec, user: 'root' };
    expect(usageError(() => systemdUnit(rootSpec)).message).toContain('Pass --allow-root');
    usageError(() => launchdPlist(rootSpec));
    const root = join(dir, 'root-refused');
    usageError(() => installService('systemd', rootSpec, { root }));
    expect(existsSync(join(root, SYSTEMD_UNIT_PATH))).toBe(false);
    expect(existsSync(join(root, SYSUSERS_PATH))).toBe(false);
  });

  it('refuses another name with uid 0 on the host (toor) just the same', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\ntoor:x:0:0:backdoor:/root:/bin/sh\n\n# not a line\n';
    expect(superusersOf(passwd)).toEqual(['root', 'toor']);
    const passwdFile = join(dir, 'passwd');
    writeFileSync(passwdFile, passwd);
    const superusers = superusersOnThisHost(passwdFile);
    expect(superusers).toEqual(['root', 'toor']);
    expect(superusersOnThisHost(join(dir, 'no-passwd'))).toEqual([]);
    expect(usageError(() => systemdUnit({ ...spec, user: 'toor', superusers })).message).toContain('toor is a superuser (uid 0)');
    // daemon (uid 1) is not root.
    expect(settings(systemdUnit({ ...spec, user: 'daemon', superusers })).get('User')).toEqual(['daemon']);
  });

  it('with allowRoot, runs as root and writes no sysusers entry (root exists; no log groups for it)', () => {
    const rootSpec = { ...spec, user: 'root', allowRoot: true };
    expect(settings(systemdUnit(rootSpec)).get('User')).toEqual(['root']);
    const root = join(dir, 'root-allowed');
    const result = installService('systemd', rootSpec, { root });
    expect(result.written).toEqual([join(root, SYSTEMD_UNIT_PATH)]);
    expect(readdirSync(join(root, 'etc'))).not.toContain('sysusers.d');
    expect(result.nextSteps).not.toContain('systemd-sysusers');
    expect(result.nextSteps).toContain('systemctl daemon-reload');
  });
});
