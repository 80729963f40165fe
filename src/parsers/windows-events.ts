/**
 * Windows events (as readEvtx gives them) → derived evidence: `usb.connect` / `usb.disconnect`,
 * `file.access`, `auth.logon`. Pure; never throws; events it has nothing to say about yield nothing.
 *
 * USB (origin `evtx`):
 * - Microsoft-Windows-Partition/Diagnostic 1006 with BusType 7 (USB): Capacity > 0 is an arrival,
 *   Capacity 0 a removal. ParentId (`USB\VID_xxxx&PID_xxxx\<serial>`) gives VID/PID and the USB
 *   serial; Manufacturer/Model the names; SerialNumber (the disk's own serial) goes to extra.
 * - Microsoft-Windows-Kernel-PnP 400 (device configured) and 410 (device started) → connect,
 *   420 (device deleted) → disconnect, for USB / USBSTOR instance ids.
 * - Microsoft-Windows-DriverFrameworks-UserMode 2003 (UMDF host asked to load drivers for a device)
 *   → connect; 2100/2102 for a PnP request with minor code 23 (surprise removal) or 2 (remove
 *   device) → disconnect.
 * - Microsoft-Windows-UserPnp 20001 (driver installed) and 20003 (service added) → connect: a
 *   device instance is installed the first time it is plugged in, so these say "first seen".
 * - Security 6416 (a new external device was recognised) → connect, when its DeviceId is USB.
 * Instance ids that are not USB (PCI, ACPI, HID of a VM, printers) yield nothing.
 *
 * File access: Security 4656 (handle requested), 4663 (access attempted) for ObjectType File, and
 * 4660 (object deleted) / 4658 (handle closed) when the handle is known to be a file's from an
 * earlier 4656/4663 in the same stream (use createWindowsEventMapper to keep that table; the
 * stateless mapWindowsEvent cannot know, and leaves 4658/4660 out). Registry keys, processes and
 * SAM objects are not files and yield nothing here.
 *
 * Logons: Security 4624 (logon), 4625 (failed logon), 4648 (logon with explicit credentials),
 * 4634 and 4647 (logoff) → `auth.logon`. Network (type 3) and remote-interactive (type 10) logons
 * stay `auth.logon` only: it already carries the client address and port, workstation, account,
 * logon id and package, which is all 4624 says about the access; RestrictedAdminMode (type 10) goes
 * to extra. TerminalServices-RemoteConnectionManager 1149 (RDP authentication succeeded) →
 * `auth.logon` with service `rdp` (windows/rdp.ts).
 *
 * Program execution: Security 4688/4689 and Sysmon 1/5 → `process.exec` (windows/process.ts).
 * File shares: Security 5140/5145 → `net.access` with service `smb` (windows/share.ts).
 *
 * Fields the record schema has no place for go to `extra` (flat strings): see EXTRA_FIELDS below.
 */
import type { PayloadOf } from '../records/schema.js';
import type { EvtxEvent } from './evtx/index.js';
import { parseUsbInstanceId, type UsbInstance } from './setupapi.js';
import type { ParseOutput } from './types.js';
import {
  RDP_CONNECTION_MANAGER,
  SECURITY,
  SYSMON,
  accessNames,
  clean,
  copy,
  dash,
  eventContext,
  failure,
  hexOrDec,
  operationOf,
  qualified,
  setIf,
  successOf,
  type EventContext,
} from './windows/common.js';
import { mapProcessEnd, mapProcessStart, mapSysmonProcessEnd, mapSysmonProcessStart } from './windows/process.js';
import { mapRdpAuthenticated } from './windows/rdp.js';
import { mapShareAccess } from './windows/share.js';

export { WINDOWS_EVENTS_PARSER } from './windows/common.js';

type UsbPayload = PayloadOf<'usb.connect'>;
type FilePayload = PayloadOf<'file.access'>;
type AuthPayload = PayloadOf<'auth.logon'>;

const PARTITION = 'Microsoft-Windows-Partition';
const KERNEL_PNP = 'Microsoft-Windows-Kernel-PnP';
const UMDF = 'Microsoft-Windows-DriverFrameworks-UserMode';
const USERPNP = 'Microsoft-Windows-UserPnp';

/**
 * Events mapped by a module of their own (src/parsers/windows/), by `provider/event id`. The USB,
 * file-access and logon mappings below predate the split and stay inline until they are next changed.
 */
const MAPPERS: ReadonlyMap<string, (c: EventContext) => void> = new Map([
  [`${SECURITY}/4688`, mapProcessStart],
  [`${SECURITY}/4689`, mapProcessEnd],
  [`${SYSMON}/1`, mapSysmonProcessStart],
  [`${SYSMON}/5`, mapSysmonProcessEnd],
  [`${SECURITY}/5140`, mapShareAccess],
  [`${SECURITY}/5145`, mapShareAccess],
  [`${RDP_CONNECTION_MANAGER}/1149`, mapRdpAuthenticated],
]);

/** Maps one event. 4658/4660 need the handle table of createWindowsEventMapper and yield nothing here. */
export function mapWindowsEvent(e: EvtxEvent, derivedFrom: number[]): ParseOutput {
  return createWindowsEventMapper().map(e, derivedFrom);
}

export interface WindowsEventMapper {
  map(e: EvtxEvent, derivedFrom: number[]): ParseOutput;
}

/** A mapper that remembers which (process, handle) pairs are open file handles, to map 4658/4660. */
export function createWindowsEventMapper(): WindowsEventMapper {
  const fileHandles = new Map<string, { path: string; objectType: string }>();
  return {
    map(e, derivedFrom) {
      const out: ParseOutput = { records: [], failures: [] };
      try {
        mapInto(e, derivedFrom, out, fileHandles);
      } catch (err) {
        out.records = [];
        out.failures.push(failure('evtx.map_error', `event ${e.eventId} record ${e.recordId}: ${err instanceof Error ? err.message : String(err)}`, derivedFrom));
      }
      return out;
    },
  };
}

function mapInto(e: EvtxEvent, derivedFrom: number[], out: ParseOutput, fileHandles: Map<string, { path: string; objectType: string }>): void {
  const ctx = eventContext(e, derivedFrom, out);
  const own = MAPPERS.get(`${e.provider}/${e.eventId}`);
  if (own !== undefined) {
    own(ctx);
    return;
  }
  const provider = e.provider;
  const { d, base, extraBase, push } = ctx;

  // --- USB ---------------------------------------------------------------------------------------
  if (provider === PARTITION && e.eventId === 1006) {
    if (d['BusType'] !== '7') return;
    const capacity = (d['Capacity'] ?? '').trim();
    const arrival = /^\d+$/.test(capacity) && capacity !== '0' && !/^0+$/.test(capacity);
    const info = parseUsbInstanceId(d['ParentId'] ?? '');
    const extra = extraBase();
    extra['semantics'] = arrival ? 'disk arrival (Partition/Diagnostic 1006, Capacity > 0)' : 'disk removal (Partition/Diagnostic 1006, Capacity = 0)';
    copy(d, extra, { SerialNumber: 'disk_serial', DiskId: 'disk_id', DiskNumber: 'disk_number', Location: 'location', ParentId: 'parent_id', Revision: 'revision' });
    const p: UsbPayload = { ...base, origin: 'evtx', mass_storage: true, extra };
    applyInstance(p, info);
    setIf(p, 'manufacturer', clean(d['Manufacturer']));
    setIf(p, 'product', clean(d['Model']));
    if (/^\d+$/.test(capacity)) p.capacity_bytes = capacity.replace(/^0+(?=\d)/, '');
    push(arrival ? 'usb.connect' : 'usb.disconnect', p);
    return;
  }
  if (provider === KERNEL_PNP && (e.eventId === 400 || e.eventId === 410 || e.eventId === 420)) {
    const id = d['DeviceInstanceId'] ?? d['DeviceInstanceID'] ?? '';
    const info = parseUsbInstanceId(id);
    if (!info) return;
    const extra = extraBase();
    extra['semantics'] = e.eventId === 400 ? 'device configured (Kernel-PnP 400)' : e.eventId === 410 ? 'device started (Kernel-PnP 410)' : 'device deleted (Kernel-PnP 420)';
    copy(d, extra, { DriverName: 'driver_name', ParentDeviceInstanceId: 'parent_id', Status: 'status', ServiceName: 'service' });
    const p: UsbPayload = { ...base, origin: 'evtx', extra };
    applyInstance(p, info);
    setIf(p, 'driver', clean(d['ServiceName'] ?? d['DriverName']));
    push(e.eventId === 420 ? 'usb.disconnect' : 'usb.connect', p);
    return;
  }
  if (provider === UMDF && (e.eventId === 2003 || e.eventId === 2100 || e.eventId === 2102)) {
    const id = d['@instance'] ?? d['instance'] ?? '';
    const info = parseUsbInstanceId(id);
    if (!info) return;
    let kind: 'usb.connect' | 'usb.disconnect' = 'usb.connect';
    const extra = extraBase();
    if (e.eventId === 2003) extra['semantics'] = 'UMDF host asked to load drivers for the device (DriverFrameworks-UserMode 2003)';
    else {
      const minor = d['Request@minor'] ?? '';
      if (minor !== '23' && minor !== '2') return;
      kind = 'usb.disconnect';
      extra['semantics'] = `PnP ${minor === '23' ? 'surprise removal' : 'remove device'} request (DriverFrameworks-UserMode ${e.eventId})`;
      extra['pnp_minor'] = minor;
    }
    copy(d, extra, { '@lifetime': 'umdf_lifetime', Status: 'status' });
    const p: UsbPayload = { ...base, origin: 'evtx', extra };
    applyInstance(p, info);
    push(kind, p);
    return;
  }
  if (provider === USERPNP && (e.eventId === 20001 || e.eventId === 20003)) {
    const info = parseUsbInstanceId(d['DeviceInstanceID'] ?? d['DeviceInstanceId'] ?? '');
    if (!info) return;
    const extra = extraBase();
    extra['semantics'] =
      e.eventId === 20001
        ? 'driver installed for the device: the first time this instance was connected (UserPnp 20001)'
        : 'service added for the device: the first time this instance was connected (UserPnp 20003)';
    copy(d, extra, {
      DriverName: 'driver_name',
      DriverVersion: 'driver_version',
      DriverProvider: 'driver_provider',
      SetupClass: 'setup_class',
      InstallStatus: 'install_status',
      DriverFileName: 'driver_file',
      AddServiceStatus: 'add_service_status',
    });
    const p: UsbPayload = { ...base, origin: 'evtx', extra };
    applyInstance(p, info);
    setIf(p, 'product', clean(d['DriverDescription']) ?? p.product);
    setIf(p, 'driver', clean(d['ServiceName']));
    push('usb.connect', p);
    return;
  }
  if (provider !== SECURITY) return;

  if (e.eventId === 6416) {
    const info = parseUsbInstanceId(d['DeviceId'] ?? '');
    if (!info) return;
    const extra = extraBase();
    extra['semantics'] = 'a new external device was recognised (Security 6416)';
    copy(d, extra, { ClassName: 'class_name', ClassId: 'class_id', VendorIds: 'vendor_ids', CompatibleIds: 'compatible_ids', LocationInformation: 'location' });
    const p: UsbPayload = { ...base, origin: 'evtx', extra };
    applyInstance(p, info);
    setIf(p, 'product', clean(d['DeviceDescription']) ?? p.product);
    push('usb.connect', p);
    return;
  }

  // --- logons ------------------------------------------------------------------------------------
  if (e.eventId === 4624 || e.eventId === 4625 || e.eventId === 4648 || e.eventId === 4634 || e.eventId === 4647) {
    const extra = extraBase();
    const action: AuthPayload['action'] =
      e.eventId === 4624 ? 'logon' : e.eventId === 4625 ? 'failure' : e.eventId === 4648 ? 'explicit_credentials' : 'logoff';
    const p: AuthPayload = { ...base, service: 'windows', action, success: e.eventId !== 4625, extra };
    if (e.eventId === 4648) {
      // The subject used someone's credentials (TargetUserName) against TargetServerName.
      setIf(p, 'user', dash(d['SubjectUserName']));
      setIf(p, 'sid', dash(d['SubjectUserSid']));
      setIf(p, 'target_user', qualified(d['TargetDomainName'], d['TargetUserName']));
      setIf(p, 'logon_id', dash(d['SubjectLogonId']));
      copy(d, extra, { SubjectDomainName: 'subject_domain', TargetServerName: 'target_server', TargetInfo: 'target_info', IpAddress: 'network_address', IpPort: 'network_port' });
    } else {
      setIf(p, 'user', dash(d['TargetUserName']));
      setIf(p, 'sid', dash(d['TargetUserSid']));
      setIf(p, 'logon_id', dash(d['TargetLogonId']));
      copy(d, extra, { TargetDomainName: 'domain', SubjectUserName: 'subject_user', SubjectDomainName: 'subject_domain', SubjectLogonId: 'subject_logon_id', LogonProcessName: 'logon_process', TargetLinkedLogonId: 'linked_logon_id', ElevatedToken: 'elevated_token', VirtualAccount: 'virtual_account', KeyLength: 'key_length', LmPackageName: 'lm_package', ImpersonationLevel: 'impersonation_level', RestrictedAdminMode: 'restricted_admin_mode' });
      if (extra['restricted_admin_mode'] === '-') delete extra['restricted_admin_mode'];
      const from = dash(d['IpAddress']);
      if (from !== undefined) p.from_ip = from;
      const port = dash(d['IpPort']);
      if (port !== undefined && /^\d+$/.test(port) && port !== '0') p.from_port = Number(port);
      setIf(p, 'from_host', dash(d['WorkstationName']));
    }
    const logonType = dash(d['LogonType']);
    if (logonType !== undefined) {
      p.logon_type = logonType;
      const name = LOGON_TYPES[logonType];
      if (name !== undefined) extra['logon_type_name'] = name;
    }
    setIf(p, 'method', dash(d['AuthenticationPackageName']));
    setIf(p, 'exe', dash(d['ProcessName']));
    const pid = hexOrDec(d['ProcessId']);
    if (pid !== undefined) p.pid = pid;
    if (e.eventId === 4625) {
      const sub = dash(d['SubStatus']);
      const status = dash(d['Status']);
      const code = sub !== undefined && sub !== '0x0' && sub !== '0x00000000' ? sub : status;
      if (code !== undefined) p.reason = `${NTSTATUS[code.toLowerCase()] ?? 'failed'} (${code})`;
      copy(d, extra, { Status: 'status', SubStatus: 'sub_status', FailureReason: 'failure_reason' });
    }
    push('auth.logon', p);
    return;
  }

  // --- file access -------------------------------------------------------------------------------
  if (e.eventId === 4656 || e.eventId === 4663 || e.eventId === 4660 || e.eventId === 4658) {
    const handleKey = `${d['ProcessId'] ?? ''}/${d['HandleId'] ?? ''}`;
    let path = d['ObjectName'];
    let objectType = d['ObjectType'];
    if (e.eventId === 4660 || e.eventId === 4658) {
      const known = fileHandles.get(handleKey);
      if (!known) return;
      path = known.path;
      objectType = known.objectType;
      if (e.eventId === 4658) fileHandles.delete(handleKey);
    }
    if (objectType !== 'File' || path === undefined) return;
    const access = accessNames(d['AccessList']);
    const success = successOf(e.keywords);
    if (e.eventId !== 4658 && success !== false && d['HandleId'] !== undefined && !/^0x0+$/.test(d['HandleId'])) {
      fileHandles.set(handleKey, { path, objectType });
    }
    const extra = extraBase();
    copy(d, extra, { HandleId: 'handle_id', AccessMask: 'access_mask', SubjectDomainName: 'domain', SubjectLogonId: 'logon_id', ObjectServer: 'object_server', AccessReason: 'access_reason', RestrictedSidCount: 'restricted_sid_count', ResourceAttributes: 'resource_attributes', TransactionId: 'transaction_id' });
    const p: FilePayload = {
      ...base,
      path,
      operation:
        e.eventId === 4660 ? 'delete' : e.eventId === 4658 ? 'close' : e.eventId === 4656 ? `open:${operationOf(access)}` : operationOf(access),
      object_type: objectType,
      extra,
    };
    if (success !== undefined) p.success = success;
    if (access.length > 0) p.access = access;
    setIf(p, 'user', dash(d['SubjectUserName']));
    setIf(p, 'sid', dash(d['SubjectUserSid']));
    setIf(p, 'exe', dash(d['ProcessName']));
    const pid = hexOrDec(d['ProcessId']);
    if (pid !== undefined) p.pid = pid;
    push('file.access', p);
  }
}

// --- helpers ---------------------------------------------------------------------------------------

function applyInstance(p: UsbPayload, info: UsbInstance | undefined): void {
  if (!info) return;
  p.instance_id = info.instanceId;
  if (info.vendorId !== undefined) p.vendor_id = info.vendorId;
  if (info.productId !== undefined) p.product_id = info.productId;
  if (info.serial !== undefined) p.serial = info.serial;
  if (info.serialIsGenerated !== undefined) p.serial_is_generated = info.serialIsGenerated;
  if (info.manufacturer !== undefined) p.manufacturer = info.manufacturer;
  if (info.product !== undefined) p.product = info.product;
  if (info.massStorage) p.mass_storage = true;
}

const LOGON_TYPES: Record<string, string> = {
  '0': 'System',
  '2': 'Interactive',
  '3': 'Network',
  '4': 'Batch',
  '5': 'Service',
  '7': 'Unlock',
  '8': 'NetworkCleartext',
  '9': 'NewCredentials',
  '10': 'RemoteInteractive',
  '11': 'CachedInteractive',
  '12': 'CachedRemoteInteractive',
  '13': 'CachedUnlock',
};

/** NTSTATUS codes of failed logons (4625 Status / SubStatus). */
const NTSTATUS: Record<string, string> = {
  '0xc0000064': 'no such user',
  '0xc000006a': 'wrong password',
  '0xc000006d': 'bad user name or password',
  '0xc000006e': 'account restriction',
  '0xc000006f': 'outside allowed logon hours',
  '0xc0000070': 'workstation not allowed',
  '0xc0000071': 'password expired',
  '0xc0000072': 'account disabled',
  '0xc000015b': 'logon type not granted',
  '0xc0000193': 'account expired',
  '0xc0000224': 'password must change',
  '0xc0000234': 'account locked out',
  '0xc0000413': 'authentication firewall',
};
