import { describe, expect, it } from 'vitest';
import { liveSourcesFromState } from '../../agent/status.js';

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
