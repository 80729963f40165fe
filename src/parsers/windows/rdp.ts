/**
 * TerminalServices-RemoteConnectionManager 1149 ("Remote Desktop Services: User authentication
 * succeeded") → `auth.logon` with `service: 'rdp'`. Pure.
 *
 * 1149 is written when the network-level authentication of an RDP connection succeeds, before
 * the session is set up: it proves who authenticated from where, not that a desktop session
 * followed (Security 4624 type 10, or LocalSessionManager 21, say that). `action` is `logon`,
 * the nearest the schema has, and `extra.semantics` says exactly what the event means; the source
 * address is the only place an RDP client's IP is logged when Security auditing is off.
 * UserData Param1 is the user, Param2 the domain (often empty), Param3 the client address.
 */
import type { PayloadOf } from '../../records/schema.js';
import { dash, type EventContext } from './common.js';

type AuthPayload = PayloadOf<'auth.logon'>;

export function mapRdpAuthenticated(c: EventContext): void {
  const { d } = c;
  const extra = c.extraBase();
  extra['semantics'] = 'RDP network authentication succeeded (TerminalServices-RemoteConnectionManager 1149); a session is not proven by this event';
  const p: AuthPayload = { ...c.base, service: 'rdp', action: 'logon', success: true, extra };
  const user = dash(d['Param1']);
  if (user !== undefined) p.user = user;
  const domain = dash(d['Param2']);
  if (domain !== undefined) extra['domain'] = domain;
  const from = dash(d['Param3']);
  if (from !== undefined) p.from_ip = from;
  c.push('auth.logon', p);
}
