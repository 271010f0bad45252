import { describe, expect, it } from 'vitest';
import type { FlowRecord, HttpEvent } from '../../pipeline/records.js';
import { formatRecord } from './text-format.js';

const at = Date.UTC(2026, 10, 26, 10, 15, 2, 140) * 1000;
const pod = (name: string) => ({ name, namespace: 'shop', uid: name, node: 'n1', labels: {} });
const http = (txId: number, method: string, url: string, status?: number): HttpEvent => ({
  kind: 'http',
  timeUs: at,
  tuple: { proto: 6, srcIp: '10.10.1.4', srcPort: 51824, dstIp: '10.96.0.20', dstPort: 80 },
  txId,
  http: { method, hostname: 'web.shop', url, ...(status === undefined ? {} : { status }) },
});

describe('text format', () => {
  it('puts a flow on one line: time, pods and addresses, Service, transactions, bytes, end', () => {
    const flow: FlowRecord = {
      kind: 'flow',
      flowKey: 7,
      tuple: { proto: 6, srcIp: '10.10.1.4', srcPort: 51824, dstIp: '10.10.2.9', dstPort: 8080 },
      service: { ip: '10.96.0.20', port: 80 },
      startUs: at - 1e6,
      endUs: at,
      endReason: 3,
      totals: { packets: 12, bytes: 1960, reversePackets: 10, reverseBytes: 48_200 },
      deltas: { packets: 12, bytes: 1960, reversePackets: 10, reverseBytes: 48_200 },
      tcpState: 'TIME_WAIT',
      srcPod: pod('client'),
      dstPod: pod('web'),
      flowType: 1,
      app: 'http',
      l7: [http(0, 'GET', '/api/cart', 200), http(1, 'POST', '/api/checkout')],
      l7Dropped: 0,
    };
    expect(formatRecord(flow)).toBe(
      '2026-11-26T10:15:02.140Z flow#7 shop/client(10.10.1.4:51824) -> shop/web(10.10.2.9:8080) tcp via 10.96.0.20:80 ' +
        'http: GET web.shop/api/cart 200, POST web.shop/api/checkout no response 2.0 kB -> 48.2 kB <- [end TIME_WAIT]',
    );
  });

  it('writes a single event with bracketed IPv6 addresses', () => {
    const event: HttpEvent = {
      ...http(0, 'GET', '/'),
      tuple: { proto: 6, srcIp: 'fd00::1', srcPort: 1, dstIp: 'fd00::2', dstPort: 80 },
    };
    expect(formatRecord(event)).toBe(
      '2026-11-26T10:15:02.140Z http [fd00::1]:1 -> [fd00::2]:80 tcp GET web.shop/ no response',
    );
  });
});

describe('text format and untrusted text (docs/security.md)', () => {
  it('escapes control characters from the traffic, so that a record stays one harmless line', () => {
    const forged = http(0, 'GET', '/a\n2026-11-26T10:15:02.140Z http 10.0.0.1:1 -> 10.0.0.2:80 tcp GET forged 200');
    const painted: HttpEvent = {
      ...http(1, 'GET', '/b'),
      http: { method: 'GET', hostname: '\u001b[2J\u001b]0;owned\u0007web', url: '/\r\u009b31m\u2028', status: 200 },
    };
    expect(formatRecord(forged)).toBe(
      '2026-11-26T10:15:02.140Z http 10.10.1.4:51824 -> 10.96.0.20:80 tcp GET ' +
        'web.shop/a\\x0a2026-11-26T10:15:02.140Z http 10.0.0.1:1 -> 10.0.0.2:80 tcp GET forged 200 no response',
    );
    expect(formatRecord(painted)).toBe(
      '2026-11-26T10:15:02.140Z http 10.10.1.4:51824 -> 10.96.0.20:80 tcp GET ' +
        '\\x1b[2J\\x1b]0;owned\\x07web/\\x0d\\x9b31m\\u2028 200',
    );
  });

  it('leaves other text as it is, non-ASCII included', () => {
    expect(formatRecord(http(0, 'GET', '/café/ünïcode?q=ä', 200))).toBe(
      '2026-11-26T10:15:02.140Z http 10.10.1.4:51824 -> 10.96.0.20:80 tcp GET web.shop/café/ünïcode?q=ä 200',
    );
  });
});
