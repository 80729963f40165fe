/**
 * setupapi.dev.log → usb.connect on real logs: plaso's Windows 10 log (one USB flash disk among
 * 194 sections) and a Windows 11 VMware guest's log (no USB storage: a negative case).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { payloadSchemas } from '../../src/records/schema.js';
import { parseSetupapiDevLog, parseUsbInstanceId } from '../../src/parsers/setupapi.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const WIN10 = readFileSync(`${FIX}plaso/test_data/setupapi.dev.log`, 'utf8');
const WIN11 = readFileSync(`${FIX}DFIRArtifactMuseum/Windows/setupapi.dev.log/Win11/RathbunVM/setupapi.dev.log`, 'utf8');

describe('setupapi.dev.log: plaso Windows 10 sample', () => {
  it('yields exactly one USB device: the Generic Flash Disk, serial 99E2116A, first installed 2016/11/22 23:50:30.938', () => {
    const out = parseSetupapiDevLog(WIN10, [7]);
    expect(out.failures).toEqual([]);
    expect(out.records).toHaveLength(1);
    const r = out.records[0]!;
    expect(r.kind).toBe('usb.connect');
    const p = payloadSchemas['usb.connect'].parse(r.payload);
    expect(p).toMatchObject({
      origin: 'setupapi',
      parser: 'setupapi.dev-log@1',
      derived_from: [7],
      instance_id: 'USBSTOR\\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\\99E2116A&0',
      mass_storage: true,
      manufacturer: 'Generic',
      product: 'Flash Disk',
      serial: '99E2116A',
      serial_is_generated: false,
      event_time: '2016-11-22T23:50:30.938000Z',
    });
    expect(p.time_note).toMatch(/zone unknown/);
    expect(p.extra).toMatchObject({
      local_time: '2016-11-22 23:50:30.938',
      revision: '8.07',
      device_type: 'Disk',
      install_trigger: 'Hardware initiated',
      exit_status: 'SUCCESS',
      section_end_local: '2016/11/22 23:50:58.236',
      section_line: '10527',
      device_instance:
        'SWD\\WPDBUSENUM\\_??_USBSTOR#Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07#99E2116A&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}',
    });
    expect(p.extra?.['semantics']).toMatch(/^first install/);
  });

  it('with a known UTC offset (e.g. +09:00) event_time is converted and the note says so', () => {
    const p = parseSetupapiDevLog(WIN10, [7], { utcOffsetMinutes: 540 }).records[0]!.payload as { event_time?: string; time_note?: string };
    expect(p.event_time).toBe('2016-11-22T14:50:30.938000Z');
    expect(p.time_note).toContain('+09:00');
    const west = parseSetupapiDevLog(WIN10, [7], { utcOffsetMinutes: -330 }).records[0]!.payload as { event_time?: string };
    expect(west.event_time).toBe('2016-11-23T05:20:30.938000Z');
  });

  it('CRLF and LF line endings read the same', () => {
    expect(WIN10.includes('\r\n')).toBe(true);
    const lf = parseSetupapiDevLog(WIN10.replaceAll('\r\n', '\n'), [7]);
    expect(lf).toEqual(parseSetupapiDevLog(WIN10, [7]));
  });
});

describe('setupapi.dev.log: Windows 11 VMware guest', () => {
  it('has device installs (PCI, HID, UEFI, VMware ACPI) but no USB device: no record, no failure', () => {
    expect((WIN11.match(/^>>> {2}\[Device Install/gm) ?? []).length).toBe(9);
    expect(WIN11).toContain('HID\\VID_0E0F&PID_0003&MI_00'); // the VMware virtual mouse is HID, not USB storage
    expect(parseSetupapiDevLog(WIN11, [1])).toEqual({ records: [], failures: [] });
  });
});

describe('device instance ids', () => {
  // Real instance ids, as they appear in evtx/samples/system.evtx (UserPnp) and the
  // Partition-4DiagnosticParser sample in /work/shared/samples (other parsers' fixtures).
  it('SWD\\WPDBUSENUM view of a USBSTOR card reader (Windows pads Ven_/Prod_ with "_" and "-")', () => {
    expect(
      parseUsbInstanceId(
        'SWD\\WPDBUSENUM\\_??_USBSTOR#DISK&VEN_GENERIC-&PROD_USB3.0_CRW___-SD&REV_1.00#201412031053&0#{53F56307-B6BF-11D0-94F2-00A0C91EFB8B}',
      ),
    ).toMatchObject({
      instanceId: 'USBSTOR\\DISK&VEN_GENERIC-&PROD_USB3.0_CRW___-SD&REV_1.00\\201412031053&0',
      manufacturer: 'GENERIC-',
      product: 'USB3.0 CRW   -SD',
      revision: '1.00',
      deviceType: 'DISK',
      serial: '201412031053',
      serialIsGenerated: false,
      massStorage: true,
    });
  });

  it('USB\\VID_&PID_ devices: Kingston DataTraveler G3, Patriot, VMware virtual USB', () => {
    expect(parseUsbInstanceId('USB\\VID_0951&PID_1643\\001CC0EC3458F110E5F31400')).toMatchObject({
      vendorId: '0951',
      productId: '1643',
      serial: '001CC0EC3458F110E5F31400',
      serialIsGenerated: false,
      massStorage: false,
    });
    expect(parseUsbInstanceId('USB\\VID_13FE&PID_6300\\0701935D84A40B14')).toMatchObject({ vendorId: '13fe', productId: '6300' });
    expect(parseUsbInstanceId('USB\\VID_0E0F&PID_0008\\000650268328')?.serial).toBe('000650268328');
  });

  it('a serial whose second character is "&" was made up by Windows (the documented rule; no public sample has one)', () => {
    expect(parseUsbInstanceId('USBSTOR\\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\\7&1a2b3c4d&0')).toMatchObject({
      serial: '7&1a2b3c4d',
      serialIsGenerated: true,
    });
  });

  it('ids with no USB identity yield nothing', () => {
    expect(parseUsbInstanceId('SWD\\WPDBUSENUM\\{668C4896-6726-11E7-BCE5-784F439FA657}#0000000000008000')).toBeUndefined();
    expect(parseUsbInstanceId('PCI\\VEN_15AD&DEV_07B0&SUBSYS_07B015AD')).toBeUndefined();
    expect(parseUsbInstanceId('HID\\VID_0E0F&PID_0003&MI_00')).toBeUndefined();
  });
});
