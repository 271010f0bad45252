import { describe, expect, it } from 'vitest';
import { changeCommands, readCommands } from './commands.js';
import { mirrorSettings } from '../../../test/support/k8s-l7-mirror-settings.js';

const settings = mirrorSettings('ovsdb_mirror');
const bridge = '5a02cc83-93da-4a93-8fac-ba255f8cc1e9';
const web = 'a7fdd050-3544-4b76-a956-c74a308a6f67';
const api = '09d85040-9a4a-414e-8f38-6c4c613c08bc';
const tap = '0a48f81a-f67a-46b9-9328-92aa9d4189c9';
const mirror = '03dd291b-1858-440b-9aac-18a62f592293';

/** Expected argument vectors follow ovs-vsctl(8) and ovs-ofctl(8) syntax. */
describe('OVS command lines', () => {
  it('reads the four tables in one ovs-vsctl run, our flows and the port config', () => {
    const read = readCommands(settings, 5);
    expect(read.ovsdb.args).toEqual([
      '--timeout=5',
      '--format=json',
      '--',
      '--columns=_uuid,name,ports,mirrors',
      'find',
      'Bridge',
      'name="br-int"',
      '--',
      '--columns=_uuid,name,interfaces',
      'list',
      'Port',
      '--',
      '--columns=_uuid,name,ofport,external_ids',
      'list',
      'Interface',
      '--',
      '--columns=_uuid,name,select_src_port,select_dst_port,output_port,select_all,external_ids',
      'list',
      'Mirror',
    ]);
    expect(read.flows.args).toEqual([
      '--timeout=5',
      '--no-names',
      '--no-stats',
      'dump-flows',
      'br-int',
      'cookie=0x6c37666c6f77/-1',
    ]);
    expect(read.portConfig.args).toEqual(['--timeout=5', 'dump-ports-desc', 'br-int']);
  });

  it('applies all OVSDB changes as one transaction, waits for ovs-vswitchd, then purges the datapath flow cache', () => {
    const commands = changeCommands(
      [
        { op: 'create-mirror', bridge, name: 'l7flow', ports: [api, web], output: tap },
        { op: 'update-mirror', uuid: mirror, ports: [web], output: tap },
        { op: 'delete-mirror', bridge, uuid: mirror },
      ],
      settings,
      5,
    );
    expect(commands).toEqual([
      {
        tool: 'vsctl',
        args: [
          '--timeout=5',
          '--',
          '--id=@mirror',
          'create',
          'Mirror',
          'name="l7flow"',
          `select_src_port=[${api},${web}]`,
          `select_dst_port=[${api},${web}]`,
          `output_port=${tap}`,
          'external_ids:l7flow-mirror="l7flow"',
          '--',
          'add',
          'Bridge',
          bridge,
          'mirrors',
          '@mirror',
          '--',
          'set',
          'Mirror',
          mirror,
          `select_src_port=[${web}]`,
          `select_dst_port=[${web}]`,
          `output_port=${tap}`,
          'select_all=false',
          '--',
          'remove',
          'Bridge',
          bridge,
          'mirrors',
          mirror,
        ],
      },
      // ovs-appctl(8): without -t the target is ovs-vswitchd.
      { tool: 'appctl', args: ['--timeout=5', 'revalidator/purge'] },
    ]);
  });

  it('purges the datapath flow cache only when a Mirror changed', () => {
    const rule = { table: 0, priority: 200, match: 'in_port=11', actions: 'output:3,NORMAL' };
    const tools = (changes: Parameters<typeof changeCommands>[0]) =>
      changeCommands(changes, settings, 5).map((c) => `${c.tool} ${c.args.at(-1) ?? ''}`);
    expect(tools([{ op: 'update-mirror', uuid: mirror, ports: [web], output: tap }])).toEqual([
      `vsctl select_all=false`,
      'appctl revalidator/purge',
    ]);
    expect(
      tools([
        { op: 'add-flows', flows: [rule] },
        { op: 'set-no-flood', port: 'antrea-l7-tap0' },
      ]),
    ).toEqual(['ofctl -', 'ofctl no-flood']);
  });

  it('applies flow changes as one bundle read from stdin, deletions first, then port config', () => {
    const rule = { table: 0, priority: 200, match: 'in_port=11', actions: 'output:3,NORMAL' };
    const old = { table: 5, priority: 150, match: 'in_port=12', actions: 'output:3,NORMAL' };
    expect(
      changeCommands(
        [
          { op: 'add-flows', flows: [rule] },
          { op: 'delete-flows', flows: [old] },
          { op: 'set-no-flood', port: 'antrea-l7-tap0' },
        ],
        settings,
        5,
      ),
    ).toEqual([
      {
        tool: 'ofctl',
        args: ['--timeout=5', '--bundle', 'add-flows', 'br-int', '-'],
        stdin:
          'delete_strict cookie=0x6c37666c6f77/-1,table=5,priority=150,in_port=12\n' +
          'add cookie=0x6c37666c6f77,table=0,priority=200,in_port=11 actions=output:3,NORMAL\n',
      },
      { tool: 'ofctl', args: ['--timeout=5', 'mod-port', 'br-int', 'antrea-l7-tap0', 'no-flood'] },
    ]);
  });

  it('never passes anything but a UUID where a row is referred to', () => {
    expect(() => changeCommands([{ op: 'delete-mirror', bridge, uuid: 'x -- del-br br-int' }], settings, 5)).toThrow(
      /not a UUID/,
    );
    expect(() =>
      changeCommands([{ op: 'create-mirror', bridge, name: 'l7flow', ports: ['@p'], output: tap }], settings, 5),
    ).toThrow(/not a UUID/);
  });

  it('runs nothing for no changes', () => {
    expect(changeCommands([], settings, 5)).toEqual([]);
  });
});
