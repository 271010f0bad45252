import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { otlpConfigSchema } from '../../exporter/otlp/factory.js';
import { mapTransaction, type SpanMapping } from '../../exporter/otlp/map-span.js';
import { OtlpExporter } from '../../exporter/otlp/otlp-exporter.js';
import { ResourceCache } from '../../exporter/otlp/resources.js';
import { compileRoutes } from '../../exporter/otlp/routes.js';
import { systemClock } from '../../pipeline/clock.js';
import { silentLogger } from '../../pipeline/logger.js';
import type { FlowRecord, HttpEvent } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { clientPod, flow, httpTx, pod } from '../support/otlp-records.js';
import { measure, measureAsync, report } from './harness.js';
import type { Bench } from './run.js';

/**
 * HTTP transactions to spans, on one core:
 * 1. mapped and serialized to OTLP protobuf (the exporter's own serializer), per span;
 * 2. mapped and exported through the whole exporter (queue, batches, gRPC) to a loopback
 *    receiver on a worker thread that acknowledges without decoding, with and without gzip.
 * Baseline: JSON.stringify of the same flow records, in the same run.
 */

const routes = ['/api/carts/{id}', '/api/items/{id}', '/static/*'];

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

export const otlpBench: Bench = {
  name: 'otlp',
  async run() {
    const batch = records();
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
    const baseline = measure((n) => {
      for (let i = 0; i < n; i++) sink += JSON.stringify(batch[i % batch.length]).length;
    });

    const mapped = measure((n) => {
      let spans: ReadableSpan[] = [];
      for (let i = 0; i < n; i++) {
        const record = batch[i % batch.length] as FlowRecord;
        const server = mapTransaction(record, record.l7[0] as HttpEvent, 0, mapping).server;
        if (server) spans.push(server);
        if (spans.length === 1024) {
          sink += ProtobufTraceSerializer.serializeRequest(spans)?.length ?? 0;
          spans = [];
        }
      }
      if (spans.length > 0) sink += ProtobufTraceSerializer.serializeRequest(spans)?.length ?? 0;
    });
    report({
      name: 'spans mapped + serialized to OTLP protobuf',
      value: mapped.opsPerSecond,
      unit: 'spans/s',
      baseline: { name: 'JSON.stringify of the same records', value: baseline.opsPerSecond },
      goal: { value: 50_000, atLeast: true },
    });

    for (const compression of ['none', 'gzip'] as const) {
      const exported = await exportRate(batch, compression);
      report({
        name: `spans mapped + exported over gRPC to a loopback receiver (compression ${compression})`,
        value: exported,
        unit: 'spans/s',
        baseline: { name: 'JSON.stringify of the same records', value: baseline.opsPerSecond },
        goal: { value: 50_000, atLeast: true },
      });
    }
    if (sink < 0) process.stdout.write('');
  },
};

/**
 * Spans per second through OtlpExporter to a receiver that only acknowledges. The queue is
 * sized for a whole round so that nothing is dropped; a round ends when the receiver has
 * acknowledged every span.
 */
async function exportRate(batch: readonly FlowRecord[], compression: 'none' | 'gzip'): Promise<number> {
  const receiver = new Worker(new URL('./otlp-receiver-worker.js', import.meta.url));
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
    queue: { size: 200_000 },
    batch: { send_batch_size: 1024, timeout: '5ms' },
  });
  const exporter = new OtlpExporter(settings, config, { nodeName: 'bench-node', version: 'bench' });
  await exporter.start();
  const sent = telemetry.registry.getSingleMetric('l7flow_otlp_items_sent_total');
  const acknowledged = async () => ((await sent?.get())?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  let target = 0;
  const rate = await measureAsync(
    async (n) => {
      for (let i = 0; i < n; i++) await exporter.consume(batch);
      target += n * batch.length;
      while ((await acknowledged()) < target) await new Promise((resolve) => setTimeout(resolve, 2));
    },
    { n: 50, rounds: 5 },
  );
  await exporter.shutdown();
  receiver.postMessage('close');
  await once(receiver, 'exit');
  return rate.opsPerSecond * batch.length;
}
