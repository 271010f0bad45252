import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, namespaceObject, podObject } from '../../../test/support/fake-kube-api.js';
import { realClockSettings } from '../../../test/support/k8s-l7.js';
import { until } from '../../../test/support/until.js';
import { metricValue } from '../../../test/support/settings.js';
import { ClusterState, type InvalidAnnotation } from '../cluster-state.js';
import { KubeSource } from './kube-source.js';

/**
 * The Kubernetes source driven through the real @kubernetes/client-node against a fake API
 * server that speaks list + watch over HTTP.
 */

let api: FakeKubeApi;
let dir: string;
let running: KubeSource[] = [];

beforeEach(async () => {
  api = await FakeKubeApi.start();
  dir = await mkdtemp(join(tmpdir(), 'l7k8s-kube-'));
});

afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

const annotation = 'visibility.antrea.io/l7-export';

async function startSource(options: { postEvents?: boolean } = {}) {
  const { settings, telemetry, logger } = realClockSettings('k8s_l7');
  const invalid: InvalidAnnotation[] = [];
  let source: KubeSource | undefined = undefined;
  const state = new ClusterState({
    graceUs: 60_000_000,
    maxPods: 100,
    onInvalid: (report) => {
      invalid.push(report);
      source?.report(report);
    },
  });
  source = new KubeSource(
    settings,
    {
      nodeName: 'node-a',
      annotation,
      workloadLabel: '',
      kubeconfig: await api.kubeconfigFile(dir),
      postEvents: options.postEvents ?? true,
      backoff: { initialMs: 20, maxMs: 200 },
    },
    state,
  );
  running.push(source);
  await source.start();
  return { source, state, telemetry, logger, invalid };
}

const now = () => Date.now() * 1000;
const podNames = (state: ClusterState) =>
  state
    .mirrorCandidates()
    .map((c) => c.name)
    .sort();

describe('kubernetes source', () => {
  it("lists this node's Pods and every Namespace, then follows the watch", async () => {
    api.apply('namespaces', namespaceObject('shop', { [annotation]: 'both' }));
    api.apply('pods', podObject({ name: 'web', namespace: 'shop', node: 'node-a', ips: ['10.1.0.2'] }));
    api.apply('pods', podObject({ name: 'elsewhere', namespace: 'shop', node: 'node-b', ips: ['10.2.0.9'] }));
    const { source, state } = await startSource();
    await source.whenSynced();
    expect(source.synced).toBe(true);
    expect(state.resolve('10.1.0.2', now())?.name).toBe('web');
    expect(state.resolve('10.2.0.9', now())).toBeUndefined();

    for (const request of api.requestsFor('pods')) expect(request.query.fieldSelector).toBe('spec.nodeName=node-a');
    expect(api.requestsFor('namespaces', 'list')).toHaveLength(1);
    await until(() => api.openWatches === 2, 'both watches are open');
    expect(api.requestsFor('pods', 'watch')[0]?.query).toMatchObject({ allowWatchBookmarks: 'true' });

    api.apply('pods', podObject({ name: 'api', namespace: 'shop', node: 'node-a', ips: ['10.1.0.3'] }));
    await until(() => state.resolve('10.1.0.3', now())?.name === 'api', 'the new Pod is seen');
    api.update('pods', 'shop', 'api', (p) => ({ ...p, metadata: { ...p.metadata, labels: { tier: 'backend' } } }));
    await until(() => state.resolve('10.1.0.3', now())?.labels.tier === 'backend', 'the label change is seen');
    api.delete('pods', 'shop', 'web');
    await until(() => !podNames(state).includes('web'), 'the deletion is seen');
    expect(podNames(state)).toEqual(['api']);
  });

  it('sees a Pod bound to this node later (it starts matching the field selector) as added', async () => {
    api.apply('namespaces', namespaceObject('shop', { [annotation]: 'ingress' }));
    api.apply('pods', podObject({ name: 'late', namespace: 'shop', node: '' }));
    const { source, state } = await startSource();
    await source.whenSynced();
    expect(podNames(state)).toEqual([]);
    api.update('pods', 'shop', 'late', (p) => ({ ...p, spec: { ...(p.spec as object), nodeName: 'node-a' } }));
    await until(() => podNames(state).includes('late'), 'the bound Pod is seen');
    // And its IP, which the kubelet reports after the CNI has run.
    api.update('pods', 'shop', 'late', (p) => ({ ...p, status: { phase: 'Running', podIPs: [{ ip: '10.1.0.7' }] } }));
    await until(() => state.resolve('10.1.0.7', now())?.l7Export === 'ingress', 'its IP resolves');
  });

  it('re-lists after 410 Gone and applies what it missed, deletions included', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    api.apply('pods', podObject({ name: 'gone', namespace: 'shop', node: 'node-a', ips: ['10.1.0.4'] }));
    const { source, state, telemetry } = await startSource();
    await source.whenSynced();
    await until(() => api.openWatches === 2, 'both watches are open');
    // Hold the watches down while the world changes, then forget the history.
    api.failNext({ watch: true, status: 503, count: 2 });
    api.dropWatches();
    api.delete('pods', 'shop', 'gone');
    api.apply('pods', podObject({ name: 'new', namespace: 'shop', node: 'node-a', ips: ['10.1.0.5'] }));
    api.compact();
    await until(() => state.resolve('10.1.0.5', now())?.name === 'new', 'the missed Pod is seen', 5000);
    expect(state.stats.pods).toBe(1);
    expect(api.requestsFor('pods', 'list').length).toBeGreaterThanOrEqual(2);
    expect(await metricValue(telemetry, 'l7flow_k8s_watch_restarts_total', { resource: 'pods' })).toBeGreaterThan(0);
  });

  it('re-lists when an open watch is told its version expired (ERROR 410)', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    const { source, state } = await startSource();
    await source.whenSynced();
    await until(() => api.openWatches === 2, 'both watches are open');
    const lists = api.requestsFor('pods', 'list').length;
    api.expireWatches();
    await until(() => api.requestsFor('pods', 'list').length === lists + 1, 'pods are listed again');
    await until(() => api.openWatches === 2, 'the watches are back');
    api.apply('pods', podObject({ name: 'after', namespace: 'shop', node: 'node-a', ips: ['10.1.0.6'] }));
    await until(() => state.resolve('10.1.0.6', now())?.name === 'after', 'changes flow again');
  });

  it('resumes from a BOOKMARK version after a clean close, without re-listing', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    const { source } = await startSource();
    await source.whenSynced();
    await until(() => api.openWatches === 2, 'both watches are open');
    // Changes this watch does not see (another node) move the version on.
    for (let i = 0; i < 5; i++) api.apply('pods', podObject({ name: `other-${i}`, namespace: 'shop', node: 'node-b' }));
    const watchesBefore = api.requestsFor('pods', 'watch').length;
    api.bookmark();
    const bookmarked = api.resourceVersion;
    await new Promise((r) => setTimeout(r, 50));
    api.compact();
    api.closeWatches();
    await until(() => api.requestsFor('pods', 'watch').length > watchesBefore, 'the pods watch reconnects');
    expect(api.requestsFor('pods', 'watch').at(-1)?.query.resourceVersion).toBe(bookmarked);
    expect(api.requestsFor('pods', 'list')).toHaveLength(1);
  });

  it('restarts with backoff after the list fails with 500, and syncs then', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    api.failNext({ method: 'GET', path: /\/pods$/, watch: false, status: 500, count: 2 });
    const { source, telemetry, logger } = await startSource();
    await source.whenSynced();
    expect(api.requestsFor('pods', 'list')).toHaveLength(3);
    expect(
      await metricValue(telemetry, 'l7flow_k8s_watch_restarts_total', { resource: 'pods', reason: 'http_500' }),
    ).toBe(2);
    const warnings = logger.lines.filter((l) => l.msg === 'kubernetes watch failed; restarting');
    expect(warnings.map((l) => l.retryInMs)).toEqual([20, 40]);
  });

  it('is not synced until the Namespaces are listed too', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    api.failNext({ method: 'GET', path: /\/namespaces$/, watch: false, status: 500, count: 1000 });
    const { source, state } = await startSource();
    await until(() => api.requestsFor('pods', 'watch').length > 0, 'pods are listed');
    expect(source.synced).toBe(false);
    expect(state.stats.namespaces).toBe(0);
    api.clearFaults();
    await source.whenSynced();
    expect(source.synced).toBe(true);
  });

  it('resumes after the watch connection is cut, without re-listing', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    const { source, state } = await startSource();
    await source.whenSynced();
    await until(() => api.openWatches === 2, 'both watches are open');
    api.dropWatches();
    api.apply('pods', podObject({ name: 'meanwhile', namespace: 'shop', node: 'node-a', ips: ['10.1.0.8'] }));
    await until(() => state.resolve('10.1.0.8', now()) !== undefined, 'the change made while cut off arrives');
    expect(api.requestsFor('pods', 'list')).toHaveLength(1);
  });

  it('restarts after a watch request fails with 500', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    api.failNext({ path: /\/pods$/, watch: true, status: 500, count: 1 });
    const { source, state, telemetry } = await startSource();
    await source.whenSynced();
    await until(() => api.openWatches === 2, 'the pods watch is open');
    api.apply('pods', podObject({ name: 'x', namespace: 'shop', node: 'node-a', ips: ['10.1.0.9'] }));
    await until(() => state.resolve('10.1.0.9', now()) !== undefined, 'events flow');
    expect(
      await metricValue(telemetry, 'l7flow_k8s_watch_restarts_total', { resource: 'pods', reason: 'http_500' }),
    ).toBe(1);
  });

  it('posts one Warning Event per invalid value, on the Pod or the Namespace', async () => {
    api.apply('namespaces', namespaceObject('shop'));
    api.apply(
      'pods',
      podObject({ name: 'web', namespace: 'shop', node: 'node-a', annotations: { [annotation]: 'in' } }),
    );
    const { source, telemetry } = await startSource();
    await source.whenSynced();
    await until(() => api.events.length === 1, 'one event is posted');
    const [first] = api.events;
    expect(first).toMatchObject({
      type: 'Warning',
      reason: 'InvalidL7ExportAnnotation',
      involvedObject: {
        kind: 'Pod',
        namespace: 'shop',
        name: 'web',
        uid: api.get('pods', 'shop', 'web')?.metadata.uid,
      },
      metadata: { namespace: 'shop' },
      source: { component: 'l7flow', host: 'node-a' },
    });
    expect(first?.message).toContain('"in"');

    // Another change to the Pod, same invalid value: no second Event.
    api.update('pods', 'shop', 'web', (p) => ({ ...p, metadata: { ...p.metadata, labels: { v: '2' } } }));
    // A new invalid value, and an invalid Namespace value: one Event each.
    api.update('pods', 'shop', 'web', (p) => ({
      ...p,
      metadata: { ...p.metadata, annotations: { [annotation]: 'outbound' } },
    }));
    api.update('namespaces', undefined, 'shop', (n) => ({
      ...n,
      metadata: { ...n.metadata, annotations: { [annotation]: 'all' } },
    }));
    await until(() => api.events.length === 3, 'three events are posted');
    await new Promise((r) => setTimeout(r, 50));
    expect(api.events).toHaveLength(3);
    // Pods and Namespaces are separate watches: their Events may come in either order.
    const about = (kind: string) => api.events.filter((e) => (e.involvedObject as { kind: string }).kind === kind);
    expect(about('Pod').map((e) => e.message)).toEqual([
      expect.stringContaining('"in"'),
      expect.stringContaining('"outbound"'),
    ]);
    expect(about('Namespace')).toMatchObject([
      { involvedObject: { kind: 'Namespace', name: 'shop' }, metadata: { namespace: 'default' } },
    ]);
    expect(await metricValue(telemetry, 'l7flow_k8s_events_total', { result: 'posted' })).toBe(3);
  });

  it('refuses to start without a readable kubeconfig', async () => {
    const { settings } = realClockSettings('k8s_l7');
    const state = new ClusterState({ graceUs: 0, maxPods: 1 });
    const options = { nodeName: '', annotation, workloadLabel: '', postEvents: false };
    const missing = new KubeSource(settings, { ...options, kubeconfig: join(dir, 'missing.yaml') }, state);
    await expect(missing.start()).rejects.toThrow(/kubeconfig .*missing\.yaml/);
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      await expect(new KubeSource(settings, { ...options, kubeconfig: '' }, state).start()).rejects.toThrow(
        /in a cluster/,
      );
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });
});
