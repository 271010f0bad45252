/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return --
   The manifests are untyped YAML; the assertions below are their type checks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { factories } from '../config/components.js';
import { parseConfig } from '../config/load.js';
import { packageRoot } from '../config/paths.js';
import { antrea, iana } from '../exporter/ipfix/codec/registry.js';
import { spawnCli } from './support/cli.js';
import { externalSlackBytes, memoryBound, youngGenerationBytes } from './support/perf-memory.js';
import { describeWith } from './support/requirements.js';
import { until } from './support/until.js';

/**
 * What ships in deploy/ is checked, not just written: every YAML parses, the Kubernetes objects
 * have what they need and refer to each other consistently, the RBAC is the minimal set, the
 * embedded l7flow config passes l7flow's own validation, and the Suricata, OTel Collector and
 * pmacct examples agree with it.
 */
const deploy = (...parts: string[]) => join(packageRoot, 'deploy', ...parts);
type Doc = Record<string, any>;

function documents(path: string): Doc[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    expect(doc.errors, `${path}: ${doc.errors.map((e) => e.message).join('; ')}`).toEqual([]);
    return doc.toJS() as Doc;
  });
}

const kubernetes = readdirSync(deploy('kubernetes')).flatMap((name) => documents(deploy('kubernetes', name)));
const byKind = (kind: string) => kubernetes.filter((d) => d.kind === kind);
const configMap = byKind('ConfigMap')[0]!;
const daemonSet = byKind('DaemonSet')[0]!;
const pod = daemonSet.spec.template.spec;
const container = (name: string) =>
  [...pod.containers, ...(pod.initContainers ?? [])].find((c: Doc) => c.name === name);
const mountOf = (c: Doc, volume: string) => c.volumeMounts.find((m: Doc) => m.name === volume)?.mountPath as string;

function agentConfig() {
  const result = parseConfig(configMap.data['l7flow.yaml'], {
    factories,
    env: { NODE_NAME: 'node-a' },
    source: 'configmap',
  });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

describe('deploy/kubernetes', () => {
  it('holds valid objects: apiVersion, kind and name on each', () => {
    expect(kubernetes.length).toBeGreaterThanOrEqual(6);
    for (const doc of kubernetes) {
      expect(doc).toMatchObject({
        apiVersion: expect.any(String),
        kind: expect.any(String),
        metadata: { name: expect.any(String) },
      });
    }
  });

  it('grants the minimal RBAC: read Pods and Namespaces, create Events, nothing else', () => {
    const rules = byKind('ClusterRole')[0]!.rules as Doc[];
    const granted = rules
      .flatMap((r) => (r.resources as string[]).map((resource) => `${resource}: ${[...r.verbs].sort().join(',')}`))
      .sort();
    expect(granted).toEqual(['events: create', 'namespaces: get,list,watch', 'pods: get,list,watch']);
    expect(rules.every((r) => r.apiGroups.length === 1 && r.apiGroups[0] === '')).toBe(true);
    const binding = byKind('ClusterRoleBinding')[0]!;
    const account = byKind('ServiceAccount')[0]!;
    expect(binding.roleRef.name).toBe(byKind('ClusterRole')[0]!.metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace },
    ]);
    expect(pod.serviceAccountName).toBe(account.metadata.name);
  });

  it('embeds an l7flow config that passes validation', () => {
    const config = agentConfig();
    expect([...config.receivers.keys()]).toEqual(['suricata_eve', 'conntrack']);
    expect([...config.exporters.keys()]).toEqual(['ipfix', 'otlp']);
  });

  it('runs l7flow with its node name, config, socket directory, probes and the capabilities it needs', () => {
    const agent = container('l7flow');
    expect(agent.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    const configPath = agent.args[agent.args.indexOf('--config') + 1] as string;
    expect(dirname(configPath)).toBe(mountOf(agent, 'config'));
    expect(pod.volumes.find((v: Doc) => v.name === 'config').configMap.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(configPath.split('/').pop());

    const config = agentConfig();
    const socket = (config.receivers.get('suricata_eve')!.config as { socket: { path: string } }).socket.path;
    expect(dirname(socket)).toBe(mountOf(agent, 'eve-socket'));
    const metricsPort = Number(config.service.telemetry.metrics.address.split(':').pop());
    expect(agent.ports).toContainEqual(expect.objectContaining({ containerPort: metricsPort }));
    expect(agent.livenessProbe.httpGet).toEqual({ path: '/healthz', port: metricsPort });
    expect(agent.readinessProbe.httpGet).toEqual({ path: '/readyz', port: metricsPort });
    expect(agent.securityContext.capabilities).toEqual({ add: ['NET_ADMIN'], drop: ['ALL'] });
    expect(pod.hostNetwork).toBe(true);
    expect(agent.resources.limits.memory).toBeDefined();
  });

  it('caps the heap above the worst case its config allows, and the heap cap fits the memory limit', () => {
    const config = agentConfig();
    const section = (map: ReadonlyMap<string, { config: unknown }>, id: string) => map.get(id)!.config as Doc;
    const eve = section(config.receivers, 'suricata_eve');
    const join = section(config.processors, 'flow_join');
    const otlp = section(config.exporters, 'otlp');
    const ipfix = section(config.exporters, 'ipfix');
    const sending = [...config.exporters.values()].map((e) => e.sendingQueue);
    expect(sending).toHaveLength(2); // memoryBound counts two exporters
    const mib = 1024 * 1024;
    // The agent idle, measured by the overload test (docs/overload.md), with room to spare.
    const idle = { rssBytes: 256 * mib, heapTotalBytes: 96 * mib, liveHeapBytes: 64 * mib };
    const bound = memoryBound(
      {
        maxLineBytes: eve.max_line_bytes,
        maxClients: eve.socket.max_clients,
        eveBatch: eve.batch_size,
        maxConnections: join.max_connections,
        maxPending: join.max_pending,
        maxTransactionsPerFlow: join.max_transactions_per_flow,
        maxHeldTransactions: join.max_held_transactions,
        sendingQueue: Math.max(...sending.map((q) => q.queue_size)),
        sendingBatch: Math.max(...sending.map((q) => q.batch_size)),
        otlpQueue: otlp.queue.size,
        otlpBatch: otlp.batch.send_batch_size,
        otlpConsumers: otlp.queue.num_consumers,
        ipfixQueue: ipfix.queue_size,
        ipfixMessageSize: ipfix.max_message_size,
        maxPods: section(config.processors, 'k8s_l7').max_pods,
      },
      idle,
    );
    const agent = container('l7flow');
    const nodeOptions = agent.env.find((e: Doc) => e.name === 'NODE_OPTIONS')?.value as string;
    const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]) * mib;
    const limit = /^(\d+)Gi$/.exec(agent.resources.limits.memory as string);
    const limitBytes = Number(limit?.[1]) * 1024 * mib;
    // V8 collects rather than grow past the old-space cap: the live data must fit under it...
    expect(idle.liveHeapBytes + bound.liveBytes).toBeLessThan(oldSpace);
    // ...and the process under the container limit: old and young generations, what lives
    // outside the heap, and buffers not yet collected.
    const outsideHeap = idle.rssBytes - idle.heapTotalBytes;
    expect(oldSpace + youngGenerationBytes + outsideHeap + externalSlackBytes).toBeLessThanOrEqual(limitBytes);
  });

  it('feeds Suricata from the mirror port l7flow maintains, into the socket l7flow listens on', () => {
    const config = agentConfig();
    const socket = (config.receivers.get('suricata_eve')!.config as { socket: { path: string } }).socket.path;
    const mirror = (config.processors.get('k8s_l7')!.config as { mirror: { target_port: string; bridge: string } })
      .mirror;
    const suricataYaml = parseYaml(configMap.data['suricata.yaml']) as Doc;
    const eve = suricataYaml.outputs.map((o: Doc) => o['eve-log']).find(Boolean);
    expect(eve).toMatchObject({ filetype: 'unix_stream', filename: socket });
    expect(suricataYaml['af-packet'][0].interface).toBe(mirror.target_port);
    expect(suricataYaml.stream.midstream).toBe(true);

    const suricata = container('suricata');
    expect(mountOf(suricata, 'eve-socket')).toBe(dirname(socket));
    expect(suricata.args).toContain(`--af-packet=${mirror.target_port}`);
    const configFile = suricata.args[suricata.args.indexOf('-c') + 1] as string;
    expect(dirname(configFile)).toBe(mountOf(suricata, 'config'));
    const setup = container('mirror-port').command.join(' ') as string;
    expect(setup).toContain(`add-port ${mirror.bridge} ${mirror.target_port}`);
    expect(setup).toContain('no-flood');
  });
});

describe('deploy/otel-collector', () => {
  it('receives OTLP/gRPC on the port l7flow sends to, and wires every pipeline to defined components', () => {
    const gateway = documents(deploy('otel-collector', 'gateway.yaml'))[0]!;
    const endpoint = (agentConfig().exporters.get('otlp')!.config as { endpoint: string }).endpoint;
    expect(gateway.receivers.otlp.protocols.grpc.endpoint).toBe(`0.0.0.0:${endpoint.split(':').pop()}`);
    for (const [name, pipeline] of Object.entries(gateway.service.pipelines as Record<string, Doc>)) {
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const id of pipeline[kind] ?? []) expect(gateway[kind], `${name}.${kind}: ${id}`).toHaveProperty([id]);
      }
    }
    expect(Object.keys(gateway.service.pipelines).sort()).toEqual(['logs', 'traces']);
  });
});

describe('deploy/pmacct', () => {
  const primitives = readFileSync(deploy('pmacct', 'primitives.lst'), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => Object.fromEntries(line.split('\t').map((field) => field.split('=') as [string, string])));
  const elements = [...Object.values(iana), ...Object.values(antrea)];
  const lengths: Record<string, string> = {
    string: 'vlen',
    unsigned8: '1',
    unsigned16: '2',
    unsigned64: '8',
    ipv4Address: '4',
  };

  it('names elements the exporter really sends, with their type', () => {
    expect(primitives.length).toBeGreaterThan(15);
    for (const p of primitives) {
      const [pen, id] = p.field_type!.includes(':') ? p.field_type!.split(':').map(Number) : [0, Number(p.field_type)];
      const element = elements.find((e) => e.pen === pen && e.id === id);
      expect(element, `${p.name}: ${p.field_type}`).toBeDefined();
      expect({ name: p.name, len: p.len }).toEqual({ name: p.name, len: lengths[element!.type] });
    }
  });

  it('aggregates on every primitive it declares', () => {
    const conf = readFileSync(deploy('pmacct', 'nfacctd.conf'), 'utf8');
    const aggregate = /^aggregate:\s*(.*)$/m.exec(conf)?.[1]?.split(/,\s*/) ?? [];
    for (const p of primitives) expect(aggregate).toContain(p.name);
  });
});

describe('deploy/docker', () => {
  it('copies what exists and runs the CLI with the config the DaemonSet mounts', () => {
    const dockerfile = readFileSync(deploy('docker', 'Dockerfile'), 'utf8');
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of sources!.split(' ').filter((s) => s !== '.'))
        expect(() => readFileSync(join(packageRoot, source))).not.toThrow();
    }
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(dockerfile)![1]!) as string[];
    const agent = container('l7flow');
    expect(cmd.slice(cmd.indexOf('--config'))).toEqual(agent.args.slice(agent.args.indexOf('--config')));
  });
});

describeWith({ commands: ['nfacctd'] }, 'deploy/pmacct with a real nfacctd', () => {
  let dir = '';
  let collector: ChildProcess | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'l7flow-pmacct-'));
  });
  afterEach(async () => {
    if (collector && collector.exitCode === null) {
      const exited = new Promise((resolve) => collector!.once('exit', resolve));
      collector.kill('SIGINT'); // nfacctd ignores SIGTERM
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('decodes the Pods, httpVals and the IANA HTTP records of l7flow IPFIX by the shipped names', async () => {
    const port = await freeUdpPort();
    const conf = readFileSync(deploy('pmacct', 'nfacctd.conf'), 'utf8')
      .replace('/etc/pmacct/primitives.lst', deploy('pmacct', 'primitives.lst'))
      .replace(/^nfacctd_ip: .*$/m, 'nfacctd_ip: 127.0.0.1')
      .replace(/^nfacctd_port: .*$/m, `nfacctd_port: ${port}`)
      .replace(/^print_refresh_time: .*$/m, 'print_refresh_time: 1');
    await writeFile(join(dir, 'nfacctd.conf'), conf);
    collector = spawn('nfacctd', ['-f', join(dir, 'nfacctd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let log = '';
    let partial = '';
    collector.stdout!.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    collector.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await until(() => log.includes('waiting for NetFlow/IPFIX data'), 'nfacctd listening');

    const agent = join(dir, 'agent.yaml');
    const demo = (name: string) => join(packageRoot, 'config', 'examples', 'demo', name);
    await writeFile(
      agent,
      `receivers: { suricata_eve: {} }
processors:
  k8s_l7: { pods: file, pods_file: ${JSON.stringify(demo('pods.yaml'))}, mirror: { mode: none } }
  flow_join: {}
exporters:
  ipfix: { endpoint: 127.0.0.1:${port}, transport: udp, http_encoding: both }
service: { pipelines: { flows: { receivers: [suricata_eve], processors: [k8s_l7, flow_join], exporters: [ipfix] } } }
`,
    );
    const replay = spawnCli(['replay', '--config', agent, demo('eve.json')]);
    expect((await replay.exit).code).toBe(0);

    const printed = (status: string) => lines.some((l) => l.http_status === status);
    await until(() => ['200', '201', '404'].every(printed), 'the IANA HTTP records printed', 15_000);
    const cart = lines.find((l) => l.app_protocol === 'http' && l.port_src === 51824);
    expect(cart).toMatchObject({
      src_pod_namespace: 'shop',
      src_pod_name: 'frontend-7d9f8c6b5-x2kqp',
      src_node_name: 'node-a',
    });
    const httpVals = JSON.parse(String(cart!.http_vals)) as Record<string, { url: string; status: number }>;
    expect(Object.entries(httpVals).map(([tx, v]) => `${tx} ${v.url} ${v.status}`)).toEqual([
      '0 /api/cart/42 200',
      '1 /api/cart/42/items 201',
      '2 /api/cart/99 404',
    ]);
    const transactions = lines.filter((l) => l.l7flow_flow_id === cart!.l7flow_flow_id && l.http_method !== '');
    expect(
      transactions.map((l) => `${String(l.http_method)} ${String(l.http_target)} ${String(l.http_status)}`).sort(),
    ).toEqual(['GET /api/cart/42 200', 'GET /api/cart/99 404', 'POST /api/cart/42/items 201']);
  });
});

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
