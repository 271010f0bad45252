import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../pipeline/clock.js';
import { TestCollector } from '../../test/support/ipfix-collector.js';
import { IpfixDecoder, recordObject, valueOf } from '../../test/support/ipfix-decode.js';
import { antreaExpectations, httpTx, ipfixFlow } from '../../test/support/ipfix-records.js';
import { metricValue } from '../../test/support/settings.js';
import { CaptureLogger } from '../../test/support/capture-logger.js';
import type { Settings } from '../../pipeline/component.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { describeWith } from '../../test/support/requirements.js';
import { IpfixExporter } from './exporter.js';
import { ipfixConfigSchema, resolveIpfixConfig } from './factory.js';

/**
 * The exporter over real sockets and files on loopback, against a test collector that
 * decodes with the independent decoder. Real clock, short intervals.
 */
const host = {
  reportFatal: (error: Error) => {
    throw error;
  },
};
const flows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    ipfixFlow({ flowKey: from + i, tuple: { ...ipfixFlow().tuple, srcPort: 10_000 + from + i } }),
  );

let dir = '';
const exporters: IpfixExporter[] = [];
const collectors: TestCollector[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-ipfix-'));
});
afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  await Promise.all(collectors.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** testSettings() with the real clock: sockets and timers here are real. */
function realSettings(id: string) {
  const telemetry = new Telemetry();
  const logger = new CaptureLogger();
  const settings: Settings = {
    id,
    logger,
    clock: systemClock,
    telemetry: telemetry.forComponent(id, logger, systemClock),
  };
  return { settings, telemetry, logger };
}

function exporter(config: Record<string, unknown>) {
  const { settings, telemetry, logger } = realSettings('ipfix');
  const created = new IpfixExporter(settings, resolveIpfixConfig(ipfixConfigSchema.parse(config)));
  exporters.push(created);
  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(telemetry, name, { component: 'ipfix', ...labels });
  return { exporter: created, metric, logger };
}

async function collector(kind: 'udp' | 'tcp', options: Parameters<typeof TestCollector.tcp>[0] = {}) {
  const created = kind === 'udp' ? await TestCollector.udp() : await TestCollector.tcp(options);
  collectors.push(created);
  return created;
}

const sourcePorts = (c: TestCollector) =>
  c.records.filter((r) => r.templateId === 256).map((r) => Number(valueOf(r, 'sourceTransportPort')));

describe('udp transport', () => {
  it('delivers templates and records in datagrams within the message size, without sequence gaps', async () => {
    const c = await collector('udp');
    const { exporter: e, metric } = exporter({ endpoint: `127.0.0.1:${c.port}`, transport: 'udp' });
    await e.start(host);
    const sent = flows(200).map((f, i) => (i % 10 === 0 ? { ...f, l7: [httpTx(i), httpTx(i + 1)] } : f));
    await e.consume(sent);
    await c.waitFor('200 flow records', () => sourcePorts(c).length === 200);
    expect(c.errors).toEqual([]);
    expect(c.messages.every((m) => m.length <= 1472 && m.sequenceGap === 0)).toBe(true);
    expect(c.messages[0]!.templates.map((t) => t.id)).toEqual([256]);
    const first = c.records.find((r) => r.templateId === 256)!;
    expect(recordObject(first)).toMatchObject(antreaExpectations(sent[0]!));
    expect(await metric('l7flow_records_sent_total')).toBe(200);
  });

  it('counts the errors a closed collector port causes (ICMP), keeps the session, and re-sends templates', async () => {
    const closed = await collector('udp');
    const port = closed.port;
    await closed.close();
    collectors.length = 0;
    const { exporter: e, metric } = exporter({ endpoint: `127.0.0.1:${port}`, transport: 'udp' });
    await e.start(host);
    for (let i = 0; i < 50 && (await metric('l7flow_ipfix_udp_errors_total')) === 0; i++) {
      await e.consume(flows(1, i));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await metric('l7flow_ipfix_udp_errors_total')).toBeGreaterThan(0);
    expect(await metric('l7flow_ipfix_session_up', { transport: 'udp' })).toBe(1);
    // The collector comes back on that port: the next message is preceded by templates,
    // so it decodes without waiting for the periodic refresh.
    const back = await TestCollector.udp(port);
    collectors.push(back);
    await e.consume(flows(1, 500));
    await back.waitFor('one record', () => sourcePorts(back).length === 1);
    expect(back.errors).toEqual([]);
    expect(back.messages[0]!.templates.map((t) => t.id)).toEqual([256]);
  });
});

describe('tcp transport', () => {
  it('after a collector restart: reconnects, re-sends templates, restarts the sequence, loses nothing queued', async () => {
    const first = await collector('tcp');
    const port = first.port;
    const { exporter: e, metric } = exporter({
      endpoint: `127.0.0.1:${port}`,
      transport: 'tcp',
      reconnect: { initial_interval: '50ms', max_interval: '100ms' },
    });
    await e.start(host);
    await e.consume(flows(10));
    await first.waitFor('the first 10 records', () => sourcePorts(first).length === 10);
    await first.close();
    collectors.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
    await e.consume(flows(10, 10)); // queued while the collector is down
    const second = await collector('tcp', { port });
    await second.waitFor('the 10 queued records', () => sourcePorts(second).length === 10, 10_000);
    const [session] = second.sessions;
    expect(session!.messages[0]!.templates.map((t) => t.id)).toEqual([256]);
    expect(session!.messages[1]!.templates.map((t) => t.id)).toEqual([257]);
    expect(session!.messages.map((m) => m.sequence)).toEqual([0, 0, 0]);
    expect(sourcePorts(second)).toEqual(flows(10, 10).map((f) => f.tuple.srcPort));
    expect(second.errors).toEqual([]);
    expect(await metric('l7flow_ipfix_reconnects_total', { transport: 'tcp' })).toBe(1);
    expect(await metric('l7flow_ipfix_template_records_sent_total', { transport: 'tcp' })).toBe(4);
    expect(await metric('l7flow_records_sent_total')).toBe(20);
  });

  it('queue overflow while the collector is down: drops counted, and the decoder sees the gap', async () => {
    const port = await freePort();
    const { exporter: e, metric } = exporter({
      endpoint: `127.0.0.1:${port}`,
      transport: 'tcp',
      queue_size: 2,
      reconnect: { initial_interval: '50ms', max_interval: '50ms' },
    });
    await e.start(host);
    for (let i = 0; i < 5; i++) await e.consume(flows(4, 4 * i)); // one message each
    expect(await metric('l7flow_records_dropped_total', { reason: 'queue_full' })).toBe(12);
    const c = await collector('tcp', { port });
    await c.waitFor('the 2 queued messages', () => sourcePorts(c).length === 8, 10_000);
    await e.consume(flows(4, 100));
    await c.waitFor('the next message', () => sourcePorts(c).length === 12);
    const data = c.messages.filter((m) => m.dataRecords > 0);
    expect(data.map((m) => [m.sequence, m.sequenceGap])).toEqual([
      [0, 0],
      [4, 0],
      [20, 12],
    ]);
    expect(await metric('l7flow_ipfix_connect_failures_total', { transport: 'tcp' })).toBeGreaterThan(0);
  });
});

describeWith({ commands: ['openssl'] }, 'tls transport', () => {
  let pki = '';
  const run = promisify(execFile);
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  beforeAll(async () => {
    pki = await mkdtemp(join(tmpdir(), 'l7flow-ipfix-pki-'));
    const at = (name: string) => join(pki, name);
    const openssl = (args: string[]) => run('openssl', args, { timeout: 10_000 });
    await openssl([
      'req',
      '-x509',
      ...key,
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=l7flow test CA',
    ]);
    await openssl([
      'req',
      '-x509',
      ...key,
      '-keyout',
      at('other-ca.key'),
      '-out',
      at('other-ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=other CA',
    ]);
    for (const [name, subject, san] of [
      ['server', '/CN=collector.test', 'subjectAltName=DNS:collector.test,IP:127.0.0.1'],
      ['client', '/CN=node-a', 'subjectAltName=DNS:node-a'],
    ] as const) {
      await openssl([
        'req',
        '-x509',
        ...key,
        '-keyout',
        at(`${name}.key`),
        '-out',
        at(`${name}.crt`),
        '-days',
        '1',
        '-subj',
        subject,
        '-CA',
        at('ca.crt'),
        '-CAkey',
        at('ca.key'),
        '-addext',
        san,
      ]);
    }
  });
  afterAll(async () => {
    await rm(pki, { recursive: true, force: true });
  });

  const tlsCollector = async () =>
    collector('tcp', {
      tls: {
        key: await readFile(join(pki, 'server.key')),
        cert: await readFile(join(pki, 'server.crt')),
        ca: await readFile(join(pki, 'ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
    });

  it('exports over mutual TLS to a collector whose certificate our CA signed', async () => {
    const c = await tlsCollector();
    const { exporter: e } = exporter({
      endpoint: `127.0.0.1:${c.port}:tls`,
      tls: {
        ca_file: join(pki, 'ca.crt'),
        cert_file: join(pki, 'client.crt'),
        key_file: join(pki, 'client.key'),
        server_name: 'collector.test',
      },
    });
    await e.start(host);
    await e.consume(flows(5));
    await c.waitFor('5 records over TLS', () => sourcePorts(c).length === 5);
    expect(c.errors).toEqual([]);
  });

  it('refuses a collector signed by another CA: no session, failures counted, nothing sent', async () => {
    const c = await tlsCollector();
    const {
      exporter: e,
      metric,
      logger,
    } = exporter({
      endpoint: `127.0.0.1:${c.port}`,
      transport: 'tls',
      reconnect: { initial_interval: '50ms', max_interval: '50ms' },
      tls: {
        ca_file: join(pki, 'other-ca.crt'),
        cert_file: join(pki, 'client.crt'),
        key_file: join(pki, 'client.key'),
      },
    });
    await e.start(host);
    await e.consume(flows(2));
    await c.waitFor('two failed handshakes', () => logger.lines.length > 0, 5000);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await metric('l7flow_ipfix_connect_failures_total', { transport: 'tls' })).toBeGreaterThanOrEqual(2);
    expect(c.records).toHaveLength(0);
    expect(logger.lines[0]).toMatchObject({ level: 'warn', msg: 'IPFIX collector unreachable; retrying' });
  });

  it('fails start-up when a certificate file cannot be read', async () => {
    const { exporter: e } = exporter({
      endpoint: '127.0.0.1:4740:tls',
      tls: { ca_file: join(pki, 'missing.crt') },
    });
    await expect(e.start(host)).rejects.toThrow(/missing\.crt/);
  });
});

describe('file transport (RFC 5655)', () => {
  it('creates the parent directory and writes whole messages, templates first', async () => {
    const path = join(dir, 'nested', 'a', 'flows.ipfix');
    const { exporter: e } = exporter({ transport: 'file', path });
    await e.start(host);
    await e.consume(flows(3));
    await e.shutdown();
    const decoded = new IpfixDecoder().decodeStream(await readFile(path));
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.value.map((m) => m.sets[0]!.id)).toEqual([2, 2, 256]);
  });

  it('appends a new session on restart (templates again, sequence from 0), never truncating', async () => {
    const path = join(dir, 'append.ipfix');
    for (const from of [0, 3]) {
      const { exporter: e } = exporter({ transport: 'file', path });
      await e.start(host);
      await e.consume(flows(3, from));
      await e.shutdown();
    }
    const bytes = await readFile(path);
    const messages = splitMessages(bytes);
    expect(messages.map((m) => [m.readUInt16BE(16), m.readUInt32BE(8)])).toEqual([
      [2, 0],
      [2, 0],
      [256, 0],
      [2, 0],
      [2, 0],
      [256, 0],
    ]);
  });

  it('cuts an incomplete last message (a crash mid-write) before appending, and says so', async () => {
    const path = join(dir, 'torn.ipfix');
    const { exporter: first } = exporter({ transport: 'file', path });
    await first.start(host);
    await first.consume(flows(2));
    await first.shutdown();
    const whole = (await stat(path)).size;
    await appendFile(path, Buffer.from('000a0100000000000000', 'hex')); // header of a 256-octet message, cut short
    const { exporter: second, logger } = exporter({ transport: 'file', path });
    await second.start(host);
    await second.consume(flows(1, 2));
    await second.shutdown();
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', truncatedBytes: 10 }));
    const bytes = await readFile(path);
    expect(bytes.length).toBeGreaterThan(whole);
    expect(splitMessages(bytes).reduce((n, m) => n + m.length, 0)).toBe(bytes.length);
  });

  it('refuses to append to a file that is not IPFIX', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'important notes\n');
    const { exporter: e } = exporter({ transport: 'file', path });
    await expect(e.start(host)).rejects.toThrow(/not an IPFIX file/);
    expect(await readFile(path, 'utf8')).toBe('important notes\n');
  });

  it('rotates at max_file_size into a new file that starts with templates', async () => {
    const sub = join(dir, 'rotate');
    const path = join(sub, 'flows.ipfix');
    const { exporter: e, metric } = exporter({ transport: 'file', path, max_file_size: 65536, max_backups: 2 });
    await e.start(host);
    for (let i = 0; i < 12; i++) await e.consume(flows(100, 100 * i)); // ~2 MB of records
    await e.shutdown();
    expect((await readdir(sub)).sort()).toEqual(['flows.ipfix', 'flows.ipfix.1', 'flows.ipfix.2']);
    for (const name of ['flows.ipfix', 'flows.ipfix.1', 'flows.ipfix.2']) {
      const bytes = await readFile(join(sub, name));
      expect(bytes.length).toBeLessThanOrEqual(65536);
      const decoded = new IpfixDecoder().decodeStream(bytes);
      if (!decoded.ok) throw new Error(`${name}: ${decoded.error}`);
      expect(decoded.value[0]!.sets[0]!.id).toBe(2);
      expect(decoded.value.every((m) => m.sequenceGap === 0)).toBe(true);
    }
    expect(await metric('l7flow_records_sent_total')).toBe(1200);
  });
});

function splitMessages(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 4 <= bytes.length;) {
    const length = bytes.readUInt16BE(at + 2);
    if (length < 16 || at + length > bytes.length) break;
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}
