/**
 * A gateway that accepts connections and never answers (a hung RGW, a black-holing proxy): the
 * vault client's request timeout turns it into E_VAULT_UNREACHABLE instead of a round that never
 * ends, and the agent's shipping loop (agent/ship/loop.ts) keeps going round after round with one
 * `vault.unreachable` record for the whole outage, while the store keeps taking records.
 * A real TCP server in this process, a real store and state database; no RGW needed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/logger.js';
import { VaultShipLoop } from '../../agent/ship/loop.js';
import { systemClock } from '../../src/clock.js';
import { CustodyError } from '../../src/errors.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { VaultClient } from '../../src/vault/s3.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const KEYS = { AWS_ACCESS_KEY_ID: 'HUNGGATEWAYKEY000000', AWS_SECRET_ACCESS_KEY: 'hung-gateway-secret-0000000000000000000000' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a vault gateway that never answers', () => {
  let server: Server;
  let endpoint: string;
  const sockets: Socket[] = [];
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-hung-'));
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      // Read the request and say nothing, ever.
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    endpoint = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  it('a request is abandoned at its timeout as E_VAULT_UNREACHABLE', async () => {
    const client = new VaultClient({ bucket: 'hung', prefix: '' }, { env: KEYS, endpoint, requestTimeoutMs: 1000, maxAttempts: 1 });
    let caught: unknown;
    try {
      await client.putOnce('some/key', new Uint8Array([1, 2, 3]));
    } catch (err) {
      caught = err;
    }
    client.destroy();
    expect(caught).toBeInstanceOf(CustodyError);
    expect((caught as CustodyError).code).toBe('E_VAULT_UNREACHABLE');
    expect((caught as CustodyError).message).not.toContain(KEYS.AWS_SECRET_ACCESS_KEY);
  });

  it('the shipping loop goes round after round, records the outage once, and the store keeps taking records', async () => {
    const dir = join(work, 'store');
    const { store } = EvidenceStore.create(dir, { host: 'web-hung', bootId: 'boot-hung', policy: { batchRecords: 10, checkpointRecords: 10 } });
    const state = new StateStore(dir);
    const line = (i: number) => ({ path: '/var/log/app.log', dev: '1', ino: '2', offset: i * 10, line_no: i + 1, length: 9, text: `line ${i}` });
    for (let i = 0; i < 20; i++) store.append('log.line', 'file:/var/log/app.log', line(i));
    store.flush();
    store.checkpoint();
    const client = new VaultClient({ bucket: 'hung', prefix: 'fleet' }, { env: KEYS, endpoint, requestTimeoutMs: 1000, maxAttempts: 1 });
    const loop = new VaultShipLoop(
      { storeDir: dir, state, client, logger: silentLogger(), clock: systemClock, append: (kind, payload) => store.append(kind, 'custody.agent', payload) },
      { intervalMs: 100, retryMaxMs: 200, limits: {} },
    );
    loop.start();
    let appended = 20;
    while (loop.status().failures < 3) {
      store.append('log.line', 'file:/var/log/app.log', line(appended++));
      await sleep(100);
    }
    await loop.stop(3000);
    store.flush();
    const s = loop.status();
    expect(s).toMatchObject({ state: 'stopped', last_error_code: 'E_VAULT_UNREACHABLE', objects_written: 0 });
    expect(s.outage?.seq).toBeTypeOf('number');
    store.close({ finalCheckpoint: true });
    const reader = new SqliteStoreReader(dir);
    try {
      const kinds = reader.kindCounts();
      expect(kinds.get('vault.unreachable')).toBe(1);
      expect(kinds.get('vault.reachable')).toBeUndefined();
      expect(kinds.get('log.line')).toBe(appended);
      const [down] = reader.latestOfKind('vault.unreachable', 1);
      const payload = (JSON.parse(Buffer.from(down?.bytes ?? []).toString('utf8')) as { payload: unknown }).payload;
      expect(payload).toMatchObject({ vault: 's3://hung/fleet', code: 'E_VAULT_UNREACHABLE' });
    } finally {
      reader.close();
      state.close();
      client.destroy();
    }
  }, 60_000);
});
