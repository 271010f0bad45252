import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { describe, it } from 'vitest';
import { packageRoot } from '../../config/paths.js';
import type { FlowRecord } from '../../pipeline/records.js';
import { transactionFates, type MetricsSnapshot } from '../support/accounting.js';
import { FakeKubeApi, namespaceObject, podObject } from '../support/fake-kube-api.js';
import {
  AgentProcess,
  faultDir,
  httpLine,
  httpLines,
  ipfixTransactions,
  range,
  sendEve,
  TcpRelay,
  transactionOf,
} from '../support/faults.js';
import { TestCollector } from '../support/ipfix-collector.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

/**
 * Collectors and the Kubernetes API fail for as long as the issue says (a 30 s collector
 * outage, a one-minute API outage) while the agent runs as a real process. The faults are
 * independent, so they run concurrently: the file takes about as long as its longest fault.
 * Each test checks the accounting identities on every scrape while the fault lasts, that the
 * agent recovers by itself, and what finally arrived end to end.
 */

const pki = (name: string) => join(packageRoot, 'test', 'fixtures', 'otlp', name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.concurrent('outages of what the agent sends to', () => {
  it(
    'IPFIX collectors over TCP and TLS stop for 30 s and come back; the UDP collector is absent, then appears',
    {
      timeout: 120_000,
    },
    async ({ expect }) => {
      const dir = await faultDir('ipfix');
      const tls = { key: readFileSync(pki('server-key.pem')), cert: readFileSync(pki('server.pem')) };
      let tcp = await TestCollector.tcp();
      let secure = await TestCollector.tcp({ tls });
      const udpPort = await freeUdpPort();
      let udp: TestCollector | undefined;
      const collectors = () => [tcp, secure, ...(udp ? [udp] : [])];
      const socket = join(dir.path, 'eve.sock');
      const reconnect = { initial_interval: '1s', max_interval: '2s' };
      const exporters = ['ipfix/tcp', 'ipfix/tls', 'ipfix/udp'];
      let agent: AgentProcess | undefined;
      try {
        agent = await AgentProcess.start(dir.path, {
          receivers: { suricata_eve: { socket: { path: socket } } },
          processors: { flow_join: {} },
          exporters: {
            'ipfix/tcp': { endpoint: `127.0.0.1:${tcp.port}`, transport: 'tcp', connect_timeout: '1s', reconnect },
            'ipfix/tls': {
              endpoint: `127.0.0.1:${secure.port}`,
              transport: 'tls',
              connect_timeout: '1s',
              reconnect,
              tls: { ca_file: pki('ca.pem'), server_name: 'otel.test' },
            },
            'ipfix/udp': { endpoint: `127.0.0.1:${udpPort}`, transport: 'udp', template_refresh: '600s' },
          },
          service: {
            pipelines: { flows: { receivers: ['suricata_eve'], processors: ['flow_join'], exporters } },
          },
        });
        const running = agent;
        const sent = (snapshot: MetricsSnapshot, component: string) =>
          snapshot.value('l7flow_records_sent_total', { component });
        // Over UDP a record is done once sent or dropped: with no collector, the kernel refuses
        // every send that follows an ICMP port unreachable (send_failed).
        const done = (snapshot: MetricsSnapshot, component: string) =>
          sent(snapshot, component) + snapshot.value('l7flow_records_dropped_total', { component });
        const sessionUp = (snapshot: MetricsSnapshot, transport: string) =>
          snapshot.value('l7flow_ipfix_session_up', { transport });

        // Before: 200 transactions, one flow record each, reach both stream collectors.
        await sendEve(socket, httpLines('ipfix', 0, 200));
        await agent.waitForMetrics('the first 200 records sent', (m) => exporters.every((id) => done(m, id) === 200));
        await tcp.waitFor('200 records', () => ipfixTransactions(tcp, 'ipfix').length === 200);
        await secure.waitFor('200 records', () => ipfixTransactions(secure, 'ipfix').length === 200);

        // The collectors stop. Once the agent noticed, 300 more transactions arrive over the
        // 30 s outage: the TCP and TLS exporters hold them; UDP sends into the void.
        const monitor = agent.monitor(500);
        await Promise.all([tcp.close(), secure.close()]);
        await agent.waitForMetrics('both sessions down', (m) => sessionUp(m, 'tcp') === 0 && sessionUp(m, 'tls') === 0);
        const outageEnds = Date.now() + 30_000;
        for (let second = 0; second < 30; second++) {
          await sendEve(socket, httpLines('ipfix', 200 + second * 10, 10));
          await sleep(outageEnds - (30 - second - 1) * 1000 - Date.now());
        }
        // The last lines are still on their way through the pipeline when the socket closes.
        const during = await agent.waitForMetrics('the outage transactions reached the exporters', (m) =>
          exporters.every((id) => m.value('l7flow_records_received_total', { component: id }) === 500),
        );
        for (const id of ['ipfix/tcp', 'ipfix/tls']) {
          expect(sent(during, id)).toBe(200);
          expect(during.value('l7flow_records_held', { component: id })).toBe(300);
          expect(during.value('l7flow_records_dropped_total', { component: id })).toBe(0);
        }
        expect(during.value('l7flow_ipfix_connect_failures_total', { transport: 'tcp' })).toBeGreaterThanOrEqual(10);
        expect(during.value('l7flow_ipfix_udp_errors_total', { component: 'ipfix/udp' })).toBeGreaterThan(0);
        expect(done(during, 'ipfix/udp')).toBe(500);

        // They come back on the same addresses, and a UDP collector appears: the agent
        // reconnects by itself and delivers everything it held, templates first.
        tcp = await TestCollector.tcp({ port: tcp.port });
        secure = await TestCollector.tcp({ port: secure.port, tls });
        udp = await TestCollector.udp(udpPort);
        await agent.waitForMetrics(
          'the held records delivered',
          (m) => ['ipfix/tcp', 'ipfix/tls'].every((id) => sent(m, id) === 500),
          10_000,
        );
        await sendEve(socket, httpLines('ipfix', 500, 100));
        const after = await agent.waitForMetrics('the last 100 sent', (m) =>
          exporters.every((id) => done(m, id) === 600),
        );
        const { scrapes, violations } = await monitor.stop();
        expect(violations).toEqual([]);
        expect(scrapes).toBeGreaterThan(40);

        await tcp.waitFor('records 200-599', () => ipfixTransactions(tcp, 'ipfix').length === 400);
        await secure.waitFor('records 200-599', () => ipfixTransactions(secure, 'ipfix').length === 400);
        await udp.waitFor('records 500-599', () => ipfixTransactions(udp!, 'ipfix').length === 100);
        // Each transaction exactly once per collector, and no loss in the sequence numbers.
        expect(ipfixTransactions(tcp, 'ipfix').sort((a, b) => a - b)).toEqual(range(200, 600));
        expect(ipfixTransactions(secure, 'ipfix').sort((a, b) => a - b)).toEqual(range(200, 600));
        expect(ipfixTransactions(udp, 'ipfix').sort((a, b) => a - b)).toEqual(range(500, 600));
        for (const c of collectors()) {
          expect(c.errors).toEqual([]);
          expect(c.messages.filter((m) => m.sequenceGap !== 0)).toEqual([]);
        }
        for (const id of exporters) expect(after.value('l7flow_records_held', { component: id })).toBe(0);
        for (const id of ['ipfix/tcp', 'ipfix/tls']) {
          expect(after.value('l7flow_records_dropped_total', { component: id })).toBe(0);
        }
        // Once the UDP collector listens, nothing is lost: the last 100 were all sent.
        expect(after.by('l7flow_records_dropped_total', 'reason', { component: 'ipfix/udp' })).toEqual({
          send_failed: 500 - sent(during, 'ipfix/udp'),
        });
        expect(after.value('l7flow_ipfix_reconnects_total', { transport: 'tcp' })).toBe(1);
        expect(after.value('l7flow_ipfix_reconnects_total', { transport: 'tls' })).toBe(1);
        const lost = running.logs().filter((l) => l.msg === 'IPFIX session lost; reconnecting');
        expect(lost.map((l) => l.component).sort()).toEqual(['ipfix/tcp', 'ipfix/tls']);

        expect((await agent.stop()).code).toBe(0);
      } finally {
        await agent?.kill();
        await Promise.all(collectors().map((c) => c.close().catch(() => {})));
        await dir.remove();
      }
    },
  );

  it(
    'the OTLP receiver answers UNAVAILABLE, then hangs past the timeout, then recovers',
    {
      timeout: 60_000,
    },
    async ({ expect }) => {
      const dir = await faultDir('otlp');
      const rx = await OtlpReceiver.start();
      const socket = join(dir.path, 'eve.sock');
      let agent: AgentProcess | undefined;
      try {
        agent = await AgentProcess.start(dir.path, {
          receivers: { suricata_eve: { socket: { path: socket } } },
          processors: { flow_join: {} },
          exporters: {
            otlp: {
              endpoint: rx.endpoint,
              tls: { insecure: true },
              timeout: '2s',
              batch: { timeout: '50ms' },
              retry_on_failure: { initial_interval: '200ms', max_interval: '1s', max_elapsed_time: '60s' },
            },
          },
          service: {
            pipelines: { flows: { receivers: ['suricata_eve'], processors: ['flow_join'], exporters: ['otlp'] } },
          },
        });
        const monitor = agent.monitor(200);
        const sent = (m: MetricsSnapshot) => m.value('l7flow_records_sent_total', { component: 'otlp' });
        const failed = (m: MetricsSnapshot, code: string) => m.value('l7flow_otlp_items_failed_total', { code });

        await sendEve(socket, httpLines('otlp', 0, 100));
        await agent.waitForMetrics('the first 100 delivered', (m) => sent(m) === 100);

        // UNAVAILABLE for the next three requests of each signal: retried with back-off.
        rx.fail('traces', 3, status.UNAVAILABLE);
        rx.fail('logs', 3, status.UNAVAILABLE);
        await sendEve(socket, httpLines('otlp', 100, 100));
        await agent.waitForMetrics('100 more delivered after UNAVAILABLE', (m) => sent(m) === 200);

        // Then the receiver takes requests and never answers: each attempt ends at the 2 s
        // deadline, the records stay held meanwhile, and the third attempt goes through.
        rx.hang('traces', 2);
        rx.hang('logs', 2);
        await sendEve(socket, httpLines('otlp', 200, 100));
        const hanging = await agent.waitForMetrics(
          'requests hanging',
          () => rx.requests.filter((r) => r.answer === 'HANG').length >= 2,
        );
        expect(hanging.value('l7flow_records_held', { component: 'otlp', buffer: 'otlp_queue' })).toBe(100);
        const after = await agent.waitForMetrics('the last 100 delivered', (m) => sent(m) === 300, 15_000);
        // At least the injected failures (a slow moment can add a deadline); every failed item was retried.
        expect(failed(after, 'UNAVAILABLE')).toBe(2 * 3 * 100);
        expect(failed(after, 'DEADLINE_EXCEEDED')).toBeGreaterThanOrEqual(2 * 2 * 100);
        expect(after.value('l7flow_otlp_items_retried_total')).toBe(after.value('l7flow_otlp_items_failed_total'));
        expect(after.value('l7flow_records_dropped_total', { component: 'otlp' })).toBe(0);
        expect(after.value('l7flow_records_held', { component: 'otlp' })).toBe(0);

        const { scrapes, violations } = await monitor.stop();
        expect(violations).toEqual([]);
        expect(scrapes).toBeGreaterThan(10);
        // Each transaction became exactly one span, and each record one log, across the faults.
        const paths = rx.spans.map((span) => transactionOf('otlp', String(span.attributes['url.path']?.stringValue)));
        expect(paths.sort((a, b) => (a ?? -1) - (b ?? -1))).toEqual(range(0, 300));
        expect(rx.logs).toHaveLength(300);
        expect((await agent.stop()).code).toBe(0);
      } finally {
        await agent?.kill();
        await rx.close();
        await dir.remove();
      }
    },
  );

  it(
    'the Kubernetes API drops watches, answers 410 and 500s, and is unreachable for a minute',
    {
      timeout: 180_000,
    },
    async ({ expect }) => {
      const dir = await faultDir('kube');
      const api = await FakeKubeApi.start();
      const relay = await TcpRelay.start({ host: '127.0.0.1', port: Number(new URL(api.url).port) });
      const kubeconfig = join(dir.path, 'kubeconfig.yaml');
      await writeFile(
        kubeconfig,
        (await readFile(await api.kubeconfigFile(dir.path), 'utf8')).replace(api.url, relay.url),
      );
      api.apply('namespaces', namespaceObject('shop', { 'visibility.antrea.io/l7-export': 'ingress' }));
      api.apply('namespaces', namespaceObject('tools'));
      const server = (name: string, ip: string) => podObject({ name, namespace: 'shop', node: 'node-a', ips: [ip] });
      api.apply('pods', server('web-1', '10.40.0.11'));
      api.apply('pods', podObject({ name: 'batch', namespace: 'tools', node: 'node-a', ips: ['10.40.0.99'] }));
      const socket = join(dir.path, 'eve.sock');
      const output = join(dir.path, 'records.jsonl');
      let agent: AgentProcess | undefined;
      try {
        agent = await AgentProcess.start(dir.path, {
          receivers: { suricata_eve: { socket: { path: socket } } },
          processors: {
            k8s_l7: {
              pods: 'kubernetes',
              kubeconfig,
              node_name: 'node-a',
              post_events: false,
              deleted_pod_grace: '1s',
              mirror: { mode: 'none' },
            },
            flow_join: {},
          },
          exporters: { debug: { path: output } },
          service: {
            pipelines: {
              flows: { receivers: ['suricata_eve'], processors: ['k8s_l7', 'flow_join'], exporters: ['debug'] },
            },
          },
        });
        const running = agent;
        const monitor = agent.monitor(500);
        // A transaction from batch (not opted in) to a server in shop (opted in for ingress) is
        // kept only while the agent knows that server: what it knows shows in what it keeps.
        let sentLines = 0;
        const probe = async (ip: string): Promise<boolean> => {
          const before = (await running.checkedScrape()).value('l7flow_join_transactions_received_total');
          await sendEve(socket, `${httpLine({ tag: 'kube', n: sentLines++, srcIp: '10.40.0.99', dstIp: ip })}\n`);
          const after = await running.waitForMetrics(
            'the probe handled',
            (m) => m.value('l7flow_records_received_total', { component: 'k8s_l7' }) === sentLines,
          );
          return after.value('l7flow_join_transactions_received_total') > before;
        };
        const eventually = async (what: string, condition: () => Promise<boolean>, timeoutMs: number) => {
          const deadline = Date.now() + timeoutMs;
          while (!(await condition())) {
            if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
            await sleep(250);
          }
        };
        const restarts = async (reason: string) =>
          (await running.checkedScrape()).value('l7flow_k8s_watch_restarts_total', { reason });
        const ready = async () => (await fetch(`http://${running.metricsAddress}/readyz`)).status === 200;

        expect(await ready()).toBe(true);
        expect(await probe('10.40.0.11')).toBe(true);
        expect(await probe('10.40.0.12')).toBe(false);

        // Watches cut mid-stream: both informers restart and see what changed meanwhile.
        api.dropWatches();
        api.apply('pods', server('web-2', '10.40.0.12'));
        await eventually('web-2 known after the watches dropped', () => probe('10.40.0.12'), 10_000);
        expect(await restarts('network')).toBeGreaterThanOrEqual(2);

        // 410 Gone: history compacted under the open watches; the informers re-list.
        const listsBefore = api.requestsFor('pods', 'list').length;
        api.expireWatches();
        api.apply('pods', server('web-3', '10.40.0.13'));
        await eventually('web-3 known after 410 Gone', () => probe('10.40.0.13'), 10_000);
        expect(api.requestsFor('pods', 'list').length).toBeGreaterThan(listsBefore);

        // 500s: the next three pod requests fail; the informer retries with back-off.
        api.failNext({ path: /\/pods$/, status: 500, count: 3 });
        api.dropWatches();
        api.apply('pods', server('web-4', '10.40.0.14'));
        await eventually('web-4 known after three 500s', () => probe('10.40.0.14'), 20_000);
        expect(await restarts('http_500')).toBeGreaterThanOrEqual(1);

        // Unreachable for a minute. The agent keeps serving from what it knew: web-1 still
        // resolves, and it stays ready. Meanwhile web-1 is deleted and web-5 created.
        await relay.cut();
        api.delete('pods', 'shop', 'web-1');
        api.apply('pods', server('web-5', '10.40.0.15'));
        const outageEnds = Date.now() + 60_000;
        while (Date.now() < outageEnds) {
          expect(await probe('10.40.0.11')).toBe(true);
          expect(await ready()).toBe(true);
          await sleep(Math.min(5_000, outageEnds - Date.now()));
        }
        expect(await probe('10.40.0.15')).toBe(false);
        await relay.restore();
        // The next attempt comes within the 30 s back-off cap; then both changes are seen.
        await eventually('web-5 known after the outage', () => probe('10.40.0.15'), 40_000);
        await eventually('web-1 gone after the outage', async () => !(await probe('10.40.0.11')), 5_000);

        const { scrapes, violations } = await monitor.stop();
        expect(violations).toEqual([]);
        expect(scrapes).toBeGreaterThan(100);
        // flow_join lingers a moment over the last probes' flows before it makes their records.
        const final = await agent.waitForMetrics('the last probes settled', (m) => transactionFates(m).held === 0);
        expect(await restarts('network')).toBeGreaterThanOrEqual(4);
        // Every probe is either exported, exactly once, or was dropped because its server was
        // not (or no longer) known to be opted in.
        const fates = transactionFates(final);
        expect(fates.decoded).toBe(sentLines);
        expect(Object.keys(fates.dropped)).toEqual(['k8s_l7/not_opted_in']);
        expect(fates.exported + (fates.dropped['k8s_l7/not_opted_in'] ?? 0)).toBe(sentLines);
        expect((await agent.stop()).code).toBe(0);
        const exported = (await readFile(output, 'utf8'))
          .trim()
          .split('\n')
          .flatMap((line) => (JSON.parse(line) as FlowRecord).l7.map((e) => (e.kind === 'http' ? e.http.url : '')));
        expect(exported).toHaveLength(fates.exported);
        expect(new Set(exported).size).toBe(exported.length);
      } finally {
        await agent?.kill();
        await relay.cut();
        await api.close();
        await dir.remove();
      }
    },
  );
});

/** A UDP port nothing listens on (yet). */
async function freeUdpPort(): Promise<number> {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
