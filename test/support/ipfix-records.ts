import fc from 'fast-check';
import { canonicalIp } from '../../pipeline/ip.js';
import {
  FlowType,
  type FlowRecord,
  type HttpEvent,
  type HttpTransaction,
  type PodRef,
} from '../../pipeline/records.js';

/** Flow records for the IPFIX exporter's tests, and what Antrea's template should carry for them. */

const pod = (name: string, namespace: string, node: string): PodRef => ({
  name,
  namespace,
  uid: `uid-${name}`,
  node,
  labels: { app: name },
});

/** A plausible IPv4 HTTP connection between two Pods through a Service; override any field. */
export function ipfixFlow(overrides: Partial<FlowRecord> = {}): FlowRecord {
  return {
    kind: 'flow',
    flowKey: 4242,
    tuple: { proto: 6, srcIp: '10.244.1.5', srcPort: 43512, dstIp: '10.244.2.7', dstPort: 8080 },
    service: { ip: '10.96.0.10', port: 80, name: 'shop/web:http' },
    startUs: 1_764_158_400_250_000,
    endUs: 1_764_158_405_750_000,
    endReason: 2,
    totals: { packets: 12, bytes: 3456, reversePackets: 10, reverseBytes: 98765 },
    deltas: { packets: 5, bytes: 1000, reversePackets: 4, reverseBytes: 50000 },
    tcpState: 'ESTABLISHED',
    srcPod: pod('client-7d9f', 'shop', 'node-a'),
    dstPod: pod('web-5c4b', 'shop', 'node-b'),
    flowType: FlowType.interNode,
    app: 'http',
    l7: [],
    l7Dropped: 0,
    ...overrides,
  };
}

export function httpTx(
  txId: number | undefined,
  http: HttpTransaction = {},
  timeUs = 1_764_158_401_000_000,
): HttpEvent {
  return {
    kind: 'http',
    timeUs,
    tuple: { proto: 6, srcIp: '10.244.1.5', srcPort: 43512, dstIp: '10.244.2.7', dstPort: 8080 },
    flowId: 99,
    ...(txId === undefined ? {} : { txId }),
    http: {
      hostname: 'web.shop',
      url: `/items/${txId ?? 'x'}`,
      method: 'GET',
      protocol: 'HTTP/1.1',
      status: 200,
      userAgent: 'curl/8.5.0',
      contentType: 'application/json',
      length: 512,
      ...http,
    },
  };
}

/**
 * What the Antrea template must carry for `flow`, written from the integration decisions
 * (not from the encoder): absent Pods and Service give "" / 0 / 0.0.0.0, policy elements
 * are empty, deltas are zero on continuation records.
 */
export function antreaExpectations(
  flow: FlowRecord,
  options: { continuation?: boolean } = {},
): Record<string, unknown> {
  const v6 = flow.tuple.srcIp.includes(':');
  const zeroDeltas = options.continuation === true;
  const serviceIp = flow.service?.ip;
  return {
    flowStartSeconds: Math.floor(flow.startUs / 1e6),
    flowEndSeconds: Math.floor(flow.endUs / 1e6),
    flowEndReason: flow.endReason,
    sourceTransportPort: flow.tuple.srcPort,
    destinationTransportPort: flow.tuple.dstPort,
    protocolIdentifier: flow.tuple.proto,
    packetTotalCount: flow.totals.packets,
    octetTotalCount: flow.totals.bytes,
    packetDeltaCount: zeroDeltas ? 0 : flow.deltas.packets,
    octetDeltaCount: zeroDeltas ? 0 : flow.deltas.bytes,
    [v6 ? 'sourceIPv6Address' : 'sourceIPv4Address']: flow.tuple.srcIp,
    [v6 ? 'destinationIPv6Address' : 'destinationIPv4Address']: flow.tuple.dstIp,
    reversePacketTotalCount: flow.totals.reversePackets,
    reverseOctetTotalCount: flow.totals.reverseBytes,
    reversePacketDeltaCount: zeroDeltas ? 0 : flow.deltas.reversePackets,
    reverseOctetDeltaCount: zeroDeltas ? 0 : flow.deltas.reverseBytes,
    sourcePodName: flow.srcPod?.name ?? '',
    sourcePodNamespace: flow.srcPod?.namespace ?? '',
    sourceNodeName: flow.srcPod?.node ?? '',
    destinationPodName: flow.dstPod?.name ?? '',
    destinationPodNamespace: flow.dstPod?.namespace ?? '',
    destinationNodeName: flow.dstPod?.node ?? '',
    destinationServicePort: flow.service?.port ?? 0,
    destinationServicePortName: flow.service?.name ?? '',
    ingressNetworkPolicyName: '',
    ingressNetworkPolicyNamespace: '',
    ingressNetworkPolicyType: 0,
    ingressNetworkPolicyRuleName: '',
    ingressNetworkPolicyRuleAction: 0,
    egressNetworkPolicyName: '',
    egressNetworkPolicyNamespace: '',
    egressNetworkPolicyType: 0,
    egressNetworkPolicyRuleName: '',
    egressNetworkPolicyRuleAction: 0,
    tcpState: flow.tcpState ?? '',
    flowType: flow.flowType,
    egressName: '',
    egressIP: '',
    appProtocolName: flow.app,
    egressNodeName: '',
    ...(v6
      ? { destinationClusterIPv6: serviceIp?.includes(':') ? serviceIp : '::' }
      : { destinationClusterIPv4: serviceIp !== undefined && !serviceIp.includes(':') ? serviceIp : '0.0.0.0' }),
  };
}

/** Antrea's element order in its agent template (reference antrea.md §7), IPv4. */
export const antreaIpv4Order = [
  'flowStartSeconds',
  'flowEndSeconds',
  'flowEndReason',
  'sourceTransportPort',
  'destinationTransportPort',
  'protocolIdentifier',
  'packetTotalCount',
  'octetTotalCount',
  'packetDeltaCount',
  'octetDeltaCount',
  'sourceIPv4Address',
  'destinationIPv4Address',
  'reversePacketTotalCount',
  'reverseOctetTotalCount',
  'reversePacketDeltaCount',
  'reverseOctetDeltaCount',
  'sourcePodName',
  'sourcePodNamespace',
  'sourceNodeName',
  'destinationPodName',
  'destinationPodNamespace',
  'destinationNodeName',
  'destinationServicePort',
  'destinationServicePortName',
  'ingressNetworkPolicyName',
  'ingressNetworkPolicyNamespace',
  'ingressNetworkPolicyType',
  'ingressNetworkPolicyRuleName',
  'ingressNetworkPolicyRuleAction',
  'egressNetworkPolicyName',
  'egressNetworkPolicyNamespace',
  'egressNetworkPolicyType',
  'egressNetworkPolicyRuleName',
  'egressNetworkPolicyRuleAction',
  'tcpState',
  'flowType',
  'egressName',
  'egressIP',
  'appProtocolName',
  'httpVals',
  'egressNodeName',
  'destinationClusterIPv4',
] as const;

// ---- fast-check arbitraries: valid flow records of every shape the exporter must take ----

const ipv4 = fc.ipV4();
// Records carry canonical addresses (pipeline/ip.ts); fast-check writes every valid form.
const ipv6 = fc.ipV6().map((text) => canonicalIp(text) ?? '::');
const u16 = fc.integer({ min: 0, max: 0xffff });
const counter = fc.maxSafeNat();
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/);

const podArb: fc.Arbitrary<PodRef> = fc.record({
  name,
  namespace: name,
  uid: fc.uuid(),
  node: name,
  labels: fc.constant({}),
});

const httpArb: fc.Arbitrary<HttpTransaction> = fc.record(
  {
    hostname: text,
    url: fc.string({ unit: 'grapheme', maxLength: 300 }),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
    protocol: fc.constantFrom('HTTP/1.0', 'HTTP/1.1'),
    status: fc.integer({ min: 100, max: 599 }),
    userAgent: text,
    contentType: text,
    length: fc.nat({ max: 2 ** 31 }),
  },
  { requiredKeys: [] },
);

export function flowArb(options: { maxTransactions?: number } = {}): fc.Arbitrary<FlowRecord> {
  return fc
    .record({
      v6: fc.boolean(),
      src4: ipv4,
      dst4: ipv4,
      src6: ipv6,
      dst6: ipv6,
      proto: fc.constantFrom(6, 17, 1, 58, 132),
      srcPort: u16,
      dstPort: u16,
      flowKey: fc.maxSafeNat(),
      startUs: fc.integer({ min: 0, max: 4_000_000_000 * 1e6 }),
      duration: fc.integer({ min: 0, max: 86_400_000_000 }),
      endReason: fc.constantFrom(1, 2, 3, 4, 5),
      totals: fc.record({ packets: counter, bytes: counter, reversePackets: counter, reverseBytes: counter }),
      deltas: fc.record({ packets: counter, bytes: counter, reversePackets: counter, reverseBytes: counter }),
      tcpState: fc.option(fc.constantFrom('ESTABLISHED', 'TIME_WAIT', 'CLOSE', 'SYN_SENT'), { nil: undefined }),
      srcPod: fc.option(podArb, { nil: undefined }),
      dstPod: fc.option(podArb, { nil: undefined }),
      service: fc.option(fc.record({ port: u16, name: fc.option(text, { nil: undefined }) }), { nil: undefined }),
      flowType: fc.constantFrom(0, 1, 2, 3, 4),
      transactions: fc.array(
        fc.record({ txId: fc.option(fc.nat({ max: 50 }), { nil: undefined }), http: httpArb, timeUs: fc.nat() }),
        { maxLength: options.maxTransactions ?? 6 },
      ),
    })
    .map((r): FlowRecord => {
      const srcIp = r.v6 ? r.src6 : r.src4;
      const dstIp = r.v6 ? r.dst6 : r.dst4;
      const tuple = { proto: r.proto, srcIp, srcPort: r.srcPort, dstIp, dstPort: r.dstPort };
      const l7: HttpEvent[] = r.transactions.map((t) => ({
        kind: 'http',
        timeUs: t.timeUs,
        tuple,
        ...(t.txId === undefined ? {} : { txId: t.txId }),
        http: t.http,
      }));
      return {
        kind: 'flow',
        flowKey: r.flowKey,
        tuple,
        ...(r.service
          ? {
              service: {
                ip: r.v6 ? r.dst6 : r.dst4,
                port: r.service.port,
                ...(r.service.name === undefined ? {} : { name: r.service.name }),
              },
            }
          : {}),
        startUs: r.startUs,
        endUs: r.startUs + r.duration,
        endReason: r.endReason,
        totals: r.totals,
        deltas: r.deltas,
        ...(r.tcpState === undefined ? {} : { tcpState: r.tcpState }),
        ...(r.srcPod ? { srcPod: r.srcPod } : {}),
        ...(r.dstPod ? { dstPod: r.dstPod } : {}),
        flowType: r.flowType,
        app: l7.length > 0 ? 'http' : '',
        l7,
        l7Dropped: 0,
      };
    });
}
