import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './k8s-l7-ovs.js';
import { faultDir } from './faults.js';

/**
 * A private Open vSwitch whose ovs-vswitchd runs in a network namespace of its own
 * (`l7fo<id>`). The userspace datapath creates one `ovs-netdev` device per network namespace,
 * so a second userspace OVS in the same namespace (another test, another engineer's) fails
 * to create its bridges; in its own namespace it never meets one. Its internal ports live
 * there too. The OVS tools reach it through OVS_RUNDIR like any private instance.
 */
export class IsolatedOvs {
  readonly env: NodeJS.ProcessEnv;
  readonly netns: string;
  readonly bridge: string;

  private constructor(
    readonly dir: string,
    private readonly removeDir: () => Promise<void>,
    readonly id: string,
  ) {
    this.env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
    this.netns = `l7fo${id}`;
    this.bridge = `l7fo${id}br`;
  }

  static async start(): Promise<IsolatedOvs> {
    const dir = await faultDir('ovs');
    const ovs = new IsolatedOvs(dir.path, dir.remove, randomBytes(3).toString('hex'));
    try {
      await run('ip', ['netns', 'add', ovs.netns]);
      const db = join(ovs.dir, 'conf.db');
      await run('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema'], ovs.env);
      await run(
        'ovsdb-server',
        [
          db,
          `--remote=punix:${join(ovs.dir, 'db.sock')}`,
          `--pidfile=${join(ovs.dir, 'ovsdb-server.pid')}`,
          `--log-file=${join(ovs.dir, 'ovsdb-server.log')}`,
          '-vconsole:off',
          '--no-chdir',
          '--detach',
        ],
        ovs.env,
      );
      await ovs.vsctl('--no-wait', 'init');
      await ovs.startSwitch();
      await ovs.vsctl(
        'add-br',
        ovs.bridge,
        '--',
        'set',
        'Bridge',
        ovs.bridge,
        'datapath_type=netdev',
        'fail_mode=standalone',
      );
    } catch (error) {
      await ovs.stop();
      throw error;
    }
    return ovs;
  }

  vsctl(...args: string[]): Promise<string> {
    return run('ovs-vsctl', ['--timeout=10', ...args], this.env);
  }

  ofctl(...args: string[]): Promise<string> {
    return run('ovs-ofctl', ['--timeout=10', ...args], this.env);
  }

  /** An internal port (a tap device in the switch's namespace), as a Pod's or Suricata's port. */
  async addInternalPort(name: string): Promise<void> {
    await this.vsctl('add-port', this.bridge, name, '--', 'set', 'Interface', name, 'type=internal');
  }

  async deletePort(name: string): Promise<void> {
    await this.vsctl('del-port', this.bridge, name);
  }

  /** Starts ovs-vswitchd in the namespace (`--detach` returns once it is ready). */
  async startSwitch(): Promise<void> {
    await run(
      'ip',
      [
        'netns',
        'exec',
        this.netns,
        'ovs-vswitchd',
        `unix:${join(this.dir, 'db.sock')}`,
        `--pidfile=${join(this.dir, 'ovs-vswitchd.pid')}`,
        `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`,
        '-vconsole:off',
        '--no-chdir',
        '--detach',
      ],
      this.env,
    );
  }

  /** Stops ovs-vswitchd: OpenFlow flows and port config go with it; OVSDB stays. */
  async stopSwitch(): Promise<void> {
    await stopByPidFile(join(this.dir, 'ovs-vswitchd.pid'));
  }

  /** The l7flow Mirror row, its selections and output by port name; undefined when absent. */
  async mirror(name: string): Promise<{ src: string[]; dst: string[]; output: string } | undefined> {
    const text = await this.vsctl(
      '--bare',
      '--columns=select_src_port,select_dst_port,output_port',
      'find',
      'Mirror',
      `name=${name}`,
    );
    if (text.trim() === '') return undefined;
    const rows = text.split('\n');
    const names = async (uuids: string) =>
      Promise.all(
        uuids
          .split(/\s+/)
          .filter((u) => u !== '')
          .map(async (uuid) => (await this.vsctl('get', 'Port', uuid, 'name')).trim().replace(/"/g, '')),
      );
    return {
      src: await names(rows[0] ?? ''),
      dst: await names(rows[1] ?? ''),
      output: (await names(rows[2] ?? ''))[0] ?? '',
    };
  }

  /** Whether `port` has OpenFlow's no-flood set (port config is lost when ovs-vswitchd restarts). */
  async noFlood(port: string): Promise<boolean> {
    const description = await this.ofctl('dump-ports-desc', this.bridge);
    return new RegExp(`\\(${port}\\):.*\\n\\s*config:\\s*.*NO_FLOOD`).test(description);
  }

  async stop(): Promise<void> {
    await this.vsctl('--if-exists', 'del-br', this.bridge).catch(() => '');
    await this.stopSwitch();
    await stopByPidFile(join(this.dir, 'ovsdb-server.pid'));
    await run('ip', ['netns', 'del', this.netns]).catch(() => '');
    await this.removeDir();
  }
}

/** SIGTERM, then SIGKILL after 5 s; returns once the process is gone or a zombie. */
async function stopByPidFile(path: string): Promise<void> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1 || !(await running(pid))) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && (await running(pid)); i++) await new Promise((r) => setTimeout(r, 50));
  if (await running(pid)) process.kill(pid, 'SIGKILL');
}

/** Alive and not a zombie (PID 1 reaps orphans slowly here). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
