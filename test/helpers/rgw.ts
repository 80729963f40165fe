/**
 * A real vault for a test file: starts Ceph RGW (scripts/vault/rgw-start.sh, memstore) once in
 * beforeAll on free ports in a temporary folder, stops and removes it in afterAll.
 *
 * Where Ceph is not installed the file's tests are skipped with the reason printed, except in CI
 * (CI=true), where a vault that cannot start fails the run: CI must never pass by not testing.
 * Install: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

// Our @aws-sdk range supports Node 20 (package.json says why); its notice about later releases is noise here.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const SCRIPTS = join(__dirname, '..', '..', 'scripts', 'vault');
const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-conf'];

export interface Rgw {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment a custody command gets: the SDK's names, nothing else of the caller's AWS setup. */
  env: Record<string, string>;
  dir: string;
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).status === 0;
}

/** Why a vault cannot be started here, or undefined when it can. */
export function rgwUnavailable(): string | undefined {
  const missing = BINARIES.filter((b) => !onPath(b));
  return missing.length === 0 ? undefined : `Ceph RGW is not installed (missing ${missing.join(', ')})`;
}

/** true when this file's vault tests should be skipped (never in CI: there a missing vault fails). */
export function skipWithoutRgw(): boolean {
  const why = rgwUnavailable();
  if (why === undefined) return false;
  const ci = process.env['CI'];
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') return false; // CI: useRgw's beforeAll fails with the reason
  process.stderr.write(`skipping vault tests: ${why}\n`);
  return true;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts one RGW for the calling test file; the returned object is filled in by beforeAll. */
export function useRgw(): Rgw {
  const rgw = {} as Rgw;
  let dir: string | undefined;
  beforeAll(async () => {
    const why = rgwUnavailable();
    if (why !== undefined) throw new Error(`${why}; CI needs a real vault (.ci/run installs it)`);
    dir = mkdtempSync(join(tmpdir(), 'custody-vault-'));
    const rgwDir = join(dir, 'rgw');
    const [rgwPort, monPort] = [await freePort(), await freePort()];
    const r = spawnSync('bash', [join(SCRIPTS, 'rgw-start.sh'), rgwDir], {
      encoding: 'utf8',
      env: { ...process.env, RGW_PORT: String(rgwPort), MON_PORT: String(monPort), OSD_SIZE_MB: '1024', START_TIMEOUT: '100' },
    });
    if (r.status !== 0) throw new Error(`rgw-start.sh failed (exit ${r.status}):\n${r.stderr}`);
    const vars = new Map(r.stdout.split('\n').flatMap((line) => {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      return m ? [[m[1] as string, m[2] as string] as const] : [];
    }));
    const need = (name: string): string => {
      const v = vars.get(name);
      if (v === undefined) throw new Error(`rgw-start.sh printed no ${name}`);
      return v;
    };
    Object.assign(rgw, {
      endpoint: need('AWS_ENDPOINT_URL'),
      region: need('AWS_REGION'),
      accessKeyId: need('AWS_ACCESS_KEY_ID'),
      secretAccessKey: need('AWS_SECRET_ACCESS_KEY'),
      dir: rgwDir,
    });
    rgw.env = {
      AWS_ENDPOINT_URL: rgw.endpoint,
      AWS_REGION: rgw.region,
      AWS_ACCESS_KEY_ID: rgw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  }, 300_000);
  afterAll(() => {
    if (dir === undefined) return;
    spawnSync('bash', [join(SCRIPTS, 'rgw-stop.sh'), join(dir, 'rgw'), '--purge'], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
  return rgw;
}

/** A second S3 user on the test vault (radosgw-admin), for least-privilege tests; its keys. */
export function createRgwUser(rgw: Rgw, uid: string): { accessKeyId: string; secretAccessKey: string; env: Record<string, string> } {
  const accessKeyId = `${uid.toUpperCase().replace(/[^A-Z0-9]/g, '')}${'0'.repeat(20)}`.slice(0, 20);
  const secretAccessKey = `${uid.replace(/[^a-z0-9]/g, '')}${'s'.repeat(40)}`.slice(0, 40);
  const r = spawnSync('radosgw-admin', ['--conf', join(rgw.dir, 'ceph.conf'), 'user', 'create', `--uid=${uid}`, `--display-name=${uid}`, `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`radosgw-admin user create ${uid} failed: ${r.stderr}`);
  return { accessKeyId, secretAccessKey, env: { ...rgw.env, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } };
}

function radosgwPid(rgw: Rgw): number | undefined {
  try {
    const pid = Number(readFileSync(join(rgw.dir, 'run', 'ceph-client.rgw.a.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills the vault's radosgw (-9, as a crash or a cut cable looks to a client; the mon and the OSD,
 * and so the objects, stay) and waits until it is gone. Returns its pid.
 */
export async function stopRadosgw(rgw: Rgw): Promise<number> {
  const pid = radosgwPid(rgw);
  if (pid === undefined || !alive(pid)) throw new Error(`radosgw of ${rgw.dir} is not running`);
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
  return pid;
}

/** Starts the vault's radosgw again (rgw-start.sh is idempotent: it starts only what is not running). */
export function startRadosgw(rgw: Rgw): void {
  const r = spawnSync('bash', [join(SCRIPTS, 'rgw-start.sh'), rgw.dir], { encoding: 'utf8', env: { ...process.env, START_TIMEOUT: '100' } });
  if (r.status !== 0) throw new Error(`rgw-start.sh (restart) failed (exit ${r.status}):\n${r.stderr}`);
}
