import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { L7Direction } from '../../pipeline/records.js';
import { E2eAgent, mirrorName, writeConfig, writePodsFile, type MetricSample } from './e2e-agent.js';
import { decodeIpfixCapture, type TsharkIpfixDecode } from './e2e-ipfix-pdml.js';
import { StandInL7Engine, type EveHttpEvent } from './e2e-l7-engine.js';
import { httpPort, type E2eTopology, type ObservedExchange, type PlannedRequest, type Role } from './e2e-topology.js';
import { TestCollector } from './ipfix-collector.js';
import { captureLoopbackUdp } from './ipfix-tshark.js';
import { OtlpReceiver, type ReceivedLog, type ReceivedSpan } from './otlp-receiver.js';

/**
 * One end-to-end scenario: the Pods annotated one way, l7flow started on them, real HTTP
 * traffic through the bridge, and everything that came out (IPFIX decoded by tshark from a
 * loopback capture, OTLP spans, metrics, the stand-in engine's EVE events) handed back for
 * the test's assertions. Each step waits for a condition, never for a fixed time.
 */

export interface Connection {
  readonly from: Role;
  readonly to: Role;
  readonly plan: readonly PlannedRequest[];
}

/**
 * The traffic of every scenario. `main`: the client calls the server, four requests on one
 * keep-alive connection. `serverToBystander`: the server calls the bystander, which is never
 * annotated. `bystanderToClient`: the bystander calls the client.
 */
export const connections = {
  main: {
    from: 'client',
    to: 'server',
    plan: [
      { method: 'GET', path: '/items/1' },
      { method: 'GET', path: '/missing' },
      { method: 'POST', path: '/echo', body: '{"order":42,"note":"l7flow end to end"}' },
      { method: 'GET', path: '/fail' },
    ],
  },
  serverToBystander: { from: 'server', to: 'bystander', plan: [{ method: 'GET', path: '/from-server' }] },
  bystanderToClient: { from: 'bystander', to: 'client', plan: [{ method: 'GET', path: '/from-bystander' }] },
} as const satisfies Record<string, Connection>;

export type ConnectionName = keyof typeof connections;
export const connectionNames = Object.keys(connections) as ConnectionName[];

export type Annotations = Partial<Record<Role, L7Direction>>;

/**
 * The opt-in rule (ARCHITECTURE.md §1): a connection carries L7 data when its destination is
 * opted in for ingress (or both) or its source for egress (or both).
 */
export function spanKinds(annotations: Annotations, connection: Connection): ('CLIENT' | 'SERVER')[] {
  const kinds: ('CLIENT' | 'SERVER')[] = [];
  const from = annotations[connection.from];
  const to = annotations[connection.to];
  if (from === 'egress' || from === 'both') kinds.push('CLIENT');
  if (to === 'ingress' || to === 'both') kinds.push('SERVER');
  return kinds;
}

export function carriesL7(annotations: Annotations, connection: Connection): boolean {
  return spanKinds(annotations, connection).length > 0;
}

/** An opted-in Pod's port is mirrored in both directions, whatever the direction (Antrea #6902). */
export function mirrored(annotations: Annotations, connection: Connection): boolean {
  return annotations[connection.from] !== undefined || annotations[connection.to] !== undefined;
}

export interface ScenarioOutcome {
  /** What each connection's client saw. */
  readonly exchanges: Readonly<Record<ConnectionName, readonly ObservedExchange[]>>;
  /** EVE events the stand-in engine wrote (what the mirror let it see). */
  readonly eve: readonly EveHttpEvent[];
  readonly engineProblems: readonly string[];
  /** l7flow's metrics just before it was stopped. */
  readonly metrics: readonly MetricSample[];
  readonly exitCode: number | null;
  readonly ipfix: TsharkIpfixDecode;
  readonly spans: readonly ReceivedSpan[];
  readonly logs: readonly ReceivedLog[];
}

/** Stop functions run in reverse order, each once, errors ignored: safe from finally and afterAll. */
export class Cleanup {
  readonly #steps: (() => Promise<unknown>)[] = [];

  add(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) await step().catch(() => undefined);
  }
}

/** Polls `check` every 50 ms; on timeout the error carries `diagnose()`'s account of the state. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  diagnose: () => string | Promise<string>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${await diagnose()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sameRoles = (a: readonly string[], b: readonly string[]) => [...a].sort().join() === [...b].sort().join();

export async function runScenario(
  topology: E2eTopology,
  annotations: Annotations,
  cleanup: Cleanup,
): Promise<ScenarioOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'l7e2e-run-'));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  const files = { dir, eveSocket: join(dir, 'eve.sock'), debugFile: join(dir, 'records.jsonl') };
  // Traffic before l7flow starts leaves datapath flows cached in OVS, as a running node has:
  // opting a Pod in must also copy connections that such cached flows carry.
  await Promise.all(
    connectionNames.map((name) =>
      topology.exchange(connections[name].from, connections[name].to, connections[name].plan.slice(0, 1)),
    ),
  );
  await topology.flushConntrack();
  await writePodsFile(topology, dir, annotations);
  const otlp = await OtlpReceiver.start();
  cleanup.add(() => otlp.close());
  // Something must listen on the port (else ICMP errors); tshark decodes the capture.
  const sink = await TestCollector.udp();
  cleanup.add(() => sink.close());
  const configPath = await writeConfig(topology, files, { ipfixPort: sink.port, otlp: otlp.endpoint });
  const pcap = join(dir, 'ipfix.pcap');
  const opted = Object.keys(annotations) as Role[];

  // tshark takes a second or two to start capturing, l7flow a few seconds to load: overlap them.
  const engineStarting = StandInL7Engine.start({ iface: topology.target, httpPort });
  cleanup.add(async () => (await engineStarting.catch(() => undefined))?.stop());

  let outcome: Omit<ScenarioOutcome, 'ipfix' | 'spans' | 'logs'> | undefined;
  // The capture starts before l7flow, so it holds the templates of the session.
  await captureLoopbackUdp(sink.port, pcap, async () => {
    const agent = await E2eAgent.start(configPath);
    cleanup.add(() => agent.stop());
    const diagnose = async () =>
      [
        `l7flow log:\n${agent.stderr().split('\n').slice(-30).join('\n')}`,
        `records (debug exporter):\n${(await readFile(files.debugFile, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n')}`,
        `spans: ${otlp.spans.length}, IPFIX records: ${sink.records.length}, decode errors: ${sink.errors.join('; ')}`,
      ].join('\n');

    await waitFor('l7flow ready', () => agent.ready(), diagnose);
    await waitFor(
      `the mirror to copy exactly ${opted.join(', ')}`,
      async () => {
        const mirror = await topology.mirror(mirrorName);
        const installed = (await agent.metrics()).find(
          (m) => m.name === 'l7flow_k8s_mirror_pods' && m.labels.state === 'installed',
        );
        // OVSDB shows the row as soon as it is written; the gauge is set once applying is done.
        return (
          mirror !== undefined &&
          mirror.toTarget &&
          sameRoles(mirror.src, opted) &&
          sameRoles(mirror.dst, opted) &&
          installed?.value === opted.length
        );
      },
      async () => `mirror: ${JSON.stringify(await topology.mirror(mirrorName))}\n${await diagnose()}`,
    );
    const engine = await engineStarting;
    await engine.connect(files.eveSocket);
    const engineState = () =>
      `EVE written: ${JSON.stringify(engine.events)}\nengine problems: ${engine.problems.join('; ')}`;

    const exchanges = Object.fromEntries(
      await Promise.all(
        connectionNames.map(async (name) => {
          const { from, to, plan } = connections[name];
          return [name, await topology.exchange(from, to, plan)] as const;
        }),
      ),
    ) as Record<ConnectionName, ObservedExchange[]>;
    const clientOf = (name: ConnectionName) => ({
      ip: topology.pods[connections[name].from].ip,
      port: exchanges[name][0]?.localPort ?? 0,
    });

    // What the mirror copies reaches the engine...
    await waitFor(
      'the stand-in engine to log every mirrored transaction',
      () =>
        connectionNames.every((name) => {
          const { ip, port } = clientOf(name);
          const expected = mirrored(annotations, connections[name]) ? connections[name].plan.length : 0;
          return engine.eventsOf(ip, port).length === expected;
        }),
      async () => `${engineState()}\n${await diagnose()}`,
    );
    // ...and l7flow exports every connection conntrack saw, with its transactions when opted in.
    const transactionsExported = (name: ConnectionName) => {
      const { ip, port } = clientOf(name);
      const records = sink.records.filter(
        (r) =>
          r.values.some(([k, v]) => k === 'sourceIPv4Address' && v === ip) &&
          r.values.some(([k, v]) => k === 'sourceTransportPort' && v === port),
      );
      const keys = records.flatMap((r) => {
        const vals = r.values.find(([k]) => k === 'httpVals')?.[1];
        return typeof vals === 'string' && vals !== '' ? Object.keys(JSON.parse(vals) as object) : [];
      });
      return { records: records.length, transactions: keys.length };
    };
    // Mirrored events of connections not opted in: each must be dropped by k8s_l7 (or, if it
    // leaked, exported, which the test's assertions then report precisely).
    const filteredNames = connectionNames.filter(
      (name) => mirrored(annotations, connections[name]) && !carriesL7(annotations, connections[name]),
    );
    const filtered = filteredNames.reduce((sum, name) => sum + connections[name].plan.length, 0);
    const expectedSpans = connectionNames.reduce(
      (sum, name) => sum + spanKinds(annotations, connections[name]).length * connections[name].plan.length,
      0,
    );
    const notOptedIn = async () =>
      (await agent.metrics())
        .filter((m) => m.name === 'l7flow_records_dropped_total' && m.labels.reason === 'not_opted_in')
        .reduce((sum, m) => sum + m.value, 0);
    await waitFor(
      'l7flow to export every connection and to account for every transaction',
      async () =>
        connectionNames.every((name) => {
          const exported = transactionsExported(name);
          const wanted = carriesL7(annotations, connections[name]) ? connections[name].plan.length : 0;
          return exported.records > 0 && exported.transactions >= wanted;
        }) &&
        otlp.spans.length >= expectedSpans &&
        (await notOptedIn()) + filteredNames.reduce((sum, name) => sum + transactionsExported(name).transactions, 0) >=
          filtered,
      async () =>
        [
          ...connectionNames.map(
            (name) =>
              `${name}: ${JSON.stringify(transactionsExported(name))} (L7 ${carriesL7(annotations, connections[name])})`,
          ),
          `spans ${otlp.spans.length} of ${expectedSpans}; not_opted_in drops ${await notOptedIn()} of ${filtered}`,
          engineState(),
          await diagnose(),
        ].join('\n'),
    );

    const metrics = await agent.metrics();
    const exitCode = await agent.stop();
    await engine.stop();
    outcome = { exchanges, eve: engine.events, engineProblems: engine.problems, metrics, exitCode };
  });
  if (!outcome) throw new Error('the scenario did not run');
  // The OTLP exporter flushes at shutdown; what arrived by then is final.
  return { ...outcome, ipfix: await decodeIpfixCapture(pcap, sink.port), spans: [...otlp.spans], logs: [...otlp.logs] };
}
