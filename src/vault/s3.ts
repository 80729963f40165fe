/**
 * All of custody's S3 access, for the agent's shipping and the collector alike: one small client over
 * @aws-sdk/client-s3 with the operations the vault needs and nothing else (no delete: custody never
 * deletes evidence; tests that prove the vault refuses deletion use the SDK directly).
 *
 * Decisions worth questioning:
 * - Endpoint and credentials come the way the AWS SDK finds them (AWS_ENDPOINT_URL_S3,
 *   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION, the shared credentials
 *   file), but from the environment the caller passes in (only a command's entry reads process.env):
 *   endpoint, region and keys are read from it here with the SDK's precedence; without keys in it,
 *   the SDK's default chain (shared credentials file, AWS_PROFILE, roles) finds them. We resolve the
 *   endpoint ourselves (and tell the SDK to ignore configured endpoints) to know whether a custom
 *   endpoint is in use: it gets path-style addressing (RGW, MinIO and most self-hosted S3 have no
 *   wildcard DNS for virtual-hosted buckets). An `endpoint_url` in ~/.aws/config is not read.
 * - `requestChecksumCalculation` and `responseChecksumValidation` are WHEN_REQUIRED: the SDK's
 *   default sends stream bodies `aws-chunked` with a trailing checksum, which Ceph RGW answers with
 *   411 MissingContentLength; and RGW neither checks nor stores x-amz-checksum-sha256. Integrity of
 *   each upload rests on Content-MD5 (RGW and AWS both check it: 400 BadDigest) and SigV4's payload
 *   hash, and end to end on the signed checkpoints, not on S3's checksums.
 * - Errors become CustodyErrors by the S3 error *code* and HTTP status, never by the SDK's message:
 *   RGW often sends no <Message> (the SDK then says "UnknownError"), and a message from the far end
 *   is not ours to print. Messages name the operation, bucket and key only: credentials never appear
 *   in a message, a log line or an object.
 * - Put-once: an object is written with Content-MD5 and Object Lock headers. If the name exists with
 *   the same bytes, that is success (a shipper resuming after a crash); with different bytes it is
 *   E_VAULT_OBJECT_EXISTS. `If-None-Match: *` makes that check atomic where the endpoint supports
 *   conditional writes (AWS S3); Ceph RGW 16.2 ignores it (measured: a PUT with it stored a second
 *   version), so there the HEAD before the PUT is the check, and two writers racing between them
 *   can leave two versions, which verification is to name as a second version of a write-once object.
 *   A caller that knows the name was never sent (the agent's shipper, from its state database) may
 *   leave the first HEAD out (`unsent`): on RGW that HEAD doubled the requests of shipping.
 * - A PUT is never retried blindly: a PUT whose answer was lost may have stored its version, and a
 *   second PUT of the same name would store a second one. So the SDK's own retry is switched off for
 *   PutObject, and put-once retries by itself, asking with a HEAD before each new attempt.
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
  type ObjectLockRetentionMode,
} from '@aws-sdk/client-s3';
import { CustodyError, ErrorCodes, type ErrorCode } from '../errors.js';
import { formatVaultUrl, type VaultUrl } from './url.js';

export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface VaultClientOptions {
  /** Overrides AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (`--endpoint`, the agent config's `vault.endpoint`). */
  endpoint?: string;
  /** Overrides AWS_REGION (the agent config's `vault.region`). */
  region?: string;
  /** The environment to read endpoint and region from; the SDK's credential chain reads its own. */
  env: Readonly<Record<string, string | undefined>>;
  /** Attempts per request, including the first (SDK default 3). Tests of failure use 1. */
  maxAttempts?: number;
  /**
   * The longest one request may take (connecting included) before it fails as E_VAULT_UNREACHABLE;
   * without it the SDK waits as long as the socket stays open, so a gateway that accepts and never
   * answers would hang the agent's shipping round for good.
   */
  requestTimeoutMs?: number;
}

export interface PutOnceOptions {
  /**
   * The caller knows this name was never sent to this vault (no PUT of it can have reached it), so
   * the HEAD before the first PUT is left out. Any retry still asks first.
   */
  unsent?: boolean;
  /** Object Lock retention of this object; without it the bucket's default retention applies. */
  retainUntil?: Date;
  mode?: LockMode;
  legalHold?: boolean;
  contentType?: string;
}

export interface PutOnceResult {
  key: string;
  /** 'written': this call stored it; 'existed': the same bytes were already there (nothing written). */
  outcome: 'written' | 'existed';
  versionId: string | undefined;
  md5: string;
}

export interface StoredObject {
  key: string;
  body: Uint8Array;
  versionId: string | undefined;
  lastModified: Date | undefined;
  lockMode: LockMode | undefined;
  retainUntil: Date | undefined;
  legalHold: boolean;
}

export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date | undefined;
  etag: string | undefined;
}

export interface ListedVersion {
  key: string;
  versionId: string;
  isLatest: boolean;
  /** A delete marker is a version too: someone asked to delete this name. */
  deleteMarker: boolean;
  size: number;
  lastModified: Date | undefined;
  etag: string | undefined;
}

export interface LockConfiguration {
  versioning: 'Enabled' | 'Suspended' | 'Off';
  objectLock: boolean;
  defaultRule: { mode: LockMode; days?: number; years?: number } | undefined;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'TimeoutError', 'RequestTimeout']);
const DENIED_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled', 'CredentialsProviderError']);
const NOT_FOUND_CODES = new Set(['NoSuchBucket', 'NoSuchKey', 'NotFound', 'NoSuchVersion']);

/** The S3 error code and HTTP status of anything the SDK throws; the code reduced to safe characters. */
export function s3ErrorCode(err: unknown): { code: string; status: number | undefined } {
  const e = err as { Code?: unknown; code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const raw = [e?.Code, e?.code, e?.name].find((c) => typeof c === 'string' && c !== '' && c !== 'Error' && c !== 'UnknownError' && c !== 'Unknown');
  const status = typeof e?.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const code = typeof raw === 'string' ? raw.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 64) : status === undefined ? 'Unknown' : `HTTP${status}`;
  return { code, status };
}

/** Maps an SDK failure to a typed error. `what` is our own words (operation, bucket, key), never the far end's. */
export function vaultError(err: unknown, what: string, where: string): CustodyError {
  const { code, status } = s3ErrorCode(err);
  // A HEAD's answer has no body, so no S3 error code: say so rather than print a made-up one.
  const http = code.startsWith('HTTP') ? `HTTP ${status} without an S3 error code` : status === undefined ? code : `${code} (HTTP ${status})`;
  let errorCode: ErrorCode;
  let hint = '';
  if (NETWORK_CODES.has(code) || (status === undefined && /ECONN|ENOTFOUND|EAI_AGAIN|socket|timeout/i.test(String((err as { message?: unknown })?.message)))) {
    errorCode = ErrorCodes.VAULT_UNREACHABLE;
    hint = ': the vault endpoint did not answer (check --endpoint / AWS_ENDPOINT_URL and that it is running)';
  } else if (DENIED_CODES.has(code) || status === 403) {
    errorCode = ErrorCodes.VAULT_ACCESS_DENIED;
    hint =
      code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch'
        ? ': the vault does not accept these credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials file)'
        : code === 'CredentialsProviderError'
          ? ': no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared credentials file)'
          : ': refused by the vault (the credentials are not accepted, or may not do this in this bucket)';
  } else if (NOT_FOUND_CODES.has(code) || status === 404) {
    errorCode = ErrorCodes.VAULT_NOT_FOUND;
    hint = code === 'NoSuchBucket' ? ': the bucket does not exist (create it with `custody vault init`)' : ': not found';
  } else {
    errorCode = ErrorCodes.VAULT_REQUEST_FAILED;
  }
  return new CustodyError(errorCode, `${what} failed: ${http}${hint}`, { where });
}

function endpointFrom(options: VaultClientOptions): string | undefined {
  const raw = options.endpoint ?? options.env['AWS_ENDPOINT_URL_S3'] ?? options.env['AWS_ENDPOINT_URL'];
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CustodyError(ErrorCodes.USAGE, `the vault endpoint must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CustodyError(ErrorCodes.USAGE, `the vault endpoint must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  if (url.username !== '' || url.password !== '') throw new CustodyError(ErrorCodes.USAGE, 'the vault endpoint URL may not carry credentials; use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
  return raw;
}

/**
 * Keys from the given environment when it has them (so the environment a command was given is the
 * one used, also in tests); otherwise undefined and the SDK's default chain finds them (shared
 * credentials file, AWS_PROFILE, SSO, instance roles).
 */
function credentialsFrom(env: Readonly<Record<string, string | undefined>>): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (accessKeyId === undefined || accessKeyId === '' || secretAccessKey === undefined || secretAccessKey === '') return undefined;
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return { accessKeyId, secretAccessKey, ...(sessionToken !== undefined && sessionToken !== '' ? { sessionToken } : {}) };
}

/**
 * Replaces the SDK's retry middleware for one command with a pass-through (same name, step and
 * priority, so the stack's override rule swaps it): that command is sent exactly once.
 */
function sendOnce<C extends { middlewareStack: { add: (...args: never[]) => unknown } }>(command: C): C {
  (command.middlewareStack as unknown as { add: (mw: unknown, options: unknown) => void }).add((next: unknown) => next, {
    name: 'retryMiddleware',
    tags: ['RETRY'],
    step: 'finalizeRequest',
    priority: 'high',
    override: true,
  });
  return command;
}

/** A failure worth another attempt: the network, a timeout, or the far end busy or failing (5xx, 429). */
function transient(err: unknown): boolean {
  const { code, status } = s3ErrorCode(err);
  if (status !== undefined) return status >= 500 || status === 429 || code === 'RequestTimeout' || code === 'SlowDown';
  return vaultError(err, '', '').code === ErrorCodes.VAULT_UNREACHABLE;
}

function md5Base64(body: Uint8Array): string {
  return createHash('md5').update(body).digest('base64');
}

function lockMode(mode: unknown): LockMode | undefined {
  return mode === 'COMPLIANCE' || mode === 'GOVERNANCE' ? mode : undefined;
}

export class VaultClient {
  readonly vault: VaultUrl;
  /** The SDK client, for tests that must do what custody never does (delete, overwrite). */
  readonly s3: S3Client;
  readonly endpoint: string | undefined;
  /** Attempts of one put-once (the SDK's retry does the other calls). */
  private readonly maxAttempts: number;

  constructor(vault: VaultUrl, options: VaultClientOptions) {
    this.vault = vault;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.endpoint = endpointFrom(options);
    const region = options.region ?? options.env['AWS_REGION'] ?? options.env['AWS_DEFAULT_REGION'] ?? (this.endpoint !== undefined ? 'us-east-1' : undefined);
    const credentials = credentialsFrom(options.env);
    this.s3 = new S3Client({
      // We resolved the endpoint from `env` above; the SDK must not pick another one from process.env.
      ignoreConfiguredEndpointUrls: true,
      ...(this.endpoint !== undefined ? { endpoint: this.endpoint, forcePathStyle: true } : {}),
      ...(credentials !== undefined ? { credentials } : {}),
      ...(region !== undefined ? { region } : {}),
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      ...(options.requestTimeoutMs !== undefined
        ? { requestHandler: { connectionTimeout: Math.min(10_000, options.requestTimeoutMs), requestTimeout: options.requestTimeoutMs, throwOnRequestTimeout: true } }
        : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get bucket(): string {
    return this.vault.bucket;
  }

  private where(key?: string): string {
    return key === undefined ? formatVaultUrl({ bucket: this.bucket, prefix: '' }) : `s3://${this.bucket}/${key}`;
  }

  private async call<T>(what: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof CustodyError) throw err;
      throw vaultError(err, what, this.where(key));
    }
  }

  /**
   * Writes `body` under `key` once. Same bytes already there: 'existed' (nothing written). Different
   * bytes there: E_VAULT_OBJECT_EXISTS, and nothing is written.
   */
  async putOnce(key: string, body: Uint8Array, options: PutOnceOptions = {}): Promise<PutOnceResult> {
    if ((options.retainUntil === undefined) !== (options.mode === undefined)) {
      throw new CustodyError(ErrorCodes.USAGE, 'an object lock retention needs both a mode and a retain-until date');
    }
    const md5 = md5Base64(body);
    let ask = options.unsent !== true;
    for (let attempt = 1; ; attempt++) {
      if (ask) {
        if ((await this.headOrUndefined(key)) !== undefined) return this.sameOrRefuse(key, body, md5);
        const listed = await this.listedEtag(key);
        if (listed !== undefined) {
          // The name has a version the HEAD did not see: RGW killed after storing a version but before
          // making it the current one answers 404 to HEAD and GET for a while (checked against a
          // real radosgw), and a PUT would store a second version. The listing's ETag is the MD5 of a
          // single-part PUT's bytes: the same MD5 is the same object; else its bytes are compared.
          if (listed === `"${Buffer.from(md5, 'base64').toString('hex')}"`) return { key, outcome: 'existed', versionId: undefined, md5 };
          return this.sameOrRefuse(key, body, md5);
        }
      }
      try {
        return await this.putOnceAttempt(key, body, md5, options);
      } catch (err) {
        if (err instanceof CustodyError || attempt >= this.maxAttempts || !transient(err)) {
          throw err instanceof CustodyError ? err : vaultError(err, 'put', this.where(key));
        }
        // The failed PUT may have stored its version: the next attempt asks first.
        ask = true;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
      }
    }
  }

  /** One PUT, sent once; a refused conditional write is answered by comparing what is there. */
  private async putOnceAttempt(key: string, body: Uint8Array, md5: string, options: PutOnceOptions): Promise<PutOnceResult> {
    try {
      const r = await this.s3.send(
        sendOnce(new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentMD5: md5,
          ContentLength: body.length,
          IfNoneMatch: '*',
          ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
          ...(options.mode !== undefined ? { ObjectLockMode: options.mode as ObjectLockRetentionMode, ObjectLockRetainUntilDate: options.retainUntil } : {}),
          ...(options.legalHold !== undefined ? { ObjectLockLegalHoldStatus: options.legalHold ? 'ON' : 'OFF' } : {}),
        })),
      );
      return { key, outcome: 'written', versionId: r.VersionId, md5 };
    } catch (err) {
      const { code, status } = s3ErrorCode(err);
      // The name exists (conditional write refused): same rule as a HEAD that found it.
      if (code === 'PreconditionFailed' || status === 412 || code === 'ConditionalRequestConflict') return this.sameOrRefuse(key, body, md5);
      throw err;
    }
  }

  private async sameOrRefuse(key: string, body: Uint8Array, md5: string): Promise<PutOnceResult> {
    const stored = await this.get(key);
    if (Buffer.from(stored.body).equals(Buffer.from(body))) return { key, outcome: 'existed', versionId: stored.versionId, md5 };
    throw new CustodyError(ErrorCodes.VAULT_OBJECT_EXISTS, 'the vault already holds different bytes under this write-once name; nothing was written', { where: this.where(key) });
  }

  /** The ETag of `key` as a listing of its name shows it (one LIST, s3:ListBucket), or undefined when not listed. */
  private async listedEtag(key: string): Promise<string | undefined> {
    const page = await this.listPage(key, { maxKeys: 1 });
    const found = page.objects.find((o) => o.key === key);
    return found === undefined ? undefined : (found.etag ?? '');
  }

  private async headOrUndefined(key: string): Promise<{ versionId: string | undefined } | undefined> {
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { versionId: h.VersionId };
    } catch (err) {
      const { code, status } = s3ErrorCode(err);
      if ((status === 404 || code === 'NotFound' || code === 'NoSuchKey') && code !== 'NoSuchBucket') return undefined;
      if (status === 403) {
        // S3 answers a HEAD of a missing name with 403 to whoever may not list the bucket.
        throw new CustodyError(
          ErrorCodes.VAULT_ACCESS_DENIED,
          'put-once cannot tell whether this name exists: the vault refused the HEAD (HTTP 403); the credentials need s3:GetObject on the name and s3:ListBucket on the bucket (README, least privilege), or are not accepted',
          { where: this.where(key) },
        );
      }
      throw vaultError(err, 'head', this.where(key));
    }
  }

  async get(key: string, versionId?: string): Promise<StoredObject> {
    return this.call('get', key, async () => {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId !== undefined ? { VersionId: versionId } : {}) }));
      const body = r.Body === undefined ? new Uint8Array() : await r.Body.transformToByteArray();
      return {
        key,
        body,
        versionId: r.VersionId,
        lastModified: r.LastModified,
        lockMode: lockMode(r.ObjectLockMode),
        retainUntil: r.ObjectLockRetainUntilDate,
        legalHold: r.ObjectLockLegalHoldStatus === 'ON',
      };
    });
  }

  /** Object Lock state and metadata of one version, without its body. */
  async head(key: string, versionId?: string): Promise<Omit<StoredObject, 'body'> & { size: number }> {
    return this.call('head', key, async () => {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId !== undefined ? { VersionId: versionId } : {}) }));
      return {
        key,
        size: r.ContentLength ?? 0,
        versionId: r.VersionId,
        lastModified: r.LastModified,
        lockMode: lockMode(r.ObjectLockMode),
        retainUntil: r.ObjectLockRetainUntilDate,
        legalHold: r.ObjectLockLegalHoldStatus === 'ON',
      };
    });
  }

  /** One page of names under `prefix` in ascending order; with a delimiter, the "folders" too. */
  async listPage(
    prefix: string,
    options: { delimiter?: string; maxKeys?: number; continuationToken?: string; startAfter?: string } = {},
  ): Promise<{ objects: ListedObject[]; prefixes: string[]; next: string | undefined }> {
    return this.call('list', prefix, async () => {
      const r = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(options.delimiter !== undefined ? { Delimiter: options.delimiter } : {}),
          ...(options.maxKeys !== undefined ? { MaxKeys: options.maxKeys } : {}),
          ...(options.continuationToken !== undefined ? { ContinuationToken: options.continuationToken } : {}),
          ...(options.startAfter !== undefined ? { StartAfter: options.startAfter } : {}),
        }),
      );
      return {
        objects: (r.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified, etag: o.ETag }])),
        prefixes: (r.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [p.Prefix])),
        next: r.IsTruncated === true ? r.NextContinuationToken : undefined,
      };
    });
  }

  /** Every name (and, with a delimiter, every "folder") under `prefix`, page by page. */
  async *list(prefix: string, options: { delimiter?: string } = {}): AsyncGenerator<{ objects: ListedObject[]; prefixes: string[] }> {
    let token: string | undefined;
    do {
      const page = await this.listPage(prefix, { ...options, ...(token !== undefined ? { continuationToken: token } : {}) });
      yield page;
      token = page.next;
    } while (token !== undefined);
  }

  /** Every version and delete marker under `prefix`: a write-once name with more than one is a finding. */
  async listVersions(prefix: string): Promise<ListedVersion[]> {
    return this.call('list versions', prefix, async () => {
      const out: ListedVersion[] = [];
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      for (;;) {
        const r = await this.s3.send(
          new ListObjectVersionsCommand({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
            ...(versionMarker !== undefined ? { VersionIdMarker: versionMarker } : {}),
          }),
        );
        for (const v of r.Versions ?? []) {
          if (v.Key === undefined || v.VersionId === undefined) continue;
          out.push({ key: v.Key, versionId: v.VersionId, isLatest: v.IsLatest === true, deleteMarker: false, size: v.Size ?? 0, lastModified: v.LastModified, etag: v.ETag });
        }
        for (const d of r.DeleteMarkers ?? []) {
          if (d.Key === undefined || d.VersionId === undefined) continue;
          out.push({ key: d.Key, versionId: d.VersionId, isLatest: d.IsLatest === true, deleteMarker: true, size: 0, lastModified: d.LastModified, etag: undefined });
        }
        if (r.IsTruncated !== true) break;
        keyMarker = r.NextKeyMarker;
        versionMarker = r.NextVersionIdMarker;
      }
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0)));
      return out;
    });
  }

  /** Places or lifts an S3 legal hold on one version (the version a case used, never "the latest"). */
  async setLegalHold(key: string, versionId: string, on: boolean): Promise<void> {
    await this.call(on ? 'legal hold on' : 'legal hold off', key, () =>
      this.s3.send(new PutObjectLegalHoldCommand({ Bucket: this.bucket, Key: key, VersionId: versionId, LegalHold: { Status: on ? 'ON' : 'OFF' } })),
    );
  }

  // --- the bucket -------------------------------------------------------------------------------

  /** true when the bucket exists and we may use it; false when it does not exist. */
  async bucketExists(): Promise<boolean> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (err) {
      const { code, status } = s3ErrorCode(err);
      if (status === 404 || code === 'NoSuchBucket' || code === 'NotFound') return false;
      throw vaultError(err, 'head bucket', this.where());
    }
  }

  /** Creates the bucket with Object Lock enabled (which turns versioning on) and the given default retention. */
  async createLockedBucket(rule: { mode: LockMode; days: number }): Promise<void> {
    await this.call('create bucket', undefined, () => this.s3.send(new CreateBucketCommand({ Bucket: this.bucket, ObjectLockEnabledForBucket: true })));
    await this.putDefaultRetention(rule);
  }

  async putDefaultRetention(rule: { mode: LockMode; days: number }): Promise<void> {
    await this.call('put object lock configuration', undefined, () =>
      this.s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: this.bucket,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: rule.mode, Days: rule.days } } },
        }),
      ),
    );
  }

  /** Versioning, Object Lock and the default retention rule, as the bucket reports them. */
  async lockConfiguration(): Promise<LockConfiguration> {
    const versioning = await this.call('get bucket versioning', undefined, () => this.s3.send(new GetBucketVersioningCommand({ Bucket: this.bucket })));
    let objectLock = false;
    let defaultRule: LockConfiguration['defaultRule'];
    try {
      const r = await this.s3.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
      objectLock = r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
      const d = r.ObjectLockConfiguration?.Rule?.DefaultRetention;
      const mode = lockMode(d?.Mode);
      if (d !== undefined && mode !== undefined) {
        defaultRule = { mode, ...(d.Days !== undefined ? { days: d.Days } : {}), ...(d.Years !== undefined ? { years: d.Years } : {}) };
      }
    } catch (err) {
      const { code, status } = s3ErrorCode(err);
      // No lock configuration: AWS says ObjectLockConfigurationNotFoundError (404), RGW 404 or InvalidBucketState.
      if (!(code === 'ObjectLockConfigurationNotFoundError' || code === 'InvalidBucketState' || status === 404)) throw vaultError(err, 'get object lock configuration', this.where());
    }
    const status = versioning.Status;
    return { versioning: status === 'Enabled' ? 'Enabled' : status === 'Suspended' ? 'Suspended' : 'Off', objectLock, defaultRule };
  }

  destroy(): void {
    this.s3.destroy();
  }
}
