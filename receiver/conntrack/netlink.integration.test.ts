import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../pipeline/clock.js';
import type { Component, Host } from '../../pipeline/component.js';
import type { ConnDumpEnd, ConnSample, PipelineRecord } from '../../pipeline/records.js';
import { ConntrackNamespace, eventually } from '../../test/support/conntrack-netns.js';
import { describeWith } from '../../test/support/requirements.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { conntrackConfigSchema, conntrackReceiverFactory } from './factory.js';

const zonePort = 8081; // zone 7, mark 42 (see ConntrackNamespace)
const otherPort = 8082;
/**
 * Final counters of a whole HTTP exchange: at least SYN, ACK, request and FIN from the client
 * and SYN-ACK, response and FIN from the server, each with 40+ bytes of IP and TCP headers,
 * plus the request and the response body.
 */
function expectWholeExchange(sample: ConnSample): void {
  const counters = sample.counters;
  expect(counters?.packets).toBeGreaterThanOrEqual(4);
  expect(counters?.reversePackets).toBeGreaterThanOrEqual(3);
  expect(counters?.bytes).toBeGreaterThan((counters?.packets ?? 0) * 40 + 'GET / HTTP/1.1\r\n'.length);
  expect(counters?.reverseBytes).toBeGreaterThan((counters?.reversePackets ?? 0) * 40 + 'hello\n'.length);
}

const host: Host = {
  reportFatal: (error) => {
    throw error;
  },
};

describeWith(
  { root: true, commands: ['conntrack', 'nft', 'ip', 'curl'] },
  'conntrack receiver, netlink source, against the kernel in a network namespace',
  () => {
    let ns: ConntrackNamespace;
    const receivers: Component[] = [];

    beforeAll(async () => {
      ns = await ConntrackNamespace.create(zonePort);
      await ns.startHttpServer('127.0.0.1', zonePort);
      await ns.startHttpServer('::1', otherPort);
    });
    afterEach(async () => {
      await Promise.all(receivers.splice(0).map((r) => r.shutdown()));
    });
    afterAll(async () => {
      await ns?.destroy();
    });

    /**
     * The DESTROY sample of the connection from `clientPort`. Its TIME_WAIT lasts 1 s here; the
     * kernel's garbage collector is lazy, but listing the table evicts expired entries at once.
     */
    function destroyOf(samples: () => ConnSample[], clientPort: number): Promise<ConnSample> {
      const find = () => samples().find((s) => s.dying && s.original.srcPort === clientPort);
      return eventually(
        `the DESTROY of the connection from port ${clientPort}`,
        async () => {
          await ns.evictExpired();
          return find();
        },
        { everyMs: 250 },
      );
    }

    function startReceiver(config: Record<string, unknown>) {
      const { settings, telemetry, logger } = testSettings('conntrack', systemClock);
      const records: PipelineRecord[] = [];
      const receiver = conntrackReceiverFactory.create(
        settings,
        conntrackConfigSchema.parse({ conntrack_path: ns.conntrackPath, poll_interval: '1h', ...config }),
        {
          consume: async (batch) => {
            records.push(...batch);
            return Promise.resolve();
          },
        },
      );
      receivers.push(receiver);
      const samples = () => records.filter((r): r is ConnSample => r.kind === 'conn');
      const ends = () => records.filter((r): r is ConnDumpEnd => r.kind === 'conn_dump_end');
      const metric = (name: string, labels: Record<string, string> = {}) =>
        metricValue(telemetry, name, { component: 'conntrack', ...labels });
      return { receiver, records, samples, ends, metric, logger, started: receiver.start(host) };
    }

    it('reports live connections with their tuples, zone, mark, state and counters', async () => {
      const beforeUs = systemClock.nowUs();
      const clientPort = await ns.openIdleConnection('127.0.0.1', zonePort);
      const ipv6Port = await ns.openIdleConnection('::1', otherPort);
      const afterUs = systemClock.nowUs();
      const t = startReceiver({ events: false });
      await t.started;
      const end = await eventually('a dump', () => t.ends()[0]);
      expect(end).toMatchObject({ zones: [], complete: true });
      expect(end.entries).toBe(t.samples().length);

      const live = t.samples().find((s) => s.original.srcPort === clientPort && s.original.dstPort === zonePort);
      expect(live).toMatchObject({
        zone: 7,
        mark: 42,
        tcpState: 'ESTABLISHED',
        assured: true,
        unreplied: false,
        dying: false,
        original: { proto: 6, srcIp: '127.0.0.1', srcPort: clientPort, dstIp: '127.0.0.1', dstPort: zonePort },
        reply: { proto: 6, srcIp: '127.0.0.1', srcPort: zonePort, dstIp: '127.0.0.1', dstPort: clientPort },
      });
      // The handshake only: SYN and ACK out, SYN-ACK back; at least IP + TCP headers each.
      expect(live?.counters).toMatchObject({ packets: 2, reversePackets: 1 });
      expect(live?.counters?.bytes).toBeGreaterThanOrEqual(80);
      expect(live?.counters?.reverseBytes).toBeGreaterThanOrEqual(40);
      expect(live?.id).toBeTypeOf('number');
      expect(live?.startUs).toBeGreaterThanOrEqual(beforeUs - 1000);
      expect(live?.startUs).toBeLessThanOrEqual(afterUs);

      const v6 = t.samples().find((s) => s.original.srcPort === ipv6Port);
      expect(v6).toMatchObject({
        zone: 0,
        mark: 0,
        tcpState: 'ESTABLISHED',
        original: { proto: 6, srcIp: '::1', srcPort: ipv6Port, dstIp: '::1', dstPort: otherPort },
      });
    });

    it('with zones set, dumps only those zones', async () => {
      await ns.openIdleConnection('::1', otherPort);
      const t = startReceiver({ events: false, zones: [7] });
      await t.started;
      await eventually('a dump', () => t.ends()[0]);
      expect(t.ends()).toMatchObject([{ zones: [7], complete: true }]);
      expect(t.samples().length).toBeGreaterThan(0);
      expect(t.samples().every((s) => s.zone === 7)).toBe(true);
    });

    it('a connection opened and closed between two dumps arrives by DESTROY, with its final counters', async () => {
      const t = startReceiver({ zones: [7] });
      await t.started;
      await eventually('the first dump and the event stream', () => (t.receiver.isReady?.() ? true : undefined));
      const dumpsBefore = t.ends().length;

      const clientPort = await ns.request(`http://127.0.0.1:${zonePort}/`);
      const end = await destroyOf(t.samples, clientPort);

      expect(t.ends()).toHaveLength(dumpsBefore); // no dump ran in between
      expect(t.samples().filter((s) => s.original.srcPort === clientPort)).toHaveLength(1);
      expect(end).toMatchObject({
        zone: 7,
        mark: 42,
        original: { proto: 6, srcIp: '127.0.0.1', srcPort: clientPort, dstIp: '127.0.0.1', dstPort: zonePort },
      });
      expectWholeExchange(end);
      expect(end.stopUs).toBeGreaterThan(end.startUs ?? Number.POSITIVE_INFINITY);
      expect(await t.metric('l7flow_conntrack_events_total', { type: 'destroy' })).toBeGreaterThanOrEqual(1);
    });

    it('survives the events process being killed: it is restarted and DESTROY events keep coming', async () => {
      const t = startReceiver({ zones: [7], events_restart: { initial_delay: '100ms', max_delay: '1s' } });
      await t.started;
      await eventually('the event stream', () => (t.receiver.isReady?.() ? true : undefined));
      const killed = await eventually('the events process id', () => ns.eventsPid());
      process.kill(killed, 'SIGKILL');

      await eventually('a restart', async () =>
        (await t.metric('l7flow_conntrack_process_restarts_total', { process: 'events' })) >= 1 ? true : undefined,
      );
      await eventually('the new process listening', async () =>
        (await t.metric('l7flow_conntrack_events_process_up')) === 1 && (await ns.eventsPid()) !== killed
          ? true
          : undefined,
      );
      expect(t.logger.lines.filter((l) => l.msg.startsWith('conntrack events process exited'))).toHaveLength(1);

      const clientPort = await ns.request(`http://127.0.0.1:${zonePort}/`);
      const end = await destroyOf(t.samples, clientPort);
      expectWholeExchange(end);
    });
  },
);
