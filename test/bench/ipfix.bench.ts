import { createSocket } from 'node:dgram';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { FlowEncoder } from '../../exporter/ipfix/encoder.js';
import { IpfixExporter } from '../../exporter/ipfix/exporter.js';
import { ipfixConfigSchema, resolveIpfixConfig } from '../../exporter/ipfix/factory.js';
import { systemClock } from '../../pipeline/clock.js';
import type { Settings } from '../../pipeline/component.js';
import { silentLogger } from '../../pipeline/logger.js';
import type { FlowRecord } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { httpTx, ipfixFlow } from '../support/ipfix-records.js';
import { measure, measureAsync, median, report } from './harness.js';
import type { Bench } from './run.js';

/**
 * IPFIX exporter throughput (issue #3):
 * - encode only, Antrea IPv4 records without L7 data and with a 3-transaction httpVals,
 *   against JSON.stringify of the same records (goal: >= 1,000,000 L4-only records/s,
 *   no per-record allocation in the steady state: heap bytes per record are printed);
 * - UDP over loopback end to end (consume -> encode -> queue -> socket -> a receiver in
 *   this process), against sending the same pre-encoded datagrams with dgram directly
 *   (goal: >= 250,000 records/s, go-ipfix's loopback figure).
 */
const BATCH = 1000;

function flows(withHttp: boolean): FlowRecord[] {
  return Array.from({ length: BATCH }, (_, i) =>
    ipfixFlow({
      flowKey: i,
      tuple: {
        proto: 6,
        srcIp: `10.244.${i >> 8}.${i & 0xff}`,
        srcPort: 30_000 + i,
        dstIp: '10.244.2.7',
        dstPort: 8080,
      },
      ...(withHttp ? { l7: [httpTx(3 * i), httpTx(3 * i + 1), httpTx(3 * i + 2)] } : { app: '', l7: [] }),
    }),
  );
}

/**
 * Operations per second of CPU time (user + system) of this process, median of `rounds`.
 * On a shared machine wall time depends on what the neighbours run; CPU time much less.
 */
function perCpuSecond(run: (n: number) => void, n: number, rounds = 7): number {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage();
    run(n);
    const used = process.cpuUsage(before);
    rates.push(n / ((used.user + used.system) / 1e6));
  }
  return median(rates);
}

/** V8 heap bytes allocated while `run` ran: growth of the used heap plus what each GC freed. */
function heapBytesAllocated(run: () => void): number {
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  run();
  const after = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  const freed = statistics.reduce(
    (sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize,
    0,
  );
  return after - before + freed;
}

function encodeBench(name: string, batch: readonly FlowRecord[], goal?: number): void {
  const encoder = new FlowEncoder({
    profile: 'antrea',
    httpEncoding: 'antrea',
    maxMessageSize: 65535,
    observationDomainId: 1,
  });
  const encode = (batches: number) => {
    for (let i = 0; i < batches; i++) encoder.encode(batch);
  };
  const encoded = measure(encode);
  const json = measure((batches) => {
    for (let i = 0; i < batches; i++) for (const record of batch) JSON.stringify(record);
  });
  report({
    name: `encode ${name}`,
    value: encoded.opsPerSecond * BATCH,
    unit: 'records/s',
    baseline: { name: 'JSON.stringify of the same records', value: json.opsPerSecond * BATCH },
    ...(goal === undefined ? {} : { goal: { value: goal, atLeast: true } }),
  });
  const jsonBatches = (batches: number) => {
    for (let i = 0; i < batches; i++) for (const record of batch) JSON.stringify(record);
  };
  report({
    name: `encode ${name}, per CPU-second`,
    value: perCpuSecond(encode, 100) * BATCH,
    unit: 'records/s',
    baseline: { name: 'JSON.stringify of the same records', value: perCpuSecond(jsonBatches, 100) * BATCH },
    ...(goal === undefined ? {} : { goal: { value: goal, atLeast: true } }),
  });
  encode(20); // warm
  const perRecord = heapBytesAllocated(() => encode(100)) / (100 * BATCH);
  const jsonPerRecord =
    heapBytesAllocated(() => {
      for (let i = 0; i < 100; i++) for (const record of batch) JSON.stringify(record);
    }) /
    (100 * BATCH);
  report({
    name: `heap allocated per ${name} record (encode)`,
    value: perRecord,
    unit: 'bytes',
    baseline: { name: 'JSON.stringify', value: jsonPerRecord },
  });
}

/**
 * A UDP receiver on a worker thread, so that receiving does not compete with the exporter
 * for the event loop (a collector is another process in real life). It counts datagrams.
 */
async function startReceiver(): Promise<{ port: number; count: () => Promise<number>; stop: () => Promise<void> }> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const socket = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
     let datagrams = 0;
     socket.on('message', () => datagrams++);
     socket.bind(0, '127.0.0.1', () => parentPort.postMessage(socket.address().port));
     parentPort.on('message', (m) => m === 'count' ? parentPort.postMessage(datagrams) : socket.close(() => process.exit(0)));`,
    { eval: true },
  );
  const next = () => new Promise<number>((resolve) => worker.once('message', resolve));
  const port = await next();
  return {
    port,
    count: async () => {
      const reply = next();
      worker.postMessage('count');
      return reply;
    },
    stop: async () => {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      await exited;
    },
  };
}

async function udpBench(): Promise<void> {
  const batch = flows(false);
  const receiver = await startReceiver();
  const telemetry = new Telemetry();
  const settings: Settings = {
    id: 'ipfix',
    logger: silentLogger,
    clock: systemClock,
    telemetry: telemetry.forComponent('ipfix', silentLogger, systemClock),
  };
  const config = ipfixConfigSchema.parse({
    endpoint: `127.0.0.1:${receiver.port}`,
    transport: 'udp',
    queue_size: 1024,
  });
  const exporter = new IpfixExporter(settings, resolveIpfixConfig(config));
  await exporter.start({ reportFatal: () => {} });
  const metric = async (name: string) =>
    (await telemetry.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.component === 'ipfix')
      ?.value ?? 0;

  /** Waits until the receiver has `expected` datagrams, or none arrived for 200 ms (loss). */
  const drained = async (expected: number) => {
    let last = -1;
    let quietSince = Date.now();
    for (let seen = await receiver.count(); seen < expected; seen = await receiver.count()) {
      if (seen !== last) {
        last = seen;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > 200) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };

  const loss = { exporter: { offered: 0, delivered: 0 }, raw: { offered: 0, delivered: 0 } };
  let consumed = 0;
  let flowsSent = 0;
  const end = await measureAsync(
    async (records) => {
      const start = await receiver.count();
      const before = await metric('l7flow_ipfix_messages_sent_total');
      const flowsBefore = await metric('l7flow_records_sent_total');
      for (let done = 0; done < records; done += BATCH) await exporter.consume(batch);
      while ((await metric('l7flow_queue_size')) > 0) await new Promise((resolve) => setImmediate(resolve));
      const sent = (await metric('l7flow_ipfix_messages_sent_total')) - before;
      consumed += Math.ceil(records / BATCH) * BATCH;
      flowsSent += (await metric('l7flow_records_sent_total')) - flowsBefore;
      await drained(start + sent);
      loss.exporter.offered += sent;
      loss.exporter.delivered += (await receiver.count()) - start;
    },
    { n: 100_000, rounds: 5 },
  );

  // Baseline: the same datagrams, pre-encoded, sent with dgram straight.
  const encoder = new FlowEncoder({
    profile: 'antrea',
    httpEncoding: 'antrea',
    maxMessageSize: 1472,
    observationDomainId: 1,
  });
  const messages = encoder.encode(batch).messages.map((m) => m.bytes);
  const sender = createSocket('udp4');
  await new Promise<void>((resolve) => sender.connect(receiver.port, '127.0.0.1', resolve));
  const raw = await measureAsync(
    async (records) => {
      const start = await receiver.count();
      let sent = 0;
      for (let done = 0; done < records; done += BATCH)
        for (const bytes of messages) {
          await new Promise<void>((resolve) => sender.send(bytes, () => resolve()));
          sent++;
        }
      await drained(start + sent);
      loss.raw.offered += sent;
      loss.raw.delivered += (await receiver.count()) - start;
    },
    { n: 100_000, rounds: 5 },
  );
  sender.close();
  await exporter.shutdown();
  await receiver.stop();

  const delivered = (l: { offered: number; delivered: number }) => l.delivered / Math.max(1, l.offered);
  report({
    name: 'UDP loopback end to end, L4-only Antrea IPv4 (1472-octet messages), records delivered',
    value: end.opsPerSecond * (flowsSent / consumed) * delivered(loss.exporter),
    unit: 'records/s',
    baseline: {
      name: 'same datagrams pre-encoded, sent with dgram',
      value: raw.opsPerSecond * delivered(loss.raw),
    },
    goal: { value: 250_000, atLeast: true },
  });
  process.stdout.write(
    `  (flows sent/consumed by the exporter ${flowsSent}/${consumed}; datagrams received/sent: exporter ${loss.exporter.delivered}/${loss.exporter.offered}, baseline ${loss.raw.delivered}/${loss.raw.offered}; ${(BATCH / messages.length).toFixed(1)} records per datagram)\n`,
  );
}

export const ipfixBench: Bench = {
  name: 'ipfix',
  async run() {
    encodeBench('Antrea IPv4 L4-only', flows(false), 1_000_000);
    encodeBench('Antrea IPv4 + 3-transaction httpVals', flows(true));
    await udpBench();
  },
};
