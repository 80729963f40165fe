/**
 * The agent shipping to a vault, end to end: the built CLI (`npx tsc -p tsconfig.json` first) run as
 * `custody agent run --config` with a `vault:` block, against a real Ceph RGW, real files, real
 * signals. Credentials reach the agent only through the environment (the AWS SDK's way).
 * (a) lines written are shipped; after a clean stop the vault holds every record and checkpoint
 *     of the store, and status shows no lag;
 * (b) the agent killed with -9 while it ships, then started again: nothing lost, nothing shipped
 *     twice (every record in exactly one segment, one version per name);
 * (c) radosgw down for 30 s while the agent ships and lines keep coming: one vault.unreachable and
 *     one vault.reachable in the store (not one per retry), every line preserved meanwhile, and in
 *     the end the vault holds exactly what the store holds;
 * (d) wrong credentials: the error (E_VAULT_ACCESS_DENIED, naming credentials) in status and the
 *     log, the secret nowhere, lines still preserved.
 * Nothing is asserted about how long anything took; the 30 s outage is the gateway's, real time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentStatus } from '../../agent/status.js';
import { vaultInit, openVault } from '../../collector/vault.js';
import { parseCheckpointBody, parseNote } from '../../src/integrity/checkpoint.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { hostsPrefix, parseObjectKey, storePrefix } from '../../src/vault/layout.js';
import { decodeSegment } from '../../src/vault/segment.js';
import { CLI, custody } from '../helpers/cli.js';
import { e2eWorkspace, sleep, until } from '../helpers/e2e-workspace.js';
import { skipWithoutRgw, startRadosgw, stopRadosgw, useRgw } from '../helpers/rgw.js';

interface VaultStatusJson {
  agent: { running: boolean };
  records: { total: number; byKind: Record<string, number> };
  vault?: { vault: string; state: string; lagRecords: number; lagBytes: number; lagCheckpoints: number; oldestUnshipped?: string; shippedRecords: number; failures: number; lastError?: string; lastErrorCode?: string; lastSuccessAt?: string };
}

describe.skipIf(skipWithoutRgw())('custody agent run with a vault (built CLI, real RGW)', () => {
  const rgw = useRgw();
  const { dir, children } = e2eWorkspace('agent-ship');

  /** The agent's environment: the keys the SDK's way, none of the caller's own AWS setup, no ~/.aws. */
  function agentEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    return { ...base, HOME: '/nonexistent', AWS_REGION: rgw.region, AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey, ...overrides };
  }

  interface Agent {
    child: ChildProcess;
    stderr: () => string;
    exited: Promise<number | null>;
  }

  function startAgent(config: string, env: NodeJS.ProcessEnv): Agent {
    const child = spawn(process.execPath, [CLI, 'agent', 'run', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, stderr: () => err, exited };
  }

  function setup(name: string, vaultUrl: string): { config: string; store: string; log: string } {
    const base = join(dir, name);
    mkdirSync(base, { recursive: true });
    const store = join(base, 'store');
    const log = join(base, 'app.log');
    writeFileSync(log, '');
    const config = join(base, 'agent.yaml');
    writeFileSync(
      config,
      [
        `store: ${store}`,
        `host: ${name}`,
        'logLevel: debug',
        `sources: { files: { watch: [${log}], startAt: beginning } }`,
        'batching: { records: 50, interval: 50ms }',
        'checkpoint: { records: 40, interval: 300ms }',
        'heartbeatInterval: 1h',
        `vault: { url: "${vaultUrl}", endpoint: "${rgw.endpoint}", interval: 200ms, retryMax: 2s, requestTimeout: 5s }`,
        '',
      ].join('\n'),
    );
    return { config, store, log };
  }

  /** The status report while polling (the function the command prints; the command itself is run where its output is checked). */
  function status(store: string): VaultStatusJson {
    const none: VaultStatusJson = { agent: { running: false }, records: { total: 0, byKind: {} } };
    if (!existsSync(join(store, 'evidence.sqlite'))) return none; // not created yet
    try {
      return JSON.parse(JSON.stringify(agentStatus(store))) as VaultStatusJson;
    } catch (err) {
      // The agent is creating the store this very moment (the file exists, its tables not yet).
      if (/no such table/.test(String(err))) return none;
      throw err;
    }
  }

  function writeLines(log: string, from: number, n: number, tag: string): void {
    let text = '';
    for (let i = from; i < from + n; i++) text += `${tag} line ${i} ${'x'.repeat(40)}\n`;
    appendFileSync(log, text);
  }

  /** Every record of the store in the vault's segments exactly once and in order, every checkpoint there, one version per name. */
  async function expectVaultHoldsStore(url: string, store: string): Promise<{ objects: number }> {
    const reader = new SqliteStoreReader(store);
    let want: { records: string[]; sizes: number[]; storeId: string; host: string };
    try {
      const meta = reader.meta();
      want = {
        records: [...reader.records()].map((r) => Buffer.from(r.bytes).toString('base64')),
        sizes: reader.checkpoints().map((c) => c.tree_size).sort((a, b) => a - b),
        storeId: meta.get('store_id') as string,
        host: meta.get('host') as string,
      };
    } finally {
      reader.close();
    }
    const client = openVault({ url, env: rgw.env });
    try {
      const segments: { start: number; records: Uint8Array[] }[] = [];
      const sizes: number[] = [];
      let objects = 0;
      for await (const page of client.list(storePrefix(client.vault.prefix, want.host, want.storeId))) {
        for (const o of page.objects) {
          objects++;
          const obj = parseObjectKey(client.vault.prefix, o.key);
          if (obj?.type === 'segment') {
            const seg = decodeSegment((await client.get(o.key)).body);
            segments.push({ start: seg.start, records: seg.records });
          } else if (obj?.type === 'checkpoint') {
            sizes.push(parseCheckpointBody(parseNote(Buffer.from((await client.get(o.key)).body).toString('utf8')).text).treeSize);
          }
        }
      }
      segments.sort((a, b) => a.start - b.start);
      const shipped = segments.flatMap((s) => s.records.map((r) => Buffer.from(r).toString('base64')));
      expect(shipped.length).toBe(want.records.length);
      expect(shipped).toEqual(want.records);
      expect(sizes.sort((a, b) => a - b)).toEqual(want.sizes);
      const versions = await client.listVersions(hostsPrefix(client.vault.prefix));
      expect(versions.filter((v) => v.deleteMarker)).toEqual([]);
      const perKey = new Map<string, number>();
      for (const v of versions) perKey.set(v.key, (perKey.get(v.key) ?? 0) + 1);
      expect([...perKey].filter(([, n]) => n > 1)).toEqual([]);
      return { objects };
    } finally {
      client.destroy();
    }
  }

  async function stopAgent(agent: Agent): Promise<void> {
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  }

  it('(a) lines written are shipped; after a clean stop the vault holds every record and checkpoint, and status shows no lag', async () => {
    const url = `s3://ship-a-${process.pid}/fleet`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const { config, store, log } = setup('ship-a', url);
    const agent = startAgent(config, agentEnv());
    for (let burst = 0; burst < 5; burst++) {
      writeLines(log, burst * 100, 100, 'a');
      await sleep(200);
    }
    // Shipped while running: the vault catches up with the store (no lag, nothing failing).
    const running = await until('the vault caught up', () => {
      const s = status(store);
      // The lag is computed now, the state is as of the agent's last status write (each second).
      return (s.records.byKind['log.line'] ?? 0) === 500 && s.vault?.lagRecords === 0 && s.vault.state === 'shipping' ? s : undefined;
    });
    expect(running.vault).toMatchObject({ vault: url, state: 'shipping', failures: 0, lagBytes: 0, lagCheckpoints: 0 });
    expect(running.vault?.oldestUnshipped).toBeUndefined();
    const text = custody('agent', 'status', '--store', store);
    expect(text.stdout).toMatch(/^vault +s3:\/\/ship-a-\d+\/fleet at http:\/\/127\.0\.0\.1:\d+: shipping$/m);
    expect(text.stdout).toMatch(/^ {2}lag +0 records \(0 B\), 0 checkpoints$/m);

    await stopAgent(agent);
    // The final checkpoint (with agent.stop) was shipped by the last round at shutdown.
    const stopped = custody('agent', 'status', '--store', store, '--json');
    expect(stopped.code).toBe(0);
    expect((JSON.parse(stopped.stdout) as VaultStatusJson).vault).toMatchObject({ state: 'stopped', lagRecords: 0, lagCheckpoints: 0 });
    await expectVaultHoldsStore(url, store);
    expect(agent.stderr()).not.toContain(rgw.secretAccessKey);
    expect(agent.stderr()).toContain('"evt":"vault.start"');
    expect(agent.stderr()).not.toContain('NodeVersionSupportWarning'); // only JSON log lines on stderr
    for (const line of agent.stderr().split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  }, 120_000);

  it('(b) killed with -9 mid-upload and started again: nothing lost, nothing shipped twice under a new name', async () => {
    const url = `s3://ship-b-${process.pid}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const { config, store, log } = setup('ship-b', url);
    // A backlog of many small objects (a checkpoint every 40 records: about 750 objects), so the
    // kill lands mid-shipping.
    writeLines(log, 0, 15_000, 'b');
    const first = startAgent(config, agentEnv());
    await until('the agent reports its shipping', () => status(store).vault);
    const client = openVault({ url, env: rgw.env });
    for (;;) {
      const page = await client.listPage(hostsPrefix(client.vault.prefix), { maxKeys: 200 });
      if (page.objects.length >= 60) break;
      await sleep(20);
    }
    client.destroy();
    first.child.kill('SIGKILL');
    await first.exited;
    const killed = status(store);
    expect(killed.vault, 'the agent reported its shipping before the kill').toBeDefined();
    expect(killed.vault?.lagRecords ?? 0, JSON.stringify(killed.vault)).toBeGreaterThan(0);

    const second = startAgent(config, agentEnv());
    writeLines(log, 15_000, 200, 'b');
    await until('the vault caught up after the restart', () => {
      const s = status(store);
      return (s.records.byKind['log.line'] ?? 0) === 15_200 && s.vault?.lagRecords === 0 ? s : undefined;
    });
    await stopAgent(second);
    await expectVaultHoldsStore(url, store);
  }, 300_000);

  it('(c) radosgw down for 30 s while the agent ships: one vault.unreachable and one vault.reachable, every line preserved, the vault complete', async () => {
    const url = `s3://ship-c-${process.pid}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const { config, store, log } = setup('ship-c', url);
    const agent = startAgent(config, agentEnv());
    let written = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        writeLines(log, written, 20, 'c');
        written += 20;
        await sleep(100);
      }
    })();
    await until('shipping', () => (status(store).vault?.shippedRecords ?? 0) > 0 ? true : undefined);

    await stopRadosgw(rgw);
    await until('the outage is recorded', () => ((status(store).records.byKind['vault.unreachable'] ?? 0) > 0 ? true : undefined));
    await sleep(30_000);
    const during = status(store);
    expect(during.vault?.state).toBe('failing');
    expect(during.vault?.lastErrorCode).toBe('E_VAULT_UNREACHABLE');
    expect(during.vault?.failures).toBeGreaterThan(1);
    // Preservation went on during the outage.
    expect(during.records.byKind['log.line'] ?? 0).toBeGreaterThan(0);
    expect(during.vault?.lagRecords ?? 0).toBeGreaterThan(0);
    startRadosgw(rgw);

    await until('the end of the outage is recorded', () => ((status(store).records.byKind['vault.reachable'] ?? 0) > 0 ? true : undefined));
    writing = false;
    await writer;
    await until('the vault caught up', () => {
      const s = status(store);
      return (s.records.byKind['log.line'] ?? 0) === written && s.vault?.lagRecords === 0 ? s : undefined;
    });
    await stopAgent(agent);
    const after = status(store);
    expect(after.records.byKind['vault.unreachable']).toBe(1);
    expect(after.records.byKind['vault.reachable']).toBe(1);
    expect(after.records.byKind['log.line']).toBe(written);

    // The two records, as facts: the outage's code and its end naming it.
    const reader = new SqliteStoreReader(store);
    try {
      const [down] = reader.latestOfKind('vault.unreachable', 1);
      const [up] = reader.latestOfKind('vault.reachable', 1);
      const downPayload = (JSON.parse(Buffer.from(down?.bytes ?? []).toString('utf8')) as { payload: { vault: string; code: string } }).payload;
      const upPayload = (JSON.parse(Buffer.from(up?.bytes ?? []).toString('utf8')) as { payload: { unreachable_seq: number; failed_rounds: number } }).payload;
      expect(downPayload).toMatchObject({ vault: url, code: 'E_VAULT_UNREACHABLE' });
      expect(upPayload.unreachable_seq).toBe(down?.seq);
      expect(upPayload.failed_rounds).toBeGreaterThan(1);
    } finally {
      reader.close();
    }
    await expectVaultHoldsStore(url, store);
  }, 400_000);

  it('(d) wrong credentials: a clear error in status and log, no secret printed, local preservation continues', async () => {
    const url = `s3://ship-d-${process.pid}`;
    await vaultInit({ url, retention: '1d', env: rgw.env });
    const { config, store, log } = setup('ship-d', url);
    const secret = 'wrong-secret-4f1b9c0d2e7a66aa0123456789abcdef';
    const agent = startAgent(config, agentEnv({ AWS_SECRET_ACCESS_KEY: secret }));
    writeLines(log, 0, 300, 'd');
    const failing = await until('the error is in status', () => {
      const s = status(store);
      // The outage record is committed with the next batch, the status written each second: wait for both.
      return s.vault?.lastErrorCode !== undefined && (s.records.byKind['log.line'] ?? 0) === 300 && (s.records.byKind['vault.unreachable'] ?? 0) > 0 ? s : undefined;
    });
    expect(failing.vault).toMatchObject({ state: 'failing', lastErrorCode: 'E_VAULT_ACCESS_DENIED', shippedRecords: 0 });
    expect(failing.vault?.lastError).toMatch(/credentials/);
    expect(failing.vault?.lagRecords ?? 0).toBeGreaterThanOrEqual(300);
    const text = custody('agent', 'status', '--store', store);
    expect(text.stdout).toMatch(/last error .*credentials.*\[E_VAULT_ACCESS_DENIED\]/);
    expect(failing.records.byKind['vault.unreachable']).toBe(1);

    writeLines(log, 300, 100, 'd');
    await until('lines still preserved', () => ((status(store).records.byKind['log.line'] ?? 0) === 400 ? true : undefined));
    await stopAgent(agent);
    const logText = agent.stderr();
    expect(logText).toContain('"evt":"vault.unreachable"');
    expect(logText).toContain('E_VAULT_ACCESS_DENIED');
    for (const out of [logText, text.stdout, custody('agent', 'status', '--store', store, '--json').stdout]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain(rgw.secretAccessKey);
    }
    // Nothing reached the vault under this agent's name.
    const client = openVault({ url, env: rgw.env });
    expect((await client.listPage(hostsPrefix(client.vault.prefix))).objects).toEqual([]);
    client.destroy();
  }, 120_000);
});
