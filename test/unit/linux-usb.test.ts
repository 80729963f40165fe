/**
 * Linux kernel USB lines → usb.connect / usb.disconnect, through the content dispatcher as in
 * production. Samples: samples/constructed (built from the kernel's own format strings; no
 * permissively licensed real capture exists, see fixtures/constructed/README.md) plus real lines
 * from plaso's syslog sample interleaved as unrelated traffic.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { payloadSchemas } from '../../src/records/schema.js';
import { createTextParsers } from '../../src/parsers/text-dispatch.js';
import { createKernelUsbParser, MAX_OPEN_SESSIONS } from '../../src/parsers/linux-usb.js';
import { parseSyslogLine } from '../../src/parsers/syslog.js';
import type { DerivedRecord, ParseFailure, SourceLine } from '../../src/parsers/types.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const OBSERVED = '2026-11-23T00:00:00.000000Z';

function linesOf(file: string): string[] {
  const lines = readFileSync(join(FIXTURES, file), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

interface Run {
  records: DerivedRecord[];
  failures: ParseFailure[];
  texts: string[];
}

/** Feeds texts as one file (seq = index) and returns everything produced, finish() included. */
function run(texts: string[], path = '/var/log/kern.log'): Run {
  const tp = createTextParsers();
  const records: DerivedRecord[] = [];
  const failures: ParseFailure[] = [];
  texts.forEach((text, seq) => {
    const out = tp.push({ seq, path, text, observedAt: OBSERVED });
    records.push(...out.records);
    failures.push(...out.failures);
  });
  const end = tp.finish();
  records.push(...end.records);
  failures.push(...end.failures);
  for (const r of records) payloadSchemas[r.kind].parse(r.payload);
  return { records, failures, texts };
}

type UsbPayload = { port?: string; session?: string; derived_from: number[]; [k: string]: unknown };
const usb = (r: DerivedRecord): UsbPayload => r.payload as UsbPayload;
const NOTE = 'local time, zone unknown, read as UTC';

describe('kern-usb.log (classic syslog, bracketed uptime)', () => {
  const r = run(linesOf('constructed/kern-usb.log'));

  it('finds exactly the three devices and two disconnects, in log order, and nothing fails', () => {
    expect(r.failures).toEqual([]);
    expect(r.records.map((x) => [x.kind, usb(x).port, usb(x).session])).toEqual([
      ['usb.connect', '1-1', '1-1#5@0'],
      ['usb.connect', '3-6.4.1', '3-6.4.1#12@12'],
      ['usb.disconnect', '1-1', '1-1#5@0'],
      ['usb.connect', '1-1', '1-1#6@19'],
      ['usb.disconnect', '1-1', '1-1#6@19'],
    ]);
  });

  it('the SanDisk stick: ids, strings, speed, driver, disk, capacity, and every contributing line', () => {
    expect(r.records[0]?.payload).toEqual({
      derived_from: [0, 1, 2, 3, 4, 5, 6, 7, 10, 11],
      parser: 'syslog.kernel-usb@1',
      origin: 'kernel',
      port: '1-1',
      event_time: '2026-11-20T09:14:02.000000Z',
      time_note: `year 2026 inferred from reference time ${OBSERVED}; ${NOTE}`,
      event_host: 'ws-0147',
      vendor_id: '0781',
      product_id: '5581',
      serial: '4C530001230527110412',
      product: 'Ultra',
      manufacturer: 'SanDisk',
      device_number: 5,
      speed: 'high-speed',
      driver: 'xhci_hcd',
      block_device: 'sdb',
      mass_storage: true,
      capacity_bytes: String(60063744 * 512),
      session: '1-1#5@0',
      extra: {
        bcd_device: '1.00',
        uptime: '5536.749120',
        interface: 'usb-storage 1-1:1.0',
        interface_driver: 'usb-storage',
        scsi_host: '6',
      },
    });
    // Lines 8 (scsi Direct-Access) and 9 (sg) say nothing the record needs.
  });

  it('the Logitech receiver behind two hubs (3-6.4.1): no serial, no bcdDevice, not mass storage', () => {
    expect(r.records[1]?.payload).toMatchObject({
      derived_from: [12, 13, 14, 15, 16],
      port: '3-6.4.1',
      vendor_id: '046d',
      product_id: 'c52b',
      product: 'USB Receiver',
      manufacturer: 'Logitech',
      device_number: 12,
      speed: 'full-speed',
      mass_storage: false,
      extra: { uptime: '5634.102233' },
    });
    expect(usb(r.records[1]!)['serial']).toBeUndefined();
  });

  it('disconnects carry the paired device identity and the connect seq', () => {
    expect(r.records[2]?.payload).toMatchObject({
      derived_from: [17],
      port: '1-1',
      device_number: 5,
      event_time: '2026-11-20T09:31:17.000000Z',
      serial: '4C530001230527110412',
      vendor_id: '0781',
      block_device: 'sdb',
      session: '1-1#5@0',
      extra: { uptime: '6571.554321', connect_seq: '0' },
    });
    expect(r.records[3]?.payload).toMatchObject({
      derived_from: [19, 20, 21, 22, 23, 24, 25, 26, 27],
      vendor_id: '0951',
      product_id: '1666',
      serial: 'E0D55EA573DCF450E9430D5B',
      product: 'DataTraveler 3.0',
      manufacturer: 'Kingston',
      block_device: 'sdc',
      device_number: 6,
    });
    expect(r.records[4]?.payload).toMatchObject({ derived_from: [28], session: '1-1#6@19', serial: 'E0D55EA573DCF450E9430D5B' });
  });
});

describe('kern-usb-variants.log (ISO timestamps, no bcdDevice, old disk line, root hub, RFC 5424 disconnect)', () => {
  const r = run(linesOf('constructed/kern-usb-variants.log'));

  it('one device and its disconnect; the root hub is ignored', () => {
    expect(r.failures).toEqual([]);
    expect(r.records.map((x) => x.kind)).toEqual(['usb.connect', 'usb.disconnect']);
    expect(r.records.some((x) => usb(x).port === 'usb3')).toBe(false);
    expect(r.records[0]?.payload).toEqual({
      derived_from: [0, 1, 2, 3, 4, 5],
      parser: 'syslog.kernel-usb@1',
      origin: 'kernel',
      port: '2-1',
      event_time: '2026-11-20T00:14:02.749120Z',
      event_host: 'ws-0148',
      vendor_id: '13fe',
      product_id: '6300',
      serial: '0701935D84A40B14',
      product: 'Patriot Memory',
      device_number: 3,
      speed: 'high-speed',
      driver: 'ehci-pci',
      block_device: 'sdc',
      mass_storage: true,
      session: '2-1#3@0',
      extra: {
        interface_driver: 'usb-storage',
        scsi_host: '4',
        block_device_inference: 'the only device being announced when the disk attached (old kernel format, no scsi host line)',
      },
    });
    expect(r.records[1]?.payload).toMatchObject({
      derived_from: [7],
      event_time: '2026-11-20T00:22:10.263426Z',
      session: '2-1#3@0',
      serial: '0701935D84A40B14',
    });
  });
});

describe('journal-kernel-usb.json (journalctl -o json)', () => {
  const lines = linesOf('constructed/journal-kernel-usb.json');

  it('pairs the connect and the disconnect, times in microseconds from __REALTIME_TIMESTAMP', () => {
    const r = run(lines, '/export/journal.json');
    expect(r.failures).toEqual([]);
    expect(r.records.map((x) => x.payload)).toEqual([
      {
        derived_from: [0, 1, 2, 3, 4],
        parser: 'syslog.kernel-usb@1',
        origin: 'kernel',
        port: '1-1',
        event_time: '2025-11-20T00:14:02.749120Z',
        event_host: 'ws-0149',
        vendor_id: '0951',
        product_id: '16ae',
        serial: '60A44C413B6AF2B0A9A60F12',
        product: 'DT microDuo 3C',
        manufacturer: 'Kingston',
        device_number: 5,
        speed: 'high-speed',
        driver: 'xhci_hcd',
        mass_storage: false,
        session: '1-1#5@0',
        extra: { bcd_device: '1.00' },
      },
      {
        derived_from: [5],
        parser: 'syslog.kernel-usb@1',
        origin: 'kernel',
        port: '1-1',
        device_number: 5,
        event_time: '2025-11-20T00:34:37.554321Z',
        event_host: 'ws-0149',
        session: '1-1#5@0',
        vendor_id: '0951',
        product_id: '16ae',
        serial: '60A44C413B6AF2B0A9A60F12',
        product: 'DT microDuo 3C',
        manufacturer: 'Kingston',
        speed: 'high-speed',
        driver: 'xhci_hcd',
        mass_storage: false,
        extra: { connect_seq: '0' },
      },
    ]);
  });

  it('a new boot id closes open sessions: the disconnect after it is not paired', () => {
    const changed = lines.map((l, i) => (i === 5 ? l.replace('6181dc48c1a54d4f9d3f0c2e5a1b7e90', '00000000000000000000000000000001') : l));
    const r = run(changed, '/export/journal.json');
    expect(r.records.map((x) => [x.kind, usb(x).session])).toEqual([
      ['usb.connect', '1-1#5@0'],
      ['usb.disconnect', undefined],
    ]);
    expect(usb(r.records[1]!)['extra']).toEqual({ pairing: 'no connect seen for this port and device number' });
  });

  it('a device number reused on the same port without a reboot starts a new session', () => {
    const r = run([...lines, ...lines], '/export/journal.json');
    expect(r.records.map((x) => [x.kind, usb(x).session, usb(x).derived_from])).toEqual([
      ['usb.connect', '1-1#5@0', [0, 1, 2, 3, 4]],
      ['usb.disconnect', '1-1#5@0', [5]],
      ['usb.connect', '1-1#5@6', [6, 7, 8, 9, 10]],
      ['usb.disconnect', '1-1#5@6', [11]],
    ]);
  });
});

describe('sequences: interleaving, reboots, truncation, corruption', () => {
  const kern = linesOf('constructed/kern-usb.log');
  // Unrelated real lines (sshd, sudo, other daemons) to interleave.
  const other = [...linesOf('beats/filebeat/module/system/auth/test/test.log'), ...linesOf('lnav/test/logfile_syslog.2')];

  it('two announcements interleaved with each other and with unrelated real lines assemble the same devices', () => {
    // The SanDisk lines 0-11 and the Logitech lines 12-16 alternate; an unrelated line after every kernel line.
    const sandisk = kern.slice(0, 12);
    // As when two devices enumerate at once: the Logitech lines moved to the SanDisk's second (same
    // clock and uptime), so that only the interleaving differs.
    const logitech = kern.slice(12, 17).map((l) => l.replace('09:15:40', '09:14:02').replace('[ 5634.', '[ 5536.'));
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      order.push(sandisk[i] ?? '');
      if (logitech[i] !== undefined) order.push(logitech[i] ?? '');
      order.push(other[i % other.length] ?? '');
    }
    order.push(...kern.slice(17));
    const r = run(order);
    expect(r.failures).toEqual([]);
    const connects = r.records.filter((x) => x.kind === 'usb.connect');
    const textsOf = (x: DerivedRecord): string[] => usb(x).derived_from.map((s) => order[s] ?? '');
    const first = connects.find((x) => usb(x).port === '1-1');
    const second = connects.find((x) => usb(x).port === '3-6.4.1');
    expect(textsOf(first!)).toEqual([...sandisk.slice(0, 8), ...sandisk.slice(10, 12)]);
    expect(textsOf(second!)).toEqual(logitech);
    expect(first?.payload).toMatchObject({ serial: '4C530001230527110412', block_device: 'sdb', mass_storage: true });
    expect(connects.map((x) => usb(x)['serial'])).toEqual(['4C530001230527110412', undefined, 'E0D55EA573DCF450E9430D5B']);
    // The auth lines among them still became logons.
    expect(r.records.filter((x) => x.kind === 'auth.logon').length).toBe(7);
  });

  it('after a reboot (uptime going backwards) the same port and device number start a new session', () => {
    const r = run([...kern, ...kern]);
    const sessions = r.records.map((x) => `${x.kind} ${usb(x).session ?? ''}`);
    expect(sessions).toEqual([
      'usb.connect 1-1#5@0',
      'usb.connect 3-6.4.1#12@12',
      'usb.disconnect 1-1#5@0',
      'usb.connect 1-1#6@19',
      'usb.disconnect 1-1#6@19',
      'usb.connect 1-1#5@29',
      'usb.connect 3-6.4.1#12@41',
      'usb.disconnect 1-1#5@29',
      'usb.connect 1-1#6@48',
      'usb.disconnect 1-1#6@48',
    ]);
  });

  it('a log that ends mid-announcement still yields the device at finish()', () => {
    const tp = createTextParsers();
    const pushed = kern.slice(0, 6).flatMap((text, seq) => tp.push({ seq, path: '/k', text, observedAt: OBSERVED }).records);
    expect(pushed).toEqual([]);
    const end = tp.finish();
    expect(end.records.map((x) => x.payload)).toMatchObject([
      { derived_from: [0, 1, 2, 3, 4, 5], serial: '4C530001230527110412', mass_storage: false },
    ]);
  });

  it('a disconnect with no connect in the log is kept, unpaired', () => {
    const r = run([kern[17] ?? '']);
    expect(r.records).toEqual([
      {
        kind: 'usb.disconnect',
        payload: {
          derived_from: [0],
          parser: 'syslog.kernel-usb@1',
          origin: 'kernel',
          port: '1-1',
          device_number: 5,
          event_time: '2026-11-20T09:31:17.000000Z',
          time_note: `year 2026 inferred from reference time ${OBSERVED}; ${NOTE}`,
          event_host: 'ws-0147',
          extra: { uptime: '6571.554321', pairing: 'no connect seen for this port and device number' },
        },
      },
    ]);
  });

  it('corrupted USB core lines become named failures, never exceptions', () => {
    const corrupt = [
      (kern[1] ?? '').replace('idVendor=0781', 'idVendor=07g1'),
      (kern[17] ?? '').replace('device number 5', 'device number x5'),
      (kern[0] ?? '').replace('device number 5 using', 'device number  using'),
      kern[3] ?? '', // Product: with no announcement before it
      (kern[0] ?? '').replace('usb 1-1:', 'usb 1-1-:'),
    ];
    const r = run(corrupt);
    expect(r.records).toEqual([]);
    expect(r.failures.map((f) => [f.reason, f.derived_from])).toEqual([
      ['kernel-usb.bad_ids', [0]],
      ['kernel-usb.bad_disconnect', [1]],
      ['kernel-usb.bad_new_device', [2]],
      ['kernel-usb.orphan_line', [3]],
      ['kernel-usb.bad_port', [4]],
    ]);
  });

  it('raw dmesg output (no syslog header) is read too', () => {
    const dmesg = kern.map((l) => l.slice(l.indexOf('[')));
    const r = run(dmesg);
    expect(r.records.map((x) => [x.kind, usb(x)['serial'], usb(x)['event_time']])).toEqual([
      ['usb.connect', '4C530001230527110412', undefined],
      ['usb.connect', undefined, undefined],
      ['usb.disconnect', '4C530001230527110412', undefined],
      ['usb.connect', 'E0D55EA573DCF450E9430D5B', undefined],
      ['usb.disconnect', 'E0D55EA573DCF450E9430D5B', undefined],
    ]);
  });

  it('lines of other programs are never read as kernel lines', () => {
    const p = createKernelUsbParser();
    const line: SourceLine = { seq: 0, path: '/x', text: '', observedAt: OBSERVED };
    const framed = parseSyslogLine((kern[17] ?? '').replace('kernel:', 'evil[1]:'), { referenceTime: OBSERVED });
    expect(p.push(line, framed)).toEqual({ records: [], failures: [] });
    expect(p.finish()).toEqual({ records: [], failures: [] });
  });
});

describe('bounded memory while running', () => {
  it(`holds at most ${MAX_OPEN_SESSIONS} connected devices per file: the oldest is forgotten and its disconnect says so; the newest still pairs`, () => {
    const texts: string[] = [];
    const ports: string[] = [];
    for (let bus = 1; ports.length < MAX_OPEN_SESSIONS + 10; bus++) {
      for (let port = 1; port <= 99 && ports.length < MAX_OPEN_SESSIONS + 10; port++) ports.push(`${bus}-${port}`);
    }
    ports.forEach((p, i) => {
      texts.push(`Nov 23 10:00:00 ws kernel: [  ${100 + i}.000000] usb ${p}: new high-speed USB device number 5 using xhci_hcd`);
      texts.push(`Nov 23 10:00:00 ws kernel: [  ${100 + i}.000001] usb ${p}: New USB device found, idVendor=0951, idProduct=1666, bcdDevice= 1.10`);
      texts.push(`Nov 23 10:00:00 ws kernel: [  ${100 + i}.000002] usb ${p}: SerialNumber: S${i}`);
    });
    const first = ports[0] as string;
    const last = ports.at(-1) as string;
    texts.push(`Nov 23 10:30:00 ws kernel: [ 9000.000000] usb ${first}: USB disconnect, device number 5`);
    texts.push(`Nov 23 10:30:01 ws kernel: [ 9001.000000] usb ${last}: USB disconnect, device number 5`);
    const r = run(texts);
    expect(r.records.filter((x) => x.kind === 'usb.connect')).toHaveLength(ports.length);
    const [forgotten, paired] = r.records.filter((x) => x.kind === 'usb.disconnect').map(usb);
    expect(forgotten?.port).toBe(first);
    expect(forgotten?.serial).toBeUndefined();
    expect(forgotten?.['extra']).toEqual({ uptime: '9000.000000', pairing: 'no connect seen for this port and device number' });
    expect(paired?.port).toBe(last);
    expect(paired?.serial).toBe(`S${ports.length - 1}`);
  });
});
