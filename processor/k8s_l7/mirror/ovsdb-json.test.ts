import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/support/k8s-l7.js';
import { OvsOutputError, parseOvsdbSnapshot } from './ovsdb-json.js';

const portNamed = (snapshot: ReturnType<typeof parseOvsdbSnapshot>, name: string) =>
  [...snapshot.ports.values()].find((p) => p.name === name);

describe('OVSDB snapshot from ovs-vsctl --format=json', () => {
  const snapshot = parseOvsdbSnapshot(fixture('ovsdb-snapshot.jsonl'));

  it('reads the bridge with its ports and mirrors', () => {
    expect(snapshot.bridge?.name).toBe('br-int');
    expect(snapshot.bridge?.uuid).toBe('5a02cc83-93da-4a93-8fac-ba255f8cc1e9');
    // web-0, api-0, db-0, gone-0, antrea-l7-tap0, spare and the bridge's own port.
    expect(snapshot.bridge?.ports).toHaveLength(7);
    expect(snapshot.bridge?.mirrors).toHaveLength(2);
    // Port rows of every bridge are listed; the plan keeps those of this bridge.
    expect(portNamed(snapshot, 'web-0-elsewhere')).toBeDefined();
    expect(snapshot.bridge?.ports).not.toContain(portNamed(snapshot, 'web-0-elsewhere')?.uuid);
  });

  it('reads interfaces: ofport (one-element set written bare), -1 without a device, external_ids', () => {
    const byName = new Map([...snapshot.interfaces.values()].map((i) => [i.name, i]));
    expect(byName.get('web-0')).toEqual({
      uuid: '83378ce9-1dff-48bf-9b47-fdd21ca957b4',
      name: 'web-0',
      ofport: 11,
      externalIds: { 'attached-mac': 'aa:bb:cc:00:00:11', 'pod-name': 'web-0', 'pod-namespace': 'shop' },
    });
    expect(byName.get('gone-0')?.ofport).toBe(-1);
    expect(byName.get('antrea-l7-tap0')).toMatchObject({ ofport: 3, externalIds: {} });
    expect(portNamed(snapshot, 'web-0')?.interfaces).toEqual(['83378ce9-1dff-48bf-9b47-fdd21ca957b4']);
  });

  it('reads mirrors: single-port and multi-port selections, output, owner marker', () => {
    const web = portNamed(snapshot, 'web-0')?.uuid;
    const api = portNamed(snapshot, 'api-0')?.uuid;
    const mirrors = new Map([...snapshot.mirrors.values()].map((m) => [m.name, m]));
    expect(mirrors.get('l7flow')).toEqual({
      uuid: '03dd291b-1858-440b-9aac-18a62f592293',
      name: 'l7flow',
      selectSrcPorts: [web],
      selectDstPorts: [web],
      outputPort: portNamed(snapshot, 'antrea-l7-tap0')?.uuid,
      selectAll: false,
      externalIds: { 'l7flow-mirror': 'l7flow' },
    });
    expect(mirrors.get('span')).toMatchObject({
      selectSrcPorts: [api, web],
      selectDstPorts: [api],
      outputPort: portNamed(snapshot, 'spare')?.uuid,
      externalIds: {},
    });
  });

  it('has no bridge when find matched none', () => {
    const none = parseOvsdbSnapshot(fixture('ovsdb-snapshot-no-bridge.jsonl'));
    expect(none.bridge).toBeUndefined();
    expect(none.ports.size).toBeGreaterThan(0);
  });

  it('refuses output of another shape with OvsOutputError', () => {
    const lines = fixture('ovsdb-snapshot.jsonl').trim().split('\n');
    expect(() => parseOvsdbSnapshot(lines.slice(0, 3).join('\n'))).toThrow(OvsOutputError);
    expect(() => parseOvsdbSnapshot(['{', ...lines.slice(1)].join('\n'))).toThrow(OvsOutputError);
    const badUuid = lines.map((l, i) => (i === 0 ? l.replace('5a02cc83-', 'x; rm -rf /-') : l)).join('\n');
    expect(() => parseOvsdbSnapshot(badUuid)).toThrow(/not a uuid/);
  });

  it('throws nothing but OvsOutputError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.json(), fc.string()), { minLength: 0, maxLength: 6 }), (docs) => {
        try {
          parseOvsdbSnapshot(docs.join('\n'));
        } catch (error) {
          expect(error).toBeInstanceOf(OvsOutputError);
        }
      }),
    );
  });
});
