import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { deferred } from '../../pipeline/once.js';
import { abortError, type Connection, type Transport } from './transport.js';

/**
 * UDP (RFC 7011 §10.3): one message per datagram. The socket is connected, so the kernel
 * reports an unreachable collector (ICMP port unreachable) as a socket error some time
 * after the datagram left: `onError` hears of it and the session goes on. A send that
 * fails outright rejects its write (that message is lost).
 */
export class UdpTransport implements Transport {
  readonly name = 'udp';
  readonly refreshesTemplates = true;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onError: (error: Error) => void = () => {},
  ) {}

  async open(signal: AbortSignal): Promise<Connection> {
    const { address, family } = await lookup(this.host);
    if (signal.aborted) throw abortError(signal);
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(this.port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      socket.close();
      throw error;
    });
    return new UdpConnection(socket, this.onError);
  }
}

class UdpConnection implements Connection {
  readonly kind = 'datagram';
  readonly #ended = deferred<Error | undefined>();
  readonly ended = this.#ended.promise;
  #closed = false;
  #socketOpen = true;

  constructor(
    private readonly socket: Socket,
    onError: (error: Error) => void,
  ) {
    socket.on('error', onError);
    socket.on('close', () => {
      this.#socketOpen = false;
      this.#end(undefined);
    });
  }

  write(message: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error('socket closed'));
      this.socket.send(message, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    this.#end(undefined);
    if (this.#socketOpen) {
      this.#socketOpen = false;
      this.socket.close();
    }
    return Promise.resolve();
  }

  #end(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended.resolve(error);
  }
}
