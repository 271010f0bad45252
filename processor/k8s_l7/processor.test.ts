import { describe, expect, it } from 'vitest';
import { consumerFn } from '../../pipeline/consumer.js';
import { deferred, type Deferred } from '../../pipeline/once.js';
import type { ConnDumpEnd, ConnSample, HttpEvent, PipelineRecord, PodRef, Tuple } from '../../pipeline/records.js';
import { FakeOvs } from '../../test/support/k8s-l7-fake-ovs.js';
import { pod } from '../../test/support/k8s-l7.js';
import { until } from '../../test/support/until.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import type { ClusterState, InvalidAnnotation, NamespaceInfo, PodInfo } from './cluster-state.js';
import { k8sL7ConfigSchema } from './factory.js';
import type { PodSource } from './pod-source.js';
import { K8sL7Processor } from './processor.js';

const t0 = Date.UTC(2026, 10, 26, 12, 0, 0) * 1000;
const annotation = 'visibility.antrea.io/l7-export';

/** Pods and Namespaces handed over when the test says so. */
class ScriptedSource implements PodSource {
  readonly reports: InvalidAnnotation[] = [];
  readonly #synced: Deferred = deferred();
  #isSynced = false;

  constructor(
    readonly state: ClusterState,
    private readonly pods: PodInfo[],
    private readonly namespaces: NamespaceInfo[],
    private readonly syncAtStart = true,
  ) {}

  get synced(): boolean {
    return this.#isSynced;
  }
  start(): Promise<void> {
    if (this.syncAtStart) this.sync();
    return Promise.resolve();
  }
  sync(): void {
    this.state.replaceAll(this.pods, this.namespaces, t0);
    this.#isSynced = true;
    this.#synced.resolve();
  }
  whenSynced(): Promise<void> {
    return this.#synced.promise;
  }
  report(invalid: InvalidAnnotation): void {
    this.reports.push(invalid);
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  details() {
    return { pods: 'scripted' };
  }
}

// The cast: shop is opted in for ingress at the Namespace, the client for egress on its own,
// db for both; batch is not opted in.
const web = pod('web', { ips: ['10.10.0.2'], labels: { app: 'web' }, workload: 'web', ovsPort: 'v-web' });
const client = pod('client', { namespace: 'tools', ips: ['10.10.0.1'], annotation: 'Egress', ovsPort: 'v-client' });
const batch = pod('batch', { namespace: 'tools', ips: ['10.10.0.3'] });
const db = pod('db', { namespace: 'data', ips: ['10.10.0.4', 'fd00::4'], annotation: 'both' });
const namespaces: NamespaceInfo[] = [
  { name: 'shop', uid: 'ns-shop', annotation: 'ingress' },
  { name: 'tools', uid: 'ns-tools' },
  { name: 'data', uid: 'ns-data' },
];

const webRef: PodRef = {
  name: 'web',
  namespace: 'shop',
  uid: 'uid-web',
  node: 'node-a',
  labels: { app: 'web' },
  workload: 'web',
  l7Export: 'ingress',
};
const clientRef: PodRef = {
  name: 'client',
  namespace: 'tools',
  uid: 'uid-client',
  node: 'node-a',
  labels: {},
  l7Export: 'egress',
};
const batchRef: PodRef = { name: 'batch', namespace: 'tools', uid: 'uid-batch', node: 'node-a', labels: {} };
const dbRef: PodRef = { name: 'db', namespace: 'data', uid: 'uid-db', node: 'node-a', labels: {}, l7Export: 'both' };

function setup(
  options: { config?: Record<string, unknown>; syncAtStart?: boolean; pods?: PodInfo[]; ovs?: FakeOvs } = {},
) {
  const clock = new ManualClock();
  const { settings, telemetry, logger } = testSettings('k8s_l7', clock);
  const config = k8sL7ConfigSchema.parse({
    mirror: { mode: options.ovs ? 'ovsdb_mirror' : 'none' },
    ...options.config,
  });
  const out: PipelineRecord[] = [];
  let source: ScriptedSource | undefined;
  const processor = new K8sL7Processor(
    settings,
    config,
    consumerFn(async (batch) => {
      out.push(...batch);
      return Promise.resolve();
    }),
    {
      source: (state) =>
        (source = new ScriptedSource(state, options.pods ?? [web, client, batch, db], namespaces, options.syncAtStart)),
      ...(options.ovs ? { ovsClient: options.ovs } : {}),
    },
  );
  const dropped = (reason: string) =>
    metricValue(telemetry, 'l7flow_records_dropped_total', { component: 'k8s_l7', reason });
  return { processor, out, clock, logger, telemetry, dropped, source: () => source! };
}

const tuple = (srcIp: string, dstIp: string, dstPort = 80): Tuple => ({
  proto: 6,
  srcIp,
  srcPort: 40000,
  dstIp,
  dstPort,
});
const http = (srcIp: string, dstIp: string, url = '/'): HttpEvent => ({
  kind: 'http',
  timeUs: t0,
  tuple: tuple(srcIp, dstIp),
  flowId: 1,
  txId: 0,
  http: { method: 'GET', url, status: 200 },
});

describe('processor k8s_l7: L7 events', () => {
  const cases: {
    name: string;
    src: string;
    dst: string;
    kept?: { srcPod?: PodRef; dstPod?: PodRef };
    reason?: string;
  }[] = [
    {
      name: 'egress client to ingress server',
      src: '10.10.0.1',
      dst: '10.10.0.2',
      kept: { srcPod: clientRef, dstPod: webRef },
    },
    {
      name: 'plain client to ingress server',
      src: '10.10.0.3',
      dst: '10.10.0.2',
      kept: { srcPod: batchRef, dstPod: webRef },
    },
    { name: 'ingress Pod as the client', src: '10.10.0.2', dst: '10.10.0.3', reason: 'not_opted_in' },
    {
      name: 'egress client to a Service address (Antrea #6854)',
      src: '10.10.0.1',
      dst: '10.96.0.10',
      kept: { srcPod: clientRef },
    },
    { name: 'plain client to a Service address', src: '10.10.0.3', dst: '10.96.0.10', reason: 'not_opted_in' },
    { name: 'outside client to a both Pod', src: '192.168.1.50', dst: '10.10.0.4', kept: { dstPod: dbRef } },
    { name: 'both Pod to the outside', src: '10.10.0.4', dst: '1.1.1.1', kept: { srcPod: dbRef } },
    { name: 'both Pod over IPv6', src: 'fd00::4', dst: 'fd00::99', kept: { srcPod: dbRef } },
    { name: 'no Pod at either end', src: '192.168.1.50', dst: '1.1.1.1', reason: 'no_pod' },
  ];

  it.each(cases)('$name', async ({ src, dst, kept, reason }) => {
    const { processor, out, dropped } = setup();
    await processor.start();
    const event = Object.freeze(http(src, dst));
    await processor.consume([event]);
    if (kept) {
      expect(out).toEqual([{ ...event, ...kept }]);
      expect(out[0]).not.toBe(event);
    } else {
      expect(out).toEqual([]);
      expect(await dropped(reason!)).toBe(1);
    }
    await processor.shutdown();
  });

  it('counts drops per batch by reason, and keeps the order of what it passes', async () => {
    const { processor, out, dropped } = setup();
    await processor.start();
    await processor.consume([
      http('10.10.0.3', '10.10.0.2', '/1'),
      http('192.168.1.1', '1.1.1.1', '/2'),
      http('10.10.0.2', '10.10.0.3', '/3'),
      http('10.10.0.1', '10.10.0.2', '/4'),
      http('192.168.1.1', '1.1.1.2', '/5'),
    ]);
    expect(out.map((r) => (r as HttpEvent).http.url)).toEqual(['/1', '/4']);
    expect(await dropped('no_pod')).toBe(2);
    expect(await dropped('not_opted_in')).toBe(1);
  });
});

describe('processor k8s_l7: accounting', () => {
  it('counts records the next component refuses as rejected, and does not pass the refusal up', async () => {
    const { settings, telemetry } = testSettings('k8s_l7', new ManualClock());
    const processor = new K8sL7Processor(
      settings,
      k8sL7ConfigSchema.parse({ mirror: { mode: 'none' } }),
      consumerFn(() => Promise.reject(new Error('flow_join: consume after shutdown'))),
      { source: (state) => new ScriptedSource(state, [web, client, batch, db], namespaces) },
    );
    await processor.start();
    // Its sender counts a refused batch as dropped: had k8s_l7 rejected, the no_pod drop
    // below would have been counted twice.
    await expect(
      processor.consume([
        http('10.10.0.1', '10.10.0.2'),
        http('192.168.1.1', '1.1.1.1'),
        http('10.10.0.3', '10.10.0.2'),
      ]),
    ).resolves.toBeUndefined();
    const dropped = (reason: string) =>
      metricValue(telemetry, 'l7flow_records_dropped_total', { component: 'k8s_l7', reason });
    expect([await dropped('rejected'), await dropped('no_pod')]).toEqual([2, 1]);
    await processor.shutdown();
  });
});

describe('processor k8s_l7: conntrack samples and other records', () => {
  const conn = (original: Tuple, reply: Tuple): ConnSample => ({
    kind: 'conn',
    timeUs: t0,
    zone: 0,
    mark: 0,
    original,
    reply,
    assured: true,
    unreplied: false,
    dying: false,
  });

  it('attaches the client and the post-DNAT endpoint (reply source), never drops', async () => {
    const { processor, out } = setup();
    await processor.start();
    // batch (not opted in) calls a ClusterIP that conntrack DNATs to web:8080.
    const viaService = conn(tuple('10.10.0.3', '10.96.0.10'), {
      proto: 6,
      srcIp: '10.10.0.2',
      srcPort: 8080,
      dstIp: '10.10.0.3',
      dstPort: 40000,
    });
    const outside = conn(tuple('192.168.1.1', '1.1.1.1'), tuple('1.1.1.1', '192.168.1.1'));
    const end: ConnDumpEnd = { kind: 'conn_dump_end', timeUs: t0, zones: [], complete: true, entries: 2 };
    await processor.consume([Object.freeze(viaService), Object.freeze(outside), Object.freeze(end)]);
    expect(out).toEqual([{ ...viaService, srcPod: batchRef, dstPod: webRef }, outside, end]);
    expect(out[2]).toBe(end);
  });

  it('resolves by the record time: a deleted Pod still owns its address for the grace period', async () => {
    const { processor, out, clock, source } = setup({ config: { deleted_pod_grace: '30s' } });
    await processor.start();
    source().state.deletePod('shop', 'web', undefined, t0);
    clock.advance(29_000);
    await processor.consume([http('10.10.0.3', '10.10.0.2')]);
    expect((out[0] as HttpEvent).dstPod?.name).toBe('web');
    clock.advance(2_000);
    await processor.consume([http('10.10.0.3', '10.10.0.2')]);
    expect(out).toHaveLength(1);
  });
});

describe('processor k8s_l7: start and readiness', () => {
  it('is not ready, and drops L7 events as not_synced, until the first lists are in', async () => {
    const { processor, out, dropped, source } = setup({ syncAtStart: false, config: { wait_for_sync: '0s' } });
    await processor.start();
    expect(processor.isReady()).toBe(false);
    await processor.consume([http('10.10.0.1', '10.10.0.2')]);
    expect(out).toEqual([]);
    expect(await dropped('not_synced')).toBe(1);
    source().sync();
    expect(processor.isReady()).toBe(true);
    await processor.consume([http('10.10.0.1', '10.10.0.2')]);
    expect(out).toHaveLength(1);
  });

  it('waits up to wait_for_sync for the first lists before letting the receivers start', async () => {
    const { processor, source, clock } = setup({ syncAtStart: false, config: { wait_for_sync: '10s' } });
    let started = false;
    const starting = processor.start().then(() => (started = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(false);
    source().sync();
    await starting;

    const late = setup({ syncAtStart: false, config: { wait_for_sync: '10s' } });
    let lateStarted = false;
    const lateStart = late.processor.start().then(() => (lateStarted = true));
    await new Promise((r) => setTimeout(r, 20));
    late.clock.advance(9_999);
    await new Promise((r) => setTimeout(r, 20));
    expect(lateStarted).toBe(false);
    late.clock.advance(1);
    await lateStart;
    expect(late.processor.isReady()).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports gauges of opted-in Pods by direction and of invalid values', async () => {
    const bad = pod('bad', { namespace: 'tools', annotation: 'sideways' });
    const { processor, telemetry, logger, source } = setup({ pods: [web, client, batch, db, bad] });
    await processor.start();
    const gauge = (direction: string) =>
      metricValue(telemetry, 'l7flow_k8s_pods_opted_in', { component: 'k8s_l7', direction });
    expect([await gauge('ingress'), await gauge('egress'), await gauge('both')]).toEqual([1, 1, 1]);
    expect(await metricValue(telemetry, 'l7flow_k8s_pods_invalid_annotation', {})).toBe(1);
    expect(await metricValue(telemetry, 'l7flow_k8s_invalid_annotations_total', { kind: 'pod' })).toBe(1);
    expect(source().reports).toEqual([
      { kind: 'Pod', namespace: 'tools', name: 'bad', uid: 'uid-bad', value: 'sideways' },
    ]);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      `annotation ${annotation}="sideways" is not one of ingress, egress, both: L7 export and mirroring are off for this Pod`,
    ]);
  });
});

describe('processor k8s_l7: mirroring', () => {
  it('mirrors the opted-in Pods once synced, and follows changes', async () => {
    const ovs = new FakeOvs();
    for (const [i, name] of ['v-web', 'v-client', 'v-batch'].entries()) ovs.addPort(name, { ofport: 10 + i });
    ovs.addPodPort('v-db', { namespace: 'data', name: 'db' }, 20);
    const { processor, source } = setup({ ovs, syncAtStart: false, config: { wait_for_sync: '0s' } });
    await processor.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(ovs.reads).toBe(0);
    source().sync();
    await until(() => ovs.mirrors.length === 1, 'the mirror is installed');
    expect(ovs.selectedPortNames(ovs.mirrors[0]!)).toEqual(['v-client', 'v-db', 'v-web']);

    source().state.upsertPod({ ...client, annotation: 'sideways' }, t0);
    await until(() => ovs.selectedPortNames(ovs.mirrors[0]!).length === 2, 'the invalid Pod is no longer mirrored');
    source().state.upsertNamespace({ name: 'shop', uid: 'ns-shop' }, t0);
    source().state.deletePod('data', 'db', undefined, t0);
    await until(() => ovs.mirrors.length === 0, 'no Pod is mirrored');
    await processor.shutdown();
  });
});
