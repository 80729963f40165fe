/**
 * Windows `C:\Windows\INF\setupapi.dev.log` → `usb.connect` records (origin `setupapi`).
 *
 * The log has one section per device-installation action:
 *
 *     >>>  [Device Install (Hardware initiated) - USBSTOR\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\99E2116A&0]
 *     >>>  Section start 2016/11/22 23:50:30.938
 *          …
 *     <<<  Section end 2016/11/22 23:50:58.236
 *     <<<  [Exit status: SUCCESS]
 *
 * Semantics: Windows installs a device instance once, so a section is the FIRST time this device
 * instance was connected to this machine (later connections write nothing here). Each record says
 * so in `extra.semantics`.
 *
 * Time: the section times are the machine's local time and the log does not say which zone.
 * Decision: `event_time` is that wall time converted with `utcOffsetMinutes` when the caller knows
 * the machine's offset (from the registry's TimeZoneInformation, say), and otherwise the wall time
 * taken as if it were UTC — in both cases `time_note` says which, and `extra.local_time` keeps the
 * text exactly as written, so nothing is lost and a reader can redo the conversion.
 *
 * Device ids read: `USBSTOR\…` (mass storage: vendor, product, revision, serial), the same id
 * embedded in `SWD\WPDBUSENUM\_??_USBSTOR#…#{guid}` (the portable-device view of a USB disk), and
 * `USB\VID_xxxx&PID_xxxx[&MI_xx]\<serial>`. Windows makes up the serial when the device reports
 * none: such an instance id's second character is `&` (`serial_is_generated`). Pure; never throws.
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import type { DerivedRecord, ParseOutput } from './types.js';

export const SETUPAPI_PARSER = 'setupapi.dev-log@1';

export interface SetupapiOptions {
  /** The machine's UTC offset in minutes (east positive, e.g. 540 for JST), when known. */
  utcOffsetMinutes?: number;
}

const SECTION_HEADER = /^>>> {2}\[(.*)\]$/;
const SECTION_START = /^>>> {2}Section start (\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;
const SECTION_END = /^<<< {2}Section end (\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{3})$/;
const EXIT_STATUS = /^<<< {2}\[Exit status: (.*)\]$/;
const DEVICE_INSTALL = /^Device Install \(([^)]*)\) - (.+)$/;

/** What a device instance id says about a USB device, or undefined when it is not one. */
export interface UsbInstance {
  /** The instance id in registry form (`USBSTOR\…\serial&0`, `USB\VID_…\serial`). */
  instanceId: string;
  massStorage: boolean;
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
  product?: string;
  revision?: string;
  deviceType?: string;
  serial?: string;
  serialIsGenerated?: boolean;
}

/** Reads a device instance id (`USBSTOR\…`, `SWD\WPDBUSENUM\_??_USBSTOR#…`, `USB\VID_…`). */
export function parseUsbInstanceId(id: string): UsbInstance | undefined {
  const usbstor = /(?:^|[\\#_])USBSTOR[\\#]([^\\#]+)[\\#]([^\\#]+)/i.exec(id);
  if (usbstor !== null) {
    const [, desc = '', instance = ''] = usbstor;
    const info: UsbInstance = { instanceId: `USBSTOR\\${desc}\\${instance}`, massStorage: true };
    const parts = desc.split('&');
    const type = parts[0];
    if (type !== undefined && !/^(Ven|Prod|Rev)_/i.test(type)) info.deviceType = type;
    for (const p of parts) {
      const m = /^(Ven|Prod|Rev)_(.*)$/i.exec(p);
      if (m === null) continue;
      const value = (m[2] ?? '').replaceAll('_', ' ').trim();
      if (value === '') continue;
      const which = (m[1] ?? '').toLowerCase();
      if (which === 'ven') info.manufacturer = value;
      else if (which === 'prod') info.product = value;
      else info.revision = value;
    }
    setSerial(info, instance, true);
    return info;
  }
  const usb = /(?:^|\\)USB\\VID_([0-9A-Fa-f]{4})&PID_([0-9A-Fa-f]{4})([^\\]*)(?:\\([^\\]+))?/i.exec(id);
  if (usb !== null) {
    const [, vid = '', pid = '', rest = '', instance] = usb;
    const info: UsbInstance = {
      instanceId: `USB\\VID_${vid}&PID_${pid}${rest}${instance === undefined ? '' : `\\${instance}`}`,
      massStorage: false,
      vendorId: vid.toLowerCase(),
      productId: pid.toLowerCase(),
    };
    if (instance !== undefined) setSerial(info, instance, false);
    return info;
  }
  return undefined;
}

function setSerial(info: UsbInstance, instance: string, stripLun: boolean): void {
  info.serialIsGenerated = instance.length >= 2 && instance[1] === '&';
  const serial = stripLun ? instance.replace(/&\d+$/, '') : instance;
  if (serial !== '') info.serial = serial;
}

/**
 * Parses a whole setupapi.dev.log. `derivedFrom` is the seq of the preserved file (or lines) it
 * came from. Sections that are not device installs of USB devices yield nothing.
 */
export function parseSetupapiDevLog(text: string, derivedFrom: number[], opts: SetupapiOptions = {}): ParseOutput {
  const out: ParseOutput = { records: [], failures: [] };
  try {
    parseInto(text, derivedFrom, opts, out);
  } catch (err) {
    out.failures.push({
      parser: SETUPAPI_PARSER,
      reason: 'setupapi.internal',
      detail: `parser error: ${err instanceof Error ? err.message : String(err)}`,
      derived_from: derivedFrom,
    });
  }
  return out;
}

interface Section {
  title: string;
  line: number;
  start?: RegExpExecArray;
  end?: string;
  exit?: string;
}

function parseInto(text: string, derivedFrom: number[], opts: SetupapiOptions, out: ParseOutput): void {
  const lines = text.split(/\r?\n/);
  let current: Section | undefined;
  const flush = (): void => {
    if (current !== undefined) emit(current, derivedFrom, opts, out);
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (!raw.startsWith('>>>') && !raw.startsWith('<<<')) continue;
    // trimmed first, so that no pattern below needs a trailing \s* (which could backtrack quadratically)
    const line = raw.trimEnd();
    const header = SECTION_HEADER.exec(line);
    if (header !== null) {
      flush();
      current = { title: header[1] ?? '', line: i + 1 };
      continue;
    }
    if (current === undefined) continue;
    const start = SECTION_START.exec(line);
    if (start !== null) {
      current.start ??= start;
      continue;
    }
    const end = SECTION_END.exec(line);
    if (end !== null) {
      current.end = end[1];
      continue;
    }
    const exit = EXIT_STATUS.exec(line);
    if (exit !== null) {
      current.exit = exit[1];
      flush();
    }
  }
  flush();
}

function emit(section: Section, derivedFrom: number[], opts: SetupapiOptions, out: ParseOutput): void {
  const install = DEVICE_INSTALL.exec(section.title);
  if (install === null) return;
  const [, how = '', rawId = ''] = install;
  const info = parseUsbInstanceId(rawId.trim());
  if (info === undefined) return;
  const payload: PayloadOf<'usb.connect'> = {
    derived_from: derivedFrom,
    parser: SETUPAPI_PARSER,
    origin: 'setupapi',
    instance_id: info.instanceId,
    mass_storage: info.massStorage,
  };
  if (info.vendorId !== undefined) payload.vendor_id = info.vendorId;
  if (info.productId !== undefined) payload.product_id = info.productId;
  if (info.manufacturer !== undefined) payload.manufacturer = info.manufacturer;
  if (info.product !== undefined) payload.product = info.product;
  if (info.serial !== undefined) payload.serial = info.serial;
  if (info.serialIsGenerated !== undefined) payload.serial_is_generated = info.serialIsGenerated;
  const extra: Record<string, string> = {
    semantics: 'first install of this device instance on this machine (setupapi.dev.log writes nothing for later connections)',
    section: section.title,
    section_line: String(section.line),
    install_trigger: how,
  };
  if (rawId !== info.instanceId) extra['device_instance'] = rawId;
  if (info.revision !== undefined) extra['revision'] = info.revision;
  if (info.deviceType !== undefined) extra['device_type'] = info.deviceType;
  if (section.end !== undefined) extra['section_end_local'] = section.end;
  if (section.exit !== undefined) extra['exit_status'] = section.exit;
  const s = section.start;
  if (s !== undefined) {
    const [, y, mo, d, h, mi, sec, ms] = s;
    extra['local_time'] = `${y}-${mo}-${d} ${h}:${mi}:${sec}.${ms}`;
    const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(ms));
    const offset = opts.utcOffsetMinutes;
    const valid =
      Number.isFinite(wall) && Number(y) >= 1970 && Number(mo) >= 1 && Number(mo) <= 12 && Number(d) >= 1 && Number(d) <= 31 &&
      Number(h) <= 23 && Number(mi) <= 59 && Number(sec) <= 59;
    if (valid && offset !== undefined && Number.isInteger(offset) && Math.abs(offset) <= 18 * 60) {
      const utc = wall - offset * 60_000;
      if (utc >= 0 && utc <= 253402300799999) {
        payload.event_time = formatTimestamp(utc);
        payload.time_note = `setupapi.dev.log local time converted to UTC with the offset the caller supplied (${offset >= 0 ? '+' : '-'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')})`;
      }
    } else if (valid && wall >= 0 && wall <= 253402300799999) {
      payload.event_time = formatTimestamp(wall);
      payload.time_note =
        'setupapi.dev.log writes the machine local time without a zone; zone unknown, so event_time is that wall time taken as UTC and may be off by the machine UTC offset (extra.local_time keeps it as written)';
    }
  }
  payload.extra = extra;
  out.records.push({ kind: 'usb.connect', payload } satisfies DerivedRecord<'usb.connect'>);
}
