/**
 * The agent's control socket: how `custody collect` asks a running agent to seal its store before
 * taking the snapshot, so a fresh bundle's stores are sealed up to their last record instead of
 * carrying whatever the agent appended since its last periodic checkpoint (issue 11, item 11).
 *
 * A Unix socket `agent.sock` in the store folder (mode 0750, the agent's own): only who may read the
 * store may ask, and no other local user can squat the name as they could an abstract socket. One
 * request per connection, one line each way:
 *   → `seal\n`
 *   ← `{"ok":true,"tree_size":N,"checkpoint_id":I,"created_at":"…"}\n`  or  `{"ok":false,"error":"…"}\n`
 * The answer is not trusted by anyone: the collector reads the snapshot and verifies it like any
 * other. A missing, stale or silent socket only means the bundle may carry an unsealed tail, which
 * the collect summary then says.
 */
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

export const CONTROL_SOCKET = 'agent.sock';
/** Longest request or answer line read; anything longer is not one of ours. */
export const MAX_CONTROL_LINE = 4096;
/** Unix socket paths longer than this do not fit sockaddr_un on Linux (108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

export interface SealAnswer {
  ok: boolean;
  tree_size?: number;
  checkpoint_id?: number;
  created_at?: string;
  error?: string;
}

/** What asking the agent gave: `sealed` (with its answer), `no_agent` (no socket, or nobody listening), `no_answer` (it did not answer in time, or answered nonsense). */
export type SealRequestResult =
  | { state: 'sealed'; treeSize: number; checkpointId: number | undefined }
  | { state: 'no_agent'; detail: string }
  | { state: 'no_answer'; detail: string };

export function controlSocketPath(storeDir: string): string {
  return join(storeDir, CONTROL_SOCKET);
}

/**
 * Calls `onLine` with the first line the socket sends (without its '\n'), or `onTooLong` once more
 * than MAX_CONTROL_LINE characters came without one: each side of the socket reads one line.
 */
export function onFirstLine(socket: Socket, onLine: (line: string) => void, onTooLong: () => void): void {
  let received = '';
  let done = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (done) return;
    received += chunk;
    const end = received.indexOf('\n');
    if (end >= 0) {
      done = true;
      onLine(received.slice(0, end));
    } else if (received.length > MAX_CONTROL_LINE) {
      done = true;
      onTooLong();
    }
  });
}

/** Parses the agent's answer line; undefined when it is not a well-formed answer. */
export function parseSealAnswer(line: string): SealAnswer | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || typeof (value as { ok?: unknown }).ok !== 'boolean') return undefined;
  const v = value as Record<string, unknown>;
  const answer: SealAnswer = { ok: v['ok'] as boolean };
  if (Number.isSafeInteger(v['tree_size'])) answer.tree_size = v['tree_size'] as number;
  if (Number.isSafeInteger(v['checkpoint_id'])) answer.checkpoint_id = v['checkpoint_id'] as number;
  if (typeof v['created_at'] === 'string') answer.created_at = v['created_at'];
  if (typeof v['error'] === 'string') answer.error = v['error'];
  return answer;
}

/** Asks the agent of `storeDir`, if one is running, to seal everything it has appended; waits up to `timeoutMs`. */
export function requestSeal(storeDir: string, timeoutMs = 5_000): Promise<SealRequestResult> {
  const path = controlSocketPath(storeDir);
  if (!existsSync(path)) return Promise.resolve({ state: 'no_agent', detail: `no ${CONTROL_SOCKET} in the store folder (no agent running there, or an agent older than this collector)` });
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return Promise.resolve({ state: 'no_agent', detail: `the socket path is longer than ${MAX_SOCKET_PATH} bytes` });
  return new Promise((resolve) => {
    let settled = false;
    const socket = createConnection(path);
    const finish = (result: SealRequestResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ state: 'no_answer', detail: `the agent did not answer within ${timeoutMs / 1000} s` }), timeoutMs);
    socket.on('connect', () => socket.write('seal\n'));
    onFirstLine(
      socket,
      (line) => {
        const answer = parseSealAnswer(line);
        if (answer === undefined) finish({ state: 'no_answer', detail: 'the agent answered something that is not a seal answer' });
        else if (!answer.ok || answer.tree_size === undefined) finish({ state: 'no_answer', detail: `the agent could not seal: ${answer.error ?? 'no reason given'}` });
        else finish({ state: 'sealed', treeSize: answer.tree_size, checkpointId: answer.checkpoint_id });
      },
      () => finish({ state: 'no_answer', detail: 'the agent answered with an over-long line' }),
    );
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A socket file with nobody listening: an agent that died without removing it.
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') finish({ state: 'no_agent', detail: `nobody listens on ${CONTROL_SOCKET} (${err.code}): the agent is not running` });
      else finish({ state: 'no_answer', detail: `${err.code ?? 'error'}: ${err.message}` });
    });
    socket.on('close', () => finish({ state: 'no_answer', detail: 'the agent closed the connection without an answer' }));
  });
}
