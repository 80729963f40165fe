/**
 * Issue 12's first "show it works", end to end with the built CLI and a real Ceph RGW: three real
 * agents (`custody agent run --config` with a `vault:` block) preserve and ship their hosts' lines;
 * one host's store is then deleted outright; `custody collect --vault --host …` of all three gives a
 * bundle that `custody verify` accepts, holding every line of all three hosts, the deleted host's
 * from the vault alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentStatus } from '../../agent/status.js';
import { vaultInit } from '../../collector/vault.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { CLI } from '../helpers/cli.js';
import { e2eWorkspace, until } from '../helpers/e2e-workspace.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';

const HOSTS = ['web-01', 'web-02', 'db-01'];
const LINES = 200;

describe.skipIf(skipWithoutRgw())('a fleet shipping to one vault, one store wiped, the case collected from the vault (built CLI, real RGW)', () => {
  const rgw = useRgw();
  const { dir, children } = e2eWorkspace('vault-fleet');

  /** A command's environment: the keys and endpoint the AWS SDK's way, nothing of the caller's AWS setup. */
  const env = (): NodeJS.ProcessEnv => ({
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_'))),
    HOME: '/nonexistent',
    AWS_ENDPOINT_URL: rgw.endpoint,
    AWS_REGION: rgw.region,
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
  });

  const lineOf = (host: string, i: number) => `2026-12-05T10:00:00Z ${host} sshd[${100 + i}]: Accepted publickey for ops from 10.0.0.${i % 250} port ${40000 + i} ssh2`;

  function evidenceFiles(folder: string): string[] {
    const out: string[] = [];
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) out.push(...evidenceFiles(path));
      else if (name === 'evidence.sqlite') out.push(folder);
    }
    return out;
  }

  it('three agents ship, web-02 is wiped, collect --vault of all three verifies and holds every line', async () => {
    const url = `s3://fleet-${process.pid}/acme`;
    await vaultInit({ url, retention: '1d', env: rgw.env });

    const agents: { host: string; store: string; child: ChildProcess; exited: Promise<number | null> }[] = [];
    for (const host of HOSTS) {
      const base = join(dir, host);
      mkdirSync(base, { recursive: true });
      const store = join(base, 'store');
      const log = join(base, 'auth.log');
      writeFileSync(log, '');
      const config = join(base, 'agent.yaml');
      writeFileSync(
        config,
        `store: ${store}\nhost: ${host}\nsources: { files: { watch: [${log}], startAt: beginning } }\ncheckpoint: { records: 50, interval: 300ms }\nheartbeatInterval: 1h\nvault: { url: "${url}", interval: 200ms, retryMax: 2s, requestTimeout: 10s }\n`,
      );
      // No endpoint in the configuration: the agent finds it, and the keys, the SDK's way (AWS_ENDPOINT_URL).
      const child = spawn(process.execPath, [CLI, 'agent', 'run', '--config', config], { env: env(), stdio: ['ignore', 'ignore', 'ignore'] });
      children.push(child);
      agents.push({ host, store, child, exited: new Promise((r) => child.on('exit', (code) => r(code))) });
      appendFileSync(log, Array.from({ length: LINES }, (_, i) => `${lineOf(host, i)}\n`).join(''));
    }

    for (const a of agents) {
      await until(`${a.host} shipped every line`, () => {
        if (!existsSync(join(a.store, 'evidence.sqlite'))) return undefined;
        try {
          const s = agentStatus(a.store);
          return (s.records.byKind['log.line'] ?? 0) === LINES && s.vault?.lagRecords === 0 ? true : undefined;
        } catch {
          return undefined; // the store is being created
        }
      });
    }
    for (const a of agents) a.child.kill('SIGTERM');
    for (const a of agents) expect(await a.exited).toBe(0);

    // The host is wiped: its store is gone, only the vault has its evidence.
    rmSync(join(dir, 'web-02', 'store'), { recursive: true, force: true });

    const out = join(dir, 'bundle');
    const collected = spawnSync(process.execPath, [CLI, 'collect', '--case', 'IR-2026-777', '--vault', url, ...HOSTS.flatMap((h) => ['--host', h]), '--no-report', '--out', out], {
      encoding: 'utf8',
      env: env(),
    });
    expect(collected.status, collected.stderr).toBe(0);
    expect(collected.stdout + collected.stderr).not.toContain(rgw.secretAccessKey);

    const verified = spawnSync(process.execPath, [CLI, 'verify', out], { encoding: 'utf8', env: env() });
    expect(verified.status, `${verified.stdout}\n${verified.stderr}`).toBe(0);

    // Every line of all three hosts, byte for byte, in the bundle's stores.
    const found = new Map<string, string[]>();
    for (const storeDir of evidenceFiles(out)) {
      const reader = new SqliteStoreReader(storeDir);
      try {
        const host = reader.meta().get('host') as string;
        const texts = [...reader.records()]
          .filter((r) => r.kind === 'log.line')
          .map((r) => (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { payload: { text: string } }).payload.text);
        found.set(host, [...(found.get(host) ?? []), ...texts]);
      } finally {
        reader.close();
      }
    }
    expect([...found.keys()].sort()).toEqual([...HOSTS].sort());
    for (const host of HOSTS) expect(found.get(host), host).toEqual(Array.from({ length: LINES }, (_, i) => lineOf(host, i)));
  }, 300_000);
});
