import { describe, expect, it } from 'vitest';
import { pod } from '../../test/support/k8s-l7.js';
import { ClusterState, type InvalidAnnotation, type NamespaceInfo } from './cluster-state.js';

/**
 * The opt-in semantics, level-triggered, as event sequences. Each case named "Antrea ..."
 * reproduces a defect of Antrea's L7FlowExporterController (reference/antrea.md §2, §12.10)
 * and shows it does not exist here.
 */

const t0 = 1_764_158_400_000_000;
const shop = (annotation?: string): NamespaceInfo => ({
  name: 'shop',
  uid: 'ns-uid-shop',
  ...(annotation === undefined ? {} : { annotation }),
});

function setup(maxPods = 100) {
  const reports: InvalidAnnotation[] = [];
  const refused: string[] = [];
  let changes = 0;
  const state = new ClusterState({
    graceUs: 30_000_000,
    maxPods,
    onChange: () => changes++,
    onInvalid: (r) => reports.push(r),
    onRefused: (p) => refused.push(p.name),
  });
  const mirrored = (): Record<string, string> =>
    Object.fromEntries(
      state
        .mirrorCandidates()
        .map((c): [string, string] => [c.name, c.direction])
        .sort(),
    );
  return { state, reports, refused, mirrored, changes: () => changes };
}

describe('opt-in semantics', () => {
  it('a Pod annotated ingress is mirrored (both directions at the port: the direction only filters L7)', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop(), t0);
    state.upsertPod(pod('web', { ips: ['10.1.0.2'], annotation: 'ingress' }), t0);
    expect(mirrored()).toEqual({ web: 'ingress' });
    expect(state.resolve('10.1.0.2', t0)).toEqual({
      name: 'web',
      namespace: 'shop',
      uid: 'uid-web',
      node: 'node-a',
      labels: {},
      l7Export: 'ingress',
    });
  });

  it('Antrea: a Pod created later in an annotated Namespace, without an IP at first, is covered', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop('both'), t0);
    state.upsertPod(pod('late'), t0 + 1);
    expect(mirrored()).toEqual({ late: 'both' });
    expect(state.resolve('10.1.0.9', t0 + 2)).toBeUndefined();
    state.upsertPod(pod('late', { ips: ['10.1.0.9'] }), t0 + 3);
    expect(state.resolve('10.1.0.9', t0 + 3)?.l7Export).toBe('both');
  });

  it('Antrea: a Pod with its own annotation seen before its Namespace is not dropped', () => {
    const { state, mirrored } = setup();
    state.upsertPod(pod('web', { ips: ['10.1.0.2'], annotation: 'egress' }), t0);
    expect(mirrored()).toEqual({ web: 'egress' });
  });

  it('a Pod seen before its annotated Namespace is covered once the Namespace arrives', () => {
    const { state, mirrored } = setup();
    state.upsertPod(pod('web', { ips: ['10.1.0.2'] }), t0);
    expect(mirrored()).toEqual({});
    state.upsertNamespace(shop('ingress'), t0 + 1);
    expect(mirrored()).toEqual({ web: 'ingress' });
    expect(state.resolve('10.1.0.2', t0 + 1)?.l7Export).toBe('ingress');
  });

  it('Antrea: going from a valid to an invalid value stops the mirroring (and is reported)', () => {
    const { state, mirrored, reports } = setup();
    state.upsertNamespace(shop(), t0);
    state.upsertPod(pod('web', { ips: ['10.1.0.2'], annotation: 'both' }), t0);
    state.upsertPod(pod('web', { ips: ['10.1.0.2'], annotation: 'bothh' }), t0 + 1);
    expect(mirrored()).toEqual({});
    expect(state.resolve('10.1.0.2', t0 + 1)?.l7Export).toBeUndefined();
    expect(reports).toEqual([{ kind: 'Pod', namespace: 'shop', name: 'web', uid: 'uid-web', value: 'bothh' }]);
  });

  it('Antrea (deliberately kept): an invalid Pod value overrides a valid Namespace value, turning the Pod off', () => {
    const { state, mirrored, reports } = setup();
    state.upsertNamespace(shop('both'), t0);
    state.upsertPod(pod('web', { annotation: 'foo' }), t0);
    state.upsertPod(pod('api'), t0);
    // A typo on the Pod must not widen capture to what the Namespace allows; it is reported.
    expect(mirrored()).toEqual({ api: 'both' });
    expect(reports.map((r) => `${r.kind} ${r.name} ${r.value}`)).toEqual(['Pod web foo']);
    expect(state.optInCounts).toEqual({ ingress: 0, egress: 0, both: 1, invalid: 1 });
  });

  it('an invalid Namespace value is reported once, on the Namespace, and turns off the Pods that inherit it', () => {
    const { state, mirrored, reports } = setup();
    state.upsertPod(pod('inherits'), t0);
    state.upsertPod(pod('own', { annotation: 'egress' }), t0);
    state.upsertNamespace(shop('everything'), t0);
    expect(mirrored()).toEqual({ own: 'egress' });
    expect(reports).toEqual([
      { kind: 'Namespace', namespace: '', name: 'shop', uid: 'ns-uid-shop', value: 'everything' },
    ]);
  });

  it('reports an invalid value once per change: not again for the same value, again for a new one', () => {
    const { state, reports } = setup();
    state.upsertNamespace(shop(), t0);
    const value = (annotation: string | undefined, labels = {}) =>
      state.upsertPod(pod('web', { labels, ...(annotation === undefined ? {} : { annotation }) }), t0);
    value('in');
    value('in', { v: '2' });
    value('out');
    value('ingress');
    value('out');
    value(undefined);
    value('out');
    expect(reports.map((r) => r.value)).toEqual(['in', 'out', 'out', 'out']);
  });

  it('Antrea: a Pod that terminates stops being mirrored and releases its IP', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop('both'), t0);
    state.upsertPod(pod('job', { ips: ['10.1.0.5'] }), t0);
    state.upsertPod(pod('job', { ips: ['10.1.0.5'], terminated: true }), t0 + 10);
    expect(mirrored()).toEqual({});
    // A new Pod given the released address owns it from then on; earlier records stay the job's.
    state.upsertPod(pod('next', { ips: ['10.1.0.5'] }), t0 + 20);
    expect(state.resolve('10.1.0.5', t0 + 5)?.name).toBe('job');
    expect(state.resolve('10.1.0.5', t0 + 25)?.name).toBe('next');
  });

  it('Antrea: a Pod re-created under the same name is a new Pod (new uid, new address, new port)', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop('ingress'), t0);
    state.upsertPod(pod('web-0', { uid: 'first', ips: ['10.1.0.2'] }), t0);
    // The delete and the re-add can reach us as one update (or out of order): same name, new uid.
    state.upsertPod(pod('web-0', { uid: 'second', ips: ['10.1.0.3'] }), t0 + 100);
    expect(mirrored()).toEqual({ 'web-0': 'ingress' });
    expect(state.resolve('10.1.0.2', t0 + 50)?.uid).toBe('first');
    expect(state.resolve('10.1.0.3', t0 + 150)?.uid).toBe('second');
    // A late delete of the first one does not remove the second.
    state.deletePod('shop', 'web-0', 'first', t0 + 200);
    expect(mirrored()).toEqual({ 'web-0': 'ingress' });
  });

  it('Antrea: deleting a Namespace takes back what its Pods inherited', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop('both'), t0);
    state.upsertPod(pod('inherits'), t0);
    state.upsertPod(pod('own', { annotation: 'ingress' }), t0);
    state.deleteNamespace('shop', t0 + 1);
    expect(mirrored()).toEqual({ own: 'ingress' });
  });

  it('a Namespace value change moves the Pods that inherit it, not those with their own', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop('ingress'), t0);
    state.upsertPod(pod('inherits', { ips: ['10.1.0.2'] }), t0);
    state.upsertPod(pod('own', { annotation: 'both' }), t0);
    state.upsertNamespace(shop('egress'), t0 + 1);
    expect(mirrored()).toEqual({ inherits: 'egress', own: 'both' });
    expect(state.resolve('10.1.0.2', t0 + 1)?.l7Export).toBe('egress');
  });

  it('never mirrors or indexes host-network Pods (they share the node address)', () => {
    const { state, mirrored } = setup();
    state.upsertNamespace(shop('both'), t0);
    state.upsertPod(pod('agent', { ips: ['192.168.1.10'], hostNetwork: true, annotation: 'both' }), t0);
    expect(mirrored()).toEqual({});
    expect(state.resolve('192.168.1.10', t0)).toBeUndefined();
  });

  it('deleted Pods still resolve for the grace period, not after', () => {
    const { state } = setup();
    state.upsertPod(pod('web', { ips: ['10.1.0.2'] }), t0);
    state.deletePod('shop', 'web', undefined, t0 + 1_000_000);
    state.sweep(t0 + 30_999_999);
    expect(state.resolve('10.1.0.2', t0 + 500_000)?.name).toBe('web');
    state.sweep(t0 + 31_000_000);
    expect(state.resolve('10.1.0.2', t0 + 500_000)).toBeUndefined();
  });

  it('asks for a reconcile only when what is mirrored may change', () => {
    const { state, changes } = setup();
    state.upsertNamespace(shop('both'), t0);
    const base = changes();
    state.upsertPod(pod('web', { ips: ['10.1.0.2'] }), t0);
    state.upsertPod(pod('web', { ips: ['10.1.0.2'], labels: { v: '2' } }), t0);
    state.upsertPod(pod('plain', { namespace: 'other' }), t0);
    expect(changes() - base).toBe(1);
    state.upsertPod(pod('web', { ips: ['10.1.0.2', 'fd00::2'], labels: { v: '2' } }), t0);
    expect(changes() - base).toBe(2);
  });

  it('holds at most max_pods, refusing (and reporting) the rest', () => {
    const { state, refused } = setup(2);
    for (const name of ['a', 'b', 'c']) state.upsertPod(pod(name, { ips: [`10.1.0.${name.charCodeAt(0)}`] }), t0);
    expect(state.stats.pods).toBe(2);
    expect(refused).toEqual(['c']);
    // Updates of held Pods are never refused.
    state.upsertPod(pod('a', { labels: { v: '2' } }), t0);
    expect(refused).toEqual(['c']);
  });

  it('replaces everything from a reloaded file: missing Pods and Namespaces are deleted', () => {
    const { state, mirrored } = setup();
    state.replaceAll([pod('a', { annotation: 'both' }), pod('b')], [shop('ingress')], t0);
    expect(mirrored()).toEqual({ a: 'both', b: 'ingress' });
    state.replaceAll([pod('b')], [], t0 + 1);
    expect(mirrored()).toEqual({});
    expect(state.stats).toMatchObject({ pods: 1, namespaces: 0 });
  });
});
