import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/support/k8s-l7.js';
import { parsePodsFile } from './parse.js';

const annotation = 'visibility.antrea.io/l7-export';

describe('pods file', () => {
  it('reads Pods and Namespaces, with defaults for what is left out', () => {
    const result = parsePodsFile(fixture('pods.yaml'), annotation);
    expect(result).toEqual({
      ok: true,
      namespaces: [
        { name: 'shop', uid: 'shop', annotation: 'ingress' },
        { name: 'tools', uid: 'tools' },
      ],
      pods: [
        {
          name: 'web-0',
          namespace: 'shop',
          uid: 'shop/web-0',
          node: 'node-a',
          ips: ['10.10.0.2', 'fd00:10::2'],
          labels: { app: 'web' },
          hostNetwork: false,
          terminated: false,
          workload: 'web',
          ovsPort: 'v-web0',
        },
        {
          name: 'client-0',
          namespace: 'tools',
          uid: 'tools/client-0',
          node: 'node-a',
          ips: ['10.10.0.1'],
          labels: { app: 'curl' },
          annotation: 'egress',
          hostNetwork: false,
          terminated: false,
          ovsPort: 'v-client0',
        },
        {
          name: 'batch-0',
          namespace: 'tools',
          uid: 'tools/batch-0',
          node: 'node-a',
          ips: ['10.10.0.3'],
          labels: {},
          hostNetwork: false,
          terminated: false,
        },
      ],
    });
  });

  it('reads JSON too, and an empty file as no Pods', () => {
    expect(parsePodsFile('{"pods": [{"name": "a", "ips": ["fd00:0:0::1"]}]}', annotation)).toMatchObject({
      ok: true,
      pods: [{ name: 'a', namespace: 'default', ips: ['fd00::1'] }],
    });
    expect(parsePodsFile('', annotation)).toEqual({ ok: true, pods: [], namespaces: [] });
  });

  it('reports every problem with its path', () => {
    const text = [
      'pods:',
      '  - name: a',
      '    ips: [10.0.0.300]',
      '  - name: b',
      '    labels: { v: 2 }',
      '  - namespace: x',
      '    lables: { a: b }',
    ].join('\n');
    const result = parsePodsFile(text, annotation);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      'pods[0].ips[0]: not an IP address: "10.0.0.300"',
      'pods[1].labels.v: must be a string (got 2)',
      'pods[2].name: is required',
      'pods[2].lables: unknown key (did you mean "labels"?); allowed keys: name, namespace, uid, node, ips, labels, annotations, host_network, workload, ovs_port',
    ]);
  });

  it('refuses a Pod listed twice and an address held by two Pods', () => {
    const text = 'pods: [{name: a, ips: [10.0.0.1]}, {name: a}, {name: b, ips: [10.0.0.1]}]';
    const result = parsePodsFile(text, annotation);
    expect(!result.ok && result.problems).toEqual([
      'pods[1]: default/a is listed twice',
      "pods[2].ips: 10.0.0.1 is also default/a's",
    ]);
  });

  it('reports YAML syntax errors', () => {
    const result = parsePodsFile('pods: [unclosed', annotation);
    expect(result.ok).toBe(false);
  });
});
