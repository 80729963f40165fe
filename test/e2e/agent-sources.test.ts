/**
 * The live sources end to end through the built CLI (`npx tsc -p tsconfig.json` first): a real
 * agent process with a sysfs-shaped tree and a watched folder in temp dirs, SIGTERM, then
 * `custody verify` of the store.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { CLI, custody } from '../helpers/cli.js';
import { makeSysfs } from '../helpers/sysfs-tree.js';
import { e2eWorkspace, sleep } from '../helpers/e2e-workspace.js';

const { dir, children } = e2eWorkspace('sources-e2e');

function byKind(store: string): Record<string, number> {
  const r = custody('agent', 'status', '--store', store, '--json');
  if (r.code !== 0) return {};
  return (JSON.parse(r.stdout) as { records: { byKind: Record<string, number> } }).records.byKind;
}

describe('custody agent run with live sources', () => {
  it('records usb.present from sysfs and file.change from a watched folder; stops on SIGTERM; the store verifies', async () => {
    const store = join(dir, 'store');
    const sys = join(dir, 'sys');
    const data = join(dir, 'customer-data');
    const logs = join(dir, 'logs');
    mkdirSync(data);
    mkdirSync(logs);
    makeSysfs(sys);
    writeFileSync(join(logs, 'app.log'), 'started\n');
    const config = join(dir, 'agent.yaml');
    writeFileSync(
      config,
      [
        'store: ./store',
        'sources:',
        '  files:',
        '    watch: [./logs/*.log]',
        '  usb:',
        '    sysfsRoot: ./sys',
        '    snapshotInterval: 1h',
        '    udev: false',
        '  watchFolders:',
        '    paths: [./customer-data]',
        'checkpoint: { interval: 1s }',
      ].join('\n'),
    );
    const agent = spawn(process.execPath, [CLI, 'agent', 'run', '--config', config, '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(agent);
    let stderr = '';
    agent.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    agent.stdout?.resume();
    while (!stderr.includes('"evt":"agent.ready"')) await sleep(50);
    writeFileSync(join(data, 'payroll.xlsx'), 'salaries\n');
    while (!((byKind(store)['file.change'] ?? 0) >= 1 && (byKind(store)['usb.present'] ?? 0) >= 1)) await sleep(100);
    // What an admin sees: each live source with its state and counts, while the agent runs. The
    // agent saves its status on its own tick, after the records are committed: wait for the change.
    const liveSources = (): string => {
      const status = custody('agent', 'status', '--store', store);
      expect(status.code).toBe(0);
      return status.stdout.slice(status.stdout.indexOf('live sources'));
    };
    let live = liveSources();
    while (/\n {2}watch +running; 0 records/.test(live)) {
      await sleep(100);
      live = liveSources();
    }
    expect(live).toMatch(/^live sources\n/);
    expect(live).toMatch(/\n {2}usb +running; .*sysfs running, .*devices present 1, udev disabled/);
    expect(live).toMatch(new RegExp(`\\n  watch +running; [1-9]\\d* records?; folders ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, files known`));
    const exit = new Promise<number | null>((res) => agent.on('exit', (code) => res(code)));
    agent.kill('SIGTERM');
    expect(await exit).toBe(0);

    const verify = custody('verify', store);
    expect(verify.stdout).toContain('VALID');
    expect(verify.code).toBe(0);

    const reader = new SqliteStoreReader(store);
    const records: EvidenceRecord[] = [];
    for (const row of reader.records()) records.push(decodeCanonical(row.bytes) as EvidenceRecord);
    reader.close();
    const present = records.filter((r) => r.kind === 'usb.present');
    expect(present[0]?.payload).toMatchObject({ vendor_id: '0781', product_id: '5567', serial: '4C530001230523116083', block_device: 'sdb', origin: 'sysfs' });
    const snapshot = records.find((r) => r.seq === (present[0]?.payload['derived_from'] as number[])[0]);
    expect(snapshot?.kind).toBe('log.file');
    const change = records.find((r) => r.kind === 'file.change');
    expect(change?.payload).toMatchObject({ operation: 'create', path: join(data, 'payroll.xlsx'), size: 9 });
    expect(records.at(-1)?.kind).toBe('agent.stop');
  });
});
