// What the benchmarks share: the store and collect benchmarks' auth.log corpus, how they read peak
// memory, and how the agent benchmarks name the installed service's node flags and environment.
import { readFileSync } from 'node:fs';

/** A realistic auth.log line of ~150 bytes for record `i` on `host`. */
export function authLine(i, host = 'web-01') {
  const users = ['alice', 'bob', 'carol', 'deploy', 'backup', 'root'];
  const user = users[i % users.length];
  const hh = String(Math.floor(i / 3600) % 24).padStart(2, '0');
  const mm = String(Math.floor(i / 60) % 60).padStart(2, '0');
  const ss = String(i % 60).padStart(2, '0');
  const kinds = [
    `Accepted publickey for ${user} from 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} port ${40000 + (i % 20000)} ssh2: ED25519 SHA256:q3JzX0l8mA7dWnq9vC1bV4k${i % 10}`,
    `pam_unix(sshd:session): session opened for user ${user}(uid=${1000 + (i % 50)}) by (uid=0), tty none, remote 10.0.${i % 250}.${(i * 7) % 250}`,
    `Failed password for invalid user ${user}${i % 1000} from 203.0.113.${i % 250} port ${30000 + (i % 30000)} ssh2 [preauth] attempt ${i % 6}`,
  ];
  return `Nov 23 ${hh}:${mm}:${ss} ${host} sshd[${10000 + (i % 50000)}]: ${kinds[i % kinds.length]}`;
}

/** This process's peak RSS in MiB (VmHWM on Linux, all threads). */
export function peakRssMiB() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back below
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** `node FLAGS`, NAME=value …: how the agent benchmarks name the installed service (agent/install.ts) in their tables. */
export function installedService(nodeFlags, environment) {
  return `\`node ${nodeFlags.join(' ')}\`, ${Object.entries(environment).map(([k, v]) => `${k}=${v}`).join(' ')}`;
}
