/**
 * `custody vault init|hosts` as a user runs them: the built CLI (npm run build first) against a real
 * RGW, credentials from the environment, exit codes 0 / 2, errors by their stable code, secrets
 * never printed, and no SDK notices on stderr.
 */
import { spawnSync } from 'node:child_process';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { openVault } from '../../collector/vault.js';
import { checkpointKey } from '../../src/vault/layout.js';
import { CLI } from '../helpers/cli.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';

/** The CLI with exactly the given AWS settings: none of the caller's own AWS environment leaks in. */
function custody(env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...base, HOME: '/nonexistent', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(skipWithoutRgw())('custody vault (built CLI, real RGW)', () => {
  const rgw = useRgw();
  /** What a user has after `set -a; . DIR/s3.env; set +a` — without the SDK-notice switch the tests set for themselves. */
  const userEnv = (): Record<string, string> => ({
    AWS_ENDPOINT_URL: rgw.endpoint,
    AWS_REGION: rgw.region,
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
  });

  it('init creates, init again checks, hosts lists what was shipped', async () => {
    const url = `s3://cli-${process.pid}-a`;
    const first = custody(userEnv(), 'vault', 'init', url, '--retention', '3d');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`vault ${url}: created`);
    expect(first.stdout).toContain('default retention compliance 3 days');

    const again = custody(userEnv(), 'vault', 'init', url, '--retention', '3d', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, ruleAdded: false, defaultRetention: { mode: 'COMPLIANCE', days: 3 }, warnings: [] });

    const client = openVault({ url, env: rgw.env });
    await client.putOnce(checkpointKey('', 'web-01', 'c'.repeat(32), 42, 3), new TextEncoder().encode('note'));
    client.destroy();
    const hosts = custody(userEnv(), 'vault', 'hosts', url, '--json');
    expect(hosts.code).toBe(0);
    const parsed = JSON.parse(hosts.stdout) as { hosts: { host: string; storeId: string; newestCheckpoint: { treeSize: number } }[] };
    expect(parsed.hosts.map((h) => [h.host, h.storeId, h.newestCheckpoint.treeSize])).toEqual([['web-01', 'c'.repeat(32), 42]]);
    const table = custody(userEnv(), 'vault', 'hosts', url);
    expect(table.stdout).toMatch(new RegExp(`^web-01\\s+${'c'.repeat(32)}\\s+42\\s+\\d{4}-`, 'm'));
  });

  it('hosts: a host name put in the vault by hand with terminal escapes and a bidi override is shown escaped, as text and as JSON', async () => {
    const url = `s3://cli-${process.pid}-hostile`;
    expect(custody(userEnv(), 'vault', 'init', url, '--retention', '1d').code).toBe(0);
    const hostile = '\x1b[2J\x1b]0;owned\x07<img src=x>ev\u202eil\u0085';
    const client = openVault({ url, env: rgw.env });
    await client.putOnce(checkpointKey('', hostile, 'd'.repeat(32), 7, 1), new TextEncoder().encode('note'));
    client.destroy();
    // C0 and C1 controls, DEL, and the format characters (bidi overrides) a terminal would act on.
    const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}]/u;
    const table = custody(userEnv(), 'vault', 'hosts', url);
    expect(table.code).toBe(0);
    expect(table.stdout).not.toMatch(unsafe);
    expect(table.stdout).toContain('\\x1b[2J\\x1b]0;owned\\x07<img src=x>ev\\u202eil\\x85');
    const json = custody(userEnv(), 'vault', 'hosts', url, '--json');
    expect(json.stdout).not.toMatch(unsafe);
    expect((JSON.parse(json.stdout) as { hosts: { host: string }[] }).hosts.map((h) => h.host)).toEqual([hostile]);
  });

  it('--endpoint overrides the environment (and a custom endpoint works path-style)', () => {
    const { AWS_ENDPOINT_URL: _unused, ...noEndpoint } = userEnv();
    const r = custody({ ...noEndpoint, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }, 'vault', 'init', `s3://cli-${process.pid}-b`, '--endpoint', rgw.endpoint);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses a bucket without Object Lock: exit 2, E_VAULT_NOT_LOCKABLE and the reason', async () => {
    const name = `cli-${process.pid}-plain`;
    const client = openVault({ url: `s3://${name}`, env: rgw.env });
    await client.s3.send(new CreateBucketCommand({ Bucket: name }));
    client.destroy();
    const r = custody(userEnv(), 'vault', 'init', `s3://${name}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Object Lock is not enabled on it .*\[E_VAULT_NOT_LOCKABLE\]/);
  });

  it('wrong credentials: exit 2, E_VAULT_ACCESS_DENIED, neither secret printed', () => {
    const wrong = 'ThisSecretIsWrongAndMustNotBePrinted0000';
    const r = custody({ ...userEnv(), AWS_SECRET_ACCESS_KEY: wrong }, 'vault', 'hosts', `s3://cli-${process.pid}-a`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[E_VAULT_ACCESS_DENIED]');
    expect(r.stderr).toContain('does not accept these credentials');
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain(wrong);
      expect(out).not.toContain(rgw.secretAccessKey);
    }
  });

  it('usage errors: exit 2 with E_USAGE', () => {
    for (const args of [
      ['vault', 'init', 'evidence'],
      ['vault', 'init', 's3://Evidence'],
      ['vault', 'init', `s3://cli-${process.pid}-c`, '--retention', '10s'],
      ['vault', 'init', `s3://cli-${process.pid}-c`, '--mode', 'legal'],
      ['vault', 'hosts', `s3://cli-${process.pid}-c`, '--endpoint', 'ftp://127.0.0.1'],
    ]) {
      const r = custody(userEnv(), ...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain('[E_USAGE]');
    }
  });
});
