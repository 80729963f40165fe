/**
 * What every Windows event mapper shares: the per-event context (common payload fields, `extra`
 * basics, a schema-checked push) and the readers for how Windows writes values ("-" for none,
 * hex ids, %%NNNN message ids). Pure.
 */
import { payloadSchemas, RECORD_TIME_FORM, type PayloadOf, type RecordKind } from '../../records/schema.js';
import type { EvtxEvent } from '../evtx/index.js';
import type { DerivedRecord, ParseFailure, ParseOutput } from '../types.js';

export const WINDOWS_EVENTS_PARSER = 'evtx.windows-events@1';

export const SECURITY = 'Microsoft-Windows-Security-Auditing';
export const SYSMON = 'Microsoft-Windows-Sysmon';
export const RDP_CONNECTION_MANAGER = 'Microsoft-Windows-TerminalServices-RemoteConnectionManager';

/** Keywords bits: audit failure / audit success. */
const AUDIT_FAILURE = 0x0010000000000000n;
const AUDIT_SUCCESS = 0x0020000000000000n;

/** What a mapper for one event needs: the event, its data, the common fields, and where to put results. */
export interface EventContext {
  e: EvtxEvent;
  d: Record<string, string>;
  /** derived_from, parser, event_time, event_host: the fields every derived payload starts with. */
  base: { derived_from: number[]; parser: string; event_time?: string; event_host?: string };
  /** A fresh `extra` with the event's identity (id, record id, provider, channel, user SID). */
  extraBase: () => Record<string, string>;
  /** Adds a record after checking it against its kind's schema; a payload that fails becomes a parse failure. */
  push: <K extends RecordKind>(kind: K, payload: PayloadOf<K>) => void;
}

export function eventContext(e: EvtxEvent, derivedFrom: number[], out: ParseOutput): EventContext {
  return {
    e,
    d: e.data,
    base: { derived_from: derivedFrom, parser: WINDOWS_EVENTS_PARSER, ...eventTime(e), ...(e.computer !== '' ? { event_host: e.computer } : {}) },
    extraBase: () => {
      const x: Record<string, string> = { event_id: String(e.eventId), record_id: e.recordId, provider: e.provider, channel: e.channel };
      if (e.userSid !== undefined) x['user_sid'] = e.userSid;
      return x;
    },
    push: (kind, payload) => {
      const checked = payloadSchemas[kind].safeParse(payload);
      if (!checked.success) {
        out.failures.push(failure('evtx.bad_payload', `event ${e.eventId} record ${e.recordId}: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, derivedFrom));
        return;
      }
      out.records.push({ kind, payload } as DerivedRecord);
    },
  };
}

export function failure(reason: string, detail: string, derivedFrom: number[]): ParseFailure {
  return { parser: WINDOWS_EVENTS_PARSER, reason, detail, derived_from: derivedFrom };
}

export function eventTime(e: EvtxEvent): { event_time?: string } {
  return RECORD_TIME_FORM.test(e.timeCreated) ? { event_time: e.timeCreated } : {};
}

export function setIf<T extends object, K extends keyof T>(p: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) p[key] = value;
}

/** Trimmed text, or undefined for empty / "NULL" (Partition/Diagnostic writes NULL for none). */
export function clean(s: string | undefined): string | undefined {
  const t = s?.trim();
  return t === undefined || t === '' || t === 'NULL' ? undefined : t;
}

/** Security events write "-" for "none". */
export function dash(s: string | undefined): string | undefined {
  const t = clean(s);
  return t === '-' ? undefined : t;
}

export function qualified(domain: string | undefined, user: string | undefined): string | undefined {
  const u = dash(user);
  if (u === undefined) return undefined;
  const dm = dash(domain);
  return dm === undefined ? u : `${dm}\\${u}`;
}

export function copy(d: Record<string, string>, extra: Record<string, string>, names: Record<string, string>): void {
  for (const [from, to] of Object.entries(names)) {
    const v = d[from];
    if (v !== undefined && v.trim() !== '') extra[to] = v.trim();
  }
}

export function hexOrDec(s: string | undefined): number | undefined {
  const t = s?.trim();
  if (t === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function successOf(keywords: string | undefined): boolean | undefined {
  if (keywords === undefined || !/^0x[0-9a-f]{1,16}$/i.test(keywords)) return undefined;
  const k = BigInt(keywords);
  if (k & AUDIT_FAILURE) return false;
  if (k & AUDIT_SUCCESS) return true;
  return undefined;
}

/** Access-right message ids (%%NNNN) in AccessList, by name (file object semantics). */
const ACCESS_RIGHTS: Record<string, string> = {
  '1537': 'DELETE',
  '1538': 'READ_CONTROL',
  '1539': 'WRITE_DAC',
  '1540': 'WRITE_OWNER',
  '1541': 'SYNCHRONIZE',
  '1542': 'ACCESS_SYS_SEC',
  '4416': 'ReadData',
  '4417': 'WriteData',
  '4418': 'AppendData',
  '4419': 'ReadEA',
  '4420': 'WriteEA',
  '4421': 'Execute',
  '4422': 'DeleteChild',
  '4423': 'ReadAttributes',
  '4424': 'WriteAttributes',
};

export function accessNames(list: string | undefined): string[] {
  if (list === undefined) return [];
  const out: string[] = [];
  for (const tok of list.split(/\s+/)) {
    if (tok === '') continue;
    const m = /^%%(\d+)$/.exec(tok);
    out.push(m !== null ? (ACCESS_RIGHTS[m[1]!] ?? tok) : tok);
  }
  return out;
}

export function operationOf(access: string[]): string {
  const has = (n: string): boolean => access.includes(n);
  if (has('DELETE')) return 'delete';
  if (has('WriteData')) return 'write';
  if (has('AppendData')) return 'append';
  if (has('ReadData')) return 'read';
  if (has('Execute')) return 'execute';
  if (has('WriteAttributes') || has('WriteEA') || has('WRITE_DAC') || has('WRITE_OWNER')) return 'set_attributes';
  if (has('ReadAttributes') || has('ReadEA') || has('READ_CONTROL')) return 'read_attributes';
  return 'access';
}
