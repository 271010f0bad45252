import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireOvsLock } from './ovs-lock.js';

/**
 * A private Open vSwitch for one test file (reference/real-components.md §1): ovsdb-server and
 * ovs-vswitchd started by hand in a temp dir (OVS_RUNDIR/DBDIR/LOGDIR), userspace datapath,
 * stopped by PID. Plus a topology of network namespaces on a bridge, with names of the form
 * `l7k8s<id>...` so parallel runs never collide.
 */

export const ovsCommands = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ip', 'ethtool'];

/** Why a private OVS cannot run here (outside vitest, e.g. in benchmarks), or undefined. */
export function missingForOvs(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  const missing = ovsCommands.filter((command) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', command], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  return missing.length > 0 ? `needs ${missing.join(', ')}` : undefined;
}

export function run(file: string, args: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs = 10_000) {
  return new Promise<string>((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

export class PrivateOvs {
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly dir: string,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
  }

  /** Waits for the machine's OVS lock (ovs-lock.ts): give the calling hook ovsLockWaitMs more. */
  static async start(): Promise<PrivateOvs> {
    const release = await acquireOvsLock();
    const ovs = new PrivateOvs(await mkdtemp(join(tmpdir(), 'l7k8s-ovs-')), release);
    try {
      await ovs.#startDaemons();
    } catch (error) {
      await ovs.stop();
      throw error;
    }
    return ovs;
  }

  async #startDaemons(): Promise<void> {
    const db = join(this.dir, 'conf.db');
    await run('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema'], this.env);
    await run(
      'ovsdb-server',
      [
        db,
        `--remote=punix:${join(this.dir, 'db.sock')}`,
        `--pidfile=${join(this.dir, 'ovsdb-server.pid')}`,
        `--log-file=${join(this.dir, 'ovsdb-server.log')}`,
        '-vconsole:off',
        '--no-chdir',
        '--detach',
      ],
      this.env,
    );
    await this.vsctl('--no-wait', 'init');
    await this.startVswitchd();
  }

  vsctl(...args: string[]): Promise<string> {
    return run('ovs-vsctl', ['--timeout=10', ...args], this.env);
  }

  ofctl(...args: string[]): Promise<string> {
    return run('ovs-ofctl', ['--timeout=10', ...args], this.env);
  }

  /** Starts ovs-vswitchd (`--detach` returns once it is ready). */
  async startVswitchd(): Promise<void> {
    await run(
      'ovs-vswitchd',
      [
        `unix:${join(this.dir, 'db.sock')}`,
        `--pidfile=${join(this.dir, 'ovs-vswitchd.pid')}`,
        `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`,
        '-vconsole:off',
        '--no-chdir',
        '--detach',
        // dummy interfaces (type=dummy) for benchmarks; real ones work as usual.
        '--enable-dummy',
      ],
      this.env,
    );
  }

  /** A bridge on the userspace (netdev) datapath: there is no openvswitch kernel module here. */
  addNetdevBridge(bridge: string): Promise<string> {
    return this.vsctl('add-br', bridge, '--', 'set', 'Bridge', bridge, 'datapath_type=netdev', 'fail_mode=standalone');
  }

  /** An internal port (a tap device in the root namespace, no address), up. */
  async addInternalPort(bridge: string, name: string): Promise<void> {
    await this.vsctl('add-port', bridge, name, '--', 'set', 'Interface', name, 'type=internal');
    // ovs-vsctl returns before ovs-vswitchd has created the tap device; on a busy machine the
    // device shows up a little later.
    for (let attempt = 0; ; attempt++) {
      try {
        await run('ip', ['link', 'set', name, 'up']);
        return;
      } catch (error) {
        if (attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** A namespace with `end.ip`/24 on its eth0, whose veth peer `end.port` is a port of `bridge`. */
  async plugNamespace(bridge: string, end: NamespacePort): Promise<void> {
    const inNetns = (...args: string[]) => run('ip', ['netns', 'exec', end.netns, ...args]);
    await run('ip', ['netns', 'add', end.netns]);
    await run('ip', ['link', 'add', end.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', end.netns]);
    await run('ip', ['link', 'set', end.port, 'up']);
    await inNetns('ip', 'link', 'set', 'lo', 'up');
    await inNetns('ip', 'addr', 'add', `${end.ip}/24`, 'dev', 'eth0');
    await inNetns('ip', 'link', 'set', 'eth0', 'up');
    // The userspace datapath never completes partial checksums: without this TCP hangs.
    await inNetns('ethtool', '-K', 'eth0', 'tx', 'off');
    await this.vsctl('add-port', bridge, end.port);
  }

  /**
   * Deletes `bridge` and what plugNamespace made for `ends`; safe for what does not exist.
   * The netdev datapath's internal ports (the bridge's own included) are tap devices that
   * outlive the bridge: `internalPorts` names them.
   */
  async unplug(bridge: string, ends: readonly NamespacePort[], internalPorts: readonly string[] = []): Promise<void> {
    await this.vsctl('--if-exists', 'del-br', bridge).catch(() => '');
    for (const end of ends) {
      await run('ip', ['link', 'del', end.port]).catch(() => '');
      await run('ip', ['netns', 'del', end.netns]).catch(() => '');
    }
    for (const device of [bridge, ...internalPorts]) await run('ip', ['link', 'del', device]).catch(() => '');
  }

  /** Stops ovs-vswitchd only (its conntrack table goes with it); ovsdb-server stays. */
  stopVswitchd(): Promise<void> {
    return stopByPidFile(join(this.dir, 'ovs-vswitchd.pid'));
  }

  /** A plain restart: OpenFlow flows and port config (no-flood) are lost, OVSDB is kept. */
  async restartVswitchd(): Promise<void> {
    await this.stopVswitchd();
    await this.startVswitchd();
  }

  async stop(): Promise<void> {
    await stopByPidFile(join(this.dir, 'ovs-vswitchd.pid'));
    await stopByPidFile(join(this.dir, 'ovsdb-server.pid'));
    await rm(this.dir, { recursive: true, force: true });
    await this.releaseLock();
  }
}

/** SIGTERM, then SIGKILL after 5 s; returns once the process is gone or a zombie. */
async function stopByPidFile(path: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(path, 'utf8')).trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !(await running(pid))) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && (await running(pid)); i++) await new Promise((r) => setTimeout(r, 50));
  if (await running(pid)) process.kill(pid, 'SIGKILL');
}

/** Alive and not a zombie (PID 1 reaps orphans slowly here; kill -0 succeeds on zombies). */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface NamespacePort {
  /** Network namespace. */
  readonly netns: string;
  /** Host side of the veth, the OVS port. */
  readonly port: string;
  readonly ip: string;
}

/**
 * Bridge (netdev datapath, standalone) with one veth per namespace and an internal target
 * port (no IP, no-flood) for the mirror copies.
 */
export class Topology {
  readonly id = randomBytes(2).toString('hex');
  readonly bridge = `l7k8s${this.id}b`;
  readonly target = `l7k8s${this.id}t`;
  readonly ends: NamespacePort[];
  readonly #servers: ChildProcess[] = [];

  constructor(
    private readonly ovs: PrivateOvs,
    count: number,
    subnet = `10.${77 + (parseInt(randomBytes(1).toString('hex'), 16) % 100)}.0`,
  ) {
    this.ends = Array.from({ length: count }, (_, i) => ({
      netns: `l7k8s-${this.id}-${i + 1}`,
      port: `l7k8s${this.id}v${i + 1}`,
      ip: `${subnet}.${i + 1}`,
    }));
  }

  async create(): Promise<void> {
    await this.ovs.addNetdevBridge(this.bridge);
    for (const end of this.ends) await this.ovs.plugNamespace(this.bridge, end);
    await this.addInternalPort(this.target);
    await this.setNoFlood(this.target);
  }

  /** An internal port (a tap device in the root namespace, no address), up. */
  addInternalPort(name: string): Promise<void> {
    return this.ovs.addInternalPort(this.bridge, name);
  }

  setNoFlood(port: string): Promise<string> {
    return this.ovs.ofctl('mod-port', this.bridge, port, 'no-flood');
  }

  /** Labels a port the way Antrea's CNI does, so the reconciler finds the Pod's port. */
  labelPort(end: NamespacePort, pod: { name: string; namespace: string }): Promise<string> {
    return this.ovs.vsctl(
      'set',
      'Interface',
      end.port,
      `external_ids:pod-name=${pod.name}`,
      `external_ids:pod-namespace=${pod.namespace}`,
    );
  }

  inNetns(end: NamespacePort, command: string, ...args: string[]): Promise<string> {
    return run('ip', ['netns', 'exec', end.netns, command, ...args]);
  }

  /** An HTTP server in `end`'s namespace on `port`; stopped by destroy(). */
  async serveHttp(end: NamespacePort, port: number): Promise<void> {
    const script = `require('node:http').createServer((q, s) => s.end('hello from ' + q.url + '\\n')).listen(${port}, '${end.ip}')`;
    const server = spawn('ip', ['netns', 'exec', end.netns, process.execPath, '-e', script], { stdio: 'ignore' });
    this.#servers.push(server);
    for (let i = 0; i < 100; i++) {
      try {
        await this.inNetns(end, 'curl', '-s', '-m', '1', '-o', '/dev/null', `http://${end.ip}:${port}/ready`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('HTTP server did not start');
  }

  /** GET from `from` to `to`; resolves with the response body. */
  curl(from: NamespacePort, to: NamespacePort, port: number, path: string): Promise<string> {
    return this.inNetns(from, 'curl', '-s', '-m', '5', `http://${to.ip}:${port}${path}`);
  }

  async destroy(): Promise<void> {
    for (const server of this.#servers)
      if (server.pid !== undefined && server.exitCode === null) server.kill('SIGTERM');
    await this.ovs.unplug(this.bridge, this.ends, [this.target]);
  }
}

export interface Capture {
  /** `src > dst` of each packet seen, e.g. `10.1.0.1.40000 > 10.1.0.2.8080`. */
  readonly packets: readonly string[];
  /** tcpdump's full text output (headers and ASCII payloads). */
  readonly text: string;
}

/**
 * Captures TCP packets on `device` (port `port`) while `during` runs. --immediate-mode: without
 * it libpcap hands packets over in ~1 s blocks and a short capture sees nothing.
 */
export async function captureDuring(device: string, port: number, during: () => Promise<unknown>): Promise<Capture> {
  const tcpdump = spawn('tcpdump', ['-i', device, '-nn', '-l', '-A', '--immediate-mode', `tcp port ${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  let errors = '';
  tcpdump.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  tcpdump.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => tcpdump.on('close', () => resolve()));
  try {
    for (let i = 0; i < 200 && !errors.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 10));
    if (!errors.includes('listening on')) throw new Error(`tcpdump did not start: ${errors}`);
    await during();
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    tcpdump.kill('SIGTERM');
    await exited;
  }
  const packets = [...text.matchAll(/ IP (\S+) > (\S+?):/g)].map((m) => `${m[1]} > ${m[2]}`);
  return { packets, text };
}
