/**
 * Collect's draft-report stage: the report written into `report/` before the seal (so the manifest
 * covers it), from the pass the timeline stage fed as it wrote the timeline. The report is a reading
 * of the evidence, not evidence: whatever stops it (too many events for its memory bound, a bug, a
 * full disk) must not cost the collection. The bundle is then sealed without report/, and the
 * summary says why; `custody report` can make it afterwards.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, messageOf } from '../../src/errors.js';
import type { ReportManifest } from '../../src/report/model.js';
import { writeDraftReport, type WriteReportOptions } from '../report.js';
import type { TimelineStageResult } from './timeline.js';

export function draftReportStage(work: string, manifest: ReportManifest, options: WriteReportOptions, generatedAt: string, timeline: TimelineStageResult): { files?: string[]; error?: { code: string; message: string } } {
  try {
    if (timeline.timeline.reportError !== undefined) throw timeline.timeline.reportError;
    return { files: writeDraftReport(work, manifest, options, generatedAt, timeline.reportPass) };
  } catch (err) {
    rmSync(join(work, 'report'), { recursive: true, force: true });
    return { error: { code: err instanceof CustodyError ? err.code : 'E_INTERNAL', message: messageOf(err) } };
  }
}
