import { parseConfig } from '../../config/load.js';
import { systemClock } from '../../pipeline/clock.js';
import { Graph } from '../../pipeline/graph.js';
import { silentLogger } from '../../pipeline/logger.js';
import type { PipelineRecord } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { createTestKit, httpEvent, TestJoin, TestSink } from '../support/components.js';
import { testSettings } from '../support/settings.js';
import { measureAsync, report } from './harness.js';
import type { Bench } from './run.js';

/**
 * Cost of the graph itself: batches of 100 records from a receiver through one processor to
 * two exporters behind their sending queues, against calling the same processor and sinks
 * directly (the baseline).
 */
const sinkConfig = { delay_ms: 0, fail: false, fail_start: false, ready: true };

export const pipelineBench: Bench = {
  name: 'pipeline',
  async run() {
    const batch: PipelineRecord[] = Array.from({ length: 100 }, (_, i) => httpEvent(i));
    const kit = createTestKit();
    const result = parseConfig(
      `
receivers: { test_source: }
processors: { test_join: }
exporters: { test_sink/a: , test_sink/b: }
service: { pipelines: { flows: { receivers: [test_source], processors: [test_join], exporters: [test_sink/a, test_sink/b] } } }
`,
      { factories: kit.factories, env: {} },
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const graph = new Graph(result.config, {
      logger: silentLogger,
      clock: systemClock,
      telemetry: new Telemetry(),
      onFatal: () => {},
    });
    await graph.start();
    const source = kit.sources.get('test_source')!;
    const sinks = [kit.sinks.get('test_sink/a')!, kit.sinks.get('test_sink/b')!];
    const drained = async () => {
      while (sinks.some((s) => s.records.length < target)) await new Promise((r) => setImmediate(r));
      for (const s of sinks) s.records.length = 0;
    };
    let target = 0;
    const graphRate = await measureAsync(
      async (n) => {
        target = n * batch.length;
        for (let i = 0; i < n; i++) {
          await source.emit(batch);
          // A receiver is driven by I/O: the event loop turns between its reads, and the sending
          // queues hand on a batch per turn (here one turn per 1000 records, one batch).
          if (i % 10 === 9) await new Promise((r) => setImmediate(r));
        }
        await drained();
      },
      { n: 2000 },
    );
    await graph.shutdown();

    // Baseline: the same processor and sinks called directly, without queues or counters.
    const journal: string[] = [];
    const settings = (id: string) => testSettings(id).settings;
    const directSinks = ['a', 'b'].map((n) => new TestSink(settings(n), sinkConfig, journal));
    const join = new TestJoin(
      settings('join'),
      {
        consume: async (records) => {
          for (const sink of directSinks) await sink.consume(records);
        },
      },
      journal,
    );
    const baselineRate = await measureAsync(
      async (n) => {
        for (let i = 0; i < n; i++) await join.consume(batch);
        for (const s of directSinks) s.records.length = 0;
      },
      { n: 2000 },
    );
    report({
      name: 'records/s through receiver -> processor -> 2 queued exporters',
      value: graphRate.opsPerSecond * batch.length,
      unit: 'records/s',
      baseline: { name: 'same processor and sinks called directly', value: baselineRate.opsPerSecond * batch.length },
    });
  },
};
