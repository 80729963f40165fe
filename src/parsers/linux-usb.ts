/**
 * Linux kernel USB messages → `usb.connect` / `usb.disconnect`.
 *
 * The kernel announces a device over several lines (drivers/usb/core/hub.c):
 *
 *   usb 1-1: new high-speed USB device number 5 using xhci_hcd
 *   usb 1-1: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00
 *   usb 1-1: New USB device strings: Mfr=1, Product=2, SerialNumber=3
 *   usb 1-1: Product: Ultra / Manufacturer: SanDisk / SerialNumber: 4C53…
 *   usb-storage 1-1:1.0: USB Mass Storage device detected
 *   scsi host6: usb-storage 1-1:1.0
 *   sd 6:0:0:0: [sdb] 60063744 512-byte logical blocks: (30.8 GB/28.6 GiB)
 *   sd 6:0:0:0: [sdb] Attached SCSI removable disk
 *   usb 1-1: USB disconnect, device number 5
 *
 * interleaved with anything else. This parser is stateful but pure: it keeps the devices being
 * announced (by port) and the connected ones (by port + device number), and emits a connect once its
 * announcement is complete (its disk attached, its port disconnected or re-used, a reboot, the next
 * kernel line more than 30 s later by the log's own clock (120 s while a disk is awaited), 2000 lines
 * later, or finish()), with every contributing line's
 * seq in `derived_from`. A disconnect is paired with the connect on the same port and device number
 * (`session`); a reboot (boot id change, uptime going backwards, `Linux version …`) closes all.
 * Root hubs (`usb usb3: …`) are not devices anyone plugged in: they are ignored. What it keeps after
 * finish() (connected devices, boot id, uptime, SCSI hosts) can be saved with context() and given to
 * a new parser with restore(), so a disconnect read after a restart is still paired.
 *
 * Never throws. A line that is recognisably a USB core line but cannot be read becomes a ParseFailure.
 */
import type { PayloadOf } from '../records/schema.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from './types.js';
import type { RestoreCounts, SyslogFrame } from './syslog.js';

export const KERNEL_USB_PARSER = 'syslog.kernel-usb@1';

/** An announcement with no disk to wait for is complete when the log moves on by this much. */
const SETTLE_MS = 30_000;
/** A mass-storage device waits this long (log time) for its `[sdX] Attached` line. */
const SETTLE_STORAGE_MS = 120_000;
/** …or this many lines when the log gives no time at all. */
const SETTLE_LINES = 2000;

type UsbPayload = PayloadOf<'usb.connect'>;

interface Pending {
  port: string;
  seqs: number[];
  deviceNumber?: number;
  speed?: string;
  hcd?: string;
  vendorId?: string;
  productId?: string;
  bcdDevice?: string;
  product?: string;
  manufacturer?: string;
  serial?: string;
  massStorage?: boolean;
  iface?: string;
  scsiHost?: number;
  blockDevice?: string;
  capacityBytes?: string;
  blockInference?: string;
  time?: string;
  timeNote?: string;
  host?: string;
  uptime?: string;
  /** Log time (ms) or uptime (ms) of the last contributing line, and the line count at that point. */
  lastMs?: number;
  lastUptimeMs?: number;
  lastLine: number;
}

/** What a disconnect repeats of the connect it is paired with. */
type ConnectedDevice = Pick<
  UsbPayload,
  'vendor_id' | 'product_id' | 'serial' | 'product' | 'manufacturer' | 'speed' | 'driver' | 'block_device' | 'mass_storage' | 'capacity_bytes'
>;

interface Open {
  deviceNumber: number;
  session: string;
  /** The connect's first line (its `derived_from[0]`), named by the disconnect as `extra.connect_seq`. */
  connectSeq: number | undefined;
  device: ConnectedDevice;
}

/**
 * What the parser keeps after finish() (nothing is being announced then), as plain JSON, so that a
 * restarted deriver pairs a disconnect with a connect it read before the restart, and still sees a
 * reboot (boot id, uptime going backwards) that closes the sessions. Field names are the record's.
 */
export interface KernelUsbContext {
  /** Connected devices by port, oldest connect first. */
  open: Array<{ port: string; device_number: number; session: string; connect_seq?: number; device: ConnectedDevice }>;
  /** `scsi hostN` → USB port: a disk line of a device attached before is then not taken for another. */
  scsi_hosts: Array<[number, string]>;
  boot_id?: string;
  /** The kernel uptime (ms) of the last line that had one. */
  last_uptime_ms?: number;
}

/** Open sessions a context keeps per file (most recent connects); a machine has a few dozen ports. */
export const MAX_CONTEXT_SESSIONS = 64;
/**
 * Devices held as connected, and SCSI hosts remembered, per file while running. Real hardware
 * stays far below (ports are physical, a disconnect frees one); a log of made-up ports must not grow
 * memory without bound, so past these the oldest is forgotten (its disconnect is then recorded with
 * a pairing note, as for a connect never seen).
 */
export const MAX_OPEN_SESSIONS = 4096;
export const MAX_SCSI_HOSTS = 256;

/** Sets `key` as the newest entry of `map`, forgetting the oldest past `max`. */
function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}
/** SCSI hosts a context keeps per file (the most recent: the kernel numbers them upwards). */
const MAX_CONTEXT_SCSI_HOSTS = 16;
/**
 * A session whose strings are longer than this is left out of a context rather than cut: a
 * disconnect then says it saw no connect, instead of naming a device by a shortened serial.
 * (USB string descriptors are at most 126 UTF-16 units.)
 */
const MAX_CONTEXT_TEXT = 1024;
const MAX_BOOT_ID = 128;
/** ~317 years of uptime: anything larger is not a kernel's. */
const MAX_UPTIME_MS = 1e13;

const RE_UPTIME = /^\[\s*(\d{1,10}\.\d{1,9})\]\s?/;
const RE_NEW = /^usb (\S+): new (.{1,40}?) USB device number (\d{1,6}) using (\S{1,64})$/;
const RE_FOUND = /^usb (\S+): New USB device found, idVendor=([0-9a-fA-F]{4}), idProduct=([0-9a-fA-F]{4})(?:, bcdDevice=\s?([0-9a-fA-F]{1,2}\.[0-9a-fA-F]{2}))?$/;
const RE_STRINGS = /^usb (\S+): New USB device strings: Mfr=(\d{1,3}), Product=(\d{1,3}), SerialNumber=(\d{1,3})$/;
const RE_STRING = /^usb (\S+): (Product|Manufacturer|SerialNumber): (.*)$/;
const RE_DISCONNECT = /^usb (\S+): USB disconnect, device number (\d{1,6})$/;
const RE_STORAGE = /^usb-storage (\S+?):(\d{1,3}\.\d{1,3}): USB Mass Storage device detected$/;
const RE_UAS = /^uas (\S+?):(\d{1,3}\.\d{1,3}): /;
const RE_SCSI_HOST = /^scsi host(\d{1,6}): (usb-storage|uas) (\S+?):(\d{1,3}\.\d{1,3})$/;
const RE_SD_BLOCKS = /^sd (\d{1,6}):\d{1,6}:\d{1,6}:\d{1,6}: \[(\w{1,32})\] (\d{1,20}) (\d{1,6})-byte logical blocks/;
const RE_SD_ATTACHED = /^sd (\d{1,6}):\d{1,6}:\d{1,6}:\d{1,6}: \[(\w{1,32})\] Attached SCSI (removable )?disk$/;
const RE_OLD_ATTACHED = /^Attached scsi (removable )?disk (\w{1,32}) at scsi(\d{1,6}), channel \d+, id \d+, lun \d+$/;
const RE_PORT = /^\d{1,3}-\d{1,3}(?:\.\d{1,3}){0,6}$/;
const RE_ROOT_HUB = /^usb\d{1,3}$/;
const RE_BOOT = /^(?:Linux version \d|Booting Linux on physical CPU)/;

let lastTime: string | undefined;
let lastTimeMs: number | undefined;
/** Date.parse with a one-entry cache (consecutive kernel lines often share a time). */
function timeMs(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  if (t !== lastTime) {
    lastTime = t;
    const ms = Date.parse(t);
    lastTimeMs = Number.isNaN(ms) ? undefined : ms;
  }
  return lastTimeMs;
}

/** Kernel message text of a framed line, or undefined when the line is not from the kernel. */
export function kernelMessage(framed: SyslogFrame): string | undefined {
  if (framed.continuation) return undefined;
  if (framed.format === 'journal-json') {
    const j = framed.journal;
    if (j?.['_TRANSPORT'] === 'kernel' || framed.program === 'kernel') return framed.message;
    return undefined;
  }
  if (framed.program === 'kernel') return framed.message;
  // Raw `dmesg` output (no syslog header at all).
  if (framed.format === 'unknown') return framed.message;
  return undefined;
}

/** Cheap test: could this kernel message matter to the USB parser? */
function relevant(msg: string): boolean {
  return msg.includes('usb') || msg.includes('sd ') || msg.includes('scsi') || msg.includes('Linux') || msg.includes('uas');
}

export interface KernelUsbParser {
  push(line: SourceLine, framed: SyslogFrame): ParseOutput;
  finish(): ParseOutput;
  /**
   * What is kept after finish(), or undefined when that is nothing. At most `maxSessions` (and
   * {@link MAX_CONTEXT_SESSIONS}) open sessions, the most recent. Meant to be called right after finish().
   */
  context(maxSessions?: number): KernelUsbContext | undefined;
  /**
   * Takes a context from context(), into a fresh parser. Entries it does not understand (a wrong
   * type, a value this parser could not have produced, beyond the caps) are ignored and counted;
   * it never throws. `sessions`: open sessions restored.
   */
  restore(ctx: unknown): RestoreCounts & { sessions: number };
}

export function createKernelUsbParser(): KernelUsbParser {
  const pending = new Map<string, Pending>();
  const open = new Map<string, Open>();
  const scsiHostPort = new Map<number, string>();
  let bootId: string | undefined;
  let lastUptime: number | undefined;
  let lineCount = 0;

  function fail(out: ParseOutput, seq: number, reason: string, detail: string): void {
    const f: ParseFailure = { parser: KERNEL_USB_PARSER, reason, detail: detail.slice(0, 500), derived_from: [seq] };
    out.failures.push(f);
  }

  function finalize(out: ParseOutput, p: Pending): void {
    pending.delete(p.port);
    const seqs = [...new Set(p.seqs)].sort((a, b) => a - b);
    const firstSeq = p.seqs[0] ?? seqs[0] ?? 0;
    const payload: UsbPayload = { derived_from: seqs, parser: KERNEL_USB_PARSER, origin: 'kernel', port: p.port };
    if (p.time !== undefined) payload.event_time = p.time;
    if (p.timeNote !== undefined) payload.time_note = p.timeNote;
    if (p.host !== undefined) payload.event_host = p.host;
    if (p.vendorId !== undefined) payload.vendor_id = p.vendorId;
    if (p.productId !== undefined) payload.product_id = p.productId;
    if (p.serial !== undefined) payload.serial = p.serial;
    if (p.product !== undefined) payload.product = p.product;
    if (p.manufacturer !== undefined) payload.manufacturer = p.manufacturer;
    if (p.deviceNumber !== undefined) payload.device_number = p.deviceNumber;
    if (p.speed !== undefined) payload.speed = p.speed;
    if (p.hcd !== undefined) payload.driver = p.hcd;
    if (p.blockDevice !== undefined) payload.block_device = p.blockDevice;
    payload.mass_storage = p.massStorage === true;
    if (p.capacityBytes !== undefined) payload.capacity_bytes = p.capacityBytes;
    const extra: Record<string, string> = {};
    if (p.bcdDevice !== undefined) extra['bcd_device'] = p.bcdDevice;
    if (p.uptime !== undefined) extra['uptime'] = p.uptime;
    if (p.iface !== undefined) extra['interface'] = p.iface;
    if (p.massStorage === true) extra['interface_driver'] = p.iface?.startsWith('uas') ? 'uas' : 'usb-storage';
    if (p.scsiHost !== undefined) extra['scsi_host'] = String(p.scsiHost);
    if (p.blockInference !== undefined) extra['block_device_inference'] = p.blockInference;
    if (p.vendorId === undefined) extra['announcement'] = 'incomplete: no "New USB device found" line';
    if (p.deviceNumber !== undefined) {
      payload.session = `${p.port}#${p.deviceNumber}@${firstSeq}`;
      setNewest(open, p.port, { deviceNumber: p.deviceNumber, session: payload.session, connectSeq: payload.derived_from[0], device: connectedDevice(payload) }, MAX_OPEN_SESSIONS);
    }
    if (Object.keys(extra).length > 0) payload.extra = extra;
    const rec: DerivedRecord<'usb.connect'> = { kind: 'usb.connect', payload };
    out.records.push(rec);
  }

  function rebootReset(out: ParseOutput): void {
    for (const p of [...pending.values()]) finalize(out, p);
    open.clear();
    scsiHostPort.clear();
    lastUptime = undefined;
  }

  /** Finalizes announcements the log has moved on from. */
  function settle(out: ParseOutput, nowMs: number | undefined, nowUptimeMs: number | undefined): void {
    for (const p of [...pending.values()]) {
      const wait = p.massStorage === true && p.blockDevice === undefined ? SETTLE_STORAGE_MS : SETTLE_MS;
      let stale = lineCount - p.lastLine > SETTLE_LINES;
      if (nowMs !== undefined && p.lastMs !== undefined && nowMs - p.lastMs > wait) stale = true;
      if (nowUptimeMs !== undefined && p.lastUptimeMs !== undefined && nowUptimeMs - p.lastUptimeMs > wait) stale = true;
      if (stale) finalize(out, p);
    }
  }

  function touch(p: Pending, seq: number, nowMs: number | undefined, uptimeMs: number | undefined): void {
    p.seqs.push(seq);
    if (nowMs !== undefined) p.lastMs = nowMs;
    if (uptimeMs !== undefined) p.lastUptimeMs = uptimeMs;
    p.lastLine = lineCount;
  }

  /** The disk of a mass-storage device attached: the announcement is complete. */
  function attachDisk(out: ParseOutput, p: Pending, blockDevice: string, seq: number, nowMs: number | undefined, uptimeMs: number | undefined): void {
    p.blockDevice = blockDevice;
    p.massStorage = true;
    touch(p, seq, nowMs, uptimeMs);
    finalize(out, p);
  }

  function handle(out: ParseOutput, line: SourceLine, framed: SyslogFrame, raw: string): void {
    lineCount++;
    const seq = line.seq;
    // Reboot detection first: a new boot id, or the kernel's uptime going backwards.
    const jBoot = framed.journal?.['_BOOT_ID'];
    if (jBoot !== undefined) {
      if (bootId !== undefined && jBoot !== bootId) rebootReset(out);
      bootId = jBoot;
    }
    let msg = raw;
    let uptime: string | undefined;
    let uptimeMs: number | undefined;
    const um = RE_UPTIME.exec(msg);
    if (um) {
      uptime = um[1] ?? '';
      uptimeMs = Number(uptime) * 1000;
      msg = msg.slice(um[0].length);
      if (lastUptime !== undefined && uptimeMs + 1000 < lastUptime) rebootReset(out);
      lastUptime = uptimeMs;
    }
    if (RE_BOOT.test(msg)) {
      rebootReset(out);
      return;
    }
    const nowMs = timeMs(framed.time);
    settle(out, nowMs, uptimeMs);
    if (!relevant(msg)) return;

    const newPending = (port: string): Pending => {
      const p: Pending = { port, seqs: [], lastLine: lineCount };
      if (framed.time !== undefined) p.time = framed.time;
      if (framed.timeNote !== undefined) p.timeNote = framed.timeNote;
      if (framed.host !== undefined) p.host = framed.host;
      if (uptime !== undefined) p.uptime = uptime;
      pending.set(port, p);
      return p;
    };

    if (msg.startsWith('usb ')) {
      let m: RegExpExecArray | null;
      const sp = msg.indexOf(':', 4);
      const port = sp > 4 ? msg.slice(4, sp) : '';
      if (RE_ROOT_HUB.test(port)) return; // root hubs: the controller's own, not plugged in
      if ((m = RE_NEW.exec(msg))) {
        const p0 = m[1] ?? '';
        if (!RE_PORT.test(p0)) return fail(out, seq, 'kernel-usb.bad_port', msg);
        const old = pending.get(p0);
        if (old) finalize(out, old);
        const p = newPending(p0);
        p.deviceNumber = Number(m[3]);
        p.speed = m[2] ?? '';
        p.hcd = m[4] ?? '';
        touch(p, seq, nowMs, uptimeMs);
        return;
      }
      if ((m = RE_FOUND.exec(msg))) {
        const p0 = m[1] ?? '';
        if (!RE_PORT.test(p0)) return fail(out, seq, 'kernel-usb.bad_port', msg);
        let p = pending.get(p0);
        if (p && p.vendorId !== undefined) {
          // A second descriptor for the same port without a new-device line: a new announcement.
          finalize(out, p);
          p = undefined;
        }
        p ??= newPending(p0);
        p.vendorId = (m[2] ?? '').toLowerCase();
        p.productId = (m[3] ?? '').toLowerCase();
        if (m[4] !== undefined) p.bcdDevice = m[4];
        touch(p, seq, nowMs, uptimeMs);
        return;
      }
      if ((m = RE_STRINGS.exec(msg))) {
        const p = pending.get(m[1] ?? '');
        if (!p) return fail(out, seq, 'kernel-usb.orphan_line', `no device being announced on this port: ${msg}`);
        touch(p, seq, nowMs, uptimeMs);
        return;
      }
      if ((m = RE_STRING.exec(msg))) {
        const p = pending.get(m[1] ?? '');
        if (!p) return fail(out, seq, 'kernel-usb.orphan_line', `no device being announced on this port: ${msg}`);
        const value = m[3] ?? '';
        if (m[2] === 'Product') p.product = value;
        else if (m[2] === 'Manufacturer') p.manufacturer = value;
        else p.serial = value;
        touch(p, seq, nowMs, uptimeMs);
        return;
      }
      if ((m = RE_DISCONNECT.exec(msg))) {
        const p0 = m[1] ?? '';
        if (!RE_PORT.test(p0)) return fail(out, seq, 'kernel-usb.bad_port', msg);
        const number = Number(m[2]);
        const p = pending.get(p0);
        if (p) finalize(out, p);
        disconnect(out, line, framed, p0, number, uptime);
        return;
      }
      // Recognisably one of the USB core's lines, but not readable as one.
      if (/ USB device number /.test(msg) && /^usb \S+: new /.test(msg)) return fail(out, seq, 'kernel-usb.bad_new_device', msg);
      if (msg.includes('New USB device found')) return fail(out, seq, 'kernel-usb.bad_ids', msg);
      if (msg.includes('USB disconnect')) return fail(out, seq, 'kernel-usb.bad_disconnect', msg);
      if (/^usb \S+: (Product|Manufacturer|SerialNumber)\b/.test(msg)) return fail(out, seq, 'kernel-usb.bad_string', msg);
      return;
    }
    let m: RegExpExecArray | null;
    if ((m = RE_STORAGE.exec(msg)) || (m = RE_UAS.exec(msg))) {
      const p = pending.get(m[1] ?? '');
      if (!p) return; // a storage line for a device announced before this log began
      p.massStorage = true;
      p.iface = `${msg.startsWith('uas') ? 'uas' : 'usb-storage'} ${m[1] ?? ''}:${m[2] ?? ''}`;
      touch(p, seq, nowMs, uptimeMs);
      return;
    }
    if ((m = RE_SCSI_HOST.exec(msg))) {
      const host = Number(m[1]);
      const port = m[3] ?? '';
      setNewest(scsiHostPort, host, port, MAX_SCSI_HOSTS);
      const p = pending.get(port);
      if (p) {
        p.scsiHost = host;
        p.massStorage = true;
        touch(p, seq, nowMs, uptimeMs);
      }
      return;
    }
    if ((m = RE_SD_BLOCKS.exec(msg))) {
      const p = pendingForScsiHost(Number(m[1]));
      if (p) {
        try {
          p.capacityBytes = (BigInt(m[3] ?? '0') * BigInt(m[4] ?? '0')).toString();
        } catch {
          /* digits only: cannot happen */
        }
        p.blockDevice ??= m[2] ?? '';
        touch(p, seq, nowMs, uptimeMs);
      }
      return;
    }
    if ((m = RE_SD_ATTACHED.exec(msg))) {
      const host = Number(m[1]);
      let p = pendingForScsiHost(host);
      if (!p && !scsiHostPort.has(host)) {
        const cands = [...pending.values()].filter((x) => x.massStorage === true && x.scsiHost === undefined && x.blockDevice === undefined);
        if (cands.length === 1 && cands[0]) {
          p = cands[0];
          p.blockInference = 'the only mass-storage device being announced when the disk attached (no scsi host line)';
        }
      }
      if (p) attachDisk(out, p, m[2] ?? '', seq, nowMs, uptimeMs);
      return;
    }
    if ((m = RE_OLD_ATTACHED.exec(msg))) {
      const host = Number(m[3]);
      let p = pendingForScsiHost(host);
      if (!p) {
        const cands = [...pending.values()].filter((x) => x.blockDevice === undefined);
        if (cands.length === 1 && cands[0]) {
          p = cands[0];
          p.blockInference = 'the only device being announced when the disk attached (old kernel format, no scsi host line)';
          p.scsiHost = host;
        }
      }
      if (p) attachDisk(out, p, m[2] ?? '', seq, nowMs, uptimeMs);
      return;
    }
  }

  function pendingForScsiHost(host: number): Pending | undefined {
    const port = scsiHostPort.get(host);
    if (port === undefined) return undefined;
    return pending.get(port);
  }

  function disconnect(out: ParseOutput, line: SourceLine, framed: SyslogFrame, port: string, number: number, uptime: string | undefined): void {
    const payload: UsbPayload = { derived_from: [line.seq], parser: KERNEL_USB_PARSER, origin: 'kernel', port, device_number: number };
    if (framed.time !== undefined) payload.event_time = framed.time;
    if (framed.timeNote !== undefined) payload.time_note = framed.timeNote;
    if (framed.host !== undefined) payload.event_host = framed.host;
    const extra: Record<string, string> = {};
    if (uptime !== undefined) extra['uptime'] = uptime;
    const o = open.get(port);
    if (o && o.deviceNumber === number) {
      open.delete(port);
      payload.session = o.session;
      // The device as its connect described it (connectedDevice holds only the fields that were set).
      Object.assign(payload, o.device);
      if (o.connectSeq !== undefined) extra['connect_seq'] = String(o.connectSeq);
    } else {
      extra['pairing'] = o ? `port ${port} has device number ${o.deviceNumber} connected, not ${number}` : 'no connect seen for this port and device number';
    }
    if (Object.keys(extra).length > 0) payload.extra = extra;
    out.records.push({ kind: 'usb.disconnect', payload });
  }

  /** Takes what it understands of a context into this parser; counts what it takes and what it ignores. */
  function restoreContext(ctx: unknown, counts: RestoreCounts & { sessions: number }): void {
    if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) {
      counts.ignored++;
      return;
    }
    const c = ctx as Record<string, unknown>;
    if (c['open'] !== undefined) {
      if (!Array.isArray(c['open'])) counts.ignored++;
      else {
        for (const entry of c['open'] as unknown[]) {
          const o = readSession(entry);
          if (o === undefined || open.has(o.port) || open.size >= MAX_CONTEXT_SESSIONS) {
            counts.ignored++;
            continue;
          }
          open.set(o.port, o.open);
          counts.restored++;
          counts.sessions++;
        }
      }
    }
    if (c['scsi_hosts'] !== undefined) {
      if (!Array.isArray(c['scsi_hosts'])) counts.ignored++;
      else {
        for (const entry of c['scsi_hosts'] as unknown[]) {
          const ok =
            Array.isArray(entry) &&
            entry.length === 2 &&
            isSmallInt(entry[0]) &&
            typeof entry[1] === 'string' &&
            RE_PORT.test(entry[1]) &&
            !scsiHostPort.has(entry[0] as number) &&
            scsiHostPort.size < MAX_CONTEXT_SCSI_HOSTS;
          if (!ok) {
            counts.ignored++;
            continue;
          }
          scsiHostPort.set(entry[0] as number, entry[1] as string);
          counts.restored++;
        }
      }
    }
    const boot = c['boot_id'];
    if (boot !== undefined) {
      if (typeof boot === 'string' && boot !== '' && boot.length <= MAX_BOOT_ID) {
        bootId = boot;
        counts.restored++;
      } else counts.ignored++;
    }
    const up = c['last_uptime_ms'];
    if (up !== undefined) {
      if (typeof up === 'number' && Number.isFinite(up) && up >= 0 && up <= MAX_UPTIME_MS) {
        lastUptime = up;
        counts.restored++;
      } else counts.ignored++;
    }
  }

  return {
    push(line, framed) {
      const out: ParseOutput = { records: [], failures: [] };
      try {
        const msg = kernelMessage(framed);
        if (msg === undefined) {
          // Not a kernel line: it counts towards SETTLE_LINES, but its time (another program's
          // clock, possibly out of order) does not settle announcements.
          if (pending.size > 0) {
            lineCount++;
            settle(out, undefined, undefined);
          }
          return out;
        }
        handle(out, line, framed, msg);
      } catch (err) {
        out.failures.push({
          parser: KERNEL_USB_PARSER,
          reason: 'kernel-usb.internal',
          detail: err instanceof Error ? err.message : String(err),
          derived_from: [line.seq],
        });
      }
      return out;
    },
    finish() {
      const out: ParseOutput = { records: [], failures: [] };
      try {
        for (const p of [...pending.values()]) finalize(out, p);
      } catch (err) {
        out.failures.push({ parser: KERNEL_USB_PARSER, reason: 'kernel-usb.internal', detail: err instanceof Error ? err.message : String(err) });
      }
      return out;
    },
    context(maxSessions = MAX_CONTEXT_SESSIONS) {
      const limit = Number.isFinite(maxSessions) ? Math.max(0, Math.min(maxSessions, MAX_CONTEXT_SESSIONS)) : MAX_CONTEXT_SESSIONS;
      const sessions = [...open.entries()]
        .filter(([, o]) => fitsContext(o.device))
        .sort(([, a], [, b]) => (a.connectSeq ?? -1) - (b.connectSeq ?? -1));
      const ctx: KernelUsbContext = {
        open: sessions.slice(Math.max(0, sessions.length - limit)).map(([port, o]) => {
          const s: KernelUsbContext['open'][number] = { port, device_number: o.deviceNumber, session: o.session, device: { ...o.device } };
          if (o.connectSeq !== undefined) s.connect_seq = o.connectSeq;
          return s;
        }),
        scsi_hosts: [...scsiHostPort.entries()].slice(-MAX_CONTEXT_SCSI_HOSTS),
      };
      if (bootId !== undefined && bootId.length <= MAX_BOOT_ID) ctx.boot_id = bootId;
      if (lastUptime !== undefined) ctx.last_uptime_ms = lastUptime;
      const empty = ctx.open.length === 0 && ctx.scsi_hosts.length === 0 && ctx.boot_id === undefined && ctx.last_uptime_ms === undefined;
      return empty ? undefined : ctx;
    },
    restore(ctx) {
      const counts = { restored: 0, ignored: 0, sessions: 0 };
      try {
        restoreContext(ctx, counts);
      } catch {
        // Not plain JSON (a getter that throws): what was taken before stays, the rest is ignored.
        counts.ignored++;
      }
      return counts;
    },
  };

}

function connectedDevice(c: UsbPayload): ConnectedDevice {
  const d: ConnectedDevice = {};
  if (c.vendor_id !== undefined) d.vendor_id = c.vendor_id;
  if (c.product_id !== undefined) d.product_id = c.product_id;
  if (c.serial !== undefined) d.serial = c.serial;
  if (c.product !== undefined) d.product = c.product;
  if (c.manufacturer !== undefined) d.manufacturer = c.manufacturer;
  if (c.speed !== undefined) d.speed = c.speed;
  if (c.driver !== undefined) d.driver = c.driver;
  if (c.block_device !== undefined) d.block_device = c.block_device;
  if (c.mass_storage !== undefined) d.mass_storage = c.mass_storage;
  if (c.capacity_bytes !== undefined) d.capacity_bytes = c.capacity_bytes;
  return d;
}

function fitsContext(d: ConnectedDevice): boolean {
  for (const v of [d.serial, d.product, d.manufacturer]) if (v !== undefined && v.length > MAX_CONTEXT_TEXT) return false;
  return true;
}

/** A device number, SCSI host number: what the kernel-line patterns accept (at most 6 digits). */
function isSmallInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 999_999;
}

/** Each device field as this parser produces it (the patterns above). */
const DEVICE_FIELDS: Readonly<Record<keyof ConnectedDevice, (v: unknown) => boolean>> = {
  vendor_id: (v) => typeof v === 'string' && /^[0-9a-f]{4}$/.test(v),
  product_id: (v) => typeof v === 'string' && /^[0-9a-f]{4}$/.test(v),
  serial: (v) => typeof v === 'string' && v.length <= MAX_CONTEXT_TEXT,
  product: (v) => typeof v === 'string' && v.length <= MAX_CONTEXT_TEXT,
  manufacturer: (v) => typeof v === 'string' && v.length <= MAX_CONTEXT_TEXT,
  speed: (v) => typeof v === 'string' && v.length >= 1 && v.length <= 40,
  driver: (v) => typeof v === 'string' && /^\S{1,64}$/.test(v),
  block_device: (v) => typeof v === 'string' && /^\w{1,32}$/.test(v),
  mass_storage: (v) => typeof v === 'boolean',
  capacity_bytes: (v) => typeof v === 'string' && /^(?:0|[1-9]\d{0,29})$/.test(v),
};

function readSession(entry: unknown): { port: string; open: Open } | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  const e = entry as Record<string, unknown>;
  const port = e['port'];
  const number = e['device_number'];
  const session = e['session'];
  const connectSeq = e['connect_seq'];
  const device = e['device'];
  if (typeof port !== 'string' || !RE_PORT.test(port) || !isSmallInt(number)) return undefined;
  // `<port>#<device number>@<connect seq>`, as finalize() names a session.
  const prefix = `${port}#${number as number}@`;
  if (typeof session !== 'string' || !session.startsWith(prefix) || !/^\d{1,16}$/.test(session.slice(prefix.length))) return undefined;
  if (connectSeq !== undefined && !(typeof connectSeq === 'number' && Number.isSafeInteger(connectSeq) && connectSeq >= 0)) return undefined;
  if (typeof device !== 'object' || device === null || Array.isArray(device)) return undefined;
  const d: Record<string, unknown> = {};
  // Fields of a later version are left out; a known field with a value this parser could not have
  // produced makes the whole session untrustworthy.
  for (const [key, valid] of Object.entries(DEVICE_FIELDS)) {
    const v = (device as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (!valid(v)) return undefined;
    d[key] = v;
  }
  return { port, open: { deviceNumber: number as number, session, connectSeq: connectSeq as number | undefined, device: d as ConnectedDevice } };
}
