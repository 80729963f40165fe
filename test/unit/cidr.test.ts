import { describe, expect, it } from 'vitest';
import { CustodyError } from '../../src/errors.js';
import { CidrSet, DEFAULT_INTERNAL_RANGES, parseAddress, parseCidr } from '../../src/net/cidr.js';
import { DEFAULT_UPLOAD_THRESHOLD, parseByteSize, reportNetFromFlags } from '../../src/report/net-options.js';

const defaults = new CidrSet(DEFAULT_INTERNAL_RANGES.map((r) => parseCidr(r)!));

describe('CIDR ranges', () => {
  it('parses and normalises v4 and v6 ranges, clearing host bits', () => {
    expect(parseCidr('10.1.2.3/8')?.text).toBe('10.0.0.0/8');
    expect(parseCidr('192.168.1.7')?.text).toBe('192.168.1.7/32');
    expect(parseCidr('fd12:3456::1/48')?.text).toBe('fd12:3456::/48');
    expect(parseCidr('2001:db8:0:0:1:0:0:1/128')?.text).toBe('2001:db8::1:0:0:1/128');
    expect(parseCidr('::/0')?.text).toBe('::/0');
  });

  it('rejects what is not a range', () => {
    for (const bad of ['', '10.0.0.0/33', '10.0.0/8', '256.0.0.1', '01.2.3.4', 'fc00::/129', '1::2::3', 'example.com', '10.0.0.0/', '10.0.0.0/-1', '1:2:3:4:5:6:7:8:9']) expect(parseCidr(bad), bad).toBeUndefined();
  });

  it('defaults: RFC 1918, loopback, link-local, ULA are internal; public addresses are not', () => {
    for (const a of ['10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.10', '127.0.0.1', '169.254.1.1', '::1', 'fd00::5', 'fe80::1%eth0', '[fc01::2]']) expect(defaults.match(a), a).toBeDefined();
    for (const a of ['172.32.0.1', '8.8.8.8', '203.0.113.9', '2001:db8::1', '11.0.0.1', 'fec0::1']) expect(defaults.match(a), a).toBeUndefined();
  });

  it('an IPv4-mapped IPv6 address is the IPv4 address it maps', () => {
    expect(parseAddress('::ffff:10.1.2.3')).toEqual({ version: 4, value: 0x0a010203n });
    expect(parseAddress('::ffff:a01:203')).toEqual({ version: 4, value: 0x0a010203n });
    expect(defaults.match('::ffff:192.168.1.1')?.text).toBe('192.168.0.0/16');
    expect(defaults.match('::ffff:8.8.8.8')).toBeUndefined();
    // A range written over the mapped space holds the IPv4 addresses it maps.
    expect(new CidrSet([parseCidr('::ffff:0:0/96')!]).match('1.2.3.4')).toBeDefined();
    // An IPv4 range never holds a plain IPv6 address.
    expect(new CidrSet([parseCidr('0.0.0.0/0')!]).match('2001:db8::1')).toBeUndefined();
  });

  it('a host name is in no range (never resolved)', () => {
    expect(defaults.match('localhost')).toBeUndefined();
    expect(defaults.match('mega.nz')).toBeUndefined();
  });
});

describe('report network options', () => {
  it('byte sizes', () => {
    expect(parseByteSize('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseByteSize('10 MB')).toBe(10_000_000);
    expect(parseByteSize('500k')).toBe(500_000);
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    for (const bad of ['', '-1', 'ten', '10 parsecs', '1e3', '99999999999TB']) expect(parseByteSize(bad), bad).toBeUndefined();
  });

  it('flags: defaults, replacements, and usage errors naming the value', () => {
    const d = reportNetFromFlags({});
    expect(d.internal_ranges).toEqual([...DEFAULT_INTERNAL_RANGES]);
    expect(d.upload_threshold).toBe(DEFAULT_UPLOAD_THRESHOLD);
    expect(reportNetFromFlags({ internalRange: ['100.64.0.0/10'], uploadThreshold: '1MiB' })).toEqual({ internal_ranges: ['100.64.0.0/10'], upload_threshold: 1024 * 1024 });
    const err = (f: () => unknown): CustodyError => {
      try {
        f();
      } catch (e) {
        return e as CustodyError;
      }
      throw new Error('no error');
    };
    const e1 = err(() => reportNetFromFlags({ internalRange: ['10.0.0.0/8', '10.0.0.0/99'] }));
    expect(e1.code).toBe('E_USAGE');
    expect(e1.message).toContain('--internal-range "10.0.0.0/99"');
    const e2 = err(() => reportNetFromFlags({ uploadThreshold: '0' }));
    expect(e2.code).toBe('E_USAGE');
    expect(e2.message).toContain('--upload-threshold "0"');
    expect(err(() => reportNetFromFlags({ uploadThreshold: 'lots' })).message).toContain('"lots"');
  });
});
