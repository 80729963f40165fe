/**
 * readEvtx on every real EVTX sample in test/fixtures (see test/fixtures/SOURCES.md): exact record
 * counts, chunk accounting, named failures, and spot field values checked against what evtxexport
 * (libevtx-utils) prints for the same records. The oracle test compares every record.
 */
import { describe, expect, it } from 'vitest';
import { readEvtx, type EvtxEvent } from '../../src/parsers/evtx/index.js';
import { EVTX_SAMPLES, loadFixture } from '../helpers/evtx-samples.js';

const load = loadFixture;



function countIds(records: EvtxEvent[]): Record<number, number> {
  const c: Record<number, number> = {};
  for (const r of records) c[r.eventId] = (c[r.eventId] ?? 0) + 1;
  return c;
}

interface Expect {
  file: string;
  records: number;
  chunks: number;
  recoveredChunks: number;
  badCrcChunks: number;
  failures: string[];
  first: [string, string];
  last: string;
  ids: Record<number, number>;
}

const expected: Expect[] = [
  { file: EVTX_SAMPLES.partitionUsb, records: 40, chunks: 3, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['1', '2020-11-29T18:22:10.278858Z'], last: '40', ids: { 1006: 40 } },
  { file: EVTX_SAMPLES.partitionWin11, records: 10, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['1', '2022-02-05T21:49:53.716421Z'], last: '10', ids: { 1006: 5, 1007: 5 } },
  // The header (dirty) accounts for 5 chunks; 7 hold records.
  { file: EVTX_SAMPLES.server2022Security, records: 583, chunks: 7, recoveredChunks: 2, badCrcChunks: 0, failures: ['evtx.recovered_chunks'], first: ['1', '2023-10-18T05:43:38.185003Z'], last: '583', ids: { 5379: 107, 4624: 72, 4735: 67, 4672: 61, 4688: 34, 4647: 1 } },
  // Dirty header says 3 chunks; 15 hold records (evtxexport and python-evtx read all 1881 too).
  { file: EVTX_SAMPLES.system, records: 1881, chunks: 15, recoveredChunks: 12, badCrcChunks: 0, failures: ['evtx.recovered_chunks'], first: ['1', '2017-07-12T17:16:28.214161Z'], last: '1881', ids: { 20001: 24, 20003: 16, 16: 394, 1: 211 } },
  { file: EVTX_SAMPLES.security, records: 2261, chunks: 26, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['1', '2016-07-08T18:12:51.681640Z'], last: '2261', ids: { 4624: 583, 4672: 459, 4648: 45, 4647: 36, 4634: 11, 1100: 36, 4907: 620 } },
  { file: EVTX_SAMPLES.securityShort, records: 7, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['319457771', '2016-06-29T15:24:34.346000Z'], last: '319457858', ids: { 5152: 2, 4611: 1, 4625: 1, 4673: 1, 4776: 1, 5157: 1 } },
  { file: EVTX_SAMPLES.newUser, records: 4, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['111', '2013-10-23T16:22:39.973500Z'], last: '116', ids: { 4720: 1, 4728: 1, 4732: 2 } },
  // No CRC32 anywhere: three named failures, all 17 records still read.
  { file: EVTX_SAMPLES.noCrc, records: 17, chunks: 1, recoveredChunks: 0, badCrcChunks: 1, failures: ['evtx.header_crc', 'evtx.chunk_crc', 'evtx.records_crc'], first: ['426', '2021-03-31T23:51:45.018767Z'], last: '442', ids: { 1003: 2 } },
  { file: EVTX_SAMPLES.printNightmare, records: 6, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['127530', '2021-10-27T10:34:49.837376Z'], last: '127567', ids: { 4688: 3, 4674: 2, 6416: 1 } },
  { file: EVTX_SAMPLES.systemNightmare, records: 53, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['2183518', '2021-10-08T12:56:58.803861Z'], last: '2183570', ids: { 4658: 20, 4656: 12, 4690: 10, 4688: 7, 6416: 2, 1102: 1, 4648: 1 } },
  { file: EVTX_SAMPLES.sethc, records: 20, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['465458', '2021-04-26T10:04:23.189864Z'], last: '465477', ids: { 4656: 19, 1102: 1 } },
  { file: EVTX_SAMPLES.mimikatz, records: 7, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['9217073', '2021-03-26T16:36:00.106986Z'], last: '9217079', ids: { 4656: 1, 4663: 1, 4658: 1 } },
  { file: EVTX_SAMPLES.taskmgrLsass, records: 2, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['38745', '2022-11-04T10:47:07.359929Z'], last: '38746', ids: { 4663: 2 } },
  { file: EVTX_SAMPLES.hiddenUser, records: 21, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['1934511', '2022-01-24T17:03:24.224938Z'], last: '1934531', ids: { 4656: 5, 4660: 1, 4688: 4 } },
  { file: EVTX_SAMPLES.sshBrute, records: 11, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['1865211', '2021-05-21T20:43:07.085039Z'], last: '1865231', ids: { 4625: 5, 4624: 2, 4648: 2, 4688: 2 } },
  // evtxexport and python-evtx read 0 records here (elements without dependency id); we read 11.
  { file: EVTX_SAMPLES.rdp, records: 11, chunks: 1, recoveredChunks: 0, badCrcChunks: 0, failures: [], first: ['6433', '2021-12-16T10:25:32.351835Z'], last: '1801', ids: { 1149: 11 } },
];

describe('readEvtx on the real samples', () => {
  it.each(expected)('$file', (x) => {
    const r = readEvtx(load(x.file));
    expect(r.records.length).toBe(x.records);
    expect(r.info.chunks).toBe(x.chunks);
    expect(r.info.recoveredChunks).toBe(x.recoveredChunks);
    expect(r.info.badCrcChunks).toBe(x.badCrcChunks);
    expect(r.info.unreadableRecords).toBe(0);
    expect(r.failures.map((f) => f.reason)).toEqual(x.failures);
    expect([r.records[0]?.recordId, r.records[0]?.timeCreated]).toEqual(x.first);
    expect(r.records.at(-1)?.recordId).toBe(x.last);
    const ids = countIds(r.records);
    for (const [id, n] of Object.entries(x.ids)) expect(ids[Number(id)], `EventID ${id}`).toBe(n);
    for (const e of r.records) expect(e.timeCreated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });

  it('reads the System section and EventData of a 5152 exactly as evtxexport prints them', () => {
    const e = readEvtx(load(EVTX_SAMPLES.securityShort)).records[0]!;
    expect(e).toMatchObject({
      recordId: '319457771',
      recordNumber: '1',
      eventId: 5152,
      provider: 'Microsoft-Windows-Security-Auditing',
      channel: 'Security',
      computer: 'temporal',
      level: 0,
      keywords: '0x8010000000000000',
      processId: 4,
      threadId: 80,
    });
    expect(e.data).toEqual({
      ProcessId: '0',
      Application: '-',
      Direction: '%%14592',
      SourceAddress: '23.94.153.202',
      SourcePort: '59639',
      DestAddress: '169.46.6.101',
      DestPort: '3389',
      Protocol: '6',
      FilterRTID: '67607',
      LayerName: '%%14597',
      LayerRTID: '13',
    });
  });

  it('renders value types as evtxexport does: SID, GUID, HexInt64, binary, FILETIME, bool', () => {
    const part = readEvtx(load(EVTX_SAMPLES.partitionUsb)).records.find((e) => e.recordId === '9')!;
    expect(part.data['DiskId']).toBe('{F966035B-40DE-9A80-EED2-3B1288958475}');
    expect(part.data['ParentId']).toBe('USB\\VID_13FE&PID_6300\\0701935D84A40B14');
    expect(part.data['Capacity']).toBe('31004295168');
    expect(part.data['BusType']).toBe('7');
    expect(part.data['IsSystemCritical']).toBe('false');
    expect(part.userSid).toBe('S-1-5-18');
    const first = readEvtx(load(EVTX_SAMPLES.partitionUsb)).records[0]!;
    expect(first.data['StorageId']).toBe(
      '202020202041544156424F5820484152444449534B002020202020202020202020202020202020202020202020202020564233623935653038642D353735623836353000',
    );
    const sys = readEvtx(load(EVTX_SAMPLES.system)).records;
    // A FILETIME substitution keeps its 100 ns precision.
    expect(sys.find((e) => e.data['StartTime'] !== undefined)?.data['StartTime']).toBe('2017-07-12T17:16:05.499259900Z');
    const logon = readEvtx(load(EVTX_SAMPLES.security)).records.find((e) => e.eventId === 4624)!;
    expect(logon.data['TargetLogonId']).toMatch(/^0x[0-9a-f]{16}$/);
    expect(logon.data['LogonGuid']).toMatch(/^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$/);
  });

  it('flattens UserData (UserPnp 20001) and repeats elements for array values (classic Data, Binary)', () => {
    const sys = readEvtx(load(EVTX_SAMPLES.system)).records;
    const pnp = sys.find((e) => e.recordId === '1044')!;
    expect(pnp.provider).toBe('Microsoft-Windows-UserPnp');
    expect(pnp.data['DeviceInstanceID']).toBe(
      'SWD\\WPDBUSENUM\\_??_USBSTOR#DISK&VEN_GENERIC-&PROD_USB3.0_CRW___-SD&REV_1.00#201412031053&0#{53F56307-B6BF-11D0-94F2-00A0C91EFB8B}',
    );
    expect(pnp.data['DriverDescription']).toBe('WPD FileSystem Volume Driver');
    const app = readEvtx(load(EVTX_SAMPLES.noCrc)).records;
    // evtxexport: <Data>Windows Defender</Data><Data>SECURITY_PRODUCT_STATE_ON</Data>
    expect(app.find((e) => e.recordId === '427')!.data).toEqual({ 'Data[1]': 'Windows Defender', 'Data[2]': 'SECURITY_PRODUCT_STATE_ON' });
    expect(app.find((e) => e.recordId === '428')!.data).toEqual({ 'Data[1]': 'WSearch', Binary: 'D9060000' });
    // Optional substitutions without a value leave the element out: <EventData/>.
    expect(app.find((e) => e.recordId === '426')!.data).toEqual({});
  });

  it('reads the RDP sample that libevtx and python-evtx cannot, and every value it reports is in the raw bytes', () => {
    const bytes = load(EVTX_SAMPLES.rdp);
    const r = readEvtx(bytes);
    const e = r.records[0]!;
    expect(e).toMatchObject({ eventId: 1149, provider: 'Microsoft-Windows-TerminalServices-RemoteConnectionManager', channel: 'Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational' });
    // These records carry their values as literal UTF-16 text: an independent check is that each one is there.
    const raw = Buffer.from(bytes).toString('utf16le') + Buffer.from(bytes.subarray(1)).toString('utf16le');
    for (const rec of r.records) {
      for (const v of [rec.computer, rec.recordId, ...Object.values(rec.data).filter((x) => x !== '')]) expect(raw.includes(v), v).toBe(true);
      expect(Object.keys(rec.data).sort()).toEqual(['Param1', 'Param2', 'Param3']);
    }
  });

  describe('damaged input: named failures, the rest still read', () => {
    const whole = load(EVTX_SAMPLES.securityShort);

    it('a file cut inside its chunk keeps the records before the cut', () => {
      const r = readEvtx(whole.subarray(0, 4096 + 4096));
      expect(r.failures.map((f) => f.reason)).toContain('evtx.truncated_chunk');
      expect(r.records.length).toBeGreaterThan(0);
      expect(r.records.length).toBeLessThan(7);
      const all = readEvtx(whole).records;
      expect(r.records).toEqual(all.slice(0, r.records.length));
    });

    it('chunks without a file header are found by signature and reported as recovered', () => {
      const r = readEvtx(whole.subarray(4096));
      expect(r.info.headerValid).toBe(false);
      expect(r.info.recoveredChunks).toBe(1);
      expect(r.records.length).toBe(7);
      expect(r.failures.map((f) => f.reason)).toEqual(['evtx.bad_file_header', 'evtx.recovered_chunks']);
    });

    it('a header whose chunk count is 0 does not hide the chunk', () => {
      const copy = whole.slice();
      copy[42] = 0;
      copy[43] = 0;
      const r = readEvtx(copy);
      expect(r.records.length).toBe(7);
      expect(r.info.recoveredChunks).toBe(1);
      expect(r.failures.map((f) => f.reason)).toEqual(['evtx.header_crc', 'evtx.recovered_chunks']);
    });

    it('a smashed record signature is named and the records after it are still read', () => {
      const copy = whole.slice();
      const second = readEvtx(whole).records[1]!.offset;
      copy[second] = 0x00;
      const r = readEvtx(copy);
      expect(r.failures.map((f) => f.reason)).toEqual(['evtx.records_crc', 'evtx.bad_record']);
      expect(r.records.map((e) => e.recordId)).toEqual(readEvtx(whole).records.filter((_, i) => i !== 1).map((e) => e.recordId));
    });

    it('empty and tiny inputs give named failures, never a throw', () => {
      expect(readEvtx(new Uint8Array(0)).records).toEqual([]);
      expect(readEvtx(new Uint8Array(0)).failures.map((f) => f.reason)).toEqual(['evtx.bad_file_header']);
      expect(readEvtx(whole.subarray(0, 100)).failures.map((f) => f.reason)).toEqual(['evtx.bad_file_header', 'evtx.no_chunks']);
    });
  });
});
