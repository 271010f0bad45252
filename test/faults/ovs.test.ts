import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mirrorName, writePodsFile } from '../support/e2e-agent.js';
import { StandInL7Engine } from '../support/e2e-l7-engine.js';
import { E2eTopology, httpPort, topologyCommands } from '../support/e2e-topology.js';
import { AgentProcess, faultDir, summary } from '../support/faults.js';
import { ovsLockWaitMs } from '../support/ovs-lock.js';
import { describeWith } from '../support/requirements.js';

/**
 * The running agent's mirror reconciler against a real Open vSwitch that fails under it: the
 * end-to-end topology (Pods as network namespaces on a userspace bridge, a mirror target port,
 * tshark standing in for Suricata on that port). ovs-vswitchd goes away and comes back (OVSDB
 * keeps the Mirror row, the target's no-flood is lost with the switch); the target port is
 * deleted and added again (the Mirror row loses its output). After each, the agent restores
 * the mirror by itself, the engine sees the HTTP traffic again, and the transactions are
 * exported. The accounting identities hold on every scrape, throughout.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWith({ root: true, commands: [...topologyCommands, 'tshark'] }, 'Open vSwitch faults', () => {
  let topology: E2eTopology | undefined;
  let dir: Awaited<ReturnType<typeof faultDir>> | undefined;
  let agent: AgentProcess | undefined;
  let engine: StandInL7Engine | undefined;

  beforeAll(async () => {
    dir = await faultDir('ovs');
    topology = await E2eTopology.start();
  }, ovsLockWaitMs + 60_000);
  afterAll(async () => {
    await engine?.stop();
    await agent?.kill();
    await topology?.destroy();
    await dir?.remove();
  }, 30_000);

  it(
    'ovs-vswitchd restarts, and the target port disappears and reappears: the agent restores the mirror by itself',
    {
      timeout: 120_000,
    },
    async () => {
      const net = topology!;
      const { path } = dir!;
      const socket = join(path, 'eve.sock');
      const output = join(path, 'records.jsonl');
      await writePodsFile(net, path, { server: 'ingress' });
      agent = await AgentProcess.start(path, {
        receivers: { suricata_eve: { socket: { path: socket }, event_types: ['http'] } },
        processors: {
          k8s_l7: {
            pods: 'file',
            pods_file: join(path, 'pods.yaml'),
            post_events: false,
            mirror: {
              mode: 'ovsdb_mirror',
              bridge: net.bridge,
              target_port: net.target,
              mirror_name: mirrorName,
              rundir: net.rundir,
              resync_period: '1s',
            },
          },
          flow_join: { idle_timeout: '1s', active_timeout: '2s', l7_pending_ttl: '1s' },
        },
        exporters: { debug: { path: output } },
        service: {
          pipelines: {
            flows: { receivers: ['suricata_eve'], processors: ['k8s_l7', 'flow_join'], exporters: ['debug'] },
          },
        },
      });
      const running = agent;
      const monitor = running.monitor(250);

      const eventually = async (what: string, condition: () => Promise<boolean>, timeoutMs = 20_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!(await condition())) {
          if (Date.now() > deadline)
            throw new Error(`${what}: not within ${timeoutMs} ms\n${summary(await running.scrape())}`);
          await sleep(200);
        }
      };
      /** Read with ovs-vsctl/ovs-ofctl, not with the code under test. */
      const noFlood = async () => {
        const ports = await net.ovs.ofctl('dump-ports-desc', net.bridge);
        return new RegExp(`\\(${net.target}\\):.*\\n(?:\\s+\\S.*\\n)*?\\s*config:\\s*.*NO_FLOOD`).test(ports);
      };
      const mirrorInstalled = async () => {
        const mirror = await net.mirror(mirrorName);
        return (
          mirror !== undefined && mirror.toTarget && mirror.src.join() === 'server' && mirror.dst.join() === 'server'
        );
      };
      const converged = async () => (await mirrorInstalled()) && (await noFlood());
      const errors = async (reason: string) =>
        (await running.checkedScrape()).value('l7flow_k8s_mirror_reconcile_errors_total', { reason });
      const exportedUrls = async (): Promise<string[]> => {
        const text = await readFile(output, 'utf8').catch(() => '');
        return text
          .split('\n')
          .filter((line) => line !== '')
          .flatMap((line) => (JSON.parse(line) as { l7: { http?: { url?: string } }[] }).l7)
          .flatMap((event) => (event.http?.url === undefined ? [] : [event.http.url]));
      };

      /**
       * HTTP from client to server while the engine captures the target port: every request is
       * seen by the engine (so the mirror copies it) and exported once.
       */
      let sentTransactions = 0;
      const traffic = async (phase: string) => {
        engine = await StandInL7Engine.start({ iface: net.target, httpPort });
        await engine.connect(socket);
        const plan = Array.from({ length: 5 }, (_, i) => ({ method: 'GET' as const, path: `/${phase}/${i}` }));
        const seen = await net.exchange('client', 'server', plan);
        expect(seen.map((s) => s.status)).toEqual(plan.map(() => 200));
        const capturing = engine;
        await eventually(`the engine to see the ${phase} transactions`, () =>
          Promise.resolve(capturing.events.length >= 5),
        );
        expect(capturing.problems).toEqual([]);
        expect(capturing.events.map((e) => e.http.url)).toEqual(plan.map((p) => p.path));
        await capturing.stop();
        engine = undefined;
        sentTransactions += plan.length;
        await eventually(`the ${phase} transactions exported`, async () => {
          const urls = await exportedUrls();
          return plan.every((p) => urls.includes(p.path));
        });
      };

      await eventually('the mirror installed', converged);
      await traffic('before');

      // ovs-vswitchd stops: reconciles fail (counted) while it is away; the Mirror row stays in
      // OVSDB, the target's no-flood goes with the switch.
      const failuresBefore = await errors('ovs_command');
      await net.ovs.stopVswitchd();
      await eventually(
        'a reconcile failing on the stopped switch',
        async () => (await errors('ovs_command')) > failuresBefore,
      );
      await net.ovs.startVswitchd();
      await eventually('the mirror restored after the restart', converged);
      await traffic('after-restart');

      // The target port disappears: nothing can be mirrored, which is counted, until it is back.
      await net.vsctl('del-port', net.bridge, net.target);
      await eventually('the missing target noticed', async () => (await errors('target_port_missing')) >= 1);
      const mirrorOutput = await net.vsctl('--bare', '--columns=output_port', 'find', 'Mirror', `name=${mirrorName}`);
      expect(mirrorOutput.trim()).toBe('');
      await sleep(2_000);
      await net.ovs.addInternalPort(net.bridge, net.target);
      await eventually('the mirror restored to the new target port', converged);
      await traffic('after-port-back');

      const done = await running.waitForMetrics(
        'every transaction exported',
        (m) =>
          m.value('l7flow_join_transactions_exported_total') === sentTransactions &&
          m.value('l7flow_records_held') === 0,
      );
      expect(done.value('l7flow_records_received_total', { component: 'suricata_eve' })).toBe(sentTransactions);
      expect(done.value('l7flow_records_dropped_total')).toBe(0);
      expect(done.value('l7flow_k8s_mirror_pods', { state: 'installed' })).toBe(1);
      const urls = await exportedUrls();
      expect(urls).toHaveLength(sentTransactions);
      const { scrapes, violations } = await monitor.stop();
      expect(violations).toEqual([]);
      expect(scrapes).toBeGreaterThan(10);
      const logs = running.logs('k8s_l7').map((l) => l.msg);
      expect(logs).toContain('mirror reconcile cannot reach the desired state; retrying');
      expect(logs).toContain('mirror reconcile recovered');
      expect((await running.stop()).code).toBe(0);
    },
  );
});
