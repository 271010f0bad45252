import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../pipeline/clock.js';
import type { Settings } from '../../pipeline/component.js';
import type { FlowRecord, HttpEvent } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { CaptureLogger } from '../../test/support/capture-logger.js';
import { TestCollector } from '../../test/support/ipfix-collector.js';
import { antreaExpectations, antreaIpv4Order, httpTx, ipfixFlow } from '../../test/support/ipfix-records.js';
import {
  captureLoopbackUdp,
  cflowMessages,
  hasExpertInfo,
  tsharkExpert,
  tsharkJson,
  type TsharkFields,
} from '../../test/support/ipfix-tshark.js';
import { describeWith } from '../../test/support/requirements.js';
import { IpfixExporter } from './exporter.js';
import { ipfixConfigSchema, resolveIpfixConfig } from './factory.js';

/**
 * Interop with an independent decoder: tshark decodes what the exporter wrote (an RFC 5655
 * file, and UDP datagrams captured on loopback) with no expert warnings (malformed data,
 * unexpected sequence numbers), and every value equals what was sent. tshark shows PEN
 * 56506 elements as hex, in template order, and leaves out zero-length ones.
 */
const host = {
  reportFatal: (error: Error) => {
    throw error;
  },
};

const flows: FlowRecord[] = [
  ipfixFlow({
    flowKey: 1,
    l7: [
      httpTx(0),
      httpTx(1, { url: '/search?q=ünïcode&x="quoted"', status: 302 }),
      httpTx(2, { status: undefined, contentType: undefined, length: undefined }),
    ],
  }),
  ipfixFlow({
    flowKey: 2,
    tuple: { proto: 17, srcIp: 'fd00:10:244::5', srcPort: 5353, dstIp: '2001:db8::53', dstPort: 53 },
    service: undefined,
    srcPod: undefined,
    dstPod: undefined,
    tcpState: undefined,
    app: '',
  }),
  // Enough transactions that a 1472-octet UDP message needs continuation records.
  ipfixFlow({
    flowKey: 3,
    tuple: { proto: 6, srcIp: '10.244.1.9', srcPort: 50000, dstIp: '10.244.2.7', dstPort: 8080 },
    l7: Array.from({ length: 16 }, (_, i) => httpTx(10 + i, { url: `/catalogue/${i}/${'p'.repeat(60)}` })),
  }),
];

/** Antrea's eight keys for one transaction, as the integration rules say ('' and 0 when absent). */
function antreaHttpVal(event: HttpEvent): Record<string, unknown> {
  const h = event.http;
  return {
    hostname: h.hostname ?? '',
    url: h.url ?? '',
    http_user_agent: h.userAgent ?? '',
    http_content_type: h.contentType ?? '',
    http_method: h.method ?? '',
    protocol: h.protocol ?? '',
    status: h.status ?? 0,
    length: h.length ?? 0,
  };
}

const antreaKinds: Readonly<Record<string, 'string' | 'u8' | 'u16' | 'address'>> = {
  destinationServicePort: 'u16',
  ingressNetworkPolicyType: 'u8',
  ingressNetworkPolicyRuleAction: 'u8',
  egressNetworkPolicyType: 'u8',
  egressNetworkPolicyRuleAction: 'u8',
  flowType: 'u8',
  destinationClusterIPv4: 'address',
  destinationClusterIPv6: 'address',
};

const hex = (bytes: Buffer) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');

function addressBytes(text: string): Buffer {
  if (!text.includes(':')) return Buffer.from(text.split('.').map(Number));
  const [head = '', tail = ''] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = groups(tail);
  const all = text.includes('::') ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  return Buffer.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

/** Checks one Antrea flow record as tshark shows it against the flow it came from. */
function expectAntreaFlow(fields: TsharkFields, flow: FlowRecord, options: { continuation: boolean }): string[] {
  const v6 = flow.tuple.srcIp.includes(':');
  const expected = antreaExpectations(flow, options);
  expect(fields[v6 ? 'cflow.srcaddrv6' : 'cflow.srcaddr']).toBe(flow.tuple.srcIp);
  expect(fields[v6 ? 'cflow.dstaddrv6' : 'cflow.dstaddr']).toBe(flow.tuple.dstIp);
  expect(fields['cflow.srcport']).toBe(String(flow.tuple.srcPort));
  expect(fields['cflow.dstport']).toBe(String(flow.tuple.dstPort));
  expect(fields['cflow.protocol']).toBe(String(flow.tuple.proto));
  expect(fields['cflow.flow_end_reason']).toBe(String(flow.endReason));
  expect(fields['cflow.packets']).toEqual([
    String(expected.packetDeltaCount),
    String(expected.reversePacketDeltaCount),
  ]);
  expect(fields['cflow.octets']).toEqual([String(expected.octetDeltaCount), String(expected.reverseOctetDeltaCount)]);
  expect(fields['cflow.permanent_packets']).toEqual([String(flow.totals.packets), String(flow.totals.reversePackets)]);
  expect(fields['cflow.permanent_octets']).toEqual([String(flow.totals.bytes), String(flow.totals.reverseBytes)]);
  expect(fields['cflow.flow_id']).toBe(String(flow.flowKey));
  // tshark prints e.g. "Nov 26, 2025 12:00:00.000000000 UTC".
  const times = fields['cflow.timedelta_tree'] as TsharkFields;
  const seconds = (text: unknown) => Date.parse(String(text).replace(/\.\d+/, '')) / 1000;
  expect(seconds(times['cflow.abstimestart'])).toBe(Math.floor(flow.startUs / 1e6));
  expect(seconds(times['cflow.abstimeend'])).toBe(Math.floor(flow.endUs / 1e6));

  // PEN 56506 elements in template order; tshark leaves out the empty strings.
  const names = antreaIpv4Order.slice(16).map((n) => (v6 ? n.replace('IPv4', 'IPv6') : n));
  const entries = [fields['cflow.enterprise_private_entry'] ?? []].flat() as string[];
  const httpVals: string[] = [];
  let at = 0;
  for (const name of names) {
    const kind = antreaKinds[name] ?? 'string';
    if (name === 'httpVals') {
      if (flow.l7.length > 0)
        httpVals.push(Buffer.from((entries[at++] ?? '').replace(/:/g, ''), 'hex').toString('utf8'));
      continue;
    }
    const value = expected[name];
    let bytes: Buffer;
    if (kind === 'string') {
      if (value === '') continue;
      bytes = Buffer.from(String(value), 'utf8');
    } else if (kind === 'u8') bytes = Buffer.from([Number(value)]);
    else if (kind === 'u16') bytes = Buffer.from([Number(value) >> 8, Number(value) & 0xff]);
    else bytes = addressBytes(String(value));
    expect({ name, value: entries[at++] }).toEqual({ name, value: hex(bytes) });
  }
  expect(at).toBe(entries.length);
  return httpVals;
}

function checkDecoded(
  frames: Awaited<ReturnType<typeof tsharkJson>>,
  domain: number,
  options: { continuations: boolean },
): void {
  expect(hasExpertInfo(frames)).toBe(false);
  const messages = cflowMessages(frames);
  expect(messages.length).toBeGreaterThan(0);
  expect(messages.every((m) => m.header['cflow.od_id'] === String(domain))).toBe(true);
  const records = messages.flatMap((m) => m.flows);
  for (const flow of flows) {
    const mine = records.filter((r) => r.setId <= 257 && r.fields['cflow.flow_id'] === String(flow.flowKey));
    expect(mine.length).toBeGreaterThanOrEqual(1);
    const objects = mine.flatMap((r, i) => expectAntreaFlow(r.fields, flow, { continuation: i > 0 }));
    const carried = Object.assign({}, ...objects.map((text) => JSON.parse(text) as object)) as object;
    const http = flow.l7.filter((e): e is HttpEvent => e.kind === 'http');
    expect(carried).toEqual(Object.fromEntries(http.map((e) => [String(e.txId), antreaHttpVal(e)])));
    if (flow.flowKey === 3) expect(mine.length > 1).toBe(options.continuations);

    const iana = records.filter((r) => r.setId === 258 && r.fields['cflow.flow_id'] === String(flow.flowKey));
    expect(iana.map((r) => r.fields['cflow.http_request_target'])).toEqual(http.map((e) => e.http.url));
    for (const [i, r] of iana.entries()) {
      const h = http[i]!.http;
      expect(r.fields['cflow.http_request_method']).toBe(h.method);
      expect(r.fields['cflow.http_request_host']).toBe(h.hostname);
      expect(r.fields['cflow.http_message_version']).toBe(h.protocol);
      expect(r.fields['cflow.http_statuscode']).toBe(String(h.status ?? 0));
      expect(r.fields['cflow.http_user_agent']).toBe(h.userAgent);
      expect(r.fields['cflow.http_content_type']).toBe(h.contentType);
    }
  }
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-ipfix-tshark-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function exporterFor(config: Record<string, unknown>): IpfixExporter {
  const telemetry = new Telemetry();
  const logger = new CaptureLogger();
  const settings: Settings = {
    id: 'ipfix',
    logger,
    clock: systemClock,
    telemetry: telemetry.forComponent('ipfix', logger, systemClock),
  };
  return new IpfixExporter(settings, resolveIpfixConfig(ipfixConfigSchema.parse(config)));
}

describeWith({ commands: ['tshark'] }, 'tshark decodes the file transport output', () => {
  it('reads the RFC 5655 file with no warnings, and every value is what was sent', async () => {
    const path = join(dir, 'flows.ipfix');
    const exporter = exporterFor({ transport: 'file', path, http_encoding: 'both', observation_domain_id: 4711 });
    await exporter.start(host);
    await exporter.consume(flows);
    await exporter.shutdown();
    expect(await tsharkExpert(path)).toBe('');
    checkDecoded(await tsharkJson(path), 4711, { continuations: false });
  });

  it('would flag a sequence gap (the check above can fail)', async () => {
    const path = join(dir, 'gap.ipfix');
    const exporter = exporterFor({ transport: 'file', path, observation_domain_id: 1 });
    await exporter.start(host);
    await exporter.consume([ipfixFlow()]);
    await exporter.consume([ipfixFlow()]);
    await exporter.consume([ipfixFlow()]);
    await exporter.shutdown();
    const bytes = await readFile(path);
    const lengths: number[] = [];
    for (let at = 0; at < bytes.length; at += bytes.readUInt16BE(at + 2)) lengths.push(bytes.readUInt16BE(at + 2));
    // Cut out the 4th message (the second data message): the 5th now jumps by one record.
    const cutAt = lengths.slice(0, 3).reduce((a, b) => a + b, 0);
    await writeFile(path, Buffer.concat([bytes.subarray(0, cutAt), bytes.subarray(cutAt + lengths[3]!)]));
    expect(await tsharkExpert(path)).toMatch(/Unexpected flow sequence for domain ID 1 \(expected 1, got 2\)/);
  });
});

describeWith({ root: true, commands: ['tshark'] }, 'tshark decodes UDP captured on loopback', () => {
  it('rfc profile: packed sets, options templates and continuations decode with no warnings', async () => {
    const collector = await TestCollector.udp();
    const pcap = join(dir, 'udp.pcap');
    const exporter = exporterFor({
      endpoint: `127.0.0.1:${collector.port}`,
      transport: 'udp',
      profile: 'rfc',
      http_encoding: 'both',
      observation_domain_id: 'node-a',
    });
    try {
      await captureLoopbackUdp(collector.port, pcap, async () => {
        await exporter.start(host);
        await exporter.consume(flows);
        await exporter.shutdown();
        await collector.waitFor('the last datagram', () =>
          collector.messages.some((m) => m.records.some((r) => r.templateId === 259) && m.templates.length === 0),
        );
      });
    } finally {
      await exporter.shutdown();
      await collector.close();
    }
    const decodeAs = ['-d', `udp.port==${collector.port},cflow`];
    expect(await tsharkExpert(pcap, decodeAs)).toBe('');
    const frames = await tsharkJson(pcap, decodeAs);
    expect(
      frames.every((f) => Number((f._source.layers.frame as Record<string, string>)['frame.len']) <= 1472 + 42),
    ).toBe(true);
    // FNV-1 32 of "node-a", computed by hand: 0x811c9dc5, then for each octet *16777619 then xor.
    checkDecoded(frames, fnv1('node-a'), { continuations: true });
    expect(collector.errors).toEqual([]);
  });
});

function fnv1(text: string): number {
  let hash = 0x811c9dc5n;
  for (const byte of Buffer.from(text)) hash = ((hash * 16777619n) & 0xffffffffn) ^ BigInt(byte);
  return Number(hash);
}
