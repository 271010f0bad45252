import { randomUUID } from 'node:crypto';
import { systemClock } from '../../pipeline/clock.js';
import { consumerFn } from '../../pipeline/consumer.js';
import { silentLogger } from '../../pipeline/logger.js';
import type { ConnSample, HttpEvent, PipelineRecord, PodRef } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import type { ClusterState, PodInfo } from '../../processor/k8s_l7/cluster-state.js';
import { k8sL7ConfigSchema } from '../../processor/k8s_l7/factory.js';
import { ExecOvsClient } from '../../processor/k8s_l7/mirror/ovs-client.js';
import { parseOvsdbSnapshot } from '../../processor/k8s_l7/mirror/ovsdb-json.js';
import { planMirrors, type MirrorSettings } from '../../processor/k8s_l7/mirror/plan.js';
import type { PodSource } from '../../processor/k8s_l7/pod-source.js';
import { K8sL7Processor } from '../../processor/k8s_l7/processor.js';
import { missingForOvs, PrivateOvs, run } from '../support/k8s-l7-ovs.js';
import { measure, measureAsync, report } from './harness.js';
import type { Bench } from './run.js';

/**
 * processor k8s_l7:
 * - enrichment: records/s through consume() (time-aware index, opt-in decision, new objects)
 *   against a plain Map lookup doing the same copies (the floor);
 * - reconcile CPU: parse the ovs-vsctl output and plan, for N Pods, against JSON.parse alone;
 * - reconcile on a real OVS (root only): a steady-state run (read, plan, nothing to apply) and
 *   a first install, against one ovs-vsctl round trip.
 */

const podCount = 250; // a full node (kubelet max-pods 110 by default, 250 at most)
const settings: MirrorSettings = {
  mode: 'ovsdb_mirror',
  bridge: 'br-int',
  targetPort: 'tap0',
  mirrorName: 'l7flow',
  cookie: '0x6c37666c6f77',
  table: 0,
  priority: 200,
  externalIdKeys: { name: 'pod-name', namespace: 'pod-namespace' },
};

const ipOf = (i: number) => `10.20.${i >> 8}.${i & 255}`;
const pods: PodInfo[] = Array.from({ length: podCount }, (_, i) => ({
  name: `pod-${i}`,
  namespace: `ns-${i % 10}`,
  uid: `uid-${i}`,
  node: 'node-a',
  ips: [ipOf(i)],
  labels: { app: `app-${i % 25}`, 'pod-template-hash': 'abc123' },
  hostNetwork: false,
  terminated: false,
  ...(i % 3 === 0 ? { annotation: 'both' } : {}),
}));

export const k8sL7Bench: Bench = {
  name: 'k8s_l7',
  async run() {
    await enrichment();
    reconcileCpu(podCount);
    reconcileCpu(2000);
    await reconcileRealOvs();
  },
};

async function enrichment(): Promise<void> {
  const telemetry = new Telemetry();
  const id = 'k8s_l7';
  const componentSettings = {
    id,
    logger: silentLogger,
    clock: systemClock,
    telemetry: telemetry.forComponent(id, silentLogger, systemClock),
  };
  const source = (state: ClusterState): PodSource => ({
    synced: true,
    start: () => {
      state.replaceAll(pods, [], systemClock.nowUs());
      return Promise.resolve();
    },
    whenSynced: () => Promise.resolve(),
    report: () => {},
    stop: () => Promise.resolve(),
    details: () => ({}),
  });
  const processor = new K8sL7Processor(
    componentSettings,
    k8sL7ConfigSchema.parse({ mirror: { mode: 'none' } }),
    consumerFn(() => Promise.resolve()),
    { source },
  );
  await processor.start();
  const now = systemClock.nowUs();
  // Half L7 events (a third of them from opted-in Pods), half conntrack samples.
  const batch: PipelineRecord[] = Array.from({ length: 1000 }, (_, i): PipelineRecord => {
    const src = ipOf(i % podCount);
    const dst = ipOf((i * 7 + 3) % podCount);
    if (i % 2 === 0) {
      return {
        kind: 'http',
        timeUs: now,
        tuple: { proto: 6, srcIp: src, srcPort: 40000 + i, dstIp: dst, dstPort: 80 },
        flowId: i,
        txId: 0,
        http: { method: 'GET', url: '/', status: 200 },
      } satisfies HttpEvent;
    }
    return {
      kind: 'conn',
      timeUs: now,
      zone: 0,
      mark: 0,
      original: { proto: 6, srcIp: src, srcPort: 40000 + i, dstIp: '10.96.0.10', dstPort: 80 },
      reply: { proto: 6, srcIp: dst, srcPort: 8080, dstIp: src, dstPort: 40000 + i },
      assured: true,
      unreplied: false,
      dying: false,
    } satisfies ConnSample;
  });
  const measured = await measureAsync(
    async (n) => {
      for (let i = 0; i < n; i++) await processor.consume(batch);
    },
    { n: 100, rounds: 5 },
  );
  await processor.shutdown();

  const byIp = new Map<string, PodRef>(
    pods.map((p) => [
      p.ips[0] ?? '',
      { name: p.name, namespace: p.namespace, uid: p.uid, node: p.node, labels: p.labels },
    ]),
  );
  const sink: PipelineRecord[] = [];
  const baseline = await measureAsync(
    async (n) => {
      for (let i = 0; i < n; i++) {
        sink.length = 0;
        for (const record of batch) {
          if (record.kind === 'http') {
            // The same copy as the processor makes (Object.assign: see withPods in processor.ts).
            sink.push(
              Object.assign({}, record, { srcPod: byIp.get(record.tuple.srcIp), dstPod: byIp.get(record.tuple.dstIp) }),
            );
          } else if (record.kind === 'conn') {
            sink.push(
              Object.assign({}, record, {
                srcPod: byIp.get(record.original.srcIp),
                dstPod: byIp.get(record.reply.srcIp),
              }),
            );
          }
        }
        await Promise.resolve();
      }
    },
    { n: 100, rounds: 5 },
  );
  report({
    name: `enrichment, ${podCount} Pods, batches of 1000 (half L7, half conntrack)`,
    value: measured.opsPerSecond * batch.length,
    unit: 'records/s',
    baseline: { name: 'two Map.get + object copy per record', value: baseline.opsPerSecond * batch.length },
  });
}

/** ovs-vsctl --format=json output (the captured fixture's shape) for a bridge with n Pod ports. */
function vsctlOutput(n: number): { text: string; candidates: ReturnType<ClusterState['mirrorCandidates']> } {
  const uuid = () => ['uuid', randomUUID()];
  const ports: unknown[][] = [];
  const interfaces: unknown[][] = [];
  const names = [...Array.from({ length: n }, (_, i) => `v-pod-${i}`), 'tap0'];
  for (const [i, name] of names.entries()) {
    const port = uuid();
    const iface = uuid();
    ports.push([port, name, iface]);
    const ids =
      i < n
        ? [
            'map',
            [
              ['pod-name', `pod-${i}`],
              ['pod-namespace', `ns-${i % 10}`],
            ],
          ]
        : ['map', []];
    interfaces.push([iface, name, i + 1, ids]);
  }
  const bridge = [uuid(), 'br-int', ['set', ports.map((p) => p[0])], ['set', []]];
  const doc = (headings: string[], data: unknown[][]) => JSON.stringify({ data, headings });
  const text = [
    doc(['_uuid', 'name', 'ports', 'mirrors'], [bridge]),
    doc(['_uuid', 'name', 'interfaces'], ports),
    doc(['_uuid', 'name', 'ofport', 'external_ids'], interfaces),
    doc(['_uuid', 'name', 'select_src_port', 'select_dst_port', 'output_port', 'select_all', 'external_ids'], []),
  ].join('\n');
  const candidates = Array.from({ length: n }, (_, i) => ({
    namespace: `ns-${i % 10}`,
    name: `pod-${i}`,
    ips: [ipOf(i)],
    direction: 'both' as const,
  }));
  return { text, candidates };
}

function reconcileCpu(n: number): void {
  const { text, candidates } = vsctlOutput(n);
  const planned = measure((count) => {
    for (let i = 0; i < count; i++) planMirrors(candidates, { ovsdb: parseOvsdbSnapshot(text), flows: [] }, settings);
  });
  const parsed = measure((count) => {
    for (let i = 0; i < count; i++) for (const line of text.split('\n')) JSON.parse(line);
  });
  report({
    name: `reconcile CPU (parse + plan), ${n} opted-in Pods`,
    value: 1000 / planned.opsPerSecond,
    unit: 'ms',
    baseline: { name: 'JSON.parse of the same ovs-vsctl output', value: 1000 / parsed.opsPerSecond },
  });
}

async function reconcileRealOvs(): Promise<void> {
  const reason = missingForOvs();
  if (reason !== undefined) {
    process.stdout.write(`  reconcile on a real OVS: skipped (${reason})\n`);
    return;
  }
  const ovs = await PrivateOvs.start();
  const bridge = `l7k8sbench${process.pid % 1000}`;
  try {
    const add: string[] = [
      'add-br',
      bridge,
      '--',
      'set',
      'Bridge',
      bridge,
      'datapath_type=netdev',
      'fail_mode=standalone',
    ];
    add.push('--', 'add-port', bridge, `${bridge}t`, '--', 'set', 'Interface', `${bridge}t`, 'type=dummy');
    for (let i = 0; i < podCount; i++) {
      const port = `${bridge}p${i}`;
      add.push('--', 'add-port', bridge, port, '--', 'set', 'Interface', port, 'type=dummy');
      add.push(`external_ids:pod-name=pod-${i}`, `external_ids:pod-namespace=ns-${i % 10}`);
    }
    await ovs.vsctl(...add);
    const candidates = pods.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      ips: p.ips,
      direction: 'both' as const,
    }));
    for (const mode of ['ovsdb_mirror', 'openflow'] as const) {
      const modeSettings: MirrorSettings = { ...settings, mode, bridge, targetPort: `${bridge}t` };
      const client = new ExecOvsClient(modeSettings, {
        vsctlPath: '/usr/bin/ovs-vsctl',
        ofctlPath: '/usr/bin/ovs-ofctl',
        rundir: ovs.dir,
        timeoutMs: 10_000,
      });
      const reconcile = async () => {
        const plan = planMirrors(candidates, await client.read(), modeSettings);
        await client.apply(plan.changes);
      };
      const install = await measureAsync(
        async (n) => {
          for (let i = 0; i < n; i++) {
            await client.apply(planMirrors([], await client.read(), modeSettings).changes);
            await reconcile();
          }
        },
        { n: 2, rounds: 3 },
      );
      const steady = await measureAsync(
        async (n) => {
          for (let i = 0; i < n; i++) await reconcile();
        },
        { n: 5, rounds: 5 },
      );
      const floor = await measureAsync(
        async (n) => {
          for (let i = 0; i < n; i++) await run('ovs-vsctl', ['--format=json', 'list', 'Bridge', bridge], ovs.env);
        },
        { n: 10, rounds: 5 },
      );
      report({
        name: `${mode} on a real OVS, ${podCount} Pods: steady-state reconcile (read, plan, nothing to apply)`,
        value: 1000 / steady.opsPerSecond,
        unit: 'ms',
        baseline: { name: 'one ovs-vsctl round trip', value: 1000 / floor.opsPerSecond },
      });
      report({
        name: `${mode} on a real OVS, ${podCount} Pods: remove everything, then install for all`,
        value: 1000 / install.opsPerSecond,
        unit: 'ms',
        baseline: { name: 'one ovs-vsctl round trip', value: 1000 / floor.opsPerSecond },
      });
      await client.apply(planMirrors([], await client.read(), modeSettings).changes);
    }
  } finally {
    await ovs.vsctl('--if-exists', 'del-br', bridge).catch(() => '');
    await run('ip', ['link', 'del', bridge]).catch(() => '');
    await ovs.stop();
  }
}
