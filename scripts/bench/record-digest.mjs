#!/usr/bin/env node
/**
 * A digest of the derived records of every file under the given folders (and of the given files),
 * to show that a change to parsing, deriving or record building leaves every record's bytes as
 * they were: run it with the build before and after, and compare the outputs (diff).
 *
 *   node scripts/bench/record-digest.mjs DIST PATH... > before.txt   (DIST: a copy of dist/ inside the repository)
 *
 * For each file: parseContent over its whole bytes (the path import takes for every file) and,
 * when scanContent calls it streamable, deriveTextPieces over 4 KiB pieces (the streamed path);
 * each record's payload is checked (validatePayload, an error is part of the digest) and its
 * canonical record text taken (recordText, with a fixed envelope), failures and gaps too. One line
 * per file (digest, records whole, records streamed, path), then the digest of all.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distArg, ...roots] = process.argv.slice(2);
if (distArg === undefined || roots.length === 0) {
  process.stderr.write('usage: record-digest.mjs DIST PATH...\n');
  process.exit(2);
}
const dist = pathToFileURL(resolve(distArg)).href;
const ic = await import(`${dist}/collector/import-content.js`);
const { validatePayload, RECORD_VERSION } = await import(`${dist}/src/records/schema.js`);
const { recordText } = await import(`${dist}/src/records/record-bytes.js`);

const files = [];
const walk = (p) => {
  if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n));
  else files.push(p);
};
for (const r of roots) walk(r);

let seq = 0;
function text(rec) {
  let err = '';
  try {
    validatePayload(rec.kind, rec.payload);
  } catch (e) {
    err = `INVALID ${e.message}`;
  }
  let t;
  try {
    t = recordText({ v: RECORD_VERSION, seq: seq++, kind: rec.kind, observed_at: '2026-12-06T03:10:24.992000Z', mono_ns: '55755436626373', boot_id: 'b', host: 'h', source: `import:${rec.payload.parser ?? 'import'}`, payload: rec.payload });
  } catch (e) {
    t = `THROW ${e.message}`;
  }
  return err + t;
}

const total = createHash('sha256');
for (const f of files) {
  const bytes = readFileSync(f);
  const h = createHash('sha256');
  seq = 0;
  const parsed = ic.parseContent(bytes, 'F', 7, '2026-01-01T00:00:00.000000Z');
  let whole = 0;
  for (const r of parsed.out.records) {
    h.update(text(r));
    h.update('\n');
    whole++;
  }
  h.update(JSON.stringify(parsed.out.failures));
  h.update(JSON.stringify(parsed.gaps));
  h.update(parsed.format);
  let streamed = 0;
  if (ic.scanContent([bytes]).streamable) {
    seq = 0;
    const pieces = [];
    for (let i = 0; i < bytes.length; i += 4096) pieces.push(bytes.subarray(i, i + 4096));
    ic.deriveTextPieces(pieces, 'F', 7, '2026-01-01T00:00:00.000000Z', {
      record(r) {
        h.update(text(r));
        h.update('\n');
        streamed++;
      },
      failure(x) {
        h.update(JSON.stringify(x));
      },
    });
  }
  const d = h.digest('hex');
  total.update(d);
  process.stdout.write(`${d.slice(0, 16)} ${whole} ${streamed} ${f}\n`);
}
process.stdout.write(`TOTAL ${total.digest('hex')}\n`);
