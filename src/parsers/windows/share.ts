/**
 * Windows file-share access → `net.access` with `service: 'smb'`: Security 5140 (a network share
 * object was accessed: a client opened a session to the share) and 5145 (a network share object
 * was checked for the access the client asked: one per file or pipe inside it). Pure.
 *
 * The client is IpAddress/IpPort; the server is the event's computer (`event_host`). `share` is
 * ShareName as Windows writes it (`\\*\ADMIN$`), `share_path` its local folder, `target` the
 * file inside (5145's RelativeTargetName). `result` is the access list by name (ReadData,
 * WriteData, … as for file access), `status` whether the audit says it was granted or denied.
 */
import type { PayloadOf } from '../../records/schema.js';
import { accessNames, clean, copy, dash, setIf, successOf, type EventContext } from './common.js';

type NetPayload = PayloadOf<'net.access'>;

export function mapShareAccess(c: EventContext): void {
  const { e, d } = c;
  const extra = c.extraBase();
  extra['semantics'] =
    e.eventId === 5140
      ? 'a network share was accessed (Security 5140: the client opened the share)'
      : 'access to a file or pipe in a network share was checked (Security 5145)';
  const incomplete: string[] = [];
  const p: NetPayload = { ...c.base, service: 'smb', extra };
  const ip = dash(d['IpAddress']);
  if (ip !== undefined) p.client_ip = ip;
  else incomplete.push('no client address (IpAddress)');
  const port = dash(d['IpPort']);
  if (port !== undefined && /^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) <= 65535) p.client_port = Number(port);
  setIf(p, 'user', dash(d['SubjectUserName']));
  const sid = dash(d['SubjectUserSid']);
  if (sid !== undefined && sid !== 'S-1-0-0') p.sid = sid;
  setIf(p, 'logon_id', dash(d['SubjectLogonId']));
  const share = clean(d['ShareName']);
  if (share !== undefined) p.share = share;
  else incomplete.push('no ShareName');
  setIf(p, 'share_path', clean(d['ShareLocalPath']));
  setIf(p, 'target', dash(d['RelativeTargetName']));
  if (e.eventId === 5145 && p.target === undefined) incomplete.push('no RelativeTargetName');
  const access = accessNames(d['AccessList']);
  if (access.length > 0) p.result = access.join(' ');
  const success = successOf(e.keywords);
  if (success !== undefined) p.status = success ? 'granted' : 'denied';
  copy(d, extra, { SubjectDomainName: 'domain', ObjectType: 'object_type', AccessMask: 'access_mask', AccessReason: 'access_reason' });
  if (extra['access_reason'] === '-') delete extra['access_reason'];
  if (incomplete.length > 0) p.incomplete = incomplete.join('; ');
  c.push('net.access', p);
}
