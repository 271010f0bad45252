import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectGarbage,
  EveProducer,
  inTransit,
  markerLatencies,
  paths,
  percentile,
  replaceFile,
  scrape,
  startAgent,
  stopAgent,
  type AgentBounds,
  type Metrics,
  type RunningAgent,
} from '../support/perf-agent.js';
import type { SinkCounts } from '../support/perf-sinks.js';
import { Workload, type EveChunk } from '../support/perf-workload.js';
import { median, report } from './harness.js';
import type { Bench } from './run.js';

/**
 * Issue #10: the whole pipeline, as users run it. l7flow runs as its own process (`l7flow run`)
 * with EVE on its Unix socket and a 100,000-connection conntrack table (procfs format, read
 * every 5 s) through k8s_l7 and flow_join to IPFIX over UDP and OTLP over gRPC, both to
 * loopback collectors in a child process. The EVE stream mixes HTTP keep-alive transactions,
 * TLS handshakes, DNS queries and answers, and 1% malformed lines (perf-workload.ts).
 *
 * - Throughput: rounds of 20,000 HTTP transactions (with their TLS and DNS share), fed as fast
 *   as the agent exports them (at most `window` spans ahead), each round ending once every
 *   span arrived. Input records (EVE lines + conntrack entries read) per CPU-second of the
 *   agent, and EVE lines per second of wall-clock time; medians of the rounds.
 * - Latency: EVE fed at half the throughput rate for 10 s; one HTTP transaction in 50 carries
 *   a marker, timed from its hand-over to the socket to its arrival at each collector.
 *   flow_join holds a transaction until its connection's next record (active_timeout 1 s here),
 *   so this is the latency users see, not processing time alone.
 * - Memory: peak RSS over the run; heap per connection = (heap with the 100,000 connections
 *   after the run, once nothing is in transit - heap idle), both after a full collection.
 *
 * Baseline, measured in the same run on the same input: a process that only splits the EVE
 * stream into lines and JSON.parses each (keeping the last object of every flow) and reads the
 * conntrack table as often as the agent did (keeping every line): bare-json-process.ts.
 */

const connections = 100_000;
const roundTransactions = 20_000;
const rounds = 3;
const window = 5000;
const latencySeconds = 10;
const pollMs = 5000;

const bounds: AgentBounds = {
  maxLineBytes: 1024 * 1024,
  maxClients: 4,
  eveBatch: 512,
  maxConnections: 150_000,
  maxPending: 10_000,
  maxTransactionsPerFlow: 100,
  maxHeldTransactions: 1_000_000,
  // Every connection may get a record in the same expiry tick: room for all of them.
  sendingQueue: 250_000,
  sendingBatch: 1000,
  otlpQueue: 250_000,
  otlpBatch: 1024,
  otlpConsumers: 4,
  ipfixQueue: 1024,
  ipfixMessageSize: 1472,
  maxPods: 1000,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Forks a compiled sibling module with IPC; resolves with it and its first message. */
async function forkChild<T>(
  file: string,
  args: string[] = [],
  execArgv: string[] = [],
): Promise<{ child: ChildProcess; first: T }> {
  const child = fork(new URL(file, import.meta.url), args, { execArgv, stdio: 'inherit' });
  const [first] = (await once(child, 'message')) as [T];
  return { child, first };
}

async function ask<T>(child: ChildProcess, message: string): Promise<T> {
  const reply = once(child, 'message') as Promise<[T]>;
  child.send(message);
  return (await reply)[0];
}

async function close(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.send('close');
  await exited;
}

interface RoundFigures {
  readonly recordsPerCpuSecond: number;
  readonly linesPerSecond: number;
  readonly httpPerSecond: number;
  /** Conntrack tables the agent read during the round (for the baseline to read as many). */
  readonly tables: number;
}

export const wholePipelineBench: Bench = {
  name: 'whole_pipeline',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'l7flow-bench-whole-'));
    const sinks = await forkChild<{ otlp: string; ipfix: string }>('./perf-sinks-process.js');
    let agent: RunningAgent | undefined;
    let bare: ChildProcess | undefined;
    try {
      const workload = new Workload({ connections });
      const table = workload.conntrackTable();
      process.stdout.write(
        `  workload: ${connections.toLocaleString('en-US')} connections (80% HTTP keep-alive, 15% TLS, 5% DNS), ` +
          `conntrack table of ${(table.length / 1e6).toFixed(0)} MB read every ${pollMs / 1000} s, 1% malformed EVE lines\n`,
      );
      const counts = () => ask<SinkCounts>(sinks.child, 'counts');
      agent = await startAgent(
        {
          dir,
          ipfixEndpoint: sinks.first.ipfix,
          otlpEndpoint: sinks.first.otlp,
          bounds,
          pollInterval: `${pollMs / 1000}s`,
          otlpTimeout: '30s',
          otlpRetry: true,
        },
        workload,
        '',
        { gcOnSignal: true },
      );
      const running = agent;
      const url = running.metricsUrl;
      let peakRss = 0;
      const sampler = setInterval(() => {
        scrape(url).then(
          (m) => (peakRss = Math.max(peakRss, m.value('process_resident_memory_bytes'))),
          () => {},
        );
      }, 1000);

      await sleep(1000);
      await collectGarbage(running);
      const idle = await scrape(url);
      const idleHeap = idle.value('nodejs_heap_size_used_bytes');

      // The table, then every connection's first record (flow_join reports new connections).
      await replaceFile(paths(dir).conntrack, table);
      const loaded = await waitFor(async () => (await counts()).logs >= connections, 180_000);
      if (!loaded) process.stdout.write('  (not every connection was reported within 3 minutes)\n');

      const producer = await EveProducer.connect(paths(dir).socket);
      const figures: RoundFigures[] = [];
      for (let round = -1; round < rounds; round++) {
        await replaceFile(paths(dir).conntrack, workload.conntrackTable());
        const chunks = workload.next(roundTransactions);
        const measured = await agentRound(running, producer, chunks, counts);
        if (round >= 0) figures.push(measured);
      }

      // Latency, at half the rate the agent sustained.
      const rate = median(figures.map((f) => f.httpPerSecond)) / 2;
      const firstMarker = workload.generated.markers;
      await paced(producer, workload, rate, latencySeconds);
      const lastMarker = workload.generated.markers;
      await waitFor(async () => (await counts()).spans >= producer.written.http, 60_000);
      await sleep(2000); // the IPFIX messages of the last records
      const arrived = await ask<{ otlp: [number, number][]; ipfix: [number, number][] }>(sinks.child, 'markers');
      const inPhase = (pairs: [number, number][]) =>
        new Map(pairs.filter(([marker]) => marker >= firstMarker && marker < lastMarker));
      const otlpLatency = markerLatencies(producer.markersSent, inPhase(arrived.otlp));
      const ipfixLatency = markerLatencies(producer.markersSent, inPhase(arrived.ipfix));

      // The heap is read with nothing in transit: what is left is the connections' state.
      await waitFor(async () => inTransit(await scrape(url)) === 0, 60_000);
      await collectGarbage(running);
      const end = await scrape(url);
      const heapPerConnection = (end.value('nodejs_heap_size_used_bytes') - idleHeap) / connections;
      clearInterval(sampler);
      const agentDrops = end.drops();
      const final = await counts();
      await producer.close();
      await stopAgent(running);
      agent = undefined;

      // The baseline, on the same input.
      const bareSocket = join(dir, 'bare.sock');
      const started = await forkChild<string>(
        './bare-json-process.js',
        [bareSocket, paths(dir).conntrack],
        ['--expose-gc'],
      );
      bare = started.child;
      const bareChild = bare;
      const bareIdleHeap = (await ask<{ heapUsed: number }>(bareChild, 'heap')).heapUsed;
      const bareProducer = await EveProducer.connect(bareSocket);
      const bareFigures: RoundFigures[] = [];
      for (let round = -1; round < rounds; round++) {
        const tables = round >= 0 ? (figures[round]?.tables ?? 1) : 1;
        const measured = await bareRound(bareChild, bareProducer, workload.next(roundTransactions), tables);
        if (round >= 0) bareFigures.push(measured);
      }
      const bareFirstMarker = workload.generated.markers;
      await paced(bareProducer, workload, rate, latencySeconds);
      const bareLastMarker = workload.generated.markers;
      await waitFor(async () => (await ask<BareStats>(bareChild, 'stats')).lines >= bareProducer.written.lines, 30_000);
      const bareStats = await ask<BareStats>(bareChild, 'stats');
      const bareLatency = markerLatencies(
        bareProducer.markersSent,
        new Map(bareStats.markers.filter(([m]) => m >= bareFirstMarker && m < bareLastMarker)),
      );
      const bareHeap = await ask<{ heapUsed: number }>(bareChild, 'heap');
      await bareProducer.close();

      const bareBaseline = (name: string, value: number) => ({ name: `bare JSON.parse process, ${name}`, value });
      report({
        name: 'events per core: EVE lines + conntrack entries per CPU-second of the agent',
        value: median(figures.map((f) => f.recordsPerCpuSecond)),
        unit: 'records/s',
        baseline: bareBaseline('same input', median(bareFigures.map((f) => f.recordsPerCpuSecond))),
      });
      report({
        name: 'EVE lines per second, wall clock, every transaction exported',
        value: median(figures.map((f) => f.linesPerSecond)),
        unit: 'lines/s',
        baseline: bareBaseline('as fast as it is written', median(bareFigures.map((f) => f.linesPerSecond))),
      });
      for (const [what, latencies] of [
        ['OTLP', otlpLatency],
        ['IPFIX', ipfixLatency],
      ] as const) {
        for (const p of [50, 99]) {
          report({
            name: `p${p} latency, EVE line to ${what} collector (${latencies.length} markers at ${rate.toFixed(0)} transactions/s)`,
            value: percentile(latencies, p),
            unit: 'ms',
            baseline: bareBaseline('EVE line to JSON.parse', percentile(bareLatency, p)),
          });
        }
      }
      report({
        name: 'peak RSS of the agent',
        value: peakRss / 1e6,
        unit: 'MB',
        baseline: bareBaseline('peak RSS', bareStats.peakRss / 1e6),
      });
      report({
        name: 'heap per connection (100,000 held, after a full collection)',
        value: heapPerConnection,
        unit: 'bytes',
        baseline: bareBaseline(
          'one conntrack line and one parsed EVE object',
          (bareHeap.heapUsed - bareIdleHeap) / connections,
        ),
      });
      process.stdout.write(
        `  exported: ${final.spans} spans, ${final.logs} logs, ${final.ipfixDatagrams} IPFIX datagrams; ` +
          `drops: ${JSON.stringify(agentDrops)}\n`,
      );
    } finally {
      if (agent) await stopAgent(agent);
      if (bare) await close(bare);
      await close(sinks.child);
      await rm(dir, { recursive: true, force: true });
    }
  },
};

interface BareStats {
  readonly cpuSeconds: number;
  readonly lines: number;
  readonly conntrackLines: number;
  readonly peakRss: number;
  readonly markers: [number, number][];
}

/** Polls `condition` every 20 ms; false when it did not hold within `timeoutMs`. */
async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** One closed-loop round through the agent: every span of it exported before it ends. */
async function agentRound(
  agent: RunningAgent,
  producer: EveProducer,
  chunks: readonly EveChunk[],
  counts: () => Promise<SinkCounts>,
): Promise<RoundFigures> {
  const before = await scrape(agent.metricsUrl);
  const lines = producer.written.lines;
  const http = producer.written.http;
  const began = performance.now();
  let spans = (await counts()).spans;
  for (const chunk of chunks) {
    while (producer.written.http - spans > window) {
      await sleep(10);
      spans = (await counts()).spans;
    }
    await producer.write(chunk);
  }
  await waitFor(async () => (await counts()).spans >= producer.written.http, 120_000);
  const seconds = (performance.now() - began) / 1000;
  const after = await scrape(agent.metricsUrl);
  const delta = (m: Metrics, n: Metrics, name: string, labels: Record<string, string> = {}) =>
    n.value(name, labels) - m.value(name, labels);
  const samples = delta(before, after, 'l7flow_records_sent_total', { component: 'conntrack' });
  const cpu = delta(before, after, 'process_cpu_seconds_total');
  const eveLines = producer.written.lines - lines;
  return {
    recordsPerCpuSecond: (eveLines + samples) / cpu,
    linesPerSecond: eveLines / seconds,
    httpPerSecond: (producer.written.http - http) / seconds,
    tables: Math.max(1, Math.round(samples / connections)),
  };
}

/** The same round through the bare process, which reads the table `tables` times. */
async function bareRound(
  bare: ChildProcess,
  producer: EveProducer,
  chunks: readonly EveChunk[],
  tables: number,
): Promise<RoundFigures> {
  const before = await ask<BareStats>(bare, 'stats');
  const began = performance.now();
  const http = producer.written.http;
  for (const chunk of chunks) await producer.write(chunk);
  for (let i = 0; i < tables; i++) await ask<string>(bare, 'table');
  await waitFor(async () => (await ask<BareStats>(bare, 'stats')).lines >= producer.written.lines, 60_000);
  const seconds = (performance.now() - began) / 1000;
  const after = await ask<BareStats>(bare, 'stats');
  const records = after.lines - before.lines + (after.conntrackLines - before.conntrackLines);
  return {
    recordsPerCpuSecond: records / (after.cpuSeconds - before.cpuSeconds),
    linesPerSecond: (after.lines - before.lines) / seconds,
    httpPerSecond: (producer.written.http - http) / seconds,
    tables,
  };
}

/** Feeds `rate` HTTP transactions per second (with their TLS, DNS and malformed share) for `seconds`. */
async function paced(producer: EveProducer, workload: Workload, rate: number, seconds: number): Promise<void> {
  const began = performance.now();
  let sent = 0;
  while (performance.now() - began < seconds * 1000) {
    const due = Math.floor(((performance.now() - began) / 1000) * rate);
    if (due > sent) {
      for (const chunk of workload.next(due - sent, 8 * 1024)) await producer.write(chunk);
      sent = due;
    }
    await sleep(10);
  }
}
