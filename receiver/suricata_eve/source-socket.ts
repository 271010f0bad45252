import { unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { L7Event } from '../../pipeline/records.js';
import type { BoundCounter, BoundGauge } from '../../pipeline/telemetry.js';
import type { EveStream } from './eve-stream.js';
import { listenUnixSocket } from './unix-listen.js';

export interface SocketSourceOptions {
  readonly path: string;
  /** File mode of the socket, e.g. 0o660: who may write events into the agent. */
  readonly mode: number;
  readonly maxClients: number;
  readonly newStream: () => EveStream;
  /** Hands decoded events on; the client is paused until it resolves (back-pressure). */
  readonly deliver: (events: L7Event[]) => Promise<void>;
  readonly metrics: {
    readonly connections: BoundCounter;
    readonly rejected: BoundCounter;
    readonly clients: BoundGauge;
  };
}

/**
 * A Unix stream socket server for Suricata's `filetype: unix_stream` EVE output (Suricata
 * connects; we listen). Any number of concurrent and successive clients; each is its own
 * stream, so a client that disappears mid-line costs only that partial line.
 */
export class SocketSource {
  readonly #server: Server;
  readonly #clients = new Set<Socket>();
  readonly #inFlight = new Set<Promise<void>>();
  #listening = false;

  constructor(private readonly options: SocketSourceOptions) {
    this.#server = createServer((socket) => this.#accept(socket));
    this.#server.maxConnections = options.maxClients;
    this.#server.on('drop', () => options.metrics.rejected.inc());
  }

  async start(): Promise<void> {
    await listenUnixSocket(this.#server, this.options.path, this.options.mode);
    this.#listening = true;
  }

  /** Stops accepting, ends every client (a partial line is counted as truncated), waits for
   * delivery of what was read, and removes the socket file. */
  async stop(signal?: AbortSignal): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#clients) socket.destroy();
    await closed;
    await waitAll(this.#inFlight, signal);
    await unlink(this.options.path).catch(() => {});
  }

  #accept(socket: Socket): void {
    const { metrics, newStream } = this.options;
    const stream = newStream();
    this.#clients.add(socket);
    metrics.connections.inc();
    metrics.clients.set(this.#clients.size);
    socket.on('data', (chunk: Buffer) => {
      const events = stream.push(chunk);
      if (events.length === 0) return;
      socket.pause();
      void this.#track(this.options.deliver(events)).then(() => socket.resume());
    });
    // 'close' follows 'end' and 'error' alike; it is where the client's stream ends.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#clients.delete(socket);
      metrics.clients.set(this.#clients.size);
      const events = stream.end(false);
      if (events.length > 0) void this.#track(this.options.deliver(events));
    });
  }

  #track(delivery: Promise<void>): Promise<void> {
    this.#inFlight.add(delivery);
    return delivery.finally(() => this.#inFlight.delete(delivery));
  }
}

async function waitAll(promises: ReadonlySet<Promise<void>>, signal?: AbortSignal): Promise<void> {
  if (promises.size === 0 || signal?.aborted) return;
  const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
  await Promise.race([Promise.all(promises), aborted]);
}
