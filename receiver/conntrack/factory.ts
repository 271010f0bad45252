import { z } from 'zod';
import { byteSize, duration, show } from '../../config/schema.js';
import type { Clock } from '../../pipeline/clock.js';
import type { ReceiverFactory } from '../../pipeline/component.js';
import { ConntrackReceiver } from './receiver.js';
import { netlinkSource } from './source-netlink.js';
import { ovsSource } from './source-ovs.js';
import { procfsSource } from './source-procfs.js';
import type { ConntrackSource } from './source.js';

/** A binary is run without a shell: an absolute path, or a bare name looked up on PATH. */
function commandPath() {
  return z.string().refine((text) => /^\/[^\0]+$/.test(text) || /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/.test(text), {
    error: (issue) => `must be an absolute path or a bare command name found on PATH (got ${show(issue.input)})`,
  });
}

function absolutePath() {
  return z.string().refine((text) => /^\/[^\0]*$/.test(text), {
    error: (issue) => `must be an absolute path (got ${show(issue.input)})`,
  });
}

export const conntrackConfigSchema = z.strictObject({
  source: z
    .enum(['netlink', 'procfs', 'ovs'])
    .default('netlink')
    .describe(
      'netlink: kernel conntrack via conntrack-tools (dumps + DESTROY events); procfs: /proc/net/nf_conntrack; ovs: the OVS userspace datapath via ovs-appctl.',
    ),
  zones: z
    .array(z.number().int().min(0).max(65535))
    .default([])
    .describe('Conntrack zones to report (Antrea: 65520 IPv4, 65510 IPv6); empty reports every zone.'),
  poll_interval: duration({ min: 1000 }).prefault('5s').describe('Time between the starts of two dumps.'),
  events: z
    .boolean()
    .default(true)
    .describe(
      'netlink only: also follow `conntrack -E` so connections that end between dumps are reported with final counters.',
    ),
  events_buffer_size: byteSize({ min: 65536, max: 1024 ** 3 })
    .prefault('8MiB')
    .describe('Netlink receive buffer of the events process (conntrack -b); the kernel drops events when it is full.'),
  events_restart: z
    .strictObject({
      initial_delay: duration({ min: 10 }).prefault('1s').describe('Wait before the first restart.'),
      max_delay: duration({ min: 10 }).prefault('30s').describe('Longest wait; the wait doubles up to it.'),
    })
    .prefault({})
    .describe('Backoff for restarting the events process when it exits; reset after it ran for max_delay.'),
  set_sysctls: z
    .boolean()
    .default(false)
    .describe(
      'Set net.netfilter.nf_conntrack_acct and nf_conntrack_timestamp to 1 at start (needed for counters and times).',
    ),
  command_timeout: duration({ min: 100 })
    .prefault('30s')
    .describe('A dump still running after this long is killed and reported incomplete.'),
  conntrack_path: commandPath().default('conntrack').describe('The conntrack-tools binary (source netlink).'),
  ovs_appctl_path: commandPath().default('ovs-appctl').describe('The ovs-appctl binary (source ovs).'),
  procfs_path: absolutePath().default('/proc/net/nf_conntrack').describe('The conntrack table file (source procfs).'),
  ovs: z
    .strictObject({
      datapath: z
        .string()
        .refine((text) => /^[A-Za-z0-9][A-Za-z0-9@_.:-]*$/.test(text), {
          error: (issue) => `must be a datapath name such as netdev@ovs-netdev (got ${show(issue.input)})`,
        })
        .optional()
        .describe('Datapath to dump, e.g. netdev@ovs-netdev; default: the only one.'),
      rundir: absolutePath()
        .optional()
        .describe(
          'OVS run directory (OVS_RUNDIR) holding ovs-vswitchd.pid and its control socket; default /var/run/openvswitch.',
        ),
    })
    .prefault({})
    .describe('How to reach ovs-vswitchd (source ovs).'),
});

export type ConntrackConfig = z.output<typeof conntrackConfigSchema>;

function validate(config: ConntrackConfig): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const zone of config.zones) {
    if (seen.has(zone)) problems.push(`zones: lists ${zone} more than once`);
    seen.add(zone);
  }
  if (config.events_restart.initial_delay > config.events_restart.max_delay)
    problems.push('events_restart.initial_delay: must not exceed events_restart.max_delay');
  if (config.set_sysctls && config.source === 'ovs')
    problems.push('set_sysctls: applies to kernel conntrack only (source netlink or procfs), not to source ovs');
  return problems;
}

export function sourceFor(config: ConntrackConfig, clock: Clock): ConntrackSource {
  switch (config.source) {
    case 'netlink':
      return netlinkSource({
        conntrackPath: config.conntrack_path,
        commandTimeoutMs: config.command_timeout,
        eventsBufferBytes: config.events_buffer_size,
        clock,
      });
    case 'procfs':
      return procfsSource({ path: config.procfs_path, timeoutMs: config.command_timeout, clock });
    case 'ovs':
      return ovsSource({
        ovsAppctlPath: config.ovs_appctl_path,
        commandTimeoutMs: config.command_timeout,
        clock,
        ...(config.ovs.datapath === undefined ? {} : { datapath: config.ovs.datapath }),
        ...(config.ovs.rundir === undefined ? {} : { rundir: config.ovs.rundir }),
      });
  }
}

/** Conntrack entries as ConnSample batches, each dump closed by a ConnDumpEnd. */
export const conntrackReceiverFactory: ReceiverFactory<typeof conntrackConfigSchema> = {
  kind: 'receiver',
  type: 'conntrack',
  configSchema: conntrackConfigSchema,
  produces: ['conn'],
  validate,
  create: (settings, config, next) => new ConntrackReceiver(settings, config, next, sourceFor(config, settings.clock)),
};
