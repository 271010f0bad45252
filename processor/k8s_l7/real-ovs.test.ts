import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerFn } from '../../pipeline/consumer.js';
import { FakeKubeApi, namespaceObject, podObject, type KubeObject } from '../../test/support/fake-kube-api.js';
import { captureDuring, ovsCommands, PrivateOvs, Topology, type Capture } from '../../test/support/k8s-l7-ovs.js';
import { ovsLockWaitMs } from '../../test/support/ovs-lock.js';
import { realClockSettings } from '../../test/support/k8s-l7.js';
import { until } from '../../test/support/until.js';
import { describeWith } from '../../test/support/requirements.js';
import { metricValue } from '../../test/support/settings.js';
import { k8sL7ConfigSchema } from './factory.js';
import { K8sL7Processor } from './processor.js';

/**
 * End to end on a real Open vSwitch (userspace datapath, private instance) and a fake API
 * server driven by the real client library: two network namespaces on a bridge are the Pods
 * `tools/client` and `shop/server`; an HTTP exchange between them must appear on the target
 * port, in both directions, exactly while the server is opted in.
 */

const annotation = 'visibility.antrea.io/l7-export';
const cookie = '0x6c37666c6f77';
const httpPort = 8080;

describeWith({ root: true, commands: [...ovsCommands, 'tcpdump', 'curl'] }, 'k8s_l7 on a real OVS', () => {
  let ovs: PrivateOvs;
  let topology: Topology;
  let api: FakeKubeApi;
  let dir: string;
  let foreignMirror = '';
  const client = () => topology.ends[0]!;
  const server = () => topology.ends[1]!;
  const addForeignFlow = () => ovs.ofctl('add-flow', topology.bridge, 'cookie=0x1,priority=1,arp,actions=NORMAL');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'l7k8s-e2e-'));
    ovs = await PrivateOvs.start();
    topology = new Topology(ovs, 2);
    await topology.create();
    await topology.labelPort(client(), { name: 'client', namespace: 'tools' });
    await topology.labelPort(server(), { name: 'server', namespace: 'shop' });
    await topology.serveHttp(server(), httpPort);
    // What others installed, which l7flow must leave alone: a Mirror row and a flow.
    const spare = `l7k8s${topology.id}x`;
    await topology.addInternalPort(spare);
    foreignMirror = (
      await ovs.vsctl(
        '--',
        '--id=@p',
        'get',
        'Port',
        client().port,
        '--',
        '--id=@o',
        'get',
        'Port',
        spare,
        '--',
        '--id=@m',
        'create',
        'Mirror',
        'name=span',
        'select_src_port=@p',
        'output_port=@o',
        '--',
        'add',
        'Bridge',
        topology.bridge,
        'mirrors',
        '@m',
      )
    ).trim();
    await addForeignFlow();

    api = await FakeKubeApi.start();
    api.apply('namespaces', namespaceObject('shop'));
    api.apply('namespaces', namespaceObject('tools'));
    api.apply('pods', podObject({ name: 'client', namespace: 'tools', node: 'node-a', ips: [client().ip] }));
  }, ovsLockWaitMs + 60_000); // may queue behind other files holding the OVS lock

  afterAll(async () => {
    await topology?.destroy();
    await ovs?.stop();
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs one HTTP GET from the client to the server while capturing on the target port. */
  const capture = async (): Promise<Capture> => {
    let body = '';
    const seen = await captureDuring(topology.target, httpPort, async () => {
      body = await topology.curl(client(), server(), httpPort, '/probe');
    });
    expect(body).toBe('hello from /probe\n');
    return seen;
  };
  const setServerAnnotation = (value: string | undefined) =>
    api.update('pods', 'shop', 'server', (p: KubeObject) => ({
      ...p,
      metadata: { ...p.metadata, annotations: value === undefined ? {} : { [annotation]: value } },
    }));

  /** What OVS holds, read with the OVS tools directly (not with the code under test). */
  const ovsView = async () => {
    const uuidOf = async (port: string) =>
      (await ovs.vsctl('--bare', '--columns=_uuid', 'find', 'Port', `name=${port}`)).trim();
    const mirror = (
      await ovs.vsctl(
        '--bare',
        '--columns=select_src_port,select_dst_port,output_port',
        'find',
        'Mirror',
        'name=l7flow',
      )
    )
      .trim()
      .split('\n')
      .filter((l) => l !== '');
    const flows = (await ovs.ofctl('--no-names', '--no-stats', 'dump-flows', topology.bridge, `cookie=${cookie}/-1`))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('actions='));
    const targetOfport = (await ovs.vsctl('get', 'Interface', topology.target, 'ofport')).trim();
    const serverOfport = (await ovs.vsctl('get', 'Interface', server().port, 'ofport')).trim();
    const portsDesc = await ovs.ofctl('dump-ports-desc', topology.bridge);
    const targetConfig = new RegExp(`\\(${topology.target}\\):.*\\n\\s*config:\\s*(.*)`).exec(portsDesc)?.[1] ?? '';
    return {
      /** The server's port selected both ways, output to the target. */
      mirrorsServer:
        mirror.length === 3 &&
        mirror[0] === (await uuidOf(server().port)) &&
        mirror[1] === mirror[0] &&
        mirror[2] === (await uuidOf(topology.target)),
      mirrorRows: mirror.length === 0 ? 0 : 1,
      flows,
      flowsCopyServer:
        flows.includes(
          `cookie=${cookie}, priority=200,in_port=${serverOfport} actions=output:${targetOfport},NORMAL`,
        ) &&
        flows.includes(`cookie=${cookie}, priority=200,ip,nw_dst=${server().ip} actions=output:${targetOfport},NORMAL`),
      targetNoFlood: targetConfig.includes('NO_FLOOD'),
      foreignKept:
        (await ovs.vsctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=span')).trim() === foreignMirror &&
        (await ovs.ofctl('--no-stats', 'dump-flows', topology.bridge, 'cookie=0x1/-1')).includes('arp actions=NORMAL'),
    };
  };

  /** Both halves of the exchange were copied: the request and the response. */
  const expectBothDirections = (seen: Capture) => {
    const toServer = seen.packets.filter(
      (p) => p.startsWith(`${client().ip}.`) && p.endsWith(`${server().ip}.${httpPort}`),
    );
    const toClient = seen.packets.filter((p) => p.startsWith(`${server().ip}.${httpPort} `));
    expect(toServer.length).toBeGreaterThan(0);
    expect(toClient.length).toBeGreaterThan(0);
    expect(seen.text).toContain('GET /probe HTTP/1.1');
    expect(seen.text).toContain('HTTP/1.1 200 OK');
  };

  for (const mode of ['ovsdb_mirror', 'openflow'] as const) {
    describe(`mirror.mode ${mode}`, () => {
      let processor: K8sL7Processor;
      let telemetry: ReturnType<typeof realClockSettings>['telemetry'];
      const installed = async () => {
        const view = await ovsView();
        return mode === 'ovsdb_mirror' ? view.mirrorsServer : view.flowsCopyServer;
      };
      const removed = async () => {
        const view = await ovsView();
        return view.mirrorRows === 0 && view.flows.length === 0;
      };

      beforeAll(async () => {
        api.apply('pods', podObject({ name: 'server', namespace: 'shop', node: 'node-a', ips: [server().ip] }));
        const real = realClockSettings('k8s_l7');
        telemetry = real.telemetry;
        const config = k8sL7ConfigSchema.parse({
          node_name: 'node-a',
          kubeconfig: await api.kubeconfigFile(dir),
          mirror: {
            mode,
            bridge: topology.bridge,
            target_port: topology.target,
            rundir: ovs.dir,
            resync_period: '1s',
            cleanup_on_exit: mode === 'openflow',
          },
        });
        processor = new K8sL7Processor(
          real.settings,
          config,
          consumerFn(() => Promise.resolve()),
        );
        await processor.start();
        expect(processor.isReady()).toBe(true);
      });

      afterAll(async () => {
        await processor?.shutdown();
      });

      it('copies nothing while no Pod is opted in (and removes what an earlier run left)', async () => {
        await until(removed, 'nothing of l7flow is installed');
        expect((await capture()).packets).toEqual([]);
      });

      it('annotating the server Pod ingress copies its HTTP exchange to the target in both directions', async () => {
        setServerAnnotation('ingress');
        await until(installed, 'the server is mirrored');
        expectBothDirections(await capture());
        expect((await ovsView()).foreignKept).toBe(true);
      });

      it('an invalid value removes the mirror and posts a Warning Event on the Pod', async () => {
        const events = api.events.length;
        setServerAnnotation('Sideways');
        await until(removed, 'the mirror is removed');
        expect((await capture()).packets).toEqual([]);
        await until(() => api.events.length > events, 'an Event is posted');
        expect(api.events.at(-1)).toMatchObject({
          reason: 'InvalidL7ExportAnnotation',
          involvedObject: { kind: 'Pod', namespace: 'shop', name: 'server' },
        });
      });

      it('converges again after ovs-vswitchd restarts, on the next resync', async () => {
        setServerAnnotation('INGRESS');
        await until(installed, 'the server is mirrored');
        const runs = async () => metricValue(telemetry, 'l7flow_k8s_mirror_reconcile_runs_total', {});
        await ovs.restartVswitchd();
        await addForeignFlow(); // its owner re-installs it, as l7flow does its own
        if (mode === 'ovsdb_mirror') {
          // The Mirror row survives in OVSDB; take it away as an operator might.
          const row = (await ovs.vsctl('--bare', '--columns=_uuid', 'find', 'Mirror', 'name=l7flow')).trim();
          await ovs.vsctl('remove', 'Bridge', topology.bridge, 'mirrors', row);
        } else {
          expect((await ovsView()).flows).toEqual([]);
        }
        const before = await runs();
        await until(
          async () => (await installed()) && (await ovsView()).targetNoFlood,
          'a resync has repaired OVS',
          10_000,
        );
        expect(await runs()).toBeGreaterThan(before);
        expectBothDirections(await capture());
      });

      it('deleting the Pod removes the mirror', async () => {
        api.delete('pods', 'shop', 'server');
        await until(removed, 'the mirror is removed');
        expect((await capture()).packets).toEqual([]);
      });

      it(`at shutdown ${mode === 'openflow' ? 'removes only its own (cleanup_on_exit)' : 'leaves the mirror (no cleanup_on_exit)'}`, async () => {
        api.apply(
          'pods',
          podObject({
            name: 'server',
            namespace: 'shop',
            node: 'node-a',
            ips: [server().ip],
            annotations: { [annotation]: 'both' },
          }),
        );
        await until(installed, 'the server is mirrored');
        await processor.shutdown();
        const view = await ovsView();
        if (mode === 'openflow') expect(view.flows).toEqual([]);
        else expect(view.mirrorsServer).toBe(true);
        expect(view.foreignKept).toBe(true);
        api.delete('pods', 'shop', 'server');
      });
    });
  }
});
