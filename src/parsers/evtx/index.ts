/** Windows event log (EVTX) files, read from bytes on any OS. See reader.ts for why this is our own. */
export { readEvtx, EVTX_PARSER } from './reader.js';
export type { EvtxEvent, EvtxInfo, EvtxReadResult } from './reader.js';
export { toRfc3339Micros } from './bytes.js';
