import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RecordAccounting } from '../../pipeline/telemetry.js';
import { MetricsSnapshot, accountingViolations, stageAccount } from './accounting.js';
import { spawnCli, type CliRun } from './cli.js';
import type { TestCollector } from './ipfix-collector.js';
import { valueOf } from './ipfix-decode.js';

/**
 * What the fault-injection tests share: EVE lines whose transactions can be found again at
 * the far end, a Suricata client, and the agent as a real process (the built CLI) whose
 * /metrics is scraped like Prometheus would.
 */

const epochUs = Date.UTC(2026, 10, 26, 12) * 1000;

export interface HttpLineOptions {
  /** Identifies the test run: part of every URL. */
  readonly tag: string;
  /** Transaction number within the run: the URL is `/<tag>/<n>`. */
  readonly n: number;
  readonly srcIp?: string;
  readonly dstIp?: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** Suricata flow id; default: one flow per transaction (so one L7-only record each). */
  readonly flowId?: number;
  readonly txId?: number;
}

/** One EVE `http` line as Suricata writes it (compact JSON, `event_type` early). */
export function httpLine(o: HttpLineOptions): string {
  const timestamp = new Date((epochUs + o.n * 1000) / 1000).toISOString().replace('Z', '+0000');
  return JSON.stringify({
    timestamp,
    flow_id: o.flowId ?? 1_000_000 + o.n,
    in_iface: 'tap0',
    event_type: 'http',
    src_ip: o.srcIp ?? '10.20.0.1',
    src_port: o.srcPort ?? 40_000 + (o.n % 20_000),
    dest_ip: o.dstIp ?? '10.20.0.2',
    dest_port: o.dstPort ?? 8080,
    proto: 'TCP',
    tx_id: o.txId ?? 0,
    http: {
      hostname: 'web.fault.test',
      url: `/${o.tag}/${o.n}`,
      http_user_agent: 'curl/8.5.0',
      http_content_type: 'text/plain',
      http_method: 'GET',
      protocol: 'HTTP/1.1',
      status: 200,
      length: 6,
    },
  });
}

/** `count` transactions from `from`, one line each, newline-terminated. */
export function httpLines(tag: string, from: number, count: number, extra: Partial<HttpLineOptions> = {}): string {
  let text = '';
  for (let n = from; n < from + count; n++) text += `${httpLine({ tag, n, ...extra })}\n`;
  return text;
}

/** Lines that are not EVE at all: each is counted as `malformed`, nothing else. */
export const garbageLines = [
  'not json at all',
  '{"event_type":',
  '\u0000\u0001\u0002 binary noise \u00ff',
  '[1,2,3]',
  '{"timestamp": "2026-11-26T12:00:00+0000", "unterminated": "',
];

/** The transaction number in a URL written by httpLine, for `tag`. */
export function transactionOf(tag: string, url: string | undefined): number | undefined {
  const match = url === undefined ? null : new RegExp(`^/${tag}/(\\d+)$`).exec(url);
  return match ? Number(match[1]) : undefined;
}

/** A Suricata unix_stream client: connects, writes, and ends (waiting until the agent closed its side). */
export async function sendEve(path: string, text: string | Buffer): Promise<void> {
  const socket = await openEve(path);
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.end(text);
  });
}

export function openEve(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A temporary directory named for the fault suite; remove() deletes it. */
export async function faultDir(name: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `l7fault-${name}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * The agent as users run it: `l7flow run --config FILE`, a separate process, /metrics on a
 * port of its own. stop() sends SIGTERM; kill() is for afterAll and never leaves it running.
 */
export class AgentProcess {
  private constructor(
    readonly run: CliRun,
    readonly metricsAddress: string,
    readonly configPath: string,
  ) {}

  /** Writes `config` (metrics on 127.0.0.1:0 unless set) and starts the agent; resolves once it logged that it started. */
  static async start(dir: string, config: Record<string, unknown>, timeoutMs = 20_000): Promise<AgentProcess> {
    const service = (config.service ?? {}) as Record<string, unknown>;
    const full = {
      ...config,
      service: { telemetry: { metrics: { address: '127.0.0.1:0' } }, ...service },
    };
    const configPath = join(dir, 'agent.yaml');
    await writeFile(configPath, stringify(full));
    const run = spawnCli(['run', '--config', configPath]);
    try {
      const started = await Promise.race([
        run.waitForLog((l) => l.msg === 'l7flow started', timeoutMs),
        run.exit.then(({ code }) => {
          throw new Error(`agent exited (${code}) before it started:\n${run.stderr.join('\n')}`);
        }),
      ]);
      return new AgentProcess(run, String(started.metrics), configPath);
    } catch (error) {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      throw error;
    }
  }

  get pid(): number {
    return this.run.child.pid ?? 0;
  }

  get running(): boolean {
    return this.run.child.exitCode === null && this.run.child.signalCode === null;
  }

  scrape(): Promise<MetricsSnapshot> {
    return MetricsSnapshot.scrape(this.metricsAddress);
  }

  /** Scrapes and returns the snapshot after checking every accounting identity on it. */
  async checkedScrape(): Promise<MetricsSnapshot> {
    const snapshot = await this.scrape();
    const problems = accountingViolations(snapshot);
    if (problems.length > 0) throw new Error(`accounting identities broken:\n  ${problems.join('\n  ')}`);
    return snapshot;
  }

  /** Polls /metrics until `condition` holds on a snapshot (each one checked); returns that snapshot. */
  async waitForMetrics(
    what: string,
    condition: (snapshot: MetricsSnapshot) => boolean,
    timeoutMs = 20_000,
  ): Promise<MetricsSnapshot> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const snapshot = await this.checkedScrape();
      if (condition(snapshot)) return snapshot;
      if (Date.now() > deadline)
        throw new Error(`${what}: not met within ${timeoutMs} ms; last scrape:\n${summary(snapshot)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Scrapes every `everyMs` in the background and checks every identity on each scrape, until
   * stop(), which reports how many scrapes there were and every violation seen.
   */
  monitor(everyMs = 250): { stop(): Promise<{ scrapes: number; violations: string[] }> } {
    let scrapes = 0;
    let stopped = false;
    const violations: string[] = [];
    const loop = (async () => {
      while (!stopped) {
        try {
          const snapshot = await this.scrape();
          scrapes++;
          for (const problem of accountingViolations(snapshot)) violations.push(`scrape ${scrapes}: ${problem}`);
        } catch (error) {
          if (!stopped && this.running) violations.push(`scrape failed: ${String(error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return { scrapes, violations };
      },
    };
  }

  /** Each component's final accounting, from the stop lines the agent logged as it exited. */
  finalAccounting(): Map<string, RecordAccounting> {
    const out = new Map<string, RecordAccounting>();
    for (const line of this.run.logs) {
      if (typeof line.msg === 'string' && line.msg.endsWith(' stopped') && typeof line.component === 'string')
        out.set(line.component, line.records as RecordAccounting);
    }
    return out;
  }

  /** Log lines (JSON) the agent wrote, optionally of one component. */
  logs(component?: string): Record<string, unknown>[] {
    return component === undefined ? this.run.logs : this.run.logs.filter((l) => l.component === component);
  }

  /** SIGTERM; resolves with the exit code and how long the agent took to exit. */
  async stop(): Promise<{ code: number | null; ms: number }> {
    const began = Date.now();
    this.run.child.kill('SIGTERM');
    const { code } = await this.run.exit;
    return { code, ms: Date.now() - began };
  }

  /** For afterAll: SIGKILL if still running, and wait for the exit. */
  async kill(): Promise<void> {
    if (this.running) this.run.child.kill('SIGKILL');
    await this.run.exit;
  }
}

/**
 * A TCP relay in front of a server, to make that server unreachable and reachable again on
 * the same address: cut() stops listening and drops every relayed connection (clients get
 * ECONNREFUSED), restore() listens again on the same port.
 */
export class TcpRelay {
  readonly #connections = new Set<Socket>();
  #server: Server | undefined;

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpRelay> {
    const relay = new TcpRelay(await freePort(), target);
    await relay.restore();
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async restore(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.#connections.add(socket);
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
        socket.on('close', () => this.#connections.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#connections) socket.destroy();
    this.#connections.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A port that was free a moment ago (bound, then released), for a server started later. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * The transaction numbers (of run `tag`) in the flow records a test collector decoded, one
 * entry per time a transaction arrived: Antrea's httpVals keys each transaction's fields.
 */
export function ipfixTransactions(collector: TestCollector, tag: string): number[] {
  const found: number[] = [];
  for (const record of collector.records) {
    const httpVals = valueOf(record, 'httpVals');
    if (typeof httpVals !== 'string' || httpVals === '') continue;
    for (const tx of Object.values(JSON.parse(httpVals) as Record<string, { url?: string }>)) {
      const n = transactionOf(tag, tx.url);
      if (n !== undefined) found.push(n);
    }
  }
  return found;
}

/** 0, 1, ... n-1: the transaction numbers a run of `n` sent. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** One line per component: its accounting terms, for failure messages. */
export function summary(snapshot: MetricsSnapshot): string {
  return snapshot
    .components()
    .map((component) => `  ${component}: ${JSON.stringify(stageAccount(snapshot, component))}`)
    .join('\n');
}
