/**
 * USB devices, live, on Linux:
 *
 * - A snapshot of the attached devices read from sysfs (`<root>/bus/usb/devices/*`) at start and
 *   every `snapshotInterval`. The attributes read are preserved first, as a `log.file` (reason
 *   `snapshot`, content stored: the RFC 8785 canonical JSON of everything read, kept as a blob),
 *   and each device (root hubs aside) becomes a `usb.present` record derived from that seq.
 * - `udevadm monitor --udev --property` when udevadm exists: every line it prints is preserved as a
 *   `log.line` (path `udev:monitor`), and each `usb_device` add/remove event becomes a
 *   `usb.connect` / `usb.disconnect` derived from the seqs of the event's lines.
 *
 * The sysfs root is configurable so tests read a real directory tree laid out like sysfs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { messageOf } from '../../src/errors.js';
import { canonicalBytes } from '../../src/records/canonical.js';
import { formatTimestamp, type PayloadOf } from '../../src/records/schema.js';
import { appendRecord, appenderOf, Backoff, LineSeries, LineSplitter, storeBackedUp, tryFlush, type LineTail, type LiveSource, type LiveSourceStatus, type SourceDeps, terminateChild, WakeableSleep } from './common.js';

export const SYSFS_USB_PARSER = 'sysfs.usb@1';
export const UDEV_MONITOR_PARSER = 'udev.monitor@1';
export const UDEV_MONITOR_PATH = 'udev:monitor';

/** Device attributes read from sysfs (Documentation/ABI/stable/sysfs-bus-usb and testing/sysfs-bus-usb). */
const DEVICE_ATTRIBUTES = [
  'idVendor',
  'idProduct',
  'bcdDevice',
  'serial',
  'product',
  'manufacturer',
  'busnum',
  'devnum',
  'devpath',
  'speed',
  'version',
  'bDeviceClass',
  'bDeviceSubClass',
  'bDeviceProtocol',
  'bNumInterfaces',
  'removable',
] as const;
const INTERFACE_ATTRIBUTES = ['bInterfaceNumber', 'bInterfaceClass', 'bInterfaceSubClass', 'bInterfaceProtocol'] as const;

export interface SysfsUsbInterface {
  name: string;
  attributes: Record<string, string>;
  driver?: string;
}

export interface SysfsBlockDevice {
  name: string;
  /** The SCSI address it hangs off (`6:0:0:0`). */
  scsi: string;
  /** 512-byte sectors, as sysfs gives it. */
  size?: string;
  removable?: string;
}

export interface SysfsUsbDevice {
  /** The kernel's name for it: `usb1` (root hub), `1-1`, `3-6.4.1`. */
  name: string;
  /** Where the device directory really is, relative to the root (`devices/pci0000:00/…/usb1/1-1`). */
  sysfs_path: string;
  attributes: Record<string, string>;
  interfaces: SysfsUsbInterface[];
  block_devices: SysfsBlockDevice[];
  /** Attributes that exist but could not be read, with why. */
  errors?: Record<string, string>;
}

export interface SysfsUsbSnapshot {
  root: string;
  devices: SysfsUsbDevice[];
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

async function readAttr(dir: string, name: string, into: Record<string, string>, errors: Record<string, string>): Promise<void> {
  try {
    const text = await readFile(join(dir, name), 'utf8');
    into[name] = text.replace(/\n$/, '');
  } catch (err) {
    const code = errCode(err);
    // An attribute a device does not have (no serial, say) is simply absent.
    if (code !== 'ENOENT' && code !== 'ENOTDIR') errors[name] = messageOf(err);
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Block devices below one USB interface: hostN, then targetH:C:T, then H:C:T:L, then block/sdX. */
async function blockDevicesOf(ifaceDir: string): Promise<SysfsBlockDevice[]> {
  const out: SysfsBlockDevice[] = [];
  for (const host of (await entries(ifaceDir)).filter((n) => /^host\d+$/.test(n))) {
    const hostDir = join(ifaceDir, host);
    for (const target of (await entries(hostDir)).filter((n) => /^target\d+:\d+:\d+$/.test(n))) {
      const targetDir = join(hostDir, target);
      for (const lun of (await entries(targetDir)).filter((n) => /^\d+:\d+:\d+:\d+$/.test(n))) {
        const blockDir = join(targetDir, lun, 'block');
        for (const name of await entries(blockDir)) {
          const dev: SysfsBlockDevice = { name, scsi: lun };
          const attrs: Record<string, string> = {};
          const errs: Record<string, string> = {};
          await readAttr(join(blockDir, name), 'size', attrs, errs);
          await readAttr(join(blockDir, name), 'removable', attrs, errs);
          if (attrs['size'] !== undefined) dev.size = attrs['size'];
          if (attrs['removable'] !== undefined) dev.removable = attrs['removable'];
          out.push(dev);
        }
      }
    }
  }
  return out;
}

/**
 * Reads every USB device under `<root>/bus/usb/devices`: its attributes, interfaces (class and
 * driver) and the block devices below them. Undefined when that folder does not exist (no USB
 * subsystem visible: a container, or not Linux). Never throws for a device that vanishes midway.
 */
export async function snapshotSysfsUsb(root = '/sys'): Promise<SysfsUsbSnapshot | undefined> {
  const busDir = join(root, 'bus', 'usb', 'devices');
  let names: string[];
  try {
    names = (await readdir(busDir)).sort();
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
  const devices: SysfsUsbDevice[] = [];
  for (const name of names) {
    if (name.includes(':')) continue; // interfaces are read with their device
    let dir: string;
    try {
      dir = await realpath(join(busDir, name));
    } catch {
      continue; // unplugged while we looked
    }
    const attributes: Record<string, string> = {};
    const errors: Record<string, string> = {};
    for (const attr of DEVICE_ATTRIBUTES) await readAttr(dir, attr, attributes, errors);
    const interfaces: SysfsUsbInterface[] = [];
    const blocks: SysfsBlockDevice[] = [];
    for (const ifaceName of (await entries(dir)).filter((n) => n.startsWith(`${name}:`))) {
      const ifaceDir = join(dir, ifaceName);
      const iface: SysfsUsbInterface = { name: ifaceName, attributes: {} };
      for (const attr of INTERFACE_ATTRIBUTES) await readAttr(ifaceDir, attr, iface.attributes, errors);
      try {
        iface.driver = basename(await readlink(join(ifaceDir, 'driver')));
      } catch {
        // no driver bound
      }
      interfaces.push(iface);
      blocks.push(...(await blockDevicesOf(ifaceDir)));
    }
    const device: SysfsUsbDevice = { name, sysfs_path: relative(root, dir) || dir, attributes, interfaces, block_devices: blocks };
    if (Object.keys(errors).length > 0) device.errors = errors;
    devices.push(device);
  }
  return { root, devices };
}

const SPEEDS: Readonly<Record<string, string>> = {
  '1.5': 'low-speed',
  '12': 'full-speed',
  '480': 'high-speed',
  '5000': 'SuperSpeed',
  '10000': 'SuperSpeed Plus',
  '20000': 'SuperSpeed Plus Gen 2x2',
};

const HEX4 = /^[0-9a-f]{4}$/;

function hex4(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (HEX4.test(v)) return v;
  if (/^[0-9a-f]{1,4}$/.test(v)) return v.padStart(4, '0');
  return undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** `usb.present` payloads for the devices of a snapshot (root hubs are not devices anyone plugged in). */
export function presentFromSnapshot(snapshot: SysfsUsbSnapshot, derivedFrom: number): Array<PayloadOf<'usb.present'>> {
  const out: Array<PayloadOf<'usb.present'>> = [];
  for (const d of snapshot.devices) {
    if (/^usb\d+$/.test(d.name)) continue;
    const a = d.attributes;
    const p: PayloadOf<'usb.present'> = { derived_from: [derivedFrom], parser: SYSFS_USB_PARSER, origin: 'sysfs', port: d.name };
    const vendor = hex4(a['idVendor']);
    const product = hex4(a['idProduct']);
    if (vendor !== undefined) p.vendor_id = vendor;
    if (product !== undefined) p.product_id = product;
    const serial = nonEmpty(a['serial']);
    if (serial !== undefined) p.serial = serial;
    const name = nonEmpty(a['product']);
    if (name !== undefined) p.product = name;
    const manufacturer = nonEmpty(a['manufacturer']);
    if (manufacturer !== undefined) p.manufacturer = manufacturer;
    const devnum = a['devnum']?.trim();
    if (devnum !== undefined && /^\d{1,9}$/.test(devnum)) p.device_number = Number(devnum);
    const speed = a['speed']?.trim();
    if (speed !== undefined && speed !== '') p.speed = SPEEDS[speed] ?? `${speed} Mbit/s`;
    const drivers = [...new Set(d.interfaces.map((i) => i.driver).filter((x): x is string => x !== undefined))];
    if (drivers.length > 0) p.driver = drivers.join(',');
    const classes = d.interfaces.map((i) => (i.attributes['bInterfaceClass'] ?? '').trim().toLowerCase());
    p.mass_storage = classes.includes('08') || (a['bDeviceClass'] ?? '').trim() === '08';
    const block = d.block_devices[0];
    if (block !== undefined) {
      p.block_device = block.name;
      if (block.size !== undefined && /^\d{1,18}$/.test(block.size.trim())) p.capacity_bytes = (BigInt(block.size.trim()) * 512n).toString();
    }
    const extra: Record<string, string> = { sysfs_path: d.sysfs_path };
    if (a['busnum'] !== undefined) extra['busnum'] = a['busnum'];
    if (a['bcdDevice'] !== undefined) extra['bcd_device'] = a['bcdDevice'];
    if (a['bDeviceClass'] !== undefined) extra['device_class'] = a['bDeviceClass'];
    if (classes.length > 0) extra['interface_classes'] = classes.join(',');
    if (d.block_devices.length > 1) extra['block_devices'] = d.block_devices.map((b) => b.name).join(',');
    if (a['removable'] !== undefined) extra['removable'] = a['removable'];
    p.extra = extra;
    out.push(p);
  }
  return out;
}

// ───────────────────────────── udev ─────────────────────────────

/** One event of `udevadm monitor --property`: its header and KEY=VALUE lines, with their seqs. */
export interface UdevEvent {
  /** `UDEV` or `KERNEL` (the monitor's source). */
  origin: string;
  /** The monitor's timestamp (seconds of CLOCK_MONOTONIC, as printed). */
  monotonic: string;
  action: string;
  devpath: string;
  subsystem: string;
  properties: Record<string, string>;
  seqs: number[];
}

const HEADER_RE = /^(UDEV|KERNEL)\s*\[\s*(\d+\.\d+)\]\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s*$/;
const PROPERTY_RE = /^([A-Za-z0-9_.]+)=(.*)$/;

/**
 * Groups `udevadm monitor --property` output lines into events. Pure. An event ends at the blank
 * line after it (or at the next header). Lines that belong to no event (the banner) are ignored.
 */
export class UdevEventAssembler {
  private current: UdevEvent | undefined;

  /** Feeds one line (without `\n`) and its seq; returns the event it completed, if any. */
  push(text: string, seq: number): UdevEvent | undefined {
    const header = HEADER_RE.exec(text);
    if (header) {
      const done = this.current;
      this.current = {
        origin: header[1] ?? '',
        monotonic: header[2] ?? '',
        action: header[3] ?? '',
        devpath: header[4] ?? '',
        subsystem: header[5] ?? '',
        properties: {},
        seqs: [seq],
      };
      return done;
    }
    if (text.trim() === '') {
      const done = this.current;
      this.current = undefined;
      return done;
    }
    const m = PROPERTY_RE.exec(text);
    if (m && this.current) {
      this.current.properties[m[1] ?? ''] = m[2] ?? '';
      this.current.seqs.push(seq);
    }
    return undefined;
  }

  /** The event in progress, when the stream ends. */
  finish(): UdevEvent | undefined {
    const done = this.current;
    this.current = undefined;
    return done;
  }
}

/** udev's `\xHH` escaping of *_ENC properties. */
export function decodeUdevEnc(value: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(value, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as number;
    if (c === 0x5c && src[i + 1] === 0x78 && i + 3 < src.length) {
      const hex = src.subarray(i + 2, i + 4).toString('latin1');
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 3;
        continue;
      }
    }
    bytes.push(c);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
}

/** A `usb.connect` / `usb.disconnect` for a usb_device add/remove event; undefined for any other event. */
export function usbRecordOfUdevEvent(event: UdevEvent): { kind: 'usb.connect' | 'usb.disconnect'; payload: PayloadOf<'usb.connect'> } | undefined {
  const p = event.properties;
  const action = p['ACTION'] ?? event.action;
  const subsystem = p['SUBSYSTEM'] ?? event.subsystem;
  if (subsystem !== 'usb' || p['DEVTYPE'] !== 'usb_device') return undefined;
  if (action !== 'add' && action !== 'remove') return undefined;
  const devpath = p['DEVPATH'] ?? event.devpath;
  const port = basename(devpath);
  const payload: PayloadOf<'usb.connect'> = { derived_from: [...event.seqs], parser: UDEV_MONITOR_PARSER, origin: 'udev', port };
  const [pv, pp] = (p['PRODUCT'] ?? '').split('/');
  const vendor = hex4(p['ID_VENDOR_ID']) ?? hex4(pv);
  const product = hex4(p['ID_MODEL_ID']) ?? hex4(pp);
  if (vendor !== undefined) payload.vendor_id = vendor;
  if (product !== undefined) payload.product_id = product;
  const serial = nonEmpty(p['ID_SERIAL_SHORT']);
  if (serial !== undefined) payload.serial = serial;
  const model = nonEmpty(p['ID_MODEL_ENC'] !== undefined ? decodeUdevEnc(p['ID_MODEL_ENC']) : p['ID_MODEL']);
  if (model !== undefined) payload.product = model;
  const maker = nonEmpty(p['ID_VENDOR_ENC'] !== undefined ? decodeUdevEnc(p['ID_VENDOR_ENC']) : p['ID_VENDOR']);
  if (maker !== undefined) payload.manufacturer = maker;
  const devnum = p['DEVNUM'];
  if (devnum !== undefined && /^\d{1,9}$/.test(devnum)) payload.device_number = Number(devnum);
  if (p['DRIVER'] !== undefined && p['DRIVER'] !== '') payload.driver = p['DRIVER'];
  const ifaces = p['ID_USB_INTERFACES'];
  if (ifaces !== undefined) payload.mass_storage = ifaces.split(':').some((c) => c.toLowerCase().startsWith('08'));
  const extra: Record<string, string> = { action, devpath, udev_monotonic: event.monotonic };
  for (const [k, name] of [
    ['SEQNUM', 'udev_seqnum'],
    ['DEVNAME', 'devname'],
    ['BUSNUM', 'busnum'],
    ['ID_SERIAL', 'id_serial'],
    ['ID_USB_INTERFACES', 'interfaces'],
    ['ID_REVISION', 'revision'],
    ['USEC_INITIALIZED', 'usec_initialized'],
    ['ID_PATH', 'id_path'],
  ] as const) {
    const v = p[k];
    if (v !== undefined) extra[name] = v;
  }
  payload.extra = extra;
  return { kind: action === 'add' ? 'usb.connect' : 'usb.disconnect', payload };
}

// ───────────────────────────── the source ─────────────────────────────

export interface UsbLiveOptions {
  sysfsRoot: string;
  snapshotIntervalMs: number;
  udev: boolean;
  /** The monitor to run (tests replay a capture through a child process). */
  udevCommand?: { command: string; args: string[] };
}

const DEFAULT_UDEV = { command: 'udevadm', args: ['monitor', '--udev', '--property', '--subsystem-match=usb', '--subsystem-match=block'] };
const MAX_UDEV_LINE_BYTES = 1 << 20;
const CHECK_MS = 250;

export class UsbLiveSource implements LiveSource {
  readonly name = 'usb';
  private readonly series: LineSeries;
  private readonly udevCommand: { command: string; args: string[] };
  private timer: NodeJS.Timeout | undefined;
  private snapshotting: Promise<void> | undefined;
  private stopping = false;
  private sysfsState: 'running' | 'unavailable' | 'error' = 'running';
  private udevState: LiveSourceStatus['state'] = 'disabled';
  private snapshots = 0;
  private present = 0;
  private udevEvents = 0;
  private udevRestarts = 0;
  private lastSnapshotSeq: number | undefined;
  private lastError: string | undefined;
  private sysfsWarned = false;
  private child: ChildProcess | undefined;
  private udevLoop: Promise<void> | undefined;
  private readonly sleeper = new WakeableSleep();

  constructor(
    private readonly deps: SourceDeps,
    private readonly options: UsbLiveOptions,
    tail: LineTail,
  ) {
    this.series = new LineSeries(appenderOf(deps), UDEV_MONITOR_PATH, tail);
    this.udevCommand = options.udevCommand ?? DEFAULT_UDEV;
  }

  lineTail(): LineTail {
    return this.series.tail();
  }

  async start(): Promise<void> {
    await this.snapshotNow('start');
    this.timer = setInterval(() => void this.snapshotNow('interval'), this.options.snapshotIntervalMs);
    this.timer.unref();
    if (this.options.udev) {
      this.udevState = 'running';
      this.udevLoop = this.runUdev();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.sleeper.wake();
    terminateChild(this.child);
    await this.udevLoop;
    await this.snapshotting;
    if (this.udevState !== 'unavailable' && this.udevState !== 'disabled') this.udevState = 'stopped';
    this.deps.logger.info({ evt: 'usb.stopped', snapshots: this.snapshots, udev_events: this.udevEvents }, 'USB source stopped');
  }

  status(): LiveSourceStatus {
    const s: LiveSourceStatus = {
      name: this.name,
      state: this.sysfsState === 'running' || this.udevState === 'running' ? 'running' : this.sysfsState === 'unavailable' && (this.udevState === 'unavailable' || this.udevState === 'disabled') ? 'unavailable' : this.stopping ? 'stopped' : 'error',
      sysfs_root: this.options.sysfsRoot,
      sysfs: this.sysfsState,
      snapshots: this.snapshots,
      devices_present: this.present,
      udev: this.udevState,
      udev_events: this.udevEvents,
      udev_lines: this.series.lines,
      udev_restarts: this.udevRestarts,
    };
    if (this.lastSnapshotSeq !== undefined) s.last_seq = this.lastSnapshotSeq;
    if (this.lastError !== undefined) s.last_error = this.lastError;
    return s;
  }

  /** Takes a snapshot now (at start, on the interval, after the udev monitor restarted). */
  snapshotNow(why: string): Promise<void> {
    if (this.snapshotting) return this.snapshotting;
    this.snapshotting = this.snapshot(why).finally(() => {
      this.snapshotting = undefined;
    });
    return this.snapshotting;
  }

  private async snapshot(why: string): Promise<void> {
    if (this.deps.store.isClosed) return;
    const { store, logger, clock } = this.deps;
    let snap: SysfsUsbSnapshot | undefined;
    try {
      snap = await snapshotSysfsUsb(this.options.sysfsRoot);
    } catch (err) {
      this.sysfsState = 'error';
      this.lastError = messageOf(err);
      logger.error({ evt: 'usb.snapshot_failed', root: this.options.sysfsRoot, err: messageOf(err) }, 'reading USB devices from sysfs failed');
      appendRecord(appenderOf(this.deps), 'agent.gap', 'usb:sysfs', { source: 'usb:sysfs', path: this.options.sysfsRoot, reason: 'unreadable', detail: `the USB devices under ${this.options.sysfsRoot}/bus/usb/devices could not be read (${why}): ${messageOf(err)}` });
      return;
    }
    if (snap === undefined) {
      this.sysfsState = 'unavailable';
      if (!this.sysfsWarned) {
        this.sysfsWarned = true;
        logger.warn({ evt: 'usb.sysfs_unavailable', root: this.options.sysfsRoot }, `${this.options.sysfsRoot}/bus/usb/devices does not exist: no USB subsystem is visible here, so there is nothing to snapshot`);
      }
      return;
    }
    if (this.stopping && why !== 'start') return;
    this.sysfsState = 'running';
    const bytes = canonicalBytes(snap);
    let sha256: string;
    try {
      sha256 = store.putBlob(bytes);
    } catch (err) {
      this.lastError = messageOf(err);
      logger.error({ evt: 'usb.snapshot_failed', err: messageOf(err) }, 'could not store the USB snapshot');
      appendRecord(appenderOf(this.deps), 'agent.gap', 'usb:sysfs', { source: 'usb:sysfs', path: this.options.sysfsRoot, reason: 'store_failed', detail: `a USB snapshot of ${snap.devices.length} devices (${why}) could not be stored: ${messageOf(err)}` });
      return;
    }
    const path = `sysfs:${join(this.options.sysfsRoot, 'bus', 'usb', 'devices')}`;
    const { seq } = appendRecord(appenderOf(this.deps), 'log.file', path, {
      path,
      size: bytes.length,
      mtime: formatTimestamp(clock.nowMs()),
      sha256,
      reason: 'snapshot',
      content: 'stored',
      note: `USB devices read from sysfs (${why}): the canonical JSON of their attributes, interfaces and block devices`,
    });
    const present = presentFromSnapshot(snap, seq);
    for (const payload of present) appendRecord(appenderOf(this.deps), 'usb.present', path, payload);
    this.snapshots++;
    this.present = present.length;
    this.lastSnapshotSeq = seq;
    logger.debug({ evt: 'usb.snapshot', seq, devices: present.length, why }, 'USB snapshot recorded');
  }

  private pause(ms: number): Promise<void> {
    return this.stopping ? Promise.resolve() : this.sleeper.sleep(ms);
  }

  private async runUdev(): Promise<void> {
    const backoff = new Backoff();
    let downSince: string | undefined;
    while (!this.stopping) {
      const started = performance.now();
      const result = await this.runMonitorOnce(downSince);
      if (result.spawnError) {
        this.udevState = 'unavailable';
        this.lastError = messageOf(result.spawnError);
        this.deps.logger.warn({ evt: 'usb.udev_unavailable', command: this.udevCommand.command, err: messageOf(result.spawnError) }, 'udevadm is not available: USB connects are seen only through sysfs snapshots and the kernel log');
        return;
      }
      if (this.stopping) return;
      this.udevRestarts++;
      downSince = formatTimestamp(this.deps.clock.nowMs());
      const delay = backoff.next(performance.now() - started);
      this.udevState = 'restarting';
      this.lastError = `udevadm monitor exited ${result.signal ?? String(result.code)}${result.stderr ? `: ${result.stderr.slice(-300)}` : ''}`;
      this.deps.logger.warn({ evt: 'usb.udev_exited', code: result.code, signal: result.signal, stderr: result.stderr.slice(-300), retry_in_ms: delay }, 'udevadm monitor exited; it is restarted');
      await this.pause(delay);
    }
  }

  /** Runs the monitor once; `downSince`: when the previous one died (its absence is recorded as a gap once this one runs). */
  private runMonitorOnce(downSince: string | undefined): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: NodeJS.ErrnoException }> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.udevCommand.command, this.udevCommand.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        resolve({ code: null, signal: null, stderr: '', spawnError: err as NodeJS.ErrnoException });
        return;
      }
      this.child = child;
      let stderr = '';
      let spawnError: NodeJS.ErrnoException | undefined;
      const assembler = new UdevEventAssembler();
      const stdout = child.stdout as NodeJS.ReadableStream & { isPaused(): boolean };
      child.on('spawn', () => {
        this.udevState = 'running';
        if (downSince !== undefined) {
          const until = formatTimestamp(this.deps.clock.nowMs());
          appendRecord(appenderOf(this.deps), 'agent.gap', UDEV_MONITOR_PATH, {
            source: UDEV_MONITOR_PATH,
            path: UDEV_MONITOR_PATH,
            reason: 'monitor_restarted',
            detail: 'udevadm monitor was not running: udev events in this interval were not seen (a sysfs snapshot follows)',
            since: downSince,
            until,
          });
          void this.snapshotNow('udev monitor restarted');
        }
      });
      const onEvent = (event: UdevEvent | undefined): void => {
        if (!event) return;
        const derived = usbRecordOfUdevEvent(event);
        if (!derived) return;
        this.udevEvents++;
        appendRecord(appenderOf(this.deps), derived.kind, UDEV_MONITOR_PATH, derived.payload);
        this.deps.logger.info({ evt: 'usb.udev_event', kind: derived.kind, port: derived.payload.port, vendor_id: derived.payload.vendor_id, product_id: derived.payload.product_id }, 'USB device event');
      };
      const splitter = new LineSplitter(MAX_UDEV_LINE_BYTES, (bytes, partial) => {
        const seq = this.series.append(bytes, partial);
        if (!partial) onEvent(assembler.push(bytes.toString('utf8'), seq));
        if (this.series.storeFailing || storeBackedUp(appenderOf(this.deps))) stdout.pause();
      });
      stdout.on('data', (chunk: Buffer) => {
        try {
          splitter.push(chunk);
        } catch (err) {
          this.lastError = messageOf(err);
          this.deps.logger.error({ evt: 'usb.record_failed', err: messageOf(err) }, 'could not record a udev line');
        }
      });
      child.stderr?.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString('utf8')).slice(-2048);
      });
      child.on('error', (err) => {
        spawnError = err as NodeJS.ErrnoException;
      });
      const check = setInterval(() => {
        if (!stdout.isPaused()) return;
        if (this.series.storeFailing) {
          if (!tryFlush(appenderOf(this.deps))) return;
          this.series.storeFailing = false;
        }
        if (!storeBackedUp(appenderOf(this.deps))) stdout.resume();
      }, CHECK_MS);
      check.unref();
      child.on('close', (code, signal) => {
        clearInterval(check);
        this.child = undefined;
        if (!spawnError) {
          // The monitor's last bytes, even without their newline, are preserved (never dropped).
          splitter.flushPartial();
          onEvent(assembler.finish());
        }
        resolve({ code, signal, stderr, ...(spawnError ? { spawnError } : {}) });
      });
    });
  }
}
