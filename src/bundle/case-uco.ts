/**
 * `case.jsonld`: the same facts as the manifest in CASE/UCO (https://caseontology.org) JSON-LD, for
 * tools that speak it. Kept small: one uco-observable:File per content file with its size and a
 * uco-types:Hash (SHA256) in a ContentDataFacet; one case-investigation:ProvenanceRecord naming
 * them; one case-investigation:InvestigativeAction (a uco-action:Action) for the collection, with
 * the collector tool, the stores it took as objects and the provenance record as its result. Node
 * identifiers are derived from content (no random UUIDs), so the same collection gives the same
 * document. Pure.
 */
import { createHash } from 'node:crypto';

export const CASE_CONTEXT = {
  kb: 'urn:custody:kb:',
  'case-investigation': 'https://ontology.caseontology.org/case/investigation/',
  'uco-action': 'https://ontology.unifiedcyberontology.org/uco/action/',
  'uco-core': 'https://ontology.unifiedcyberontology.org/uco/core/',
  'uco-identity': 'https://ontology.unifiedcyberontology.org/uco/identity/',
  'uco-observable': 'https://ontology.unifiedcyberontology.org/uco/observable/',
  'uco-tool': 'https://ontology.unifiedcyberontology.org/uco/tool/',
  'uco-types': 'https://ontology.unifiedcyberontology.org/uco/types/',
  'uco-vocabulary': 'https://ontology.unifiedcyberontology.org/uco/vocabulary/',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
} as const;

export interface CaseUcoInput {
  caseId: string;
  examiner?: string;
  note?: string;
  collector: { version: string; host: string; fingerprint: string; startedAt: string; sealedAt: string };
  hosts: Array<{ host: string; storeId: string; path: string; source: string }>;
  files: Array<{ path: string; size: number; sha256: string }>;
}

function id(kind: string, ...parts: string[]): string {
  return `kb:${kind}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;
}

const dateTime = (v: string): { '@type': string; '@value': string } => ({ '@type': 'xsd:dateTime', '@value': v });

export function caseUcoDocument(input: CaseUcoInput): object {
  const graph: object[] = [];
  const fileIds: Array<{ '@id': string }> = [];
  for (const f of input.files) {
    const fileId = id('file', input.caseId, f.path, f.sha256);
    fileIds.push({ '@id': fileId });
    const name = f.path.slice(f.path.lastIndexOf('/') + 1);
    graph.push({
      '@id': fileId,
      '@type': 'uco-observable:File',
      'uco-core:hasFacet': [
        {
          '@id': id('file-facet', fileId),
          '@type': 'uco-observable:FileFacet',
          'uco-observable:fileName': name,
          'uco-observable:filePath': f.path,
          'uco-observable:sizeInBytes': { '@type': 'xsd:integer', '@value': String(f.size) },
        },
        {
          '@id': id('content-facet', fileId),
          '@type': 'uco-observable:ContentDataFacet',
          'uco-observable:sizeInBytes': { '@type': 'xsd:integer', '@value': String(f.size) },
          'uco-observable:hash': [
            {
              '@id': id('hash', fileId),
              '@type': 'uco-types:Hash',
              'uco-types:hashMethod': { '@type': 'uco-vocabulary:HashNameVocab', '@value': 'SHA256' },
              'uco-types:hashValue': { '@type': 'xsd:hexBinary', '@value': f.sha256 },
            },
          ],
        },
      ],
    });
  }
  const storeIds = input.hosts.map((h) => {
    const storeId = id('store', h.host, h.storeId);
    graph.push({
      '@id': storeId,
      '@type': 'uco-observable:ObservableObject',
      'uco-core:name': `evidence store ${h.storeId} of host ${h.host} (${h.source})`,
      'uco-core:description': `snapshot in ${h.path}`,
    });
    return { '@id': storeId };
  });
  const toolId = id('tool', 'custody', input.collector.version);
  graph.push({ '@id': toolId, '@type': 'uco-tool:Tool', 'uco-core:name': 'custody', 'uco-tool:version': input.collector.version });
  const performer = input.examiner !== undefined ? id('examiner', input.examiner) : undefined;
  if (performer !== undefined) graph.push({ '@id': performer, '@type': 'uco-identity:Identity', 'uco-core:name': input.examiner });
  const provenanceId = id('provenance', input.caseId, input.collector.sealedAt);
  graph.push({
    '@id': provenanceId,
    '@type': 'case-investigation:ProvenanceRecord',
    'case-investigation:exhibitNumber': input.caseId,
    'uco-core:description': `custody bundle of case ${input.caseId}, sealed ${input.collector.sealedAt} by collector key ${input.collector.fingerprint}`,
    'uco-core:object': fileIds,
  });
  graph.push({
    '@id': id('investigative-action', input.caseId, input.collector.startedAt),
    '@type': 'case-investigation:InvestigativeAction',
    'uco-core:name': 'collected',
    'uco-core:description': `custody collect --case ${input.caseId} on ${input.collector.host}${input.note !== undefined ? `: ${input.note}` : ''}`,
    'uco-action:startTime': dateTime(input.collector.startedAt),
    'uco-action:endTime': dateTime(input.collector.sealedAt),
    'uco-action:instrument': { '@id': toolId },
    ...(performer !== undefined ? { 'uco-action:performer': { '@id': performer } } : {}),
    'uco-action:object': storeIds,
    'uco-action:result': [{ '@id': provenanceId }],
  });
  graph.push({
    '@id': id('investigation', input.caseId),
    '@type': 'case-investigation:Investigation',
    'uco-core:name': input.caseId,
    'uco-core:object': [{ '@id': provenanceId }],
  });
  return { '@context': CASE_CONTEXT, '@graph': graph };
}
