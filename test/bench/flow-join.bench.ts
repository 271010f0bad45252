import type { ConnSample, Counters, HttpEvent, Tuple } from '../../pipeline/records.js';
import { FlowTable, tupleKey } from '../../processor/flow_join/flow-table.js';
import { median, report } from './harness.js';
import type { Bench } from './run.js';

const connections = 100_000;
const t0 = Date.UTC(2026, 10, 26) * 1000;

function tupleOf(i: number): Tuple {
  return {
    proto: 6,
    srcIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    srcPort: 30000 + (i % 30000),
    dstIp: '10.96.0.10',
    dstPort: 80,
  };
}

function makeSamples(): ConnSample[] {
  return Array.from({ length: connections }, (_, i) => {
    const original = tupleOf(i);
    const reply = { proto: 6, srcIp: '10.244.1.7', srcPort: 8080, dstIp: original.srcIp, dstPort: original.srcPort };
    return {
      kind: 'conn',
      timeUs: t0,
      zone: 65520,
      mark: 0,
      original,
      reply,
      assured: true,
      unreplied: false,
      dying: false,
      tcpState: 'ESTABLISHED',
    };
  });
}

const newTable = () =>
  new FlowTable(
    {
      activeTimeoutUs: 5e6,
      idleTimeoutUs: 15e6,
      pendingTtlUs: 10e6,
      staleTimeoutUs: 300e6,
      unmatched: 'export',
      maxConnections: 200_000,
      maxPending: 10_000,
      maxTransactionsPerFlow: 100,
      maxHeldTransactions: 1_000_000,
      connectionsExpected: true,
    },
    {
      exported() {},
      transactions() {},
      dropped() {},
      opened() {},
      forgotten() {},
      pendingEvicted() {},
      capExports() {},
    },
  );

/** Gives every sample new counters and time, as the next conntrack dump would (not timed). */
function nextPoll(samples: ConnSample[], poll: number): void {
  for (const sample of samples) {
    const counters: Counters = {
      packets: poll * 10,
      bytes: poll * 1000,
      reversePackets: poll * 10,
      reverseBytes: poll * 9000,
    };
    Object.assign(sample, { counters, timeUs: t0 + poll * 5e6 });
  }
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * The join's hot paths at 100k live connections: applying one poll's dump, joining
 * transactions, and the heap each live connection costs. Baselines: a plain Map updated with
 * the same keys and values (poll), a Map lookup plus an array push (join), and a Map holding
 * the same samples (heap).
 */
export const flowJoinBench: Bench = {
  name: 'flow_join',
  run() {
    if (!(globalThis as { gc?: unknown }).gc) process.stdout.write('  (run with --expose-gc for exact heap figures)\n');
    const samples = makeSamples();
    const table = newTable();
    nextPoll(samples, 1);
    for (const sample of samples) table.ingestSample(sample, sample.timeUs);
    table.takeOutput(t0);
    const plain = new Map<string, { counters?: Counters; timeUs: number; state?: string }>();

    const ours: number[] = [];
    const base: number[] = [];
    for (let poll = 2; poll < 16; poll++) {
      nextPoll(samples, poll);
      let began = process.hrtime.bigint();
      const nowUs = t0 + poll * 5e6;
      for (const sample of samples) table.ingestSample(sample, nowUs);
      table.expire(nowUs);
      table.takeOutput(nowUs);
      ours.push(Number(process.hrtime.bigint() - began) / 1e6);
      began = process.hrtime.bigint();
      for (const s of samples) {
        const o = s.original;
        const key = `${s.zone} ${o.proto} ${o.srcIp} ${o.srcPort} ${o.dstIp} ${o.dstPort}`;
        const entry = plain.get(key);
        if (entry) {
          entry.counters = s.counters;
          entry.timeUs = s.timeUs;
          entry.state = s.tcpState;
        } else plain.set(key, { counters: s.counters, timeUs: s.timeUs, state: s.tcpState });
      }
      base.push(Number(process.hrtime.bigint() - began) / 1e6);
    }
    report({
      name: `apply a poll of ${connections.toLocaleString('en-US')} live connections`,
      value: median(ours),
      unit: 'ms',
      baseline: { name: 'plain Map update of the same keys', value: median(base) },
      goal: { value: 100, atLeast: false },
    });

    // Join throughput: transactions for existing connections, half in each orientation.
    const events: HttpEvent[] = Array.from({ length: 200_000 }, (_, i) => {
      const t = tupleOf(i % connections);
      const tuple =
        i % 2 === 0 ? t : { proto: 6, srcIp: '10.244.1.7', srcPort: 8080, dstIp: t.srcIp, dstPort: t.srcPort };
      return { kind: 'http', timeUs: t0, tuple, flowId: i, txId: 0, http: { method: 'GET', url: '/' } };
    });
    const byTuple = new Map<string, HttpEvent[]>();
    for (const sample of samples) byTuple.set(tupleKey(sample.original), []);
    const joinRates: number[] = [];
    const baseRates: number[] = [];
    for (let round = 0; round < 5; round++) {
      let began = process.hrtime.bigint();
      const nowUs = t0 + 100e6 + round;
      for (const event of events) table.ingestEvent(event, nowUs);
      joinRates.push(events.length / (Number(process.hrtime.bigint() - began) / 1e9));
      table.flushAll(nowUs); // empties the transactions (not timed)
      table.takeOutput(nowUs);
      began = process.hrtime.bigint();
      for (const event of events) {
        const key = tupleKey(event.tuple);
        byTuple.get(key)?.push(event);
      }
      baseRates.push(events.length / (Number(process.hrtime.bigint() - began) / 1e9));
      for (const list of byTuple.values()) list.length = 0;
    }
    report({
      name: 'transactions joined',
      value: median(joinRates),
      unit: 'tx/s',
      baseline: { name: 'Map lookup + array push', value: median(baseRates) },
      goal: { value: 200_000, atLeast: true },
    });

    // Heap per live connection.
    const fresh = makeSamples();
    nextPoll(fresh, 1);
    let before = heapUsed();
    const measured = newTable();
    for (const sample of fresh) measured.ingestSample(sample, sample.timeUs);
    measured.takeOutput(t0);
    const perConnection = (heapUsed() - before) / connections;
    before = heapUsed();
    const map = new Map<string, ConnSample>();
    for (const sample of fresh) map.set(`${sample.zone} ${sample.original.srcIp} ${sample.original.srcPort}`, sample);
    const perEntry = (heapUsed() - before) / connections;
    report({
      name: 'heap per live connection (samples themselves excluded)',
      value: perConnection,
      unit: 'bytes',
      baseline: { name: 'a Map entry holding the sample', value: perEntry },
      goal: { value: 1024, atLeast: false },
    });
    void (measured.connections + map.size); // both stay alive until measured
  },
};
