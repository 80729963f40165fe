/**
 * Numbered sshd lines of one followed file, as the agent records them in `log.line` payloads: each
 * line starts after the previous one and its newline (verify checks the offsets), so a burst of
 * them verifies as a store the agent could have written.
 */
export const sshdText = (i: number): string =>
  `Nov 23 10:${String(i % 60).padStart(2, '0')}:00 web-01 sshd[${1000 + i}]: Failed password for root from 203.0.113.${i % 250} port ${40000 + i} ssh2`;

/** A `log.line` payload maker for /var/log/auth.log; offsets are computed once, in order, and kept. */
export function sshdLines(): (i: number) => { path: string; dev: string; ino: string; offset: number; line_no: number; length: number; text: string } {
  const offsets = [0];
  return (i: number) => {
    while (offsets.length <= i) offsets.push((offsets.at(-1) as number) + Buffer.byteLength(sshdText(offsets.length - 1)) + 1);
    const text = sshdText(i);
    return { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: offsets[i] as number, line_no: i + 1, length: Buffer.byteLength(text), text };
  };
}
