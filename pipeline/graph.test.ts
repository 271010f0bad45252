import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { packageRoot } from '../config/paths.js';
import { CaptureLogger } from '../test/support/capture-logger.js';
import { createTestKit, httpEvent, type TestKit } from '../test/support/components.js';
import { metricValue } from '../test/support/settings.js';
import { until } from '../test/support/until.js';
import { systemClock } from './clock.js';
import { Graph } from './graph.js';
import { Telemetry } from './telemetry.js';

let running: Graph[] = [];
afterEach(async () => {
  await Promise.all(running.map((g) => g.shutdown()));
  running = [];
});

function build(kit: TestKit, yaml: string) {
  const result = parseConfig(yaml, { factories: kit.factories, env: {} });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  const telemetry = new Telemetry();
  const logger = new CaptureLogger();
  const fatal: string[] = [];
  const graph = new Graph(result.config, {
    logger,
    clock: systemClock,
    telemetry,
    onFatal: (id, e) => fatal.push(`${id}: ${e.message}`),
  });
  running.push(graph);
  return { graph, telemetry, logger, fatal };
}

const twoExporters = (sinkB = '{}') => `
receivers: { test_source: }
processors: { test_join: }
exporters:
  test_sink/a: {}
  test_sink/b: ${sinkB}
service:
  pipelines:
    flows: { receivers: [test_source], processors: [test_join], exporters: [test_sink/a, test_sink/b] }
`;

describe('graph', () => {
  it('starts exporters, processors, receivers in that order and stops them in reverse', async () => {
    const kit = createTestKit();
    const { graph } = build(kit, twoExporters());
    await graph.start();
    expect(await graph.shutdown()).toEqual({ clean: true, failures: [] });
    expect(kit.journal).toEqual([
      'start test_sink/a',
      'start test_sink/b',
      'start test_join',
      'start test_source',
      'shutdown test_source',
      'shutdown test_join',
      'shutdown test_sink/a',
      'shutdown test_sink/b',
    ]);
  });

  it('delivers every record to every exporter and counts records on each edge', async () => {
    const kit = createTestKit();
    const { graph, telemetry } = build(kit, twoExporters());
    await graph.start();
    await kit.sources.get('test_source')!.emit([httpEvent(0), httpEvent(1), httpEvent(2)]);
    await graph.shutdown();
    for (const id of ['test_sink/a', 'test_sink/b']) {
      expect(kit.sinks.get(id)!.records.map((r) => (r.kind === 'flow' ? r.l7[0]?.txId : -1))).toEqual([0, 1, 2]);
      expect(await metricValue(telemetry, 'l7flow_records_received_total', { component: id })).toBe(3);
      expect(await metricValue(telemetry, 'l7flow_records_sent_total', { component: id })).toBe(3);
    }
    expect(await metricValue(telemetry, 'l7flow_records_sent_total', { component: 'test_source' })).toBe(3);
    expect(await metricValue(telemetry, 'l7flow_records_received_total', { component: 'test_join' })).toBe(3);
    expect(await metricValue(telemetry, 'l7flow_records_sent_total', { component: 'test_join' })).toBe(3);
  });

  it("states each component's final accounting in its stop line", async () => {
    const kit = createTestKit();
    const { graph, logger } = build(kit, twoExporters('{ fail: true }'));
    await graph.start();
    await kit.sources.get('test_source')!.emit([httpEvent(0), httpEvent(1)]);
    await graph.shutdown();
    const stopped = (component: string) =>
      logger.lines.find((l) => l.component === component && typeof l.msg === 'string' && l.msg.endsWith(' stopped'));
    expect(stopped('test_sink/a')).toMatchObject({
      msg: 'exporter stopped',
      records: { received: 2, sent: 2, dropped: {}, held: { sending_queue: 0 } },
    });
    expect(stopped('test_sink/b')).toMatchObject({
      records: { received: 2, sent: 0, dropped: { export_failed: 2 }, held: { sending_queue: 0 } },
    });
    expect(stopped('test_join')).toMatchObject({ msg: 'processor stopped', records: { received: 2, sent: 2 } });
  });

  it('lets a blocked exporter fill its own queue and drop, without slowing its sibling', async () => {
    const kit = createTestKit();
    const { graph, telemetry } = build(kit, twoExporters('{ sending_queue: { queue_size: 4, batch_size: 1 } }'));
    await graph.start();
    const blocked = kit.sinks.get('test_sink/b')!;
    blocked.block();
    const source = kit.sources.get('test_source')!;
    for (let i = 0; i < 10; i++) await source.emit([httpEvent(i)]);
    await until(() => kit.sinks.get('test_sink/a')!.records.length === 10);
    // b holds one batch in flight and 4 queued; the other 5 were dropped as the queue overflowed.
    expect(
      await metricValue(telemetry, 'l7flow_records_dropped_total', { component: 'test_sink/b', reason: 'queue_full' }),
    ).toBe(5);
    expect(
      await metricValue(telemetry, 'l7flow_queue_size', { component: 'test_sink/b', queue: 'sending_queue' }),
    ).toBe(4);
    expect(
      await metricValue(telemetry, 'l7flow_queue_capacity', { component: 'test_sink/b', queue: 'sending_queue' }),
    ).toBe(4);
    blocked.release();
    await graph.shutdown();
    expect(blocked.records).toHaveLength(5);
  });

  it('counts the batches a failing exporter rejects, and the other exporter still gets them', async () => {
    const kit = createTestKit();
    const { graph, telemetry, logger } = build(kit, twoExporters('{ fail: true }'));
    await graph.start();
    await kit.sources.get('test_source')!.emit([httpEvent(0), httpEvent(1)]);
    await graph.shutdown();
    expect(kit.sinks.get('test_sink/a')!.records).toHaveLength(2);
    expect(
      await metricValue(telemetry, 'l7flow_records_dropped_total', {
        component: 'test_sink/b',
        reason: 'export_failed',
      }),
    ).toBe(2);
    const warning = logger.lines.find((l) => l.component === 'test_sink/b' && l.level === 'warn');
    expect(warning).toMatchObject({
      msg: 'records dropped',
      dropped: { export_failed: 2 },
      detail: 'collector unreachable',
    });
  });

  it('flushes queued records to the exporters on shutdown', async () => {
    const kit = createTestKit();
    const { graph } = build(kit, twoExporters('{ delay_ms: 2, sending_queue: { batch_size: 1 } }'));
    await graph.start();
    await kit.sources.get('test_source')!.emit(Array.from({ length: 20 }, (_, i) => httpEvent(i)));
    expect(kit.sinks.get('test_sink/b')!.records.length).toBeLessThan(20);
    expect((await graph.shutdown()).clean).toBe(true);
    expect(kit.sinks.get('test_sink/b')!.records).toHaveLength(20);
  });

  it('abandons what is still queued when the shutdown deadline passes, and says so', async () => {
    const kit = createTestKit();
    const { graph, telemetry } = build(kit, twoExporters('{ sending_queue: { batch_size: 1 } }'));
    await graph.start();
    kit.sinks.get('test_sink/b')!.block();
    await kit.sources.get('test_source')!.emit([httpEvent(0), httpEvent(1), httpEvent(2)]);
    const result = await graph.shutdown(AbortSignal.timeout(50));
    expect(result.clean).toBe(false);
    expect(result.failures).toContain('shutdown deadline passed before every component had stopped');
    // one record was in flight inside the blocked exporter; two were still queued
    expect(
      await metricValue(telemetry, 'l7flow_records_dropped_total', {
        component: 'test_sink/b',
        reason: 'shutdown_timeout',
      }),
    ).toBe(2);
    kit.sinks.get('test_sink/b')!.release();
  });

  it('stops what it started when a component fails to start, naming the component', async () => {
    const kit = createTestKit();
    const { graph } = build(kit, twoExporters('{ fail_start: true }'));
    await expect(graph.start()).rejects.toThrow('exporter test_sink/b failed to start: port already in use');
    expect(kit.journal).toEqual([
      'start test_sink/a',
      'shutdown test_source',
      'shutdown test_join',
      'shutdown test_sink/a',
      'shutdown test_sink/b',
    ]);
  });

  it('is ready only once running and every component reports ready', async () => {
    const kit = createTestKit();
    const { graph } = build(kit, twoExporters('{ ready: false }'));
    expect(graph.readiness()).toEqual({ ready: false, waiting: ['agent is created'] });
    await graph.start();
    expect(graph.readiness()).toEqual({ ready: false, waiting: ['test_sink/b'] });
    await graph.shutdown();
    expect(graph.readiness().ready).toBe(false);
  });

  it('tells flow_join that no connection will come when only L7 events pass through k8s_l7', async () => {
    const kit = createTestKit();
    const pods = join(packageRoot, 'test', 'fixtures', 'k8s_l7', 'pods.yaml');
    const connectionsExpected = async (receivers: string[]) => {
      const { graph, logger } = build(
        kit,
        `
receivers: { ${receivers.map((id) => `${id}: `).join(', ')} }
processors:
  k8s_l7: { pods: file, pods_file: ${JSON.stringify(pods)}, mirror: { mode: none } }
  flow_join:
exporters: { test_flow_sink: }
service:
  pipelines:
    flows: { receivers: [${receivers.join(', ')}], processors: [k8s_l7, flow_join], exporters: [test_flow_sink] }
`,
      );
      await graph.start();
      await graph.shutdown();
      return logger.lines.find((l) => l.component === 'flow_join' && l.msg === 'processor started')
        ?.connectionsExpected;
    };
    expect(await connectionsExpected(['test_source'])).toBe(false);
    expect(await connectionsExpected(['test_source', 'test_conn_source'])).toBe(true);
  });

  it('has a natural end only when every receiver is finite', async () => {
    const finiteOnly = createTestKit();
    const finite = build(
      finiteOnly,
      'receivers: { test_source: { finite: true } }\nexporters: { test_sink: }\nservice: { pipelines: { p: { receivers: [test_source], exporters: [test_sink] } } }\n',
    ).graph;
    const completed = finite.receiversCompleted();
    expect(completed).toBeInstanceOf(Promise);
    finiteOnly.sources.get('test_source')!.finish();
    await completed;

    const mixed = build(
      createTestKit(),
      'receivers: { test_source: { finite: true }, test_source/live: }\nexporters: { test_sink: }\nservice: { pipelines: { p: { receivers: [test_source, test_source/live], exporters: [test_sink] } } }\n',
    ).graph;
    expect(mixed.receiversCompleted()).toBeUndefined();
  });

  it('feeds one receiver into several pipelines and shares an exporter between them', async () => {
    const kit = createTestKit();
    const { graph } = build(
      kit,
      `
receivers: { test_source: }
processors: { test_join/a: , test_join/b: }
exporters: { test_sink: }
service:
  pipelines:
    a: { receivers: [test_source], processors: [test_join/a], exporters: [test_sink] }
    b: { receivers: [test_source], processors: [test_join/b], exporters: [test_sink] }
`,
    );
    await graph.start();
    await kit.sources.get('test_source')!.emit([httpEvent(7)]);
    await graph.shutdown();
    expect(kit.sinks.get('test_sink')!.records).toHaveLength(2);
  });
});
