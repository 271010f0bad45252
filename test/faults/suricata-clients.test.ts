import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../pipeline/records.js';
import { stageAccount, transactionFates } from '../support/accounting.js';
import {
  AgentProcess,
  faultDir,
  garbageLines,
  httpLine,
  httpLines,
  openEve,
  range,
  sendEve,
  transactionOf,
} from '../support/faults.js';

/**
 * Suricata misbehaving on the EVE socket, against the agent as a real process: hundreds of
 * clients connecting and vanishing (politely or not, some mid-line), garbage, and one 100 MB
 * line. Each costs exactly its counter; every valid transaction arrives exactly once.
 */

let dir: Awaited<ReturnType<typeof faultDir>>;
let agent: AgentProcess;
let socket = '';
let output = '';

beforeAll(async () => {
  dir = await faultDir('eve');
  socket = join(dir.path, 'eve.sock');
  output = join(dir.path, 'records.jsonl');
  agent = await AgentProcess.start(dir.path, {
    receivers: { suricata_eve: { socket: { path: socket, max_clients: 64 } } },
    processors: { flow_join: {} },
    exporters: { debug: { path: output } },
    service: { pipelines: { flows: { receivers: ['suricata_eve'], processors: ['flow_join'], exporters: ['debug'] } } },
  });
});

afterAll(async () => {
  await agent?.kill();
  await dir?.remove();
});

/** What a client sent, so the test knows each line's fate. */
interface Sent {
  valid: number[];
  malformed: number;
  invalid: number;
  truncated: number;
}

const invalidLine = '{"event_type":"http","timestamp":"yesterday","src_ip":"10.20.0.1","http":{}}';

/** A line of random bytes (never a newline), which decodes to nothing. */
const noise = () =>
  Buffer.concat([Buffer.from(randomBytes(200).map((b) => (b === 0x0a ? 0x20 : b))), Buffer.from('\n')]);

function write(client: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => client.write(data, (error) => (error ? reject(error) : resolve())));
}

/**
 * Client `i` of a storm: a few valid lines, sometimes garbage, sometimes a last line cut
 * short; then it ends politely or vanishes (destroyed once its bytes are in the kernel).
 */
async function stormClient(i: number, next: () => number, sent: Sent): Promise<void> {
  const client = await openEve(socket);
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
  client.on('error', () => {});
  let text = '';
  for (let k = 0; k < i % 6; k++) {
    const n = next();
    text += `${httpLine({ tag: 'storm', n })}\n`;
    sent.valid.push(n);
  }
  if (i % 5 === 0) {
    text += `${garbageLines[i % garbageLines.length]}\n`;
    sent.malformed++;
  }
  if (i % 7 === 0) {
    text += `${invalidLine}\n`;
    sent.invalid++;
  }
  if (text !== '') await write(client, text);
  if (i % 11 === 0) {
    await write(client, noise());
    sent.malformed++;
  }
  if (i % 3 === 0) {
    await write(client, httpLine({ tag: 'cut', n: i }).slice(0, 100));
    sent.truncated++;
  }
  if (i % 2 === 0) client.end();
  else client.destroy();
  await closed;
}

describe('Suricata clients', () => {
  it('reconnect in a storm of 400 connections, with garbage and cut-off lines', { timeout: 60_000 }, async () => {
    const monitor = agent.monitor(50);
    const sent: Sent = { valid: [], malformed: 0, invalid: 0, truncated: 0 };
    let counter = 0;
    const next = () => counter++;
    for (let wave = 0; wave < 400; wave += 40) {
      await Promise.all(range(wave, wave + 40).map((i) => stormClient(i, next, sent)));
    }
    // The agent carries on by itself: a client after the storm is served as the first was.
    const after = counter;
    await sendEve(socket, httpLines('storm', after, 50));
    sent.valid.push(...range(after, after + 50));

    const done = await agent.waitForMetrics(
      'every storm line accounted for',
      (m) => m.value('l7flow_records_sent_total', { component: 'debug' }) === sent.valid.length,
    );
    const { scrapes, violations } = await monitor.stop();
    expect(violations).toEqual([]);
    expect(scrapes).toBeGreaterThan(3);
    expect(stageAccount(done, 'suricata_eve')).toMatchObject({
      dropped: { malformed: sent.malformed, invalid: sent.invalid, truncated: sent.truncated },
      held: { delivery: 0 },
    });
    expect(done.value('l7flow_eve_client_connections_total')).toBe(401);
    expect(done.value('l7flow_eve_client_rejected_total')).toBe(0);
    expect(done.value('l7flow_eve_clients')).toBe(0);
    expect(transactionFates(done)).toMatchObject({ decoded: sent.valid.length, exported: sent.valid.length, held: 0 });

    const exported = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .flatMap((line) => (JSON.parse(line) as FlowRecord).l7.map((e) => (e.kind === 'http' ? e.http.url : '')))
      .map((url) => transactionOf('storm', url));
    expect(exported.sort((a, b) => (a ?? -1) - (b ?? -1))).toEqual(sent.valid.sort((a, b) => a - b));
  });

  it(
    'sends a 100 MB line: skipped without ever being held whole, its neighbours delivered',
    {
      timeout: 60_000,
    },
    async () => {
      const before = await agent.checkedScrape();
      const rssBefore = before.value('process_resident_memory_bytes');
      const delivered = before.value('l7flow_records_sent_total', { component: 'debug' });
      const monitor = agent.monitor(100);
      const client = await openEve(socket);
      await write(client, `${httpLine({ tag: 'huge', n: 0 })}\n`);
      const megabyte = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 100; i++) await write(client, megabyte);
      await write(client, `\n${httpLine({ tag: 'huge', n: 1 })}\n`);
      await new Promise<void>((resolve) => client.end(() => resolve()));

      const done = await agent.waitForMetrics(
        'both neighbours delivered',
        (m) => m.value('l7flow_records_sent_total', { component: 'debug' }) === delivered + 2,
      );
      const { violations } = await monitor.stop();
      expect(violations).toEqual([]);
      expect(done.value('l7flow_records_dropped_total', { component: 'suricata_eve', reason: 'oversize' })).toBe(1);
      expect(done.value('l7flow_eve_bytes_total') - before.value('l7flow_eve_bytes_total')).toBeGreaterThan(100e6);
      // max_line_bytes is 1 MiB: the line was dropped as it streamed, never buffered whole.
      expect(done.value('process_resident_memory_bytes') - rssBefore).toBeLessThan(50e6);
      const urls = (await readFile(output, 'utf8'))
        .trim()
        .split('\n')
        .flatMap((line) => (JSON.parse(line) as FlowRecord).l7.map((e) => (e.kind === 'http' ? e.http.url : '')))
        .filter((url) => url?.startsWith('/huge/'));
      expect(urls.sort()).toEqual(['/huge/0', '/huge/1']);
      expect((await agent.stop()).code).toBe(0);
    },
  );
});
