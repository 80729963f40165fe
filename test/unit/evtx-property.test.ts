/**
 * Property tests: readEvtx and mapWindowsEvent never throw and always finish, on 10^5 inputs each:
 * arbitrary bytes, arbitrary bytes behind valid file/chunk signatures (so the chunk and BinXML code
 * is reached), and a real file (Security_short_selected.evtx, cut to its header and the first 4 KiB of
 * its chunk to keep each run small) with up to 8 bytes overwritten. No time thresholds: a hang would
 * show as the test timing out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readEvtx, type EvtxEvent } from '../../src/parsers/evtx/index.js';
import { createWindowsEventMapper } from '../../src/parsers/windows-events.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const real = new Uint8Array(readFileSync(join(FIXTURES, 'evtx/samples/Security_short_selected.evtx')));
const small = real.slice(0, 4096 + 4096);
const RUNS = 100_000;

function checkResult(r: ReturnType<typeof readEvtx>): void {
  expect(Array.isArray(r.records)).toBe(true);
  for (const f of r.failures) expect(f.reason).toMatch(/^evtx\.[a-z_]+$/);
  for (const e of r.records) expect(typeof e.recordId).toBe('string');
}

describe('readEvtx never throws or hangs', () => {
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        checkResult(readEvtx(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary bytes behind a file header and a chunk signature', () => {
    const head = small.slice(0, 4096 + 128 + 384); // file header block, chunk header, string/template tables
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), (tail) => {
        const bytes = new Uint8Array(head.length + tail.length);
        bytes.set(head);
        bytes.set(tail, head.length);
        checkResult(readEvtx(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  it('a real file with up to 8 bytes overwritten', () => {
    const edits = fc.array(fc.tuple(fc.nat({ max: small.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
    // Most edits land in the chunk (records, templates, names), some in the headers.
    const biased = fc.array(fc.tuple(fc.integer({ min: 4096 + 512, max: small.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.oneof(edits, biased, biased), (changes) => {
        const bytes = small.slice();
        for (const [at, value] of changes) bytes[at] = value;
        checkResult(readEvtx(bytes));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('mapWindowsEvent never throws', () => {
  it('on events with arbitrary data for every mapped provider and id', () => {
    const providers = ['Microsoft-Windows-Security-Auditing', 'Microsoft-Windows-Partition', 'Microsoft-Windows-Kernel-PnP', 'Microsoft-Windows-DriverFrameworks-UserMode', 'Microsoft-Windows-UserPnp', 'Microsoft-Windows-Sysmon', 'Microsoft-Windows-TerminalServices-RemoteConnectionManager', 'x'];
    const ids = [1006, 400, 410, 420, 2003, 2100, 2102, 20001, 20003, 6416, 4624, 4625, 4648, 4634, 4647, 4656, 4663, 4660, 4658, 1, 4688, 4689, 5, 5140, 5145, 1149];
    const keys = ['BusType', 'Capacity', 'ParentId', 'Manufacturer', 'Model', 'SerialNumber', 'DeviceInstanceId', 'DeviceInstanceID', '@instance', 'Request@minor', 'DeviceId', 'TargetUserName', 'TargetDomainName', 'IpAddress', 'IpPort', 'LogonType', 'ProcessId', 'HandleId', 'ObjectType', 'ObjectName', 'AccessList', 'SubStatus', 'Status', '__proto__', 'constructor', 'NewProcessName', 'NewProcessId', 'CommandLine', 'SubjectUserSid', 'TargetUserSid', 'MandatoryLabel', 'TokenElevationType', 'Image', 'Hashes', 'ProcessGuid', 'ParentProcessGuid', 'ShareName', 'RelativeTargetName', 'Param1', 'Param3'];
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('7', '0', 'File', '-', '0x1f4', 'USB\\VID_13FE&PID_6300\\0701935D84A40B14', 'USBSTOR\\Disk&Ven_A&Prod_B&Rev_1\\&12&0', '%%4416 %%1537', '23', '10', 'S-1-0-0', 'S-1-16-12288', 'SHA256=AB,MD5=', '{AC061C88-4864-652F-9200-000000000200}'));
    const event = fc.record({
      provider: fc.constantFrom(...providers),
      eventId: fc.constantFrom(...ids),
      data: fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 12 }),
      keywords: fc.oneof(fc.constant(undefined), fc.constantFrom('0x8010000000000000', '0x8020000000000000', 'zz'), fc.string({ maxLength: 20 })),
      timeCreated: fc.oneof(fc.constant('2021-01-01T00:00:00.000000Z'), fc.string({ maxLength: 30 })),
      computer: fc.string({ maxLength: 20 }),
      version: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 255 })),
    });
    const mapper = createWindowsEventMapper();
    fc.assert(
      fc.property(event, (x) => {
        const e: EvtxEvent = { recordId: '1', recordNumber: '1', channel: 'c', offset: 0, ...x, ...(x.keywords === undefined ? { keywords: undefined } : {}) } as EvtxEvent;
        const out = mapper.map(e, [1]);
        expect(Array.isArray(out.records)).toBe(true);
        // The mapper turns a throw into evtx.map_error; none may happen, and every payload fits its schema.
        expect(out.failures.filter((f) => f.reason === 'evtx.map_error' || f.reason === 'evtx.bad_payload')).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });
});
