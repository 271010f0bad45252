import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { factories } from '../../config/components.js';
import { systemClock } from '../../pipeline/clock.js';
import { Graph } from '../../pipeline/graph.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { CaptureLogger } from '../../test/support/capture-logger.js';
import { createTestKit, httpEvent } from '../../test/support/components.js';
import { IpfixDecoder, valueOf } from '../../test/support/ipfix-decode.js';
import { parseEndpoint } from './endpoint.js';
import { ipfixConfigSchema, resolveIpfixConfig, validateIpfixConfig, type IpfixConfig } from './factory.js';
import { observationDomainFromName } from './observation-domain.js';

const config = (section: Record<string, unknown> = {}): IpfixConfig => ipfixConfigSchema.parse(section);
const problems = (section: Record<string, unknown>) => validateIpfixConfig(config(section));
const resolve = (section: Record<string, unknown>) => resolveIpfixConfig(config(section), () => 'this-host');

describe('ipfix config', () => {
  it('defaults to UDP to 127.0.0.1:4739 with a message that fits a 1500-octet MTU', () => {
    expect(problems({})).toEqual([]);
    expect(resolve({})).toMatchObject({
      transport: 'udp',
      endpoint: { host: '127.0.0.1', port: 4739 },
      maxMessageSize: 1472, // 1500 - 20 (IPv4) - 8 (UDP)
    });
    expect(config({})).toMatchObject({
      profile: 'antrea',
      http_encoding: 'antrea',
      template_refresh: 600_000,
      reconnect: { initial_interval: 60_000, max_interval: 300_000 },
      tls: { min_version: 'TLSv1.2', insecure_skip_verify: false },
    });
  });

  it('derives the UDP message size from the path MTU, assuming IPv6 headers unless the endpoint is IPv4', () => {
    expect(resolve({ endpoint: 'collector.example:4739' }).maxMessageSize).toBe(1452); // 1500 - 40 - 8
    expect(resolve({ endpoint: '[2001:db8::1]:4739' }).maxMessageSize).toBe(1452);
    expect(resolve({ endpoint: 'collector:4739', path_mtu: 1280 }).maxMessageSize).toBe(1232);
    expect(resolve({ endpoint: '10.0.0.1:4739', path_mtu: 1450 }).maxMessageSize).toBe(1422); // Geneve overlay
    expect(resolve({ endpoint: '10.0.0.1:4739', max_message_size: 9000 }).maxMessageSize).toBe(9000);
    expect(resolve({ endpoint: '10.0.0.1:4739', transport: 'tcp' }).maxMessageSize).toBe(65535);
    expect(resolve({ transport: 'file', path: '/var/log/l7flow/flows.ipfix' }).maxMessageSize).toBe(65535);
  });

  it("accepts Antrea's host:port:proto collector address, namespace/service included", () => {
    expect(parseEndpoint('flow-aggregator/flow-aggregator:4739:tls')).toEqual({
      host: 'flow-aggregator.flow-aggregator.svc',
      port: 4739,
      transport: 'tls',
    });
    expect(parseEndpoint('[fd00::5]:4739:udp')).toEqual({ host: 'fd00::5', port: 4739, transport: 'udp' });
    expect(resolve({ endpoint: '10.0.0.5:4739:tcp' })).toMatchObject({ transport: 'tcp', maxMessageSize: 65535 });
    expect(problems({ endpoint: 'fa/fa:14739:grpc' })).toEqual([
      "endpoint: grpc is Antrea's own protocol, not IPFIX (use udp, tcp or tls)",
    ]);
    expect(problems({ endpoint: 'collector' })).toEqual([
      'endpoint: must be host:port, [ipv6]:port or host:port:proto (got "collector")',
    ]);
  });

  it('reports contradictions and missing companions, each with its key', () => {
    expect(problems({ endpoint: 'c:4739:udp', transport: 'tcp' })).toEqual([
      'transport: "tcp" contradicts the endpoint\'s ":udp"',
    ]);
    expect(problems({ transport: 'file' })).toEqual(['path: is required when transport is file']);
    expect(problems({ transport: 'tcp', tls: { ca_file: '/ca.pem' } })).toEqual(['tls: only used with transport tls']);
    expect(problems({ transport: 'tls', tls: { cert_file: '/c.pem' } })).toEqual([
      'tls: cert_file and key_file go together',
    ]);
    expect(problems({ max_message_size: 100 })).toEqual([
      'max_message_size: must be 0 (automatic) or 512..65535 (got 100)',
    ]);
    expect(problems({ max_message_size: 65535 })).toEqual([
      'max_message_size: must be at most 65507 for udp (got 65535)',
    ]);
    expect(problems({ reconnect: { initial_interval: '10m', max_interval: '1m' } })).toEqual([
      'reconnect.initial_interval: must not exceed reconnect.max_interval',
    ]);
  });

  it('derives the observation domain as Antrea does: FNV-1 32 of a name', () => {
    // FNV-1 32-bit test vector (Fowler/Noll/Vo): "a" -> 0x050c5d7e (FNV-1a would be 0xe40c292c).
    expect(observationDomainFromName('a')).toBe(0x050c5d7e);
    expect(resolve({ observation_domain_id: 'a' }).observationDomainId).toBe(0x050c5d7e);
    expect(resolve({}).observationDomainId).toBe(observationDomainFromName('this-host'));
    expect(resolve({ observation_domain_id: 42 }).observationDomainId).toBe(42);
  });

  it('is checked by the agent config loader with full paths', () => {
    const result = parseConfig(
      `
receivers: {}
exporters:
  ipfix:
    transport: sctp
    endpoint: collector
    queue_size: 0
    reconnect: { initial_interval: soon }
service: { pipelines: { flows: { receivers: [], exporters: [ipfix] } } }
`,
      { factories, env: {} },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'exporters.ipfix.transport: must be one of udp, tcp, tls, file (got "sctp")',
        'exporters.ipfix.queue_size: must be >= 1 (got 0)',
        'exporters.ipfix.reconnect.initial_interval: must be a duration such as 500ms, 5s or 1m (got "soon")',
      ]),
    );
  });

  it('runs in a pipeline: flow records from a processor end up in the file, and the start line says where', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'l7flow-ipfix-graph-'));
    try {
      const path = join(dir, 'flows.ipfix');
      const kit = createTestKit();
      const result = parseConfig(
        `
receivers: { test_source: }
processors: { test_join: }
exporters: { ipfix: { transport: file, path: ${JSON.stringify(path)}, observation_domain_id: 7 } }
service: { pipelines: { flows: { receivers: [test_source], processors: [test_join], exporters: [ipfix] } } }
`,
        { factories: kit.factories, env: {} },
      );
      if (!result.ok) throw new Error(result.problems.join('\n'));
      const logger = new CaptureLogger();
      const graph = new Graph(result.config, {
        logger,
        clock: systemClock,
        telemetry: new Telemetry(),
        onFatal: (id, error) => {
          throw new Error(`${id}: ${error.message}`);
        },
      });
      await graph.start();
      await kit.sources.get('test_source')!.emit([httpEvent(0), httpEvent(1, '/cart')]);
      expect((await graph.shutdown()).clean).toBe(true);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({ msg: 'exporter started', component: 'ipfix', transport: 'file', path }),
      );
      const decoded = new IpfixDecoder().decodeStream(await readFile(path));
      if (!decoded.ok) throw new Error(decoded.error);
      const urls = decoded.value
        .flatMap((m) => m.records)
        .flatMap((r) => Object.values(JSON.parse(String(valueOf(r, 'httpVals'))) as Record<string, { url: string }>))
        .map((transaction) => transaction.url);
      expect(urls).toEqual(['/item/0', '/cart']);
      expect(decoded.value.every((m) => m.domain === 7)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
