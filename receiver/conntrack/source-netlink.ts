import type { Clock } from '../../pipeline/clock.js';
import { runCommand } from './command.js';
import { parseXmlLine } from './parse-xml.js';
import type { ConntrackSource, OutputRun } from './source.js';

export interface NetlinkSourceOptions {
  readonly conntrackPath: string;
  readonly commandTimeoutMs: number;
  /** Netlink receive buffer of the event stream (`conntrack -b`), in bytes. */
  readonly eventsBufferBytes: number;
  readonly clock: Clock;
}

/**
 * Kernel conntrack through conntrack-tools. XML because it is the only output with
 * nanosecond start and stop times (text prints local time to the second); `labels` needs a
 * connlabel.conf, without which conntrack only complains on stderr. `-L` lists IPv4 and IPv6
 * alike, and `-w` filters by zone, so a cycle runs one dump per configured zone.
 */
export function netlinkSource(options: NetlinkSourceOptions): ConntrackSource {
  const { conntrackPath, clock } = options;
  const output = ['-o', 'xml,id,ktimestamp,labels'];
  return {
    format: 'xml',
    parse: parseXmlLine,
    kernel: true,
    scopes: (zones) => (zones.length === 0 ? [[]] : zones.map((zone) => [zone])),
    dump(zones): OutputRun {
      const zoneArgs = zones.length === 1 ? ['-w', String(zones[0])] : [];
      return runCommand(conntrackPath, ['-L', ...output, ...zoneArgs], {
        clock,
        timeoutMs: options.commandTimeoutMs,
      });
    },
    // DESTROY only: it carries the final counters and the stop time; NEW and UPDATE carry no
    // counters and would cost a line per state change. Zones are filtered by the receiver,
    // since -w takes one zone.
    events: (onStderrLine) =>
      runCommand(conntrackPath, ['-E', '-e', 'DESTROY', ...output, '-b', String(options.eventsBufferBytes)], {
        clock,
        onStderrLine,
      }),
    async preflight() {
      const run = runCommand(conntrackPath, ['--version'], { clock, timeoutMs: options.commandTimeoutMs });
      for await (const _ of run.output); // drain
      const result = await run.done;
      if (!result.ok) throw new Error(`conntrack_path ${JSON.stringify(conntrackPath)} does not run: ${result.detail}`);
    },
    details: () => ({ command: conntrackPath }),
  };
}
