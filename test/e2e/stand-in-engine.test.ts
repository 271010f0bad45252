import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import { readEkLine, suricataTimestamp, TransactionPairer, type HttpPacket } from '../support/e2e-l7-engine.js';

/**
 * The end-to-end test's stand-in for Suricata, on real tshark output (test/fixtures/e2e):
 * the EVE lines it writes must be what Suricata writes for the same exchange (reference/eve.md:
 * key order, timestamp form, src = client, tx_id from 0 per flow, hostname without the port).
 */
const ekLines = readFileSync(join(packageRoot, 'test', 'fixtures', 'e2e', 'tshark-http.ek.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line !== '');

const packets = () => ekLines.map(readEkLine).filter((p): p is HttpPacket => p !== undefined && typeof p !== 'string');

describe('stand-in L7 engine', () => {
  it('reads the HTTP packets of tshark -T ek and skips the bulk-index lines', () => {
    const read = ekLines.map(readEkLine);
    expect(read.filter((p) => p === undefined)).toHaveLength(8);
    expect(packets()).toHaveLength(8);
    expect(packets()[0]).toEqual({
      frame: 6,
      time: '1795673378.411770641',
      stream: 0,
      srcIp: '10.199.0.1',
      srcPort: 54646,
      dstIp: '10.199.0.2',
      dstPort: 8080,
      request: { method: 'GET', uri: '/items/1', version: 'HTTP/1.1', host: '10.199.0.2:8080', userAgent: 'e2e/1' },
    });
    expect(packets()[1]?.response).toEqual({ status: 200, requestFrame: 6, contentType: 'text/plain' });
    expect(readEkLine('{"layers":{"frame_number":["9"]}}')).toBe('frame 9: not exactly one HTTP message');
    expect(readEkLine('{"layers":')).toMatch(/^not JSON/);
  });

  it('writes one Suricata http event per answered request, numbered per connection', () => {
    const pairer = new TransactionPairer(1_000_000, 'tap0');
    const events = packets().map((p) => pairer.add(p));
    expect(events.filter((e) => e === undefined)).toHaveLength(4); // the requests
    const written = events.filter((e) => e !== undefined).map((e) => JSON.stringify(e));
    // Suricata 7's layout (corpus/eve/antrea-docs), written out by hand for this exchange.
    expect(written[0]).toBe(
      '{"timestamp":"2026-11-26T06:09:38.423446+0000","flow_id":1000000,"in_iface":"tap0","event_type":"http",' +
        '"src_ip":"10.199.0.1","src_port":54646,"dest_ip":"10.199.0.2","dest_port":8080,"proto":"TCP",' +
        '"pkt_src":"wire/pcap","tx_id":0,"http":{"hostname":"10.199.0.2","http_port":8080,"url":"/items/1",' +
        '"http_user_agent":"e2e/1","http_content_type":"text/plain","http_method":"GET","protocol":"HTTP/1.1",' +
        '"status":200,"length":0}}',
    );
    const summary = written.map((line) => {
      const e = JSON.parse(line) as { tx_id: number; http: { http_method: string; url: string; status: number } };
      return `${e.tx_id} ${e.http.http_method} ${e.http.url} ${e.http.status}`;
    });
    expect(summary).toEqual(['0 GET /items/1 200', '1 GET /missing 404', '2 POST /echo 200', '3 GET /fail 500']);
  });

  it('counts transactions per TCP stream and reports a response to no request it saw', () => {
    const pairer = new TransactionPairer(0, 'tap0');
    const base = { time: '1.5', srcIp: '10.0.0.1', srcPort: 40000, dstIp: '10.0.0.2', dstPort: 80 };
    const request = (frame: number, stream: number): HttpPacket => ({
      ...base,
      frame,
      stream,
      request: { method: 'GET', uri: `/${frame}`, version: 'HTTP/1.1' },
    });
    const response = (frame: number, stream: number, requestFrame: number): HttpPacket => ({
      ...base,
      frame,
      stream,
      srcIp: base.dstIp,
      srcPort: base.dstPort,
      dstIp: base.srcIp,
      dstPort: base.srcPort,
      response: { status: 204, requestFrame },
    });
    pairer.add(request(1, 0));
    pairer.add(request(2, 1));
    const second = pairer.add(response(3, 1, 2));
    const first = pairer.add(response(4, 0, 1));
    expect([first, second].map((e) => (typeof e === 'object' ? [e.flow_id, e.tx_id, e.src_port] : e))).toEqual([
      [0, 0, 40000],
      [1, 0, 40000],
    ]);
    expect(pairer.add(response(5, 0, 1))).toBe('frame 5: a response to frame 1, which is no request seen');
  });

  it('formats timestamps as Suricata does: microseconds, UTC offset +0000', () => {
    expect(suricataTimestamp('1795673378.423446103')).toBe('2026-11-26T06:09:38.423446+0000');
    expect(suricataTimestamp('1795673378.5')).toBe('2026-11-26T06:09:38.500000+0000');
    expect(suricataTimestamp('0')).toBe('1970-01-01T00:00:00.000000+0000');
  });
});
