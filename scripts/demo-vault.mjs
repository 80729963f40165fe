// The evidence vault demo: `npm run demo:vault`. Starts a local Ceph RGW (scripts/vault/rgw-start.sh,
// objects in memory) in a throw-away folder, makes a vault with Object Lock, runs three real agents
// (web-01, web-02, db-01) that preserve their hosts' sshd lines and ship them to it, then plays the
// attacker: web-02's store is deleted outright, and on db-01 the newest seals are erased with every
// local trace (a rollback the store alone cannot show). `verify` names db-01's rollback against the
// vault; the case is collected from the vault alone and the bundle verifies, with web-02's lines in it.
// Needs Node, `npm ci`, and Ceph's packages (README, "A local vault"):
//   sudo apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalRgw } from './vault/local-rgw.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'custody-demo-vault-'));
const rgwDir = join(work, 'rgw');
const HOSTS = ['web-01', 'web-02', 'db-01'];
const VAULT = 's3://acme-evidence/fleet';

const say = (text) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


let env;
const custody = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
const show = (r) => process.stdout.write(`${r.stdout}${r.stderr}`);
const agents = [];

try {
  say('a local vault: Ceph RGW on 127.0.0.1 (objects in memory; stopped and deleted at the end)');
  let s3env;
  try {
    // What `set -a; . DIR/s3.env; set +a` gives a user: the AWS SDK's own variable names.
    s3env = await startLocalRgw(rgwDir, { osdSizeMb: 1024 });
  } catch (err) {
    process.stderr.write(err.stderr ?? '');
    throw new Error('the local vault did not start (is Ceph installed? see the comment at the top of this script)');
  }
  env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_'))), ...s3env };
  process.stdout.write(`endpoint ${s3env.AWS_ENDPOINT_URL} (keys in ${join(rgwDir, 's3.env')}, never in a configuration)\n`);

  say(`custody vault init ${VAULT.replace(/\/fleet$/, '')} --retention 1d`);
  show(custody('vault', 'init', 's3://acme-evidence', '--retention', '1d'));

  say('three agents, each with a `vault:` block, preserving and shipping their hosts\' logs');
  for (const host of HOSTS) {
    const base = join(work, host);
    mkdirSync(base);
    const store = join(base, 'store');
    const log = join(base, 'auth.log');
    writeFileSync(log, '');
    const config = join(base, 'agent.yaml');
    writeFileSync(config, `store: ${store}\nhost: ${host}\nsources: { files: { watch: [${log}] } }\ncheckpoint: { records: 100, interval: 1s }\nvault: { url: "${VAULT}", interval: 1s }\n`);
    const child = spawn(process.execPath, [cli, 'agent', 'run', '--config', config], { env, stdio: ['ignore', 'ignore', 'ignore'] });
    agents.push({ host, store, log, config, child, exited: new Promise((r) => child.once('exit', r)) });
    process.stdout.write(`${host}: custody agent run --config ${config}\n`);
  }
  const lineOf = (host, i) => `Dec  5 10:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} ${host} sshd[${2000 + i}]: Accepted publickey for deploy from 10.0.8.${(i % 200) + 1} port ${50000 + i} ssh2`;
  await sleep(1500);
  for (const a of agents) appendFileSync(a.log, Array.from({ length: 300 }, (_, i) => `${lineOf(a.host, i)}\n`).join(''));
  process.stdout.write('300 sshd lines written on each host\n');

  // Until every host's vault lag is zero (the agent's own status).
  for (const a of agents) {
    for (;;) {
      const r = custody('agent', 'status', '--store', a.store, '--json');
      const s = r.status === 0 ? JSON.parse(r.stdout) : undefined;
      if (s && (s.records.byKind['log.line'] ?? 0) === 300 && s.vault?.lagRecords === 0) break;
      await sleep(500);
    }
  }
  say('custody agent status --store web-01/store (the vault section)');
  process.stdout.write(custody('agent', 'status', '--store', agents[0].store).stdout.split('\n').filter((l) => /^(vault|  lag|  shipped|  last error|  outage)/.test(l)).join('\n') + '\n');

  say(`custody vault hosts ${VAULT}`);
  show(custody('vault', 'hosts', VAULT));

  say('the attacker on web-02 deletes the store outright');
  const web02 = agents[1];
  web02.child.kill('SIGKILL');
  await web02.exited;
  rmSync(web02.store, { recursive: true, force: true });
  process.stdout.write(`rm -rf ${web02.store}\n`);

  say('the attacker on db-01 rolls the store back: newer seals erased with every local trace');
  const db01 = agents[2];
  db01.child.kill('SIGKILL');
  await db01.exited;
  {
    const db = new Database(join(db01.store, 'evidence.sqlite'));
    db.pragma('foreign_keys = OFF');
    for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all()) db.exec(`DROP TRIGGER ${name}`);
    const first = db.prepare('SELECT id, tree_size FROM checkpoints ORDER BY id LIMIT 1').get();
    db.prepare('DELETE FROM checkpoints WHERE id > ?').run(first.id);
    db.prepare('DELETE FROM records WHERE seq >= ?').run(first.tree_size);
    db.prepare('DELETE FROM tsa_tokens WHERE checkpoint_id NOT IN (SELECT id FROM checkpoints)').run();
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'`).run(first.tree_size - 1);
    db.prepare(`UPDATE sqlite_sequence SET seq = (SELECT MAX(id) FROM checkpoints) WHERE name = 'checkpoints'`).run();
    db.prepare(`UPDATE sqlite_sequence SET seq = (SELECT COALESCE(MAX(id), 0) FROM tsa_tokens) WHERE name = 'tsa_tokens'`).run();
    db.close();
    process.stdout.write(`db-01's store now ends at record ${first.tree_size - 1}, sealed by its first checkpoint\n`);
  }
  say(`custody verify ${db01.store}   (the store alone cannot tell)`);
  const alone = custody('verify', db01.store);
  show(alone);
  process.stdout.write(`exit ${alone.status}\n`);
  say(`custody verify ${db01.store} --vault ${VAULT}   (the vault's seals can)`);
  const against = custody('verify', db01.store, '--vault', VAULT);
  show(against);
  process.stdout.write(`exit ${against.status}\n`);

  say('web-01 stops cleanly (SIGTERM: a final checkpoint, shipped before it exits)');
  agents[0].child.kill('SIGTERM');
  await agents[0].exited;

  const bundle = join(work, 'case-DEMO-VAULT');
  say(`custody collect --case DEMO-VAULT --vault ${VAULT} --all-hosts --no-report --out ${bundle}`);
  const collected = custody('collect', '--case', 'DEMO-VAULT', '--vault', VAULT, '--all-hosts', '--no-report', '--out', bundle);
  show(collected);
  if (collected.status !== 0) throw new Error(`collect failed (exit ${collected.status})`);

  say(`custody verify ${bundle}`);
  const verified = custody('verify', bundle);
  show(verified);
  process.stdout.write(`exit ${verified.status}\n`);
  const web02Lines = spawnSync('grep', ['-rc', 'web-02 sshd', join(bundle)], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /:[1-9]/.test(l));
  process.stdout.write(`web-02's lines are in the bundle (from the vault alone): ${web02Lines.length > 0 ? 'yes' : 'no'}\n`);
  say(`done; everything is under ${work} (the vault is stopped and deleted now)`);
} finally {
  for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  spawnSync('bash', [join(root, 'scripts', 'vault', 'rgw-stop.sh'), rgwDir, '--purge'], { encoding: 'utf8' });
}
