import {
  FlowEndReason,
  FlowType,
  type FlowRecord,
  type HttpEvent,
  type HttpTransaction,
  type L7Direction,
  type L7Event,
  type PodRef,
} from '../../pipeline/records.js';

/**
 * Flow records for the OTLP exporter's tests and benchmark: a client Pod 10.1.0.5 talking to
 * a server Pod 10.1.0.9:8080 behind the Service 10.96.0.10:80, on node-a, at 2026-11-26
 * 12:00:00.123456 UTC.
 */

export const baseTimeUs = 1_795_694_400_123_456;

export function pod(name: string, l7Export?: L7Direction, extra: Partial<PodRef> = {}): PodRef {
  return {
    name,
    namespace: 'shop',
    uid: `uid-${name}`,
    node: 'node-a',
    labels: { 'app.kubernetes.io/name': `${name.split('-')[0]}-app` },
    workload: name.split('-')[0],
    ...(l7Export ? { l7Export } : {}),
    ...extra,
  };
}

export const clientPod = (l7Export?: L7Direction) => pod('frontend-7d9f', l7Export);
export const serverPod = (l7Export?: L7Direction) => pod('cart-5c4b', l7Export);

const tuple = { proto: 6, srcIp: '10.1.0.5', srcPort: 43512, dstIp: '10.1.0.9', dstPort: 8080 };

export function httpTx(http: Partial<HttpTransaction> = {}, extra: Partial<HttpEvent> = {}): HttpEvent {
  return {
    kind: 'http',
    timeUs: baseTimeUs,
    tuple,
    flowId: 1_234_567_890_123,
    txId: 0,
    http: {
      hostname: 'cart.shop.svc',
      url: '/cart/42?view=full',
      method: 'GET',
      protocol: 'HTTP/1.1',
      status: 200,
      userAgent: 'curl/8.5.0',
      contentType: 'application/json',
      length: 512,
      ...http,
    },
    ...extra,
  };
}

export function flow(l7: readonly L7Event[], extra: Partial<FlowRecord> = {}): FlowRecord {
  return {
    kind: 'flow',
    flowKey: 77,
    tuple,
    service: { ip: '10.96.0.10', port: 80, name: 'shop/cart:http' },
    startUs: baseTimeUs - 2_000_000,
    endUs: baseTimeUs + 1_000_000,
    endReason: FlowEndReason.endOfFlow,
    totals: { packets: 10, bytes: 2000, reversePackets: 8, reverseBytes: 6000 },
    deltas: { packets: 4, bytes: 900, reversePackets: 3, reverseBytes: 2500 },
    tcpState: 'TIME_WAIT',
    flowType: FlowType.intraNode,
    app: l7.length > 0 ? (l7[0]?.kind ?? '') : '',
    l7,
    l7Dropped: 0,
    ...extra,
  };
}
