import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { factories } from '../config/components.js';
import { parseConfig } from '../config/load.js';
import { packageRoot } from '../config/paths.js';
import { systemClock } from '../pipeline/clock.js';
import { Graph } from '../pipeline/graph.js';
import type { FlowRecord } from '../pipeline/records.js';
import { Telemetry } from '../pipeline/telemetry.js';
import {
  MetricsSnapshot,
  accountingViolations,
  edgeViolations,
  stageAccount,
  transactionFates,
} from './support/accounting.js';
import { CaptureLogger } from './support/capture-logger.js';
import { faultDir, garbageLines, httpLines, transactionOf } from './support/faults.js';
import { until } from './support/until.js';

let dir: Awaited<ReturnType<typeof faultDir>>;
beforeEach(async () => {
  dir = await faultDir('accounting');
});
afterEach(async () => {
  await dir.remove();
});

describe('accounting identities, checked on a scrape', () => {
  it('reads the Prometheus text format, escaped label values included', () => {
    const snapshot = MetricsSnapshot.parse(
      [
        '# HELP l7flow_records_dropped_total Records a component dropped, by reason.',
        '# TYPE l7flow_records_dropped_total counter',
        'l7flow_records_dropped_total{reason="malformed",component="suricata_eve"} 3',
        'l7flow_records_dropped_total{reason="a \\"quoted\\" \\\\ reason",component="suricata_eve"} 2',
        'l7flow_records_held{component="flow_join",buffer="pending_l7"} 4 1764158400000',
        '',
      ].join('\n'),
    );
    expect(snapshot.by('l7flow_records_dropped_total', 'reason')).toEqual({
      malformed: 3,
      'a "quoted" \\ reason': 2,
    });
    expect(snapshot.value('l7flow_records_held', { component: 'flow_join' })).toBe(4);
  });

  it('names the component and the identity that does not add up', () => {
    const snapshot = MetricsSnapshot.parse(
      [
        'l7flow_records_received_total{component="ipfix"} 10',
        'l7flow_records_sent_total{component="ipfix"} 6',
        'l7flow_records_dropped_total{reason="queue_full",component="ipfix"} 1',
        'l7flow_records_held{component="ipfix",buffer="send_queue"} 2',
        'l7flow_records_received_total{component="otlp"} 5',
        'l7flow_records_sent_total{component="otlp"} 5',
      ].join('\n'),
    );
    expect(accountingViolations(snapshot)).toEqual(['ipfix: received = sent + dropped + held: 10 != 9']);
  });

  it('hold for a real pipeline: EVE and conntrack through k8s_l7 and flow_join to two exporters', async () => {
    const eve = join(dir.path, 'eve.json');
    const valid = 40;
    const oversize = `{"event_type":"http","pad":"${'x'.repeat(2048)}"}`;
    const otherZone = (port: number) =>
      `ipv4     2 tcp      6 100 ESTABLISHED src=10.10.0.1 dst=10.10.0.2 sport=${port} dport=80 packets=3 bytes=180 src=10.10.0.2 dst=10.10.0.1 sport=80 dport=${port} packets=2 bytes=120 [ASSURED] mark=0 zone=9 delta-time=1 use=2`;
    const entry = (port: number) => otherZone(port).replace('zone=9', 'zone=0');
    await writeFile(
      eve,
      [
        // Opted in (client-0 egress): 40 transactions, 20 of them on connections conntrack reports.
        httpLines('acct', 0, valid, { srcIp: '10.10.0.1', dstIp: '10.10.0.2', dstPort: 80 }).trimEnd(),
        // No Pod at either end: dropped by k8s_l7 (no_pod).
        httpLines('nopod', 0, 3, { srcIp: '192.0.2.1', dstIp: '192.0.2.2' }).trimEnd(),
        ...garbageLines,
        oversize,
        '{"timestamp":"2026-11-26T12:00:00+0000","event_type":"stats","stats":{"uptime":1}}',
        '',
      ].join('\n'),
    );
    const table = join(dir.path, 'nf_conntrack');
    await writeFile(
      table,
      [...Array.from({ length: 20 }, (_, i) => entry(40_000 + i)), otherZone(50_000), 'ipv4 2 tcp 6 garbage'].join(
        '\n',
      ) + '\n',
    );
    const output = join(dir.path, 'records.jsonl');
    const pipeline = {
      receivers: ['suricata_eve', 'conntrack'],
      processors: ['k8s_l7', 'flow_join'],
      exporters: ['debug', 'ipfix'],
    };
    const config = parseConfig(
      JSON.stringify({
        receivers: {
          suricata_eve: {
            source: 'file',
            max_line_bytes: 1024,
            file: { path: eve, start_at: 'beginning', follow: false },
          },
          conntrack: { source: 'procfs', procfs_path: table, zones: [0], poll_interval: '1s' },
        },
        processors: {
          k8s_l7: {
            pods: 'file',
            pods_file: join(packageRoot, 'test', 'fixtures', 'k8s_l7', 'pods.yaml'),
            mirror: { mode: 'none' },
          },
          flow_join: { l7_pending_ttl: '2s' },
        },
        exporters: {
          debug: { path: output },
          ipfix: { transport: 'file', path: join(dir.path, 'flows.ipfix') },
        },
        service: { pipelines: { flows: pipeline } },
      }),
      { factories, env: {} },
    );
    if (!config.ok) throw new Error(config.problems.join('\n'));
    const telemetry = new Telemetry();
    const graph = new Graph(config.config, {
      logger: new CaptureLogger(),
      clock: systemClock,
      telemetry,
      onFatal: (id, error) => {
        throw new Error(`${id}: ${error.message}`);
      },
    });
    await graph.start();
    await graph.receiversCompleted();
    await until(() => graph.readiness().ready, 'the first conntrack dump');
    const running = await MetricsSnapshot.of(telemetry);
    expect(accountingViolations(running)).toEqual([]);
    expect(await graph.shutdown()).toMatchObject({ clean: true });

    const done = await MetricsSnapshot.of(telemetry);
    expect(accountingViolations(done)).toEqual([]);
    expect(edgeViolations(done, pipeline)).toEqual([]);
    expect(stageAccount(done, 'suricata_eve')).toMatchObject({
      received: valid + 3 + garbageLines.length + 1,
      dropped: { malformed: garbageLines.length, oversize: 1 },
      held: { delivery: 0 },
    });
    expect(stageAccount(done, 'conntrack').dropped).toEqual({ unparsable_line: 1 });
    // What the metrics say became of the transactions ...
    expect(transactionFates(done)).toEqual({
      decoded: valid + 3,
      dropped: { 'k8s_l7/no_pod': 3 },
      exported: valid,
      held: 0,
    });
    // ... is what the exporters wrote: each valid transaction once, the 20 on their connections.
    const records = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as FlowRecord);
    expect(records).toHaveLength(done.value('l7flow_records_sent_total', { component: 'debug' }));
    const seen = records.flatMap((r) => r.l7.map((e) => (e.kind === 'http' ? transactionOf('acct', e.http.url) : -1)));
    expect(seen.sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: valid }, (_, n) => n));
    const onConnections = records.filter((r) => r.totals.packets > 0);
    expect(new Set(onConnections.map((r) => r.tuple.srcPort)).size).toBe(20);
    expect(onConnections.reduce((n, r) => n + r.l7.length, 0)).toBe(20);
    expect(done.value('l7flow_records_sent_total', { component: 'ipfix' })).toBe(records.length);
  });
});
