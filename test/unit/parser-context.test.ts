/**
 * What the text parsers keep after finish(), saved with context() and given to new parsers with
 * restore(), as a restarted deriver does: the kernel USB parser's open sessions, boot id and uptime,
 * the syslog framer's year, and the dispatcher's per-file contexts. Real lines: the constructed
 * kernel USB samples (fixtures/constructed) and lnav's syslog sample. Every context goes through
 * JSON, as it does through the state database.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernelUsbParser, MAX_CONTEXT_SESSIONS, type KernelUsbParser } from '../../src/parsers/linux-usb.js';
import { createSyslogFramer } from '../../src/parsers/syslog.js';
import { createTextParsers, TEXT_CONTEXT_VERSION, type TextParsers } from '../../src/parsers/text-dispatch.js';
import { createLineDeriver } from '../../src/derive/lines.js';
import { payloadSchemas } from '../../src/records/schema.js';
import type { DerivedRecord } from '../../src/parsers/types.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const OBSERVED = '2026-11-23T00:00:00.000000Z';
const KERN_PATH = '/var/log/kern.log';

function linesOf(file: string): string[] {
  const lines = readFileSync(join(FIXTURES, file), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

const kern = linesOf('constructed/kern-usb.log');
const journal = linesOf('constructed/journal-kernel-usb.json');

/** Through JSON, as the deriver saves it. */
const json = <T>(v: T): unknown => JSON.parse(JSON.stringify(v)) as unknown;

/** Pushes texts (seq = index + first) into text parsers; returns the records, checked against the schema. */
function feed(tp: TextParsers, texts: string[], first = 0, path = KERN_PATH): DerivedRecord[] {
  const records: DerivedRecord[] = [];
  texts.forEach((text, i) => {
    const out = tp.push({ seq: first + i, path, text, observedAt: OBSERVED });
    expect(out.failures).toEqual([]);
    records.push(...out.records);
  });
  for (const r of records) payloadSchemas[r.kind].parse(r.payload);
  return records;
}

function finish(tp: TextParsers): DerivedRecord[] {
  const out = tp.finish();
  expect(out.failures).toEqual([]);
  return out.records;
}

/** All records of the texts read in one go, and read with a restart (finish, context, new parsers) before `at`. */
function withRestartAt(texts: string[], at: number, path = KERN_PATH): { straight: DerivedRecord[]; restarted: DerivedRecord[]; restore: ReturnType<TextParsers['restore']> } {
  const one = createTextParsers();
  const straight = [...feed(one, texts, 0, path), ...finish(one)];
  const before = createTextParsers();
  const first = [...feed(before, texts.slice(0, at), 0, path), ...finish(before)];
  const after = createTextParsers();
  const restore = after.restore(json(before.context()));
  const restarted = [...first, ...feed(after, texts.slice(at), at, path), ...finish(after)];
  return { straight, restarted, restore };
}

const usb = (r: DerivedRecord | undefined): Record<string, unknown> => (r?.payload ?? {}) as Record<string, unknown>;
const disconnects = (rs: DerivedRecord[]): Record<string, unknown>[] => rs.filter((r) => r.kind === 'usb.disconnect').map(usb);

describe('kernel USB parser: context() / restore()', () => {
  it('after finish(): the open sessions with what a disconnect repeats, the SCSI host, the last uptime; nothing being announced', () => {
    const tp = createTextParsers();
    feed(tp, kern.slice(0, 17)); // the SanDisk stick and the Logitech receiver, both still connected
    expect(finish(tp).map((r) => usb(r)['port'])).toEqual(['3-6.4.1']); // the receiver's announcement ends at finish()
    const ctx = tp.context();
    expect(ctx.v).toBe(TEXT_CONTEXT_VERSION);
    expect(ctx.files).toHaveLength(1);
    const [file] = ctx.files;
    expect(file?.path).toBe(KERN_PATH);
    expect(file?.syslog).toEqual({ year: 2026, month: 11 });
    expect(file?.usb?.open).toEqual([
      {
        port: '1-1',
        device_number: 5,
        session: '1-1#5@0',
        connect_seq: 0,
        device: {
          vendor_id: '0781',
          product_id: '5581',
          serial: '4C530001230527110412',
          product: 'Ultra',
          manufacturer: 'SanDisk',
          speed: 'high-speed',
          driver: 'xhci_hcd',
          block_device: 'sdb',
          mass_storage: true,
          capacity_bytes: String(60063744 * 512),
        },
      },
      {
        port: '3-6.4.1',
        device_number: 12,
        session: '3-6.4.1#12@12',
        connect_seq: 12,
        device: { vendor_id: '046d', product_id: 'c52b', product: 'USB Receiver', manufacturer: 'Logitech', speed: 'full-speed', driver: 'xhci_hcd', mass_storage: false },
      },
    ]);
    expect(file?.usb?.scsi_hosts).toEqual([[6, '1-1']]);
    expect(file?.usb?.last_uptime_ms).toBeCloseTo(5634210.125, 3);
    expect(file?.usb?.boot_id).toBeUndefined();
    // Restored into new parsers, the same context comes out again.
    const again = createTextParsers();
    expect(again.restore(json(ctx))).toEqual({ restored: 5, ignored: 0, files: 1, usbSessions: 2 }); // 2 sessions, 1 SCSI host, 1 uptime, 1 year
    expect(json(again.context())).toEqual(json(ctx));
  });

  it('a disconnect read after the restart is paired with the connect read before it: identity, session, connect seq', () => {
    for (const at of [12, 17, 18, 19, 28]) {
      const { straight, restarted, restore } = withRestartAt(kern, at);
      expect(restore.ignored, `restart before line ${at}`).toBe(0);
      // Exactly what one uninterrupted pass derives, record for record.
      expect(restarted.map((r) => r.payload), `restart before line ${at}`).toEqual(straight.map((r) => r.payload));
    }
    const { restarted } = withRestartAt(kern, 17);
    const [sandisk] = disconnects(restarted);
    expect(sandisk).toMatchObject({
      derived_from: [17],
      port: '1-1',
      device_number: 5,
      session: '1-1#5@0',
      serial: '4C530001230527110412',
      vendor_id: '0781',
      product_id: '5581',
      block_device: 'sdb',
      extra: { uptime: '6571.554321', connect_seq: '0' },
    });
    expect((sandisk?.['extra'] as Record<string, string>)['pairing']).toBeUndefined();
  });

  it('fresh parsers (no context) leave the same disconnect unpaired, as before', () => {
    const before = createTextParsers();
    feed(before, kern.slice(0, 17));
    finish(before);
    const fresh = createTextParsers();
    const [d] = disconnects(feed(fresh, kern.slice(17, 18), 17));
    expect(d).toEqual({
      derived_from: [17],
      parser: 'syslog.kernel-usb@1',
      origin: 'kernel',
      port: '1-1',
      device_number: 5,
      event_time: '2026-11-20T09:31:17.000000Z',
      time_note: `year 2026 inferred from reference time ${OBSERVED}; local time, zone unknown, read as UTC`,
      event_host: 'ws-0147',
      extra: { uptime: '6571.554321', pairing: 'no connect seen for this port and device number' },
    });
  });

  it('journal lines: the boot id is carried, so a reboot after the restart still closes the session', () => {
    const same = withRestartAt(journal, 5, '/export/journal.json');
    expect(disconnects(same.restarted)).toEqual(disconnects(same.straight));
    expect(disconnects(same.restarted)[0]).toMatchObject({ session: '1-1#5@0', serial: '60A44C413B6AF2B0A9A60F12', extra: { connect_seq: '0' } });

    const rebooted = journal.map((l, i) => (i === 5 ? l.replace('6181dc48c1a54d4f9d3f0c2e5a1b7e90', '00000000000000000000000000000001') : l));
    const r = withRestartAt(rebooted, 5, '/export/journal.json');
    expect(disconnects(r.restarted)).toEqual(disconnects(r.straight));
    expect(disconnects(r.restarted)[0]?.['extra']).toEqual({ pairing: 'no connect seen for this port and device number' });
  });

  it('the uptime is carried, so a reboot (uptime going backwards) after the restart still closes the session', () => {
    // The log of the next boot: the same device, port and number, uptime back at a few seconds.
    const nextBoot = kern[17]!.replace('[ 6571.554321]', '[    4.100000]');
    const texts = [...kern.slice(0, 12), nextBoot];
    const r = withRestartAt(texts, 12);
    expect(disconnects(r.restarted)).toEqual(disconnects(r.straight));
    expect(disconnects(r.restarted)[0]?.['extra']).toEqual({ uptime: '4.100000', pairing: 'no connect seen for this port and device number' });
  });

  it('keeps at most MAX_CONTEXT_SESSIONS open sessions per file, the most recent', () => {
    const texts: string[] = [];
    for (let port = 1; port <= MAX_CONTEXT_SESSIONS + 6; port++) texts.push(`[ ${String(100 + port)}.000000] usb 1-${port}: new high-speed USB device number ${port} using xhci_hcd`);
    const tp = createTextParsers();
    feed(tp, texts, 0, '/dmesg');
    finish(tp);
    const open = tp.context().files[0]?.usb?.open ?? [];
    expect(open).toHaveLength(MAX_CONTEXT_SESSIONS);
    expect(open[0]?.port).toBe('1-7');
    expect(open.at(-1)?.port).toBe(`1-${MAX_CONTEXT_SESSIONS + 6}`);
  });

  it('leaves out a session whose strings are too long to keep, rather than a shortened serial', () => {
    const long = 'X'.repeat(2000);
    const texts = [...kern.slice(0, 5), kern[5]!.replace('4C530001230527110412', long), ...kern.slice(6, 12)];
    const r = withRestartAt([...texts, kern[17]!], 12);
    expect(r.restore.usbSessions).toBe(0);
    expect(disconnects(r.restarted)[0]?.['serial']).toBeUndefined();
    expect((disconnects(r.restarted)[0]?.['extra'] as Record<string, string>)['pairing']).toBe('no connect seen for this port and device number');
    expect(disconnects(r.straight)[0]?.['serial']).toBe(long); // uninterrupted, the whole serial
  });

  it('restore ignores, and counts, entries it does not understand; valid entries beside them are taken', () => {
    const good = { port: '1-1', device_number: 5, session: '1-1#5@0', connect_seq: 0, device: { vendor_id: '0781', serial: 'S1', mass_storage: true } };
    const p = createKernelUsbParser();
    const counts = p.restore({
      open: [
        good,
        { ...good, port: '1-2', session: '1-2#5@0', device: { vendor_id: 'XYZW' } }, // not hex
        { ...good, port: '1-3', device_number: 'five', session: '1-3#five@0' }, // not a number
        { ...good, port: '1-4' }, // session of another port
        { port: '1-5', device_number: 2, session: '1-5#2@7' }, // no device
        { ...good }, // the same port twice
        { ...good, port: '2-1', session: '2-1#5@3', device: { serial: 'S2', future_field: [1, 2] }, future: true }, // unknown fields: left out, the rest taken
        'not an object',
      ],
      scsi_hosts: [[6, '1-1'], [7, 'usb7'], ['8', '1-1'], [9]],
      boot_id: 42,
      last_uptime_ms: -1,
      something_new: {},
    });
    expect(counts).toEqual({ restored: 3, ignored: 11, sessions: 2 });
    expect(p.context()).toEqual({
      open: [
        { port: '1-1', device_number: 5, session: '1-1#5@0', connect_seq: 0, device: { vendor_id: '0781', serial: 'S1', mass_storage: true } },
        { port: '2-1', device_number: 5, session: '2-1#5@3', connect_seq: 0, device: { serial: 'S2' } },
      ],
      scsi_hosts: [[6, '1-1']],
    });
  });

  it('restore never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const p: KernelUsbParser = createKernelUsbParser();
        const counts = p.restore(v);
        expect(counts.restored + counts.ignored).toBeGreaterThanOrEqual(0);
        const tp = createTextParsers();
        tp.restore(v);
        tp.restore({ v: TEXT_CONTEXT_VERSION, files: [v, { path: '/k', usb: v, syslog: v }] });
        const ld = createLineDeriver();
        ld.restore({ v: TEXT_CONTEXT_VERSION, files: [{ path: '/k', usb: { open: [v], scsi_hosts: [v], boot_id: v, last_uptime_ms: v } }] });
      }),
      { numRuns: 300 },
    );
    const hostile = new Proxy({}, { get: () => { throw new Error('boom'); } });
    expect(createKernelUsbParser().restore(hostile).ignored).toBeGreaterThan(0);
    expect(createSyslogFramer().restore(hostile)).toEqual({ restored: 0, ignored: 1 });
    expect(createTextParsers().restore({ v: TEXT_CONTEXT_VERSION, files: [hostile] }).ignored).toBe(1);
    expect(createTextParsers().restore(hostile).ignored).toBe(1);
  });
});

describe('syslog framer: context() / restore()', () => {
  // lnav's sample: three lines of Dec 3, then one of Jan 3.
  const lines = linesOf('lnav/test/logfile_syslog.1');

  it('nothing to keep before an RFC 3164 line was given a year; then its year and month', () => {
    const f = createSyslogFramer();
    expect(f.context()).toBeUndefined();
    f.frame('2026-01-02T03:04:05+00:00 host prog: an ISO line', '2026-01-03T00:00:00Z');
    expect(f.context()).toBeUndefined();
    f.frame(lines[0]!, '2025-12-04T00:00:00Z');
    expect(f.context()).toEqual({ year: 2025, month: 12 });
  });

  it('the December → January rollover is still seen when a restart falls between the two lines', () => {
    // Dec 3 read on Dec 4, 2025; the Jan 3 line read only on 2027-01-05 (the agent was off a year):
    // its reference time alone says 2027, the previous line says 2026.
    const before = createSyslogFramer();
    const dec = lines.slice(0, 3).flatMap((l) => before.frame(l, '2025-12-04T00:00:00Z'));
    expect(dec.map((f) => f.time)).toEqual(['2025-12-03T09:23:38.000000Z', '2025-12-03T09:23:38.000000Z', '2025-12-03T09:23:38.000000Z']);
    const saved = json(before.context());
    expect(saved).toEqual({ year: 2025, month: 12 });

    const after = createSyslogFramer();
    expect(after.restore(saved)).toEqual({ restored: 1, ignored: 0 });
    const [jan] = after.frame(lines[3]!, '2027-01-05T00:00:00Z');
    expect(jan?.time).toBe('2026-01-03T09:47:02.000000Z');
    expect(jan?.timeNote).toBe('year 2026 inferred: rollover from Dec 2025 to Jan; local time, zone unknown, read as UTC');
    expect(after.context()).toEqual({ year: 2026, month: 1 });

    const fresh = createSyslogFramer();
    const [alone] = fresh.frame(lines[3]!, '2027-01-05T00:00:00Z');
    expect(alone?.time).toBe('2027-01-03T09:47:02.000000Z');
    expect(alone?.timeNote).toBe('year 2027 inferred from reference time 2027-01-05T00:00:00Z; local time, zone unknown, read as UTC');
  });

  it('the previous frame is not carried: a continuation line right after a restart is read on its own', () => {
    const before = createSyslogFramer();
    before.frame(lines[0]!, '2025-12-04T00:00:00Z');
    expect(before.frame('    carried on', '2025-12-04T00:00:00Z')[0]?.continuation).toBe(true);
    const after = createSyslogFramer();
    after.restore(json(before.context()));
    expect(after.frame('    carried on', '2025-12-04T00:00:00Z')[0]).toEqual({ message: '    carried on', format: 'unknown' });
  });

  it('restore ignores what a framer could not have produced', () => {
    for (const bad of [undefined, null, 2025, 'x', [], {}, { year: 2025 }, { month: 12 }, { year: 2025.5, month: 12 }, { year: 10000, month: 1 }, { year: 2025, month: 13 }, { year: '2025', month: 12 }]) {
      const f = createSyslogFramer();
      expect(f.restore(bad), JSON.stringify(bad)).toEqual({ restored: 0, ignored: 1 });
      expect(f.context()).toBeUndefined();
    }
    const f = createSyslogFramer();
    expect(f.restore({ year: 2025, month: 12, later: 'ignored' })).toEqual({ restored: 1, ignored: 0 });
    expect(f.context()).toEqual({ year: 2025, month: 12 });
  });
});

describe('text dispatcher and line deriver: the per-file context', () => {
  it('files with nothing to keep are left out; each file keeps its own', () => {
    const ld = createLineDeriver();
    const auth = 'Feb 21 21:54:44 localhost sshd[3402]: Accepted password for vagrant from 10.0.2.2 port 63673 ssh2';
    const lines = [
      { path: '/var/log/auth.log', text: auth },
      { path: '/var/log/app.log', text: '2026-02-21T21:54:44+00:00 host app: an ISO line keeps no year' },
      { path: '/var/log/audit/audit.log', text: 'type=EOE msg=audit(1364481363.243:24287): ' },
      ...kern.slice(0, 12).map((text) => ({ path: KERN_PATH, text })),
    ];
    lines.forEach((l, seq) => ld.push({ seq, path: l.path, text: l.text, observedAt: OBSERVED }));
    ld.finish();
    const ctx = ld.context();
    expect(ctx.files.map((f) => [f.path, f.syslog, f.usb?.open.map((o) => o.session)])).toEqual([
      ['/var/log/auth.log', { year: 2026, month: 2 }, undefined],
      [KERN_PATH, { year: 2026, month: 11 }, ['1-1#5@3']],
    ]);
    const restarted = createLineDeriver();
    // Two years, a session, a SCSI host, an uptime.
    expect(restarted.restore(json(ctx))).toEqual({ restored: 5, ignored: 0, files: 2, usbSessions: 1 });
    expect(restarted.files).toBe(2);
    const out = restarted.push({ seq: 99, path: KERN_PATH, text: kern[17]!, observedAt: OBSERVED });
    expect(out.records[0]?.payload).toMatchObject({ session: '1-1#5@3', serial: '4C530001230527110412', extra: { connect_seq: '3' } });
    // Another file's lines do not see it.
    const other = restarted.push({ seq: 100, path: '/var/log/other.log', text: kern[17]!, observedAt: OBSERVED });
    expect((other.records[0]?.payload as { extra?: Record<string, string> }).extra?.['pairing']).toBe('no connect seen for this port and device number');
  });

  it('another version, or no files list, is ignored as a whole', () => {
    const tp = createTextParsers();
    feed(tp, kern.slice(0, 12));
    finish(tp);
    const ctx = json(tp.context()) as { v: number; files: unknown[] };
    for (const bad of [{ ...ctx, v: TEXT_CONTEXT_VERSION + 1 }, { v: TEXT_CONTEXT_VERSION }, { v: TEXT_CONTEXT_VERSION, files: {} }, ctx.files, 'garbage', null]) {
      const fresh = createTextParsers();
      expect(fresh.restore(bad)).toEqual({ restored: 0, ignored: 1, files: 0, usbSessions: 0 });
      expect(fresh.files).toBe(0);
    }
    // A file entry without a path, or one naming a path twice: that entry only.
    const fresh = createTextParsers();
    const [entry] = ctx.files as Array<Record<string, unknown>>;
    expect(fresh.restore({ v: TEXT_CONTEXT_VERSION, files: [{ ...entry, path: 7 }, entry, entry] })).toMatchObject({ files: 1, ignored: 2, usbSessions: 1 });
  });
});
