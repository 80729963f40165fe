/**
 * A vault's name: `s3://BUCKET[/PREFIX]`. Pure: parsing and formatting only, no network.
 *
 * The bucket follows S3's bucket naming rules (3–63 characters of lowercase letters, digits, dots and
 * hyphens, starting and ending with a letter or digit, not an IP address), checked here so a typo is a
 * clear usage error instead of an endpoint's opaque 400. The prefix is a folder-like path inside the
 * bucket: segments of printable characters without `.`/`..` and without empty segments, so two
 * spellings of one prefix (`a//b`, `a/b/`) cannot name two different vaults.
 */
import { CustodyError, ErrorCodes } from '../errors.js';

export interface VaultUrl {
  bucket: string;
  /** '' or segments joined by '/', with no leading or trailing slash. */
  prefix: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
// Printable ASCII without backslash, and any non-ASCII letter: what S3 keys carry safely in URLs and listings.
const SEGMENT = /^[^\u0000-\u001f\u007f\\/]+$/u;

function usage(message: string, url: string): CustodyError {
  return new CustodyError(ErrorCodes.USAGE, message, { where: url });
}

export function parseVaultUrl(url: string): VaultUrl {
  const example = 'a vault is named s3://BUCKET or s3://BUCKET/PREFIX';
  if (!url.startsWith('s3://')) throw usage(`${example}, got ${JSON.stringify(url)}`, url);
  const rest = url.slice('s3://'.length);
  if (/[?#]/.test(rest)) throw usage(`${example}; a query or fragment (? #) is not part of a vault name`, url);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const rawPrefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw usage(`${example}; the bucket is missing`, url);
  if (!BUCKET.test(bucket) || bucket.includes('..') || IPV4.test(bucket)) {
    throw usage(
      `bucket ${JSON.stringify(bucket)} is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)`,
      url,
    );
  }
  const trimmed = rawPrefix.endsWith('/') ? rawPrefix.slice(0, -1) : rawPrefix;
  if (trimmed === '') return { bucket, prefix: '' };
  const segments = trimmed.split('/');
  for (const s of segments) {
    if (s === '') throw usage(`the vault prefix ${JSON.stringify(rawPrefix)} has an empty segment (//)`, url);
    if (s === '.' || s === '..') throw usage(`the vault prefix ${JSON.stringify(rawPrefix)} may not contain . or .. segments`, url);
    if (!SEGMENT.test(s)) throw usage(`the vault prefix ${JSON.stringify(rawPrefix)} contains a control character or a backslash`, url);
  }
  const prefix = segments.join('/');
  if (Buffer.byteLength(prefix) > 512) throw usage('the vault prefix is longer than 512 bytes (object names must stay under 1024)', url);
  return { bucket, prefix };
}

export function formatVaultUrl(vault: VaultUrl): string {
  return `s3://${vault.bucket}${vault.prefix === '' ? '' : `/${vault.prefix}`}`;
}
