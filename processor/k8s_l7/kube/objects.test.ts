import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/support/k8s-l7.js';
import { trimNamespace, trimPod, workloadOf } from './objects.js';

const annotation = 'visibility.antrea.io/l7-export';
const web = JSON.parse(fixture('pod-web.json')) as { spec: object; status: object; [key: string]: unknown };

describe('Kubernetes objects reduced to what l7flow keeps', () => {
  it("keeps a Pod's identity, addresses (canonical), labels, the opt-in value and its workload only", () => {
    expect(trimPod(web, { annotation, workloadLabel: '' })).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-7d9c6b5f4-x2k8q', namespace: 'shop', resourceVersion: '48213' },
      info: {
        name: 'web-7d9c6b5f4-x2k8q',
        namespace: 'shop',
        uid: '6b0e5a59-3c1f-4f44-9d3b-0f7e2f7f4a10',
        node: 'node-a',
        ips: ['10.10.1.5', 'fd00:10:1::5'],
        labels: { 'app.kubernetes.io/name': 'storefront', app: 'web', 'pod-template-hash': '7d9c6b5f4' },
        annotation: 'Ingress',
        hostNetwork: false,
        terminated: false,
        workload: 'web',
      },
    });
  });

  it('takes the workload from a label when one is configured', () => {
    expect(trimPod(web, { annotation, workloadLabel: 'app.kubernetes.io/name' })?.info.workload).toBe('storefront');
  });

  it.each([
    ['a StatefulSet Pod', [{ kind: 'StatefulSet', name: 'db', controller: true }], {}, 'db'],
    [
      'a ReplicaSet without the hash label',
      [{ kind: 'ReplicaSet', name: 'legacy-rs', controller: true }],
      {},
      'legacy-rs',
    ],
    ['a DaemonSet Pod', [{ kind: 'DaemonSet', name: 'agent', controller: true }], {}, 'agent'],
    ['a bare Pod', [], {}, undefined],
    [
      'the controller among several owners',
      [
        { kind: 'Foo', name: 'f' },
        { kind: 'Job', name: 'j', controller: true },
      ],
      {},
      'j',
    ],
  ])('workload of %s', (_name, owners, labels, expected) => {
    expect(workloadOf(labels, owners, '')).toBe(expected);
  });

  it('falls back to status.podIP, skips addresses it cannot parse', () => {
    const single = { ...web, status: { phase: 'Running', podIP: '10.10.1.6' } };
    expect(trimPod(single, { annotation, workloadLabel: '' })?.info.ips).toEqual(['10.10.1.6']);
    const bad = { ...web, status: { podIPs: [{ ip: 'not-an-ip' }, { ip: '10.10.1.7' }, {}] } };
    expect(trimPod(bad, { annotation, workloadLabel: '' })?.info.ips).toEqual(['10.10.1.7']);
  });

  it('marks host-network and finished Pods', () => {
    const host = { ...web, spec: { ...web.spec, hostNetwork: true } };
    expect(trimPod(host, { annotation, workloadLabel: '' })?.info.hostNetwork).toBe(true);
    for (const phase of ['Succeeded', 'Failed']) {
      const done = { ...web, status: { ...web.status, phase } };
      expect(trimPod(done, { annotation, workloadLabel: '' })?.info.terminated).toBe(true);
    }
  });

  it.each([
    ['no metadata', {}],
    ['no uid', { metadata: { name: 'x', namespace: 'y' } }],
    ['a name that is not a string', { metadata: { name: 7, namespace: 'y', uid: 'u' } }],
    ['not an object', 'pod'],
    ['null', null],
  ])('refuses a Pod with %s', (_name, object) => {
    expect(trimPod(object, { annotation, workloadLabel: '' })).toBeUndefined();
  });

  it("keeps a Namespace's name, uid and opt-in value", () => {
    const ns = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'shop',
        uid: 'u-1',
        resourceVersion: '7',
        labels: { team: 'a' },
        annotations: { [annotation]: 'both' },
      },
      status: { phase: 'Active' },
    };
    expect(trimNamespace(ns, { annotation })).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', resourceVersion: '7' },
      info: { name: 'shop', uid: 'u-1', annotation: 'both' },
    });
    expect(trimNamespace({ metadata: {} }, { annotation })).toBeUndefined();
  });
});
