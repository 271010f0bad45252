import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { packageRoot } from '../config/paths.js';
import { systemClock } from '../pipeline/clock.js';
import { Graph } from '../pipeline/graph.js';
import type { FlowRecord, PipelineRecord } from '../pipeline/records.js';
import { Telemetry } from '../pipeline/telemetry.js';
import { CaptureLogger } from './support/capture-logger.js';
import { createTestKit } from './support/components.js';

const fixture = (...parts: string[]) => join(packageRoot, 'test', 'fixtures', ...parts);

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-join-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('EVE and conntrack through flow_join to the debug exporter', () => {
  it('joins each transaction once onto its connection, Service connections included', async () => {
    const kit = createTestKit();
    const output = join(dir, 'records.jsonl');
    const result = parseConfig(
      `
receivers:
  suricata_eve: { source: file, file: { path: ${JSON.stringify(fixture('eve', 'small.eve.json'))}, start_at: beginning, follow: false } }
  test_conn_source: {}
processors:
  flow_join: {}
exporters:
  debug: { path: ${JSON.stringify(output)} }
service:
  pipelines:
    flows: { receivers: [suricata_eve, test_conn_source], processors: [flow_join], exporters: [debug] }
`,
      { factories: kit.factories, env: {} },
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const graph = new Graph(result.config, {
      logger: new CaptureLogger(),
      clock: systemClock,
      telemetry: new Telemetry(),
      onFatal: () => {},
    });
    await graph.start();
    const samples = (await readFile(fixture('flow_join', 'conntrack-samples.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as PipelineRecord);
    await kit.sources.get('test_conn_source')!.emit(samples);
    await graph.receiversCompleted();
    expect((await graph.shutdown()).clean).toBe(true);

    const records = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as FlowRecord);
    const transactions = records.flatMap((r) => r.l7.map((e) => `${r.flowKey}:${e.kind}:${e.txId ?? '-'}`));
    expect(transactions).toHaveLength(4); // http 0, http 1, tls, dns: each exactly once
    const byKind = (kind: string) => records.filter((r) => r.l7.some((e) => e.kind === kind));

    const http = byKind('http');
    expect(new Set(http.map((r) => r.flowKey)).size).toBe(1);
    expect(http.flatMap((r) => r.l7.map((e) => e.txId))).toEqual([0, 1]);
    const httpFlow = records.filter((r) => r.flowKey === http[0]!.flowKey);
    expect(httpFlow.reduce((sum, r) => sum + r.deltas.packets, 0)).toBe(12);
    expect(httpFlow.at(-1)).toMatchObject({ endReason: 3, tcpState: 'TIME_WAIT', app: 'http' });

    // The client addressed ClusterIP 10.96.0.20:443; the endpoint 10.10.2.9:8443 answered.
    expect(byKind('tls')).toEqual([
      expect.objectContaining({
        tuple: { proto: 6, srcIp: '10.10.1.4', srcPort: 40022, dstIp: '10.10.2.9', dstPort: 8443 },
        service: { ip: '10.96.0.20', port: 443 },
        app: 'tls',
      }),
    ]);
    expect(byKind('dns')).toEqual([expect.objectContaining({ service: { ip: '10.96.0.10', port: 53 }, app: 'dns' })]);
  });
});
