/**
 * Sizes that passing every element of an array as a call argument (`push(...a)`, `Math.max(...a)`)
 * cannot take: past about 120,000 elements Node throws "Maximum call stack size exceeded". Each case
 * is one an honest deployment reaches: a store sealed every 200,000 records (the config allows up to
 * 10,000,000) collected or verified from the vault, and the report of a year of activity over
 * twenty hosts (175,200 host-hours in its chart).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framedFrom, segmentObject } from '../../agent/ship/plan.js';
import { MerkleFrontier } from '../../src/integrity/merkle.js';
import { maxOf, minOf } from '../../src/extremes.js';
import { buildReportModel, type ReportInput } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/render-html.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { ENROLLMENT_FILE } from '../../src/store/keyfiles.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { checkpointKey, enrollmentKey } from '../../src/vault/layout.js';
import type { VaultStoreCopy } from '../../src/vault/read.js';
import { analyseVaultCopy } from '../../src/verify/vault-copy.js';

const RECORDS = 200_000;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-large-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('more elements than a spread call takes', () => {
  it('maxOf and minOf take any number of values, with Math.max/min semantics', () => {
    const many = Array.from({ length: 500_000 }, (_, i) => (i * 7919) % 500_003);
    expect(() => Math.max(...many)).toThrow(RangeError); // what they replace
    expect(maxOf(many)).toBe(many.reduce((a, b) => (b > a ? b : a)));
    expect(minOf(many)).toBe(0);
    expect(maxOf([], -1)).toBe(-1);
    expect(minOf([], 5)).toBe(5);
    expect(maxOf([1, Number.NaN, 3])).toBeNaN();
  });

  it("a vault copy with a segment of more than 150,000 records analyses, every record in order", () => {
    const dir = join(work, 'store');
    const created = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b', policy: { batchRecords: 5000, checkpointRecords: 250_000, checkpointMs: 86_400_000 } });
    for (let i = 0; i < RECORDS; i++) created.store.append('log.line', 'file:/x', { path: '/x', dev: '1', ino: '1', offset: i * 2, line_no: i + 1, length: 1, text: 'x' });
    created.store.close({ finalCheckpoint: true });
    const reader = new SqliteStoreReader(dir);
    const storeId = reader.meta().get('store_id') as string;
    const records = [...reader.records()];
    const checkpoints = reader.checkpoints();
    reader.close();
    // Segments end at the store's checkpoints, as the shipper cuts them: one holds all the lines.
    const size = checkpoints[checkpoints.length - 1]!.tree_size;
    expect(records).toHaveLength(size);
    const segments: VaultStoreCopy['segments'] = [];
    let frontier = new MerkleFrontier().toState();
    let start = 0;
    for (const end of [...new Set(checkpoints.map((c) => c.tree_size))].sort((x, y) => x - y)) {
      const slice = records.slice(start, end);
      const seg = segmentObject('', 'web-01', storeId, frontier, framedFrom(slice.map((r) => ({ bytes: r.bytes, observedAt: r.observed_at }))));
      segments.push({ key: seg.key, versionId: 'v', bytes: seg.body, start, end, minObserved: slice[0]!.observed_at, maxObserved: slice[slice.length - 1]!.observed_at });
      frontier = seg.after;
      start = end;
    }
    expect(maxOf(segments.map((x) => x.end - x.start))).toBeGreaterThan(150_000);
    const copy: VaultStoreCopy = {
      host: 'web-01',
      storeId,
      enrollment: { key: enrollmentKey('', 'web-01', storeId), versionId: 'v', bytes: new Uint8Array(readFileSync(join(dir, ENROLLMENT_FILE))) },
      certificates: [],
      checkpoints: checkpoints.map((c) => ({ key: checkpointKey('', 'web-01', storeId, c.tree_size, c.id), versionId: 'v', bytes: new TextEncoder().encode(c.note), treeSize: c.tree_size, checkpointId: c.id, receivedAt: undefined })),
      tsaTokens: [],
      segments,
      blobs: [],
      multipleVersions: [],
      unrecognised: [],
      skippedSegments: [],
    };
    const publicKeyRaw = new Uint8Array(Buffer.from(created.enrollment.public_key, 'base64'));
    const a = analyseVaultCopy(copy, { publicKeyRaw });
    expect(a.findings).toEqual([]);
    expect(a.recordsEnd).toBe(size);
    expect(a.records).toHaveLength(size);
    expect(Buffer.from(a.records[size - 1]!).equals(Buffer.from(records[size - 1]!.bytes))).toBe(true);
  }, 120_000);

  it('the HTML report of a year over twenty hosts (175,200 host-hours in its chart) renders', () => {
    const input: ReportInput = {
      manifest: {
        case: { id: 'IR-LONG', title: 'a long one', created_at: '2026-01-01T00:00:00Z' },
        hosts: [],
        collector: { host: 'responder', version: 'test', key: { fingerprint: 'SHA256:x' }, started_at: '2026-12-06T00:00:00Z' },
      } as unknown as ReportInput['manifest'],
      entries: [],
    };
    const model = buildReportModel(input, { generatedAt: '2026-12-06T00:00:00Z' });
    const start = Date.parse('2025-12-01T00:00:00Z');
    for (let h = 0; h < 20; h++) {
      model.chart.hosts.push(`host-${h}`);
      for (let i = 0; i < 8760; i++) model.chart.hourly.push({ hour: new Date(start + i * 3_600_000).toISOString().slice(0, 13), host: `host-${h}`, count: 1 + ((i * h) % 97) });
    }
    expect(model.chart.hourly.length).toBe(175_200);
    const html = renderHtml(model, 'en');
    expect(html).toContain('<svg id="timeline"');
  });
});
