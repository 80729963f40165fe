/**
 * RFC 3161 time stamps against a real TSA (`openssl ts -reply` behind HTTP on 127.0.0.1), with
 * `openssl ts -verify` as an independent second opinion on the tokens.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import {
  buildTimeStampRequest,
  certificatesFromPemOrDer,
  parseTimeStampResponse,
  readTimeStampToken,
  verifyTimeStampToken,
} from '../../src/integrity/tsa.js';
import { requestTimeStamp } from '../../src/net/tsa-http.js';
import {
  closedLocalPort,
  makeUnrelatedCa,
  runOpenssl,
  startTestTsa,
  TEST_CA_SUBJECT,
  TEST_TSA_OTHER_POLICIES,
  TEST_TSA_POLICY,
  type TestTsa,
} from '../helpers/tsa-server.js';

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_CT_TSTINFO = '1.2.840.113549.1.9.16.1.4';

const enc = new TextEncoder();
const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(data).digest());

let tsa: TestTsa;
let work: string;
let caDer: Uint8Array[];
let fileCounter = 0;

async function writeTemp(name: string, bytes: Uint8Array | string): Promise<string> {
  fileCounter += 1;
  const file = path.join(work, `${fileCounter}-${name}`);
  await writeFile(file, bytes);
  return file;
}

/** Catches the CustodyError an async call throws (failing the test if it does not throw one). */
async function custodyErrorOf(promise: Promise<unknown>): Promise<CustodyError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CustodyError);
    return err as CustodyError;
  }
  throw new Error('expected a CustodyError, nothing was thrown');
}

function custodyErrorOfSync(fn: () => unknown): CustodyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CustodyError);
    return err as CustodyError;
  }
  throw new Error('expected a CustodyError, nothing was thrown');
}

/** A token made by the openssl CLI alone: query and reply files, no custody code involved. */
async function opensslToken(data: Uint8Array, queryArgs: string[]): Promise<{ tokenDer: Uint8Array; replyDer: Uint8Array }> {
  const dataFile = await writeTemp('data.bin', data);
  const queryFile = await writeTemp('q.tsq', '');
  const replyFile = await writeTemp('r.tsr', '');
  const tokenFile = await writeTemp('t.der', '');
  await runOpenssl(['ts', '-query', '-data', dataFile, ...queryArgs, '-out', queryFile]);
  const reply = ['ts', '-reply', '-config', tsa.configPath, '-section', 'tsa_config1', '-queryfile', queryFile];
  await runOpenssl([...reply, '-out', replyFile]);
  await runOpenssl(['ts', '-reply', '-config', tsa.configPath, '-in', replyFile, '-token_out', '-out', tokenFile]);
  return { tokenDer: new Uint8Array(await readFile(tokenFile)), replyDer: new Uint8Array(await readFile(replyFile)) };
}

async function postQuery(url: string, der: Uint8Array): Promise<Uint8Array> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: der });
  expect(response.status).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

/** Byte ranges of a token's signed parts: the TSTInfo, the signed attributes and the signature. */
function signedRegions(tokenDer: Uint8Array): { name: string; start: number; end: number }[] {
  const find = (needle: Uint8Array): number => Buffer.from(tokenDer).indexOf(Buffer.from(needle));
  const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(tokenDer).buffer);
  const signedData = new pkijs.SignedData({ schema: contentInfo.content });
  const signerInfo = signedData.signerInfos[0]!;
  const tstInfo = new Uint8Array((signedData.encapContentInfo.eContent as asn1js.OctetString).valueBlock.valueHexView);
  const signature = new Uint8Array(signerInfo.signature.valueBlock.valueHexView);
  const attrs = new Uint8Array(signerInfo.signedAttrs!.encodedValue);
  // encodedValue is the SET OF re-tagged for signing; in the token it is [0] IMPLICIT: skip the tag byte.
  const attrsBody = attrs.subarray(1);
  const regions = [
    { name: 'TSTInfo', bytes: tstInfo },
    { name: 'signedAttrs', bytes: attrsBody },
    { name: 'signature', bytes: signature },
  ].map(({ name, bytes }) => {
    const start = find(bytes);
    expect(start, `${name} found in the token`).toBeGreaterThan(0);
    return { name, start, end: start + bytes.length };
  });
  return regions;
}

beforeAll(async () => {
  tsa = await startTestTsa();
  work = await mkdtemp(path.join(tmpdir(), 'custody-tsa-test-'));
  caDer = certificatesFromPemOrDer(enc.encode(tsa.caCertPem));
});

afterAll(async () => {
  await tsa?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('request, parse and verify with a real TSA', () => {
  it('round trip: the token stamps SHA-256(data) at a sensible time and verifies against the pinned CA', async () => {
    const data = enc.encode('custody checkpoint\nstore-1\n42\nAbCdEf==\n');
    const before = Date.now();
    const { tokenDer, info } = await requestTimeStamp(tsa.url, data);
    const after = Date.now();

    // openssl's genTime has whole seconds (clock_precision_digits = 0), so it may read before `before`.
    const genTime = Date.parse(info.genTime);
    expect(info.genTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(genTime).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(genTime).toBeLessThanOrEqual(after);
    expect(info.hashAlgorithm).toBe(OID_SHA256);
    expect(Buffer.from(info.messageImprint).equals(Buffer.from(sha256(data)))).toBe(true);
    expect(info.policy).toBe(TEST_TSA_POLICY);
    expect(info.serialNumber).toMatch(/^[0-9a-f]+$/);
    expect(info.nonce).toBeDefined();
    expect(info.tsaName).toBe('CN=Custody Test TSA,O=Custody Tests');
    expect(info.accuracyMicros).toBe(1_500_100);
    expect(readTimeStampToken(tokenDer)).toEqual(info);

    const verification = await verifyTimeStampToken(tokenDer, data, caDer);
    expect(verification).toMatchObject({ ok: true, signerSubject: 'CN=Custody Test TSA,O=Custody Tests' });
    expect(verification.problem).toBeUndefined();
    expect(verification.info).toEqual(info);
  });

  it('two requests get different nonces and serial numbers', async () => {
    const data = enc.encode('same data twice');
    const a = await requestTimeStamp(tsa.url, data);
    const b = await requestTimeStamp(tsa.url, data);
    expect(Buffer.from(a.info.nonce!).equals(Buffer.from(b.info.nonce!))).toBe(false);
    expect(a.info.serialNumber).not.toBe(b.info.serialNumber);
  });

  it('a token for other data fails with imprint_mismatch', async () => {
    const { tokenDer } = await requestTimeStamp(tsa.url, enc.encode('the real checkpoint'));
    const verification = await verifyTimeStampToken(tokenDer, enc.encode('the real checkpoinT'), caDer);
    expect(verification.ok).toBe(false);
    expect(verification.problem).toBe('imprint_mismatch');
    expect(verification.detail).toMatch(/SHA-256/);
  });

  it('an unrelated CA, even one with the same name as the real CA, gives untrusted_chain', async () => {
    const data = enc.encode('checkpoint for the wrong-CA test');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const unrelated = await makeUnrelatedCa();
    const impostor = await makeUnrelatedCa({ subject: TEST_CA_SUBJECT });
    try {
      for (const other of [unrelated, impostor]) {
        const verification = await verifyTimeStampToken(tokenDer, data, certificatesFromPemOrDer(enc.encode(other.caCertPem)));
        expect(verification.ok).toBe(false);
        expect(verification.problem).toBe('untrusted_chain');
      }
      // With the right CA among several pinned ones it verifies.
      const several = [...certificatesFromPemOrDer(enc.encode(unrelated.caCertPem)), ...caDer];
      expect((await verifyTimeStampToken(tokenDer, data, several)).ok).toBe(true);
    } finally {
      await unrelated.cleanup();
      await impostor.cleanup();
    }
  });

  it('an empty trust list gives no_trust_anchor', async () => {
    const data = enc.encode('checkpoint without a trust anchor');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const verification = await verifyTimeStampToken(tokenDer, data, []);
    expect(verification).toMatchObject({ ok: false, problem: 'no_trust_anchor' });
  });

  it('the TSA certificate pinned instead of its CA is not a trust anchor that verifies', async () => {
    const data = enc.encode('pinning the leaf');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const leaf = certificatesFromPemOrDer(new Uint8Array(await readFile(tsa.tsaCertPath)));
    expect((await verifyTimeStampToken(tokenDer, data, leaf)).ok).toBe(false);
  });

  it('one flipped byte in the signature fails (bad_signature), and no flip in a signed part ever verifies', async () => {
    const data = enc.encode('checkpoint to tamper with');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const regions = signedRegions(tokenDer);
    const signature = regions.find((r) => r.name === 'signature')!;

    const flipped = new Uint8Array(tokenDer);
    const middle = Math.floor((signature.start + signature.end) / 2);
    flipped[middle] = flipped[middle]! ^ 0x01;
    const verification = await verifyTimeStampToken(flipped, data, caDer);
    expect(verification.ok).toBe(false);
    expect(['bad_signature', 'malformed']).toContain(verification.problem);
    expect(verification.problem).toBe('bad_signature');

    let tried = 0;
    for (const region of regions) {
      for (let i = region.start; i < region.end; i += 3) {
        const copy = new Uint8Array(tokenDer);
        copy[i] = copy[i]! ^ 0x20;
        const result = await verifyTimeStampToken(copy, data, caDer);
        expect(result.ok, `flip at ${i} in ${region.name}`).toBe(false);
        expect(result.problem).toBeDefined();
        tried += 1;
      }
    }
    expect(tried).toBeGreaterThan(100);
  });

  it('garbage, a truncated token and trailing bytes are malformed; readTimeStampToken throws E_TSA_RESPONSE_INVALID', async () => {
    const data = enc.encode('checkpoint to truncate');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const bad = [
      new Uint8Array(0),
      enc.encode('not a token at all'),
      tokenDer.subarray(0, tokenDer.length - 10),
      new Uint8Array([...tokenDer, 0]),
    ];
    for (const token of bad) {
      expect(await verifyTimeStampToken(token, data, caDer)).toMatchObject({ ok: false, problem: 'malformed' });
      expect(custodyErrorOfSync(() => readTimeStampToken(token)).code).toBe(ErrorCodes.TSA_RESPONSE_INVALID);
    }
  });

  it('a rejection from the TSA (unaccepted policy) raises E_TSA_RESPONSE_INVALID naming status and failInfo', async () => {
    const data = enc.encode('checkpoint under a policy the TSA does not offer');
    const nonce = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const request = buildTimeStampRequest(data, { nonce, policyOid: '1.2.3.4.999' });
    const replyDer = await postQuery(tsa.url, request.der);
    const err = custodyErrorOfSync(() => parseTimeStampResponse(replyDer, { data, nonce }));
    expect(err.code).toBe(ErrorCodes.TSA_RESPONSE_INVALID);
    expect(err.message).toMatch(/rejection/);
    expect(err.message).toMatch(/unacceptedPolicy/);

    // A policy the TSA does offer is granted and named in the token.
    const offered = buildTimeStampRequest(data, { nonce, policyOid: TEST_TSA_OTHER_POLICIES[1] });
    const granted = parseTimeStampResponse(await postQuery(tsa.url, offered.der), { data, nonce });
    expect(granted.info.policy).toBe(TEST_TSA_OTHER_POLICIES[1]);
  });

  it('a SHA-1 query (made by openssl) is rejected with badAlg', async () => {
    const dataFile = await writeTemp('sha1.txt', 'sha1 is not on the TSA list');
    const queryFile = await writeTemp('sha1.tsq', '');
    await runOpenssl(['ts', '-query', '-data', dataFile, '-sha1', '-cert', '-out', queryFile]);
    const replyDer = await postQuery(tsa.url, new Uint8Array(await readFile(queryFile)));
    const err = custodyErrorOfSync(() => parseTimeStampResponse(replyDer));
    expect(err.code).toBe(ErrorCodes.TSA_RESPONSE_INVALID);
    expect(err.message).toMatch(/rejection/);
    expect(err.message).toMatch(/badAlg/);
  });

  it('parseTimeStampResponse refuses a reply for another nonce or other data', async () => {
    const data = enc.encode('checkpoint with nonce');
    // A nonce whose top bit is set must still be encoded as a positive INTEGER and match.
    const nonce = new Uint8Array([0x80, 0x00, 0x00, 0x01, 0xff]);
    const request = buildTimeStampRequest(data, { nonce });
    const replyDer = await postQuery(tsa.url, request.der);
    const good = parseTimeStampResponse(replyDer, { data, nonce });
    expect(Buffer.from(good.info.nonce!).toString('hex')).toBe('80000001ff');

    const otherNonce = custodyErrorOfSync(() => parseTimeStampResponse(replyDer, { nonce: new Uint8Array([0x80, 0, 0, 1, 0xfe]) }));
    expect(otherNonce.code).toBe(ErrorCodes.TSA_RESPONSE_INVALID);
    expect(otherNonce.message).toMatch(/nonce/);
    const otherData = custodyErrorOfSync(() => parseTimeStampResponse(replyDer, { data: enc.encode('other') }));
    expect(otherData.code).toBe(ErrorCodes.TSA_RESPONSE_INVALID);
    expect(otherData.message).toMatch(/other data/);
  });

  it('the request is what openssl expects: imprint, nonce, policy and certReq', async () => {
    const data = enc.encode('inspect my request');
    const request = buildTimeStampRequest(data, {
      nonce: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      policyOid: '1.2.3.4.5.6.7.8', // not one the system openssl.cnf gives a name to
    });
    const queryFile = await writeTemp('ours.tsq', request.der);
    const { stdout } = await runOpenssl(['ts', '-query', '-in', queryFile, '-text']);
    const text = stdout.toString('utf8');
    expect(text).toMatch(/Hash Algorithm: sha256/);
    expect(text).toMatch(/Policy OID: 1\.2\.3\.4\.5\.6\.7\.8/);
    expect(text).toMatch(/Nonce: 0xDEADBEEF/);
    expect(text).toMatch(/Certificate required: yes/);
    const hexDump = [...text.matchAll(/- ((?:[0-9a-f]{2}[ -]){1,16})/g)].map((m) => m[1]!.replace(/[ -]/g, '')).join('');
    expect(hexDump).toBe(Buffer.from(sha256(data)).toString('hex'));

    const noNonce = buildTimeStampRequest(data, { certReq: false });
    expect(noNonce.nonce).toBeUndefined();
    const noNonceText = (await runOpenssl(['ts', '-query', '-in', await writeTemp('plain.tsq', noNonce.der), '-text'])).stdout.toString('utf8');
    expect(noNonceText).toMatch(/Nonce: unspecified/);
    expect(noNonceText).toMatch(/Certificate required: no/);
  });

  it('a token requested without certReq carries no certificate and cannot be chained (untrusted_chain)', async () => {
    const data = enc.encode('no certificate in the token');
    const request = buildTimeStampRequest(data, { certReq: false });
    const { tokenDer } = parseTimeStampResponse(await postQuery(tsa.url, request.der), { data });
    expect(await verifyTimeStampToken(tokenDer, data, caDer)).toMatchObject({ ok: false, problem: 'untrusted_chain' });
  });
});

describe('HTTP failures', () => {
  it('a closed port on 127.0.0.1 raises E_TSA_UNREACHABLE naming the URL and the cause', async () => {
    const url = `http://127.0.0.1:${await closedLocalPort()}/tsa`;
    const err = await custodyErrorOf(requestTimeStamp(url, enc.encode('x')));
    expect(err.code).toBe(ErrorCodes.TSA_UNREACHABLE);
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.where).toBe(url);
  });

  it('an HTTP error status raises E_TSA_UNREACHABLE', async () => {
    const url = `${tsa.base}/status/503`;
    const err = await custodyErrorOf(requestTimeStamp(url, enc.encode('x')));
    expect(err.code).toBe(ErrorCodes.TSA_UNREACHABLE);
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/HTTP 503/);
  });

  it('a TSA that never answers raises E_TSA_UNREACHABLE after the timeout', async () => {
    const url = `${tsa.base}/hang`;
    const err = await custodyErrorOf(requestTimeStamp(url, enc.encode('x'), { timeoutMs: 300 }));
    expect(err.code).toBe(ErrorCodes.TSA_UNREACHABLE);
    expect(err.message).toMatch(/timed out/);
  });
});

describe('an independent tool agrees', () => {
  it('openssl ts -verify accepts a token we requested, and rejects it for other data', async () => {
    const data = enc.encode('checkpoint cross-checked by openssl\n');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const dataFile = await writeTemp('data.txt', data);
    const tokenFile = await writeTemp('token.der', tokenDer);
    const verify = ['ts', '-verify', '-in', tokenFile, '-token_in', '-CAfile', tsa.caCertPath, '-untrusted', tsa.tsaCertPath];
    const { stdout } = await runOpenssl([...verify, '-data', dataFile]);
    expect(stdout.toString('utf8')).toMatch(/Verification: OK/);

    const otherFile = await writeTemp('other.txt', 'something else');
    await expect(runOpenssl([...verify, '-data', otherFile])).rejects.toThrow(/Verification: FAILED|message imprint mismatch/);
  });

  it('tokens made by `openssl ts -reply` alone verify here, for SHA-256, SHA-384 and SHA-512 imprints', async () => {
    const data = enc.encode('stamped by openssl directly');
    for (const [flag, oid] of [
      ['-sha256', OID_SHA256],
      ['-sha384', OID_SHA384],
      ['-sha512', OID_SHA512],
    ] as const) {
      const { tokenDer, replyDer } = await opensslToken(data, [flag, '-cert']);
      const verification = await verifyTimeStampToken(tokenDer, data, caDer);
      expect(verification, flag).toMatchObject({ ok: true });
      expect(verification.info?.hashAlgorithm).toBe(oid);
      // The reply parses to the same token bytes.
      const parsed = parseTimeStampResponse(replyDer);
      expect(Buffer.from(parsed.tokenDer).equals(Buffer.from(tokenDer))).toBe(true);
      expect((await verifyTimeStampToken(tokenDer, enc.encode('not it'), caDer)).problem).toBe('imprint_mismatch');
    }
  });

  it('empty data can be stamped and verified (openssl-made and requested tokens)', async () => {
    const empty = new Uint8Array(0);
    const { tokenDer } = await opensslToken(empty, ['-sha256', '-cert']);
    expect(await verifyTimeStampToken(tokenDer, empty, caDer)).toMatchObject({ ok: true });
    expect((await verifyTimeStampToken(tokenDer, enc.encode('x'), caDer)).problem).toBe('imprint_mismatch');

    const requested = await requestTimeStamp(tsa.url, empty);
    expect(await verifyTimeStampToken(requested.tokenDer, empty, caDer)).toMatchObject({ ok: true });
    const unrelated = await makeUnrelatedCa({ subject: TEST_CA_SUBJECT });
    try {
      const pinned = certificatesFromPemOrDer(enc.encode(unrelated.caCertPem));
      expect((await verifyTimeStampToken(requested.tokenDer, empty, pinned)).problem).toBe('untrusted_chain');
    } finally {
      await unrelated.cleanup();
    }
  });

  it('a TSTInfo signed (openssl cms -sign -cades) by a CA-issued cert without timeStamping EKU gives not_timestamping_cert', async () => {
    // Issued before the stamp: certificates are checked as of genTime, and one made after it fails
    // as "not yet valid" (untrusted_chain) instead.
    const codeSigner = await tsa.issueCert('code-signer', 'codesign_ext');
    const data = enc.encode('re-signed TSTInfo');
    const { tokenDer } = await requestTimeStamp(tsa.url, data);
    const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(tokenDer).buffer);
    const signedData = new pkijs.SignedData({ schema: contentInfo.content });
    const tstInfoFile = await writeTemp(
      'tstinfo.der',
      new Uint8Array((signedData.encapContentInfo.eContent as asn1js.OctetString).valueBlock.valueHexView),
    );
    const resign = async (certPath: string, keyPath: string, cades = true): Promise<Uint8Array> => {
      const out = await writeTemp('resigned.der', '');
      await runOpenssl([
        'cms', '-sign', '-binary', '-nodetach', '-in', tstInfoFile, '-econtent_type', OID_CT_TSTINFO,
        '-signer', certPath, '-inkey', keyPath, '-md', 'sha256', ...(cades ? ['-cades'] : []), '-nosmimecap',
        '-outform', 'DER', '-out', out,
      ]);
      return new Uint8Array(await readFile(out));
    };

    // Control: the real TSA key and certificate through the same path verify.
    const control = await resign(tsa.tsaCertPath, tsa.tsaKeyPath);
    expect(await verifyTimeStampToken(control, data, caDer)).toMatchObject({ ok: true });

    const forged = await resign(codeSigner.certPath, codeSigner.keyPath);
    const verification = await verifyTimeStampToken(forged, data, caDer);
    expect(verification, verification.detail).toMatchObject({ ok: false, problem: 'not_timestamping_cert' });
    expect(verification.detail).toMatch(/timeStamping/);
    expect(verification.signerSubject).toBe('CN=code-signer,O=Custody Tests');

    // Without -cades there is no ESS signing-certificate attribute: RFC 3161 requires one, and
    // openssl ts -verify refuses the token too.
    const noEss = await resign(tsa.tsaCertPath, tsa.tsaKeyPath, false);
    const noEssResult = await verifyTimeStampToken(noEss, data, caDer);
    expect(noEssResult).toMatchObject({ ok: false, problem: 'bad_signature' });
    expect(noEssResult.detail).toMatch(/ESS signing-certificate/);
    const dataFile = await writeTemp('resigned-data.txt', data);
    const noEssFile = await writeTemp('no-ess.der', noEss);
    await expect(
      runOpenssl(['ts', '-verify', '-in', noEssFile, '-token_in', '-CAfile', tsa.caCertPath, '-data', dataFile]),
    ).rejects.toThrow(/missing signing certificate attribute/);
  });
});

describe('certificatesFromPemOrDer', () => {
  it('reads PEM, a PEM bundle and DER, and refuses anything else with E_KEY_INVALID', async () => {
    const pem = tsa.caCertPem;
    const [der] = certificatesFromPemOrDer(enc.encode(pem));
    expect(der).toBeDefined();
    expect(certificatesFromPemOrDer(der!)).toEqual([der]);
    const tsaPem = await readFile(tsa.tsaCertPath, 'utf8');
    expect(certificatesFromPemOrDer(enc.encode(`${pem}\n${tsaPem}`))).toHaveLength(2);
    for (const junk of [enc.encode('hello'), enc.encode('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), new Uint8Array(0)]) {
      expect(custodyErrorOfSync(() => certificatesFromPemOrDer(junk)).code).toBe(ErrorCodes.KEY_INVALID);
    }
  });
});
