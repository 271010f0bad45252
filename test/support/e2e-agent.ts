import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { L7Direction } from '../../pipeline/records.js';
import { spawnCli, type CliRun } from './cli.js';
import { roles, zone, type E2eTopology, type Role } from './e2e-topology.js';

/**
 * l7flow as its own process for the end-to-end test: the config and pods file the test
 * writes, the run (`l7flow run --config FILE`), its /metrics, and a graceful stop.
 */

export const annotationKey = 'visibility.antrea.io/l7-export';
export const nodeName = 'node-e2e';
export const mirrorName = 'l7flow';

/** The Pods the namespaces stand for, as the pods file and the exports name them. */
export const podNames: Readonly<Record<Role, { readonly name: string; readonly namespace: string }>> = {
  client: { name: 'web-client-0', namespace: 'e2e-front' },
  server: { name: 'api-server-0', namespace: 'e2e-back' },
  bystander: { name: 'batch-bystander-0', namespace: 'e2e-batch' },
};

export interface AgentFiles {
  readonly dir: string;
  readonly eveSocket: string;
  readonly debugFile: string;
}

/** Writes the pods file: the three Pods with their IPs, OVS ports and the scenario's annotations. */
export async function writePodsFile(
  topology: E2eTopology,
  dir: string,
  annotations: Partial<Record<Role, L7Direction>>,
): Promise<string> {
  const path = join(dir, 'pods.yaml');
  const pods = roles.map((role) => {
    const direction = annotations[role];
    return {
      ...podNames[role],
      node: nodeName,
      ips: [topology.pods[role].ip],
      labels: { app: podNames[role].name.replace(/-\d+$/, '') },
      annotations: direction === undefined ? {} : { [annotationKey]: direction },
      ovs_port: topology.pods[role].port,
    };
  });
  const namespaces = roles.map((role) => ({ name: podNames[role].namespace }));
  await writeFile(path, stringify({ namespaces, pods }));
  return path;
}

/** The whole agent: both receivers, both processors, the three exporters. */
export async function writeConfig(
  topology: E2eTopology,
  files: AgentFiles,
  endpoints: { ipfixPort: number; otlp: string },
): Promise<string> {
  const path = join(files.dir, 'l7flow.yaml');
  const config = {
    receivers: {
      suricata_eve: { source: 'socket', socket: { path: files.eveSocket }, event_types: ['http'] },
      conntrack: { source: 'ovs', zones: [zone], poll_interval: '1s', ovs: { rundir: topology.rundir } },
    },
    processors: {
      k8s_l7: {
        node_name: nodeName,
        pods: 'file',
        pods_file: join(files.dir, 'pods.yaml'),
        post_events: false,
        mirror: {
          mode: 'ovsdb_mirror',
          bridge: topology.bridge,
          target_port: topology.target,
          mirror_name: mirrorName,
          rundir: topology.rundir,
        },
      },
      flow_join: { active_timeout: '2s', idle_timeout: '2s', l7_pending_ttl: '5s' },
    },
    exporters: {
      ipfix: {
        endpoint: `127.0.0.1:${endpoints.ipfixPort}`,
        transport: 'udp',
        http_encoding: 'both',
      },
      otlp: {
        endpoint: endpoints.otlp,
        tls: { insecure: true },
        node_name: nodeName,
        routes: ['/items/{id}'],
        batch: { timeout: '50ms' },
      },
      debug: { path: files.debugFile },
    },
    service: {
      telemetry: { metrics: { address: '127.0.0.1:0' } },
      pipelines: {
        flows: {
          receivers: ['suricata_eve', 'conntrack'],
          processors: ['k8s_l7', 'flow_join'],
          exporters: ['ipfix', 'otlp', 'debug'],
        },
      },
    },
  };
  await writeFile(path, stringify(config));
  return path;
}

export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus text exposition: one sample per line, comments skipped. */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** l7flow running as a child process. */
export class E2eAgent {
  private constructor(
    readonly cli: CliRun,
    readonly metricsUrl: string,
  ) {}

  /** Starts `l7flow run --config FILE` and waits for its "l7flow started" line. */
  static async start(configPath: string): Promise<E2eAgent> {
    const cli = spawnCli(['run', '--config', configPath]);
    const started = cli.waitForLog((line) => line.msg === 'l7flow started', 20_000);
    started.catch(() => undefined); // an early exit wins the race below; its timer then rejects unheard
    try {
      const outcome = await Promise.race([started.then((line) => ({ line })), cli.exit.then(({ code }) => ({ code }))]);
      if (!('line' in outcome))
        throw new Error(`l7flow exited (${outcome.code}) before it started:\n${cli.stderr.join('\n')}`);
      return new E2eAgent(cli, `http://${String(outcome.line.metrics)}`);
    } catch (error) {
      await stopCli(cli);
      throw error;
    }
  }

  async ready(): Promise<boolean> {
    return (await fetch(`${this.metricsUrl}/readyz`)).status === 200;
  }

  async metrics(): Promise<MetricSample[]> {
    return parsePrometheusText(await (await fetch(`${this.metricsUrl}/metrics`)).text());
  }

  /** SIGTERM and the exit status; SIGKILL if it has not exited within 15 s. */
  async stop(): Promise<number | null> {
    return stopCli(this.cli);
  }

  /** The agent's log, for failure messages. */
  stderr(): string {
    return this.cli.stderr.join('\n');
  }
}

async function stopCli(cli: CliRun): Promise<number | null> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
  const killer = setTimeout(() => cli.child.kill('SIGKILL'), 15_000);
  const { code } = await cli.exit;
  clearTimeout(killer);
  return code;
}
