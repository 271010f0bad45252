import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../pipeline/clock.js';
import type { Component, Host } from '../../pipeline/component.js';
import type { ConnDumpEnd, ConnSample, PipelineRecord } from '../../pipeline/records.js';
import { eventually } from '../../test/support/conntrack-netns.js';
import { ovsLockWaitMs } from '../../test/support/ovs-lock.js';
import { PrivateOvs } from '../../test/support/conntrack-ovs.js';
import { describeWith } from '../../test/support/requirements.js';
import { testSettings } from '../../test/support/settings.js';
import { conntrackConfigSchema, conntrackReceiverFactory } from './factory.js';

const host: Host = {
  reportFatal: (error) => {
    throw error;
  },
};

describeWith(
  {
    root: true,
    commands: [
      'ovsdb-tool',
      'ovsdb-server',
      'ovs-vswitchd',
      'ovs-vsctl',
      'ovs-ofctl',
      'ovs-appctl',
      'ethtool',
      'ip',
      'curl',
    ],
  },
  'conntrack receiver, ovs source, against a private Open vSwitch (userspace datapath)',
  () => {
    let ovs: PrivateOvs;
    let receiver: Component | undefined;

    beforeAll(async () => {
      ovs = await PrivateOvs.start();
      await ovs.startHttpServer(8080);
    }, ovsLockWaitMs + 60_000); // may queue behind other files holding the OVS lock
    afterAll(async () => {
      await receiver?.shutdown();
      await ovs?.stop();
    });

    it('reports the connections OVS committed to zone 65520, without counters; a dump without OVS is incomplete', async () => {
      const idlePort = await eventually('a connection through the bridge', () =>
        ovs.openIdleConnection(8080).catch(() => undefined),
      );
      const closedPort = await ovs.request(8080);

      const { settings, logger } = testSettings('conntrack', systemClock);
      const records: PipelineRecord[] = [];
      receiver = conntrackReceiverFactory.create(
        settings,
        conntrackConfigSchema.parse({
          source: 'ovs',
          zones: [65520],
          poll_interval: '1s',
          ovs: { rundir: ovs.rundir },
        }),
        {
          consume: async (batch) => {
            records.push(...batch);
            return Promise.resolve();
          },
        },
      );
      await receiver.start(host);
      expect(receiver.details?.()).toMatchObject({ source: 'ovs', counters: expect.stringMatching(/^none/) });
      const ends = () => records.filter((r): r is ConnDumpEnd => r.kind === 'conn_dump_end');
      const samples = () => records.filter((r): r is ConnSample => r.kind === 'conn');
      const first = await eventually('a dump', () => ends()[0]);
      expect(first).toMatchObject({ zones: [65520], complete: true });

      const idle = samples().find((s) => s.original.srcPort === idlePort);
      expect(idle).toMatchObject({
        zone: 65520,
        mark: 42,
        labels: '0x1234',
        tcpState: 'ESTABLISHED',
        original: { proto: 6, srcIp: '10.30.0.1', srcPort: idlePort, dstIp: '10.30.0.2', dstPort: 8080 },
        reply: { proto: 6, srcIp: '10.30.0.2', srcPort: 8080, dstIp: '10.30.0.1', dstPort: idlePort },
      });
      expect(idle?.counters).toBeUndefined();
      expect(idle?.id).toBeUndefined();
      const closed = samples().find((s) => s.original.srcPort === closedPort);
      expect(closed?.tcpState).toMatch(/^(TIME_WAIT|CLOSE_WAIT|LAST_ACK|CLOSING|FIN_WAIT_1|CLOSED)$/);
      expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);

      await ovs.stopSwitch();
      const failed = await eventually('a dump without ovs-vswitchd', () => ends().find((e) => !e.complete));
      expect(failed).toMatchObject({ zones: [65520], complete: false, entries: 0 });
      expect(logger.lines.filter((l) => l.msg.startsWith('conntrack dump failed'))).toHaveLength(1);
    });
  },
);
