import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { otlpConfigSchema } from '../../exporter/otlp/factory.js';
import { openGrpcTransports, type GrpcSettings, type OtlpTransports } from '../../exporter/otlp/grpc-transport.js';
import { mapTransaction, type SpanMapping } from '../../exporter/otlp/map-span.js';
import { OtlpExporter } from '../../exporter/otlp/otlp-exporter.js';
import { ResourceCache } from '../../exporter/otlp/resources.js';
import { compileRoutes } from '../../exporter/otlp/routes.js';
import { systemClock } from '../../pipeline/clock.js';
import { silentLogger } from '../../pipeline/logger.js';
import type { FlowRecord, HttpEvent } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { clientPod, flow, httpTx, pod } from '../support/otlp-records.js';
import { median, report, type Measurement } from './harness.js';
import type { Bench } from './run.js';

/**
 * HTTP transactions to spans:
 * 1. mapped and serialized to OTLP protobuf (the exporter's own serializer);
 * 2. mapped and exported through the whole exporter (queues, batches, gRPC) to a loopback
 *    receiver in a child process that acknowledges without decoding, without and with gzip.
 * Each is measured in wall-clock time and in CPU time of this process ("one core": on a
 * machine shared with other work, CPU time is the steadier figure). Baseline: JSON.stringify
 * of the same flow records, measured the same way in the same run.
 */

const routes = ['/api/carts/{id}', '/api/items/{id}', '/static/*'];
const goal = { value: 50_000, atLeast: true };

/** 1000 flow records, one HTTP transaction each, to 10 server Pods opted in for ingress. */
function records(): FlowRecord[] {
  const servers = Array.from({ length: 10 }, (_, i) => pod(`cart-${i}`, 'ingress'));
  return Array.from({ length: 1000 }, (_, i) =>
    flow(
      [
        httpTx(
          {
            url: i % 3 === 0 ? `/api/carts/${i}?view=full` : i % 3 === 1 ? `/api/items/${i}` : `/other/${i}`,
            status: i % 50 === 0 ? 503 : 200,
            method: i % 4 === 0 ? 'POST' : 'GET',
          },
          { txId: i },
        ),
      ],
      { flowKey: i, srcPod: clientPod(), dstPod: servers[i % servers.length] },
    ),
  );
}

interface Rates {
  readonly wall: Measurement;
  readonly cpu: Measurement;
}

/** Runs `round` (which handles `items` items) `rounds` times after a warm-up; median rates. */
async function rates(items: number, round: () => Promise<void> | void, rounds = 7): Promise<Rates> {
  await round();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const began = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    await round();
    const used = process.cpuUsage(cpuBefore);
    wall.push(items / (Number(process.hrtime.bigint() - began) / 1e9));
    cpu.push(items / ((used.user + used.system) / 1e6));
  }
  return { wall: { opsPerSecond: median(wall), rounds: wall }, cpu: { opsPerSecond: median(cpu), rounds: cpu } };
}

function reportBoth(name: string, measured: Rates, baseline: Rates): void {
  report({
    name: `${name}, wall clock`,
    value: measured.wall.opsPerSecond,
    unit: 'spans/s',
    baseline: { name: 'JSON.stringify of the same records', value: baseline.wall.opsPerSecond },
    goal,
  });
  report({
    name: `${name}, per CPU second`,
    value: measured.cpu.opsPerSecond,
    unit: 'spans/s',
    baseline: { name: 'JSON.stringify of the same records', value: baseline.cpu.opsPerSecond },
    goal,
  });
}

export const otlpBench: Bench = {
  name: 'otlp',
  async run() {
    const batch = records();
    const repeat = 20;
    const perRound = repeat * batch.length;
    const mapping: SpanMapping = {
      nodeName: 'bench-node',
      routes: compileRoutes(routes),
      requestHeaders: [],
      responseHeaders: [],
      unattributed: 'server',
      resources: new ResourceCache(''),
      scope: { name: 'l7flow', version: 'bench' },
    };

    let sink = 0;
    const baseline = await rates(perRound, () => {
      for (let r = 0; r < repeat; r++) for (const record of batch) sink += JSON.stringify(record).length;
    });

    const serialized = await rates(perRound, () => {
      for (let r = 0; r < repeat; r++) {
        const spans: ReadableSpan[] = [];
        for (const record of batch) {
          const server = mapTransaction(record, record.l7[0] as HttpEvent, 0, mapping).server;
          if (server) spans.push(server);
        }
        sink += ProtobufTraceSerializer.serializeRequest(spans)?.length ?? 0;
      }
    });
    reportBoth('spans mapped + serialized to OTLP protobuf', serialized, baseline);

    for (const compression of ['none', 'gzip'] as const) {
      const exported = await exportRates(batch, repeat, compression);
      reportBoth(
        `spans mapped + exported over gRPC to a loopback receiver (gzip ${compression === 'gzip' ? 'on' : 'off'})`,
        exported,
        baseline,
      );
    }
    if (sink < 0) process.stdout.write('');
  },
};

/**
 * Spans per second through OtlpExporter to a receiver that only acknowledges. Records are fed
 * a batch at a time, at most four batches ahead of the acknowledgements, so nothing is dropped;
 * a round ends when the receiver has acknowledged every span.
 */
async function exportRates(batch: readonly FlowRecord[], repeat: number, compression: 'none' | 'gzip'): Promise<Rates> {
  const receiver = fork(new URL('./otlp-receiver-process.js', import.meta.url), { stdio: 'inherit' });
  const [endpoint] = (await once(receiver, 'message')) as [string];
  const telemetry = new Telemetry();
  const settings = {
    id: 'otlp',
    logger: silentLogger,
    clock: systemClock,
    telemetry: telemetry.forComponent('otlp', silentLogger, systemClock),
  };
  const config = otlpConfigSchema.parse({
    endpoint,
    tls: { insecure: true },
    compression,
    signals: ['traces'],
    routes,
    queue: { size: 100_000 },
    batch: { send_batch_size: 1024, timeout: '5ms' },
  });
  // The real gRPC transports, counting acknowledged spans so that a round knows when it is done.
  let acknowledged = 0;
  let waiter: { count: number; wake: () => void } | undefined;
  const openTransports = async (grpc: GrpcSettings): Promise<OtlpTransports> => {
    const transports = await openGrpcTransports(grpc);
    return {
      ...transports,
      traces: async (spans) => {
        const outcome = await transports.traces(spans);
        if (outcome.ok) acknowledged += spans.length;
        if (waiter && acknowledged >= waiter.count) waiter.wake();
        return outcome;
      },
    };
  };
  const until = (count: number) =>
    acknowledged >= count ? Promise.resolve() : new Promise<void>((wake) => (waiter = { count, wake }));
  const exporter = new OtlpExporter(settings, config, { nodeName: 'bench-node', version: 'bench', openTransports });
  await exporter.start();
  let target = 0;
  const measured = await rates(repeat * batch.length, async () => {
    for (let r = 0; r < repeat; r++) {
      // Steady state, as behind the graph's sending queue: at most a few batches ahead.
      await until(target - 4 * batch.length);
      await exporter.consume(batch);
      target += batch.length;
    }
    await until(target);
  });
  await exporter.shutdown();
  receiver.send('close');
  await once(receiver, 'exit');
  return measured;
}
