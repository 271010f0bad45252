import { describe, expect, it } from 'vitest';
import { ClosedError } from '../../pipeline/errors.js';
import { deferred, type Deferred } from '../../pipeline/once.js';
import { IpfixDecoder, type DecodedMessage } from '../../test/support/ipfix-decode.js';
import { httpTx, ipfixFlow } from '../../test/support/ipfix-records.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { MetricsSnapshot, stageAccount } from '../../test/support/accounting.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { IpfixExporter } from './exporter.js';
import { ipfixConfigSchema, resolveIpfixConfig } from './factory.js';
import type { Connection, Transport, TransportName } from './transport.js';

/**
 * The exporter against an in-memory transport and a manual clock: sessions, templates,
 * sequence numbers, back-pressure, drops and shutdown, deterministically.
 */
class FakeConnection implements Connection {
  readonly written: Buffer[] = [];
  readonly #ended = deferred<Error | undefined>();
  readonly ended = this.#ended.promise;
  /** While set, writes wait (a collector that stopped reading). */
  stall: Deferred | undefined;
  failWrites = false;
  #closed = false;

  constructor(readonly kind: 'datagram' | 'stream') {}

  async write(message: Buffer): Promise<void> {
    if (this.stall) await this.stall.promise;
    if (this.failWrites || this.#closed) throw new Error('ECONNREFUSED');
    this.written.push(Buffer.from(message));
  }

  /** The collector goes away. */
  drop(): void {
    this.#ended.resolve(new Error('collector closed the connection'));
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#ended.resolve(undefined);
    this.stall?.resolve();
    return Promise.resolve();
  }
}

class FakeTransport implements Transport {
  readonly connections: FakeConnection[] = [];
  opens = 0;
  reachable = true;
  /** While set, open() waits for it (a connection attempt under way). */
  pending: Deferred | undefined;

  constructor(
    readonly name: TransportName,
    readonly refreshesTemplates = name === 'udp',
  ) {}

  async open(): Promise<Connection> {
    this.opens++;
    if (this.pending) await this.pending.promise;
    if (!this.reachable) throw new Error('ECONNREFUSED');
    const connection = new FakeConnection(this.name === 'udp' ? 'datagram' : 'stream');
    this.connections.push(connection);
    return connection;
  }

  get current(): FakeConnection {
    return this.connections.at(-1)!;
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(transportName: TransportName, config: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const { settings, telemetry, logger } = testSettings('ipfix', clock);
  const transport = new FakeTransport(transportName);
  const parsed = ipfixConfigSchema.parse({
    transport: transportName === 'file' ? 'file' : transportName,
    path: transportName === 'file' ? '/unused.ipfix' : '',
    observation_domain_id: 99,
    ...config,
  });
  const exporter = new IpfixExporter(settings, resolveIpfixConfig(parsed), transport);
  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(telemetry, name, { component: 'ipfix', ...labels });
  return { exporter, transport, clock, metric, logger };
}

const host = {
  reportFatal: (error: Error) => {
    throw error;
  },
};

/** Decodes what a connection received, as one collector session. */
function decodeSession(connection: FakeConnection): DecodedMessage[] {
  const decoder = new IpfixDecoder();
  return connection.written.map((bytes) => {
    const decoded = decoder.decodeMessage(bytes);
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.value;
  });
}

const flows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ipfixFlow({ flowKey: from + i }));

describe('ipfix exporter sessions', () => {
  it('sends templates first, then data; sequence numbers count data records; counts what it sent', async () => {
    const { exporter, transport, metric } = setup('tcp');
    await exporter.start(host);
    await exporter.consume(flows(3));
    await exporter.consume(flows(2, 3));
    await settle();
    const messages = decodeSession(transport.current);
    expect(messages.map((m) => m.sets.map((s) => s.id))).toEqual([[2], [2], [256], [256]]);
    expect(messages.map((m) => m.sequence)).toEqual([0, 0, 0, 3]);
    expect(messages.every((m) => m.sequenceGap === 0 && m.domain === 99)).toBe(true);
    expect(await metric('l7flow_records_sent_total')).toBe(5);
    expect(await metric('l7flow_ipfix_data_records_sent_total', { transport: 'tcp' })).toBe(5);
    expect(await metric('l7flow_ipfix_messages_sent_total', { transport: 'tcp' })).toBe(4);
    expect(await metric('l7flow_ipfix_template_records_sent_total', { transport: 'tcp' })).toBe(2);
    expect(await metric('l7flow_ipfix_sent_bytes_total', { transport: 'tcp' })).toBe(
      transport.current.written.reduce((n, b) => n + b.length, 0),
    );
    expect(await metric('l7flow_ipfix_session_up', { transport: 'tcp' })).toBe(1);
    await exporter.shutdown();
    expect(await metric('l7flow_ipfix_session_up', { transport: 'tcp' })).toBe(0);
  });

  it('udp: re-sends the templates every template_refresh', async () => {
    const { exporter, transport, clock, metric } = setup('udp', { template_refresh: '600s' });
    await exporter.start(host);
    await settle();
    clock.advance(599_000);
    await settle();
    expect(await metric('l7flow_ipfix_template_records_sent_total', { transport: 'udp' })).toBe(2);
    clock.advance(1_000);
    await settle();
    expect(await metric('l7flow_ipfix_template_records_sent_total', { transport: 'udp' })).toBe(4);
    await exporter.consume(flows(1));
    await settle();
    clock.advance(600_000);
    await settle();
    const sets = decodeSession(transport.current).map((m) => m.sets[0]!.id);
    expect(sets).toEqual([2, 2, 2, 2, 256, 2, 2]);
    await exporter.shutdown();
  });

  it('udp: a failed send loses that datagram only, counts it, advances the sequence and re-sends templates', async () => {
    const { exporter, transport, metric } = setup('udp');
    await exporter.start(host);
    await settle();
    transport.current.failWrites = true;
    await exporter.consume(flows(4));
    await settle();
    transport.current.failWrites = false;
    await exporter.consume(flows(1, 4));
    await settle();
    const messages = decodeSession(transport.current);
    expect(messages.map((m) => m.sets[0]!.id)).toEqual([2, 2, 2, 2, 256]);
    expect(messages.at(-1)!.sequence).toBe(4);
    // The collector sees the 4 lost records as a gap at the first message after them.
    expect(messages.map((m) => m.sequenceGap)).toEqual([0, 0, 4, 0, 0]);
    expect(await metric('l7flow_records_dropped_total', { reason: 'send_failed' })).toBe(4);
    expect(await metric('l7flow_ipfix_data_records_dropped_total', { reason: 'send_failed' })).toBe(4);
    expect(await metric('l7flow_records_sent_total')).toBe(1);
    await exporter.shutdown();
  });

  it('tcp: after the collector goes away, reconnects after initial_interval with templates and a new sequence, losing nothing queued', async () => {
    const { exporter, transport, clock, metric, logger } = setup('tcp', { reconnect: { initial_interval: '60s' } });
    await exporter.start(host);
    await exporter.consume(flows(2));
    await settle();
    transport.current.drop();
    await settle();
    await exporter.consume(flows(3, 2));
    await settle();
    expect(transport.opens).toBe(1);
    clock.advance(59_999);
    await settle();
    expect(transport.opens).toBe(1); // RFC 7011: not before initial_interval
    clock.advance(1);
    await settle();
    expect(transport.opens).toBe(2);
    const second = decodeSession(transport.connections[1]!);
    expect(second.map((m) => [m.sets[0]!.id, m.sequence, m.dataRecords])).toEqual([
      [2, 0, 0],
      [2, 0, 0],
      [256, 0, 3],
    ]);
    expect(await metric('l7flow_ipfix_reconnects_total', { transport: 'tcp' })).toBe(1);
    expect(await metric('l7flow_records_sent_total')).toBe(5);
    expect(logger.lines.map((l) => l.msg)).toEqual(['IPFIX session lost; reconnecting', 'IPFIX session established']);
    await exporter.shutdown();
  });

  it('tcp: a write that fails puts the message back; it goes out first on the next session', async () => {
    const { exporter, transport, clock, metric } = setup('tcp', { reconnect: { initial_interval: '1s' } });
    await exporter.start(host);
    await settle();
    transport.current.failWrites = true;
    await exporter.consume(flows(2));
    await settle();
    transport.current.drop();
    await settle();
    clock.advance(1_000);
    await settle();
    const second = decodeSession(transport.connections[1]!);
    expect(second.map((m) => m.dataRecords)).toEqual([0, 0, 2]);
    expect(await metric('l7flow_records_sent_total')).toBe(2);
    expect(await metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(0);
    await exporter.shutdown();
  });
});

describe('ipfix exporter queue', () => {
  it('never waits while no session is up: drops when full, counts, and the next session shows the gap', async () => {
    const { exporter, transport, clock, metric } = setup('tcp', {
      queue_size: 2,
      reconnect: { initial_interval: '1s', max_interval: '1s' },
    });
    transport.reachable = false;
    await exporter.start(host);
    await settle();
    for (let i = 0; i < 5; i++) await exporter.consume(flows(3, 3 * i)); // one message each
    expect(await metric('l7flow_queue_size', { queue: 'send_queue' })).toBe(2);
    expect(await metric('l7flow_queue_capacity', { queue: 'send_queue' })).toBe(2);
    expect(await metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(9);
    expect(await metric('l7flow_ipfix_data_records_dropped_total', { reason: 'queue_full' })).toBe(9);
    expect(await metric('l7flow_ipfix_connect_failures_total', { transport: 'tcp' })).toBeGreaterThanOrEqual(1);
    transport.reachable = true;
    clock.advance(1_100);
    await settle();
    await exporter.consume(flows(1, 100));
    await settle();
    const session = decodeSession(transport.current);
    expect(session.filter((m) => m.dataRecords > 0).map((m) => [m.sequence, m.dataRecords, m.sequenceGap])).toEqual([
      [0, 3, 0],
      [3, 3, 0],
      [15, 1, 9], // 9 dropped records skipped: the collector sees the loss
    ]);
    expect(await metric('l7flow_records_sent_total')).toBe(7);
    await exporter.shutdown();
  });

  it('drop_oldest keeps the newest messages and still accounts for the gap', async () => {
    const { exporter, transport, clock, metric } = setup('tcp', {
      queue_size: 2,
      overflow: 'drop_oldest',
      reconnect: { initial_interval: '1s', max_interval: '1s' },
    });
    transport.reachable = false;
    await exporter.start(host);
    for (let i = 0; i < 4; i++) await exporter.consume(flows(2, 2 * i));
    transport.reachable = true;
    clock.advance(1_100);
    await settle();
    const data = decodeSession(transport.current).filter((m) => m.dataRecords > 0);
    expect(data.map((m) => [m.sequence, m.sequenceGap])).toEqual([
      [4, 4], // 4 dropped records before the session's first data message
      [6, 0],
    ]);
    expect(data.flatMap((m) => m.records.map((r) => r.values.find(([n]) => n === 'flowStartSeconds')))).toHaveLength(4);
    expect(await metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(4);
    await exporter.shutdown();
  });

  it('waits for room while the first connection attempt is under way, and drops once it fails', async () => {
    const { exporter, transport, metric } = setup('tcp', { queue_size: 1 });
    transport.pending = deferred();
    await exporter.start(host);
    let done = false;
    const consumed = (async () => {
      for (let i = 0; i < 3; i++) await exporter.consume(flows(1, i));
      done = true;
    })();
    await settle();
    expect(done).toBe(false);
    transport.pending.resolve();
    await consumed;
    await settle();
    expect(await metric('l7flow_records_sent_total')).toBe(3);
    await exporter.shutdown();

    const failing = setup('tcp', { queue_size: 1 });
    failing.transport.pending = deferred();
    failing.transport.reachable = false;
    await failing.exporter.start(host);
    const attempt = (async () => {
      for (let i = 0; i < 3; i++) await failing.exporter.consume(flows(1, i));
    })();
    await settle();
    failing.transport.pending.resolve();
    await attempt;
    expect(await failing.metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(2);
    await failing.exporter.shutdown();
  });

  it('while a session is up and the queue is full, consume waits for room instead of dropping', async () => {
    const { exporter, transport, metric } = setup('tcp', { queue_size: 1 });
    await exporter.start(host);
    await settle();
    transport.current.stall = deferred();
    let done = false;
    const consumed = (async () => {
      for (let i = 0; i < 4; i++) await exporter.consume(flows(1, i));
      done = true;
    })();
    await settle();
    expect(done).toBe(false);
    transport.current.stall.resolve();
    transport.current.stall = undefined;
    await consumed;
    await settle();
    expect(await metric('l7flow_records_sent_total')).toBe(4);
    expect(await metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(0);
    await exporter.shutdown();
  });
});

describe('ipfix exporter accounting', () => {
  it('holds every flow it accepted until it is sent or dropped: encoding, send_queue, sending', async () => {
    const clock = new ManualClock();
    const { settings, telemetry } = testSettings('ipfix', clock);
    const transport = new FakeTransport('tcp');
    const config = resolveIpfixConfig(ipfixConfigSchema.parse({ transport: 'tcp', queue_size: 2 }));
    const exporter = new IpfixExporter(settings, config, transport);
    let consumed = 0;
    const account = async () => {
      const a = stageAccount(await MetricsSnapshot.of(telemetry), 'ipfix');
      const dropped = Object.values(a.dropped).reduce((x, y) => x + y, 0);
      return {
        unaccounted:
          consumed - a.sent - dropped - (a.held.encoding ?? 0) - (a.held.send_queue ?? 0) - (a.held.sending ?? 0),
        ...a,
      };
    };
    await exporter.start(host);
    await settle();
    transport.current.stall = deferred();
    // One message per batch: the first is being written, two wait in the queue, the fourth waits for room.
    const batches = [0, 1, 2, 3].map((i) => flows(3, i * 3));
    const calls = batches.map((batch) => {
      consumed += batch.length;
      return exporter.consume(batch);
    });
    await settle();
    expect(await account()).toMatchObject({ unaccounted: 0, held: { sending: 3, send_queue: 6, encoding: 3 } });

    // The collector goes away mid-write: the message goes back to the queue, nothing is lost.
    transport.current.failWrites = true;
    transport.current.stall.resolve();
    await settle();
    expect(await account()).toMatchObject({ unaccounted: 0, sent: 0 });

    transport.reachable = false;
    const controller = new AbortController();
    const stopping = exporter.shutdown(controller.signal);
    await settle();
    controller.abort();
    await Promise.all([stopping, ...calls]);
    expect(await account()).toMatchObject({
      unaccounted: 0,
      held: { encoding: 0, send_queue: 0, sending: 0 },
    });
  });
});

describe('ipfix exporter shutdown', () => {
  it('flushes what is queued, then closes; consume afterwards rejects', async () => {
    const { exporter, transport, metric } = setup('tcp');
    await exporter.start(host);
    await exporter.consume(flows(3));
    await exporter.shutdown();
    expect(decodeSession(transport.current).reduce((n, m) => n + m.dataRecords, 0)).toBe(3);
    expect(await metric('l7flow_records_sent_total')).toBe(3);
    await expect(exporter.consume(flows(1))).rejects.toBeInstanceOf(ClosedError);
  });

  it('makes one connection attempt when the collector is down, then counts the rest as dropped', async () => {
    const { exporter, transport, metric } = setup('tcp');
    transport.reachable = false;
    await exporter.start(host);
    await settle();
    await exporter.consume(flows(3));
    const opensBefore = transport.opens;
    await exporter.shutdown();
    expect(transport.opens).toBe(opensBefore + 1);
    expect(await metric('l7flow_records_dropped_total', { reason: 'collector_unreachable' })).toBe(3);
  });

  it('stops waiting for a stalled collector when the signal aborts, and counts the rest as shutdown_timeout', async () => {
    const { exporter, transport, metric } = setup('tcp');
    await exporter.start(host);
    await settle();
    transport.current.stall = deferred();
    await exporter.consume(flows(2));
    await exporter.consume(flows(2, 2));
    const controller = new AbortController();
    const stopping = exporter.shutdown(controller.signal);
    await settle();
    controller.abort();
    await stopping;
    // The message being written when the deadline passed went back to the queue.
    expect(await metric('l7flow_records_dropped_total', { reason: 'shutdown_timeout' })).toBe(4);
    expect(await metric('l7flow_records_sent_total')).toBe(0);
  });

  it('rfc profile: ends the session with the reliability statistics', async () => {
    const { exporter, transport } = setup('tcp', { profile: 'rfc', queue_size: 1 });
    transport.reachable = false;
    await exporter.start(host);
    await settle();
    await exporter.consume(flows(2));
    await exporter.consume(flows(3)); // dropped: queue full, no session
    transport.reachable = true;
    await exporter.shutdown();
    const messages = decodeSession(transport.current);
    const stats = messages.flatMap((m) => m.records).filter((r) => r.templateId === 259);
    expect(stats.at(-1)!.values.slice(0, 2)).toEqual([
      ['exportingProcessId', 99],
      ['notSentFlowTotalCount', 3],
    ]);
  });

  it('accounts for invalid and HTTP-bearing flows', async () => {
    const { exporter, metric } = setup('tcp', { max_message_size: 512 });
    await exporter.start(host);
    const bad = ipfixFlow({ tuple: { proto: 6, srcIp: 'nope', srcPort: 1, dstIp: '10.0.0.1', dstPort: 2 } });
    const busy = ipfixFlow({ l7: Array.from({ length: 12 }, (_, i) => httpTx(i)) });
    await exporter.consume([bad, busy]);
    await exporter.shutdown();
    expect(await metric('l7flow_records_dropped_total', { reason: 'invalid_record' })).toBe(1);
    expect(await metric('l7flow_records_sent_total')).toBe(1);
    expect(await metric('l7flow_ipfix_continuation_records_total')).toBeGreaterThan(0);
  });
});
