import { describe, expect, it } from 'vitest';
import { FakeOvs } from '../../../test/support/k8s-l7-fake-ovs.js';
import { mirrorSettings as settings } from '../../../test/support/k8s-l7-mirror-settings.js';
import type { MirrorCandidate } from '../cluster-state.js';
import { trimPod } from '../kube/objects.js';
import { changeCommands } from './commands.js';
import { planMirrors } from './plan.js';

/**
 * Text a Pod's author (or a compromised API server) controls, written to break out of an
 * ovs-vsctl argument (quotes, `--` separators) or of an ovs-ofctl flow line on stdin
 * (commas, newlines), or to look like an option.
 */
const hostileName = 'web"; --if-exists del-br br-int';
const hostileNamespace = '-shop\nadd table=0,priority=65535 actions=drop';
const hostileIp = '10.10.1.9,actions=drop\nadd table=0,priority=65535 actions=drop';

describe('names from Kubernetes and OVS command lines (docs/security.md)', () => {
  it.each(['ovsdb_mirror', 'openflow'] as const)(
    'a Pod with hostile names and addresses is mirrored by UUID, ofport and canonical IP only (%s)',
    async (mode) => {
      const trimmed = trimPod(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: hostileName,
            namespace: hostileNamespace,
            uid: 'b1c2',
            annotations: { 'visibility.antrea.io/l7-export': 'both' },
          },
          spec: { nodeName: 'node-a' },
          status: { phase: 'Running', podIPs: [{ ip: hostileIp }, { ip: '10.10.1.9' }] },
        },
        { annotation: 'visibility.antrea.io/l7-export', workloadLabel: '' },
      );
      expect(trimmed?.info.ips).toEqual(['10.10.1.9']);
      const info = trimmed!.info;
      const pod: MirrorCandidate = { namespace: info.namespace, name: info.name, ips: info.ips, direction: 'both' };

      // Antrea's CNI names the Pod in its port's external_ids: the plan matches on them there.
      const ovs = new FakeOvs();
      ovs.addPodPort('web-eth0', { namespace: hostileNamespace, name: hostileName }, 7);
      const plan = planMirrors([pod], await ovs.read(), settings(mode));
      expect(plan.desiredPods).toBe(1);
      const commands = changeCommands(plan.changes, settings(mode), 5);
      expect(commands.length).toBeGreaterThan(0);
      const text = commands.flatMap((c) => [...c.args, c.stdin ?? '']).join('\u0000');
      for (const fragment of [
        'del-br',
        'actions=drop',
        'priority=65535',
        hostileName,
        info.namespace,
        '\nadd table=0,',
      ])
        expect(text).not.toContain(fragment);
      if (mode === 'openflow') expect(text).toContain('ip,nw_dst=10.10.1.9');
    },
  );
});

describe('flow lines for ovs-ofctl (docs/security.md)', () => {
  it('refuses an address that is not canonical rather than write it into a flow line', async () => {
    const ovs = new FakeOvs();
    ovs.addPodPort('web-eth0', { namespace: 'shop', name: 'web-0' }, 7);
    const pod: MirrorCandidate = { namespace: 'shop', name: 'web-0', ips: [hostileIp], direction: 'both' };
    const plan = planMirrors([pod], await ovs.read(), settings('openflow'));
    expect(() => changeCommands(plan.changes, settings('openflow'), 5)).toThrow(/refusing to pass .* to ovs-ofctl/);
  });
});
