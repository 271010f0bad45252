import { describe, expect, it } from 'vitest';
import { factories } from '../../config/components.js';
import { parseConfig } from '../../config/load.js';
import { systemClock } from '../../pipeline/clock.js';
import { conntrackConfigSchema, sourceFor } from './factory.js';

function load(section: string): { config?: unknown; problems: string[] } {
  const result = parseConfig(
    `
receivers:
  conntrack: ${section}
exporters: { debug: }
service: { pipelines: { flows: { receivers: [conntrack], exporters: [debug] } } }
`,
    { factories, env: {} },
  );
  return result.ok
    ? { config: result.config.receivers.get('conntrack')?.config, problems: [] }
    : { problems: result.problems };
}

describe('conntrack receiver configuration', () => {
  it('has a default for every key', () => {
    expect(load('{}').config).toEqual({
      source: 'netlink',
      zones: [],
      poll_interval: 5000,
      events: true,
      events_buffer_size: 8 * 1024 * 1024,
      events_restart: { initial_delay: 1000, max_delay: 30_000 },
      set_sysctls: false,
      command_timeout: 30_000,
      conntrack_path: 'conntrack',
      ovs_appctl_path: 'ovs-appctl',
      procfs_path: '/proc/net/nf_conntrack',
      ovs: {},
    });
  });

  it('describes every key', () => {
    for (const [key, schema] of Object.entries(conntrackConfigSchema.shape)) {
      expect(schema.description, key).toBeTruthy();
    }
  });

  it('reads an Antrea-like OVS setup', () => {
    expect(
      load(
        '{ source: ovs, zones: [65520, 65510], poll_interval: 10s, ovs: { datapath: netdev@ovs-netdev, rundir: /run/ovs } }',
      ).config,
    ).toMatchObject({
      source: 'ovs',
      zones: [65520, 65510],
      poll_interval: 10_000,
      ovs: { datapath: 'netdev@ovs-netdev', rundir: '/run/ovs' },
    });
  });

  it.each([
    [
      '{ conntrack_path: ./conntrack }',
      'receivers.conntrack.conntrack_path: must be an absolute path or a bare command name found on PATH (got "./conntrack")',
    ],
    [
      "{ ovs_appctl_path: 'ovs-appctl; reboot' }",
      'receivers.conntrack.ovs_appctl_path: must be an absolute path or a bare command name found on PATH (got "ovs-appctl; reboot")',
    ],
    [
      '{ procfs_path: proc/net/nf_conntrack }',
      'receivers.conntrack.procfs_path: must be an absolute path (got "proc/net/nf_conntrack")',
    ],
    ['{ source: kernel }', 'receivers.conntrack.source: must be one of netlink, procfs, ovs (got "kernel")'],
    ['{ zones: [70000] }', 'receivers.conntrack.zones[0]: must be <= 65535 (got 70000)'],
    ['{ zones: [7, 7] }', 'receivers.conntrack.zones: lists 7 more than once'],
    ['{ poll_interval: 500ms }', 'receivers.conntrack.poll_interval: must be at least 1s (got "500ms")'],
    ['{ poll_interval: 5 }', 'receivers.conntrack.poll_interval: must be a duration such as 500ms, 5s or 1m (got 5)'],
    [
      '{ events_restart: { initial_delay: 1m, max_delay: 30s } }',
      'receivers.conntrack.events_restart.initial_delay: must not exceed events_restart.max_delay',
    ],
    [
      '{ source: ovs, set_sysctls: true }',
      'receivers.conntrack.set_sysctls: applies to kernel conntrack only (source netlink or procfs), not to source ovs',
    ],
    [
      '{ source: ovs, ovs: { datapath: --help } }',
      'receivers.conntrack.ovs.datapath: must be a datapath name such as netdev@ovs-netdev (got "--help")',
    ],
  ])('rejects %s', (section, problem) => {
    expect(load(section).problems).toEqual([problem]);
  });

  it('suggests the key meant', () => {
    expect(load('{ zone: [7] }').problems[0]).toMatch(
      /^receivers\.conntrack\.zone: unknown key \(did you mean "zones"\?\)/,
    );
  });

  it('picks the source the config names', () => {
    const parse = (source: string) => conntrackConfigSchema.parse({ source });
    expect(sourceFor(parse('netlink'), systemClock)).toMatchObject({ format: 'xml', kernel: true });
    expect(sourceFor(parse('procfs'), systemClock)).toMatchObject({ format: 'text', kernel: true });
    expect(sourceFor(parse('ovs'), systemClock)).toMatchObject({ format: 'ovs', kernel: false });
    expect('events' in sourceFor(parse('netlink'), systemClock)).toBe(true);
    expect('events' in sourceFor(parse('ovs'), systemClock)).toBe(false);
  });
});
