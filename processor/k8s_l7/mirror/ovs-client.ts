import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { changeCommands, readCommands, type OvsCommand } from './commands.js';
import { parseFlowDump, portNoFlood } from './flows.js';
import { parseOvsdbSnapshot } from './ovsdb-json.js';
import type { MirrorSettings, OvsChange, OvsState } from './plan.js';

/** The reconciler's window on OVS: read what is there, apply changes. */
export interface OvsClient {
  read(): Promise<OvsState>;
  apply(changes: readonly OvsChange[]): Promise<void>;
}

export interface ExecOvsOptions {
  readonly vsctlPath: string;
  readonly ofctlPath: string;
  /** OVS_RUNDIR for the commands ('' = OVS's default), to reach a private OVS instance. */
  readonly rundir: string;
  readonly timeoutMs: number;
}

/** A failed ovs-vsctl / ovs-ofctl run; the message carries the tool's own error line. */
export class OvsCommandError extends Error {
  constructor(
    readonly command: OvsCommand,
    detail: string,
  ) {
    super(`ovs-${command.tool} ${command.args.filter((a) => !a.startsWith('--timeout')).join(' ')}: ${detail}`);
    this.name = 'OvsCommandError';
  }
}

/** OvsClient over the OVS command-line tools. */
export class ExecOvsClient implements OvsClient {
  readonly #timeoutSeconds: number;

  constructor(
    private readonly settings: MirrorSettings,
    private readonly options: ExecOvsOptions,
  ) {
    this.#timeoutSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  }

  async read(): Promise<OvsState> {
    const commands = readCommands(this.settings, this.#timeoutSeconds);
    const ovsdb = parseOvsdbSnapshot(await this.#run(commands.ovsdb));
    if (ovsdb.bridge === undefined) return { ovsdb, flows: [] };
    const flows = parseFlowDump(await this.#run(commands.flows));
    const targetOfport = [...ovsdb.ports.values()]
      .filter((port) => port.name === this.settings.targetPort && ovsdb.bridge?.ports.includes(port.uuid))
      .flatMap((port) => port.interfaces.map((uuid) => ovsdb.interfaces.get(uuid)?.ofport))
      .find((ofport) => ofport !== undefined && ofport > 0);
    if (targetOfport === undefined) return { ovsdb, flows };
    const noFlood = portNoFlood(await this.#run(commands.portConfig), targetOfport);
    return { ovsdb, flows, ...(noFlood === undefined ? {} : { targetNoFlood: noFlood }) };
  }

  async apply(changes: readonly OvsChange[]): Promise<void> {
    for (const command of changeCommands(changes, this.settings, this.#timeoutSeconds)) await this.#run(command);
  }

  #run(command: OvsCommand): Promise<string> {
    const file =
      command.tool === 'vsctl'
        ? this.options.vsctlPath
        : command.tool === 'ofctl'
          ? this.options.ofctlPath
          : // ovs-appctl ships beside ovs-vsctl (openvswitch-common); no key of its own.
            join(dirname(this.options.vsctlPath), 'ovs-appctl');
    const env = this.options.rundir === '' ? process.env : { ...process.env, OVS_RUNDIR: this.options.rundir };
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        command.args,
        { env, timeout: this.options.timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error) {
            const detail = stderr.trim().split('\n')[0] || (error.killed ? 'timed out' : error.message);
            reject(new OvsCommandError(command, detail));
          } else {
            resolve(stdout);
          }
        },
      );
      child.stdin?.on('error', () => {}); // a tool that exits early fails through the callback
      child.stdin?.end(command.stdin ?? '');
    });
  }
}
