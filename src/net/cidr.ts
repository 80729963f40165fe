/**
 * Address ranges (CIDR) for IPv4 and IPv6, and whether an address is in one: the report's
 * "internal" networks. Pure: no I/O, no DNS (a host name is never resolved here; the caller says
 * what it does with one).
 *
 * An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as a dual-stack server logs an IPv4 client) is
 * the IPv4 address it maps, so it matches IPv4 ranges; an IPv4 range never matches any other IPv6
 * address. Addresses in brackets (`[fe80::1]`) and with a zone (`fe80::1%eth0`) are accepted as
 * logs write them; the zone is ignored.
 */

export interface CidrRange {
  /** The range as given, normalised (`10.0.0.0/8`, `fc00::/7`). */
  text: string;
  version: 4 | 6;
  /** Network address as a big-endian integer (32 or 128 bits). */
  network: bigint;
  prefix: number;
}

/** RFC 1918 private, loopback, link-local (v4 and v6), IPv6 unique local and loopback: what an office network holds. */
export const DEFAULT_INTERNAL_RANGES: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '::1/128', 'fc00::/7', 'fe80::/10'];

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  let text = s;
  // A trailing dotted IPv4 part (`::ffff:1.2.3.4`) is two groups.
  let tail: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tail = parseV4(text.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(tail >> 16n).toString(16)}:${(tail & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let n = 0n;
  for (const g of [...head, ...Array<string>(missing).fill('0'), ...rest]) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** An address as logs write it → its version and value; IPv4-mapped IPv6 comes back as IPv4. Undefined when it is not an address (a host name, garbage). */
export function parseAddress(input: string): { version: 4 | 6; value: bigint } | undefined {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0 && s.includes(':')) s = s.slice(0, zone);
  if (s.includes(':')) {
    const v = parseV6(s);
    if (v === undefined) return undefined;
    if (v >> 32n === 0xffffn) return { version: 4, value: v & 0xffffffffn };
    return { version: 6, value: v };
  }
  const v = parseV4(s);
  return v === undefined ? undefined : { version: 4, value: v };
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128) → a range; undefined when it is not one. Host bits set are cleared (`10.1.2.3/8` is `10.0.0.0/8`). */
export function parseCidr(input: string): CidrRange | undefined {
  const slash = input.indexOf('/');
  const addrText = slash < 0 ? input : input.slice(0, slash);
  const prefixText = slash < 0 ? undefined : input.slice(slash + 1);
  // Parse without unmapping: `::ffff:0:0/96` is a v6 range as written.
  const raw = addrText.includes(':') ? parseV6(addrText.trim()) : parseV4(addrText.trim());
  if (raw === undefined) return undefined;
  const version: 4 | 6 = addrText.includes(':') ? 6 : 4;
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^(0|[1-9]\d{0,2})$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  const network = raw & mask;
  return { text: `${formatAddress(version, network)}/${prefix}`, version, network, prefix };
}

function formatAddress(version: 4 | 6, v: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // The longest run of zero groups (two or more) becomes `::` (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Whether `address` (as parsed by parseAddress) is inside `range`. */
export function inRange(address: { version: 4 | 6; value: bigint }, range: CidrRange): boolean {
  if (address.version !== range.version) {
    // An IPv6 range written over the mapped space (`::ffff:0:0/96`) holds the IPv4 addresses it maps.
    if (address.version === 4 && range.version === 6) return inRange({ version: 6, value: MAPPED_PREFIX | address.value }, range);
    return false;
  }
  const bits = address.version === 4 ? 32 : 128;
  const shift = BigInt(bits - range.prefix);
  return address.value >> shift === range.network >> shift;
}

/** A set of ranges: which one holds an address. */
export class CidrSet {
  readonly ranges: readonly CidrRange[];
  constructor(ranges: readonly CidrRange[]) {
    this.ranges = ranges;
  }
  /** The first range holding `address` (a literal address; a host name is in none), or undefined. */
  match(address: string): CidrRange | undefined {
    const a = parseAddress(address);
    if (a === undefined) return undefined;
    return this.ranges.find((r) => inRange(a, r));
  }
}
