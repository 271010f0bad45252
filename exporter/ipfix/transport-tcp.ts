import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { deferred } from '../../pipeline/once.js';
import { abortError, type Connection, type Transport } from './transport.js';

export interface TlsSettings {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly serverName: string;
  readonly insecureSkipVerify: boolean;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface StreamSettings {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  /** A write that makes no progress for this long ends the session (a collector that stopped reading). */
  readonly writeTimeoutMs: number;
  /** TLS over TCP (RFC 7011 §11); absent for plain TCP. */
  readonly tls?: TlsSettings;
}

/**
 * TCP and TLS (RFC 7011 §10.4, §11): messages back to back on one connection, framed by
 * their Length field. Certificates are read from disk at every connection, so rotated
 * files are picked up on the next reconnect.
 */
export class StreamTransport implements Transport {
  readonly name: 'tcp' | 'tls';
  readonly refreshesTemplates = false;

  constructor(private readonly settings: StreamSettings) {
    this.name = settings.tls ? 'tls' : 'tcp';
  }

  async check(): Promise<void> {
    if (this.settings.tls) await tlsOptions(this.settings.host, this.settings.tls);
  }

  async open(signal: AbortSignal): Promise<Connection> {
    const { host, port, tls, connectTimeoutMs } = this.settings;
    const secure = tls ? await tlsOptions(host, tls) : undefined;
    if (signal.aborted) throw abortError(signal);
    const socket = secure ? tlsConnect({ host, port, ...secure }) : netConnect({ host, port });
    const ready = secure ? 'secureConnect' : 'connect';
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onAbort = () => fail(abortError(signal));
      const timer = setTimeout(
        () => fail(new Error(`connect timed out after ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', fail);
        socket.off(ready, onReady);
      };
      const onReady = () => {
        cleanup();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', fail);
      socket.once(ready, onReady);
    });
    return new StreamConnection(socket, this.settings.writeTimeoutMs);
  }
}

async function tlsOptions(host: string, tls: TlsSettings): Promise<ConnectionOptions> {
  const read = (path: string) => (path === '' ? undefined : readFile(path));
  const [ca, cert, key] = await Promise.all([read(tls.caFile), read(tls.certFile), read(tls.keyFile)]);
  const serverName = tls.serverName !== '' ? tls.serverName : isIP(host) === 0 ? host : undefined;
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    // SNI carries names only (RFC 6066 §3); an IP endpoint is still verified against the certificate.
    ...(serverName !== undefined ? { servername: serverName } : {}),
    rejectUnauthorized: !tls.insecureSkipVerify,
    minVersion: tls.minVersion,
  };
}

class StreamConnection implements Connection {
  readonly kind = 'stream';
  readonly #ended = deferred<Error | undefined>();
  readonly ended = this.#ended.promise;
  #lastError: Error | undefined;
  #done = false;

  constructor(
    private readonly socket: Socket,
    writeTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(writeTimeoutMs);
    // A collector sends nothing; read (and discard) anyway to notice when it closes.
    socket.on('data', () => {});
    socket.on('end', () => socket.destroy(new Error('collector closed the connection')));
    socket.on('timeout', () => {
      if (socket.writableLength > 0)
        socket.destroy(new Error(`no write progress for ${writeTimeoutMs} ms (collector not reading)`));
    });
    socket.on('error', (error) => (this.#lastError = error));
    socket.on('close', () => this.#finish(this.#lastError ?? new Error('connection closed')));
  }

  write(message: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#done || this.socket.destroyed) return reject(this.#lastError ?? new Error('connection closed'));
      this.socket.write(message, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    this.#finish(undefined);
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      // end() flushes what the socket still buffers; destroy() if the peer never lets it.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  #finish(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#ended.resolve(error);
  }
}
