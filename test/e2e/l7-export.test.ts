import { afterAll, beforeAll, expect, it } from 'vitest';
import { nodeName, podNames } from '../support/e2e-agent.js';
import { field, type TsharkIpfixRecord } from '../support/e2e-ipfix-pdml.js';
import {
  carriesL7,
  Cleanup,
  connectionNames,
  connections,
  mirrored,
  runScenario,
  spanKinds,
  type Annotations,
  type ConnectionName,
  type ScenarioOutcome,
} from '../support/e2e-scenario.js';
import { ovsLockWaitMs } from '../support/ovs-lock.js';
import { E2eTopology, httpPort, topologyCommands, userAgent, type ObservedExchange } from '../support/e2e-topology.js';
import type { ReceivedSpan } from '../support/otlp-receiver.js';
import { describeWith } from '../support/requirements.js';

/**
 * Issue #9, end to end on real components. One node: a private Open vSwitch (userspace
 * datapath) with three network namespaces as the Pods client, server and bystander, userspace
 * conntrack in zone 65520, and a mirror target port. l7flow runs as its own process on a pods
 * file, installs the OVSDB mirror for the opted-in Pods, reads the OVS conntrack table and
 * exports IPFIX over UDP and OTLP. A stand-in for Suricata captures the target port with
 * tshark's HTTP dissector and writes EVE events to l7flow's socket: it sees only what the
 * mirror copies. Real HTTP: four requests on one keep-alive connection (200, 404, POST with a
 * body, 500) from the client to the server, the server calling the bystander, and the
 * bystander calling the client.
 *
 * Expectations are written from the client's own view of each exchange, the opt-in rule
 * (ARCHITECTURE.md §1), Antrea's IPFIX elements and httpVals keys (exporter/ipfix/README.md),
 * the IANA HTTP elements, and the OTLP span mapping (exporter/otlp/README.md). tshark decodes
 * the IPFIX datagrams captured on loopback; a gRPC server decodes the OTLP bytes.
 */

interface Scenario {
  readonly name: string;
  readonly annotations: Annotations;
}

const scenarios: readonly Scenario[] = [
  { name: 'ingress: the server Pod is annotated ingress', annotations: { server: 'ingress' } },
  { name: 'egress: the client Pod is annotated egress', annotations: { client: 'egress' } },
  // With both Pods `both`, every connection among the three Pods would carry L7 and none would
  // show that a connection not opted in stays without it. The server's `ingress` still gives
  // the client's calls their SERVER span while its own call to the bystander stays plain; the
  // client's `both` also covers the bystander's call to it (its ingress half).
  {
    name: 'both: the client Pod is annotated both, the server Pod ingress',
    annotations: { client: 'both', server: 'ingress' },
  },
];

/** PEN 56506 element ids (Antrea's registry). */
const antrea = {
  sourcePodNamespace: 100,
  sourcePodName: 101,
  destinationPodNamespace: 102,
  destinationPodName: 103,
  sourceNodeName: 104,
  destinationNodeName: 105,
  flowType: 137,
  appProtocolName: 155,
  httpVals: 156,
} as const;

/** Antrea's httpVals value for one exchange, as the client saw it. */
function httpVal(exchange: ObservedExchange, serverIp: string) {
  return {
    hostname: serverIp,
    url: exchange.path,
    http_user_agent: userAgent,
    http_content_type: exchange.contentType,
    http_method: exchange.method,
    protocol: 'HTTP/1.1',
    status: exchange.status,
    length: exchange.length,
  };
}

/** An attribute's value as text (OTLP ints arrive as decimal strings). */
function text(value: Record<string, unknown> | undefined): string | undefined {
  const v = value?.stringValue ?? value?.intValue;
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

const attribute = (span: ReceivedSpan, key: string) => text(span.attributes[key]);

describeWith(
  { root: true, commands: [...topologyCommands, 'tshark'] },
  'end to end: l7flow on a real OVS, conntrack, mirror and HTTP traffic',
  () => {
    let topology: E2eTopology | undefined;
    const cleanup = new Cleanup();
    const topo = () => topology!;

    beforeAll(async () => {
      topology = await E2eTopology.start();
    }, ovsLockWaitMs + 60_000);

    afterAll(async () => {
      await cleanup.run();
      await topology?.destroy();
    });

    for (const scenario of scenarios) {
      it(
        scenario.name,
        async () => {
          let outcome: ScenarioOutcome;
          try {
            outcome = await runScenario(topo(), scenario.annotations, cleanup);
          } finally {
            await cleanup.run();
          }
          expectTraffic(outcome);
          expect(outcome.exitCode).toBe(0);
          expectEngine(scenario.annotations, outcome);
          expectMetrics(scenario.annotations, outcome);
          expectIpfix(scenario.annotations, outcome);
          expectSpans(scenario.annotations, outcome);
          expectFlowLogs(scenario.annotations, outcome);
        },
        90_000,
      );
    }

    /** The traffic itself: what the servers answer, and one keep-alive connection per exchange. */
    function expectTraffic(outcome: ScenarioOutcome): void {
      const main = outcome.exchanges.main;
      expect(main.map((x) => x.status)).toEqual([200, 404, 200, 500]);
      expect(main[2]!.length).toBe(Buffer.byteLength(main[2]!.body ?? ''));
      expect(new Set(main.map((x) => x.localPort)).size).toBe(1);
      for (const name of connectionNames) expect(outcome.exchanges[name]).toHaveLength(connections[name].plan.length);
    }

    /** The stand-in engine saw exactly the mirrored connections, each transaction once. */
    function expectEngine(annotations: Annotations, outcome: ScenarioOutcome): void {
      expect(outcome.engineProblems).toEqual([]);
      for (const name of connectionNames) {
        const client = topo().pods[connections[name].from];
        const port = outcome.exchanges[name][0]!.localPort;
        const events = outcome.eve.filter((e) => e.src_ip === client.ip && e.src_port === port);
        const expected = mirrored(annotations, connections[name]) ? outcome.exchanges[name] : [];
        expect({ name, txIds: events.map((e) => e.tx_id) }).toEqual({ name, txIds: expected.map((_, i) => i) });
      }
    }

    /** Nothing was lost: the only records dropped are the L7 events of connections not opted in. */
    function expectMetrics(annotations: Annotations, outcome: ScenarioOutcome): void {
      const filtered = connectionNames
        .filter((name) => mirrored(annotations, connections[name]) && !carriesL7(annotations, connections[name]))
        .reduce((sum, name) => sum + outcome.exchanges[name].length, 0);
      const dropped = outcome.metrics
        .filter((m) => m.name === 'l7flow_records_dropped_total' && m.value > 0)
        .map((m) => ({ component: m.labels.component, reason: m.labels.reason, value: m.value }));
      expect(dropped).toEqual(filtered > 0 ? [{ component: 'k8s_l7', reason: 'not_opted_in', value: filtered }] : []);
      const eveEvents = outcome.metrics.find((m) => m.name === 'l7flow_eve_events_total' && m.labels.type === 'http');
      expect(eveEvents?.value).toBe(outcome.eve.length);
    }

    function recordsOf(outcome: ScenarioOutcome, name: ConnectionName): TsharkIpfixRecord[] {
      const { from, to } = connections[name];
      const port = String(outcome.exchanges[name][0]!.localPort);
      return outcome.ipfix.records.filter(
        (r) =>
          field(r, 'cflow.srcaddr') === topo().pods[from].ip &&
          field(r, 'cflow.srcport') === port &&
          field(r, 'cflow.dstaddr') === topo().pods[to].ip &&
          field(r, 'cflow.dstport') === String(httpPort) &&
          field(r, 'cflow.protocol') === '6',
      );
    }

    function expectIpfix(annotations: Annotations, outcome: ScenarioOutcome): void {
      expect(outcome.ipfix.expertInfos).toEqual([]);
      const httpRecords = outcome.ipfix.records.filter((r) => field(r, 'cflow.http_request_method') !== undefined);
      for (const name of connectionNames) {
        const { from, to } = connections[name];
        const records = recordsOf(outcome, name);
        expect(records.length, `${name}: flow records`).toBeGreaterThan(0);
        for (const record of records) {
          const pen = (id: number) => record.antrea.get(id) ?? '';
          expect({
            name,
            source: [pen(antrea.sourcePodNamespace), pen(antrea.sourcePodName), pen(antrea.sourceNodeName)],
            destination: [
              pen(antrea.destinationPodNamespace),
              pen(antrea.destinationPodName),
              pen(antrea.destinationNodeName),
            ],
            // Both Pods on this node: intra-node (1).
            flowType: [...(record.antreaBytes.get(antrea.flowType) ?? [])],
          }).toEqual({
            name,
            source: [podNames[from].namespace, podNames[from].name, nodeName],
            destination: [podNames[to].namespace, podNames[to].name, nodeName],
            flowType: [1],
          });
        }
        const flowIds = new Set(records.map((r) => field(r, 'cflow.flow_id')));
        const iana = httpRecords.filter((r) => flowIds.has(field(r, 'cflow.flow_id')));
        const httpValsTexts = records.map((r) => r.antrea.get(antrea.httpVals) ?? '').filter((text) => text !== '');

        if (!carriesL7(annotations, connections[name])) {
          expect({ name, app: records.map((r) => r.antrea.get(antrea.appProtocolName) ?? '') }).toEqual({
            name,
            app: records.map(() => ''),
          });
          expect({ name, httpVals: httpValsTexts, iana: iana.length }).toEqual({ name, httpVals: [], iana: 0 });
          continue;
        }

        const serverIp = topo().pods[to].ip;
        const exchanges = outcome.exchanges[name];
        // Every record that carries transactions says http; each transaction is in exactly one record.
        for (const record of records.filter((r) => r.antrea.has(antrea.httpVals)))
          expect(record.antrea.get(antrea.appProtocolName)).toBe('http');
        const objects = httpValsTexts.map((text) => JSON.parse(text) as Record<string, unknown>);
        const keys = objects.flatMap((o) => Object.keys(o));
        expect(keys.sort()).toEqual(exchanges.map((_, i) => String(i)).sort());
        expect(Object.assign({}, ...objects)).toEqual(
          Object.fromEntries(exchanges.map((x, i) => [String(i), httpVal(x, serverIp)])),
        );

        // One IANA HTTP record per transaction, joined to its flow by flowId.
        const ianaSeen = iana.map((r) => ({
          method: field(r, 'cflow.http_request_method'),
          target: field(r, 'cflow.http_request_target'),
          host: field(r, 'cflow.http_request_host'),
          version: field(r, 'cflow.http_message_version'),
          status: field(r, 'cflow.http_statuscode'),
          userAgent: field(r, 'cflow.http_user_agent'),
          contentType: field(r, 'cflow.http_content_type'),
        }));
        const ianaExpected = exchanges.map((x) => ({
          method: x.method,
          target: x.path,
          host: serverIp,
          version: 'HTTP/1.1',
          status: String(x.status),
          userAgent,
          contentType: x.contentType,
        }));
        const byTarget = (a: { target?: string }, b: { target?: string }) =>
          (a.target ?? '').localeCompare(b.target ?? '');
        expect(ianaSeen.sort(byTarget)).toEqual(ianaExpected.sort(byTarget));
      }
    }

    function expectSpans(annotations: Annotations, outcome: ScenarioOutcome): void {
      const summary = (span: ReceivedSpan) => ({
        kind: span.kind === 2 ? 'SERVER' : span.kind === 3 ? 'CLIENT' : `kind ${span.kind}`,
        pod: text(span.resource['k8s.pod.name']),
        namespace: text(span.resource['k8s.namespace.name']),
        name: span.name,
        method: attribute(span, 'http.request.method'),
        url: attribute(span, span.kind === 2 ? 'url.path' : 'url.full'),
        status: attribute(span, 'http.response.status_code'),
        error: span.status.code === 2,
      });
      const expected = connectionNames.flatMap((name) => {
        const { from, to } = connections[name];
        const server = topo().pods[to];
        return spanKinds(annotations, connections[name]).flatMap((kind) =>
          outcome.exchanges[name].map((x) => ({
            kind,
            pod: podNames[kind === 'SERVER' ? to : from].name,
            namespace: podNames[kind === 'SERVER' ? to : from].namespace,
            // Span names use the route template when one matches (routes: [/items/{id}]).
            name: x.path.startsWith('/items/') ? `${x.method} /items/{id}` : x.method,
            method: x.method,
            url: kind === 'SERVER' ? x.path : `http://${server.ip}:${httpPort}${x.path}`,
            status: String(x.status),
            // Server errors are 5xx; a client also counts 4xx as errors.
            error: x.status >= (kind === 'SERVER' ? 500 : 400),
          })),
        );
      });
      const order = (a: { kind: string; url?: string }, b: { kind: string; url?: string }) =>
        `${a.kind} ${a.url ?? ''}`.localeCompare(`${b.kind} ${b.url ?? ''}`);
      expect(outcome.spans.map(summary).sort(order)).toEqual(expected.sort(order));

      // With both ends opted in, the SERVER span is the child of the CLIENT span, in one trace.
      const clients = outcome.spans.filter((s) => s.kind === 3);
      const pairs = outcome.spans
        .filter((s) => s.kind === 2)
        .flatMap((server) => {
          const path = attribute(server, 'url.path');
          const client = clients.find((c) => String(attribute(c, 'url.full')).endsWith(`:${httpPort}${path}`));
          return client ? [{ path, server, client }] : [];
        });
      for (const { path, server, client } of pairs)
        expect({ path, trace: server.traceId, parent: server.parentSpanId }).toEqual({
          path,
          trace: client.traceId,
          parent: client.spanId,
        });
      const bothEnds = connectionNames.filter((name) => spanKinds(annotations, connections[name]).length === 2);
      expect(pairs.length).toBe(bothEnds.reduce((sum, name) => sum + outcome.exchanges[name].length, 0));
    }

    /** One OTLP log per flow record; only opted-in connections count transactions. */
    function expectFlowLogs(annotations: Annotations, outcome: ScenarioOutcome): void {
      for (const name of connectionNames) {
        const client = topo().pods[connections[name].from];
        const port = String(outcome.exchanges[name][0]!.localPort);
        const logs = outcome.logs.filter(
          (l) => text(l.attributes['source.address']) === client.ip && text(l.attributes['source.port']) === port,
        );
        const transactions = logs.reduce(
          (sum, l) => sum + Number(text(l.attributes['l7flow.l7.transactions']) ?? 0),
          0,
        );
        expect({ name, logs: logs.length, transactions }).toEqual({
          name,
          logs: recordsOf(outcome, name).length,
          transactions: carriesL7(annotations, connections[name]) ? outcome.exchanges[name].length : 0,
        });
      }
    }
  },
);
