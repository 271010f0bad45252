import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../pipeline/clock.js';
import type { Component } from '../../pipeline/component.js';
import type { HttpEvent, PipelineRecord } from '../../pipeline/records.js';
import { deferred } from '../../pipeline/once.js';
import { MetricsSnapshot, stageAccount } from '../../test/support/accounting.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { until } from '../../test/support/until.js';
import { suricataEveConfigSchema, suricataEveReceiverFactory } from './factory.js';

const host = { reportFatal: (error: Error) => expect.fail(error.message) };

/** An EVE http line whose tx_id and client port identify it. */
const eve = (client: number, txId: number) =>
  `{"timestamp":"2026-11-26T10:00:00.${String(txId % 1_000_000).padStart(6, '0')}+0000","flow_id":${client},` +
  `"event_type":"http","src_ip":"10.0.0.1","src_port":${client},"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP",` +
  `"tx_id":${txId},"http":{"url":"/${txId}"}}\n`;

let dir = '';
let running: Component[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-eve-'));
});
afterEach(async () => {
  await Promise.all(running.map((c) => c.shutdown()));
  running = [];
  await rm(dir, { recursive: true, force: true });
});

/** A receiver wired to a sink; `delayMs` slows the sink to exercise back-pressure. */
function receiver(config: Record<string, unknown>, delayMs = 0) {
  const { settings, telemetry } = testSettings('suricata_eve', systemClock);
  const records: PipelineRecord[] = [];
  const next = {
    consume: async (batch: readonly PipelineRecord[]) => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      records.push(...batch);
    },
  };
  const component = suricataEveReceiverFactory.create(settings, suricataEveConfigSchema.parse(config), next);
  running.push(component);
  const txIds = (client?: number) =>
    (records as HttpEvent[]).filter((r) => client === undefined || r.tuple.srcPort === client).map((r) => r.txId);
  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(telemetry, name, { component: 'suricata_eve', ...labels });
  return { component, records, txIds, metric };
}

function client(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.on('error', reject);
  });
}

const end = (socket: Socket) => new Promise<void>((resolve) => socket.end(() => resolve()));

describe('EVE over a Unix socket', () => {
  it('serves several clients at once: every valid line arrives, in order per client, garbage counted', async () => {
    const path = join(dir, 'run', 'eve.sock');
    const r = receiver({ socket: { path } });
    await r.component.start(host);
    const clients = await Promise.all([1, 2, 3].map(() => client(path)));
    for (let tx = 0; tx < 200; tx++) {
      clients.forEach((socket, i) => {
        socket.write(eve(1000 + i, tx));
        if (tx % 50 === 0) socket.write('{"this is": not json\n');
      });
    }
    await Promise.all(clients.map(end));
    await until(() => r.records.length === 600, 'all 600 events');
    for (const port of [1000, 1001, 1002]) expect(r.txIds(port)).toEqual([...Array(200).keys()]);
    expect(await r.metric('l7flow_records_dropped_total', { reason: 'malformed' })).toBe(12);
    expect(await r.metric('l7flow_eve_lines_total')).toBe(612);
    expect(await r.metric('l7flow_eve_client_connections_total')).toBe(3);
    await until(async () => (await r.metric('l7flow_eve_clients')) === 0, 'clients gone');
  });

  it('costs only the partial line when a client dies mid-line; others and later clients carry on', async () => {
    const path = join(dir, 'eve.sock');
    const r = receiver({ socket: { path } });
    await r.component.start(host);
    const steady = await client(path);
    const dying = await client(path);
    dying.write(eve(2, 0) + eve(2, 1) + eve(2, 2).slice(0, 60));
    steady.write(eve(1, 0));
    await until(() => r.records.length === 3, 'events before the failure');
    dying.destroy();
    await until(
      async () => (await r.metric('l7flow_records_dropped_total', { reason: 'truncated' })) === 1,
      'truncation counted',
    );
    steady.write(eve(1, 1));
    const later = await client(path);
    later.write(eve(3, 0));
    await Promise.all([end(steady), end(later)]);
    await until(() => r.records.length === 5, 'events after the failure');
    expect(r.txIds(2)).toEqual([0, 1]);
    expect(r.txIds(1)).toEqual([0, 1]);
    expect(r.txIds(3)).toEqual([0]);
  });

  it('takes a 100k-line burst from one client through a slow consumer without losing a line', async () => {
    const path = join(dir, 'eve.sock');
    const r = receiver({ socket: { path }, batch_size: 1000 }, 2);
    await r.component.start(host);
    const socket = await client(path);
    const burst = Array.from({ length: 100_000 }, (_, tx) => eve(7, tx)).join('');
    socket.end(burst);
    await until(() => r.records.length === 100_000, '100k events', 60_000);
    const ids = r.txIds(7);
    expect(ids.every((id, i) => id === i)).toBe(true);
  });

  it('replaces a stale socket file, applies the file mode, and removes the socket on shutdown', async () => {
    const path = join(dir, 'eve.sock');
    // A process killed while listening leaves its socket file behind.
    const stale = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(stale.signal).toBe('SIGKILL');
    expect((await stat(path)).isSocket()).toBe(true);
    const r = receiver({ socket: { path, mode: '0600' } });
    await r.component.start(host);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const socket = await client(path);
    socket.write(eve(1, 0));
    await end(socket);
    await until(() => r.records.length === 1, 'an event through the new socket');
    await r.component.shutdown();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to replace a file that is not a socket', async () => {
    const path = join(dir, 'eve.sock');
    await writeFile(path, 'precious');
    await expect(receiver({ socket: { path } }).component.start(host)).rejects.toThrow(/exists and is not a socket/);
  });

  it('refuses connections beyond max_clients, counting them', async () => {
    const path = join(dir, 'eve.sock');
    const r = receiver({ socket: { path, max_clients: 1 } });
    await r.component.start(host);
    const first = await client(path);
    const second = connect(path);
    second.on('error', () => {});
    await until(async () => (await r.metric('l7flow_eve_client_rejected_total')) === 1, 'rejection counted');
    second.destroy();
    await end(first);
  });
});

describe('EVE accounting', () => {
  it('holds decoded events until the pipeline accepts them, and counts a refused batch as dropped once', async () => {
    const path = join(dir, 'eve.sock');
    const { settings, telemetry } = testSettings('suricata_eve', systemClock);
    let gate = deferred();
    let refuse = false;
    const accepted: PipelineRecord[] = [];
    const next = {
      consume: async (batch: readonly PipelineRecord[]) => {
        await gate.promise;
        if (refuse) throw new Error('flow_join: consume after shutdown');
        accepted.push(...batch);
      },
    };
    const component = suricataEveReceiverFactory.create(
      settings,
      suricataEveConfigSchema.parse({ socket: { path }, batch_size: 4 }),
      next,
    );
    running.push(component);
    await component.start(host);
    const account = async () => stageAccount(await MetricsSnapshot.of(telemetry), 'suricata_eve');
    const socket = await client(path);
    socket.write(Array.from({ length: 10 }, (_, tx) => eve(7, tx)).join('') + 'garbage\n');
    await until(async () => (await account()).received === 11, 'the chunk decoded');
    expect(await account()).toMatchObject({ received: 11, dropped: { malformed: 1 }, held: { delivery: 10 } });

    gate.resolve();
    await until(() => accepted.length === 10, 'the held events accepted');
    expect((await account()).held).toEqual({ delivery: 0 });

    gate = deferred();
    refuse = true;
    socket.write(eve(7, 10) + eve(7, 11));
    await until(async () => (await account()).held.delivery === 2, 'two more held');
    gate.resolve();
    await until(async () => (await account()).held.delivery === 0, 'the refused batch released');
    expect((await account()).dropped).toEqual({ malformed: 1, rejected: 2 });
    socket.destroy();
  });
});

describe('EVE from a file', () => {
  const fileConfig = (path: string, extra: Record<string, unknown> = {}) => ({
    source: 'file',
    file: { path, poll_interval: '20ms', ...extra },
  });

  it('starts at the beginning or at the end, then follows growth, waiting for partial lines', async () => {
    const path = join(dir, 'eve.json');
    await writeFile(path, eve(1, 0) + eve(1, 1));
    const fromStart = receiver(fileConfig(path, { start_at: 'beginning' }));
    const fromEnd = receiver(fileConfig(path, { start_at: 'end' }));
    await fromStart.component.start(host);
    await fromEnd.component.start(host);
    await until(() => fromStart.records.length === 2, 'existing lines');
    const next = eve(1, 2);
    await appendFile(path, next.slice(0, 30));
    await new Promise((r) => setTimeout(r, 100));
    expect(fromEnd.records).toHaveLength(0);
    await appendFile(path, next.slice(30));
    await until(() => fromStart.records.length === 3 && fromEnd.records.length === 1, 'the appended line');
    expect(fromEnd.txIds()).toEqual([2]);
  });

  it('follows rotation by rename, reading the old file to its end first', async () => {
    const path = join(dir, 'eve.json');
    await writeFile(path, eve(1, 0));
    const r = receiver(fileConfig(path, { start_at: 'beginning' }));
    await r.component.start(host);
    await until(() => r.records.length === 1, 'first line');
    await rename(path, `${path}.1`);
    await appendFile(`${path}.1`, eve(1, 1)); // Suricata writes to its open file until told to reopen
    await writeFile(path, eve(1, 2) + eve(1, 3));
    await until(() => r.records.length === 4, 'lines across the rotation');
    expect(r.txIds()).toEqual([0, 1, 2, 3]);
    expect(await r.metric('l7flow_eve_file_rotations_total')).toBe(1);
  });

  it('follows truncation (copytruncate)', async () => {
    const path = join(dir, 'eve.json');
    await writeFile(path, eve(1, 0) + eve(1, 1));
    const r = receiver(fileConfig(path, { start_at: 'beginning' }));
    await r.component.start(host);
    await until(() => r.records.length === 2, 'lines before truncation');
    await truncate(path, 0);
    await until(async () => (await r.metric('l7flow_eve_file_truncations_total')) === 1, 'truncation seen');
    await appendFile(path, eve(1, 2));
    await until(() => r.records.length === 3, 'line after truncation');
    expect(r.txIds()).toEqual([0, 1, 2]);
  });

  it('resumes from its saved offset after a restart: nothing lost, nothing repeated', async () => {
    const path = join(dir, 'eve.json');
    const offsetFile = join(dir, 'state', 'eve.offset');
    await writeFile(path, eve(1, 0) + eve(1, 1));
    const first = receiver(fileConfig(path, { start_at: 'beginning', offset_file: offsetFile }));
    await first.component.start(host);
    await until(() => first.records.length === 2, 'first run');
    await appendFile(path, eve(1, 2).slice(0, 25)); // a partial line is not past the saved offset
    await first.component.shutdown();
    await appendFile(path, eve(1, 2).slice(25) + eve(1, 3));
    const second = receiver(fileConfig(path, { start_at: 'beginning', offset_file: offsetFile }));
    await second.component.start(host);
    await until(() => second.records.length === 2, 'second run');
    expect(second.txIds()).toEqual([2, 3]);
  });

  it('replays a file to its end, last line without a newline included, then completes', async () => {
    const path = join(dir, 'eve.json');
    await writeFile(path, eve(1, 0) + eve(1, 1).trimEnd());
    const r = receiver(fileConfig(path, { start_at: 'beginning', follow: false }));
    await r.component.start(host);
    await r.component.completed?.();
    expect(r.txIds()).toEqual([0, 1]);
  });

  it('fails to start a replay of a file that does not exist', async () => {
    const r = receiver(fileConfig(join(dir, 'missing.json'), { follow: false }));
    await expect(r.component.start(host)).rejects.toThrow(/ENOENT/);
  });
});
