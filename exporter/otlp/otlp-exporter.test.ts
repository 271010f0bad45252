import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { packageRoot } from '../../config/paths.js';
import { systemClock } from '../../pipeline/clock.js';
import type { Settings } from '../../pipeline/component.js';
import { ClosedError } from '../../pipeline/errors.js';
import { Graph } from '../../pipeline/graph.js';
import type { FlowRecord } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { CaptureLogger } from '../../test/support/capture-logger.js';
import { createTestKit, httpEvent } from '../../test/support/components.js';
import {
  OtlpReceiver,
  retryInfoTrailer,
  spanNamesIn,
  startFrameCapture,
  type OtlpReceiverOptions,
} from '../../test/support/otlp-receiver.js';
import { baseTimeUs, clientPod, flow, httpTx, pod, serverPod } from '../../test/support/otlp-records.js';
import { metricValue } from '../../test/support/settings.js';
import { until } from '../../test/support/until.js';
import { otlpConfigSchema } from './factory.js';
import { OtlpExporter } from './otlp-exporter.js';

/**
 * The exporter against a real OTLP/gRPC receiver on 127.0.0.1: what arrives is decoded from
 * the bytes on the wire. Real clock, with retry intervals shortened to milliseconds.
 */

const fixtures = join(packageRoot, 'test', 'fixtures', 'otlp');
const pem = (name: string) => join(fixtures, name);

const receivers: OtlpReceiver[] = [];
const exporters: OtlpExporter[] = [];

afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(options?: OtlpReceiverOptions): Promise<OtlpReceiver> {
  const started = await OtlpReceiver.start(options);
  receivers.push(started);
  return started;
}

const fastRetries = { initial_interval: '20ms', max_interval: '50ms', max_elapsed_time: '10s' };

/** An exporter on the system clock, with its own telemetry, sending to `endpoint`. */
function exporter(endpoint: string, config: Record<string, unknown> = {}, nodeName = 'node-a') {
  const telemetry = new Telemetry();
  const logger = new CaptureLogger();
  const settings: Settings = {
    id: 'otlp',
    logger,
    clock: systemClock,
    telemetry: telemetry.forComponent('otlp', logger, systemClock),
  };
  const parsed = otlpConfigSchema.parse({
    endpoint,
    tls: { insecure: true },
    batch: { timeout: '10ms' },
    retry_on_failure: fastRetries,
    ...config,
  });
  const created = new OtlpExporter(settings, parsed, { nodeName, version: '9.9.9' });
  exporters.push(created);
  const metric = (name: string, labels: Record<string, string> = {}) => metricValue(telemetry, name, labels);
  return { exporter: created, metric, logger };
}

const search = pod('search-0', 'ingress');
const twoServers = (): FlowRecord[] => [
  flow([httpTx({}, { txId: 0 })], { srcPod: clientPod(), dstPod: serverPod('ingress') }),
  flow([httpTx({ url: '/find?q=x' }, { txId: 1 })], { srcPod: clientPod(), dstPod: search }),
  flow([httpTx({ status: 503 }, { txId: 2 })], { srcPod: clientPod(), dstPod: serverPod('ingress') }),
];

describe('OTLP exporter on the wire', () => {
  it('groups spans per Pod resource, with typed attributes, kinds, times and status', async () => {
    const rx = await receiver();
    const { exporter: otlp, metric } = exporter(rx.endpoint, { signals: ['traces'] });
    await otlp.start();
    await otlp.consume(twoServers());
    await otlp.shutdown();

    expect(rx.spans).toHaveLength(3);
    expect(new Set(rx.spans.map((s) => s.request)).size).toBe(1);
    const byPod = (name: string) => rx.spans.filter((s) => s.resource['k8s.pod.name']?.stringValue === name);
    const cart = byPod('cart-5c4b');
    expect(cart).toHaveLength(2);
    // One ResourceSpans per Pod: both cart spans share one, the search span has its own.
    expect(cart[0]?.resourceIndex).toBe(cart[1]?.resourceIndex);
    expect(byPod('search-0')[0]?.resourceIndex).not.toBe(cart[0]?.resourceIndex);
    expect(cart[0]?.resource).toEqual({
      'service.name': { stringValue: 'cart' },
      'service.namespace': { stringValue: 'shop' },
      'k8s.pod.name': { stringValue: 'cart-5c4b' },
      'k8s.pod.uid': { stringValue: 'uid-cart-5c4b' },
      'k8s.namespace.name': { stringValue: 'shop' },
      'k8s.node.name': { stringValue: 'node-a' },
    });
    const [ok, failed] = cart;
    expect(ok?.scope).toEqual({ name: 'l7flow', version: '9.9.9' });
    expect(ok?.kind).toBe(2); // SPAN_KIND_SERVER
    expect(ok?.name).toBe('GET');
    expect(ok?.startTimeUnixNano).toBe('1795694400123456000');
    expect(ok?.endTimeUnixNano).toBe('1795694400123456000');
    expect(ok?.flags).toBe(0x101); // sampled, has-is-remote, local parent (none)
    expect(ok?.parentSpanId).toBe('');
    expect(ok?.status.code ?? 0).toBe(0);
    expect(ok?.attributes).toMatchObject({
      'http.request.method': { stringValue: 'GET' },
      'http.response.status_code': { intValue: '200' },
      'server.port': { intValue: '80' },
      'network.peer.port': { intValue: '43512' },
      'url.path': { stringValue: '/cart/42' },
      'url.query': { stringValue: 'view=full' },
      'url.scheme': { stringValue: 'http' },
      'network.protocol.version': { stringValue: '1.1' },
    });
    expect(failed?.status.code).toBe(2); // STATUS_CODE_ERROR
    expect(failed?.attributes['error.type']).toEqual({ stringValue: '503' });
    expect(await metric('l7flow_otlp_items_sent_total', { signal: 'traces' })).toBe(3);
    expect(await metric('l7flow_records_sent_total')).toBe(3);
  });

  it('sends the client span and its server child in one trace, and continues a traceparent', async () => {
    const rx = await receiver();
    const { exporter: otlp } = exporter(rx.endpoint, { signals: ['traces'] });
    await otlp.start();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await otlp.consume([
      flow([httpTx({}, { txId: 0 })], { srcPod: clientPod('egress'), dstPod: serverPod('ingress') }),
      flow([httpTx({ requestHeaders: [{ name: 'traceparent', value: traceparent }] }, { txId: 1 })], {
        srcPod: clientPod('egress'),
        dstPod: serverPod('ingress'),
      }),
    ]);
    await otlp.shutdown();

    const client = rx.spans.filter((s) => s.kind === 3);
    const server = rx.spans.filter((s) => s.kind === 2);
    expect(client).toHaveLength(2);
    expect(server).toHaveLength(2);
    expect(client[0]?.resource['k8s.pod.name']).toEqual({ stringValue: 'frontend-7d9f' });
    expect(server[0]?.traceId).toBe(client[0]?.traceId);
    expect(server[0]?.parentSpanId).toBe(client[0]?.spanId);
    expect(server[0]?.flags).toBe(0x101);

    expect(client[1]?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(client[1]?.parentSpanId).toBe('00f067aa0ba902b7');
    expect(client[1]?.flags).toBe(0x301); // sampled, parent is remote
    expect(server[1]?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(server[1]?.parentSpanId).toBe(client[1]?.spanId);
  });

  it('derives the same ids when the same input is processed again', async () => {
    const rx = await receiver();
    for (const run of [1, 2]) {
      const { exporter: otlp } = exporter(rx.endpoint, { signals: ['traces'] });
      await otlp.start();
      await otlp.consume([flow([httpTx()], { srcPod: clientPod('both'), dstPod: serverPod('both') })]);
      await otlp.shutdown();
      expect(rx.spans).toHaveLength(2 * run);
    }
    const ids = rx.spans.map((s) => `${s.traceId}/${s.spanId}/${s.parentSpanId}`);
    expect(ids.slice(2)).toEqual(ids.slice(0, 2));

    const { exporter: elsewhere } = exporter(rx.endpoint, { signals: ['traces'] }, 'node-b');
    await elsewhere.start();
    await elsewhere.consume([flow([httpTx()], { srcPod: clientPod('both'), dstPod: serverPod('both') })]);
    await elsewhere.shutdown();
    expect(rx.spans[4]?.traceId).not.toBe(rx.spans[0]?.traceId);
  });

  it('sends one l7flow.flow log per record, linked to the span of a single transaction', async () => {
    const rx = await receiver();
    const { exporter: otlp, metric } = exporter(rx.endpoint);
    await otlp.start();
    await otlp.consume([
      flow([httpTx()], { srcPod: clientPod('egress'), dstPod: serverPod('ingress') }),
      flow([httpTx({}, { txId: 1 }), httpTx({}, { txId: 2 })], { dstPod: serverPod('ingress') }),
      flow([], { app: '' }),
    ]);
    await otlp.shutdown();

    expect(rx.logs).toHaveLength(3);
    const [single, several, bare] = rx.logs;
    expect(single?.eventName).toBe('l7flow.flow');
    expect(single?.severityNumber).toBe(9);
    expect(single?.timeUnixNano).toBe(String((baseTimeUs + 1_000_000) * 1000));
    expect(single?.resource['k8s.pod.name']).toEqual({ stringValue: 'cart-5c4b' });
    const serverSpan = rx.spans.find((s) => s.kind === 2 && s.traceId === single?.traceId);
    expect(serverSpan?.spanId).toBe(single?.spanId);
    expect(single?.flags).toBe(1);
    expect(single?.attributes['l7flow.flow.packets']).toEqual({ intValue: '10' });
    expect(single?.attributes['l7flow.http.status_codes']).toEqual({ arrayValue: { values: [{ intValue: '200' }] } });
    expect(several?.traceId).toBe('');
    expect(bare?.traceId).toBe('');
    expect(bare?.resource).toEqual({
      'service.name': { stringValue: 'l7flow' },
      'k8s.node.name': { stringValue: 'node-a' },
    });
    expect(await metric('l7flow_otlp_items_sent_total', { signal: 'logs' })).toBe(3);
    expect(await metric('l7flow_otlp_items_sent_total', { signal: 'traces' })).toBe(4);
    expect(await metric('l7flow_records_sent_total')).toBe(3);
  });
});

describe('OTLP exporter delivery', () => {
  it('retries while the receiver answers UNAVAILABLE, then delivers everything, retries counted', async () => {
    const rx = await receiver();
    rx.fail('traces', 3, status.UNAVAILABLE);
    rx.fail('logs', 2, status.UNAVAILABLE);
    const { exporter: otlp, metric } = exporter(rx.endpoint);
    await otlp.start();
    await otlp.consume(twoServers());
    await rx.waitFor(() => rx.spans.length === 3 && rx.logs.length === 3);
    await otlp.shutdown();

    expect(rx.requests.filter((r) => r.signal === 'traces').map((r) => r.answer)).toEqual([
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'OK',
    ]);
    expect(await metric('l7flow_otlp_items_failed_total', { signal: 'traces', code: 'UNAVAILABLE' })).toBe(9);
    expect(await metric('l7flow_otlp_items_retried_total', { signal: 'traces' })).toBe(9);
    expect(await metric('l7flow_otlp_items_retried_total', { signal: 'logs' })).toBe(6);
    expect(await metric('l7flow_otlp_items_sent_total', { signal: 'traces' })).toBe(3);
    expect(await metric('l7flow_records_sent_total')).toBe(3);
    expect(await metric('l7flow_records_dropped_total')).toBe(0);
  });

  it('drops and counts what overflows its queue while an export hangs, then retries the hung one', async () => {
    const rx = await receiver();
    rx.hang('logs', 1);
    const { exporter: otlp, metric } = exporter(rx.endpoint, {
      signals: ['logs'],
      timeout: '300ms',
      queue: { size: 4, num_consumers: 1 },
      batch: { send_batch_size: 1, timeout: '10ms' },
    });
    await otlp.start();
    const record = (flowKey: number) => flow([], { flowKey, app: '' });
    await otlp.consume([record(0)]);
    await rx.waitFor(() => rx.requests.length === 1);
    await otlp.consume(Array.from({ length: 10 }, (_, i) => record(i + 1)));
    await rx.waitFor(() => rx.logs.length === 5);
    await otlp.shutdown();

    expect(rx.logs.map((l) => l.attributes['l7flow.flow.id']?.intValue)).toEqual(['0', '1', '2', '3', '4']);
    expect(await metric('l7flow_otlp_items_dropped_total', { signal: 'logs', reason: 'queue_full' })).toBe(6);
    expect(await metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(6);
    expect(await metric('l7flow_otlp_items_failed_total', { signal: 'logs', code: 'DEADLINE_EXCEEDED' })).toBe(1);
    expect(await metric('l7flow_records_sent_total')).toBe(5);
  });

  it('holds a record until all its spans and its log are acknowledged or dropped', async () => {
    const rx = await receiver();
    rx.hang('traces', 1);
    const { exporter: otlp, metric } = exporter(rx.endpoint, { timeout: '300ms' });
    await otlp.start();
    const held = () => metric('l7flow_records_held', { buffer: 'otlp_queue' });
    await otlp.consume([...twoServers(), flow([], { flowKey: 9, app: '' })]);
    // Logs go through; the spans wait on the hung request, so their three records are held.
    await until(async () => (await metric('l7flow_records_sent_total')) === 1, 'the record without spans');
    expect(await held()).toBe(3);
    expect(rx.spans).toHaveLength(0);
    await until(async () => (await metric('l7flow_records_sent_total')) === 4, 'the retried spans');
    expect(await held()).toBe(0);
    expect(rx.spans).toHaveLength(3);
  });

  it('flushes what is queued when it shuts down', async () => {
    const rx = await receiver();
    const { exporter: otlp, metric } = exporter(rx.endpoint, { batch: { timeout: '1h' } });
    await otlp.start();
    await otlp.consume(twoServers());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(rx.requests).toHaveLength(0);
    await otlp.shutdown();
    expect(rx.spans).toHaveLength(3);
    expect(rx.logs).toHaveLength(3);
    expect(await metric('l7flow_records_sent_total')).toBe(3);
  });

  it('gives up at the shutdown deadline and counts what it could not deliver', async () => {
    const rx = await receiver();
    rx.hang('traces', 1);
    rx.hang('logs', 1);
    const { exporter: otlp, metric, logger } = exporter(rx.endpoint, { timeout: '1h' });
    await otlp.start();
    await otlp.consume(twoServers());
    await rx.waitFor(() => rx.requests.length === 2);
    const began = Date.now();
    await otlp.shutdown(AbortSignal.timeout(100));
    expect(Date.now() - began).toBeLessThan(5000);
    expect(await metric('l7flow_otlp_items_dropped_total', { signal: 'traces', reason: 'shutdown_timeout' })).toBe(3);
    expect(await metric('l7flow_otlp_items_dropped_total', { signal: 'logs', reason: 'shutdown_timeout' })).toBe(3);
    expect(await metric('l7flow_records_dropped_total', { reason: 'shutdown_timeout' })).toBe(3);
    expect(logger.lines.some((l) => l.msg === 'records dropped')).toBe(true);
  });

  it('drops a batch the receiver rejects for good, without retrying', async () => {
    const rx = await receiver();
    rx.fail('traces', 1, status.INVALID_ARGUMENT);
    const { exporter: otlp, metric } = exporter(rx.endpoint, { signals: ['traces'] });
    await otlp.start();
    await otlp.consume(twoServers());
    await otlp.shutdown();
    expect(rx.requests).toHaveLength(1);
    expect(await metric('l7flow_otlp_items_dropped_total', { signal: 'traces', reason: 'export_failed' })).toBe(3);
    expect(await metric('l7flow_records_dropped_total', { reason: 'export_failed' })).toBe(3);
  });

  it('retries RESOURCE_EXHAUSTED only when the receiver says when (RetryInfo), waiting that long', async () => {
    const rx = await receiver();
    rx.fail('traces', 1, status.RESOURCE_EXHAUSTED, retryInfoTrailer(300));
    rx.fail('logs', 1, status.RESOURCE_EXHAUSTED);
    const { exporter: otlp, metric } = exporter(rx.endpoint);
    await otlp.start();
    const began = Date.now();
    await otlp.consume(twoServers());
    await rx.waitFor(() => rx.spans.length === 3);
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
    await otlp.shutdown();
    expect(await metric('l7flow_otlp_items_retried_total', { signal: 'traces' })).toBe(3);
    expect(await metric('l7flow_otlp_items_dropped_total', { signal: 'logs', reason: 'export_failed' })).toBe(3);
  });

  it('counts a record it cannot map and still delivers its neighbours', async () => {
    const rx = await receiver();
    const { exporter: otlp, metric } = exporter(rx.endpoint);
    await otlp.start();
    const [first, , third] = twoServers();
    const broken = flow([httpTx({}, { timeUs: Number.NaN })], { dstPod: serverPod('ingress') });
    await otlp.consume([first!, broken, third!]);
    await otlp.shutdown();
    expect(rx.spans).toHaveLength(2);
    expect(rx.logs).toHaveLength(2);
    expect(await metric('l7flow_records_dropped_total', { reason: 'invalid_record' })).toBe(1);
    expect(await metric('l7flow_records_sent_total')).toBe(2);
  });

  it('refuses records after shutdown', async () => {
    const rx = await receiver();
    const { exporter: otlp } = exporter(rx.endpoint);
    await otlp.start();
    await otlp.shutdown();
    await expect(otlp.consume(twoServers())).rejects.toBeInstanceOf(ClosedError);
  });
});

describe('OTLP exporter connection settings', () => {
  it('sends the configured headers as metadata and ignores OTEL_EXPORTER_OTLP_* variables', async () => {
    const rx = await receiver();
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-from-env=leaked';
    process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS = 'authorization=from-env';
    try {
      const { exporter: otlp } = exporter(rx.endpoint, {
        headers: { authorization: 'Bearer t0k3n', 'x-tenant': 'shop' },
      });
      await otlp.start();
      expect(process.env.OTEL_EXPORTER_OTLP_HEADERS).toBe('x-from-env=leaked');
      await otlp.consume(twoServers());
      await otlp.shutdown();
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
      delete process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS;
    }
    expect(rx.requests).toHaveLength(2);
    for (const request of rx.requests) {
      expect(request.metadata.authorization).toEqual(['Bearer t0k3n']);
      expect(request.metadata['x-tenant']).toEqual(['shop']);
      expect(request.metadata).not.toHaveProperty('x-from-env');
      expect(request.metadata['user-agent']?.[0]).toMatch(/^l7flow\/9\.9\.9 OTel-OTLP-Exporter-JavaScript/);
    }
  });

  it.each([
    ['gzip', true],
    ['none', false],
  ] as const)('compression %s frames the messages accordingly', async (compression, compressed) => {
    const capture = await startFrameCapture();
    try {
      const { exporter: otlp } = exporter(capture.endpoint, { compression, signals: ['traces'] });
      await otlp.start();
      await otlp.consume(twoServers());
      await otlp.shutdown();
      expect(capture.frames).toHaveLength(1);
      const [frame] = capture.frames;
      expect(frame?.path).toBe('/opentelemetry.proto.collector.trace.v1.TraceService/Export');
      expect(frame?.compressed).toBe(compressed);
      if (compressed) expect(frame?.encoding).toBe('gzip');
      expect(await spanNamesIn(frame?.message ?? Buffer.alloc(0))).toEqual(['GET', 'GET', 'GET']);
    } finally {
      await capture.close();
    }
  });

  describe('TLS', () => {
    let serverTls: { key: Buffer; cert: Buffer };
    beforeAll(() => {
      serverTls = { key: readFileSync(pem('server-key.pem')), cert: readFileSync(pem('server.pem')) };
    });
    const tlsExporter = (endpoint: string, tls: Record<string, unknown>) =>
      exporter(endpoint, { tls, signals: ['logs'], retry_on_failure: { enabled: false } });

    it('verifies the server against ca_file and server_name', async () => {
      const rx = await receiver({ tls: serverTls });
      const { exporter: otlp, metric } = tlsExporter(rx.endpoint, { ca_file: pem('ca.pem'), server_name: 'otel.test' });
      await otlp.start();
      await otlp.consume(twoServers());
      await otlp.shutdown();
      expect(rx.logs).toHaveLength(3);
      expect(await metric('l7flow_otlp_items_sent_total', { signal: 'logs' })).toBe(3);
    });

    it.each([
      ['a certificate from an unknown CA', {}],
      ['a certificate for another name', { ca_file: pem('ca.pem') }],
    ])('refuses %s', async (_name, tls) => {
      const rx = await receiver({ tls: serverTls });
      const { exporter: otlp, metric } = tlsExporter(rx.endpoint, tls);
      await otlp.start();
      await otlp.consume(twoServers());
      await otlp.shutdown();
      expect(rx.logs).toHaveLength(0);
      expect(await metric('l7flow_otlp_items_dropped_total', { signal: 'logs', reason: 'export_failed' })).toBe(3);
    });

    it('presents the client certificate for mutual TLS', async () => {
      const rx = await receiver({ tls: { ...serverTls, clientCa: readFileSync(pem('ca.pem')) } });
      const common = { ca_file: pem('ca.pem'), server_name: 'otel.test' };
      const anonymous = tlsExporter(rx.endpoint, common);
      await anonymous.exporter.start();
      await anonymous.exporter.consume(twoServers());
      await anonymous.exporter.shutdown();
      expect(rx.logs).toHaveLength(0);

      const { exporter: otlp } = tlsExporter(rx.endpoint, {
        ...common,
        cert_file: pem('client.pem'),
        key_file: pem('client-key.pem'),
      });
      await otlp.start();
      await otlp.consume(twoServers());
      await otlp.shutdown();
      expect(rx.logs).toHaveLength(3);
    });

    it('fails to start, naming the file, when a TLS file cannot be read', async () => {
      const { exporter: otlp } = tlsExporter('127.0.0.1:1', { ca_file: pem('missing.pem') });
      await expect(otlp.start()).rejects.toThrow(/tls\.ca_file .*missing\.pem: ENOENT/);
    });
  });
});

describe('OTLP exporter in the pipeline graph', () => {
  it('receives flow records through the sending queue and delivers them before the graph stops', async () => {
    const rx = await receiver();
    const kit = createTestKit();
    const loaded = parseConfig(
      `
receivers: { test_source: }
processors: { test_join: }
exporters:
  otlp: { endpoint: "${rx.endpoint}", tls: { insecure: true }, node_name: node-a, batch: { timeout: 1h } }
service:
  pipelines:
    flows: { receivers: [test_source], processors: [test_join], exporters: [otlp] }
`,
      { factories: kit.factories, env: {} },
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const telemetry = new Telemetry();
    const graph = new Graph(loaded.config, {
      logger: new CaptureLogger(),
      clock: systemClock,
      telemetry,
      onFatal: () => {},
    });
    await graph.start();
    await kit.sources.get('test_source')?.emit([httpEvent(0), httpEvent(1)]);
    const result = await graph.shutdown(AbortSignal.timeout(5000));

    expect(result).toEqual({ clean: true, failures: [] });
    // test_join makes flow records without Pods: SERVER spans on the destination's stand-in resource.
    expect(rx.spans.map((s) => [s.kind, s.resource['service.name']?.stringValue])).toEqual([
      [2, 'unknown_service:10.0.0.2'],
      [2, 'unknown_service:10.0.0.2'],
    ]);
    expect(rx.logs).toHaveLength(2);
    expect(await metricValue(telemetry, 'l7flow_records_received_total', { component: 'otlp' })).toBe(2);
    expect(await metricValue(telemetry, 'l7flow_records_sent_total', { component: 'otlp' })).toBe(2);
  });
});
