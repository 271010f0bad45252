import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  collectGarbage,
  EveProducer,
  inTransit,
  paths,
  percentile,
  scrape,
  startAgent,
  startProbe,
  stopAgent,
  type AgentBounds,
  type Metrics,
  type RunningAgent,
} from '../support/perf-agent.js';
import { memoryBound } from '../support/perf-memory.js';
import { PerfSinks } from '../support/perf-sinks.js';
import { Workload } from '../support/perf-workload.js';

/**
 * Issue #10, overload: l7flow as a real process, fed EVE over its socket (and conntrack from a
 * procfs-format table), is first driven at the rate it sustains, measured here, then offered
 * ten times that for 60 s, then the sustainable rate again. Throughout, RSS stays under the
 * bound that follows from the configured queue and store sizes (docs/overload.md), /metrics
 * answers within 1 s, every loss is counted under a reason, and afterwards everything offered
 * is exported again.
 *
 * The producer behaves like Suricata's non-blocking unix_stream output: what the socket does
 * not take is dropped on its side (and counted here), so "offered" is 10x even when the agent
 * reads less. `L7FLOW_OVERLOAD_SECONDS` shortens the overload for local runs.
 */

const overloadSeconds = Number(process.env.L7FLOW_OVERLOAD_SECONDS ?? 60);
const connections = 1000;
const bounds: AgentBounds = {
  maxLineBytes: 64 * 1024,
  maxClients: 2,
  eveBatch: 256,
  maxConnections: 5000,
  maxPending: 2000,
  maxTransactionsPerFlow: 10,
  maxHeldTransactions: 20_000,
  sendingQueue: 2000,
  sendingBatch: 100,
  otlpQueue: 4000,
  otlpBatch: 512,
  otlpConsumers: 2,
  ipfixQueue: 256,
  ipfixMessageSize: 1472,
  maxPods: 1000,
};
/** Drops that overload may cause; anything else would be a bug. */
const overloadReasons = new Set([
  'suricata_eve/malformed',
  'ipfix/queue_full',
  'otlp/queue_full',
  'otlp/export_failed',
  'flow_join/unmatched',
]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

let dir = '';
let sinks: PerfSinks | undefined;
let agent: RunningAgent | undefined;
afterAll(async () => {
  if (agent) await stopAgent(agent);
  await sinks?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** Exporters for which received != sent + dropped, or records still queued. */
function unsettled(m: Metrics): string[] {
  const open = ['ipfix', 'otlp'].filter((component) => {
    const received = m.value('l7flow_records_received_total', { component });
    const sent = m.value('l7flow_records_sent_total', { component });
    const dropped = m.value('l7flow_records_dropped_total', { component });
    return received !== sent + dropped;
  });
  return inTransit(m) > 0 ? [...open, 'queued'] : open;
}

/** Drops that grew between two scrapes, by component/reason. */
function newDrops(before: Metrics, after: Metrics): Record<string, number> {
  const grown: Record<string, number> = {};
  const earlier = before.drops();
  for (const [key, value] of Object.entries(after.drops()))
    if (value > (earlier[key] ?? 0)) grown[key] = value - (earlier[key] ?? 0);
  return grown;
}

describe('overload', () => {
  it(
    `stays within its memory bound and responsive at 10x the sustainable rate for ${overloadSeconds} s, counts every drop, and recovers`,
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'l7flow-overload-'));
      sinks = await PerfSinks.start();
      const workload = new Workload({ connections });
      agent = await startAgent(
        { dir, ipfixEndpoint: sinks.ipfixEndpoint, otlpEndpoint: sinks.otlpEndpoint, bounds, pollInterval: '2s' },
        workload,
        workload.conntrackTable(),
        { gcOnSignal: true },
      );
      const url = agent.metricsUrl;
      for (let m = await scrape(url); m.value('l7flow_queue_size', { queue: 'connections' }) < connections;) {
        await sleep(100);
        m = await scrape(url);
      }
      await collectGarbage(agent);
      const idle = await scrape(url);
      const idleRss = idle.value('process_resident_memory_bytes');
      const bound = memoryBound(bounds, {
        rssBytes: idleRss,
        heapTotalBytes: idle.value('nodejs_heap_size_total_bytes'),
        liveHeapBytes: idle.value('nodejs_heap_size_used_bytes'),
      });
      const probe = startProbe(url, 250, 5000);
      const producer = await EveProducer.connect(paths(dir).socket);
      const spans = () => sinks!.counts.spans;

      // 1. The sustainable rate: as fast as the agent exports, a bounded window ahead of it.
      const window = 1500;
      const closedLoop = async (seconds: number) => {
        const began = performance.now();
        while (performance.now() - began < seconds * 1000) {
          for (const chunk of workload.next(100, 16 * 1024)) await producer.write(chunk);
          while (producer.written.http - spans() > window) await sleep(2);
        }
      };
      await closedLoop(2); // warm-up
      const calibrationStart = await scrape(url);
      const spansBefore = spans();
      const calibrationBegan = performance.now();
      await closedLoop(6);
      const sustainable = (spans() - spansBefore) / ((performance.now() - calibrationBegan) / 1000);
      const calibrationDrops = newDrops(calibrationStart, await scrape(url));
      delete calibrationDrops['suricata_eve/malformed'];
      expect(calibrationDrops, 'nothing is lost at the sustainable rate').toEqual({});

      // 2. Ten times that, offered for overloadSeconds; RSS sampled every second.
      const offeredRate = 10 * sustainable;
      const rss: number[] = [];
      const sampler = setInterval(() => {
        scrape(url).then(
          (m) => rss.push(m.value('process_resident_memory_bytes')),
          () => {},
        );
      }, 1000);
      // Generated once and offered over and over, so that producing 10x costs this process little
      // (repeated transactions are valid input: the join exports each occurrence).
      const pool = workload.next(20_000, 16 * 1024);
      const overloadStart = await scrape(url);
      const writtenBefore = { ...producer.written };
      let offered = 0;
      let next = 0;
      const began = performance.now();
      while (performance.now() - began < overloadSeconds * 1000) {
        const due = ((performance.now() - began) / 1000) * offeredRate;
        while (offered < due) {
          const chunk = pool[next++ % pool.length]!;
          producer.offer(chunk, 1024 * 1024);
          offered += chunk.http;
        }
        await sleep(10);
      }
      clearInterval(sampler);
      const taken = producer.written.http - writtenBefore.http;
      await producer.flushed();
      const overloadEnd = await scrape(url);
      const overloadDrops = newDrops(overloadStart, overloadEnd);

      // Everything in transit is exported or dropped: queues empty, and no transaction still
      // waiting in the store for its connection's next record (spans stop arriving).
      let drained = overloadEnd;
      for (let i = 0; i < 120; i++) {
        const spansThen = spans();
        await sleep(2500);
        drained = await scrape(url);
        if (inTransit(drained) === 0 && spans() === spansThen) break;
      }
      expect(inTransit(drained), 'queues drained after the overload').toBe(0);

      // 3. The sustainable rate again (half of it, for margin on a shared machine): all of it exported.
      const recoveryStart = await scrape(url);
      const recoverySpans = spans();
      const recoveryWritten = { ...producer.written };
      const recoveryBegan = performance.now();
      let paced = 0;
      while (performance.now() - recoveryBegan < 8000) {
        const due = ((performance.now() - recoveryBegan) / 1000) * (sustainable / 2);
        while (paced < due) {
          for (const chunk of workload.next(50, 16 * 1024)) await producer.write(chunk);
          paced += 50;
        }
        await sleep(10);
      }
      const recoveryHttp = producer.written.http - recoveryWritten.http;
      const deadline = performance.now() + 30_000;
      while (spans() - recoverySpans < recoveryHttp && performance.now() < deadline) await sleep(50);
      // The last records' logs and IPFIX messages may still be on their way.
      let recoveryEnd = await scrape(url);
      while (unsettled(recoveryEnd).length > 0 && performance.now() < deadline) {
        await sleep(200);
        recoveryEnd = await scrape(url);
      }
      const probed = await probe.stop();

      const peakRss = Math.max(...rss);
      process.stdout.write(
        `overload: sustainable ${sustainable.toFixed(0)} HTTP transactions/s; offered ${offered} in ${overloadSeconds} s ` +
          `(${taken} taken by the socket); ` +
          `drops ${JSON.stringify(overloadDrops)}; RSS idle ${mb(idleRss)} MB (live heap ${mb(idle.value('nodejs_heap_size_used_bytes'))} MB), peak ${mb(peakRss)} MB, bound ${mb(bound.rssBytes)} MB ` +
          `(live ${mb(bound.liveBytes)} MB: ${Object.entries(bound.terms)
            .map(([k, v]) => `${k} ${mb(v)}`)
            .join(
              ', ',
            )}); /metrics ${probed.latenciesMs.length} scrapes, p50 ${percentile(probed.latenciesMs, 50).toFixed(0)} ms, ` +
          `p99 ${percentile(probed.latenciesMs, 99).toFixed(0)} ms, max ${probed.maxMs.toFixed(0)} ms, ${probed.failures} failed; ` +
          `recovery ${spans() - recoverySpans}/${recoveryHttp} transactions exported\n`,
      );

      // Memory: under the bound the configuration implies (docs/overload.md).
      expect(peakRss).toBeLessThan(bound.rssBytes);
      // Responsive: every scrape answered, and answered within 1 s (99% of them: on a shared
      // machine the agent is sometimes not scheduled at all for a moment; the maximum is reported).
      expect(probed.failures).toBe(0);
      expect(probed.latenciesMs.filter((ms) => ms < 1000).length / probed.latenciesMs.length).toBeGreaterThanOrEqual(
        0.99,
      );
      // Overloaded for real, and every loss under a reason overload explains.
      expect(Object.keys(overloadDrops).length).toBeGreaterThan(0);
      for (const key of Object.keys(overloadDrops)) expect(overloadReasons).toContain(key);
      // Nothing lost silently at the socket: the agent read every line the producer wrote.
      expect(recoveryEnd.value('l7flow_eve_lines_total')).toBe(producer.written.lines);
      // Each exporter: every record it received was sent or dropped under a reason.
      expect(unsettled(recoveryEnd)).toEqual([]);
      // Recovered: everything offered at the sustainable rate is exported, nothing dropped but
      // the malformed lines.
      expect(spans() - recoverySpans).toBe(recoveryHttp);
      expect(newDrops(recoveryStart, recoveryEnd)).toEqual({
        'suricata_eve/malformed': producer.written.malformed - recoveryWritten.malformed,
      });

      expect(await stopAgent(agent)).toBe(0);
      agent = undefined;
    },
    (overloadSeconds + 180) * 1000,
  );
});
