// The built-in demo: `npm run demo`. Runs the real agent on a throw-away folder, generates
// realistic activity (kernel USB connects, sshd logons, auditd reads of a customer-data folder, a
// log rotation), collects case DEMO-001 into a sealed bundle while the agent runs, stops the agent,
// verifies the store and the bundle's .tar against the pinned enrollment fingerprint, and shows that
// changing one sealed byte is caught and named. Needs nothing but Node and `npm ci`.
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'custody-demo-'));
const store = join(work, 'store');
const logs = join(work, 'logs');
mkdirSync(logs);

const say = (text) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const custody = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- the activity ----------------------------------------------------------------------------
// Yesterday, in UTC (the agent reads year-less syslog times as UTC unless told a zone): the story's
// syslog lines and its audit records then fall on the same day, whose year the parser infers right.
const storyDate = new Date(Date.now() - 86_400_000);
const [Y, M, D] = [storyDate.getUTCFullYear(), storyDate.getUTCMonth(), storyDate.getUTCDate()];
const day = `${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][M]} ${String(D).padStart(2, ' ')}`;
const kern = [
  `${day} 09:14:02 ws-07 kernel: [ 8123.441201] usb 1-2: new high-speed USB device number 7 using xhci_hcd`,
  `${day} 09:14:02 ws-07 kernel: [ 8123.593310] usb 1-2: New USB device found, idVendor=0951, idProduct=1666, bcdDevice= 1.10`,
  `${day} 09:14:02 ws-07 kernel: [ 8123.593315] usb 1-2: New USB device strings: Mfr=1, Product=2, SerialNumber=3`,
  `${day} 09:14:02 ws-07 kernel: [ 8123.593317] usb 1-2: Product: DataTraveler 3.0`,
  `${day} 09:14:02 ws-07 kernel: [ 8123.593318] usb 1-2: Manufacturer: Kingston`,
  `${day} 09:14:02 ws-07 kernel: [ 8123.593320] usb 1-2: SerialNumber: 60A44C413E4AF0B1A9C3012F`,
  `${day} 09:14:02 ws-07 kernel: [ 8123.601122] usb-storage 1-2:1.0: USB Mass Storage device detected`,
  `${day} 09:14:03 ws-07 kernel: [ 8124.632114] sd 6:0:0:0: [sdb] Attached SCSI removable disk`,
  `${day} 09:31:47 ws-07 kernel: [ 9188.120448] usb 1-2: USB disconnect, device number 7`,
];
const auth = [];
for (let i = 0; i < 6; i++) {
  auth.push(`${day} 08:5${i}:1${i} ws-07 sshd[${4100 + i}]: Failed password for svc-backup from 203.0.113.45 port ${51000 + i} ssh2`);
}
auth.push(`${day} 08:57:02 ws-07 sshd[4107]: Accepted password for svc-backup from 203.0.113.45 port 51007 ssh2`);
auth.push(`${day} 08:57:02 ws-07 sshd[4107]: pam_unix(sshd:session): session opened for user svc-backup(uid=1003) by (uid=0)`);
auth.push(`${day} 09:02:40 ws-07 sudo: svc-backup : TTY=pts/0 ; PWD=/home/svc-backup ; USER=root ; COMMAND=/usr/bin/tar czf /tmp/x.tgz /srv/customer-data`);
const audit = [];
const customerFiles = ['customers-2026Q3.csv', 'customers-2026Q4.csv', 'invoices.xlsx', 'contacts.db'];
customerFiles.forEach((name, i) => {
  // Read with tar at 09:10–09:13, a few minutes before the stick is connected at 09:14.
  const t = `${Date.UTC(Y, M, D, 9, 10 + i) / 1000}.${100 + i}`;
  audit.push(
    `type=SYSCALL msg=audit(${t}:${880 + i}): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=4107 pid=${4200 + i} auid=1003 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=12 comm="tar" exe="/usr/bin/tar" key="custody-customer-data"`,
    `type=CWD msg=audit(${t}:${880 + i}): cwd="/srv/customer-data"`,
    `type=PATH msg=audit(${t}:${880 + i}): item=0 name="${name}" inode=${13000 + i} dev=fd:01 mode=0100640 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
    `type=PROCTITLE msg=audit(${t}:${880 + i}): proctitle=746172002D637A66002F746D702F782E74677A`,
  );
});
// Some ordinary noise so the evidence is not only the story.
const syslog = Array.from({ length: 400 }, (_, i) => `${day} 09:${String(10 + Math.floor(i / 20)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} ws-07 CRON[${9000 + i}]: (root) CMD (run-parts /etc/cron.hourly)`);

const lines = (arr) => `${arr.join('\n')}\n`;

say(`demo folder: ${work}`);
say('1. start the agent (first run creates the store and its enrollment key)');
const agent = spawn(process.execPath, [cli, 'agent', 'run', '--store', store, '--watch', join(logs, '*.log'), '--log-level', 'warn'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let agentOut = '';
agent.stdout.setEncoding('utf8').on('data', (d) => {
  agentOut += d;
  process.stdout.write(d.replace(/^/gm, '   agent: '));
});
const started = Date.now();
while (!/SHA256:\S+/.test(agentOut)) {
  if (Date.now() - started > 30_000 || agent.exitCode !== null) throw new Error('the agent did not start; see its messages above');
  await sleep(50);
}
const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec(agentOut)[0];

say('2. activity on the host: sshd brute force then success, a USB stick, reads of /srv/customer-data, cron noise, a rotation');
writeFileSync(join(logs, 'auth.log'), lines(auth.slice(0, 3)));
writeFileSync(join(logs, 'kern.log'), '');
writeFileSync(join(logs, 'audit.log'), '');
writeFileSync(join(logs, 'syslog.log'), lines(syslog.slice(0, 200)));
await sleep(300);
appendFileSync(join(logs, 'auth.log'), lines(auth.slice(3)));
appendFileSync(join(logs, 'kern.log'), lines(kern));
appendFileSync(join(logs, 'audit.log'), lines(audit));
// logrotate's default: rename, then a new file at the same path.
renameSync(join(logs, 'syslog.log'), join(logs, 'syslog.log.1'));
writeFileSync(join(logs, 'syslog.log'), lines(syslog.slice(200)));
const expected = auth.length + kern.length + audit.length + syslog.length;
console.log(`   wrote ${expected} log lines in 4 files`);

say('3. wait until every line is sealed in the store and read into typed evidence (custody agent status --json)');
// What the story above must yield once the agent has read it: each failed and accepted sshd logon,
// each audited read, the stick's connect and disconnect.
const storyEvidence = { 'auth.logon': 7, 'file.access': customerFiles.length, 'usb.connect': 1, 'usb.disconnect': 1 };
let status;
for (const t0 = Date.now(); ; ) {
  const r = custody('agent', 'status', '--store', store, '--json');
  if (r.status === 0) {
    status = JSON.parse(r.stdout);
    const byKind = status.records.byKind;
    if ((byKind['log.line'] ?? 0) >= expected && Object.entries(storyEvidence).every(([k, n]) => (byKind[k] ?? 0) >= n)) break;
  }
  if (Date.now() - t0 > 60_000) throw new Error(`timed out: the store holds ${status?.records.byKind['log.line'] ?? 0} of ${expected} lines`);
  await sleep(200);
}
console.log(`   ${status.records.byKind['log.line']} log lines preserved, ${status.records.total} records in all`);
const derivedCounts = (byKind) => ['auth.logon', 'file.access', 'usb.connect', 'usb.disconnect'].map((k) => `${byKind[k] ?? 0} ${k}`).join(', ');
console.log(`   typed evidence derived from the preserved lines, each naming the seqs it was read from: ${derivedCounts(status.records.byKind)}`);

say('4. incident: the responder collects case DEMO-001 while the agent keeps running');
const bundle = join(work, 'DEMO-001');
// Discovered now; the customer folder is what matters. The draft report goes inside the seal.
const discoveredAt = new Date().toISOString();
const caseSettings = ['--discovered-at', discoveredAt, '--sensitive', '/srv/customer-data/**'];
const collected = custody('collect', '--case', 'DEMO-001', '--store', store, '--examiner', 'Demo Responder, Example Corp', '--out', bundle, '--tar', ...caseSettings);
process.stdout.write(collected.stdout.replace(/^/gm, '   '));
if (collected.status !== 0) throw new Error(`collect exited ${collected.status}: ${collected.stderr}`);

say('5. stop the agent (SIGTERM: it commits, signs a final checkpoint and exits 0)');
agent.kill('SIGTERM');
const code = await new Promise((r) => agent.once('exit', r));
console.log(`   agent exited ${code}`);
const after = JSON.parse(custody('agent', 'status', '--store', store, '--json').stdout);
console.log(`   the store now holds ${after.records.total} records (the agent's stop and final checkpoint added since collection)`);

say(`6. verify the store against the enrollment fingerprint recorded at install: ${fingerprint}`);
const verified = custody('verify', store, '--key', fingerprint);
process.stdout.write(verified.stdout.replace(/^/gm, '   '));
if (verified.status !== 0) throw new Error(`verify exited ${verified.status}: ${verified.stderr}`);

say('7. the vendor verifies the sealed bundle as received (the .tar), trusting nothing but the pinned fingerprint');
const vendor = custody('verify', `${bundle}.tar`, '--agent-key', fingerprint);
process.stdout.write(vendor.stdout.replace(/^/gm, '   '));
if (vendor.status !== 0) throw new Error(`bundle verify exited ${vendor.status}: ${vendor.stderr}`);

say('8. the vendor writes the investigation report of the verified bundle (beside it: the bundle stays sealed)');
const reported = custody('report', `${bundle}.tar`, ...caseSettings, '--agent-key', fingerprint);
process.stdout.write(reported.stdout.replace(/^/gm, '   '));
if (reported.status !== 0) throw new Error(`report exited ${reported.status}: ${reported.stderr}`);

say('9. an attacker with root edits one sealed line directly in SQLite and recomputes its hash');
const tampered = join(work, 'store-tampered');
cpSync(store, tampered, { recursive: true });
const db = new Database(join(tampered, 'evidence.sqlite'));
for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all()) db.exec(`DROP TRIGGER ${name}`);
const row = db.prepare(`SELECT seq FROM records WHERE CAST(bytes AS TEXT) LIKE '%Accepted password for svc-backup%'`).get();
db.prepare(`UPDATE records SET bytes = CAST(replace(CAST(bytes AS TEXT), '203.0.113.45', '10.0.0.99') AS BLOB) WHERE seq = ?`).run(row.seq);
const { bytes } = db.prepare('SELECT bytes FROM records WHERE seq = ?').get(row.seq);
const leaf = createHash('sha256').update(Buffer.from([0])).update(bytes).digest(); // RFC 6962 leaf hash
db.prepare('UPDATE records SET leaf_hash = ? WHERE seq = ?').run(leaf, row.seq);
db.close();
console.log(`   changed the source IP of seq ${row.seq} from 203.0.113.45 to 10.0.0.99`);
const caught = custody('verify', tampered, '--key', fingerprint);
process.stdout.write(caught.stdout.replace(/^/gm, '   '));
console.log(`   verify exited ${caught.status} (1 = integrity failure)`);

say('done');
console.log(`   store:          ${store}`);
console.log(`   bundle:         ${bundle} (and ${bundle}.tar); its timeline is in timeline/, its tables in tables/, the draft report in report/`);
console.log(`   report:         ${bundle}-report/report.html (English), report.ja.html (Japanese); open either in a browser`);
console.log(`   tampered copy:  ${tampered}`);
console.log(`   try:            node dist/src/cli.js agent status --store ${store}`);
