import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { IpfixDecoder, type DecodedMessage, type DecodedRecord } from './ipfix-decode.js';

/** What one transport session delivered, decoded by the independent test decoder. */
export interface CollectedSession {
  readonly messages: DecodedMessage[];
  readonly errors: string[];
}

/**
 * A real IPFIX collecting process on loopback for tests: UDP (one session), or TCP / TLS
 * (a session per connection, messages framed by their Length field). Everything it
 * receives goes through IpfixDecoder; decode errors are kept, never thrown.
 */
export class TestCollector {
  readonly sessions: CollectedSession[] = [];
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server | UdpSocket,
    readonly port: number,
  ) {}

  static async udp(port = 0): Promise<TestCollector> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
    const collector = new TestCollector(socket, socket.address().port);
    const session: CollectedSession = { messages: [], errors: [] };
    collector.sessions.push(session);
    const decoder = new IpfixDecoder();
    socket.on('message', (datagram) => collect(session, decoder.decodeMessage(datagram)));
    return collector;
  }

  /** TCP, or TLS when `tls` is given; `port` re-listens on a known port (a collector restart). */
  static async tcp(options: { port?: number; tls?: TlsOptions } = {}): Promise<TestCollector> {
    const accepted: { by?: TestCollector } = {};
    const onConnection = (socket: Socket) => accepted.by?.accept(socket);
    const server = options.tls ? createTlsServer(options.tls, onConnection) : createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    accepted.by = new TestCollector(server, typeof address === 'object' && address ? address.port : 0);
    return accepted.by;
  }

  get messages(): DecodedMessage[] {
    return this.sessions.flatMap((s) => s.messages);
  }

  get records(): DecodedRecord[] {
    return this.messages.flatMap((m) => m.records);
  }

  get errors(): string[] {
    return this.sessions.flatMap((s) => s.errors);
  }

  /** Polls `predicate` until it holds; rejects after `timeoutMs` with `what` in the message. */
  async waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`collector: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops listening and drops every connection (what a crashing collector does). */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    if ('listen' in this.server) await new Promise<void>((resolve) => (this.server as Server).close(() => resolve()));
    else await new Promise<void>((resolve) => (this.server as UdpSocket).close(resolve));
  }

  /** Takes over one accepted connection as a new session. */
  accept(socket: Socket): void {
    this.#sockets.add(socket);
    const session: CollectedSession = { messages: [], errors: [] };
    this.sessions.push(session);
    const decoder = new IpfixDecoder();
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUInt16BE(2);
        if (length < 16) {
          session.errors.push(`bad message length ${length}`);
          socket.destroy();
          return;
        }
        if (pending.length < length) break;
        collect(session, decoder.decodeMessage(pending.subarray(0, length)));
        pending = pending.subarray(length);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

function collect(session: CollectedSession, decoded: ReturnType<IpfixDecoder['decodeMessage']>): void {
  if (decoded.ok) session.messages.push(decoded.value);
  else session.errors.push(decoded.error);
}
