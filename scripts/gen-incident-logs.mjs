#!/usr/bin/env node
// Writes a deterministic pair of logs shaped like a real incident's, for tests and benchmarks of
// `custody import` and the agent: a syslog (kernel USB sessions, sshd failures and logons, sudo,
// cron noise) and an auditd log (file reads under /srv/customer-data, SYSCALL + CWD + PATH +
// PROCTITLE per event). Same arguments, same bytes: two runs can be compared count for count.
//
//   node scripts/gen-incident-logs.mjs OUT_DIR [SYSLOG_LINES=200000]
//
// Writes OUT_DIR/syslog and OUT_DIR/audit.log and prints what they hold as JSON (the counts a
// correct import derives are in the tests that use it, measured once against the parsers).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A small deterministic generator (mulberry32), so the files do not depend on Math.random. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The two logs as strings. `syslogLines` is approximate (a USB session writes several lines at
 * once); the audit log has one event per ~20 syslog lines. Times start 2026-11-02 00:00:00 UTC and
 * advance about one second per syslog line.
 */
export function generateIncidentLogs(syslogLines = 200_000, seed = 14) {
  const random = rng(seed);
  const pick = (arr) => arr[Math.floor(random() * arr.length)];
  const start = Date.UTC(2026, 10, 2, 0, 0, 0);
  const users = ['alice', 'bob', 'carol', 'svc-backup', 'deploy', 'root'];
  const sticks = [
    ['0951', '1666', 'Kingston', 'DataTraveler 3.0'],
    ['0781', '5581', 'SanDisk', 'Ultra'],
    ['090c', '1000', 'Samsung', 'Flash Drive FIT'],
  ];
  const files = ['customers-2026Q3.csv', 'customers-2026Q4.csv', 'invoices.xlsx', 'contacts.db', 'payroll.ods'];
  const syslog = [];
  const audit = [];
  let ms = start;
  let auditSerial = 1000;
  let devnum = 2;
  let uptime = 5000;
  const stamp = () => {
    const d = new Date(ms);
    const clock = d.toISOString().slice(11, 19);
    return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${clock}`;
  };
  while (syslog.length < syslogLines) {
    ms += 200 + Math.floor(random() * 1600);
    uptime += 1.3;
    const r = random();
    const host = 'ws-07';
    if (r < 0.004) {
      const [vid, pid, mfr, product] = pick(sticks);
      const serial = `${vid}${pid}${String(devnum).padStart(12, '0')}`.toUpperCase();
      const port = `1-${1 + (devnum % 3)}`;
      const k = (t) => `${stamp()} ${host} kernel: [${t.toFixed(6).padStart(12, ' ')}] `;
      devnum++;
      syslog.push(
        `${k(uptime)}usb ${port}: new high-speed USB device number ${devnum} using xhci_hcd`,
        `${k(uptime + 0.1)}usb ${port}: New USB device found, idVendor=${vid}, idProduct=${pid}, bcdDevice= 1.10`,
        `${k(uptime + 0.1)}usb ${port}: New USB device strings: Mfr=1, Product=2, SerialNumber=3`,
        `${k(uptime + 0.1)}usb ${port}: Product: ${product}`,
        `${k(uptime + 0.1)}usb ${port}: Manufacturer: ${mfr}`,
        `${k(uptime + 0.1)}usb ${port}: SerialNumber: ${serial}`,
        `${k(uptime + 0.2)}usb-storage ${port}:1.0: USB Mass Storage device detected`,
      );
      ms += 60_000;
      uptime += 60;
      syslog.push(`${k(uptime)}usb ${port}: USB disconnect, device number ${devnum}`);
    } else if (r < 0.25) {
      const user = pick(users);
      const ip = `203.0.113.${1 + Math.floor(random() * 250)}`;
      const pidN = 4000 + Math.floor(random() * 60000);
      const port = 40000 + Math.floor(random() * 20000);
      if (random() < 0.8) syslog.push(`${stamp()} ${host} sshd[${pidN}]: Failed password for ${user} from ${ip} port ${port} ssh2`);
      else {
        syslog.push(`${stamp()} ${host} sshd[${pidN}]: Accepted password for ${user} from ${ip} port ${port} ssh2`);
        syslog.push(`${stamp()} ${host} sshd[${pidN}]: pam_unix(sshd:session): session opened for user ${user}(uid=1003) by (uid=0)`);
      }
    } else if (r < 0.27) {
      const user = pick(users);
      syslog.push(`${stamp()} ${host} sudo: ${user} : TTY=pts/0 ; PWD=/home/${user} ; USER=root ; COMMAND=/usr/bin/tar czf /tmp/x.tgz /srv/customer-data`);
    } else {
      syslog.push(`${stamp()} ${host} CRON[${9000 + (syslog.length % 50000)}]: (root) CMD (run-parts /etc/cron.hourly)`);
    }
    if (syslog.length % 20 === 0) {
      const t = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}:${auditSerial++}`;
      const name = pick(files);
      const pidN = 4200 + (auditSerial % 30000);
      audit.push(
        `type=SYSCALL msg=audit(${t}): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=4107 pid=${pidN} auid=1003 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=12 comm="tar" exe="/usr/bin/tar" key="custody-customer-data"`,
        `type=CWD msg=audit(${t}): cwd="/srv/customer-data"`,
        `type=PATH msg=audit(${t}): item=0 name="${name}" inode=${13000 + (auditSerial % 5)} dev=fd:01 mode=0100640 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
        `type=PROCTITLE msg=audit(${t}): proctitle=746172002D637A66002F746D702F782E74677A`,
      );
    }
  }
  return { syslog: `${syslog.join('\n')}\n`, audit: `${audit.join('\n')}\n`, syslogLines: syslog.length, auditLines: audit.length };
}

/** Writes OUT/syslog and OUT/audit.log; returns their paths and line counts. */
export function writeIncidentLogs(outDir, syslogLines = 200_000, seed = 14) {
  const g = generateIncidentLogs(syslogLines, seed);
  mkdirSync(outDir, { recursive: true });
  const syslog = join(outDir, 'syslog');
  const audit = join(outDir, 'audit.log');
  writeFileSync(syslog, g.syslog);
  writeFileSync(audit, g.audit);
  return { syslog, audit, syslogLines: g.syslogLines, auditLines: g.auditLines };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node scripts/gen-incident-logs.mjs OUT_DIR [SYSLOG_LINES]\n');
    process.exit(2);
  }
  const n = process.argv[3] === undefined ? 200_000 : Number(process.argv[3]);
  process.stdout.write(`${JSON.stringify(writeIncidentLogs(out, n))}\n`);
}
