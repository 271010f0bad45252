import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { ovsCommands, PrivateOvs, run } from './k8s-l7-ovs.js';

/**
 * The end-to-end test's node: a private Open vSwitch in userspace mode (its own run dir, no
 * kernel module here) with one bridge, three network namespaces plugged in by veth pairs as
 * the Pods `client`, `server` and `bystander`, and an internal target port (no address,
 * no-flood) where mirrored copies go. Every IPv4 packet is committed to userspace conntrack
 * zone 65520 before NORMAL forwarding, as Antrea does for Pod traffic.
 *
 * Names carry the `l7e2e` prefix and a random id so parallel runs never collide; destroy()
 * removes everything it created (processes by PID, namespaces, devices, the run dir).
 * (reference/real-components.md §1: TX checksum offload off in the namespaces, internal
 * ports of the netdev datapath are persistent tap devices, daemons are reaped late by PID 1.)
 */

export const topologyCommands = [...ovsCommands, 'ovs-appctl'];

export type Role = 'client' | 'server' | 'bystander';
export const roles: readonly Role[] = ['client', 'server', 'bystander'];

export interface PodEnd {
  readonly role: Role;
  readonly netns: string;
  /** Host side of the veth: the Pod's OVS port. */
  readonly port: string;
  readonly ip: string;
}

/** What a request plan asks for. */
export interface PlannedRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
}

/** What the client saw for one request: the ground truth the exports are checked against. */
export interface ObservedExchange extends PlannedRequest {
  readonly status: number;
  readonly contentType: string;
  /** Response body octets received. */
  readonly length: number;
  readonly localPort: number;
}

/** Every server answers on this port. */
export const httpPort = 8080;
export const userAgent = 'l7flow-e2e/1.0';
export const zone = 65520;

/**
 * An HTTP server for a namespace (argv: address, port): 404 for /missing, 500 for /fail, a
 * POST echoed back with its content type, and 200 "hello <url>" otherwise. Content-Length is
 * always set, so the response length is known without chunked framing.
 */
const serverScript = `
const [host, port] = process.argv.slice(1);
require('node:http').createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const reply = (status, type, body) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url === '/missing') return reply(404, 'text/plain', 'no such thing\\n');
    if (req.url === '/fail') return reply(500, 'text/plain', 'it broke\\n');
    if (req.method === 'POST') return reply(200, req.headers['content-type'] || 'application/octet-stream', Buffer.concat(chunks));
    reply(200, 'text/plain', 'hello ' + req.url + '\\n');
  });
}).listen(Number(port), host, () => console.log('listening'));
`;

/**
 * A client for a namespace (argv: address, port, user agent, plan as JSON): the plan's
 * requests one after the other over ONE keep-alive connection, then a clean close; prints
 * what it saw as JSON.
 */
const clientScript = `
const http = require('node:http');
const [host, port, userAgent, plan] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const send = ({ method, path, body }) => new Promise((resolve, reject) => {
  const headers = { 'user-agent': userAgent };
  if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  const req = http.request({ host, port: Number(port), method, path, agent, headers }, (res) => {
    const chunks = [];
    res.on('data', (chunk) => chunks.push(chunk));
    res.on('end', () => resolve({
      method, path, ...(body === undefined ? {} : { body }), status: res.statusCode,
      contentType: res.headers['content-type'] || '', length: Buffer.concat(chunks).length, localPort: req.socket.localPort,
    }));
  });
  req.setTimeout(5000, () => req.destroy(new Error('timed out')));
  req.on('error', reject);
  req.end(body);
});
(async () => {
  const seen = [];
  for (const request of JSON.parse(plan)) seen.push(await send(request));
  agent.destroy();
  console.log(JSON.stringify(seen));
})().catch((error) => { console.error(error.message); process.exit(1); });
`;

export class E2eTopology {
  readonly id = randomBytes(2).toString('hex');
  readonly bridge = `l7e2e${this.id}br`;
  readonly target = `l7e2e${this.id}tap`;
  readonly pods: Readonly<Record<Role, PodEnd>>;
  readonly #servers: ChildProcess[] = [];

  private constructor(readonly ovs: PrivateOvs) {
    const subnet = `10.${randomInt(100, 200)}.${randomInt(0, 256)}`;
    const end = (role: Role, index: number): PodEnd => ({
      role,
      netns: `l7e2e-${this.id}-${role}`,
      port: `l7e2e${this.id}v${role[0]}`,
      ip: `${subnet}.${index + 1}`,
    });
    this.pods = { client: end('client', 0), server: end('server', 1), bystander: end('bystander', 2) };
  }

  /** Starts the switch, builds the topology and an HTTP server in every namespace. */
  static async start(): Promise<E2eTopology> {
    const topology = new E2eTopology(await PrivateOvs.start());
    try {
      await topology.#build();
      for (const role of roles) await topology.#serveHttp(topology.pods[role]);
    } catch (error) {
      await topology.destroy();
      throw error;
    }
    return topology;
  }

  /** The private OVS run dir: OVSDB socket, conntrack and mirror tools point here. */
  get rundir(): string {
    return this.ovs.dir;
  }

  vsctl(...args: string[]): Promise<string> {
    return this.ovs.vsctl(...args);
  }

  /** Empties the userspace conntrack table, so a scenario sees only its own connections. */
  async flushConntrack(): Promise<void> {
    await run('ovs-appctl', ['dpctl/flush-conntrack'], this.ovs.env);
  }

  /**
   * The ports the OVSDB Mirror `name` copies to the target, read with ovs-vsctl (not with the
   * code under test): the Pods (by role; any other port by its UUID) selected as source and as
   * destination, and whether the output is the target port. undefined when there is no such Mirror.
   */
  async mirror(name: string): Promise<{ src: string[]; dst: string[]; toTarget: boolean } | undefined> {
    const rows = (
      await this.vsctl(
        '--bare',
        '--columns=select_src_port,select_dst_port,output_port',
        'find',
        'Mirror',
        `name=${name}`,
      )
    )
      .split('\n')
      .map((line) => line.trim());
    if (rows.every((row) => row === '')) return undefined;
    const [src = '', dst = '', output = ''] = rows;
    const uuidOf = async (port: string) => (await this.vsctl('get', 'Port', port, '_uuid')).trim();
    const byUuid = new Map<string, string>();
    for (const role of roles) byUuid.set(await uuidOf(this.pods[role].port), role);
    const rolesOf = (text: string) =>
      text
        .split(/\s+/)
        .filter((uuid) => uuid !== '')
        .map((uuid) => byUuid.get(uuid) ?? uuid)
        .sort();
    return { src: rolesOf(src), dst: rolesOf(dst), toTarget: output === (await uuidOf(this.target)) };
  }

  /** Runs `plan` from `from` to `to`'s server over one keep-alive connection. */
  async exchange(from: Role, to: Role, plan: readonly PlannedRequest[]): Promise<ObservedExchange[]> {
    const output = await run(
      'ip',
      [
        'netns',
        'exec',
        this.pods[from].netns,
        process.execPath,
        '-e',
        clientScript,
        this.pods[to].ip,
        String(httpPort),
        userAgent,
        JSON.stringify(plan),
      ],
      undefined,
      15_000,
    );
    return JSON.parse(output) as ObservedExchange[];
  }

  /** Removes everything; safe to call twice and after a failed start. */
  async destroy(): Promise<void> {
    for (const server of this.#servers.splice(0)) await stopChild(server);
    await this.ovs.unplug(this.bridge, Object.values(this.pods), [this.target]);
    await this.ovs.stop();
  }

  async #build(): Promise<void> {
    await this.ovs.addNetdevBridge(this.bridge);
    for (const role of roles) await this.ovs.plugNamespace(this.bridge, this.pods[role]);
    await this.ovs.addInternalPort(this.bridge, this.target);
    // The target receives only what a mirror copies to it, never flooded traffic.
    await this.ovs.ofctl('mod-port', this.bridge, this.target, 'no-flood');
    await this.ovs.ofctl('add-flow', this.bridge, `priority=100,ip,actions=ct(commit,zone=${zone}),NORMAL`);
  }

  async #serveHttp(pod: PodEnd): Promise<void> {
    const server = spawn(
      'ip',
      ['netns', 'exec', pod.netns, process.execPath, '-e', serverScript, pod.ip, String(httpPort)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#servers.push(server);
    await new Promise<void>((resolve, reject) => {
      let errors = '';
      server.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      server.stdout.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`HTTP server in ${pod.netns} exited (${code}): ${errors}`)));
    });
  }
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(killer);
}
