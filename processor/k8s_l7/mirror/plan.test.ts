import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeOvs } from '../../../test/support/k8s-l7-fake-ovs.js';
import { fixture } from '../../../test/support/k8s-l7.js';
import type { MirrorCandidate } from '../cluster-state.js';
import { parseFlowDump } from './flows.js';
import { parseOvsdbSnapshot } from './ovsdb-json.js';
import { planCleanup, planMirrors, type MirrorSettings, type OvsState } from './plan.js';
import { mirrorSettings } from '../../../test/support/k8s-l7-mirror-settings.js';

/** The captured switch (see test/fixtures/k8s_l7/README.md), with its port UUIDs. */
const ovsdb = parseOvsdbSnapshot(fixture('ovsdb-snapshot.jsonl'));
const flows = parseFlowDump(fixture('dump-flows-ours.txt'));
const port = (name: string) => [...ovsdb.ports.values()].find((p) => p.name === name)?.uuid ?? '';
const ourMirror = '03dd291b-1858-440b-9aac-18a62f592293';
const spanMirror = 'e032fe1e-aa44-42db-ad60-ce8e08d53bbe';
const bridge = '5a02cc83-93da-4a93-8fac-ba255f8cc1e9';
const captured: OvsState = { ovsdb, flows, targetNoFlood: true };

const candidate = (namespace: string, name: string, ips: string[] = [], ovsPort?: string): MirrorCandidate => ({
  namespace,
  name,
  ips,
  direction: 'ingress',
  ...(ovsPort === undefined ? {} : { ovsPort }),
});
const web = candidate('shop', 'web-0', ['10.10.0.11', 'fd00:10::11']);
const api = candidate('shop', 'api-0', ['10.10.0.12']);

describe('mirror plan, ovsdb_mirror mode', () => {
  it("updates l7flow's Mirror row to select every opted-in Pod's port both ways; leaves others' rows", () => {
    const plan = planMirrors([web, api], captured, mirrorSettings('ovsdb_mirror'));
    expect(plan.changes).toEqual([
      {
        op: 'update-mirror',
        uuid: ourMirror,
        ports: [port('api-0'), port('web-0')].sort(),
        output: port('antrea-l7-tap0'),
      },
      // Flows under our cookie belong to the other mode: switching modes removes them.
      { op: 'delete-flows', flows },
    ]);
    expect(plan.changes.some((c) => 'uuid' in c && c.uuid === spanMirror)).toBe(false);
    expect(plan).toMatchObject({ desiredPods: 2, installedPods: 1, withoutPort: [], problems: [] });
  });

  it('finds ports by the interface external_ids on this bridge only, or by the port name given', () => {
    const fromFile = candidate('shop', 'file-pod', [], 'spare');
    const unknown = candidate('shop', 'nowhere');
    const plan = planMirrors([web, fromFile, unknown], captured, mirrorSettings('ovsdb_mirror'));
    // web-0-elsewhere carries the same labels but is on br-other.
    expect(plan.changes[0]).toMatchObject({ ports: [port('spare'), port('web-0')].sort() });
    expect(plan.withoutPort).toEqual([unknown]);
  });

  it('creates the row when it is missing, owner-marked', () => {
    const state: OvsState = { ...captured, ovsdb: { ...ovsdb, bridge: { ...ovsdb.bridge!, mirrors: [spanMirror] } } };
    expect(planMirrors([web], state, mirrorSettings('ovsdb_mirror')).changes[0]).toEqual({
      op: 'create-mirror',
      bridge,
      name: 'l7flow',
      ports: [port('web-0')],
      output: port('antrea-l7-tap0'),
    });
  });

  it('deletes only its own row when no Pod is opted in any more (a valid value turned invalid)', () => {
    const plan = planMirrors([], captured, mirrorSettings('ovsdb_mirror'));
    expect(plan.changes).toEqual([
      { op: 'delete-mirror', bridge, uuid: ourMirror },
      { op: 'delete-flows', flows },
    ]);
  });

  it('does nothing when already in sync', () => {
    const state: OvsState = { ...captured, flows: [] };
    expect(planMirrors([web], state, mirrorSettings('ovsdb_mirror')).changes).toEqual([]);
    expect(planMirrors([web], state, mirrorSettings('ovsdb_mirror')).installedPods).toBe(1);
  });

  it('reports a missing target port, a missing bridge and a name taken by someone else', () => {
    const noTarget: OvsState = {
      ...captured,
      flows: [],
      ovsdb: {
        ...ovsdb,
        bridge: { ...ovsdb.bridge!, ports: ovsdb.bridge!.ports.filter((p) => p !== port('antrea-l7-tap0')) },
      },
    };
    const missing = planMirrors([web, api], noTarget, mirrorSettings('ovsdb_mirror'));
    expect(missing.problems.map((p) => p.reason)).toEqual(['target_port_missing']);
    expect(missing.problems[0]?.message).toContain('"antrea-l7-tap0"');
    expect(missing.changes).toEqual([]);

    const noBridge = planMirrors(
      [web],
      { ovsdb: parseOvsdbSnapshot(fixture('ovsdb-snapshot-no-bridge.jsonl')), flows: [] },
      mirrorSettings('ovsdb_mirror'),
    );
    expect(noBridge.problems.map((p) => p.reason)).toEqual(['bridge_missing']);

    const taken = planMirrors(
      [web],
      { ...captured, flows: [] },
      { ...mirrorSettings('ovsdb_mirror'), mirrorName: 'span' },
    );
    expect(taken.problems.map((p) => p.reason)).toEqual(['mirror_name_taken']);
    // The old l7flow row is not "span"'s: left alone too, since it is not ours under this name.
    expect(taken.changes).toEqual([]);
  });

  it('follows a Pod re-created with the same name to its new port', () => {
    const fake = new FakeOvs();
    fake.addPodPort('web-0-a', { namespace: 'shop', name: 'web-0' }, 11);
    return (async () => {
      await fake.apply(planMirrors([web], await fake.read(), mirrorSettings('ovsdb_mirror')).changes);
      fake.removePort('web-0-a');
      fake.addPodPort('web-0-b', { namespace: 'shop', name: 'web-0' }, 12);
      const plan = planMirrors([web], await fake.read(), mirrorSettings('ovsdb_mirror'));
      expect(plan.changes).toEqual([
        expect.objectContaining({ op: 'update-mirror', ports: [fake.portNamed('web-0-b')?.uuid] }),
      ]);
    })();
  });
});

describe('mirror plan, openflow mode', () => {
  it('copies both directions of each Pod to the target: in_port and every IP, NORMAL after', () => {
    const plan = planMirrors([web, api], captured, mirrorSettings('openflow'));
    const rule = (match: string) => ({ table: 0, priority: 200, match, actions: 'output:3,NORMAL' });
    expect(plan.changes).toEqual([
      { op: 'delete-mirror', bridge, uuid: ourMirror },
      // The table-5 rule is ours but no longer wanted (table changed in the config).
      { op: 'delete-flows', flows: [{ table: 5, priority: 150, match: 'in_port=12', actions: 'output:3,NORMAL' }] },
      { op: 'add-flows', flows: [rule('in_port=12'), rule('ip,nw_dst=10.10.0.12')] },
    ]);
    expect(plan).toMatchObject({ desiredPods: 2, installedPods: 1 });
  });

  it('uses the configured table and priority, and re-adds a rule whose actions changed', () => {
    const moved = { ...mirrorSettings('openflow'), table: 5, priority: 150 };
    const plan = planMirrors(
      [candidate('shop', 'api-0')],
      { ...captured, flows: [{ ...flows[1]!, actions: 'output:9,NORMAL' }] },
      moved,
    );
    expect(plan.changes).toContainEqual({
      op: 'add-flows',
      flows: [{ table: 5, priority: 150, match: 'in_port=12', actions: 'output:3,NORMAL' }],
    });
  });

  it('sets no-flood on the target when a restarted ovs-vswitchd lost it', () => {
    const plan = planMirrors([web], { ...captured, flows: [], targetNoFlood: false }, mirrorSettings('openflow'));
    expect(plan.changes.at(-1)).toEqual({ op: 'set-no-flood', port: 'antrea-l7-tap0' });
  });

  it('removes everything of its own at cleanup, nothing else', () => {
    expect(planCleanup(captured, mirrorSettings('openflow'))).toEqual([
      { op: 'delete-mirror', bridge, uuid: ourMirror },
      { op: 'delete-flows', flows },
    ]);
  });
});

describe('mirror plan, level-triggered', () => {
  it('leaves nothing to do once applied, whatever the starting state, Pods and mode', async () => {
    const pods = ['a', 'b', 'c', 'd', 'e'];
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(pods),
        fc.subarray(pods),
        fc.constantFrom<MirrorSettings['mode']>('ovsdb_mirror', 'openflow'),
        fc.constantFrom<MirrorSettings['mode']>('ovsdb_mirror', 'openflow'),
        fc.boolean(),
        async (before, after, firstMode, secondMode, restart) => {
          const fake = new FakeOvs();
          pods.forEach((name, i) => fake.addPodPort(`v-${name}`, { namespace: 'ns', name }, 10 + i));
          const candidates = (names: string[]) =>
            names.map((name, i) => candidate('ns', name, [`10.0.0.${i + 1}`, `fd00::${i + 1}`]));
          await fake.apply(planMirrors(candidates(before), await fake.read(), mirrorSettings(firstMode)).changes);
          if (restart) fake.restartVswitchd();
          const plan = planMirrors(candidates(after), await fake.read(), mirrorSettings(secondMode));
          await fake.apply(plan.changes);
          const again = planMirrors(candidates(after), await fake.read(), mirrorSettings(secondMode));
          expect(again.changes).toEqual([]);
          expect(again.installedPods).toBe(after.length);
          const mirrored = fake.mirrors.flatMap((m) => fake.selectedPortNames(m));
          expect(mirrored).toEqual(secondMode === 'ovsdb_mirror' ? after.map((n) => `v-${n}`).sort() : []);
          expect(fake.flows.length).toBe(secondMode === 'openflow' ? after.length * 3 : 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
