/**
 * The agent's end of the control socket (src/net/agent-control.ts says why it exists and what goes
 * over it). Listens on `agent.sock` in the store folder and answers `seal` with a checkpoint of
 * everything appended so far. Requests are served one at a time, with bounded input and a short
 * deadline, so a client that connects and says nothing holds nothing; at most one seal a second
 * is signed (a flood of requests cannot grow the checkpoint table faster than the policy would).
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { messageOf } from '../src/errors.js';
import { controlSocketPath, MAX_SOCKET_PATH, onFirstLine, type SealAnswer } from '../src/net/agent-control.js';
import type { Logger } from './logger.js';

const CLIENT_DEADLINE_MS = 2_000;
const MIN_SEAL_INTERVAL_MS = 1_000;

export interface ControlHandlers {
  /** Seals everything appended so far; returns the checkpoint that covers it. */
  seal: () => { tree_size: number; id: number; created_at: string };
}

export class ControlSocket {
  private server: Server | undefined;
  private lastSeal: { atMs: number; answer: SealAnswer } | undefined;

  private constructor(
    private readonly path: string,
    private readonly handlers: ControlHandlers,
    private readonly logger: Logger,
  ) {}

  /** Starts listening; logs and returns undefined where it cannot (the agent runs on without it). */
  static async start(storeDir: string, handlers: ControlHandlers, logger: Logger): Promise<ControlSocket | undefined> {
    const path = controlSocketPath(storeDir);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      logger.warn({ evt: 'control.unavailable', path, reason: 'path too long' }, `the control socket path is longer than ${MAX_SOCKET_PATH} bytes; collect cannot ask this agent to seal`);
      return undefined;
    }
    // Only this agent holds the store's writer lock, so a socket file here is a dead agent's.
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path);
    } catch {
      // not there
    }
    const control = new ControlSocket(path, handlers, logger);
    try {
      await control.listen();
      return control;
    } catch (err) {
      logger.warn({ evt: 'control.unavailable', path, err: messageOf(err) }, 'the control socket could not be opened; collect cannot ask this agent to seal');
      return undefined;
    }
  }

  private listen(): Promise<void> {
    const server = createServer({ allowHalfOpen: false }, (socket) => this.serve(socket));
    server.maxConnections = 8;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.warn({ evt: 'control.error', err: messageOf(err) }, 'control socket error'));
        try {
          chmodSync(this.path, 0o660);
        } catch {
          // The folder's own mode (0750) still guards it.
        }
        server.unref();
        resolve();
      });
    });
  }

  private serve(socket: Socket): void {
    const deadline = setTimeout(() => socket.destroy(), CLIENT_DEADLINE_MS);
    deadline.unref();
    socket.on('error', () => undefined);
    socket.on('close', () => clearTimeout(deadline));
    onFirstLine(
      socket,
      (line) => {
        const answer: SealAnswer = line.trim() === 'seal' ? this.seal() : { ok: false, error: 'unknown request' };
        socket.end(`${JSON.stringify(answer)}\n`);
      },
      () => socket.destroy(),
    );
  }

  private seal(): SealAnswer {
    const now = performance.now();
    if (this.lastSeal !== undefined && now - this.lastSeal.atMs < MIN_SEAL_INTERVAL_MS) return this.lastSeal.answer;
    let answer: SealAnswer;
    try {
      const checkpoint = this.handlers.seal();
      answer = { ok: true, tree_size: checkpoint.tree_size, checkpoint_id: checkpoint.id, created_at: checkpoint.created_at };
      this.logger.info({ evt: 'control.sealed', tree_size: checkpoint.tree_size, checkpoint: checkpoint.id }, 'sealed on request (collect)');
    } catch (err) {
      answer = { ok: false, error: messageOf(err) };
      this.logger.warn({ evt: 'control.seal_failed', err: messageOf(err) }, 'a seal request could not be served');
    }
    this.lastSeal = { atMs: now, answer };
    return answer;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
