import { addFlowLine, deleteFlowLine } from './flows.js';
import { isUuid, snapshotColumns } from './ovsdb-json.js';
import { ownerKey, type MirrorSettings, type OvsChange } from './plan.js';

/**
 * Argument vectors for ovs-vsctl and ovs-ofctl, run with execFile (never a shell). What reaches
 * them: names from the validated config (bridge, target port, mirror name: `[A-Za-z0-9_.-]`,
 * not starting with `-`), UUIDs read back from OVSDB (checked by isUuid), numbers, and
 * canonical IP addresses. Nothing from Kubernetes or the pods file.
 */

export interface OvsCommand {
  readonly tool: 'vsctl' | 'ofctl' | 'appctl';
  readonly args: readonly string[];
  /** Written to the command's standard input (flow_mod lines for add-flows). */
  readonly stdin?: string;
}

/** One command per read: OVSDB rows, our flows, the ports' OpenFlow config. */
export function readCommands(settings: MirrorSettings, timeoutSeconds: number) {
  const columns = (names: readonly string[]) => `--columns=${names.join(',')}`;
  return {
    ovsdb: {
      tool: 'vsctl',
      args: [
        `--timeout=${timeoutSeconds}`,
        '--format=json',
        '--',
        columns(snapshotColumns.bridge),
        'find',
        'Bridge',
        `name="${settings.bridge}"`,
        '--',
        columns(snapshotColumns.port),
        'list',
        'Port',
        '--',
        columns(snapshotColumns.interface),
        'list',
        'Interface',
        '--',
        columns(snapshotColumns.mirror),
        'list',
        'Mirror',
      ],
    },
    flows: {
      tool: 'ofctl',
      args: [
        `--timeout=${timeoutSeconds}`,
        '--no-names',
        '--no-stats',
        'dump-flows',
        settings.bridge,
        `cookie=${settings.cookie}/-1`,
      ],
    },
    portConfig: {
      tool: 'ofctl',
      args: [`--timeout=${timeoutSeconds}`, 'dump-ports-desc', settings.bridge],
    },
  } as const satisfies Record<string, OvsCommand>;
}

/**
 * The commands that apply `changes`: all OVSDB changes in one ovs-vsctl transaction, all flow
 * changes in one OpenFlow bundle (atomic: deletions then additions), then port config.
 *
 * A Mirror change is not in effect for connections already running: OVS keeps the datapath
 * flows it cached before the change, and does not re-translate those carrying ct() actions
 * (seen with OVS 3.1; kube-ovn#2801), so a Pod opted in mid-connection stayed uncopied (and one
 * opted out stayed copied) for as long as its flows were busy. So ovs-vsctl waits until
 * ovs-vswitchd has applied the transaction (while the switch is down it commits, then times
 * out: OVSDB still holds the desired state) and the datapath flow cache is then purged once,
 * which re-translates every flow with the new Mirror.
 */
export function changeCommands(
  changes: readonly OvsChange[],
  settings: MirrorSettings,
  timeoutSeconds: number,
): OvsCommand[] {
  const vsctl: string[] = [];
  const flowLines: string[] = [];
  const ofctl: OvsCommand[] = [];
  const uuidSet = (uuids: readonly string[]) => `[${uuids.map(checkedUuid).join(',')}]`;
  for (const change of changes) {
    switch (change.op) {
      case 'create-mirror':
        vsctl.push(
          '--',
          '--id=@mirror',
          'create',
          'Mirror',
          `name="${change.name}"`,
          `select_src_port=${uuidSet(change.ports)}`,
          `select_dst_port=${uuidSet(change.ports)}`,
          `output_port=${checkedUuid(change.output)}`,
          `external_ids:${ownerKey}="${change.name}"`,
          '--',
          'add',
          'Bridge',
          checkedUuid(change.bridge),
          'mirrors',
          '@mirror',
        );
        break;
      case 'update-mirror':
        vsctl.push(
          '--',
          'set',
          'Mirror',
          checkedUuid(change.uuid),
          `select_src_port=${uuidSet(change.ports)}`,
          `select_dst_port=${uuidSet(change.ports)}`,
          `output_port=${checkedUuid(change.output)}`,
          'select_all=false',
        );
        break;
      case 'delete-mirror':
        // Mirror is not a root table: the row goes once no bridge refers to it.
        vsctl.push('--', 'remove', 'Bridge', checkedUuid(change.bridge), 'mirrors', checkedUuid(change.uuid));
        break;
      case 'delete-flows':
        for (const rule of change.flows) flowLines.push(checkedFlowLine(deleteFlowLine(rule, settings.cookie)));
        break;
      case 'add-flows':
        for (const rule of change.flows) flowLines.push(checkedFlowLine(addFlowLine(rule, settings.cookie)));
        break;
      case 'set-no-flood':
        ofctl.push({
          tool: 'ofctl',
          args: [`--timeout=${timeoutSeconds}`, 'mod-port', settings.bridge, change.port, 'no-flood'],
        });
        break;
    }
  }
  const commands: OvsCommand[] = [];
  if (vsctl.length > 0)
    commands.push(
      { tool: 'vsctl', args: [`--timeout=${timeoutSeconds}`, ...vsctl] },
      { tool: 'appctl', args: [`--timeout=${timeoutSeconds}`, 'revalidator/purge'] },
    );
  if (flowLines.length > 0) {
    flowLines.sort((a, b) => Number(b.startsWith('delete')) - Number(a.startsWith('delete')));
    commands.push({
      tool: 'ofctl',
      args: [`--timeout=${timeoutSeconds}`, '--bundle', 'add-flows', settings.bridge, '-'],
      stdin: `${flowLines.join('\n')}\n`,
    });
  }
  return [...commands, ...ofctl];
}

/**
 * Flow lines go to ovs-ofctl's stdin one per line, so a newline (or a comma) in a Pod address
 * would add a flow of its author's choosing. Addresses are canonical by the time they get here
 * (kube/objects.ts, pods-file/parse.ts); this refuses anything that is not plain flow syntax,
 * should a new source forget (docs/security.md).
 */
function checkedFlowLine(line: string): string {
  if (!/^(add|delete_strict) [A-Za-z0-9_.:,=/-]+( actions=[A-Za-z0-9_:,]+)?$/.test(line))
    throw new Error(`refusing to pass ${JSON.stringify(line)} to ovs-ofctl: not a flow line l7flow builds`);
  return line;
}

function checkedUuid(uuid: string): string {
  if (!isUuid(uuid)) throw new Error(`refusing to pass ${JSON.stringify(uuid)} to ovs-vsctl: not a UUID`);
  return uuid;
}
