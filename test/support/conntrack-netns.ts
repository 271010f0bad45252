import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command (no shell) and returns its stdout; rejects with stderr on failure. */
export async function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<string> {
  if (options.input === undefined) {
    const { stdout } = await execFileAsync(file, args, { timeout: 10_000, env: options.env ?? process.env });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 10_000, env: options.env ?? process.env }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(options.input);
  });
}

/** Polls `check` every `everyMs` until it returns a value other than undefined; fails after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  { ms = 10_000, everyMs = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A Node script for the namespace: an HTTP server that answers every request with "hello". */
const httpServer = `
const [host, port] = process.argv.slice(1);
require('node:http').createServer((req, res) => res.end('hello\\n')).listen(Number(port), host, () => console.log('listening'));
`;

/** Connects, prints its local port, sends nothing and stays connected until killed. */
const idleClient = `
const [host, port] = process.argv.slice(1);
const socket = require('node:net').connect(Number(port), host, () => console.log(socket.localPort));
socket.on('error', () => process.exit(1));
`;

/** Waits for the first line a child prints, or fails when it exits first. */
function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

/**
 * A network namespace of the test's own (`l7ct-<random>`) where the kernel tracks
 * connections: one nft table puts TCP port `zonePort` in conntrack zone 7 (both directions,
 * before conntrack) with mark 42, and `ct state new` switches tracking on for everything.
 * Accounting and timestamps are on; TIME_WAIT lasts 1 s so that closed connections expire
 * quickly (a table dump then evicts them at once, which is what delivers their DESTROY).
 *
 * The receiver reaches the namespace through a wrapper script used as `conntrack_path`: it
 * execs `ip netns exec <ns> conntrack "$@"`, so the process the receiver starts is conntrack
 * itself, and it records the PID of the events process (`conntrack -E`) for tests that kill it.
 */
export class ConntrackNamespace {
  readonly #children: ChildProcess[] = [];

  private constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  static async create(zonePort: number): Promise<ConntrackNamespace> {
    const dir = await mkdtemp(join(tmpdir(), 'l7ct-netns-'));
    const ns = new ConntrackNamespace(`l7ct-${randomBytes(4).toString('hex')}`, dir);
    await run('ip', ['netns', 'add', ns.name]);
    try {
      await ns.exec('ip', ['link', 'set', 'lo', 'up']);
      await ns.exec('sysctl', [
        '-qw',
        'net.netfilter.nf_conntrack_acct=1',
        'net.netfilter.nf_conntrack_timestamp=1',
        'net.netfilter.nf_conntrack_tcp_timeout_time_wait=1',
      ]);
      await run('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], {
        input: `
table inet l7ct {
  chain zone_out { type filter hook output priority -300; policy accept;
                   tcp dport ${zonePort} ct zone set 7; tcp sport ${zonePort} ct zone set 7; }
  chain zone_pre { type filter hook prerouting priority -300; policy accept;
                   tcp dport ${zonePort} ct zone set 7; tcp sport ${zonePort} ct zone set 7; }
  chain out      { type filter hook output priority 0; policy accept;
                   tcp dport ${zonePort} ct mark set 0x2a; ct state new counter; }
}
`,
      });
      await writeFile(
        ns.conntrackPath,
        `#!/bin/sh\ncase " $* " in *" -E "*) echo $$ > "${ns.dir}/events.pid" ;; esac\nexec ip netns exec ${ns.name} conntrack "$@"\n`,
      );
      await chmod(ns.conntrackPath, 0o755);
    } catch (error) {
      await ns.destroy();
      throw error;
    }
    return ns;
  }

  /** The wrapper to use as the receiver's conntrack_path. */
  get conntrackPath(): string {
    return join(this.dir, 'conntrack');
  }

  exec(file: string, args: readonly string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.name, file, ...args]);
  }

  async startHttpServer(host: string, port: number): Promise<void> {
    await this.#spawnReady(httpServer, [host, String(port)], `HTTP server on ${host}:${port}`);
  }

  /** Opens a connection that stays established; returns its local (client) port. */
  async openIdleConnection(host: string, port: number): Promise<number> {
    return Number(await this.#spawnReady(idleClient, [host, String(port)], 'idle client'));
  }

  /** One HTTP GET with curl, which then closes; returns curl's local port. */
  async request(url: string): Promise<number> {
    return Number(await this.exec('curl', ['-s', '-m', '5', '-o', '/dev/null', '-w', '%{local_port}', url]));
  }

  /** Lists the table, which evicts expired entries at once (and so delivers their DESTROY). */
  async evictExpired(): Promise<void> {
    await this.exec('conntrack', ['-L']).catch(() => '');
  }

  /** PID of the latest `conntrack -E` the receiver started, as the wrapper recorded it. */
  async eventsPid(): Promise<number | undefined> {
    const text = await readFile(join(this.dir, 'events.pid'), 'utf8').catch(() => '');
    return text.trim() === '' ? undefined : Number(text);
  }

  async destroy(): Promise<void> {
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await run('ip', ['netns', 'del', this.name]).catch(() => '');
    await rm(this.dir, { recursive: true, force: true });
  }

  async #spawnReady(script: string, args: readonly string[], what: string): Promise<string> {
    // ip netns exec execs node: the child's PID is node's, so killing it leaves nothing behind.
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, '-e', script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#children.push(child);
    return firstLine(child, what);
  }
}
