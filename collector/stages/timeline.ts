/**
 * Collect's timeline-and-tables stage: the merged timeline and the tables written (and hashed) in
 * one pass over every record of the stores that belong in it (collector/timeline.ts), which also
 * proves each record well-formed and feeds the draft report's pass. What that proof finds joins
 * each store's verification result in the manifest.
 */
import type { BundleManifest } from '../../src/bundle/manifest.js';
import { ReportEntryPass } from '../../src/report/model.js';
import type { FindingOf } from '../../src/verify/findings.js';
import { reportModelOptions, type WriteReportOptions } from '../report.js';
import { writeTimelineAndTables, type TimelineInput, type TimelineResult, type WellFormedFinding } from '../timeline.js';

/** A store in the timeline, with its verification result (in the manifest) to add the timeline pass's findings to. */
export interface TimelineStore extends TimelineInput {
  verified: BundleManifest['hosts'][number]['verified'];
  /** The record findings its verification already gave (`code@seq`): a record it checked in full is not named twice. */
  reported: Set<string>;
}

/** Below this many records the timeline is rendered in the collector's thread (starting workers costs more). */
const IN_THREAD_TIMELINE_RECORDS = 20_000;

/** A store of the timeline, from its verification's findings and its result as the manifest states it. */
export function timelineStore(input: TimelineInput, verified: TimelineStore['verified'], findings: ReadonlyArray<FindingOf<string, { seq?: number }>>): TimelineStore {
  return { ...input, check: true, verified, reported: new Set(findings.filter((f) => f.where.seq !== undefined).map((f) => `${f.code}@${f.where.seq}`)) };
}

export interface TimelineStageResult {
  timeline: TimelineResult;
  /** The draft report's pass over the timeline (with reportOptions). */
  reportPass?: ReportEntryPass;
}

export async function timelineStage(work: string, stores: readonly TimelineStore[], options: { records: number; report?: WriteReportOptions; generatedAt: string; onRecord: (n: number) => void }): Promise<TimelineStageResult> {
  const reportPass = options.report !== undefined ? new ReportEntryPass(reportModelOptions(options.report, options.generatedAt)) : undefined;
  const timeline = await writeTimelineAndTables(work, stores, {
    onRecord: options.onRecord,
    ...(options.records < IN_THREAD_TIMELINE_RECORDS ? { workers: 0 } : {}),
    ...(reportPass !== undefined ? { report: reportPass } : {}),
  });
  addWellFormedFindings(stores, timeline.findings);
  return { timeline, ...(reportPass !== undefined ? { reportPass } : {}) };
}

/**
 * The timeline pass proved every record of these stores well-formed (or named those that are not):
 * its findings join each store's verification result, and a store with one is not verified.
 */
function addWellFormedFindings(stores: readonly TimelineStore[], findings: ReadonlyArray<readonly WellFormedFinding[]>): void {
  stores.forEach((store, i) => {
    const found = [...(findings[i] ?? [])].sort((a, b) => a.seq - b.seq).filter((f) => !store.reported.has(`${f.code}@${f.seq}`));
    if (found.length === 0) return;
    // As `verify --deep` words them (after the verification's own findings, not among them by seq).
    // A loop, not push(...): a tampered store can have more findings than a spread call takes.
    for (const f of found) store.verified.findings.push({ code: f.code, severity: 'error' as const, message: f.message });
    store.verified.ok = false;
  });
}
