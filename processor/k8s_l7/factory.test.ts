import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { createTestKit } from '../../test/support/components.js';

/** The k8s_l7 section as users write it, through the real config loader. */
function load(section: string, env: Record<string, string> = {}) {
  return parseConfig(
    `
receivers: { test_source: }
processors:
  k8s_l7: ${section}
exporters: { test_sink: }
service: { pipelines: { flows: { receivers: [test_source], processors: [k8s_l7], exporters: [test_sink] } } }
`,
    { factories: createTestKit().factories, env },
  );
}

describe('k8s_l7 configuration', () => {
  it('accepts the documented example, with ${env:NODE_NAME}', () => {
    const result = load(
      '{ node_name: "${env:NODE_NAME}", pods: kubernetes, mirror: { mode: ovsdb_mirror, bridge: br-int, target_port: antrea-l7-tap0 } }',
      { NODE_NAME: 'node-a' },
    );
    expect(result.ok).toBe(true);
    const config = result.ok ? (result.config.processors.get('k8s_l7')?.config as Record<string, unknown>) : {};
    expect(config).toMatchObject({
      node_name: 'node-a',
      annotation: 'visibility.antrea.io/l7-export',
      deleted_pod_grace: 60_000,
      wait_for_sync: 10_000,
      mirror: { resync_period: 30_000, cookie: '0x6c37666c6f77', port_external_id_keys: { name: 'pod-name' } },
    });
  });

  it('reports every problem with its path', () => {
    const result = load(
      '{ pods: file, node_name: Node_A, annotation: "bad key!", mirror: { mode: span, bridge: "br int", cookie: "0x0", resync_period: 10ms, ovs_vsctl_path: ovs-vsctl } }',
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      'processors.k8s_l7.node_name: must be a Kubernetes node name (got "Node_A")',
      'processors.k8s_l7.annotation: must be a Kubernetes annotation key such as example.com/name (got "bad key!")',
      'processors.k8s_l7.mirror.mode: must be one of ovsdb_mirror, openflow, none (got "span")',
      `processors.k8s_l7.mirror.bridge: must be a bridge name of letters, digits, '_', '.', ':' or '-' (got "br int")`,
      'processors.k8s_l7.mirror.cookie: must be 0x and 1-16 hex digits, not 0 (the cookie of flows nobody owns) (got "0x0")',
      'processors.k8s_l7.mirror.resync_period: must be at least 1s (got "10ms")',
      'processors.k8s_l7.mirror.ovs_vsctl_path: must be an absolute path (got "ovs-vsctl")',
    ]);
  });

  it.each([
    ['{ pods: file }', 'processors.k8s_l7.pods_file: is required when pods is file'],
    ['{ pods_file: /x.yaml }', 'processors.k8s_l7.pods_file: is only read when pods is file'],
    [
      '{ pods: file, pods_file: /x.yaml, kubeconfig: /k }',
      'processors.k8s_l7.kubeconfig: is only read when pods is kubernetes',
    ],
    [
      '{ mirror: { port_external_id_keys: { name: x, namespace: x } } }',
      'processors.k8s_l7.mirror.port_external_id_keys: name and namespace must differ',
    ],
    [
      '{ mirror: { target_port: "-x" } }',
      `processors.k8s_l7.mirror.target_port: must be a port name of letters, digits, '_', '.', ':' or '-' (got "-x")`,
    ],
  ])('%s: %s', (section, problem) => {
    const result = load(section);
    expect(!result.ok && result.problems).toEqual([problem]);
  });
});
