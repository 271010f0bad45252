import { rename, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { spawnCli, type CliRun } from './cli.js';
import { monotonicMs } from './perf-sinks.js';
import type { EveChunk, Workload } from './perf-workload.js';

/**
 * l7flow as a real process under load, for the overload test and the whole-pipeline benchmark:
 * its configuration (EVE over a Unix socket and conntrack from a procfs-format file, through
 * k8s_l7 and flow_join, to IPFIX over UDP and OTLP over gRPC), its /metrics, an EVE producer,
 * and a /metrics probe on a thread of its own.
 */

export interface AgentLayout {
  /** Temporary directory holding the socket, the conntrack table, the pods file and the config. */
  readonly dir: string;
  readonly ipfixEndpoint: string;
  readonly otlpEndpoint: string;
  /** Bounds of the run; the defaults are the agent's own unless given. */
  readonly bounds: AgentBounds;
  readonly activeTimeout?: string;
  readonly pollInterval?: string;
  /** OTLP export deadline (default 5s) and whether failed exports are retried (default not). */
  readonly otlpTimeout?: string;
  readonly otlpRetry?: boolean;
}

/** Every bound that limits the agent's memory (see docs/overload.md). */
export interface AgentBounds {
  /** suricata_eve max_line_bytes and socket.max_clients. */
  readonly maxLineBytes: number;
  readonly maxClients: number;
  /** suricata_eve batch_size (events in flight from one client). */
  readonly eveBatch: number;
  /** flow_join */
  readonly maxConnections: number;
  readonly maxPending: number;
  readonly maxTransactionsPerFlow: number;
  readonly maxHeldTransactions: number;
  /** The graph's sending_queue in front of each exporter (records). */
  readonly sendingQueue: number;
  readonly sendingBatch: number;
  /** otlp queue.size (spans, and separately logs), batch, consumers. */
  readonly otlpQueue: number;
  readonly otlpBatch: number;
  readonly otlpConsumers: number;
  /** ipfix queue_size (messages) and message size (octets). */
  readonly ipfixQueue: number;
  readonly ipfixMessageSize: number;
  /** k8s_l7 max_pods */
  readonly maxPods: number;
}

export const paths = (dir: string) => ({
  socket: join(dir, 'eve.sock'),
  conntrack: join(dir, 'nf_conntrack'),
  pods: join(dir, 'pods.yaml'),
  config: join(dir, 'l7flow.yaml'),
});

/** The agent's configuration for a load run. */
export function agentConfig(layout: AgentLayout): string {
  const p = paths(layout.dir);
  const b = layout.bounds;
  const sendingQueue = `sending_queue: { queue_size: ${b.sendingQueue}, batch_size: ${b.sendingBatch} }`;
  return `receivers:
  suricata_eve:
    socket: { path: ${JSON.stringify(p.socket)}, max_clients: ${b.maxClients} }
    max_line_bytes: ${b.maxLineBytes}
    batch_size: ${b.eveBatch}
  conntrack: { source: procfs, procfs_path: ${JSON.stringify(p.conntrack)}, poll_interval: ${layout.pollInterval ?? '5s'} }
processors:
  k8s_l7: { pods: file, pods_file: ${JSON.stringify(p.pods)}, mirror: { mode: none }, post_events: false, max_pods: ${b.maxPods} }
  flow_join:
    active_timeout: ${layout.activeTimeout ?? '1s'}
    idle_timeout: 60s
    max_connections: ${b.maxConnections}
    max_pending: ${b.maxPending}
    max_transactions_per_flow: ${b.maxTransactionsPerFlow}
    max_held_transactions: ${b.maxHeldTransactions}
exporters:
  ipfix:
    endpoint: ${layout.ipfixEndpoint}
    transport: udp
    observation_domain_id: 1
    queue_size: ${b.ipfixQueue}
    max_message_size: ${b.ipfixMessageSize}
    ${sendingQueue}
  otlp:
    endpoint: ${layout.otlpEndpoint}
    tls: { insecure: true }
    compression: none
    node_name: load-node
    queue: { size: ${b.otlpQueue}, num_consumers: ${b.otlpConsumers} }
    batch: { send_batch_size: ${b.otlpBatch}, timeout: 50ms }
    timeout: ${layout.otlpTimeout ?? '5s'}
    retry_on_failure: { enabled: ${layout.otlpRetry ?? false} }
    ${sendingQueue}
service:
  telemetry: { metrics: { address: 127.0.0.1:0 }, logs: { level: info } }
  shutdown_timeout: 5s
  pipelines:
    flows:
      receivers: [suricata_eve, conntrack]
      processors: [k8s_l7, flow_join]
      exporters: [ipfix, otlp]
`;
}

/** Writes a file in one step (a reader never sees half of it). */
export async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

export interface RunningAgent {
  readonly run: CliRun;
  readonly metricsUrl: string;
  readonly pid: number;
}

/**
 * Node options that make the agent run a full garbage collection on SIGUSR2 (collectGarbage),
 * so that a benchmark reads its live heap rather than live data plus garbage. Test-only: the
 * agent itself has no such hook. (No spaces or quotes: NODE_OPTIONS splits on them.)
 */
const gcOnSignal = '--expose-gc --import=data:text/javascript,process.on(`SIGUSR2`,()=>globalThis.gc())';

/** Writes the files of `layout` and starts `l7flow run` on them; resolves once it started. */
export async function startAgent(
  layout: AgentLayout,
  workload: Workload,
  table = '',
  options: { gcOnSignal?: boolean } = {},
): Promise<RunningAgent> {
  const p = paths(layout.dir);
  await writeFile(p.pods, workload.podsYaml());
  await replaceFile(p.conntrack, table);
  await writeFile(p.config, agentConfig(layout));
  const run = spawnCli(['run', '--config', p.config], options.gcOnSignal ? { NODE_OPTIONS: gcOnSignal } : {});
  const started = await run.waitForLog((l) => l.msg === 'l7flow started' || l.msg === 'l7flow failed to start', 30_000);
  if (started.msg !== 'l7flow started') throw new Error(`l7flow failed to start:\n${run.stderr.join('\n')}`);
  return { run, metricsUrl: `http://${String(started.metrics)}/metrics`, pid: run.child.pid ?? 0 };
}

/** Makes an agent started with `gcOnSignal` collect its garbage; resolves after a pause. */
export async function collectGarbage(agent: RunningAgent): Promise<void> {
  process.kill(agent.pid, 'SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 500));
}

/** Stops the agent with SIGTERM (SIGKILL after `graceMs`); resolves with its exit code. */
export async function stopAgent(agent: RunningAgent, graceMs = 15_000): Promise<number | null> {
  if (agent.run.child.exitCode !== null) return agent.run.child.exitCode;
  agent.run.child.kill('SIGTERM');
  const timer = setTimeout(() => agent.run.child.kill('SIGKILL'), graceMs);
  const { code } = await agent.run.exit;
  clearTimeout(timer);
  return code;
}

/** One scrape of the Prometheus text format. */
export class Metrics {
  constructor(readonly samples: readonly { name: string; labels: Record<string, string>; value: number }[]) {}

  static parse(text: string): Metrics {
    const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
      if (!match) continue;
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels[pair[1] ?? ''] = pair[2] ?? '';
      samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
    }
    return new Metrics(samples);
  }

  /** The sum of the samples of `name` whose labels include `labels`. */
  value(name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const s of this.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  /** `l7flow_records_dropped_total` by `component/reason`, non-zero ones only. */
  drops(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples) {
      if (s.name === 'l7flow_records_dropped_total' && s.value > 0)
        out[`${s.labels.component}/${s.labels.reason}`] = s.value;
    }
    return out;
  }
}

/** Records held anywhere but the connection store (which holds connections, not records in transit). */
export function inTransit(m: Metrics): number {
  return m.samples
    .filter((s) => s.name === 'l7flow_queue_size' && s.labels.queue !== 'connections')
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string, timeoutMs = 10_000): Promise<Metrics> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return Metrics.parse(await response.text());
}

/**
 * Suricata's side of the EVE socket. `write` waits for the socket to drain (a blocking
 * producer); `offer` never waits: when more than `limitBytes` are still buffered it drops the
 * chunk and counts it, as Suricata's non-blocking unix_stream output does when its reader is
 * slow (reference/peers.md).
 */
export class EveProducer {
  /** When each marker was handed to the socket (monotonicMs). */
  readonly markersSent = new Map<number, number>();
  readonly written = { lines: 0, http: 0, malformed: 0 };
  readonly refused = { lines: 0, http: 0, malformed: 0 };

  private constructor(private readonly socket: Socket) {}

  static async connect(path: string): Promise<EveProducer> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.once('error', reject);
    });
    return new EveProducer(socket);
  }

  async write(chunk: EveChunk): Promise<void> {
    this.#send(chunk);
    if (this.socket.writableNeedDrain) await new Promise((resolve) => this.socket.once('drain', resolve));
  }

  /** Writes the chunk unless `limitBytes` are already waiting; returns whether it was written. */
  offer(chunk: EveChunk, limitBytes: number): boolean {
    if (this.socket.writableLength > limitBytes) {
      this.refused.lines += chunk.lines;
      this.refused.http += chunk.http;
      this.refused.malformed += chunk.malformed;
      return false;
    }
    this.#send(chunk);
    return true;
  }

  /** Resolves once everything written has left for the kernel. */
  async flushed(): Promise<void> {
    while (this.socket.writableLength > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.end(() => resolve()));
  }

  #send(chunk: EveChunk): void {
    const now = monotonicMs();
    for (const marker of chunk.markers) this.markersSent.set(marker, now);
    this.written.lines += chunk.lines;
    this.written.http += chunk.http;
    this.written.malformed += chunk.malformed;
    this.socket.write(chunk.bytes);
  }
}

export interface ProbeResult {
  /** Response times of every scrape, in ms, in order. */
  readonly latenciesMs: readonly number[];
  /** Scrapes that failed or took longer than the timeout. */
  readonly failures: number;
  readonly maxMs: number;
}

/**
 * Scrapes `url` every `intervalMs` on a worker thread (its own event loop, so the load on
 * this thread does not delay it) until stopped. A scrape slower than `timeoutMs` counts as
 * a failure.
 */
export function startProbe(url: string, intervalMs: number, timeoutMs: number): { stop(): Promise<ProbeResult> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const latencies = []; let failures = 0; let running = true;
     parentPort.on('message', () => { running = false; });
     (async () => {
       while (running) {
         const began = performance.now();
         try {
           const response = await fetch(workerData.url, { signal: AbortSignal.timeout(workerData.timeoutMs) });
           await response.text();
           if (!response.ok) failures++;
         } catch { failures++; }
         const took = performance.now() - began;
         latencies.push(took);
         await new Promise((r) => setTimeout(r, Math.max(0, workerData.intervalMs - took)));
       }
       parentPort.postMessage({ latencies, failures });
     })();`,
    { eval: true, workerData: { url, intervalMs, timeoutMs } },
  );
  return {
    async stop() {
      const done = new Promise<{ latencies: number[]; failures: number }>((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      const { latencies, failures } = await done;
      await worker.terminate();
      return { latenciesMs: latencies, failures, maxMs: Math.max(0, ...latencies) };
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** Latencies in ms of the markers that arrived: arrival minus hand-over to the socket. */
export function markerLatencies(sent: ReadonlyMap<number, number>, arrived: ReadonlyMap<number, number>): number[] {
  const out: number[] = [];
  for (const [marker, at] of arrived) {
    const began = sent.get(marker);
    if (began !== undefined) out.push(at - began);
  }
  return out;
}
