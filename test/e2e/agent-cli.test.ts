/**
 * The agent commands end to end, through the built CLI (`npx tsc -p tsconfig.json` first):
 * real child processes, real files, a real store, real signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_ENVIRONMENT, SERVICE_NODE_FLAGS } from '../../agent/install.js';
import { CLI, custody } from '../helpers/cli.js';
import { e2eWorkspace, until } from '../helpers/e2e-workspace.js';

const { dir, children } = e2eWorkspace('agent-e2e');


interface StatusJson {
  agent: { running: boolean; pid?: number; stoppedAt?: string; stopReason?: string; configSha256?: string };
  records: { total: number; sealed: number; unsealed: number; byKind: Record<string, number> };
  lastCheckpoint?: { id: number; treeSize: number };
  keyEpoch: number;
  sources: Array<{ path: string; offset?: number; lagBytes?: number }>;
  gaps: { count: number; latest: unknown[] };
  storeSize: { totalBytes: number };
}

function status(store: string): StatusJson {
  const r = custody('agent', 'status', '--store', store, '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as StatusJson;
}

describe('custody agent check-config', () => {
  it('exits 0 on a valid file and 2 with every problem as path: message on an invalid one', () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'store: ./store\nsources:\n  files:\n    watch: [/var/log/*.log]\ncheckpoint: { interval: 5s }\n');
    const ok = custody('agent', 'check-config', good);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${good}: valid`);
    expect(ok.stdout).toMatch(/config sha256: [0-9a-f]{64}/);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ store: '', sources: { files: { watch: [], startAt: 'later' } }, heartbeatInterval: '1 week', extra: true }, null, 2));
    const refused = custody('agent', 'check-config', bad);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('[E_CONFIG_INVALID]');
    for (const line of [
      'store: must not be empty (line 2)',
      'sources.files.watch: give at least one file or glob to watch (line 5)',
      'sources.files.startAt: ',
      'heartbeatInterval: must be a duration',
      'extra: unknown setting (line 10)',
    ]) {
      expect(refused.stderr).toContain(line);
    }

    const syntax = join(dir, 'syntax.yaml');
    writeFileSync(syntax, 'store: x\nsources: [\n');
    const broken = custody('agent', 'check-config', syntax);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/line \d+, column \d+: /);
  });
});

describe('custody agent install', () => {
  it('prints a hardened systemd unit with --print and installs nothing', () => {
    const r = custody('agent', 'install', '--systemd', '--print', '--config', join(dir, 'agent.yaml'), '--store', '/var/lib/custody-e2e');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ExecStart=${process.execPath} --max-semi-space-size=1 --optimize-for-size --v8-pool-size=1 --expose-gc ${CLI} agent run --config ${join(dir, 'agent.yaml')}\n`);
    expect(r.stdout).toContain('Environment=GLIBC_TUNABLES=glibc.malloc.mmap_threshold=262144\n');
    expect(r.stdout).toContain('ProtectSystem=strict\n');
    expect(r.stdout).toContain('ReadWritePaths=/var/lib/custody-e2e\n');
    expect(r.stdout).toContain('NoNewPrivileges=yes\n');
    const none = custody('agent', 'install', '--print');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--systemd or --launchd');
  });
});

describe('custody agent run and status', () => {
  const store = join(dir, 'store');
  const logs = join(dir, 'logs');
  const appLog = join(logs, 'app.log');
  let agent: ChildProcess;
  let stdout = '';
  let stderr = '';

  it('creates the store on first run, preserves appended lines, and reports them in status', async () => {
    mkdirSync(logs);
    writeFileSync(appLog, 'first line\nsecond line\n');
    // With node's flags and the environment the installed service has (agent/install.ts).
    agent = spawn(process.execPath, [...SERVICE_NODE_FLAGS, CLI, 'agent', 'run', '--store', store, '--watch', join(logs, '*.log'), '--log-level', 'debug'], {
      env: { ...process.env, ...SERVICE_ENVIRONMENT },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(agent);
    agent.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    agent.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));

    await until('the enrollment fingerprint', () => (/enrollment key fingerprint: SHA256:\S+/.test(stdout) ? true : undefined));
    await until('the agent ready', () => (stderr.includes('"evt":"agent.ready"') ? true : undefined));
    appendFileSync(appLog, 'third line\nfourth line\n');
    writeFileSync(join(logs, 'other.log'), 'a line in a new file\n');

    const seen = await until('five lines in the store', () => {
      const s = status(store);
      return (s.records.byKind['log.line'] ?? 0) >= 5 ? s : undefined;
    });
    expect(seen.agent.running).toBe(true);
    expect(seen.agent.pid).toBe(agent.pid);
    expect(seen.records.byKind['agent.start']).toBe(1);
    expect(seen.keyEpoch).toBe(0);
    expect(seen.storeSize.totalBytes).toBeGreaterThan(0);

    // Per-source offsets catch up with the files (the state is written on the agent's next tick).
    const caughtUp = await until('sources at the end of their files', () => {
      const s = status(store);
      const app = s.sources.find((x) => x.path === appLog);
      return app && app.offset === 46 && app.lagBytes === 0 ? s : undefined;
    });
    expect(caughtUp.sources.map((x) => x.path).sort()).toEqual([appLog, join(logs, 'other.log')]);

    // Quiet after its start and first read, it gives their garbage back (agent/settle-memory.ts).
    const settled = await until('the memory settled', () => {
      const line = stderr.split('\n').find((l) => l.includes('"evt":"agent.memory_settled"'));
      return line ? (JSON.parse(line) as { heap_before: number; heap_after: number }) : undefined;
    });
    expect(settled.heap_after).toBeLessThan(settled.heap_before);

    const human = custody('agent', 'status', '--store', store);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`agent        running (pid ${agent.pid})`);
    expect(human.stdout).toContain(appLog);
  });

  it('on SIGTERM commits, records its stop, seals a final checkpoint and exits 0; the store verifies', async () => {
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('"evt":"agent.stop"');
    expect(existsSync(join(store, 'writer.lock'))).toBe(false);

    const verify = custody('verify', store, '--json');
    expect(verify.code).toBe(0);
    const result = JSON.parse(verify.stdout) as { ok: boolean; records: number; sealed?: { treeSize: number }; unsealed?: unknown };
    expect(result.ok).toBe(true);
    expect(result.sealed?.treeSize).toBe(result.records);
    expect(result.unsealed).toBeUndefined();

    const after = status(store);
    expect(after.agent.running).toBe(false);
    expect(after.agent.stopReason).toBe('signal SIGTERM');
    expect(after.records.byKind['agent.stop']).toBe(1);
    expect(after.records.byKind['log.line']).toBe(5);
    expect(after.records.unsealed).toBe(0);
    expect(after.lastCheckpoint?.treeSize).toBe(after.records.total);
  });

  it('refuses conflicting flags and a missing store with exit 2', () => {
    const both = custody('agent', 'run', '--config', join(dir, 'good.yaml'), '--store', store);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('[E_USAGE]');
    const missing = custody('agent', 'status', '--store', join(dir, 'nothing'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('[E_STORE_NOT_FOUND]');
  });
});
