// A local Ceph RGW for the vault demo and benchmarks: scripts/vault/rgw-start.sh on free ports in a
// folder of the caller's, and the S3 environment it saved there (DIR/s3.env) as an object, the way
// `set -a; . DIR/s3.env; set +a` gives it a user: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY. Stop it with scripts/vault/rgw-stop.sh DIR --purge.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const START_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'rgw-start.sh');
const STOP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'rgw-stop.sh');

/** A TCP port nobody listens on now (the kernel's pick), for the gateway and the monitor. */
export async function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      server.close(() => res(port));
    });
  });
}

/** DIR/s3.env as { NAME: value }. */
export function readS3Env(rgwDir) {
  return Object.fromEntries(
    readFileSync(join(rgwDir, 's3.env'), 'utf8')
      .split('\n')
      .flatMap((l) => {
        const m = /^(?:export )?([A-Z_0-9]+)=['"]?(.*?)['"]?$/.exec(l.trim());
        return m ? [[m[1], m[2]]] : [];
      }),
  );
}

/**
 * Starts the gateway in rgwDir (memstore of osdSizeMb) and returns its S3 environment. Throws an
 * Error whose `stderr` is the start script's when it did not start.
 */
export async function startLocalRgw(rgwDir, { osdSizeMb, startTimeoutS = 120 }) {
  const r = spawnSync('bash', [START_SCRIPT, rgwDir], {
    encoding: 'utf8',
    env: { ...process.env, RGW_PORT: String(await freePort()), MON_PORT: String(await freePort()), OSD_SIZE_MB: String(osdSizeMb), START_TIMEOUT: String(startTimeoutS) },
  });
  if (r.status !== 0) {
    // Stop what did start (a mon and an osd left running would hold their memory and ports, and the
    // caller, which never got a gateway, does not stop it): rgw-stop.sh checks each pid is ours.
    spawnSync('bash', [STOP_SCRIPT, rgwDir, '--purge'], { encoding: 'utf8' });
    throw Object.assign(new Error(`rgw-start.sh failed: ${r.stderr}`), { stderr: r.stderr });
  }
  return readS3Env(rgwDir);
}
