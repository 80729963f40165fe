/**
 * `importFiles` on the issue-13 Windows samples: the WMIexec Security log, the Server 2022 Sysmon
 * log and the TerminalServices VSS log are preserved and read into `process.exec`, `net.access` and
 * the RDP `auth.logon` through the same mapper as the unit tests, each naming its `log.file` seq and
 * where in the file it came from; the process tree links the imported records; the store verifies.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../../collector/import.js';
import { verifyStoreDir } from '../../collector/verify.js';
import type { EvidenceRecord, PayloadOf } from '../../src/records/schema.js';
import { linkProcesses } from '../../src/report/process-tree.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { EVTX_SAMPLES } from '../helpers/evtx-samples.js';
import { allRecords, tempDir } from '../helpers/ingest-harness.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const WMIEXEC = `${FIX}${EVTX_SAMPLES.wmiexec}`;
const SYSMON = `${FIX}${EVTX_SAMPLES.server2022Sysmon}`;
const RDP = `${FIX}${EVTX_SAMPLES.rdpVss}`;

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('import-exec');
});
afterAll(() => tmp.cleanup());

describe('custody import: Windows program execution, share access and RDP', () => {
  it('reads the samples into process.exec, net.access and auth.logon, each traced to its file and event', async () => {
    const storeDir = join(tmp.dir, 'store');
    const summary = importFiles(storeDir, [WMIEXEC, SYSMON, RDP], { host: 'responder' });
    const by = (f: string): (typeof summary.files)[number] => summary.files.find((x) => x.path === resolve(f))!;
    // The counts the unit and oracle tests establish for the same files.
    expect(by(WMIEXEC)).toMatchObject({ format: 'evtx', records: { 'auth.logon': 5, 'process.exec': 6, 'net.access': 48 } });
    expect(by(SYSMON)).toMatchObject({ format: 'evtx', records: { 'process.exec': 848 }, failures: {} });
    expect(by(RDP)).toMatchObject({ format: 'evtx', records: { 'auth.logon': 5 } });
    // The VSS copy's damaged chunks are reported, not hidden.
    expect(Object.keys(by(RDP).failures)).toContain('evtx.records_crc');

    const store = EvidenceStore.open(storeDir);
    let recs: EvidenceRecord[];
    try {
      recs = allRecords(store);
    } finally {
      store.close();
    }
    const from = (f: string, kind: string): EvidenceRecord[] => recs.filter((r) => r.kind === kind && (r.payload as { derived_from: number[] }).derived_from[0] === by(f).seq);

    const cmd = from(WMIEXEC, 'process.exec').find((r) => (r.payload as { extra: Record<string, string> }).extra['record_id'] === '463010')!;
    expect(cmd.payload).toMatchObject({
      derived_from: [by(WMIEXEC).seq],
      action: 'start',
      exe: 'C:\\Windows\\System32\\cmd.exe',
      user: 'OFFSEC\\admmig',
      parent_exe: 'C:\\Windows\\System32\\wbem\\WmiPrvSE.exe',
      extra: { file_offset: expect.stringMatching(/^\d+$/) as unknown, record_number: '22' },
    });
    const share = from(WMIEXEC, 'net.access').find((r) => (r.payload as { extra: Record<string, string> }).extra['record_id'] === '463014')!;
    expect(share.payload).toMatchObject({ service: 'smb', share: '\\\\*\\ADMIN$', target: '__1619425227.894209', client_ip: '10.23.123.11', user: 'admmig' });
    const rdp = from(RDP, 'auth.logon');
    expect(rdp.every((r) => (r.payload as { service: string }).service === 'rdp')).toBe(true);
    expect(rdp.map((r) => (r.payload as { from_ip: string }).from_ip)).toContain('103.11.244.223');

    // The report's process tree over what was imported: the same links as over the mapper's output.
    const execs = recs.filter((r) => r.kind === 'process.exec').map((r) => {
      const p = r.payload as PayloadOf<'process.exec'>;
      return { seq: r.seq, host: p.event_host ?? r.host, observedAt: r.observed_at, payload: p };
    });
    const tree = linkProcesses(execs);
    expect([...tree.parents.values()].filter((l) => l.by === 'process_guid')).toHaveLength(396);
    expect([...tree.parents.values()].filter((l) => l.by === 'pid+exe')).toHaveLength(3);
    expect(tree.ends.size).toBe(417);

    const result = await verifyStoreDir(storeDir);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
  });
});
