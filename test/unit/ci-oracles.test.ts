/**
 * Where CI runs (CI set), every independent tool the suite compares custody against must be there:
 * the oracle tests skip themselves where a tool is missing (a developer's machine), and a CI run
 * whose comparisons silently did not run would pass for the wrong reason. .ci/run installs them.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const TOOLS = ['sqlite3', 'openssl', 'ausearch', 'utmpdump', 'evtxexport', 'evtx_dump.py', 'goaccess', 'hashdeep', 'sha256sum', 'udevadm', 'chromium', 'radosgw', 'ceph-mon', 'ceph-osd'];

function have(tool: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
}

describe.runIf(process.env['CI'])('in CI', () => {
  it('every oracle tool the suite compares against is installed (.ci/run installs them)', () => {
    expect(TOOLS.filter((t) => !have(t))).toEqual([]);
  });
});

