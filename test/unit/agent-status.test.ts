import { describe, expect, it } from 'vitest';
import { formatAgentStatus, liveSourcesFromState, type AgentStatusReport } from '../../agent/status.js';

describe('liveSourcesFromState', () => {
  it('reads what the live sources saved, and skips what is not a source (the state DB is only a cache)', () => {
    expect(liveSourcesFromState(undefined)).toEqual([]);
    expect(liveSourcesFromState({ name: 'usb' })).toEqual([]);
    const rows = liveSourcesFromState([
      null,
      'usb',
      { state: 'running' },
      { name: 'journald', state: 'unavailable', detail: 'journalctl is not installed', records: 0, restarts: 2, cursor: 's=abc', nested: { x: 1 } },
      { name: 'watch', state: 'running', records: 3, last_seq: 41, last_error: 'EACCES /srv/x', folders: ['/srv/a', '/srv/b'], huge: Number.POSITIVE_INFINITY },
    ]);
    expect(rows).toEqual([
      { name: 'journald', state: 'unavailable', detail: 'journalctl is not installed', records: 0, facts: { restarts: 2, cursor: 's=abc' } },
      { name: 'watch', state: 'running', records: 3, lastSeq: 41, lastError: 'EACCES /srv/x', facts: { folders: '/srv/a, /srv/b' } },
    ]);
  });
});

describe('formatAgentStatus: the vault section', () => {
  const base: AgentStatusReport = {
    store: '/var/lib/custody',
    agent: { running: false, stoppedAt: '2026-12-05T13:40:00.000Z', stopReason: 'signal SIGTERM' },
    records: { total: 20_120, sealed: 20_100, unsealed: 20, byKind: {} },
    keyEpoch: 0,
    sources: [],
    liveSources: [],
    gaps: { count: 0, latest: [] },
    storeSize: { evidenceBytes: 0, walBytes: 0, stateBytes: 0, totalBytes: 0 },
  };
  const now = Date.parse('2026-12-05T13:42:00.000Z');

  it('says how far behind the vault is, what failed and since when the outage runs', () => {
    const text = formatAgentStatus(
      {
        ...base,
        vault: {
          vault: 's3://acme-evidence/fleet',
          endpoint: 'https://s3.example.net',
          state: 'failing',
          lagRecords: 1834,
          lagBytes: 422_605,
          lagCheckpoints: 4,
          oldestUnshipped: '2026-12-05T13:40:02.118311Z',
          shippedRecords: 18_234,
          shippedCheckpointId: 212,
          lastSuccessAt: '2026-12-05T13:40:05.002Z',
          failures: 9,
          lastError: 'put failed: ECONNREFUSED',
          lastErrorCode: 'E_VAULT_UNREACHABLE',
          lastErrorAt: '2026-12-05T13:41:58.000Z',
          outageSince: '2026-12-05T13:40:09.561Z',
          outageSeq: 20_113,
        },
      },
      now,
    );
    expect(text).toContain('vault        s3://acme-evidence/fleet at https://s3.example.net: failing (as the agent last reported)\n');
    expect(text).toContain('  lag        1834 records (412.7 KiB), 4 checkpoints, oldest unshipped record observed 2026-12-05T13:40:02.118311Z (118 s ago)\n');
    expect(text).toContain('  shipped    18234 records, checkpoints up to #212; last success 2026-12-05T13:40:05.002Z (115 s ago)\n');
    expect(text).toContain('  last error put failed: ECONNREFUSED [E_VAULT_UNREACHABLE] at 2026-12-05T13:41:58.000Z; 9 failed round(s) in a row\n');
    expect(text).toContain('  outage     since 2026-12-05T13:40:09.561Z (vault.unreachable, seq 20113)\n');
  });

  it('has no vault section without a vault, and no error line while shipping has never failed', () => {
    expect(formatAgentStatus(base, now)).not.toContain('vault');
    const ok = formatAgentStatus({ ...base, vault: { vault: 's3://b-1', state: 'shipping', lagRecords: 0, lagBytes: 0, lagCheckpoints: 0, shippedRecords: 20_100, shippedCheckpointId: 7, failures: 0 } }, now);
    expect(ok).toContain('vault        s3://b-1: shipping (as the agent last reported)\n  lag        0 records (0 B), 0 checkpoints\n');
    expect(ok).not.toContain('last error');
    // An error from before the last success is shown as past.
    const recovered = formatAgentStatus({ ...base, vault: { vault: 's3://b-1', state: 'shipping', lagRecords: 0, lagBytes: 0, lagCheckpoints: 0, shippedRecords: 20_100, shippedCheckpointId: 7, failures: 0, lastError: 'head failed: ETIMEDOUT', lastErrorCode: 'E_VAULT_UNREACHABLE', lastErrorAt: '2026-12-05T13:30:00.000Z' } }, now);
    expect(recovered).toContain('  last error head failed: ETIMEDOUT [E_VAULT_UNREACHABLE] at 2026-12-05T13:30:00.000Z; shipping has succeeded since\n');
  });
});
