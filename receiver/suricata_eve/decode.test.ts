import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EveDecoder } from './decode.js';
import { parseSuricataTimestamp, TimestampParser } from './timestamp.js';

const decoder = new EveDecoder();
const header = (type: string, extra = '') =>
  `"timestamp":"2026-11-26T10:00:00.000001+0000","flow_id":1676750115612680,"event_type":"${type}",` +
  `"src_ip":"10.0.0.1","src_port":40000,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP"${extra}`;
const line = (type: string, body: string, extra = '') => `{${header(type, extra)},${body}}`;

describe('EVE timestamps', () => {
  it.each([
    ['2017-04-07T22:24:37.251547+0100', Date.UTC(2017, 3, 7, 21, 24, 37) * 1000 + 251547],
    ['2020-02-29T00:00:01.041456-0400', Date.UTC(2020, 1, 29, 4, 0, 1) * 1000 + 41456],
    ['2020-02-29T00:00:01.041456+05:30', Date.UTC(2020, 1, 28, 18, 30, 1) * 1000 + 41456],
    ['2020-02-29T00:00:01.041456Z', Date.UTC(2020, 1, 29, 0, 0, 1) * 1000 + 41456],
    ['2014-04-14T08:48:57.911432', Date.UTC(2014, 3, 14, 8, 48, 57) * 1000 + 911432], // 4.x docs: no offset, read as UTC
    ['2026-11-26T10:00:00.5+0000', Date.UTC(2026, 10, 26, 10) * 1000 + 500000],
    ['2026-11-26T10:00:00.123456789+0000', Date.UTC(2026, 10, 26, 10) * 1000 + 123456],
    ['2026-11-26T10:00:00+0000', Date.UTC(2026, 10, 26, 10) * 1000],
  ])('%s', (text, us) => {
    expect(parseSuricataTimestamp(text)).toBe(us);
  });

  it.each([
    '',
    '2026-11-26',
    '2026-13-01T00:00:00.0+0000',
    '2026-04-31T00:00:00+0000',
    '0001-01-01 00:00:00 +0000 UTC',
    'x',
  ])('refuses %j', (text) => {
    expect(parseSuricataTimestamp(text)).toBeUndefined();
  });

  it('agrees with Date.parse to the millisecond for any instant and offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 0, max: 999 }),
        fc.integer({ min: -12 * 60, max: 14 * 60 }),
        (ms, extraUs, offsetMin) => {
          const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
          const text = `${local}${String(extraUs).padStart(3, '0')}${offset}`;
          return parseSuricataTimestamp(text) === ms * 1000 + extraUs;
        },
      ),
    );
  });
});

describe('the memoising timestamp parser', () => {
  it('agrees with the plain parser on any sequence of timestamps, shared seconds and offsets included', () => {
    const stamp = fc
      .tuple(
        fc.constantFrom('2026-11-26T10:00:00', '2026-11-26T10:00:01', '2020-02-29 23:59:59'),
        fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
        fc.constantFrom('+0000', '-0400', '+05:30', 'Z', '', '+01'),
      )
      .map(([second, fraction, offset]) => `${second}${fraction === undefined ? '' : `.${fraction}`}${offset}`);
    fc.assert(
      fc.property(fc.array(stamp, { maxLength: 30 }), (stamps) => {
        const parser = new TimestampParser();
        for (const text of stamps) expect(parser.parse(text)).toBe(parseSuricataTimestamp(text));
      }),
    );
  });
});

describe('EVE decoding', () => {
  it('decodes a Suricata 4/5 HTTP event: escaped slashes, bare-integer vlan, extended fields', () => {
    const event = decoder.decode(
      `{"timestamp":"2017-03-06T06:54:14.002504+0000","flow_id":2134,"in_iface":"enp2s0f1","event_type":"http","vlan":72,` +
        `"src_ip":"10.0.0.10","src_port":24092,"dest_ip":"10.0.0.11","dest_port":80,"proto":"TCP","tx_id":3,"http":{` +
        `"hostname":"foobar","http_port":8080,"url":"\\/scripts\\/a.dll?x=1","http_user_agent":"Mozilla\\/5.0",` +
        `"http_content_type":"text\\/xml","http_refer":"http:\\/\\/r\\/","http_method":"POST","protocol":"HTTP\\/1.1",` +
        `"status":200,"redirect":"\\/next","length":347}}`,
    );
    expect(event).toEqual({
      kind: 'http',
      timeUs: Date.UTC(2017, 2, 6, 6, 54, 14) * 1000 + 2504,
      tuple: { proto: 6, srcIp: '10.0.0.10', srcPort: 24092, dstIp: '10.0.0.11', dstPort: 80 },
      flowId: 2134,
      txId: 3,
      vlan: [72],
      http: {
        hostname: 'foobar',
        httpPort: 8080,
        url: '/scripts/a.dll?x=1',
        userAgent: 'Mozilla/5.0',
        contentType: 'text/xml',
        referer: 'http://r/',
        method: 'POST',
        protocol: 'HTTP/1.1',
        status: 200,
        redirect: '/next',
        length: 347,
      },
    });
  });

  it('keeps a QinQ vlan list', () => {
    expect(decoder.decode(line('http', '"http":{}', ',"vlan":[1,2]'))).toMatchObject({ vlan: [1, 2] });
  });

  it('decodes a request-only transaction: no status, no content type, length 0', () => {
    const event = decoder.decode(
      line('http', '"tx_id":8,"http":{"hostname":"h","url":"/u","http_method":"GET","protocol":"HTTP/1.1","length":0}'),
    );
    expect(event).toMatchObject({ kind: 'http', txId: 8, http: { url: '/u', length: 0 } });
    expect(event).not.toHaveProperty('http.status');
    expect(event).not.toHaveProperty('http.contentType');
  });

  it('keeps the HTTP/2 version (Suricata 6+)', () => {
    expect(decoder.decode(line('http', '"http":{"version":"2","http_method":"GET","url":"/"}'))).toMatchObject({
      http: { version: '2' },
    });
  });

  it('keeps status_string (Suricata 8) and reads a quoted status (old documentation)', () => {
    expect(decoder.decode(line('http', '"http":{"status_string":"OK200"}'))).toMatchObject({
      http: { statusString: 'OK200' },
    });
    expect(decoder.decode(line('http', '"http":{"status":"404"}'))).toMatchObject({ http: { status: 404 } });
  });

  it('keeps request and response header arrays in wire order', () => {
    const event = decoder.decode(
      line(
        'http',
        '"http":{"request_headers":[{"name":"Host","value":"a"},{"name":"traceparent","value":"00-x"}],' +
          '"response_headers":[{"name":"Server","value":"nginx"},{"name":"bad"}]}',
      ),
    );
    expect(event).toMatchObject({
      http: {
        requestHeaders: [
          { name: 'Host', value: 'a' },
          { name: 'traceparent', value: '00-x' },
        ],
        responseHeaders: [{ name: 'Server', value: 'nginx' }],
      },
    });
  });

  it('treats null fields as absent', () => {
    const event = decoder.decode(
      line('http', '"tx_id":null,"http":{"hostname":null,"url":"/","status":null}', ',"vlan":null').replace(
        '"flow_id":1676750115612680',
        '"flow_id":null',
      ),
    );
    expect(event).toEqual(expect.objectContaining({ kind: 'http', http: { url: '/' } }));
    expect(event).not.toHaveProperty('flowId');
    expect(event).not.toHaveProperty('txId');
    expect(event).not.toHaveProperty('vlan');
  });

  it('keeps the \\xNN rendering of non-UTF-8 bytes as text (Suricata 6+)', () => {
    expect(decoder.decode(line('http', '"http":{"url":"/caf\\\\xe9"}'))).toMatchObject({ http: { url: '/caf\\xe9' } });
  });

  it('keeps numbers beyond 2^31 exactly', () => {
    expect(decoder.decode(line('http', '"tx_id":3000000000,"http":{"length":5000000000}'))).toMatchObject({
      flowId: 1676750115612680,
      txId: 3_000_000_000,
      http: { length: 5_000_000_000 },
    });
  });

  it('canonicalises IPv6 written fully expanded', () => {
    const event = decoder.decode(
      line('tls', '"tls":{}')
        .replace('"src_ip":"10.0.0.1"', '"src_ip":"fe80:0000:0000:0000:fada:0cff:fedc:87f1"')
        .replace('"dest_ip":"10.0.0.2"', '"dest_ip":"2001:0db8:0000:0000:0000:0000:0000:0001"'),
    );
    expect(event).toMatchObject({ tuple: { srcIp: 'fe80::fada:cff:fedc:87f1', dstIp: '2001:db8::1' } });
  });

  it('decodes TLS with ja3, ja3s, ja4 and ALPNs', () => {
    const event = decoder.decode(
      line(
        'tls',
        '"tls":{"subject":"CN=a","issuerdn":"CN=ca","serial":"01","fingerprint":"aa:bb","sni":"api.example",' +
          '"version":"TLS 1.2","notbefore":"2020-01-01T00:00:00","notafter":"2030-01-01T00:00:00","session_resumed":false,' +
          '"ja3":{"hash":"h3","string":"s"},"ja3s":{"hash":"h3s"},"ja4":"t13d","client_alpns":["h2","http/1.1"],"server_alpns":["h2"]}',
      ),
    );
    expect(event).toMatchObject({
      kind: 'tls',
      tls: {
        sni: 'api.example',
        version: 'TLS 1.2',
        subject: 'CN=a',
        issuerDn: 'CN=ca',
        serial: '01',
        fingerprint: 'aa:bb',
        notBefore: '2020-01-01T00:00:00',
        notAfter: '2030-01-01T00:00:00',
        sessionResumed: false,
        ja3: 'h3',
        ja3s: 'h3s',
        ja4: 't13d',
        clientAlpns: ['h2', 'http/1.1'],
        serverAlpns: ['h2'],
      },
    });
  });

  describe('DNS, normalised over the three EVE formats', () => {
    const udp = (src: string, dst: string, dns: string) =>
      `{"timestamp":"2020-02-29T00:00:01.041456+0000","flow_id":7,"event_type":"dns","src_ip":"${src.split(':')[0]}",` +
      `"src_port":${src.split(':')[1]},"dest_ip":"${dst.split(':')[0]}","dest_port":${dst.split(':')[1]},"proto":"UDP","dns":${dns}}`;
    const clientToServer = { srcIp: '10.0.0.5', srcPort: 46406, dstIp: '10.0.0.53', dstPort: 53 };

    it('v1 query', () => {
      expect(
        decoder.decode(
          udp('10.0.0.5:46406', '10.0.0.53:53', '{"type":"query","id":9,"rrname":"a.example","rrtype":"A","tx_id":2}'),
        ),
      ).toMatchObject({
        kind: 'dns',
        txId: 2,
        tuple: clientToServer,
        dns: { type: 'query', id: 9, rrname: 'a.example', rrtype: 'A' },
      });
    });

    it('v1 answer, one event per record, logged in packet direction: turned client first', () => {
      const event = decoder.decode(
        udp(
          '10.0.0.53:53',
          '10.0.0.5:46406',
          '{"type":"answer","id":9,"rcode":"NOERROR","rrname":"a.example","rrtype":"A","ttl":20,"rdata":"192.0.2.1"}',
        ),
      );
      expect(event).toMatchObject({
        tuple: clientToServer,
        dns: {
          type: 'response',
          rcode: 'NOERROR',
          answers: [{ rrname: 'a.example', rrtype: 'A', ttl: 20, rdata: '192.0.2.1' }],
        },
      });
    });

    it('v1 NXDOMAIN answer without a record', () => {
      const event = decoder.decode(
        udp('10.0.0.53:53', '10.0.0.5:46406', '{"type":"answer","id":1,"rcode":"NXDOMAIN","rrname":"x.arpa"}'),
      );
      expect(event).toMatchObject({ dns: { type: 'response', rcode: 'NXDOMAIN', rrname: 'x.arpa' } });
      expect(event).not.toHaveProperty('dns.answers');
    });

    it('v2 answer with an answers list (AAAA data canonicalised)', () => {
      const event = decoder.decode(
        udp(
          '10.0.0.5:46406',
          '10.0.0.53:53',
          '{"version":2,"type":"answer","id":4,"flags":"8180","qr":true,"rcode":"NOERROR","rrname":"b.example","rrtype":"AAAA",' +
            '"answers":[{"rrname":"b.example","rrtype":"CNAME","ttl":60,"rdata":"c.example"},{"rrname":"c.example","rrtype":"AAAA","ttl":60,"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001"}]}',
        ),
      );
      expect(event).toMatchObject({
        tuple: clientToServer,
        dns: {
          type: 'response',
          rrname: 'b.example',
          answers: [
            { rrname: 'b.example', rrtype: 'CNAME', rdata: 'c.example' },
            { rrname: 'c.example', rrtype: 'AAAA', rdata: '2001:db8::1' },
          ],
        },
      });
    });

    it('v3 request and response with a queries list', () => {
      expect(
        decoder.decode(
          udp(
            '10.0.0.5:46406',
            '10.0.0.53:53',
            '{"version":3,"type":"request","id":5,"queries":[{"rrname":"d.example","rrtype":"A"}]}',
          ),
        ),
      ).toMatchObject({
        dns: { type: 'query', id: 5, rrname: 'd.example', rrtype: 'A' },
      });
      expect(
        decoder.decode(
          udp(
            '10.0.0.53:53',
            '10.0.0.5:46406',
            '{"version":3,"type":"response","id":5,"rcode":"NOERROR","queries":[{"rrname":"d.example","rrtype":"A"}],"answers":[{"rrname":"d.example","rrtype":"A","ttl":5,"rdata":"192.0.2.9"}]}',
          ),
        ),
      ).toMatchObject({
        tuple: clientToServer,
        dns: { type: 'response', rrname: 'd.example', answers: [{ rdata: '192.0.2.9' }] },
      });
    });
  });

  describe('lines without a transaction', () => {
    it('skips other event types', () => {
      for (const type of ['stats', 'flow', 'alert', 'fileinfo', 'anomaly', 'mqtt'])
        expect(decoder.decode(line(type, '"x":{}'))).toBe('other_type');
    });

    it('never lets the partial http copy inside an alert stand in for the transaction', () => {
      const alert = line('alert', '"tx_id":0,"alert":{"signature_id":1},"http":{"url":"/u","http_method":"GET"}');
      const complete = line('http', '"tx_id":0,"http":{"url":"/u","http_method":"GET","status":200,"length":5}');
      const events = [alert, complete].map((l) => decoder.decode(l)).filter((e) => typeof e !== 'string');
      expect(events).toEqual([
        expect.objectContaining({ txId: 0, http: { url: '/u', method: 'GET', status: 200, length: 5 } }),
      ]);
    });

    it('skips unselected types from the raw text, without parsing the line', () => {
      const httpOnly = new EveDecoder(['http']);
      expect(httpOnly.decode(`${line('dns', '"dns":{}').slice(0, 120)}<cut`)).toBe('unselected');
      expect(httpOnly.decode(line('stats', '"x":{}'))).toBe('other_type');
    });

    it('still selects by type when the compact "event_type":" form is absent (pretty-printed input)', () => {
      const spaced = line('tls', '"tls":{}').replace('"event_type":"tls"', '"event_type": "tls"');
      expect(new EveDecoder(['http']).decode(spaced)).toBe('unselected');
      expect(decoder.decode(spaced)).toMatchObject({ kind: 'tls' });
    });

    it.each([
      ['truncated JSON', line('http', '"http":{}').slice(0, 80).replace('"event_type":"http"', '"event_type": "http"')],
      ['a JSON array', '[1,2]'],
      ['a JSON number', '42'],
      ['JSON null', 'null'],
      ['text', 'hello'],
    ])('counts %s as malformed', (_name, text) => {
      expect(decoder.decode(text)).toBe('malformed');
    });

    it.each([
      ['no timestamp', line('http', '"http":{}').replace('"timestamp":"2026-11-26T10:00:00.000001+0000",', '')],
      [
        'a Go-formatted timestamp (as Antrea tests wrote)',
        line('http', '"http":{}').replace('2026-11-26T10:00:00.000001+0000', '0001-01-01 00:00:00 +0000 UTC'),
      ],
      ['an unparsable address', line('http', '"http":{}').replace('"10.0.0.2"', '"10.0.0.300"')],
      ['no protocol', line('http', '"http":{}').replace(',"proto":"TCP"', '')],
      ['no http object', line('http', '"x":1')],
      ['a DNS object of unknown type', line('dns', '"dns":{"type":"other"}')],
      ['no event type', '{"timestamp":"2026-11-26T10:00:00+0000"}'],
    ])('counts %s as invalid', (_name, text) => {
      expect(decoder.decode(text)).toBe('invalid');
    });

    it('reads numeric and named protocols', () => {
      expect(decoder.decode(line('http', '"http":{}').replace('"TCP"', '"47"'))).toMatchObject({
        tuple: { proto: 47 },
      });
      expect(decoder.decode(line('dns', '"dns":{"type":"query"}').replace('"TCP"', '"IPv6-ICMP"'))).toMatchObject({
        tuple: { proto: 58 },
      });
      expect(decoder.decode(line('http', '"http":{}').replace('"TCP"', '"QUIC-ISH"'))).toBe('invalid');
    });
  });

  it('never throws on random text or random JSON', () => {
    fc.assert(fc.property(fc.string(), (text) => typeof decoder.decode(text) !== 'undefined'));
    fc.assert(fc.property(fc.json(), (text) => typeof decoder.decode(text) !== 'undefined'));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            'timestamp',
            'event_type',
            'src_ip',
            'dest_ip',
            'proto',
            'http',
            'dns',
            'tls',
            'vlan',
            'tx_id',
          ),
          fc.jsonValue(),
        ),
        (json) => typeof decoder.decodeObject(json) !== 'undefined',
      ),
    );
  });
});
