import { SeverityNumber } from '@opentelemetry/api-logs';
import { describe, expect, it } from 'vitest';
import { baseTimeUs, clientPod, flow, httpTx, serverPod } from '../../test/support/otlp-records.js';
import type { DnsEvent, TlsEvent } from '../../pipeline/records.js';
import { isoTime, logSubject, mapFlowLog, type LogMapping } from './map-log.js';
import { ResourceCache } from './resources.js';

const mapping = (): LogMapping => ({
  nodeName: 'node-a',
  resources: new ResourceCache(''),
  scope: { name: 'l7flow', version: '0.1.0' },
});

const tls: TlsEvent = {
  kind: 'tls',
  timeUs: baseTimeUs,
  tuple: { proto: 6, srcIp: '10.1.0.5', srcPort: 43512, dstIp: '10.1.0.9', dstPort: 443 },
  tls: { sni: 'cart.shop', version: 'TLS 1.3' },
};
const dns = (rrname: string, rcode: string): DnsEvent => ({
  kind: 'dns',
  timeUs: baseTimeUs,
  tuple: { proto: 17, srcIp: '10.1.0.5', srcPort: 5353, dstIp: '10.96.0.53', dstPort: 53 },
  dns: { type: 'response', rrname, rcode },
});

describe('flow log record', () => {
  it('is an l7flow.flow event at the record end, INFO, with the flow in attributes', () => {
    const m = mapping();
    const record = flow([httpTx(), httpTx({ method: 'POST', status: undefined }, { txId: 1 })], {
      srcPod: clientPod('egress'),
      dstPod: serverPod('ingress'),
    });
    const log = mapFlowLog(record, logSubject(record, m).resource, baseTimeUs + 5_000_000, m);
    expect(log.eventName).toBe('l7flow.flow');
    expect(log.hrTime).toEqual([1_795_694_401, 123_456_000]);
    expect(log.hrTimeObserved).toEqual([1_795_694_405, 123_456_000]);
    expect(log.severityNumber).toBe(SeverityNumber.INFO);
    expect(log.severityText).toBe('INFO');
    expect(log.body).toBe('tcp 10.1.0.5:43512 -> 10.1.0.9:8080 http');
    expect(log.spanContext).toBeUndefined();
    expect(log.attributes).toEqual({
      'source.address': '10.1.0.5',
      'source.port': 43512,
      'destination.address': '10.1.0.9',
      'destination.port': 8080,
      'network.transport': 'tcp',
      'network.type': 'ipv4',
      'l7flow.flow.id': 77,
      'l7flow.flow.start': '2026-11-26T11:59:58.123456Z',
      'l7flow.flow.end_reason': 'end_of_flow',
      'l7flow.flow.type': 'intra_node',
      'l7flow.flow.tcp_state': 'TIME_WAIT',
      'l7flow.flow.packets': 10,
      'l7flow.flow.bytes': 2000,
      'l7flow.flow.reverse_packets': 8,
      'l7flow.flow.reverse_bytes': 6000,
      'l7flow.flow.packets_delta': 4,
      'l7flow.flow.bytes_delta': 900,
      'l7flow.flow.reverse_packets_delta': 3,
      'l7flow.flow.reverse_bytes_delta': 2500,
      'l7flow.service.address': '10.96.0.10',
      'l7flow.service.port': 80,
      'l7flow.service.name': 'shop/cart:http',
      'l7flow.source.k8s.pod.name': 'frontend-7d9f',
      'l7flow.source.k8s.pod.uid': 'uid-frontend-7d9f',
      'l7flow.source.k8s.namespace.name': 'shop',
      'l7flow.source.k8s.node.name': 'node-a',
      'l7flow.source.service.name': 'frontend',
      'l7flow.source.l7_export': 'egress',
      'l7flow.destination.k8s.pod.name': 'cart-5c4b',
      'l7flow.destination.k8s.pod.uid': 'uid-cart-5c4b',
      'l7flow.destination.k8s.namespace.name': 'shop',
      'l7flow.destination.k8s.node.name': 'node-a',
      'l7flow.destination.service.name': 'cart',
      'l7flow.destination.l7_export': 'ingress',
      'l7flow.l7.protocol': 'http',
      'l7flow.l7.transactions': 2,
      'l7flow.l7.dropped': 0,
      'l7flow.http.methods': ['GET', 'POST'],
      'l7flow.http.status_codes': [200, 0],
      'l7flow.http.hosts': ['cart.shop.svc'],
    });
  });

  it('summarises TLS and DNS transactions, and writes IPv6 endpoints in brackets', () => {
    const m = mapping();
    const v6 = { proto: 17, srcIp: 'fd00::5', srcPort: 5353, dstIp: 'fd00::53', dstPort: 53 };
    const record = flow([tls, dns('cart.shop', 'NOERROR'), dns('cart.shop', 'NXDOMAIN')], { tuple: v6, l7Dropped: 3 });
    const { attributes, body } = mapFlowLog(record, logSubject(record, m).resource, baseTimeUs, m);
    expect(body).toBe('udp [fd00::5]:5353 -> [fd00::53]:53 tls');
    expect(attributes).toMatchObject({
      'network.type': 'ipv6',
      'l7flow.l7.dropped': 3,
      'l7flow.tls.server_names': ['cart.shop'],
      'l7flow.tls.versions': ['TLS 1.3'],
      'l7flow.dns.queries': ['cart.shop'],
      'l7flow.dns.response_codes': ['NOERROR', 'NXDOMAIN'],
    });
    expect(attributes).not.toHaveProperty('l7flow.http.methods');
  });

  it('carries the span context it is given (the correlation with the HTTP span)', () => {
    const m = mapping();
    const record = flow([httpTx()], { dstPod: serverPod('ingress') });
    const span = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    expect(mapFlowLog(record, logSubject(record, m).resource, baseTimeUs, m, span).spanContext).toBe(span);
  });
});

describe('the resource of a flow log', () => {
  const podOf = (record: Parameters<typeof logSubject>[0]) => {
    const subject = logSubject(record, mapping());
    return [subject.resource.attributes['service.name'], subject.side];
  };

  it.each([
    [
      'the destination Pod when it is opted in for ingress',
      { srcPod: clientPod('both'), dstPod: serverPod('ingress') },
      ['cart', 'server'],
    ],
    [
      'the source Pod when only it is opted in (egress)',
      { srcPod: clientPod('egress'), dstPod: serverPod() },
      ['frontend', 'client'],
    ],
    ['the destination Pod when neither is opted in', { srcPod: clientPod(), dstPod: serverPod() }, ['cart', 'server']],
    ['the source Pod when it is the only one known', { srcPod: clientPod() }, ['frontend', 'client']],
    ['the agent on this node when no Pod is known', {}, ['l7flow', 'server']],
  ])('is %s', (_name, pods, expected) => {
    expect(podOf(flow([httpTx()], pods))).toEqual(expected);
  });

  it('names the node on the agent resource', () => {
    expect(logSubject(flow([]), mapping()).resource.attributes).toEqual({
      'service.name': 'l7flow',
      'k8s.node.name': 'node-a',
    });
  });
});

describe('isoTime', () => {
  it('keeps the microseconds', () => {
    expect(isoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6) * 1000 + 789)).toBe('2026-01-02T03:04:05.006789Z');
  });
});
