/**
 * RFC 3161 over HTTP (RFC 3161 section 3.4): POST a TimeStampReq as application/timestamp-query,
 * read an application/timestamp-reply. All parsing and checking is src/integrity/tsa.ts; this file
 * only moves bytes and turns transport failures into E_TSA_UNREACHABLE.
 */
import { randomBytes } from 'node:crypto';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { buildTimeStampRequest, parseTimeStampResponse, type TimeStampInfo } from '../integrity/tsa.js';

/** Default for the whole exchange (connect, send, receive the body). Public TSAs answer in well under this. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** A time-stamp reply is a few KiB; anything this large is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const NONCE_BYTES = 16;
/** RFC 3161's type, and the older name some TSAs still send. */
const REPLY_CONTENT_TYPES = new Set(['application/timestamp-reply', 'application/timestamp-response']);

/** The URL for messages, without any password it may carry. */
function displayUrl(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

function unreachable(shownUrl: string, what: string, cause?: unknown): CustodyError {
  return new CustodyError(ErrorCodes.TSA_UNREACHABLE, `time-stamp authority ${shownUrl}: ${what}`, {
    where: shownUrl,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The cause of a fetch failure in words: undici hides the socket error in err.cause. */
function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no complete answer within ${timeoutMs} ms (timed out)`;
  }
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return `${messageOf(err)}: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`.trim();
  }
  return messageOf(err);
}

async function readBodyCapped(response: Response, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Asks the TSA at `url` to time-stamp SHA-256(data), with a fresh random nonce, and checks the reply
 * (status granted, imprint and nonce as sent). The token is not verified against a trust anchor
 * here: that is verifyTimeStampToken's job, with the examiner's pinned CA.
 */
export async function requestTimeStamp(
  url: string,
  data: Uint8Array,
  opts: { timeoutMs?: number; fetchImpl?: typeof fetch } = {},
): Promise<{ tokenDer: Uint8Array; info: TimeStampInfo }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchImpl = opts.fetchImpl ?? fetch;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new CustodyError(ErrorCodes.USAGE, `TSA timeout must be a positive number of milliseconds, got ${timeoutMs}`);
  }
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch (err) {
    throw new CustodyError(ErrorCodes.USAGE, `not a valid TSA URL: ${JSON.stringify(url)}`, { cause: err });
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
    throw new CustodyError(ErrorCodes.USAGE, `a TSA URL must be http: or https:, got ${parsedUrl.protocol}`, {
      where: displayUrl(parsedUrl),
    });
  }
  const shown = displayUrl(parsedUrl);

  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const request = buildTimeStampRequest(data, { nonce, certReq: true });

  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  let body: Uint8Array | undefined;
  try {
    response = await fetchImpl(parsedUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
      body: request.der,
      // Redirects are followed: nothing is trusted because of where the reply came from, the token
      // is checked against the request here and against the pinned CA by verifyTimeStampToken.
      signal,
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw unreachable(shown, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    body = await readBodyCapped(response, MAX_RESPONSE_BYTES);
  } catch (err) {
    if (err instanceof CustodyError) throw err;
    throw unreachable(shown, describeFetchError(err, timeoutMs), err);
  }
  if (body === undefined) {
    throw new CustodyError(ErrorCodes.TSA_RESPONSE_INVALID, `time-stamp authority ${shown}: reply is larger than ${MAX_RESPONSE_BYTES} bytes`, {
      where: shown,
    });
  }
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!REPLY_CONTENT_TYPES.has(contentType)) {
    throw new CustodyError(
      ErrorCodes.TSA_RESPONSE_INVALID,
      `time-stamp authority ${shown}: reply has content type ${JSON.stringify(contentType || '(none)')}, expected application/timestamp-reply`,
      { where: shown },
    );
  }
  try {
    return parseTimeStampResponse(body, { data, nonce });
  } catch (err) {
    if (err instanceof CustodyError) {
      throw new CustodyError(err.code, `time-stamp authority ${shown}: ${err.message}`, { where: shown, cause: err });
    }
    throw err;
  }
}
