/**
 * RFC 3161 trusted time stamps: building requests, reading responses and tokens, and verifying
 * tokens against a pinned TSA CA. Pure: no file system, no network, no clock. The HTTP side is
 * src/net/tsa-http.ts.
 *
 * What a successful verifyTimeStampToken proves, and how:
 *  - the token's messageImprint is the hash of exactly `data` (compared here, explicitly);
 *  - the CMS signature over the signed attributes is valid and the messageDigest attribute is the
 *    hash of the TSTInfo that was read (pkijs SignedData.verify);
 *  - the signer certificate chains to one of the caller's trusted CA certificates, with every
 *    certificate in the path valid at the token's genTime (pkijs, checkChain: true; pkijs uses
 *    genTime as the check date for TSTInfo content, so no local clock is involved and a TSA
 *    certificate that expired after stamping does not invalidate old tokens);
 *  - the signer certificate has a critical extendedKeyUsage of exactly id-kp-timeStamping, and the
 *    ESS signing-certificate attribute names that very certificate (RFC 3161 section 2.4.1, RFC 5816),
 *    the same checks `openssl ts -verify` makes;
 *  - there is exactly one signer and the signed content-type attribute is id-ct-TSTInfo.
 * Revocation is not checked (no CRLs/OCSP are fetched: that would be I/O).
 */
import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// pkijs crypto engine: Node's WebCrypto, set explicitly (pkijs would otherwise guess from `self`).

const ENGINE_NAME = 'node-webcrypto';
const cryptoEngine = new pkijs.CryptoEngine({
  name: ENGINE_NAME,
  crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'],
});
pkijs.setEngine(ENGINE_NAME, cryptoEngine);

// ---------------------------------------------------------------------------------------------
// Object identifiers

const OID_SHA1 = '1.3.14.3.2.26';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CT_TSTINFO = '1.2.840.113549.1.9.16.1.4';
const OID_ATTR_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_ATTR_SIGNING_CERTIFICATE = '1.2.840.113549.1.9.16.2.12';
const OID_ATTR_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_KP_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
const OID_DATA = '1.2.840.113549.1.7.1';

/** Hashes accepted in a token's messageImprint (SHA-1 is not: it no longer binds data). */
const IMPRINT_HASHES: ReadonlyMap<string, { node: string; name: string }> = new Map([
  [OID_SHA256, { node: 'sha256', name: 'SHA-256' }],
  [OID_SHA384, { node: 'sha384', name: 'SHA-384' }],
  [OID_SHA512, { node: 'sha512', name: 'SHA-512' }],
]);
/** Hashes that may appear in an ESS signing-certificate attribute (this only identifies a cert). */
const ESS_HASHES: ReadonlyMap<string, string> = new Map([
  [OID_SHA1, 'sha1'],
  [OID_SHA256, 'sha256'],
  [OID_SHA384, 'sha384'],
  [OID_SHA512, 'sha512'],
]);

const MAX_NONCE_BYTES = 64;

// ---------------------------------------------------------------------------------------------
// Public types

export interface TimeStampRequestOptions {
  /** Nonce bytes (unsigned big-endian, 1..64 bytes). Without it the request carries no nonce. */
  nonce?: Uint8Array;
  /** Ask the TSA to include its certificate in the token. Default true. */
  certReq?: boolean;
  /** reqPolicy OID, e.g. "1.2.3.4.1". */
  policyOid?: string;
}

export interface TimeStampInfo {
  /** ISO 8601 UTC, millisecond precision (e.g. 2026-01-27T10:11:12.000Z). */
  genTime: string;
  /** Serial number, lowercase hex without sign padding ("-" prefix if negative). */
  serialNumber: string;
  policy: string;
  /** OID of the messageImprint hash algorithm. */
  hashAlgorithm: string;
  messageImprint: Uint8Array;
  /** The nonce as unsigned big-endian bytes without leading zero bytes. */
  nonce?: Uint8Array;
  /** The TSTInfo `tsa` GeneralName, as text (a directoryName in RFC 4514 form). */
  tsaName?: string;
  accuracyMicros?: number;
}

export type TsaTokenProblem =
  | 'malformed'
  | 'imprint_mismatch'
  | 'bad_signature'
  | 'untrusted_chain'
  | 'no_trust_anchor'
  | 'not_timestamping_cert';

export interface TsaTokenVerification {
  ok: boolean;
  info?: TimeStampInfo;
  problem?: TsaTokenProblem;
  detail?: string;
  signerSubject?: string;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function invalidResponse(message: string, cause?: unknown): CustodyError {
  return new CustodyError(ErrorCodes.TSA_RESPONSE_INVALID, message, cause === undefined ? undefined : { cause });
}

/** An exact-size ArrayBuffer copy (pkijs and asn1js want ArrayBuffers, not views into pools). */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function hashBytes(nodeAlgorithm: string, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(nodeAlgorithm).update(data).digest());
}

function unsignedToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`);
}

function bigIntToUnsignedBytes(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** BER/DER decode that insists on one complete element and no trailing bytes. */
function decodeAsn1(bytes: Uint8Array, what: string): asn1js.AsnType {
  if (bytes.length === 0) throw invalidResponse(`${what} is empty`);
  const decoded = asn1js.fromBER(toArrayBuffer(bytes));
  if (decoded.offset === -1 || decoded.result.error) {
    throw invalidResponse(`${what} is not valid ASN.1: ${decoded.result.error || 'cannot decode'}`);
  }
  if (decoded.offset !== bytes.length) {
    throw invalidResponse(`${what} has ${bytes.length - decoded.offset} trailing byte(s) after the ASN.1 value`);
  }
  return decoded.result;
}

const RDN_SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'street'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
]);

function escapeRdnValue(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}

/** RFC 4514 string form (most specific RDN first), e.g. "CN=Example TSA,O=Example". */
function nameToString(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const key = RDN_SHORT_NAMES.get(tv.type) ?? tv.type;
      const raw: unknown = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      const value = typeof raw === 'string' ? raw : `#${toHex(new Uint8Array(tv.value.toBER()))}`;
      return `${key}=${escapeRdnValue(value)}`;
    })
    .reverse()
    .join(',');
}

function generalNameToString(gn: pkijs.GeneralName): string {
  switch (gn.type) {
    case 1: // rfc822Name
    case 2: // dNSName
    case 6: // uniformResourceIdentifier
      return String((gn.value as { valueBlock?: { value?: unknown } })?.valueBlock?.value ?? gn.value);
    case 4: // directoryName
      return gn.value instanceof pkijs.RelativeDistinguishedNames ? nameToString(gn.value) : '[directoryName]';
    default:
      return `[GeneralName type ${gn.type}]`;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

function nonceToInteger(nonce: Uint8Array): asn1js.Integer {
  if (nonce.length === 0 || nonce.length > MAX_NONCE_BYTES) {
    throw new CustodyError(ErrorCodes.USAGE, `a time-stamp nonce must be 1..${MAX_NONCE_BYTES} bytes, got ${nonce.length}`);
  }
  // Integer.fromBigInt writes minimal two's complement, so a nonce with its top bit set stays positive.
  return asn1js.Integer.fromBigInt(unsignedToBigInt(nonce));
}

const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** DER TimeStampReq over SHA-256(data). Returns the DER and the nonce used (none unless given). */
export function buildTimeStampRequest(
  data: Uint8Array,
  options: TimeStampRequestOptions = {},
): { der: Uint8Array; nonce: Uint8Array | undefined } {
  const { nonce, certReq = true, policyOid } = options;
  if (policyOid !== undefined && !OID_PATTERN.test(policyOid)) {
    throw new CustodyError(ErrorCodes.USAGE, `not an object identifier: ${JSON.stringify(policyOid)}`);
  }
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      // NULL parameters, as `openssl ts -query` sends them; TSAs accept both forms.
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256, algorithmParams: new asn1js.Null() }),
      hashedMessage: new asn1js.OctetString({ valueHex: toArrayBuffer(hashBytes('sha256', data)) }),
    }),
    ...(policyOid !== undefined ? { reqPolicy: policyOid } : {}),
    ...(nonce !== undefined ? { nonce: nonceToInteger(nonce) } : {}),
    // certReq is DEFAULT FALSE: DER leaves it out unless true.
    ...(certReq ? { certReq: true } : {}),
  });
  const der = new Uint8Array(request.toSchema().toBER());
  return { der, nonce: nonce === undefined ? undefined : new Uint8Array(nonce) };
}

// ---------------------------------------------------------------------------------------------
// Responses

const PKI_STATUS_NAMES = ['granted', 'grantedWithMods', 'rejection', 'waiting', 'revocationWarning', 'revocationNotification'];

const PKI_FAILURE_INFO_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'badAlg (unrecognized or unsupported algorithm)'],
  [2, 'badRequest (transaction not permitted or supported)'],
  [5, 'badDataFormat (the data submitted has the wrong format)'],
  [14, "timeNotAvailable (the TSA's time source is not available)"],
  [15, 'unacceptedPolicy (the requested TSA policy is not supported)'],
  [16, 'unacceptedExtension (the requested extension is not supported)'],
  [17, 'addInfoNotAvailable (the additional information requested is not available)'],
  [25, 'systemFailure (the request cannot be handled due to system failure)'],
]);

function failInfoText(failInfo: asn1js.BitString | undefined): string | undefined {
  if (!failInfo) return undefined;
  const bytes = failInfo.valueBlock.valueHexView;
  const unused = failInfo.valueBlock.unusedBits;
  const names: string[] = [];
  for (let bit = 0; bit < bytes.length * 8 - unused; bit++) {
    const byte = bytes[bit >> 3] ?? 0;
    if ((byte >> (7 - (bit & 7))) & 1) names.push(PKI_FAILURE_INFO_NAMES.get(bit) ?? `bit ${bit}`);
  }
  return names.length > 0 ? names.join(', ') : undefined;
}

function statusText(statusInfo: pkijs.PKIStatusInfo): string {
  const status = statusInfo.status as number;
  const parts = [`status ${PKI_STATUS_NAMES[status] ?? 'unknown'} (${status})`];
  const fail = failInfoText(statusInfo.failInfo);
  if (fail) parts.push(`failInfo ${fail}`);
  const texts = (statusInfo.statusStrings ?? []).map((s) => s.valueBlock.value).filter((s) => s.length > 0);
  if (texts.length > 0) parts.push(`statusString ${JSON.stringify(texts.join('; '))}`);
  return parts.join(', ');
}

/**
 * Parses a DER TimeStampResp; throws E_TSA_RESPONSE_INVALID (naming the PKIStatus and failInfo) if
 * the status is not granted/grantedWithMods or the response is malformed. Returns the token's DER
 * exactly as the TSA sent it. With `expect.nonce` the token's nonce must equal it; with
 * `expect.data` the messageImprint must be SHA-256(data).
 */
export function parseTimeStampResponse(
  der: Uint8Array,
  expect: { data?: Uint8Array; nonce?: Uint8Array } = {},
): { tokenDer: Uint8Array; info: TimeStampInfo } {
  const asn = decodeAsn1(der, 'time-stamp response');
  let response: pkijs.TimeStampResp;
  try {
    response = new pkijs.TimeStampResp({ schema: asn });
  } catch (err) {
    throw invalidResponse(`time-stamp response is not a TimeStampResp: ${messageOf(err)}`, err);
  }
  const status = response.status.status as number;
  if (status !== pkijs.PKIStatus.granted && status !== pkijs.PKIStatus.grantedWithMods) {
    throw invalidResponse(`the TSA did not grant the time stamp: ${statusText(response.status)}`);
  }
  if (!response.timeStampToken) {
    throw invalidResponse(`the TSA granted the time stamp (${statusText(response.status)}) but sent no token`);
  }
  // The token's own bytes, not a re-encoding: TimeStampResp ::= SEQUENCE { status, timeStampToken }.
  const outer = asn as asn1js.Sequence;
  const tokenBlock = outer.valueBlock.value[1];
  if (!tokenBlock) throw invalidResponse('time-stamp response has no token element');
  const tokenDer = new Uint8Array(tokenBlock.valueBeforeDecodeView);
  const info = readTimeStampToken(tokenDer);

  if (expect.nonce !== undefined) {
    if (info.nonce === undefined) {
      throw invalidResponse('the time-stamp token carries no nonce although the request had one');
    }
    if (unsignedToBigInt(info.nonce) !== unsignedToBigInt(expect.nonce)) {
      throw invalidResponse(
        `the time-stamp token's nonce ${toHex(info.nonce)} is not the request's nonce ${toHex(expect.nonce)} (a replayed or mixed-up response)`,
      );
    }
  }
  if (expect.data !== undefined) {
    if (info.hashAlgorithm !== OID_SHA256) {
      throw invalidResponse(`the time-stamp token's messageImprint uses ${info.hashAlgorithm}, not SHA-256 as requested`);
    }
    const expected = hashBytes('sha256', expect.data);
    if (!bytesEqual(info.messageImprint, expected)) {
      throw invalidResponse(
        `the time-stamp token is for other data: messageImprint ${toHex(info.messageImprint)}, expected SHA-256 ${toHex(expected)}`,
      );
    }
  }
  return { tokenDer, info };
}

// ---------------------------------------------------------------------------------------------
// Tokens

interface ParsedToken {
  signedData: pkijs.SignedData;
  tstInfo: pkijs.TSTInfo;
  info: TimeStampInfo;
  /** The certificates field's elements, as raw DER, index-aligned with signedData.certificates. */
  rawCertificates: Uint8Array[];
}

function parseToken(tokenDer: Uint8Array): ParsedToken {
  const asn = decodeAsn1(tokenDer, 'time-stamp token');
  let contentInfo: pkijs.ContentInfo;
  try {
    contentInfo = new pkijs.ContentInfo({ schema: asn });
  } catch (err) {
    throw invalidResponse(`time-stamp token is not a CMS ContentInfo: ${messageOf(err)}`, err);
  }
  if (contentInfo.contentType !== OID_SIGNED_DATA) {
    throw invalidResponse(`time-stamp token is CMS content ${contentInfo.contentType}, not SignedData`);
  }
  let signedData: pkijs.SignedData;
  try {
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (err) {
    throw invalidResponse(`time-stamp token's SignedData is malformed: ${messageOf(err)}`, err);
  }
  const eci = signedData.encapContentInfo;
  if (eci.eContentType !== OID_CT_TSTINFO) {
    throw invalidResponse(`time-stamp token encapsulates ${eci.eContentType}, not id-ct-TSTInfo`);
  }
  const eContent = eci.eContent;
  if (!eContent || !(eContent instanceof asn1js.OctetString)) {
    throw invalidResponse('time-stamp token has no encapsulated TSTInfo');
  }
  if (eContent.idBlock.isConstructed) {
    // DER never uses constructed OCTET STRINGs, and pkijs verifies only the primitive form.
    throw invalidResponse('time-stamp token encapsulates its TSTInfo in a constructed (BER) OCTET STRING');
  }
  const tstInfoDer = new Uint8Array(eContent.valueBlock.valueHexView);
  const tstAsn = decodeAsn1(tstInfoDer, 'TSTInfo');
  let tstInfo: pkijs.TSTInfo;
  try {
    tstInfo = new pkijs.TSTInfo({ schema: tstAsn });
  } catch (err) {
    throw invalidResponse(`time-stamp token's TSTInfo is malformed: ${messageOf(err)}`, err);
  }
  if (tstInfo.version !== 1) throw invalidResponse(`TSTInfo version is ${tstInfo.version}, expected 1`);
  const genTimeMs = tstInfo.genTime instanceof Date ? tstInfo.genTime.getTime() : Number.NaN;
  if (!Number.isFinite(genTimeMs)) throw invalidResponse('TSTInfo genTime is not a valid time');

  const info: TimeStampInfo = {
    genTime: new Date(genTimeMs).toISOString(),
    serialNumber: tstInfo.serialNumber.toBigInt().toString(16),
    policy: tstInfo.policy,
    hashAlgorithm: tstInfo.messageImprint.hashAlgorithm.algorithmId,
    messageImprint: new Uint8Array(tstInfo.messageImprint.hashedMessage.valueBlock.valueHexView),
  };
  if (tstInfo.nonce) {
    const nonce = tstInfo.nonce.toBigInt();
    if (nonce < 0n) throw invalidResponse('TSTInfo nonce is negative');
    info.nonce = bigIntToUnsignedBytes(nonce);
  }
  if (tstInfo.tsa) info.tsaName = generalNameToString(tstInfo.tsa);
  if (tstInfo.accuracy) {
    const { seconds = 0, millis = 0, micros = 0 } = tstInfo.accuracy;
    info.accuracyMicros = seconds * 1_000_000 + millis * 1_000 + micros;
  }

  // Raw certificate bytes, for the ESS signing-certificate hash (a re-encoding could differ).
  const rawCertificates: Uint8Array[] = [];
  const sdSeq = contentInfo.content as asn1js.Sequence;
  for (const element of sdSeq.valueBlock.value) {
    if (element.idBlock.tagClass === 3 && element.idBlock.tagNumber === 0) {
      for (const cert of (element as asn1js.Constructed).valueBlock.value) {
        rawCertificates.push(new Uint8Array(cert.valueBeforeDecodeView));
      }
    }
  }
  return { signedData, tstInfo, info, rawCertificates };
}

/** Reads a token's TSTInfo without verifying anything. Throws E_TSA_RESPONSE_INVALID on malformed. */
export function readTimeStampToken(tokenDer: Uint8Array): TimeStampInfo {
  return parseToken(tokenDer).info;
}

/** PEM or DER certificate(s) -> a list of DER certificates. Throws E_KEY_INVALID on anything else. */
export function certificatesFromPemOrDer(input: Uint8Array): Uint8Array[] {
  const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  const ders: Uint8Array[] = [];
  if (text.includes('-----BEGIN')) {
    const pem = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;
    for (const match of text.matchAll(pem)) {
      const body = (match[1] ?? '').replace(/[\r\n\t ]/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0 || body.length === 0) {
        throw new CustodyError(ErrorCodes.KEY_INVALID, `certificate PEM block ${ders.length + 1} is not valid base64`);
      }
      ders.push(new Uint8Array(Buffer.from(body, 'base64')));
    }
    if (ders.length === 0) {
      throw new CustodyError(ErrorCodes.KEY_INVALID, 'PEM text contains no "-----BEGIN CERTIFICATE-----" block');
    }
  } else {
    // One DER certificate, or several concatenated.
    let offset = 0;
    while (offset < input.length) {
      const rest = input.subarray(offset);
      const decoded = asn1js.fromBER(toArrayBuffer(rest));
      if (decoded.offset === -1 || decoded.result.error || decoded.offset === 0) {
        throw new CustodyError(ErrorCodes.KEY_INVALID, `not a PEM or DER certificate (cannot decode ASN.1 at byte ${offset})`);
      }
      ders.push(new Uint8Array(rest.subarray(0, decoded.offset)));
      offset += decoded.offset;
    }
    if (ders.length === 0) throw new CustodyError(ErrorCodes.KEY_INVALID, 'certificate input is empty');
  }
  ders.forEach((der, i) => {
    try {
      pkijs.Certificate.fromBER(toArrayBuffer(der));
    } catch (err) {
      throw new CustodyError(ErrorCodes.KEY_INVALID, `certificate ${i + 1} is not an X.509 certificate: ${messageOf(err)}`, {
        cause: err,
      });
    }
  });
  return ders;
}

function fail(problem: TsaTokenProblem, detail: string, extra: Partial<TsaTokenVerification> = {}): TsaTokenVerification {
  return { ok: false, problem, detail, ...extra };
}

/** Maps a pkijs SignedDataVerifyError code to our problem names. */
function problemForPkijsCode(code: number): TsaTokenProblem {
  switch (code) {
    case 1: // no signer at that index
    case 8: // no content
    case 9: // no content-type attribute
    case 10: // no message-digest attribute
      return 'malformed';
    case 2: // no certificates in the token (requested without certReq)
    case 3: // signer certificate not among the token's certificates
    case 5: // chain validation failed
      return 'untrusted_chain';
    default: // 7 unsupported algorithm, 15 digest mismatch / crypto failure, ...
      return 'bad_signature';
  }
}

/** The ESS signing-certificate(-v2) attribute must name the signer certificate (hash of its DER). */
function checkEssSigningCertificate(signerInfo: pkijs.SignerInfo, signerCertDer: Uint8Array): string | undefined {
  const attributes = signerInfo.signedAttrs?.attributes ?? [];
  const v2 = attributes.find((a) => a.type === OID_ATTR_SIGNING_CERTIFICATE_V2);
  const v1 = attributes.find((a) => a.type === OID_ATTR_SIGNING_CERTIFICATE);
  const attribute = v2 ?? v1;
  if (!attribute) {
    return 'the signer has no ESS signing-certificate attribute (RFC 3161 requires one)';
  }
  try {
    const signingCertificate = attribute.values[0] as asn1js.Sequence;
    const certs = signingCertificate.valueBlock.value[0] as asn1js.Sequence;
    const first = certs.valueBlock.value[0] as asn1js.Sequence;
    const parts = first.valueBlock.value;
    let hashOid = v2 ? OID_SHA256 : OID_SHA1; // ESSCertIDv2 hashAlgorithm DEFAULT sha256; ESSCertID is SHA-1
    let hashIndex = 0;
    if (v2 && parts[0] instanceof asn1js.Sequence) {
      hashOid = new pkijs.AlgorithmIdentifier({ schema: parts[0] }).algorithmId;
      hashIndex = 1;
    }
    const certHash = parts[hashIndex];
    if (!(certHash instanceof asn1js.OctetString)) return 'the ESS signing-certificate attribute is malformed';
    const nodeHash = ESS_HASHES.get(hashOid);
    if (!nodeHash) return `the ESS signing-certificate attribute uses unsupported hash ${hashOid}`;
    if (!bytesEqual(new Uint8Array(certHash.valueBlock.valueHexView), hashBytes(nodeHash, signerCertDer))) {
      return 'the ESS signing-certificate attribute names a different certificate than the one that signed';
    }
    return undefined;
  } catch (err) {
    return `the ESS signing-certificate attribute is malformed: ${messageOf(err)}`;
  }
}

/** RFC 3161 2.3: the TSA certificate has one critical extendedKeyUsage: id-kp-timeStamping. */
function checkTimeStampingEku(cert: pkijs.Certificate): string | undefined {
  const ekus = (cert.extensions ?? []).filter((e) => e.extnID === OID_EXT_KEY_USAGE);
  if (ekus.length === 0) return 'the signer certificate has no extendedKeyUsage extension (needs id-kp-timeStamping)';
  if (ekus.length > 1) return 'the signer certificate has more than one extendedKeyUsage extension';
  const eku = ekus[0] as pkijs.Extension;
  const parsed = eku.parsedValue;
  const purposes = parsed instanceof pkijs.ExtKeyUsage ? parsed.keyPurposes : undefined;
  if (!purposes || !purposes.includes(OID_KP_TIME_STAMPING)) {
    return `the signer certificate's extendedKeyUsage (${(purposes ?? []).join(', ') || 'unreadable'}) does not include id-kp-timeStamping`;
  }
  if (purposes.length !== 1) {
    return `the signer certificate's extendedKeyUsage must be id-kp-timeStamping only, has ${purposes.join(', ')}`;
  }
  if (!eku.critical) return "the signer certificate's extendedKeyUsage extension is not critical";
  return undefined;
}

/**
 * Verifies a token over `data` against pinned trust anchors. Never throws on a bad token: the
 * result says what is wrong. An empty trust list gives problem 'no_trust_anchor'.
 */
export async function verifyTimeStampToken(
  tokenDer: Uint8Array,
  data: Uint8Array,
  trustedCaDer: readonly Uint8Array[],
): Promise<TsaTokenVerification> {
  try {
    return await verifyTokenUnguarded(tokenDer, data, trustedCaDer);
  } catch (err) {
    // pkijs can throw from odd places on hostile input; a bad token is a result, never an exception.
    return fail('malformed', `the token could not be examined: ${messageOf(err)}`);
  }
}

async function verifyTokenUnguarded(
  tokenDer: Uint8Array,
  data: Uint8Array,
  trustedCaDer: readonly Uint8Array[],
): Promise<TsaTokenVerification> {
  let parsed: ParsedToken;
  try {
    parsed = parseToken(tokenDer);
  } catch (err) {
    return fail('malformed', messageOf(err));
  }
  const { signedData, info, rawCertificates } = parsed;

  // 1. The imprint, compared here rather than trusted to the library.
  const imprintHash = IMPRINT_HASHES.get(info.hashAlgorithm);
  if (!imprintHash) {
    return fail('imprint_mismatch', `messageImprint uses hash ${info.hashAlgorithm}; only SHA-256/384/512 are accepted`, { info });
  }
  const expected = hashBytes(imprintHash.node, data);
  if (!bytesEqual(info.messageImprint, expected)) {
    return fail(
      'imprint_mismatch',
      `the token stamps ${imprintHash.name} ${toHex(info.messageImprint)}, but the data hashes to ${toHex(expected)}`,
      { info },
    );
  }

  // 2. Trust anchors.
  if (trustedCaDer.length === 0) {
    return fail('no_trust_anchor', 'no trusted TSA CA certificate was given; a token verified without one proves nothing', {
      info,
    });
  }
  const trustedCerts: pkijs.Certificate[] = [];
  for (const [i, der] of trustedCaDer.entries()) {
    try {
      decodeAsn1(der, `trusted certificate ${i + 1}`);
      trustedCerts.push(pkijs.Certificate.fromBER(toArrayBuffer(der)));
    } catch (err) {
      return fail('no_trust_anchor', `trusted certificate ${i + 1} cannot be read: ${messageOf(err)}`, { info });
    }
  }

  // 3. Structure RFC 3161 requires of the signature.
  if (signedData.signerInfos.length !== 1) {
    return fail('malformed', `a time-stamp token has exactly one signer, this one has ${signedData.signerInfos.length}`, { info });
  }
  const signerInfo = signedData.signerInfos[0] as pkijs.SignerInfo;
  if (!signerInfo.signedAttrs) return fail('malformed', 'the signer has no signed attributes', { info });
  const contentTypeAttr = signerInfo.signedAttrs.attributes.find((a) => a.type === OID_ATTR_CONTENT_TYPE);
  const signedContentType: unknown = contentTypeAttr?.values[0];
  if (!(signedContentType instanceof asn1js.ObjectIdentifier) || signedContentType.valueBlock.toString() !== OID_CT_TSTINFO) {
    return fail('bad_signature', 'the signed content-type attribute is not id-ct-TSTInfo', { info });
  }

  // 4. CMS signature and chain (pkijs). pkijs re-checks the imprint for TSTInfo content and cannot
  //    take zero-length detached data; for that one case the imprint was checked above, so verify the
  //    same signature as plain content with the check date pkijs would have used (genTime).
  const genTime = new Date(info.genTime);
  let verifyTarget = signedData;
  if (data.length === 0) {
    verifyTarget = parseToken(tokenDer).signedData; // a fresh copy: parsing succeeded above
    verifyTarget.encapContentInfo.eContentType = OID_DATA;
  }
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await verifyTarget.verify(
      {
        signer: 0,
        data: toArrayBuffer(data),
        trustedCerts,
        checkChain: true,
        checkDate: genTime,
        extendedMode: true,
      },
      cryptoEngine,
    );
  } catch (err) {
    const code = typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
    const signer = (err as { signerCertificate?: pkijs.Certificate | null }).signerCertificate ?? undefined;
    return fail(problemForPkijsCode(code), messageOf(err), {
      info,
      ...(signer ? { signerSubject: nameToString(signer.subject) } : {}),
    });
  }
  const signerCert = result.signerCertificate ?? undefined;
  const signerSubject = signerCert ? nameToString(signerCert.subject) : undefined;
  const withSigner = { info, ...(signerSubject !== undefined ? { signerSubject } : {}) };
  if (result.signatureVerified !== true) {
    return fail('bad_signature', 'the CMS signature does not verify with the signer certificate', withSigner);
  }
  if (!signerCert) return fail('untrusted_chain', 'the signer certificate was not identified', withSigner);

  // 5. The signer is a time-stamping certificate, and the one the signed attributes name.
  const ekuProblem = checkTimeStampingEku(signerCert);
  if (ekuProblem) return fail('not_timestamping_cert', ekuProblem, withSigner);
  const rawSignerDer = rawCertificates.find((raw) => {
    try {
      const cert = pkijs.Certificate.fromBER(toArrayBuffer(raw));
      return bytesEqual(new Uint8Array(cert.tbsView), new Uint8Array(signerCert.tbsView));
    } catch {
      return false; // an OtherCertificateFormat or attribute certificate, not the signer
    }
  });
  if (!rawSignerDer) return fail('untrusted_chain', 'the signer certificate is not among the token certificates', withSigner);
  const essProblem = checkEssSigningCertificate(signerInfo, rawSignerDer);
  if (essProblem) return fail('bad_signature', essProblem, withSigner);

  return { ok: true, info, ...(signerSubject !== undefined ? { signerSubject } : {}) };
}
