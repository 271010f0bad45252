import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ConnSample, Counters, FlowRecord, HttpEvent, PodRef, Tuple } from '../../pipeline/records.js';
import { FlowTable, type FlowTableOptions } from './flow-table.js';

const s = 1_000_000; // one second in µs
const t0 = Date.UTC(2026, 10, 26, 12) * 1000;

const defaults: FlowTableOptions = {
  activeTimeoutUs: 5 * s,
  idleTimeoutUs: 15 * s,
  pendingTtlUs: 10 * s,
  staleTimeoutUs: 300 * s,
  unmatched: 'export',
  maxConnections: 1000,
  maxPending: 1000,
  maxTransactionsPerFlow: 100,
  maxHeldTransactions: 10_000,
  connectionsExpected: true,
};

const pod = (name: string, node = 'node-a'): PodRef => ({
  name,
  namespace: 'shop',
  uid: `uid-${name}`,
  node,
  labels: {},
});
const client: Tuple = { proto: 6, srcIp: '10.10.1.4', srcPort: 51824, dstIp: '10.10.1.7', dstPort: 8080 };
const reverse = (t: Tuple): Tuple => ({
  proto: t.proto,
  srcIp: t.dstIp,
  srcPort: t.dstPort,
  dstIp: t.srcIp,
  dstPort: t.srcPort,
});
const counters = (packets: number, bytes = packets * 100): Counters => ({
  packets,
  bytes,
  reversePackets: packets,
  reverseBytes: bytes * 2,
});

/** Drives a FlowTable through time and records everything it reports. */
class Harness {
  readonly table: FlowTable;
  readonly records: FlowRecord[] = [];
  readonly counts: Record<string, number> = {};
  ingested = 0;
  nowUs = t0;

  constructor(options: Partial<FlowTableOptions> = {}) {
    const count = (name: string, n = 1) => (this.counts[name] = (this.counts[name] ?? 0) + n);
    this.table = new FlowTable(
      { ...defaults, ...options },
      {
        exported: (reason, transactions) => {
          count(`exported ${reason}`);
          count('transactions exported', transactions);
        },
        opened: (n) => count('opened', n),
        transactions: (result, n) => count(result, n),
        dropped: (reason, n) => count(`dropped ${reason}`, n),
        forgotten: (reason, n) => count(`forgotten ${reason}`, n),
        pendingEvicted: (n) => count('pending evicted', n),
        capExports: (limit, n) => count(`cap ${limit}`, n),
      },
    );
  }

  /** Moves time to `seconds` after t0, running what falls due, and collects the output. */
  at(seconds: number): this {
    this.nowUs = t0 + seconds * s;
    this.table.expire(this.nowUs);
    this.#collect();
    return this;
  }

  conn(
    sample: Partial<ConnSample> & { counters?: Counters },
    original: Tuple = client,
    reply: Tuple = reverse(original),
  ): this {
    this.table.ingestSample(
      {
        kind: 'conn',
        timeUs: this.nowUs,
        zone: 0,
        mark: 0,
        original,
        reply,
        assured: true,
        unreplied: false,
        dying: false,
        ...sample,
      },
      this.nowUs,
    );
    this.#collect();
    return this;
  }

  dumpEnd(complete = true, zones: number[] = []): this {
    this.table.ingestDumpEnd({ kind: 'conn_dump_end', timeUs: this.nowUs, zones, complete, entries: 0 }, this.nowUs);
    this.#collect();
    return this;
  }

  http(txId: number, tuple: Tuple = client, extra: Partial<HttpEvent> = {}): this {
    return this.batch(txId)(tuple, extra);
  }

  /** Several transactions in one batch (the processor collects output once per batch). */
  batch(...txIds: number[]): (tuple?: Tuple, extra?: Partial<HttpEvent>) => this {
    return (tuple = client, extra = {}) => {
      for (const txId of txIds) {
        const event: HttpEvent = {
          kind: 'http',
          timeUs: this.nowUs,
          tuple,
          flowId: 77,
          txId,
          http: { url: `/${txId}` },
          ...extra,
        };
        this.table.ingestEvent(event, this.nowUs);
        this.ingested++;
      }
      this.#collect();
      return this;
    };
  }

  shutdown(): this {
    this.table.flushAll(this.nowUs);
    this.#collect();
    return this;
  }

  /** Per record: reason, transactions, and packet delta. */
  summary(): string[] {
    return this.records.map(
      (r) => `#${r.flowKey} reason=${r.endReason} tx=[${r.l7.map((e) => e.txId).join(',')}] dp=${r.deltas.packets}`,
    );
  }

  /**
   * The identities docs/metrics.md states for flow_join, from what the table reported and
   * what it holds; empty when they hold. Transactions exported must also be exactly those
   * the collected records carry.
   */
  accountingProblems(): string[] {
    const c = (name: string) => this.counts[name] ?? 0;
    const inRecords = this.records.reduce((n, r) => n + r.l7.length, 0);
    const held = this.table.pendingTransactions + this.table.joinedTransactions;
    const forgotten = ['ended', 'replaced', 'stale', 'evicted'].reduce((n, r) => n + c(`forgotten ${r}`), 0);
    const problems: string[] = [];
    if (this.ingested !== c('transactions exported') + c('dropped unmatched') + held)
      problems.push(`transactions: ${this.ingested} in, ${c('transactions exported')} exported, held ${held}`);
    if (c('transactions exported') !== inRecords)
      problems.push(`exported ${c('transactions exported')} but records carry ${inRecords}`);
    if (c('opened') !== forgotten + this.table.connections)
      problems.push(`connections: ${c('opened')} opened, ${forgotten} forgotten, ${this.table.connections} held`);
    return problems;
  }

  #collect(): void {
    this.records.push(...this.table.takeOutput(this.nowUs));
  }
}

describe('flow join: when the transaction comes', () => {
  it('before its connection appears: it waits, then rides the connection record', () => {
    const h = new Harness()
      .at(0)
      .http(0)
      .at(2)
      .conn({ counters: counters(4) })
      .at(7);
    expect(h.summary()).toEqual(['#1 reason=2 tx=[0] dp=4']);
    expect(h.counts.matched_after_wait).toBe(1);
  });

  it('in the same dump as its connection', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(4) })
      .http(0)
      .at(5);
    expect(h.summary()).toEqual(['#1 reason=2 tx=[0] dp=4']);
    expect(h.counts.matched).toBe(1);
  });

  it('after the connection was exported as ended: a follow-up record with zero deltas', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(4) })
      .at(1)
      .conn({ counters: counters(9), dying: true })
      .at(2)
      .batch(0, 1)();
    expect(h.summary()).toEqual(['#1 reason=3 tx=[] dp=9', '#1 reason=3 tx=[0,1] dp=0']);
    expect(h.counts.late).toBe(2);
  });

  it('after the connection is gone for longer than the pending TTL: exported as L7-only', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(4), dying: true })
      .at(11)
      .http(0)
      .at(22);
    expect(h.summary()).toEqual(['#1 reason=3 tx=[] dp=4', '#2 reason=3 tx=[0] dp=0']);
    expect(h.records[1]).toMatchObject({ tuple: client, totals: { packets: 0 }, app: 'http' });
    expect(h.counts.unmatched).toBe(1);
  });

  it('never: exported as L7-only after the TTL, or dropped and counted with unmatched: drop', () => {
    const exported = new Harness().at(0).http(0).http(1).at(9);
    expect(exported.records).toEqual([]);
    exported.at(11);
    expect(exported.summary()).toEqual(['#1 reason=3 tx=[0,1] dp=0']);

    const dropped = new Harness({ unmatched: 'drop' }).at(0).http(0).at(11);
    expect(dropped.records).toEqual([]);
    expect(dropped.counts['dropped unmatched']).toBe(1);
  });

  it('without any conntrack source: exported within a second, one record per Suricata flow', () => {
    const h = new Harness({ connectionsExpected: false }).at(0).http(1).at(0.5).http(0).http(0, client, { flowId: 78 });
    expect(h.records).toEqual([]);
    h.at(1);
    expect(h.summary()).toEqual(['#1 reason=3 tx=[0,1] dp=0', '#2 reason=3 tx=[0] dp=0']);
    h.at(1.2).http(2).shutdown();
    expect(h.summary().slice(2)).toEqual(['#3 reason=3 tx=[2] dp=0']);
  });
});

describe('flow join: exports', () => {
  it('HTTP keep-alive: 20 transactions over 5 polls, each exported once, in tx_id order, deltas adding up', () => {
    const h = new Harness().at(0).conn({ counters: counters(1) });
    let tx = 0;
    for (let poll = 1; poll <= 5; poll++) {
      h.at(poll * 5 - 4);
      for (const id of [tx + 1, tx, tx + 3, tx + 2]) h.http(id); // out of order within a poll
      tx += 4;
      h.at(poll * 5 - 0.5).conn({ counters: counters(poll * 10) });
      h.at(poll * 5);
    }
    h.at(26).conn({ counters: counters(55), tcpState: 'TIME_WAIT' });
    const txIds = h.records.flatMap((r) => r.l7.map((e) => e.txId));
    expect(txIds).toEqual([...Array(20).keys()]);
    expect(h.records.reduce((sum, r) => sum + r.deltas.packets, 0)).toBe(55);
    expect(h.records.at(-1)).toMatchObject({ endReason: 3, totals: { packets: 55 }, tcpState: 'TIME_WAIT' });
  });

  it('a client Pod calling a ClusterIP and the server Pod: both views join the one connection', () => {
    const clusterIp: Tuple = { proto: 6, srcIp: '10.10.1.4', srcPort: 51824, dstIp: '10.96.0.10', dstPort: 80 };
    const endpointReply: Tuple = { proto: 6, srcIp: '10.10.2.9', srcPort: 8080, dstIp: '10.10.1.4', dstPort: 51824 };
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(6), srcPod: pod('client'), dstPod: pod('server', 'node-b') }, clusterIp, endpointReply)
      .http(0, clusterIp) // the client's view, before DNAT
      .http(1, reverse(endpointReply)) // the server's view, after DNAT
      .at(5);
    expect(h.records).toEqual([
      expect.objectContaining({
        tuple: { proto: 6, srcIp: '10.10.1.4', srcPort: 51824, dstIp: '10.10.2.9', dstPort: 8080 },
        service: { ip: '10.96.0.10', port: 80 },
        flowType: 2,
        srcPod: pod('client'),
        dstPod: pod('server', 'node-b'),
      }),
    ]);
    expect(h.records[0]?.l7.map((e) => e.txId)).toEqual([0, 1]);
  });

  it('IPv6, with the transaction logged in the reverse orientation', () => {
    const v6: Tuple = { proto: 6, srcIp: 'fd00:10:10::4', srcPort: 40000, dstIp: 'fd00:10:10::7', dstPort: 80 };
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(3) }, v6)
      .http(0, reverse(v6))
      .at(5);
    expect(h.records).toEqual([expect.objectContaining({ tuple: v6, l7: [expect.objectContaining({ txId: 0 })] })]);
    expect(h.records[0]?.service).toBeUndefined();
  });

  it('idle: one record after idle_timeout, then silence until the connection is active again', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(2) })
      .at(5)
      .at(10)
      .at(15)
      .at(40);
    expect(h.summary()).toEqual(['#1 reason=2 tx=[] dp=2', '#1 reason=1 tx=[] dp=0']);
    h.conn({ counters: counters(5) }).at(45);
    expect(h.summary().slice(2)).toEqual(['#1 reason=2 tx=[] dp=3']);
  });

  it('disappeared from a complete dump: ended; an incomplete dump proves nothing', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(2) })
      .at(1)
      .dumpEnd(false);
    expect(h.records).toEqual([]);
    h.at(2).dumpEnd(true);
    expect(h.summary()).toEqual(['#1 reason=3 tx=[] dp=2']);
  });

  it('a dump of other zones does not end connections of this zone', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(2), zone: 65520 })
      .at(1)
      .dumpEnd(true, [65510]);
    expect(h.records).toEqual([]);
  });

  it('TIME_WAIT ends the flow at once; the later DESTROY adds a record only if counters moved', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(2), id: 9 })
      .at(1)
      .conn({ counters: counters(8), id: 9, tcpState: 'TIME_WAIT' });
    expect(h.summary()).toEqual(['#1 reason=3 tx=[] dp=8']);
    h.at(30)
      .conn({ counters: counters(8), id: 9, tcpState: 'TIME_WAIT' })
      .at(120)
      .conn({ counters: counters(9), id: 9, dying: true });
    expect(h.summary()).toEqual(['#1 reason=3 tx=[] dp=8', '#1 reason=3 tx=[] dp=1']);
  });

  it('a new conntrack id on the same tuple is a new connection', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(5), id: 1 })
      .at(1)
      .conn({ counters: counters(1), id: 2 })
      .at(6);
    expect(h.summary()).toEqual(['#1 reason=3 tx=[] dp=5', '#2 reason=2 tx=[] dp=1']);
  });

  it('caps transactions per record: a connection with that many waiting gets a record at once', () => {
    const h = new Harness({ maxTransactionsPerFlow: 3 }).at(0).conn({ counters: counters(1) });
    for (let tx = 0; tx < 7; tx++) h.http(tx);
    h.at(5);
    expect(h.summary()).toEqual([
      '#1 reason=2 tx=[0,1,2] dp=1',
      '#1 reason=2 tx=[3,4,5] dp=0',
      '#1 reason=2 tx=[6] dp=0',
    ]);
    expect(h.counts['cap max_transactions_per_flow']).toBe(2);
  });

  it('bounds transactions held on all connections: at the limit the receiving connection gets a record at once', () => {
    const other = { ...client, srcPort: 1 };
    const h = new Harness({ maxHeldTransactions: 4 })
      .at(0)
      .conn({ counters: counters(1) })
      .conn({ counters: counters(1) }, other);
    h.http(0).http(1).http(2); // three held on the first connection
    expect(h.records).toEqual([]);
    h.http(0, other); // the fourth: the second connection is recorded with it
    expect(h.table.joinedTransactions).toBe(3);
    h.http(3); // the first connection reaches the limit again
    expect(h.table.joinedTransactions).toBe(0);
    h.http(1, other);
    h.at(5);
    expect(h.summary()).toEqual([
      '#2 reason=2 tx=[0] dp=1',
      '#1 reason=2 tx=[0,1,2,3] dp=1',
      '#2 reason=2 tx=[1] dp=0',
    ]);
    expect(h.counts['cap max_held_transactions']).toBe(2);
  });

  it('evicts the least recently active connection when full (flowEndReason 5)', () => {
    const other = { ...client, srcPort: 1 };
    const third = { ...client, srcPort: 2 };
    const h = new Harness({ maxConnections: 2 })
      .at(0)
      .conn({ counters: counters(1) })
      .conn({ counters: counters(1) }, other);
    h.at(1).conn({ counters: counters(2) }); // the first becomes the most recent
    h.conn({ counters: counters(1) }, third);
    expect(h.summary()).toEqual(['#2 reason=5 tx=[] dp=1']);
    expect(h.counts['forgotten evicted']).toBe(1);
    expect(h.table.connections).toBe(2);
  });

  it('when max_pending is reached, the oldest waiting transaction is treated as unmatched', () => {
    const h = new Harness({ maxPending: 2 }).at(0).http(0).http(1).http(2);
    expect(h.summary()).toEqual(['#1 reason=3 tx=[0] dp=0']);
    expect([h.counts['pending evicted'], h.table.pending]).toEqual([1, 2]);
  });

  it('forgets a connection no sample has mentioned for stale_timeout', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(1) })
      .at(5)
      .at(20)
      .at(400);
    expect(h.summary()).toEqual(['#1 reason=2 tx=[] dp=1', '#1 reason=1 tx=[] dp=0']);
    expect([h.counts['forgotten stale'], h.table.connections]).toEqual([1, 0]);
  });

  it('at shutdown: live connections end as forced (4), waiting transactions go out unmatched', () => {
    const h = new Harness()
      .at(0)
      .conn({ counters: counters(3) })
      .http(0)
      .http(5, { ...client, srcPort: 9 })
      .at(1)
      .shutdown();
    expect(h.summary()).toEqual(['#1 reason=4 tx=[0] dp=3', '#2 reason=3 tx=[5] dp=0']);
  });

  it('flow types from the Pods of both ends', () => {
    const types = [
      [pod('a'), pod('b')],
      [pod('a'), pod('b', 'node-b')],
      [pod('a'), undefined],
      [undefined, pod('b')],
      [undefined, undefined],
    ].map(([srcPod, dstPod], i) => {
      const h = new Harness()
        .at(0)
        .conn(
          { counters: counters(1), ...(srcPod ? { srcPod } : {}), ...(dstPod ? { dstPod } : {}) },
          { ...client, srcPort: i },
        );
      return h.shutdown().records[0]?.flowType;
    });
    expect(types).toEqual([1, 2, 3, 4, 0]);
  });
});

describe('flow join: accounting', () => {
  it('keeps transactions in = exported + dropped + held, and connections opened = forgotten + held, at every step', () => {
    const ops = fc.oneof(
      fc.record({ op: fc.constant('sample' as const), conn: fc.nat(5), dying: fc.boolean(), id: fc.nat(1) }),
      fc.record({ op: fc.constant('event' as const), conn: fc.nat(7) }),
      fc.record({ op: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ op: fc.constant('dumpEnd' as const), complete: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(ops, { maxLength: 60 }), fc.constantFrom('export', 'drop'), (steps, unmatched) => {
        const h = new Harness({
          maxTransactionsPerFlow: 2,
          maxHeldTransactions: 3,
          maxConnections: 3,
          maxPending: 3,
          unmatched,
        });
        const tuple = (i: number): Tuple => ({ ...client, srcPort: 2000 + i });
        let seconds = 0;
        let txId = 0;
        for (const step of steps) {
          if (step.op === 'advance') h.at((seconds += step.seconds));
          else if (step.op === 'dumpEnd') h.dumpEnd(step.complete);
          else if (step.op === 'event') h.http(txId++, tuple(step.conn), { flowId: step.conn });
          else h.conn({ counters: counters(1 + txId), dying: step.dying, id: step.id }, tuple(step.conn));
          expect(h.accountingProblems()).toEqual([]);
          expect(h.table.joinedTransactions).toBeLessThanOrEqual(3);
        }
        h.shutdown();
        expect(h.accountingProblems()).toEqual([]);
        expect(h.table.pendingTransactions + h.table.joinedTransactions).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('counts why each connection left the store', () => {
    const h = new Harness({ maxConnections: 3, idleTimeoutUs: 15 * s, staleTimeoutUs: 60 * s, pendingTtlUs: 10 * s });
    const port = (srcPort: number): Tuple => ({ ...client, srcPort });
    h.at(0).conn({ counters: counters(1), id: 1 }, port(1));
    h.conn({ counters: counters(1), id: 2 }, port(1)); // a new conntrack id on the tuple: replaced
    h.conn({ counters: counters(1), dying: true }, port(2)); // destroyed: ended once the late window passes
    h.at(20)
      .conn({ counters: counters(1) }, port(3))
      .conn({ counters: counters(1) }, port(4));
    h.conn({ counters: counters(1) }, port(5)); // the store is full: the idle port 1 is evicted
    h.at(200); // ports 3 to 5 go idle, then stale
    expect(h.counts).toMatchObject({
      opened: 6,
      'forgotten replaced': 1,
      'forgotten ended': 1,
      'forgotten evicted': 1,
      'forgotten stale': 3,
    });
    expect(h.table.connections).toBe(0);
    expect(h.accountingProblems()).toEqual([]);
  });
});

describe('flow join: invariants under any interleaving', () => {
  type Op =
    | { op: 'sample'; conn: number }
    | { op: 'event'; conn: number }
    | { op: 'advance'; seconds: number }
    | { op: 'dumpEnd' }
    | { op: 'end'; conn: number };

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('sample' as const), conn: fc.nat(3) }),
    fc.record({ op: fc.constant('event' as const), conn: fc.nat(3) }),
    fc.record({ op: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ op: fc.constant('dumpEnd' as const) }),
    fc.record({ op: fc.constant('end' as const), conn: fc.nat(3) }),
  );

  it('exports every transaction exactly once, and each flow’s deltas sum to its last totals', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.boolean(), (ops, v6) => {
        const h = new Harness({ maxTransactionsPerFlow: 3, maxHeldTransactions: 5, maxConnections: 3 });
        const tuples = [0, 1, 2, 3].map((i): Tuple =>
          v6 ? { ...client, srcIp: `fd00::${i + 1}`, dstIp: 'fd00::99' } : { ...client, srcPort: 1000 + i },
        );
        const packets = [0, 0, 0, 0];
        const ended = [false, false, false, false];
        const sent: string[] = [];
        let seconds = 0;
        for (const o of ops) {
          if (o.op === 'advance') h.at((seconds += o.seconds));
          else if (o.op === 'dumpEnd') h.dumpEnd();
          else if (o.op === 'event') {
            const txId = sent.filter((id) => id.startsWith(`${o.conn}:`)).length;
            sent.push(`${o.conn}:${txId}`);
            h.http(txId, o.conn % 2 === 0 ? tuples[o.conn]! : reverse(tuples[o.conn]!), { flowId: o.conn });
          } else if (!ended[o.conn]) {
            packets[o.conn]! += 2;
            ended[o.conn] = o.op === 'end';
            h.conn({ counters: counters(packets[o.conn]!), dying: o.op === 'end', id: o.conn }, tuples[o.conn]);
          }
        }
        h.at(seconds + 1000).shutdown();
        expect(h.accountingProblems()).toEqual([]);

        const exported = h.records.flatMap((r) => r.l7.map((e) => `${e.flowId}:${e.txId}`));
        expect(exported.sort()).toEqual([...sent].sort());
        const byFlow = new Map<number, FlowRecord[]>();
        for (const r of h.records) byFlow.set(r.flowKey, [...(byFlow.get(r.flowKey) ?? []), r]);
        for (const records of byFlow.values()) {
          const last = records.at(-1)!;
          for (const field of ['packets', 'bytes', 'reversePackets', 'reverseBytes'] as const) {
            expect(records.reduce((sum, r) => sum + r.deltas[field], 0)).toBe(last.totals[field]);
          }
          expect(records.every((r) => r.deltas.packets >= 0)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
