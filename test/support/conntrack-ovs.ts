import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run } from './conntrack-netns.js';
import { PrivateOvs as OvsDaemons, type NamespacePort } from './k8s-l7-ovs.js';

/**
 * A private Open vSwitch (userspace datapath, its own run directory) with one bridge and two
 * namespaces, `a` (10.30.0.1) and `b` (10.30.0.2), whose IP traffic is committed to
 * conntrack zone 65520; TCP to or from port 8080 also gets ct_mark 42 and ct_label 0x1234.
 * Names carry a random id (`l7ct-<id>-a`, `l7c<id>br`) so parallel runs do not collide.
 * stop() removes everything, including the daemons and the bridge's tap device.
 */
export class PrivateOvs {
  readonly #children: ChildProcess[] = [];
  readonly namespaces: { readonly a: string; readonly b: string };
  readonly #ends: readonly NamespacePort[];
  readonly bridge: string;

  private constructor(
    private readonly daemons: OvsDaemons,
    id: string,
  ) {
    this.namespaces = { a: `l7ct-${id}-a`, b: `l7ct-${id}-b` };
    this.#ends = [
      { netns: this.namespaces.a, port: `l7c${id}a`, ip: '10.30.0.1' },
      { netns: this.namespaces.b, port: `l7c${id}b`, ip: '10.30.0.2' },
    ];
    this.bridge = `l7c${id}br`;
  }

  /** Waits for the machine's OVS lock (ovs-lock.ts): give the calling hook ovsLockWaitMs more. */
  static async start(): Promise<PrivateOvs> {
    const ovs = new PrivateOvs(await OvsDaemons.start(), randomBytes(2).toString('hex'));
    try {
      await ovs.#buildTopology();
    } catch (error) {
      await ovs.stop();
      throw error;
    }
    return ovs;
  }

  get rundir(): string {
    return this.daemons.dir;
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
  stopSwitch(): Promise<void> {
    return this.daemons.stopVswitchd();
  }

  async stop(): Promise<void> {
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.daemons.unplug(this.bridge, this.#ends);
    await this.daemons.stop();
  }

  async #buildTopology(): Promise<void> {
    await this.daemons.addNetdevBridge(this.bridge);
    for (const end of this.#ends) await this.daemons.plugNamespace(this.bridge, end);
    const commit = 'ct(commit,zone=65520,exec(set_field:42->ct_mark,set_field:0x1234->ct_label))';
    for (const flow of [
      `priority=200,tcp,tp_dst=8080,actions=${commit},NORMAL`,
      `priority=200,tcp,tp_src=8080,actions=${commit},NORMAL`,
      'priority=100,ip,actions=ct(commit,zone=65520),NORMAL',
    ])
      await this.daemons.ofctl('add-flow', this.bridge, flow);
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
