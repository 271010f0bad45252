import type { Clock } from '../../pipeline/clock.js';
import { runCommand } from './command.js';
import { parseOvsLine } from './parse-ovs.js';
import type { ConntrackSource, OutputRun } from './source.js';

export interface OvsSourceOptions {
  readonly ovsAppctlPath: string;
  /** `dpctl/dump-conntrack`'s datapath argument (e.g. `netdev@ovs-netdev`); default: the only one. */
  readonly datapath?: string;
  /** OVS_RUNDIR for the child, to reach an ovs-vswitchd outside /var/run/openvswitch. */
  readonly rundir?: string;
  readonly commandTimeoutMs: number;
  readonly clock: Clock;
}

/**
 * Open vSwitch's own conntrack (the userspace datapath), which the kernel tools cannot see:
 * `ovs-appctl dpctl/dump-conntrack -m -s [dp] [zone=N]`, one dump per zone. There is no event
 * stream, and the userspace tracker keeps no packet or byte counters (see parse-ovs.ts).
 */
export function ovsSource(options: OvsSourceOptions): ConntrackSource {
  const { ovsAppctlPath, clock } = options;
  const env = options.rundir === undefined ? undefined : { OVS_RUNDIR: options.rundir };
  const datapath = options.datapath === undefined ? [] : [options.datapath];
  return {
    format: 'ovs',
    parse: parseOvsLine,
    kernel: false,
    scopes: (zones) => (zones.length === 0 ? [[]] : zones.map((zone) => [zone])),
    dump(zones): OutputRun {
      const zoneArgs = zones.length === 1 ? [`zone=${zones[0]}`] : [];
      return runCommand(ovsAppctlPath, ['dpctl/dump-conntrack', '-m', '-s', ...datapath, ...zoneArgs], {
        clock,
        timeoutMs: options.commandTimeoutMs,
        ...(env ? { env } : {}),
      });
    },
    async preflight() {
      const run = runCommand(ovsAppctlPath, ['--version'], { clock, timeoutMs: options.commandTimeoutMs });
      for await (const _ of run.output); // drain
      const result = await run.done;
      if (!result.ok)
        throw new Error(`ovs_appctl_path ${JSON.stringify(ovsAppctlPath)} does not run: ${result.detail}`);
    },
    details: () => ({
      command: ovsAppctlPath,
      ...(options.rundir === undefined ? {} : { rundir: options.rundir }),
      ...(options.datapath === undefined ? {} : { datapath: options.datapath }),
      counters: 'none: the OVS userspace datapath keeps no packet or byte counters',
    }),
  };
}
