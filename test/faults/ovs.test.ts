import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { MetricsSnapshot } from '../support/accounting.js';
import { eventually } from '../support/conntrack-netns.js';
import { AgentProcess, faultDir, httpLines, sendEve } from '../support/faults.js';
import { IsolatedOvs } from '../support/faults-ovs.js';
import { ovsCommands } from '../support/k8s-l7-ovs.js';
import { describeWith } from '../support/requirements.js';

/**
 * The mirror reconciler of a running agent against a real Open vSwitch that restarts and
 * loses the port Suricata listens on. Meanwhile L7 events keep flowing through k8s_l7: the
 * pipeline does not wait for OVS, and the accounting holds on every scrape.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWith({ root: true, commands: ovsCommands }, 'Open vSwitch faults', () => {
  let ovs: IsolatedOvs;
  let dir: Awaited<ReturnType<typeof faultDir>>;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    dir = await faultDir('mirror');
    ovs = await IsolatedOvs.start();
  });
  afterAll(async () => {
    await agent?.kill();
    await ovs?.stop();
    await dir?.remove();
  });

  it(
    'ovs-vswitchd restarts, and the target port disappears and reappears: the mirror converges by itself',
    {
      timeout: 60_000,
    },
    async () => {
      const podPort = `l7fo${ovs.id}p`;
      const target = `l7fo${ovs.id}t`;
      await ovs.addInternalPort(podPort);
      await ovs.addInternalPort(target);
      const pods = join(dir.path, 'pods.yaml');
      await writeFile(
        pods,
        stringify({
          namespaces: [{ name: 'shop', annotations: { 'visibility.antrea.io/l7-export': 'ingress' } }],
          pods: [{ name: 'web-0', namespace: 'shop', node: 'node-a', ips: ['10.50.0.2'], ovs_port: podPort }],
        }),
      );
      const socket = join(dir.path, 'eve.sock');
      agent = await AgentProcess.start(dir.path, {
        receivers: { suricata_eve: { socket: { path: socket } } },
        processors: {
          k8s_l7: {
            pods: 'file',
            pods_file: pods,
            mirror: { bridge: ovs.bridge, target_port: target, rundir: ovs.dir, resync_period: '1s' },
          },
          flow_join: {},
        },
        exporters: { debug: { path: join(dir.path, 'records.jsonl') } },
        service: {
          pipelines: {
            flows: { receivers: ['suricata_eve'], processors: ['k8s_l7', 'flow_join'], exporters: ['debug'] },
          },
        },
      });
      const running = agent;
      const monitor = agent.monitor(250);
      const mirrored = async () => {
        const mirror = await ovs.mirror('l7flow');
        return mirror?.src.join() === podPort && mirror.dst.join() === podPort && mirror.output === target;
      };
      const converged = async () => ((await mirrored()) && (await ovs.noFlood(target)) ? true : undefined);
      const metric = (m: MetricsSnapshot, name: string, labels: Record<string, string> = {}) => m.value(name, labels);
      // Transactions to the opted-in Pod, sent all along: the pipeline never waits for OVS.
      let sent = 0;
      const traffic = async () => {
        await sendEve(socket, httpLines('ovs', sent, 20, { dstIp: '10.50.0.2' }));
        sent += 20;
      };

      await eventually('the mirror installed', converged);
      await traffic();

      // ovs-vswitchd goes away: reading OpenFlow state fails and is counted; the Mirror row
      // stays in OVSDB, but the target's no-flood is lost with the switch.
      await ovs.stopSwitch();
      await traffic();
      await running.waitForMetrics(
        'a reconcile failing on the stopped switch',
        (m) => metric(m, 'l7flow_k8s_mirror_reconcile_errors_total', { reason: 'ovs_command' }) >= 1,
      );
      await sleep(1000);
      await ovs.startSwitch();
      expect(await ovs.noFlood(target)).toBe(false);
      await eventually('no-flood restored after the restart', converged, { ms: 15_000 });
      await traffic();

      // The target port disappears: nothing can be mirrored, which is counted, until it is back.
      await ovs.deletePort(target);
      await running.waitForMetrics(
        'the missing target noticed',
        (m) => metric(m, 'l7flow_k8s_mirror_reconcile_errors_total', { reason: 'target_port_missing' }) >= 1,
      );
      expect(await mirrored()).toBe(false);
      await traffic();
      await ovs.addInternalPort(target);
      await eventually('mirroring to the new target port', converged, { ms: 15_000 });
      await traffic();

      const done = await running.waitForMetrics(
        'every transaction exported',
        (m) => metric(m, 'l7flow_records_sent_total', { component: 'debug' }) === sent,
      );
      expect(metric(done, 'l7flow_k8s_mirror_pods', { state: 'installed' })).toBe(1);
      expect(metric(done, 'l7flow_records_dropped_total', { component: 'k8s_l7' })).toBe(0);
      const { scrapes, violations } = await monitor.stop();
      expect(violations).toEqual([]);
      expect(scrapes).toBeGreaterThan(10);
      const logs = running.logs('k8s_l7').map((l) => l.msg);
      expect(logs).toContain('mirror reconcile cannot reach the desired state; retrying');
      expect(logs).toContain('mirror reconcile recovered');
      expect((await agent.stop()).code).toBe(0);
    },
  );
});
