/**
 * The merged timeline and the tables of a bundle, as pure formatters: one evidence record in, one
 * timeline entry (JSON line and Timesketch CSV row) and table rows out. The collector streams
 * records through these in time order (collector/timeline.ts); nothing here does I/O.
 *
 * Time: a derived record's `event_time` (when the source says it happened) when it has one, else
 * `observed_at` (when the agent saw it). Both are UTC RFC 3339 with microseconds, so sorting the
 * strings sorts the times. Which one was used is said in every entry (`timestamp_desc`).
 */
import { hash } from 'node:crypto';
import { csvRow, type CsvValue } from './csv.js';

export interface TimelineSource {
  readonly host: string;
  readonly storeId: string;
}

/** A record as read from a store: its bytes are the evidence; everything else is derived from them. */
export interface TimedRecord {
  readonly seq: number;
  readonly kind: string;
  readonly observedAt: string;
  /** event_time when present, else observed_at (the merge key). */
  readonly time: string;
  readonly bytes: Uint8Array;
}

export interface TimelineEntry {
  datetime: string;
  timestamp_desc: 'Event Time' | 'Observed Time';
  host: string;
  store_id: string;
  seq: number;
  record_sha256: string;
  kind: string;
  source: string;
  observed_at: string;
  message: string;
  /** The record's payload (derived records also carry their derived_from seqs here). */
  payload: Record<string, unknown>;
}

type Payload = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function parseRecord(bytes: Uint8Array): { source: string; payload: Payload } {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    // fall through: a record that is not JSON still appears, named by its hash
  }
  return partsOf(json);
}

/** The source and payload of a parsed record, as the timeline shows them. */
function partsOf(json: unknown): { source: string; payload: Payload } {
  if (json !== null && typeof json === 'object') {
    const r = json as { source?: unknown; payload?: unknown };
    const payload = r.payload !== null && typeof r.payload === 'object' && !Array.isArray(r.payload) ? (r.payload as Payload) : {};
    return { source: str(r.source) ?? '', payload };
  }
  return { source: '', payload: {} };
}

function oneLine(text: string, max = 2000): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function join(parts: Array<string | undefined | false>): string {
  return parts.filter((p): p is string => typeof p === 'string' && p !== '').join(' ');
}

/** A one-line description of a record for people (the payload keeps every field). */
export function recordMessage(kind: string, p: Payload): string {
  switch (kind) {
    case 'log.line': {
      const text = str(p['text']);
      const body = text !== undefined ? text : `[${str(p['length']) ?? '?'} bytes, not UTF-8: base64 ${str(p['raw_b64'])?.slice(0, 64) ?? ''}]`;
      return oneLine(`${str(p['path']) ?? ''}:${str(p['line_no']) ?? ''}: ${body}${p['partial'] === true ? ' [partial]' : ''}`);
    }
    case 'log.file':
      return join(['file preserved', str(p['path']), `(${str(p['reason']) ?? '?'}, ${str(p['size']) ?? '?'} bytes, sha256 ${str(p['sha256']) ?? '?'}, content ${str(p['content']) ?? '?'})`]);
    case 'usb.connect':
    case 'usb.disconnect':
    case 'usb.present': {
      const id = p['vendor_id'] !== undefined ? `${str(p['vendor_id'])}:${str(p['product_id']) ?? '????'}` : undefined;
      return oneLine(
        join([
          kind === 'usb.connect' ? 'USB connected:' : kind === 'usb.disconnect' ? 'USB disconnected:' : 'USB present:',
          id,
          str(p['manufacturer']),
          str(p['product']),
          p['serial'] !== undefined ? `serial ${str(p['serial'])}` : undefined,
          p['port'] !== undefined ? `port ${str(p['port'])}` : undefined,
          p['block_device'] !== undefined ? `as ${str(p['block_device'])}` : undefined,
        ]),
      );
    }
    case 'file.access':
    case 'file.change':
      return oneLine(
        join([
          str(p['user']) ?? (p['auid'] !== undefined ? `auid=${str(p['auid'])}` : p['uid'] !== undefined ? `uid=${str(p['uid'])}` : undefined),
          str(p['operation']),
          str(p['path']),
          p['exe'] !== undefined ? `by ${str(p['exe'])}` : undefined,
          p['success'] === false ? '(failed)' : undefined,
        ]),
      );
    case 'auth.logon':
      return oneLine(
        join([
          `${str(p['service']) ?? '?'} ${str(p['action']) ?? '?'}`,
          p['success'] === false ? 'FAILED' : 'ok',
          str(p['user']) ?? str(p['target_user']),
          p['from_ip'] !== undefined ? `from ${str(p['from_ip'])}` : p['from_host'] !== undefined ? `from ${str(p['from_host'])}` : undefined,
          p['method'] !== undefined ? `(${str(p['method'])})` : undefined,
        ]),
      );
    case 'agent.gap':
      return oneLine(join(['GAP', str(p['reason']), str(p['path']), str(p['detail'])]));
    case 'process.exec':
      return oneLine(
        join([
          p['action'] === 'end' ? 'process ended:' : 'program run:',
          str(p['exe']),
          p['action'] === 'end' ? undefined : str(commandLineOf(p)),
          str(p['user']) !== undefined ? `by ${str(p['user'])}` : p['auid'] !== undefined ? `by auid=${str(p['auid'])}` : p['uid'] !== undefined ? `by uid=${str(p['uid'])}` : undefined,
          p['pid'] !== undefined ? `pid ${str(p['pid'])}` : undefined,
          p['parent_exe'] !== undefined ? `parent ${str(p['parent_exe'])}` : undefined,
          p['success'] === false ? '(failed)' : undefined,
          p['incomplete'] !== undefined ? `[incomplete: ${str(p['incomplete'])}]` : undefined,
        ]),
        500,
      );
    case 'net.access':
      return oneLine(
        join([
          `${str(p['service']) ?? 'access'}:`,
          str(p['client_ip']),
          str(p['user']),
          str(p['method']),
          [str(p['host']), str(p['share']), str(p['url']) ?? str(p['target'])].filter((x) => x !== undefined).join(' ') || undefined,
          p['status'] !== undefined ? `→ ${str(p['status'])}` : undefined,
          str(p['result']),
          p['bytes_sent'] !== undefined ? `${str(p['bytes_sent'])} bytes sent` : undefined,
          p['bytes_received'] !== undefined ? `${str(p['bytes_received'])} bytes received` : undefined,
        ]),
        500,
      );
    case 'import.derived': {
      const records = p['records'];
      const n = typeof records === 'object' && records !== null ? Object.values(records as Record<string, unknown>).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0) : 0;
      return oneLine(join(['imported file read to its end:', str(p['path']), `(${n} records derived, log.file seq ${str(p['file_seq']) ?? '?'})`]));
    }
    case 'clock.anomaly':
      return oneLine(join(['clock anomaly:', str(p['detail']), `skew ${str(p['skew_ms']) ?? '?'} ms`]));
    case 'agent.start':
      return `agent started (version ${str(p['version']) ?? '?'}, pid ${str(p['pid']) ?? '?'})`;
    case 'agent.stop':
      return `agent stopped (${str(p['reason']) ?? '?'})`;
    case 'agent.heartbeat':
      return `agent heartbeat (uptime ${str(p['uptime_ms']) ?? '?'} ms)`;
    case 'key.rotate':
      return `signing key rotated to epoch ${str(p['epoch']) ?? '?'}`;
    case 'vault.unreachable':
      return oneLine(join(['vault unreachable:', str(p['vault']), str(p['code']), '—', str(p['detail'])]), 500);
    case 'vault.reachable':
      return oneLine(join(['vault reachable again:', str(p['vault']), `after ${str(p['failed_rounds']) ?? '?'} failed rounds, ${str(p['duration_ms']) ?? '?'} ms (outage record seq ${str(p['unreachable_seq']) ?? '?'})`]));
    default:
      return kind;
  }
}

/**
 * The time a record is placed at: a derived record's payload.event_time when it is a string, else
 * observed_at; raw lines (log.line) always at observed_at. The collector's SQL sort
 * (src/store/timeline-reader.ts) states the same rule; the bundle verifier applies this one to the
 * records it verified, so a row whose datetime is not its record's is a mismatch.
 */
export function recordTime(kind: string, observedAt: string, payload: Payload): string {
  if (kind === 'log.line') return observedAt;
  const t = payload['event_time'];
  return typeof t === 'string' ? t : observedAt;
}

/** The timeline entry of a record as read in seq order (no time computed by SQLite): what the verifier renders. */
export function timelineEntryOfRecord(src: TimelineSource, r: Omit<TimedRecord, 'time'>): TimelineEntry {
  const parsed = parseRecord(r.bytes);
  return entryOf(src, { ...r, time: recordTime(r.kind, r.observedAt, parsed.payload) }, parsed);
}

export function timelineEntry(src: TimelineSource, r: TimedRecord): TimelineEntry {
  return entryOf(src, r, parseRecord(r.bytes));
}

/**
 * The same entry from the record already parsed: `value` must be what JSON.parse gives for the
 * record's bytes (the collector has it from proving the record canonical, and saves a parse).
 */
export function timelineEntryOfParsed(src: TimelineSource, r: TimedRecord, value: unknown): TimelineEntry {
  return entryOf(src, r, partsOf(value));
}

function entryOf(src: TimelineSource, r: TimedRecord, { source, payload }: { source: string; payload: Payload }): TimelineEntry {
  return {
    datetime: r.time,
    timestamp_desc: r.time === r.observedAt && payload['event_time'] !== r.time ? 'Observed Time' : 'Event Time',
    host: src.host,
    store_id: src.storeId,
    seq: r.seq,
    // One native call, no Hash object: this runs once per record in collect and in bundle verify.
    record_sha256: hash('sha256', r.bytes, 'hex'),
    kind: r.kind,
    source,
    observed_at: r.observedAt,
    message: recordMessage(r.kind, payload),
    payload,
  };
}

/** One line of timeline.jsonl: keys in a fixed order, a newline after. */
export function timelineJsonLine(e: TimelineEntry): string {
  return `${JSON.stringify({
    datetime: e.datetime,
    timestamp_desc: e.timestamp_desc,
    host: e.host,
    store_id: e.store_id,
    seq: e.seq,
    record_sha256: e.record_sha256,
    kind: e.kind,
    source: e.source,
    observed_at: e.observed_at,
    message: e.message,
    payload: e.payload,
  })}\n`;
}

/** Microseconds since the Unix epoch of a record timestamp (…T12:34:56.123456Z), or undefined. */
export function timestampMicros(ts: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z$/.exec(ts);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000 + Number((m[2] ?? '').padEnd(6, '0'));
}

/** ISO 8601 with an explicit +00:00 offset, the form Timesketch's CSV importer documents. */
export function timesketchDatetime(ts: string): string {
  return ts.endsWith('Z') ? `${ts.slice(0, -1)}+00:00` : ts;
}

export const TIMELINE_CSV_COLUMNS = [
  'message',
  'datetime',
  'timestamp',
  'timestamp_desc',
  'data_type',
  'host',
  'store_id',
  'seq',
  'record_sha256',
  'kind',
  'source',
  'observed_at',
  'user',
  'path',
  'derived_from',
] as const;

export function timelineCsvHeader(): string {
  return csvRow(TIMELINE_CSV_COLUMNS);
}

export function timelineCsvRow(e: TimelineEntry): string {
  const p = e.payload;
  const derived = Array.isArray(p['derived_from']) ? (p['derived_from'] as unknown[]).map(String).join(';') : undefined;
  return csvRow([
    e.message,
    timesketchDatetime(e.datetime),
    timestampMicros(e.datetime),
    e.timestamp_desc,
    `custody:${e.kind}`,
    e.host,
    e.store_id,
    e.seq,
    e.record_sha256,
    e.kind,
    e.source,
    e.observed_at,
    str(p['user']) ?? str(p['target_user']),
    str(p['path']),
    derived,
  ]);
}

// --- tables ----------------------------------------------------------------------------------

export const FILE_ACCESS_COLUMNS = [
  'datetime', 'timestamp_desc', 'host', 'store_id', 'seq', 'record_sha256', 'kind', 'user', 'uid', 'auid', 'pid', 'exe', 'operation', 'path', 'previous_path', 'success', 'syscall', 'audit_key', 'parser', 'derived_from',
] as const;
export const LOGON_COLUMNS = [
  'datetime', 'timestamp_desc', 'host', 'store_id', 'seq', 'record_sha256', 'service', 'action', 'success', 'user', 'target_user', 'method', 'from_ip', 'from_host', 'from_port', 'terminal', 'logon_type', 'logon_id', 'reason', 'parser', 'derived_from',
] as const;
export const GAP_COLUMNS = [
  'datetime', 'host', 'store_id', 'seq', 'record_sha256', 'kind', 'source', 'path', 'reason', 'detail', 'from_offset', 'to_offset', 'bytes', 'since', 'until',
] as const;
export const PROCESS_COLUMNS = [
  'datetime', 'timestamp_desc', 'host', 'store_id', 'seq', 'record_sha256', 'action', 'user', 'uid', 'auid', 'euid', 'sid', 'pid', 'ppid', 'exe', 'command_line', 'cwd', 'parent_exe', 'parent_command_line', 'process_guid', 'parent_process_guid', 'logon_id', 'integrity_level', 'elevation', 'tty', 'session', 'success', 'exit_code', 'audit_key', 'incomplete', 'event_host', 'parser', 'derived_from',
] as const;
/** `dest_host` is the payload's `host` (virtual host, or where a proxy went); `host` is the evidence's. */
export const NET_ACCESS_COLUMNS = [
  'datetime', 'timestamp_desc', 'host', 'store_id', 'seq', 'record_sha256', 'service', 'client_ip', 'client_port', 'user', 'method', 'dest_host', 'port', 'url', 'protocol', 'status', 'result', 'bytes_sent', 'bytes_received', 'referrer', 'user_agent', 'duration_ms', 'share', 'share_path', 'target', 'server_ip', 'logon_id', 'incomplete', 'event_host', 'parser', 'derived_from',
] as const;
export const USB_COLUMNS = [
  'device', 'serial', 'vendor_id', 'product_id', 'manufacturer', 'product', 'first_seen', 'last_seen', 'connects', 'disconnects', 'sessions', 'hosts', 'block_devices', 'ports', 'records',
] as const;

function pick(p: Payload, names: readonly string[]): CsvValue[] {
  return names.map((n) => {
    const v = p[n];
    if (Array.isArray(v)) return v.map(String).join(';');
    return str(v);
  });
}

/** auditd gives argv, Windows a command line: the table shows one column for both. */
function commandLineOf(p: Payload): CsvValue {
  const line = str(p['command_line']);
  if (line !== undefined) return line;
  const argv = p['argv'];
  return Array.isArray(argv) ? argv.map(String).join(' ') : undefined;
}

export type TableName = 'file-access' | 'logons' | 'gaps' | 'process-executions' | 'net-access';
/** Every per-record table, in the order the bundle lists them. */
export const TABLE_NAMES: readonly TableName[] = ['file-access', 'logons', 'gaps', 'process-executions', 'net-access'];

/** The row for the per-record table the entry belongs to (tables/<name>.csv), if any. */
export function tableRow(e: TimelineEntry): { table: TableName; row: string } | undefined {
  const head = [e.datetime, e.timestamp_desc, e.host, e.store_id, e.seq, e.record_sha256];
  if (e.kind === 'process.exec') {
    const p = e.payload;
    const cols = PROCESS_COLUMNS.slice(6);
    return { table: 'process-executions', row: csvRow([...head, ...cols.map((c) => (c === 'command_line' ? commandLineOf(p) : pick(p, [c])[0]))]) };
  }
  if (e.kind === 'net.access') {
    const p = e.payload;
    const cols = NET_ACCESS_COLUMNS.slice(6);
    return { table: 'net-access', row: csvRow([...head, ...cols.map((c) => pick(p, [c === 'dest_host' ? 'host' : c])[0])]) };
  }
  if (e.kind === 'file.access' || e.kind === 'file.change') {
    return { table: 'file-access', row: csvRow([...head, e.kind, ...pick(e.payload, FILE_ACCESS_COLUMNS.slice(7))]) };
  }
  if (e.kind === 'auth.logon') return { table: 'logons', row: csvRow([...head, ...pick(e.payload, LOGON_COLUMNS.slice(6))]) };
  if (e.kind === 'agent.gap' || e.kind === 'clock.anomaly') {
    const p = e.payload;
    const detail = e.kind === 'clock.anomaly' ? `${str(p['detail']) ?? ''} (skew ${str(p['skew_ms']) ?? '?'} ms)` : str(p['detail']);
    return {
      table: 'gaps',
      row: csvRow([e.datetime, e.host, e.store_id, e.seq, e.record_sha256, e.kind, str(p['source']) ?? e.source, str(p['path']), e.kind === 'clock.anomaly' ? 'clock_anomaly' : str(p['reason']), detail, ...pick(p, ['from_offset', 'to_offset', 'bytes', 'since', 'until'])]),
    };
  }
  return undefined;
}

interface UsbDevice {
  device: string;
  serial: string | undefined;
  vendorIds: Set<string>;
  productIds: Set<string>;
  manufacturers: Set<string>;
  products: Set<string>;
  first: string;
  last: string;
  connects: number;
  disconnects: number;
  sessions: Set<string>;
  hosts: Set<string>;
  blocks: Set<string>;
  ports: Set<string>;
  records: number;
}

/** Aggregates USB records per device (serial, else vendor:product without one) into usb-devices.csv. */
export class UsbDeviceTable {
  private readonly devices = new Map<string, UsbDevice>();

  add(e: TimelineEntry): void {
    if (e.kind !== 'usb.connect' && e.kind !== 'usb.disconnect' && e.kind !== 'usb.present') return;
    const p = e.payload;
    const serial = p['serial_is_generated'] === true ? undefined : str(p['serial']);
    const vid = str(p['vendor_id']);
    const pid = str(p['product_id']);
    const key = serial !== undefined ? `serial:${serial}` : `id:${vid ?? '????'}:${pid ?? '????'}:${str(p['instance_id']) ?? ''}`;
    let d = this.devices.get(key);
    if (d === undefined) {
      d = {
        device: serial !== undefined ? serial : `${vid ?? '????'}:${pid ?? '????'} (no serial)`,
        serial,
        vendorIds: new Set(),
        productIds: new Set(),
        manufacturers: new Set(),
        products: new Set(),
        first: e.datetime,
        last: e.datetime,
        connects: 0,
        disconnects: 0,
        sessions: new Set(),
        hosts: new Set(),
        blocks: new Set(),
        ports: new Set(),
        records: 0,
      };
      this.devices.set(key, d);
    }
    const addTo = (set: Set<string>, v: unknown): void => {
      const s = str(v);
      if (s !== undefined && s !== '') set.add(s);
    };
    addTo(d.vendorIds, vid);
    addTo(d.productIds, pid);
    addTo(d.manufacturers, p['manufacturer']);
    addTo(d.products, p['product']);
    addTo(d.sessions, p['session'] !== undefined ? `${e.host}/${str(p['session'])}` : undefined);
    addTo(d.blocks, p['block_device']);
    addTo(d.ports, p['port']);
    d.hosts.add(e.host);
    if (e.datetime < d.first) d.first = e.datetime;
    if (e.datetime > d.last) d.last = e.datetime;
    if (e.kind === 'usb.connect') d.connects++;
    if (e.kind === 'usb.disconnect') d.disconnects++;
    d.records++;
  }

  csv(): string {
    const set = (s: Set<string>): string => [...s].sort().join(';');
    let out = csvRow(USB_COLUMNS);
    // A total order (first seen, label, then the grouping key), so the table does not depend on the
    // order records were added in: the collector adds them by time, the verifier by seq.
    const rows = [...this.devices.entries()]
      .sort(([ka, a], [kb, b]) => (a.first !== b.first ? (a.first < b.first ? -1 : 1) : a.device !== b.device ? (a.device < b.device ? -1 : 1) : ka < kb ? -1 : ka > kb ? 1 : 0))
      .map(([, d]) => d);
    for (const d of rows) {
      out += csvRow([
        d.device,
        d.serial,
        set(d.vendorIds),
        set(d.productIds),
        set(d.manufacturers),
        set(d.products),
        d.first,
        d.last,
        d.connects,
        d.disconnects,
        d.sessions.size > 0 ? d.sessions.size : d.connects,
        set(d.hosts),
        set(d.blocks),
        set(d.ports),
        d.records,
      ]);
    }
    return out;
  }
}

export const TABLE_HEADERS: Readonly<Record<TableName, string>> = {
  'file-access': csvRow(FILE_ACCESS_COLUMNS),
  logons: csvRow(LOGON_COLUMNS),
  gaps: csvRow(GAP_COLUMNS),
  'process-executions': csvRow(PROCESS_COLUMNS),
  'net-access': csvRow(NET_ACCESS_COLUMNS),
};
