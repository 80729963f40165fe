/**
 * Windows events → usb.* / file.access / auth.logon, on the real samples (test/fixtures/SOURCES.md).
 * Every payload is checked against the record schema with a full synthetic envelope.
 */
import { describe, expect, it } from 'vitest';
import { readEvtx } from '../../src/parsers/evtx/index.js';
import { createWindowsEventMapper, mapWindowsEvent } from '../../src/parsers/windows-events.js';
import type { DerivedRecord } from '../../src/parsers/types.js';
import { validateRecord } from '../../src/records/schema.js';
import { EVTX_SAMPLES, loadFixture } from '../helpers/evtx-samples.js';

const S = EVTX_SAMPLES;

interface Mapped {
  eventId: number;
  recordId: string;
  rec: DerivedRecord;
}

function mapFile(file: string): Mapped[] {
  const r = readEvtx(loadFixture(file));
  const mapper = createWindowsEventMapper();
  const out: Mapped[] = [];
  r.records.forEach((e, i) => {
    const o = mapper.map(e, [i + 1]);
    expect(o.failures).toEqual([]);
    for (const rec of o.records) {
      // The whole record, envelope and payload, must validate.
      validateRecord({
        v: 1,
        seq: 1000 + i,
        kind: rec.kind,
        observed_at: '2026-01-01T00:00:00.000000Z',
        mono_ns: '1',
        boot_id: 'test',
        host: 'responder',
        source: `evtx:${file}`,
        payload: rec.payload,
      });
      out.push({ eventId: e.eventId, recordId: e.recordId, rec });
    }
  });
  return out;
}

const kinds = (m: Mapped[]): Record<string, number> => {
  const c: Record<string, number> = {};
  for (const x of m) c[`${x.rec.kind}/${x.eventId}`] = (c[`${x.rec.kind}/${x.eventId}`] ?? 0) + 1;
  return c;
};
const payloads = (m: Mapped[]): Record<string, unknown>[] => m.map((x) => x.rec.payload as Record<string, unknown>);

describe('USB from Partition/Diagnostic 1006', () => {
  const m = mapFile(S.partitionUsb);

  it('30 USB events: 23 arrivals (Capacity > 0) and 7 removals (Capacity 0); the 10 VirtualBox disk events yield nothing', () => {
    expect(kinds(m)).toEqual({ 'usb.connect/1006': 23, 'usb.disconnect/1006': 7 });
    for (const x of m) {
      const p = x.rec.payload as Record<string, unknown>;
      if (x.rec.kind === 'usb.connect') expect(p['capacity_bytes']).not.toBe('0');
      else expect(p['capacity_bytes']).toBe('0');
    }
  });

  it('three sticks with VID/PID and serial from ParentId', () => {
    const sticks = new Map<string, { connects: number; disconnects: number; product?: unknown; manufacturer?: unknown; capacity?: unknown }>();
    for (const x of m) {
      const p = x.rec.payload as Record<string, unknown>;
      const key = `${String(p['vendor_id'])}:${String(p['product_id'])}:${String(p['serial'])}`;
      const s = sticks.get(key) ?? { connects: 0, disconnects: 0 };
      if (x.rec.kind === 'usb.connect') {
        s.connects++;
        s.capacity = p['capacity_bytes'];
      } else s.disconnects++;
      s.product = p['product'];
      s.manufacturer = p['manufacturer'];
      sticks.set(key, s);
    }
    expect(Object.fromEntries(sticks)).toEqual({
      '13fe:6300:0701935D84A40B14': { connects: 19, disconnects: 3, product: 'Patriot Memory', manufacturer: undefined, capacity: '31004295168' },
      '0951:16ae:E0D55E1F377DE410C958272B': { connects: 1, disconnects: 1, product: 'DT microDuo 3C', manufacturer: 'Kingston', capacity: '31004295168' },
      '0951:1643:001CC0EC3458F110E5F31400': { connects: 3, disconnects: 3, product: 'DataTraveler G3', manufacturer: 'Kingston', capacity: '8005787648' },
    });
  });

  it('fills time, host, instance id, serial flags and keeps the disk serial in extra', () => {
    const first = m.find((x) => x.recordId === '9')!.rec;
    expect(first.kind).toBe('usb.connect');
    expect(first.payload).toMatchObject({
      derived_from: [9],
      parser: 'evtx.windows-events@1',
      origin: 'evtx',
      event_time: '2020-11-29T08:51:44.728821Z',
      event_host: 'DESKTOP-GOGB42D',
      instance_id: 'USB\\VID_13FE&PID_6300\\0701935D84A40B14',
      serial_is_generated: false,
      mass_storage: true,
      extra: { event_id: '1006', record_id: '9', disk_serial: '007B01149030', disk_id: '{F966035B-40DE-9A80-EED2-3B1288958475}' },
    });
    const removal = m.find((x) => x.recordId === '26')!.rec;
    expect(removal.kind).toBe('usb.disconnect');
    expect(removal.payload).toMatchObject({ serial: 'E0D55E1F377DE410C958272B', event_time: '2020-11-29T09:22:52.398720Z', capacity_bytes: '0' });
  });

  it('Win11 NVMe disk events (BusType 17) are not USB', () => {
    expect(mapFile(S.partitionWin11)).toEqual([]);
  });
});

describe('USB from UserPnp 20001/20003 (system.evtx)', () => {
  const m = mapFile(S.system);

  it('only the USB devices among the 40 driver/service installs', () => {
    expect(kinds(m)).toEqual({ 'usb.connect/20001': 2, 'usb.connect/20003': 3 });
    expect(m.map((x) => x.recordId)).toEqual(['51', '53', '56', '1043', '1044']);
  });

  it('the USB SD card reader behind WPDBUSENUM and the Bluetooth adapter', () => {
    const reader = m.find((x) => x.recordId === '1044')!.rec.payload;
    expect(reader).toMatchObject({
      instance_id: 'USBSTOR\\DISK&VEN_GENERIC-&PROD_USB3.0_CRW___-SD&REV_1.00\\201412031053&0',
      serial: '201412031053',
      serial_is_generated: false,
      mass_storage: true,
      manufacturer: 'GENERIC-',
      product: 'WPD FileSystem Volume Driver',
      event_time: '2017-07-27T13:53:35.370998Z',
      event_host: 'DESKTOP-2KGM189',
    });
    const bt = m.find((x) => x.recordId === '56')!.rec.payload;
    expect(bt).toMatchObject({ vendor_id: '0e0f', product_id: '0008', serial: '000650268328', product: 'Generic Bluetooth Adapter' });
    expect(m.find((x) => x.recordId === '51')!.rec.payload).toMatchObject({ driver: 'BTHUSB', vendor_id: '0e0f' });
  });
});

describe('Security 6416', () => {
  it('a printer (SWD\\PRINTENUM) and software devices are not USB: no record', () => {
    // Its only records are the three process starts (4688) around the printer install.
    expect(kinds(mapFile(S.printNightmare))).toEqual({ 'process.exec/4688': 3 });
    expect(kinds(mapFile(S.systemNightmare))['usb.connect/6416']).toBeUndefined();
  });
});

describe('logons', () => {
  it('OpenSSH brute force: 5 failed logons with user, reason and workstation; 2 logons; 2 explicit-credential uses', () => {
    const m = mapFile(S.sshBrute);
    expect(kinds(m)).toEqual({ 'auth.logon/4625': 5, 'auth.logon/4624': 2, 'auth.logon/4648': 2, 'process.exec/4688': 2 });
    const failures = payloads(m.filter((x) => x.eventId === 4625));
    for (const p of failures) expect(p).toMatchObject({ action: 'failure', success: false, service: 'windows', logon_type: '8', from_host: 'FS01', exe: 'C:\\Program Files\\OpenSSH-Win64\\sshd.exe' });
    for (const p of failures) expect(p['user']).toEqual(expect.any(String));
    expect(failures[0]).toMatchObject({ user: 'admmig@offsec.lan', reason: 'wrong password (0xc000006a)', event_time: '2021-05-21T20:43:22.562871Z' });
    const logon = payloads(m.filter((x) => x.eventId === 4624))[0]!;
    expect(logon).toMatchObject({ action: 'logon', success: true, user: 'sshd_4332', logon_type: '5', method: 'Negotiate', logon_id: '0x00000000047a203c' });
  });

  it('a 4625 with a source IP and port (RDP brute force in Security_short_selected)', () => {
    const [x] = mapFile(S.securityShort);
    expect(x!.rec.payload).toMatchObject({
      action: 'failure',
      success: false,
      user: 'Administrator',
      sid: 'S-1-0-0',
      logon_type: '10',
      from_ip: '23.94.153.202',
      from_port: 60167,
      from_host: 'TEMPORAL',
      reason: 'wrong password (0xc000006a)',
      event_time: '2016-06-29T15:24:36.686000Z',
      event_host: 'temporal',
      extra: { logon_type_name: 'RemoteInteractive', status: '0xc000006d', sub_status: '0xc000006a' },
    });
  });

  it('security.evtx: 583 logons, 45 explicit-credential uses, 47 logoffs', () => {
    const m = mapFile(S.security);
    expect(kinds(m)).toEqual({ 'auth.logon/4624': 583, 'auth.logon/4648': 45, 'auth.logon/4647': 36, 'auth.logon/4634': 11 });
    const remote = payloads(m).filter((p) => p['logon_type'] === '10');
    for (const p of remote) expect(p['from_ip']).toBeDefined();
  });

  it('Server 2022 Security: 72 logons and the one user-initiated logoff', () => {
    const k = kinds(mapFile(S.server2022Security));
    expect(k['auth.logon/4624']).toBe(72);
    expect(k['auth.logon/4647']).toBe(1);
  });
});

describe('file access', () => {
  it('19 denied handle requests for sethc.exe (4656, Audit Failure)', () => {
    const m = mapFile(S.sethc);
    expect(kinds(m)).toEqual({ 'file.access/4656': 19 });
    for (const p of payloads(m)) {
      expect(p).toMatchObject({ path: 'C:\\Windows\\System32\\sethc.exe', object_type: 'File', success: false });
      expect(Array.isArray(p['access'])).toBe(true);
    }
    expect(m[0]!.rec.payload).toMatchObject({ operation: 'open:delete', user: expect.any(String), exe: expect.stringMatching(/cmd\.exe$/i) });
  });

  it('SystemNightMare: file handles opened (4656) and closed (4658) are paired by process and handle', () => {
    const m = mapFile(S.systemNightmare);
    expect(kinds(m)).toEqual({ 'auth.logon/4648': 1, 'file.access/4656': 4, 'file.access/4658': 4, 'process.exec/4688': 7 });
    const opened = payloads(m.filter((x) => x.eventId === 4656));
    const closed = payloads(m.filter((x) => x.eventId === 4658));
    expect(closed.map((p) => p['path'])).toEqual(opened.map((p) => p['path']));
    expect(opened[0]).toMatchObject({ path: 'C:\\Windows\\INF\\TAPISRV\\0409', operation: 'open:read', access: ['SYNCHRONIZE', 'ReadData'], exe: 'C:\\Windows\\System32\\spoolsv.exe', pid: 1656 });
    expect(closed[0]).toMatchObject({ operation: 'close', extra: { handle_id: '0x0000000000000af8' } });
    // Without the handle table, a 4658 says nothing about which object it closed.
    const r = readEvtx(loadFixture(S.systemNightmare));
    for (const e of r.records.filter((x) => x.eventId === 4658)) expect(mapWindowsEvent(e, [1]).records).toEqual([]);
  });

  it('process (lsass) and SAM objects are not files', () => {
    // What they do yield is the processes that opened them (4688).
    expect(kinds(mapFile(S.mimikatz))).toEqual({ 'process.exec/4688': 1 });
    expect(kinds(mapFile(S.hiddenUser))).toEqual({ 'process.exec/4688': 4 });
  });
});
