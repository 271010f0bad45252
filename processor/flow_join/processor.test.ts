import { describe, expect, it } from 'vitest';
import type { ConnSample, FlowRecord, HttpEvent, PipelineRecord } from '../../pipeline/records.js';
import { ClosedError } from '../../pipeline/errors.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { flowJoinConfigSchema, flowJoinProcessorFactory } from './factory.js';

const tuple = { proto: 6, srcIp: '10.0.0.1', srcPort: 40000, dstIp: '10.0.0.2', dstPort: 80 };
const reply = { proto: 6, srcIp: '10.0.0.2', srcPort: 80, dstIp: '10.0.0.1', dstPort: 40000 };

function setup(config: Record<string, unknown> = {}, inputs: ReadonlySet<'l7' | 'conn'> = new Set(['l7', 'conn'])) {
  const clock = new ManualClock();
  const { settings, telemetry } = testSettings('flow_join', clock);
  const out: PipelineRecord[] = [];
  const processor = flowJoinProcessorFactory.create({ ...settings, inputs }, flowJoinConfigSchema.parse(config), {
    consume: (batch) => Promise.resolve(void out.push(...batch)),
  });
  const sample = (packets: number, extra: Partial<ConnSample> = {}): ConnSample => ({
    kind: 'conn',
    timeUs: clock.nowUs(),
    zone: 0,
    mark: 0,
    original: tuple,
    reply,
    assured: true,
    unreplied: false,
    dying: false,
    counters: { packets, bytes: packets * 60, reversePackets: packets, reverseBytes: packets * 600 },
    ...extra,
  });
  const http = (txId: number): HttpEvent => ({
    kind: 'http',
    timeUs: clock.nowUs(),
    tuple,
    flowId: 1,
    txId,
    http: { method: 'GET', url: '/' },
  });
  const flows = () => out.filter((r): r is FlowRecord => r.kind === 'flow');
  return { processor, clock, telemetry, sample, http, flows };
}

const host = { reportFatal: () => {} };
/** Lets the timer's asynchronous hand-off settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('flow_join processor', () => {
  it('exports on its own timer, with no input arriving', async () => {
    const { processor, clock, sample, http, flows } = setup();
    await processor.start(host);
    await processor.consume([sample(3), http(0)]);
    expect(flows()).toEqual([]);
    clock.advance(5000);
    await settle();
    expect(flows()).toEqual([
      expect.objectContaining({ endReason: 2, deltas: expect.objectContaining({ packets: 3 }) }),
    ]);
    expect(flows()[0]?.l7.map((e) => e.txId)).toEqual([0]);
    await processor.shutdown();
  });

  it('at shutdown ends every live connection as forced, then refuses input', async () => {
    const { processor, sample, flows, telemetry } = setup();
    await processor.start(host);
    await processor.consume([sample(3)]);
    await processor.shutdown();
    expect(flows()).toEqual([expect.objectContaining({ endReason: 4 })]);
    expect(
      await metricValue(telemetry, 'l7flow_join_records_total', { component: 'flow_join', reason: 'forced_end' }),
    ).toBe(1);
    await expect(processor.consume([sample(4)])).rejects.toBeInstanceOf(ClosedError);
  });

  it('without a conntrack source in its pipeline, exports each flow’s transactions within a second as L7-only records', async () => {
    const { processor, clock, http, flows, telemetry } = setup({}, new Set(['l7']));
    await processor.start(host);
    await processor.consume([http(0)]);
    await processor.consume([http(1)]);
    expect(flows()).toEqual([]);
    clock.advance(1000);
    await settle();
    expect(flows()).toEqual([
      expect.objectContaining({
        app: 'http',
        tuple,
        endReason: 3,
        totals: { packets: 0, bytes: 0, reversePackets: 0, reverseBytes: 0 },
      }),
    ]);
    expect(
      await metricValue(telemetry, 'l7flow_join_transactions_total', { component: 'flow_join', result: 'unmatched' }),
    ).toBe(2);
    await processor.shutdown();
  });

  it('reports its store and pending buffer as bounded queues', async () => {
    const { processor, sample, http, telemetry } = setup({ max_connections: 7, max_pending: 5 });
    await processor.start(host);
    await processor.consume([sample(1), { ...http(0), tuple: { ...tuple, srcPort: 1 } }]);
    const gauge = (name: string, queue: string) => metricValue(telemetry, name, { component: 'flow_join', queue });
    expect([
      await gauge('l7flow_queue_size', 'connections'),
      await gauge('l7flow_queue_capacity', 'connections'),
    ]).toEqual([1, 7]);
    expect([
      await gauge('l7flow_queue_size', 'pending_l7'),
      await gauge('l7flow_queue_capacity', 'pending_l7'),
    ]).toEqual([1, 5]);
    await processor.shutdown();
  });

  it('passes records of other families through untouched', async () => {
    const { processor, flows } = setup();
    const record = { kind: 'flow', flowKey: 9 } as unknown as FlowRecord;
    await processor.consume([record]);
    expect(flows()).toEqual([record]);
    await processor.shutdown();
  });
});
