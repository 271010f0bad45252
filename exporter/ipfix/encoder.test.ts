import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FlowRecord, TlsEvent } from '../../pipeline/records.js';
import { httpEvent } from '../../test/support/components.js';
import {
  IpfixDecoder,
  recordObject,
  valueOf,
  type DecodedMessage,
  type DecodedRecord,
} from '../../test/support/ipfix-decode.js';
import { antreaExpectations, antreaIpv4Order, flowArb, httpTx, ipfixFlow } from '../../test/support/ipfix-records.js';
import { FlowEncoder, type EncoderOptions } from './encoder.js';

const base: EncoderOptions = {
  profile: 'antrea',
  httpEncoding: 'antrea',
  maxMessageSize: 1452,
  observationDomainId: 7,
};

/** Encodes with a fresh session: templates first, then the flows, all decoded independently. */
function roundTrip(flows: readonly FlowRecord[], options: Partial<EncoderOptions> = {}) {
  const encoder = new FlowEncoder({ ...base, ...options });
  const decoder = new IpfixDecoder();
  const { messages, report } = encoder.encode(flows);
  const all = [...encoder.sessionMessages(), ...messages];
  const decoded: DecodedMessage[] = all.map((m) => {
    expect(m.bytes.length).toBeLessThanOrEqual(encoder.options.maxMessageSize);
    const d = decoder.decodeMessage(m.bytes);
    if (!d.ok) throw new Error(d.error);
    return d.value;
  });
  const records = decoded.flatMap((m) => m.records);
  return { messages, decoded, records, report, encoder };
}

const flowRecordsOf = (records: readonly DecodedRecord[]) =>
  records.filter((r) => r.templateId === 256 || r.templateId === 257);
const httpValsOf = (record: DecodedRecord) => String(valueOf(record, 'httpVals'));

describe("Antrea's flow template", () => {
  it("lists Antrea's agent elements in Antrea's order, strings variable length", () => {
    const { decoded } = roundTrip([]);
    const v4 = decoded.flatMap((m) => m.templates).find((t) => t.id === 256)!;
    expect(v4.fields.map((f) => f.name)).toEqual(antreaIpv4Order);
    const pens = new Set(v4.fields.map((f) => f.pen));
    expect([...pens].sort()).toEqual([0, 29305, 56506]);
    expect(v4.fields.find((f) => f.name === 'httpVals')).toMatchObject({ pen: 56506, id: 156, length: 65535 });
    expect(v4.fields.find((f) => f.name === 'appProtocolName')).toMatchObject({ pen: 56506, id: 155, length: 65535 });
    expect(v4.fields.find((f) => f.name === 'reverseOctetDeltaCount')).toMatchObject({ pen: 29305, id: 1, length: 8 });
    const v6 = decoded.flatMap((m) => m.templates).find((t) => t.id === 257)!;
    expect(v6.fields.map((f) => f.name)).toEqual(antreaIpv4Order.map((n) => n.replace('IPv4', 'IPv6')));
  });

  it('carries an L4-only flow with every value as the integration rules say', () => {
    const flow = ipfixFlow({ app: '', l7: [] });
    const { records } = roundTrip([flow]);
    expect(records).toHaveLength(1);
    expect(recordObject(records[0]!)).toEqual({ ...antreaExpectations(flow), httpVals: '' });
  });

  it('writes "" / 0 / 0.0.0.0 for a flow without Pods or Service, and IPv6 flows in template 257', () => {
    const bare = ipfixFlow({ service: undefined, srcPod: undefined, dstPod: undefined, tcpState: undefined, app: '' });
    const v6 = ipfixFlow({
      tuple: { proto: 17, srcIp: 'fd00::5', srcPort: 5353, dstIp: '2001:db8::7', dstPort: 53 },
      service: { ip: 'fd00:96::a', port: 53 },
    });
    const { records } = roundTrip([bare, v6]);
    expect(records.map((r) => r.templateId)).toEqual([256, 257]);
    expect(recordObject(records[0]!)).toEqual({ ...antreaExpectations(bare), httpVals: '' });
    expect(recordObject(records[0]!)).toMatchObject({ destinationClusterIPv4: '0.0.0.0', sourcePodName: '' });
    expect(recordObject(records[1]!)).toEqual({ ...antreaExpectations(v6), httpVals: '' });
    expect(recordObject(records[1]!)).toMatchObject({ destinationClusterIPv6: 'fd00:96::a' });
  });
});

describe('httpVals (PEN 56506 IE 156)', () => {
  it("is a JSON object keyed by tx_id whose values have Antrea's eight keys in Antrea's order", () => {
    const flow = ipfixFlow({
      l7: [
        httpTx(0),
        httpTx(1, { status: 404, url: '/missing?q="x"' }),
        // A request Suricata logged without a response: no status, content type or length.
        httpTx(2, { status: undefined, contentType: undefined, length: undefined, userAgent: undefined }),
      ],
    });
    const { records } = roundTrip([flow]);
    expect(records).toHaveLength(1);
    const text = httpValsOf(records[0]!);
    const parsed = JSON.parse(text) as Record<string, Record<string, unknown>>;
    expect(Object.keys(parsed)).toEqual(['0', '1', '2']);
    for (const value of Object.values(parsed))
      expect(Object.keys(value)).toEqual([
        'hostname',
        'url',
        'http_user_agent',
        'http_content_type',
        'http_method',
        'protocol',
        'status',
        'length',
      ]);
    expect(parsed['1']).toEqual({
      hostname: 'web.shop',
      url: '/missing?q="x"',
      http_user_agent: 'curl/8.5.0',
      http_content_type: 'application/json',
      http_method: 'GET',
      protocol: 'HTTP/1.1',
      status: 404,
      length: 512,
    });
    expect(parsed['2']).toMatchObject({ http_user_agent: '', http_content_type: '', status: 0, length: 0 });
    // Antrea's documented example shape: no whitespace, string values quoted, numbers bare.
    expect(text.startsWith('{"0":{"hostname":"web.shop","url":"/items/0","http_user_agent":"curl/8.5.0"')).toBe(true);
    expect(valueOf(records[0]!, 'appProtocolName')).toBe('http');
  });

  it('keys events without a tx_id "-1", "-2", ... and never writes a key twice in one object', () => {
    const flow = ipfixFlow({ l7: [httpTx(undefined), httpTx(3), httpTx(undefined), httpTx(3, { url: '/again' })] });
    const { records, report } = roundTrip([flow]);
    const texts = flowRecordsOf(records).map(httpValsOf);
    // Key order as written (JSON.parse would list integer-like keys first).
    const keysInOrder = (text: string) => [...text.matchAll(/"(-?\d+)":\{"hostname"/g)].map((m) => m[1]);
    expect(texts.map(keysInOrder)).toEqual([['-1', '3', '-2'], ['3']]);
    const objects = texts.map((t) => JSON.parse(t) as Record<string, { url: string }>);
    expect(objects[1]!['3']!.url).toBe('/again');
    expect(report.continuations).toBe(1);
  });

  it('is "" when the flow has no HTTP transaction, and ignores TLS and DNS events', () => {
    const { tuple, timeUs } = httpTx(0);
    const tls: TlsEvent = { kind: 'tls', timeUs, tuple, tls: { sni: 'shop.example' } };
    const { records } = roundTrip([ipfixFlow({ app: 'tls', l7: [tls] })]);
    expect(httpValsOf(records[0]!)).toBe('');
    expect(valueOf(records[0]!, 'appProtocolName')).toBe('tls');
  });

  it('carries transactions that do not fit into continuation records with the same keys and totals and zero deltas', () => {
    const l7 = Array.from({ length: 40 }, (_, i) => httpTx(i, { url: `/catalogue/item/${i}?ref=${'r'.repeat(40)}` }));
    const flow = ipfixFlow({ l7 });
    const { records, report, messages } = roundTrip([flow], { maxMessageSize: 1452 });
    const flows = flowRecordsOf(records);
    expect(flows.length).toBeGreaterThan(2);
    expect(report.continuations).toBe(flows.length - 1);
    expect(recordObject(flows[0]!)).toMatchObject(antreaExpectations(flow));
    for (const continuation of flows.slice(1))
      expect(recordObject(continuation)).toMatchObject(antreaExpectations(flow, { continuation: true }));
    const keys = flows.flatMap((r) => Object.keys(JSON.parse(httpValsOf(r)) as object));
    expect(keys).toEqual(l7.map((e) => String(e.txId)));
    // The flow counts once, in the message holding its main record.
    expect(messages.reduce((sum, m) => sum + m.flows, 0)).toBe(1);
  });

  it('splits more transactions than one field can hold (65535 octets) even in the largest messages', () => {
    const l7 = Array.from({ length: 1000 }, (_, i) => httpTx(i));
    const { records, report } = roundTrip([ipfixFlow({ l7 })], { maxMessageSize: 65535 });
    const flows = flowRecordsOf(records);
    expect(report.invalid).toBe(0);
    expect(flows.length).toBeGreaterThanOrEqual(3); // ~190 kB of JSON
    expect(flows.flatMap((r) => Object.keys(JSON.parse(httpValsOf(r)) as object))).toHaveLength(1000);
  });

  it('shortens the url of a transaction too large for any record, keeping valid JSON', () => {
    const huge = httpTx(0, { url: `/${'é'.repeat(3000)}`, userAgent: 'ua' });
    const { records, report } = roundTrip([ipfixFlow({ l7: [huge, httpTx(1)] })], { maxMessageSize: 1452 });
    const flows = flowRecordsOf(records);
    const first = JSON.parse(httpValsOf(flows[0]!)) as Record<string, { url: string; http_user_agent: string }>;
    expect(first['0']!.url).toMatch(/^\/é{300,}$/);
    expect(Buffer.byteLength(first['0']!.url)).toBeLessThan(1452);
    expect(first['0']!.http_user_agent).toBe('ua');
    expect(report.truncatedTransactions).toBe(1);
    expect(flows.flatMap((r) => Object.keys(JSON.parse(httpValsOf(r)) as object))).toEqual(['0', '1']);
  });
});

describe('IANA HTTP records (http_encoding: iana, both)', () => {
  const flow = ipfixFlow({
    flowKey: 77,
    l7: [httpTx(0), httpTx(1, { status: 503, url: '/slow' }, 1_764_158_402_345_678)],
  });

  it('writes one record per transaction, linked to the flow record by flowId', () => {
    const { records, decoded } = roundTrip([flow], { httpEncoding: 'iana' });
    const template = decoded.flatMap((m) => m.templates).find((t) => t.id === 258)!;
    expect(template.fields.map((f) => `${f.pen}/${f.id}`)).toEqual([
      '0/148',
      '0/323',
      '0/459',
      '0/460',
      '0/461',
      '0/462',
      '0/457',
      '0/470',
      '0/468',
      '0/469',
    ]);
    const [main] = flowRecordsOf(records);
    expect(recordObject(main!)).toMatchObject({ flowId: 77, applicationName: 'http', httpVals: '' });
    const http = records.filter((r) => r.templateId === 258).map(recordObject);
    expect(http).toEqual([
      {
        flowId: 77,
        observationTimeMilliseconds: 1_764_158_401_000,
        httpRequestMethod: 'GET',
        httpRequestHost: 'web.shop',
        httpRequestTarget: '/items/0',
        httpMessageVersion: 'HTTP/1.1',
        httpStatusCode: 200,
        httpReasonPhrase: '',
        httpUserAgent: 'curl/8.5.0',
        httpContentType: 'application/json',
      },
      expect.objectContaining({
        httpStatusCode: 503,
        httpRequestTarget: '/slow',
        observationTimeMilliseconds: 1_764_158_402_345,
      }),
    ]);
  });

  it('both: httpVals and the IANA records', () => {
    const { records } = roundTrip([flow], { httpEncoding: 'both' });
    expect(Object.keys(JSON.parse(httpValsOf(flowRecordsOf(records)[0]!)) as object)).toEqual(['0', '1']);
    expect(records.filter((r) => r.templateId === 258)).toHaveLength(2);
  });

  it('antrea profile keeps one template per message even when flow and HTTP records interleave', () => {
    const flows = Array.from({ length: 5 }, (_, i) => ipfixFlow({ flowKey: i, l7: [httpTx(i)] }));
    const { decoded } = roundTrip(flows, { httpEncoding: 'iana' });
    for (const m of decoded) expect(m.sets).toHaveLength(1);
    const dataMessages = decoded.filter((m) => m.sets[0]!.id >= 256);
    expect(dataMessages.map((m) => [m.sets[0]!.id, m.dataRecords])).toEqual([
      [256, 5],
      [258, 5],
    ]);
  });
});

describe('rfc profile', () => {
  it('opens a session with all templates, options templates, RFC 5610 type records and reliability statistics', () => {
    const encoder = new FlowEncoder({ ...base, profile: 'rfc' });
    const stats = {
      exportingProcessId: 7,
      notSentFlows: 3,
      notSentPackets: 30,
      notSentOctets: 3000,
      firstDropMs: 1,
      lastDropMs: 2,
    };
    const decoder = new IpfixDecoder();
    const messages = encoder.sessionMessages(stats).map((m) => {
      const d = decoder.decodeMessage(m.bytes);
      if (!d.ok) throw new Error(d.error);
      return d.value;
    });
    const sets = messages.flatMap((m) => m.sets.map((s) => s.id));
    expect(sets.slice(0, 2)).toEqual([2, 3]);
    const typeRecords = messages
      .flatMap((m) => m.records)
      .filter((r) => r.templateId === 260)
      .map(recordObject);
    expect(typeRecords).toContainEqual({
      privateEnterpriseNumber: 56506,
      informationElementId: 156,
      informationElementDataType: 13, // string
      informationElementSemantics: 0,
      informationElementName: 'httpVals',
    });
    expect(typeRecords).toContainEqual(
      expect.objectContaining({ informationElementId: 106, informationElementDataType: 18 }), // ipv4Address
    );
    expect(typeRecords.every((r) => r.privateEnterpriseNumber === 56506)).toBe(true);
    expect(new Set(typeRecords.map((r) => r.informationElementId)).size).toBe(typeRecords.length);
    const reliability = messages.flatMap((m) => m.records).find((r) => r.templateId === 259)!;
    expect(reliability.values).toEqual([
      ['exportingProcessId', 7],
      ['notSentFlowTotalCount', 3],
      ['notSentPacketTotalCount', 30],
      ['notSentOctetTotalCount', 3000],
      ['observationTimeMilliseconds', 1],
      ['observationTimeMilliseconds', 2],
    ]);
    // Options data records are data records: the sequence number counts them.
    expect(messages.reduce((n, m) => n + m.dataRecords, 0)).toBe(typeRecords.length + 1);
  });

  it('packs data sets of different templates into one message', () => {
    const v6 = ipfixFlow({ tuple: { proto: 6, srcIp: 'fd00::1', srcPort: 1, dstIp: 'fd00::2', dstPort: 2 } });
    const { messages, decoded } = roundTrip([ipfixFlow(), v6, ipfixFlow()], { profile: 'rfc', maxMessageSize: 65535 });
    expect(messages).toHaveLength(1);
    expect(decoded.at(-1)!.sets.map((s) => s.id)).toEqual([256, 257, 256]);
  });
});

describe('bad input', () => {
  it('drops and reports a flow whose values cannot be encoded, keeping its neighbours', () => {
    const bad = ipfixFlow({ tuple: { proto: 6, srcIp: '10.0.0.300', srcPort: 1, dstIp: '10.0.0.1', dstPort: 2 } });
    const negative = ipfixFlow({ totals: { packets: -1, bytes: 0, reversePackets: 0, reverseBytes: 0 } });
    const good = ipfixFlow({ flowKey: 1 });
    const { records, report, messages } = roundTrip([bad, good, negative, good]);
    expect(report.invalid).toBe(2);
    expect(records).toHaveLength(2);
    expect(messages.reduce((n, m) => n + m.flows, 0)).toBe(2);
  });

  it('counts records that are not flows as unsupported', () => {
    const { report, records } = roundTrip([httpEvent(0) as unknown as FlowRecord]);
    expect(report.unsupported).toBe(1);
    expect(records).toHaveLength(0);
  });

  it('drops a flow whose record cannot fit even an empty message', () => {
    const long = 'n'.repeat(253);
    const pod = { name: long, namespace: long, uid: '', node: long, labels: {} };
    const { report, records } = roundTrip([ipfixFlow({ srcPod: pod, dstPod: pod })], { maxMessageSize: 512 });
    expect(report.tooLarge).toBe(1);
    expect(records).toHaveLength(0);
  });
});

describe('round trip through the independent decoder (property)', () => {
  it('decodes every random flow back to its values, in messages within the size bound', () => {
    fc.assert(
      fc.property(
        fc.array(flowArb(), { maxLength: 12 }),
        fc.constantFrom<EncoderOptions['profile']>('antrea', 'rfc'),
        fc.constantFrom<EncoderOptions['httpEncoding']>('antrea', 'iana', 'both'),
        fc.integer({ min: 1400, max: 65535 }),
        (flows, profile, httpEncoding, maxMessageSize) => {
          const { records, report, messages } = roundTrip(flows, { profile, httpEncoding, maxMessageSize });
          expect(report.invalid + report.tooLarge + report.droppedTransactions).toBe(0);
          expect(messages.reduce((n, m) => n + m.flows, 0)).toBe(flows.length);
          const flowRecords = flowRecordsOf(records);
          // Each flow has a main record carrying exactly its values (deltas included).
          const remaining = [...flowRecords];
          for (const flow of flows) {
            const expected = antreaExpectations(flow);
            const index = remaining.findIndex((r) => matches(recordObject(r), expected));
            expect(index, JSON.stringify(flow)).toBeGreaterThanOrEqual(0);
            remaining.splice(index, 1);
          }
          // Everything left is a continuation: zero deltas, valid JSON; the transactions of
          // all flows are carried exactly once (keys counted across records).
          for (const r of remaining) expect(valueOf(r, 'octetDeltaCount')).toBe(0);
          if (httpEncoding !== 'iana') {
            const carried = flowRecords.flatMap((r) => {
              const text = httpValsOf(r);
              return text === '' ? [] : Object.keys(JSON.parse(text) as object);
            });
            const total = flows.reduce((n, f) => n + f.l7.length, 0);
            expect(carried).toHaveLength(total);
          }
          if (httpEncoding !== 'antrea') {
            const total = flows.reduce((n, f) => n + f.l7.length, 0);
            expect(records.filter((r) => r.templateId === 258)).toHaveLength(total);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws on random bytes, and rejects them with a reason', () => {
    const decoder = new IpfixDecoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const one = decoder.decodeMessage(bytes);
        const many = decoder.decodeStream(bytes);
        if (!one.ok) expect(one.error).toMatch(/\w/);
        if (!many.ok) expect(many.error).toMatch(/\w/);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on valid messages with random corruption', () => {
    const { messages, encoder } = roundTrip([ipfixFlow({ l7: [httpTx(0), httpTx(1)] }), ipfixFlow()]);
    const stream = Buffer.concat([...encoder.sessionMessages(), ...messages].map((m) => m.bytes));
    fc.assert(
      fc.property(fc.nat({ max: stream.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const corrupted = Buffer.from(stream);
        corrupted[at] = byte;
        const result = new IpfixDecoder().decodeStream(corrupted);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});

function matches(actual: Record<string, unknown>, expected: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([k, v]) => actual[k] === v);
}
