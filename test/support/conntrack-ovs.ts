import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, run } from './conntrack-netns.js';
import { acquireOvsLock } from './ovs-lock.js';

const schema = '/usr/share/openvswitch/vswitch.ovsschema';

/**
 * A private Open vSwitch (userspace datapath, its own run directory) with one bridge and two
 * namespaces, `a` (10.30.0.1) and `b` (10.30.0.2), whose IP traffic is committed to
 * conntrack zone 65520; TCP to or from port 8080 also gets ct_mark 42 and ct_label 0x1234.
 * Names carry a random id (`l7ct-<id>-a`, `l7c<id>br`) so parallel runs do not collide.
 * stop() removes everything, including the daemons and the bridge's tap device.
 */
export class PrivateOvs {
  readonly #children: ChildProcess[] = [];
  readonly #env: NodeJS.ProcessEnv;
  readonly namespaces: { readonly a: string; readonly b: string };
  readonly #veths: readonly string[];
  readonly bridge: string;

  private constructor(
    readonly rundir: string,
    id: string,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.#env = { ...process.env, OVS_RUNDIR: rundir, OVS_DBDIR: rundir, OVS_LOGDIR: rundir };
    this.namespaces = { a: `l7ct-${id}-a`, b: `l7ct-${id}-b` };
    this.#veths = [`l7c${id}a`, `l7c${id}b`];
    this.bridge = `l7c${id}br`;
  }

  /** Waits for the machine's OVS lock (ovs-lock.ts): give the calling hook ovsLockWaitMs more. */
  static async start(): Promise<PrivateOvs> {
    const release = await acquireOvsLock();
    const ovs = new PrivateOvs(await mkdtemp(join(tmpdir(), 'l7ct-ovs-')), randomBytes(2).toString('hex'), release);
    try {
      await ovs.#startDaemons();
      await ovs.#buildTopology();
    } catch (error) {
      await ovs.stop();
      throw error;
    }
    return ovs;
  }

  ovs(command: string, args: readonly string[]): Promise<string> {
    return run(command, args, { env: this.#env });
  }

  inNamespace(ns: string, file: string, args: readonly string[]): Promise<string> {
    return run('ip', ['netns', 'exec', ns, file, ...args]);
  }

  async startHttpServer(port: number): Promise<void> {
    const script = `require('node:http').createServer((q, s) => s.end('hello\\n')).listen(${port}, '10.30.0.2', () => console.log('listening'));`;
    await this.#spawnReady(this.namespaces.b, script);
  }

  /** A TCP connection from `a` that stays established; returns its local port. */
  async openIdleConnection(port: number): Promise<number> {
    const script = `const s = require('node:net').connect(${port}, '10.30.0.2', () => console.log(s.localPort)); s.on('error', () => process.exit(1));`;
    return Number(await this.#spawnReady(this.namespaces.a, script));
  }

  /** One HTTP GET from `a`; returns curl's local port. */
  async request(port: number): Promise<number> {
    return Number(
      await this.inNamespace(this.namespaces.a, 'curl', [
        '-s',
        '-m',
        '5',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://10.30.0.2:${port}/`,
      ]),
    );
  }

  /** Stops ovs-vswitchd only (its conntrack table goes with it); ovsdb-server stays. */
  async stopSwitch(): Promise<void> {
    await this.#stopDaemon('ovs-vswitchd');
  }

  async stop(): Promise<void> {
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.ovs('ovs-vsctl', ['--timeout=5', '--no-wait', '--if-exists', 'del-br', this.bridge]).catch(() => '');
    await this.#stopDaemon('ovs-vswitchd');
    await this.#stopDaemon('ovsdb-server');
    // With the netdev datapath the bridge's internal port is a tap device that outlives vswitchd.
    for (const device of [this.bridge, ...this.#veths]) await run('ip', ['link', 'del', device]).catch(() => '');
    for (const ns of Object.values(this.namespaces)) await run('ip', ['netns', 'del', ns]).catch(() => '');
    await rm(this.rundir, { recursive: true, force: true });
    await this.releaseLock();
  }

  async #startDaemons(): Promise<void> {
    const dir = this.rundir;
    await this.ovs('ovsdb-tool', ['create', join(dir, 'conf.db'), schema]);
    await this.ovs('ovsdb-server', [
      join(dir, 'conf.db'),
      `--remote=punix:${join(dir, 'db.sock')}`,
      `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
      `--log-file=${join(dir, 'ovsdb-server.log')}`,
      '-vconsole:off',
      '--no-chdir',
      '--detach',
    ]);
    await this.ovs('ovs-vsctl', ['--no-wait', 'init']);
    await this.ovs('ovs-vswitchd', [
      `unix:${join(dir, 'db.sock')}`,
      `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`,
      `--log-file=${join(dir, 'ovs-vswitchd.log')}`,
      '-vconsole:off',
      '--no-chdir',
      '--detach',
    ]);
  }

  async #buildTopology(): Promise<void> {
    // No openvswitch kernel module on these machines: the userspace (netdev) datapath.
    await this.ovs('ovs-vsctl', [
      'add-br',
      this.bridge,
      '--',
      'set',
      'Bridge',
      this.bridge,
      'datapath_type=netdev',
      'fail_mode=standalone',
    ]);
    const sides = [
      [this.namespaces.a, this.#veths[0] ?? '', '10.30.0.1'],
      [this.namespaces.b, this.#veths[1] ?? '', '10.30.0.2'],
    ] as const;
    for (const [ns, veth, address] of sides) {
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['link', 'set', veth, 'up']);
      await this.inNamespace(ns, 'ip', ['link', 'set', 'lo', 'up']);
      await this.inNamespace(ns, 'ip', ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await this.inNamespace(ns, 'ip', ['link', 'set', 'eth0', 'up']);
      // The userspace datapath never completes partial checksums: TX offload must be off.
      await this.inNamespace(ns, 'ethtool', ['-K', 'eth0', 'tx', 'off']);
      await this.ovs('ovs-vsctl', ['add-port', this.bridge, veth]);
    }
    const commit = 'ct(commit,zone=65520,exec(set_field:42->ct_mark,set_field:0x1234->ct_label))';
    for (const flow of [
      `priority=200,tcp,tp_dst=8080,actions=${commit},NORMAL`,
      `priority=200,tcp,tp_src=8080,actions=${commit},NORMAL`,
      'priority=100,ip,actions=ct(commit,zone=65520),NORMAL',
    ])
      await this.ovs('ovs-ofctl', ['add-flow', this.bridge, flow]);
  }

  async #stopDaemon(name: string): Promise<void> {
    const pid = Number((await readFile(join(this.rundir, `${name}.pid`), 'utf8').catch(() => '')).trim());
    if (!pid) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return; // already gone
    }
    // Daemons are re-parented to PID 1, which reaps zombies late: wait until not running.
    await eventually(`${name} to stop`, async () => ((await isRunning(pid)) ? undefined : true), { ms: 5000 });
  }

  async #spawnReady(ns: string, script: string): Promise<string> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#children.push(child);
    return new Promise((resolve, reject) => {
      let text = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
      });
      child.once('exit', (code) => reject(new Error(`helper in ${ns} exited (${code}) before it was ready`)));
    });
  }
}

async function isRunning(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const state = /^State:\s+(\S)/m.exec(status)?.[1];
  return state !== undefined && state !== 'Z';
}
