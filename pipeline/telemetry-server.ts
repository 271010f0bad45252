import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, parseHostPort } from '../config/address.js';
import type { Telemetry } from './telemetry.js';

export interface Probes {
  /** Liveness: false once the agent is failing and about to exit. */
  healthy(): boolean;
  readiness(): { ready: boolean; waiting: readonly string[] };
}

/**
 * The agent's own HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (200 while
 * the agent is alive and not failing) and `/readyz` (200 once every component has started and
 * reports ready; 503 with the ids still waiting otherwise).
 */
export class TelemetryServer {
  readonly #server: Server;
  #address: string | undefined;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly probes: Probes,
  ) {
    this.#server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      switch (path) {
        case '/metrics':
          this.telemetry.registry.metrics().then(
            (text) => response.writeHead(200, { 'content-type': this.telemetry.registry.contentType }).end(text),
            (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
          );
          return;
        case '/healthz': {
          const healthy = this.probes.healthy();
          response.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok\n' : 'failing\n');
          return;
        }
        case '/readyz': {
          const { ready, waiting } = this.probes.readiness();
          const body = ready ? 'ready\n' : `not ready: ${waiting.join(', ')}\n`;
          response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
          return;
        }
        default:
          response.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics, /healthz or /readyz\n');
      }
    });
  }

  /** The bound address (with the real port when the configured one was 0). */
  get address(): string | undefined {
    return this.#address;
  }

  async listen(address: string): Promise<string> {
    const hostPort = parseHostPort(address);
    if (!hostPort) throw new Error(`invalid listen address ${JSON.stringify(address)}`);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: hostPort.host || undefined, port: hostPort.port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const bound = this.#server.address() as AddressInfo;
    this.#address = formatHostPort({ host: bound.address, port: bound.port });
    return this.#address;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
