/**
 * The users and hosts of interest (`--user-of-interest`, `--host-of-interest`): which program runs
 * "What ran" is about. Pure.
 *
 * A run is of interest when its user is one of the users given (if any are given) and its host one
 * of the hosts given (if any are given): each list narrows, so both together mean "these users on
 * these hosts". The rest is not dropped: the report counts what it left out of What ran, the
 * patterns still weigh every run, and the bundle's tables/process-executions.csv holds them all.
 *
 * What matches, without case (Windows account and host names have none, and a responder types
 * `alice` for `CONTOSO\Alice`):
 * - a user: the run's `user` (auditd's enriched UID name, Windows `DOMAIN\name`), or its account
 *   name alone (`name` of `DOMAIN\name` or of `name@domain`) unless the name given has a domain
 *   itself; or `auid=N` / `uid=N` as the report shows users auditd names by number;
 * - a host: the record's host or the event's own host name, whole, or its first DNS label
 *   (`web01` matches `web01.example.jp`) unless the name given has a dot itself.
 */
export interface Interest {
  users: readonly string[];
  hosts: readonly string[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** `CONTOSO\alice` and `alice@contoso.local` → `alice`. */
function accountName(user: string): string {
  const at = user.indexOf('@');
  const bare = at > 0 ? user.slice(0, at) : user;
  return bare.slice(bare.lastIndexOf('\\') + 1);
}

/** The names a run's user goes by, lower case: its user name and account name, and `auid=` / `uid=` forms. */
function userNames(p: Readonly<Record<string, unknown>>): { whole: string[]; account: string[] } {
  const whole: string[] = [];
  const account: string[] = [];
  const user = str(p['user']);
  if (user !== undefined) {
    whole.push(user.toLowerCase());
    account.push(accountName(user).toLowerCase());
  }
  const auid = str(p['auid']);
  if (auid !== undefined && auid !== '4294967295' && auid !== '-1') whole.push(`auid=${auid}`);
  const uid = str(p['uid']);
  if (uid !== undefined) whole.push(`uid=${uid}`);
  return { whole, account };
}

/** Whether a run (its host and payload) is of interest; `undefined` when no user or host is given (all runs are). */
export function interestFilter(interest: Interest | undefined): ((host: string, payload: Readonly<Record<string, unknown>>) => boolean) | undefined {
  if (interest === undefined || (interest.users.length === 0 && interest.hosts.length === 0)) return undefined;
  const users = interest.users.map((u) => ({ name: u.toLowerCase(), hasDomain: /[\\@]/.test(u) }));
  const hosts = interest.hosts.map((h) => ({ name: h.toLowerCase(), hasDot: h.includes('.') }));
  return (host, payload) => {
    if (hosts.length > 0) {
      const names = [host, str(payload['event_host'])].filter((h): h is string => h !== undefined).map((h) => h.toLowerCase());
      const ok = hosts.some((h) => names.some((n) => n === h.name || (!h.hasDot && n.split('.')[0] === h.name)));
      if (!ok) return false;
    }
    if (users.length > 0) {
      const names = userNames(payload);
      const ok = users.some((u) => names.whole.includes(u.name) || (!u.hasDomain && names.account.includes(u.name)));
      if (!ok) return false;
    }
    return true;
  };
}
