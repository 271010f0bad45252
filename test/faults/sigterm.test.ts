import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RecordAccounting } from '../../pipeline/telemetry.js';
import type { MetricsSnapshot } from '../support/accounting.js';
import { AgentProcess, faultDir, httpLines, ipfixTransactions, openEve, transactionOf } from '../support/faults.js';
import { TestCollector } from '../support/ipfix-collector.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

/**
 * SIGTERM while Suricata clients send as fast as the agent takes their lines. Within
 * service.shutdown_timeout the agent delivers what it holds, or counts what it cannot deliver;
 * its last word, each component's stop line, must account for every record.
 */

const shutdownTimeoutMs = 3000;

/** Suricata clients writing transactions back to back until stopped; returns how many lines each wrote. */
function load(socket: string, clients: number) {
  let stopped = false;
  let next = 0;
  const writers = Array.from({ length: clients }, async () => {
    const client: Socket = await openEve(socket);
    client.on('error', () => {});
    while (!stopped && !client.destroyed) {
      const from = next;
      next += 200;
      const ok = client.write(httpLines('term', from, 200));
      if (!ok) await new Promise((resolve) => client.once('drain', resolve).once('close', resolve));
    }
    client.destroy();
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(writers);
    },
  };
}

/** A collector that accepts connections and never reads: TCP back-pressure all the way. */
async function stalledCollector(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.pause();
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const sum = (values: Readonly<Record<string, number>>) => Object.values(values).reduce((a, b) => a + b, 0);

/** received = sent + dropped + held, with nothing held any more: delivered or counted. */
function settled(records: RecordAccounting | undefined): { balance: number; held: number } {
  if (!records) return { balance: Number.NaN, held: Number.NaN };
  return {
    balance: records.received - records.sent - sum(records.dropped) - sum(records.held),
    held: sum(records.held),
  };
}

const exporters = ['ipfix', 'otlp', 'debug'] as const;

/**
 * The agent's last word, its stop lines, checked stage by stage: each stage settled, each
 * took in exactly what the one before passed on, and only `allowed` drop reasons occurred.
 * Returns the EVE transactions that entered the pipeline (lines cut short by a vanishing
 * client are not transactions).
 */
function expectSettledChain(
  final: Map<string, RecordAccounting>,
  allowed: Readonly<Record<string, readonly string[]>>,
): number {
  for (const id of ['suricata_eve', 'flow_join', ...exporters]) {
    expect(settled(final.get(id)), id).toEqual({ balance: 0, held: 0 });
    for (const reason of Object.keys(final.get(id)?.dropped ?? {})) expect(allowed[id] ?? [], id).toContain(reason);
  }
  const eve = final.get('suricata_eve')!;
  const join = final.get('flow_join')!;
  expect(join.received).toBe(eve.sent);
  for (const id of exporters) expect(final.get(id)?.received, id).toBe(join.sent);
  return eve.received - (eve.dropped.truncated ?? 0);
}

describe('SIGTERM under full load', () => {
  it(
    'with healthy collectors: what is queued at SIGTERM is delivered before the deadline, the exit is clean',
    { timeout: 60_000 },
    async () => {
      const dir = await faultDir('term-ok');
      const tcp = await TestCollector.tcp();
      const rx = await OtlpReceiver.start();
      const socket = join(dir.path, 'eve.sock');
      const output = join(dir.path, 'records.jsonl');
      let agent: AgentProcess | undefined;
      try {
        agent = await AgentProcess.start(dir.path, {
          receivers: { suricata_eve: { socket: { path: socket } } },
          processors: { flow_join: {} },
          exporters: {
            ipfix: { endpoint: `127.0.0.1:${tcp.port}`, transport: 'tcp' },
            otlp: { endpoint: rx.endpoint, tls: { insecure: true }, signals: ['logs'] },
            debug: { path: output },
          },
          service: {
            shutdown_timeout: '10s',
            pipelines: {
              flows: { receivers: ['suricata_eve'], processors: ['flow_join'], exporters: ['ipfix', 'otlp', 'debug'] },
            },
          },
        });
        const monitor = agent.monitor(250);
        const traffic = load(socket, 4);
        // Full load: more than the exporters deliver, so records wait in their queues (and
        // overflow them, counted as queue_full) when the signal comes.
        const queued = (m: MetricsSnapshot) =>
          sum(Object.fromEntries(exporters.map((id) => [id, m.value('l7flow_records_held', { component: id })])));
        const loaded = await agent.waitForMetrics(
          'under load, records queued in the exporters',
          (m) => m.value('l7flow_records_sent_total', { component: 'debug' }) > 20_000 && queued(m) > 0,
        );
        expect(queued(loaded)).toBeGreaterThan(0);
        // Scrapes end with the signal: /metrics closes as the agent stops; its stop lines tell the rest.
        const { violations } = await monitor.stop();
        expect(violations).toEqual([]);
        const { code, ms } = await agent.stop();
        await traffic.stop();
        expect(code).toBe(0);
        expect(ms).toBeLessThan(10_000);
        expect(agent.logs().find((l) => l.msg === 'l7flow stopped')).toBeDefined();

        // Nothing was lost to the shutdown: the only losses are lines cut short by clients that
        // vanished mid-line and what overflowed the queues under load, each counted.
        const final = agent.finalAccounting();
        const transactions = expectSettledChain(final, {
          suricata_eve: ['truncated'],
          ipfix: ['queue_full'],
          otlp: ['queue_full'],
          debug: ['queue_full'],
        });
        expect(transactions).toBeGreaterThan(20_000);
        for (const id of exporters) {
          const records = final.get(id)!;
          expect(records.sent + (records.dropped.queue_full ?? 0), id).toBe(transactions);
        }
        // What the exporters count as sent is what arrived at the far end, each transaction once.
        const written = (await readFile(output, 'utf8')).trim().split('\n');
        expect(written).toHaveLength(final.get('debug')!.sent);
        const seen = new Set(
          written.map((line) =>
            transactionOf('term', (JSON.parse(line) as { l7: { http: { url: string } }[] }).l7[0]?.http.url),
          ),
        );
        expect(seen.size).toBe(written.length);
        const viaIpfix = ipfixTransactions(tcp, 'term');
        expect(new Set(viaIpfix).size).toBe(viaIpfix.length);
        expect(viaIpfix).toHaveLength(final.get('ipfix')!.sent);
        // OTLP is at-least-once: an attempt that passes its deadline on this loaded machine is
        // retried, though the receiver may have taken it. So the transactions that arrived
        // (each log's time is its transaction's, unique in this run) are exactly those counted.
        const viaOtlp = new Set(rx.logs.map((log) => log.timeUnixNano));
        expect(viaOtlp.size).toBe(final.get('otlp')!.sent);
      } finally {
        await agent?.kill();
        await tcp.close();
        await rx.close();
        await dir.remove();
      }
    },
  );

  it(
    'with a collector that stopped reading and a receiver that hangs: exits at the deadline, every loss counted',
    { timeout: 60_000 },
    async () => {
      const dir = await faultDir('term-stuck');
      const stalled = await stalledCollector();
      const rx = await OtlpReceiver.start();
      rx.hang('traces', 10_000);
      rx.hang('logs', 10_000);
      const socket = join(dir.path, 'eve.sock');
      const output = join(dir.path, 'records.jsonl');
      let agent: AgentProcess | undefined;
      try {
        agent = await AgentProcess.start(dir.path, {
          receivers: { suricata_eve: { socket: { path: socket } } },
          processors: { flow_join: {} },
          exporters: {
            ipfix: { endpoint: `127.0.0.1:${stalled.port}`, transport: 'tcp', queue_size: 64 },
            otlp: { endpoint: rx.endpoint, tls: { insecure: true }, timeout: '30s' },
            debug: { path: output },
          },
          service: {
            shutdown_timeout: `${shutdownTimeoutMs}ms`,
            pipelines: {
              flows: { receivers: ['suricata_eve'], processors: ['flow_join'], exporters: ['ipfix', 'otlp', 'debug'] },
            },
          },
        });
        const monitor = agent.monitor(250);
        const traffic = load(socket, 4);
        await agent.waitForMetrics(
          'the stuck exporters holding records while the healthy one delivers',
          (m) =>
            m.value('l7flow_records_held', { component: 'ipfix' }) > 1000 &&
            m.value('l7flow_records_held', { component: 'otlp' }) > 1000 &&
            m.value('l7flow_records_sent_total', { component: 'debug' }) > 0,
        );
        const { violations } = await monitor.stop();
        expect(violations).toEqual([]);
        const { code, ms } = await agent.stop();
        await traffic.stop();
        // The deadline passed with records still held, and the agent says so in its exit status.
        expect(code).toBe(1);
        expect(ms).toBeLessThan(shutdownTimeoutMs + 2000);
        expect(agent.logs().find((l) => l.msg === 'l7flow stopped uncleanly')).toBeDefined();

        const final = agent.finalAccounting();
        const transactions = expectSettledChain(final, {
          suricata_eve: ['truncated'],
          ipfix: ['queue_full', 'shutdown_timeout'],
          otlp: ['queue_full', 'shutdown_timeout'],
          debug: ['queue_full'],
        });
        for (const id of exporters) {
          const records = final.get(id)!;
          expect(records.sent + sum(records.dropped), id).toBe(transactions);
        }
        // What OTLP held hung until the deadline. The IPFIX exporter's share is either still
        // queued at the deadline (shutdown_timeout) or, once its session gave up on the stalled
        // collector, overflowed its queue (queue_full): which one depends on the write timeout.
        const ipfix = final.get('ipfix')!;
        const otlp = final.get('otlp')!;
        expect(sum(ipfix.dropped)).toBeGreaterThan(0);
        expect(otlp.dropped.shutdown_timeout).toBeGreaterThan(0);
        expect(otlp.sent).toBe(0);
        // The healthy exporter next to them was not held back: its queue was flushed in time.
        const debug = final.get('debug')!;
        expect((await readFile(output, 'utf8')).trim().split('\n')).toHaveLength(debug.sent);
        const warned = agent.logs().filter((l) => l.msg === 'records dropped');
        expect(warned.map((l) => l.component).sort()).toEqual(expect.arrayContaining(['ipfix', 'otlp']));
      } finally {
        await agent?.kill();
        await stalled.close();
        await rx.close();
        await dir.remove();
      }
    },
  );
});
