#!/usr/bin/env node
/**
 * What a radosgw killed mid-PUT leaves behind, and that put-once still writes each name once.
 * Starts a local RGW (rgw-start.sh), PUTs objects from 16 writers into a fresh Object Lock bucket,
 * kills radosgw with SIGKILL, restarts it, then counts the names whose version is listed but which
 * HEAD answers 404 (a version stored but not yet made current), and puts every object again with
 * put-once: each must come back "existed" (or "written" if it never landed), one version per name.
 * Six rounds. Usage: `npm run build && node scripts/vault/crash-visibility.mjs` (needs radosgw).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { readS3Env, startLocalRgw } from './local-rgw.mjs';
import { createRequire } from 'node:module';
const { HeadObjectCommand } = createRequire(import.meta.url)('@aws-sdk/client-s3');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { openVault, vaultInit } = await import(new URL('../../dist/collector/vault.js', import.meta.url).href);
const work = mkdtempSync(join(tmpdir(), 'rgwcrash-'));
const dir = join(work, 'rgw');
await startLocalRgw(dir, { osdSizeMb: 2048 });
const env = { ...readS3Env(dir) };
const pidOf = () => Number(readFileSync(join(dir, 'run', 'ceph-client.rgw.a.pid'), 'utf8').trim());
for (let trial = 0; trial < 6; trial++) {
  const url = `s3://crash-${trial}-${process.pid}`;
  await vaultInit({ url, retention: '1d', env });
  const c = openVault({ url, env, maxAttempts: 1 });
  const keys = []; const bodies = new Map();
  let stop = false;
  const workers = Array.from({ length: 16 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const key = `k/${w}/${i}`; keys.push(key);
      const body = randomBytes(2000 + (i % 7) * 30000); bodies.set(key, body); try { await c.putOnce(key, body, { unsent: true }); } catch { break; }
    }
  });
  await new Promise((r) => setTimeout(r, 1500 + trial * 300));
  process.kill(pidOf(), 'SIGKILL');
  stop = true;
  await Promise.all(workers);
  const r = spawnSync('bash', [fileURLToPath(new URL('./rgw-start.sh', import.meta.url)), dir], { encoding: 'utf8', env: { ...process.env, START_TIMEOUT: '100' } });
  if (r.status !== 0) { console.log('restart failed', r.stderr); process.exit(1); }
  const c2 = openVault({ url, env });
  const versions = await c2.listVersions('k/');
  const listed = new Set(versions.map((v) => v.key));
  const v2 = new Set((await (async () => { const s = []; for await (const p of c2.list('k/')) for (const o of p.objects) s.push(o.key); return s; })()));
  let headMissing = 0, v2Missing = 0;
  for (const k of listed) {
    let found = true;
    try { await c2.s3.send(new HeadObjectCommand({ Bucket: c2.bucket, Key: k })); } catch (e) { if (e?.$metadata?.httpStatusCode !== 404) console.log('HEAD error', k, e?.name); found = false; }
    if (!found) headMissing++;
    if (!v2.has(k)) v2Missing++;
  }
  const outcomes = {}; for (const [k, b] of bodies) { try { const r = await c2.putOnce(k, b); outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1; } catch (e) { outcomes[e.code ?? e.name] = (outcomes[e.code ?? e.name] ?? 0) + 1; } }
  const after = await c2.listVersions('k/');
  console.log(`  put-once again: ${JSON.stringify(outcomes)}; now ${new Set(after.map((v) => v.key)).size} names, ${after.length} versions`);
  console.log(`trial ${trial}: ${keys.length} puts tried, ${listed.size} names with versions, ${versions.length} versions; HEAD 404 for ${headMissing} of them, ListObjectsV2 misses ${v2Missing}`);
  c.destroy(); c2.destroy();
}
spawnSync('bash', [fileURLToPath(new URL('./rgw-stop.sh', import.meta.url)), dir]);
rmSync(work, { recursive: true, force: true });
