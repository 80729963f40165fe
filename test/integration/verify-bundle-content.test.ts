/**
 * Issue 11, item 2: a bundle's timeline and tables are the collector's claim; only the stores'
 * records are signed by the agent. Each attack here is made on a bundle from the real collector
 * (two real stores, imported through the built CLI), then re-sealed with a fresh collector key the
 * way anyone who handled the bundle could, and verified with only the agent keys pinned. Each must
 * be INVALID with its own finding code at the file, line and host#seq where it was made.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle, type BundleVerification } from '../../collector/verify-bundle.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { custody } from '../helpers/cli.js';
import { resealBundle } from '../helpers/reseal-bundle.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const AUTH = `${FIX}beats/filebeat/module/system/auth/test/test.log`;
const USB = `${FIX}constructed/kern-usb.log`;

let work: string;
let bundle: string;
let agentKeys: string[];
let n = 0;

interface Row {
  seq: number;
  host: string;
  kind: string;
  payload: Record<string, unknown>;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-content-'));
  const run = (...args: string[]): void => {
    const r = custody(...args);
    expect(r.stderr).not.toContain('custody:');
    expect(r.code).toBe(0);
  };
  run('import', '--store', join(work, 'ws-07'), '--host', 'ws-07', AUTH);
  run('import', '--store', join(work, 'srv-02'), '--host', 'srv-02', USB);
  bundle = join(work, 'bundle');
  run('collect', '--case', 'IR-C', '--store', join(work, 'ws-07'), '--store', join(work, 'srv-02'), '--out', bundle);
  // The examiner's pins come from the agents' enrollment, out of band; here, from the untouched bundle.
  agentKeys = parseManifest(new Uint8Array(readFileSync(join(bundle, 'manifest.json')))).hosts.map((h) => h.enrollment.fingerprint);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A copy of the bundle, changed by `edit`, re-sealed with a fresh collector key. */
async function forged(edit: (dir: string) => void): Promise<string> {
  const dir = join(work, `forged-${++n}`);
  cpSync(bundle, dir, { recursive: true });
  edit(dir);
  await resealBundle(dir);
  return dir;
}

function lines(dir: string, file: string): string[] {
  return readFileSync(join(dir, file), 'utf8').split(/(?<=\n)/);
}
function writeLines(dir: string, file: string, rows: string[]): void {
  writeFileSync(join(dir, file), rows.join(''));
}
function timelineRows(dir: string): Row[] {
  return lines(dir, 'timeline/timeline.jsonl').map((l) => JSON.parse(l) as Row);
}
/** The errors, as `code at where`, for readable failures. */
function errors(r: BundleVerification): string[] {
  return r.findings.filter((f) => f.severity === 'error').map((f) => `${f.code} at ${f.where}`);
}
/** The seqs named by findings of `code` whose where starts with `file (host#a..b)`. */
function seqsNamed(r: BundleVerification, code: string, file: string, host: string): number[] {
  const out: number[] = [];
  for (const f of r.findings) {
    if (f.code !== code) continue;
    const m = new RegExp(`^${file.replace(/[./]/g, '\\$&')} \\(${host}#(\\d+)(?:\\.\\.(\\d+))?\\)$`).exec(f.where);
    if (m === null) continue;
    for (let s = Number(m[1]); s <= Number(m[2] ?? m[1]); s++) out.push(s);
  }
  return out.sort((a, b) => a - b);
}

describe('bundle content against the verified records', () => {
  it('an untouched bundle: zero findings with only the agent keys pinned', async () => {
    const r = await verifyBundle(bundle, { agentKeys });
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it("one user's entries deleted from the timeline and every table, report/ dropped, re-sealed by a fresh collector: INVALID, each deleted record named", async () => {
    const victim = 'vagrant';
    let gone: number[] = [];
    const dir = await forged((d) => {
      const rows = timelineRows(d);
      gone = rows.filter((r) => r.host === 'ws-07' && (r.payload['user'] === victim || r.payload['target_user'] === victim)).map((r) => r.seq).sort((a, b) => a - b);
      const keep = (file: string): void => writeLines(d, file, lines(d, file).filter((l) => !l.includes(`,${victim},`) && !l.includes(`"user":"${victim}"`)));
      for (const f of ['timeline/timeline.jsonl', 'timeline/timeline.csv', 'tables/logons.csv', 'tables/file-access.csv', 'tables/gaps.csv']) keep(f);
      rmSync(join(d, 'report'), { recursive: true, force: true });
    });
    expect(gone.length).toBeGreaterThan(1);
    // The forgery is internally consistent: every file matches its new manifest.
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r).filter((e) => e.startsWith('file.') || e.startsWith('sums.') || e.startsWith('manifest.') || e.startsWith('witness.') || e.startsWith('custody.'))).toEqual([]);
    expect(r.ok).toBe(false);
    expect(seqsNamed(r, 'timeline.row_missing', 'timeline/timeline.jsonl', 'ws-07')).toEqual(gone);
    expect(seqsNamed(r, 'timeline_csv.row_missing', 'timeline/timeline.csv', 'ws-07')).toEqual(gone);
    expect(seqsNamed(r, 'table.row_missing', 'tables/logons.csv', 'ws-07')).toEqual(gone);
    expect(r.findings.every((f) => f.severity !== 'error' || f.code.endsWith('.row_missing'))).toBe(true);
  });

  it('a row edited to say something else: timeline.row_mismatch at its line and host#seq', async () => {
    let line = 0;
    let seq = -1;
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.jsonl');
      line = ls.findIndex((l) => l.includes('"user":"root"')) + 1;
      seq = (JSON.parse(ls[line - 1] as string) as Row).seq;
      ls[line - 1] = (ls[line - 1] as string).replace(/"user":"root"/, '"user":"nobody"');
      writeLines(d, 'timeline/timeline.jsonl', ls);
    });
    expect(line).toBeGreaterThan(0);
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)).toEqual([`timeline.row_mismatch at timeline/timeline.jsonl line ${line} (ws-07#${seq})`]);
  });

  it('a csv row edited (the message Timesketch shows): timeline_csv.row_mismatch at its line', async () => {
    let line = 0;
    let seq = -1;
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.csv');
      line = ls.findIndex((l) => l.includes('FAILED root')) + 1;
      seq = Number((ls[line - 1] as string).split(',')[7]);
      ls[line - 1] = (ls[line - 1] as string).replace('FAILED root', 'ok root');
      writeLines(d, 'timeline/timeline.csv', ls);
    });
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)).toEqual([`timeline_csv.row_mismatch at timeline/timeline.csv line ${line} (ws-07#${seq})`]);
  });

  it('a row added that cites no record: timeline.row_unknown_record', async () => {
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.jsonl');
      const fake = (ls[0] as string).replace(/"seq":\d+/, '"seq":999');
      writeLines(d, 'timeline/timeline.jsonl', [...ls, fake]);
    });
    const r = await verifyBundle(dir, { agentKeys });
    const count = timelineRows(bundle).length;
    const host = timelineRows(bundle)[0]?.host;
    expect(errors(r)).toEqual([`timeline.row_unknown_record at timeline/timeline.jsonl line ${count + 1} (${host}#999)`]);
  });

  it('a row duplicated: timeline.row_duplicate at the second copy', async () => {
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.jsonl');
      ls.splice(3, 0, ls[2] as string);
      writeLines(d, 'timeline/timeline.jsonl', ls);
    });
    const row = timelineRows(bundle)[2] as Row;
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)).toEqual([`timeline.row_duplicate at timeline/timeline.jsonl line 4 (${row.host}#${row.seq})`]);
  });

  it('two rows of one store swapped: timeline.row_out_of_order at the later one', async () => {
    let at = -1;
    const rows = timelineRows(bundle);
    // Two neighbouring rows of the same store with different times.
    for (let i = 0; i + 1 < rows.length; i++) {
      const a = rows[i] as Row & { datetime: string };
      const b = rows[i + 1] as Row & { datetime: string };
      if (a.host === b.host && a.datetime < b.datetime) {
        at = i;
        break;
      }
    }
    expect(at).toBeGreaterThanOrEqual(0);
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.jsonl');
      [ls[at], ls[at + 1]] = [ls[at + 1] as string, ls[at] as string];
      writeLines(d, 'timeline/timeline.jsonl', ls);
    });
    const moved = rows[at] as Row;
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)).toEqual([`timeline.row_out_of_order at timeline/timeline.jsonl line ${at + 2} (${moved.host}#${moved.seq})`]);
  });

  it('a table row deleted: table.row_missing naming the record, nothing else', async () => {
    let seq = -1;
    const dir = await forged((d) => {
      const ls = lines(d, 'tables/logons.csv');
      seq = Number((ls[3] as string).split(',')[4]);
      ls.splice(3, 1);
      writeLines(d, 'tables/logons.csv', ls);
    });
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)).toEqual([`table.row_missing at tables/logons.csv (ws-07#${seq})`]);
  });

  it('a USB device row edited: table.row_mismatch at its line (the table is recomputed from the records)', async () => {
    const dir = await forged((d) => {
      const ls = lines(d, 'tables/usb-devices.csv');
      ls[1] = (ls[1] as string).replace(/,(\d+),(\d+),/, (_m, c: string, d2: string) => `,${Number(c) + 1},${d2},`);
      writeLines(d, 'tables/usb-devices.csv', ls);
    });
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)).toEqual(['table.row_mismatch at tables/usb-devices.csv line 2']);
  });

  it('bytes that are not UTF-8 in a row (the reader never repairs them): timeline.unreadable at that line', async () => {
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.jsonl').map((l) => Buffer.from(l));
      ls[2] = Buffer.concat([(ls[2] as Buffer).subarray(0, 40), Buffer.from([0xff]), (ls[2] as Buffer).subarray(41)]);
      writeFileSync(join(d, 'timeline/timeline.jsonl'), Buffer.concat(ls));
    });
    const r = await verifyBundle(dir, { agentKeys });
    expect(errors(r)[0]).toBe('timeline.unreadable at timeline/timeline.jsonl line 3');
    expect(errors(r).slice(1).every((e) => e.startsWith('timeline.row_missing at timeline/timeline.jsonl ('))).toBe(true);
  });

  it('a bundle without hosts: bundle.no_hosts, and a pinned agent key then matches nothing', async () => {
    const dir = join(work, 'no-hosts');
    cpSync(bundle, dir, { recursive: true });
    rmSync(join(dir, 'evidence'), { recursive: true });
    rmSync(join(dir, 'report'), { recursive: true });
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { hosts: unknown[] };
    m.hosts = [];
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    for (const f of ['timeline/timeline.jsonl', 'timeline/timeline.csv', 'tables/logons.csv', 'tables/usb-devices.csv']) writeLines(dir, f, lines(dir, f).slice(0, f.endsWith('.jsonl') ? 0 : 1));
    writeLines(dir, 'tables/usb-devices.csv', lines(bundle, 'tables/usb-devices.csv').slice(0, 1));
    await resealBundle(dir);
    expect(errors(await verifyBundle(dir))).toEqual(['bundle.no_hosts at manifest.json']);
    expect(errors(await verifyBundle(dir, { agentKeys: [agentKeys[0] as string] }))).toEqual(['bundle.no_hosts at manifest.json', `agent_key.unmatched at --agent-key ${agentKeys[0]}`]);
  });

  it('a pinned agent key that enrolled no store of the bundle: agent_key.unmatched', async () => {
    const stranger = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const r = await verifyBundle(bundle, { agentKeys: [...agentKeys, stranger] });
    expect(errors(r)).toEqual([`agent_key.unmatched at --agent-key ${stranger}`]);
  });

  it('the built CLI: the forged timeline exits 1 and names the missing rows', async () => {
    const dir = await forged((d) => {
      const ls = lines(d, 'timeline/timeline.jsonl');
      ls.splice(1, 1);
      writeLines(d, 'timeline/timeline.jsonl', ls);
    });
    const row = timelineRows(bundle)[1] as Row;
    const r = custody('verify', dir, ...agentKeys.flatMap((k) => ['--agent-key', k]), '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as BundleVerification;
    expect(out.ok).toBe(false);
    expect(errors(out)).toEqual([`timeline.row_missing at timeline/timeline.jsonl (${row.host}#${row.seq})`]);
    // `custody report` verifies first: it writes the report and exits 1, saying so.
    const rep = custody('report', dir, '--out', join(work, 'report-of-forged'), ...agentKeys.flatMap((k) => ['--agent-key', k]));
    expect(rep.code).toBe(1);
  });
});
