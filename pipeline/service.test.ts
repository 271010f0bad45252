import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { CaptureLogger } from '../test/support/capture-logger.js';
import { createTestKit, httpEvent } from '../test/support/components.js';
import { Service } from './service.js';

let services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.map((s) => s.shutdown()));
  services = [];
});

function serviceFor(sinkConfig: string) {
  const kit = createTestKit();
  const result = parseConfig(
    `
receivers: { test_source: }
exporters: { test_sink: ${sinkConfig} }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines: { flows: { receivers: [test_source], exporters: [test_sink] } }
`,
    { factories: kit.factories, env: {} },
  );
  if (!result.ok) throw new Error(result.problems.join('\n'));
  const logger = new CaptureLogger();
  const service = new Service(result.config, { logger, version: '0.0.0-test' });
  services.push(service);
  return { service, kit, logger };
}

async function get(address: string | undefined, path: string) {
  const response = await fetch(`http://${address}${path}`);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

describe('telemetry endpoint', () => {
  it('serves Prometheus metrics with per-component record counters and queue gauges', async () => {
    const { service, kit } = serviceFor('{ sending_queue: { queue_size: 50 } }');
    await service.start();
    await kit.sources.get('test_source')!.emit([httpEvent(0), httpEvent(1)]);
    const metrics = await get(service.telemetryAddress, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toContain('l7flow_records_sent_total{component="test_source"} 2');
    expect(metrics.body).toContain('l7flow_records_received_total{component="test_sink"} 2');
    expect(metrics.body).toContain('l7flow_queue_capacity{component="test_sink",queue="sending_queue"} 50');
    expect(metrics.body).toMatch(/l7flow_queue_size\{component="test_sink",queue="sending_queue"\} \d/);
    expect(metrics.body).toContain('l7flow_build_info{version="0.0.0-test"');
  });

  it('answers /readyz 503 naming what it waits for, then 200 once all components are ready', async () => {
    const { service } = serviceFor('{ ready: false }');
    await service.start();
    expect(await get(service.telemetryAddress, '/readyz')).toMatchObject({
      status: 503,
      body: 'not ready: test_sink\n',
    });
    expect(await get(service.telemetryAddress, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });

    const ready = serviceFor('{}').service;
    await ready.start();
    expect(await get(ready.telemetryAddress, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    expect(await get(ready.telemetryAddress, '/nothing')).toMatchObject({ status: 404 });
  });

  it('logs one line at start and one at stop of each component, and closes the endpoint', async () => {
    const { service, logger } = serviceFor('{}');
    await service.start();
    const address = service.telemetryAddress;
    expect(await service.shutdown()).toEqual({ clean: true, failures: [] });
    const lifecycle = logger.lines
      .filter((l) => typeof l.component === 'string')
      .map((l) => `${String(l.component)} ${l.msg}`);
    expect(lifecycle).toEqual([
      'test_sink exporter started',
      'test_source receiver started',
      'test_source receiver stopped',
      'test_sink exporter stopped',
    ]);
    expect(logger.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['l7flow started', 'l7flow stopped']));
    await expect(fetch(`http://${address}/healthz`)).rejects.toThrow();
  });
});
