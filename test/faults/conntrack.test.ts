import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FlowRecord } from '../../pipeline/records.js';
import { ConntrackNamespace, eventually } from '../support/conntrack-netns.js';
import { AgentProcess, faultDir, httpLine, sendEve, transactionOf } from '../support/faults.js';
import { describeWith } from '../support/requirements.js';

/**
 * Kernel conntrack in a network namespace of the test's own, the agent joining HTTP
 * transactions onto the real connections. The conntrack binary is a wrapper that can make
 * the events process fail at start (`no-events`) or a dump hang until its timeout
 * (`slow-dump`); the test also kills the events process outright.
 */

const port = 8081; // conntrack zone 7 in the namespace
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWith(
  { root: true, commands: ['conntrack', 'nft', 'ip', 'curl'] },
  'conntrack faults through the pipeline',
  () => {
    let ns: ConntrackNamespace;
    let dir: Awaited<ReturnType<typeof faultDir>>;
    let agent: AgentProcess | undefined;
    const clients: ChildProcess[] = [];

    beforeAll(async () => {
      dir = await faultDir('conntrack');
      ns = await ConntrackNamespace.create(port);
      await ns.startHttpServer('127.0.0.1', port);
    });
    afterAll(async () => {
      for (const client of clients) if (client.exitCode === null) client.kill('SIGKILL');
      await agent?.kill();
      await ns?.destroy();
      await dir?.remove();
    });

    /** A connection that stays open until close(); its client port. */
    async function heldConnection(): Promise<{ port: number; close(): Promise<void> }> {
      const script = `const s = require('node:net').connect(${port}, '127.0.0.1', () => console.log(s.localPort));
process.stdin.on('end', () => s.end()); s.on('close', () => process.exit(0)); process.stdin.resume();`;
      const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      clients.push(child);
      const local = await new Promise<number>((resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        child.once('exit', (code) => reject(new Error(`client exited (${code})`)));
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return {
        port: local,
        close: async () => {
          child.stdin.end();
          await exited;
        },
      };
    }

    it(
      'survives the events process dying again and again, and a dump that times out',
      { timeout: 90_000 },
      async () => {
        const flag = (name: string) => join(dir.path, name);
        const wrapper = join(dir.path, 'conntrack');
        await writeFile(
          wrapper,
          [
            '#!/bin/sh',
            'case " $* " in',
            `  *" -E "*) [ -e "${flag('no-events')}" ] && exit 1 ;;`,
            `  *" -L "*) [ -e "${flag('slow-dump')}" ] && exec sleep 30 ;;`,
            'esac',
            `exec "${ns.conntrackPath}" "$@"`,
            '',
          ].join('\n'),
        );
        await chmod(wrapper, 0o755);
        const socket = join(dir.path, 'eve.sock');
        const output = join(dir.path, 'records.jsonl');
        agent = await AgentProcess.start(dir.path, {
          receivers: {
            suricata_eve: { socket: { path: socket } },
            conntrack: {
              conntrack_path: wrapper,
              zones: [7],
              poll_interval: '1s',
              command_timeout: '1s',
              events_restart: { initial_delay: '100ms', max_delay: '1s' },
            },
          },
          processors: { flow_join: {} },
          exporters: { debug: { path: output } },
          service: {
            pipelines: {
              flows: { receivers: ['suricata_eve', 'conntrack'], processors: ['flow_join'], exporters: ['debug'] },
            },
          },
        });
        const running = agent;
        const monitor = agent.monitor(200);
        const value = async (name: string, labels: Record<string, string> = {}) =>
          (await running.checkedScrape()).value(name, labels);
        const eventsUp = async () => (await value('l7flow_conntrack_events_process_up')) === 1;
        await eventually('the agent ready', async () =>
          (await fetch(`http://${running.metricsAddress}/readyz`)).ok ? true : undefined,
        );

        // One HTTP exchange on a real connection, and the transaction Suricata would log for it.
        let transactions = 0;
        const requests: { port: number; n: number }[] = [];
        const exchange = async () => {
          const clientPort = await ns.request(`http://127.0.0.1:${port}/`);
          const n = transactions++;
          const line = httpLine({
            tag: 'ct',
            n,
            srcIp: '127.0.0.1',
            srcPort: clientPort,
            dstIp: '127.0.0.1',
            dstPort: port,
          });
          await sendEve(socket, `${line}\n`);
          requests.push({ port: clientPort, n });
          return { port: clientPort, n };
        };
        const recordsOf = async (clientPort: number) =>
          (await readFile(output, 'utf8').catch(() => ''))
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as FlowRecord)
            .filter((r) => r.tuple.srcPort === clientPort && r.tuple.dstPort === port);
        /** The connection from `clientPort` was exported as ended (carrying transaction `n`). */
        const endedIn = async (clientPort: number, n?: number) => {
          const records = await recordsOf(clientPort);
          const carried = records.some((r) =>
            r.l7.some((e) => e.kind === 'http' && transactionOf('ct', e.http.url) === n),
          );
          return records.some((r) => r.endReason === 3) && (n === undefined || carried) ? true : undefined;
        };

        // The events process is killed five times; each time it is back within the back-off
        // and the next connection's DESTROY arrives.
        for (let round = 0; round < 5; round++) {
          const pid = await eventually('the events process', async () =>
            (await eventsUp()) ? ns.eventsPid() : undefined,
          );
          const { port: clientPort, n } = await exchange();
          await eventually('the exchange ended', () => endedIn(clientPort, n), { ms: 10_000, everyMs: 100 });
          process.kill(pid, 'SIGKILL');
          await eventually('a new events process', async () =>
            (await eventsUp()) && (await ns.eventsPid()) !== pid ? true : undefined,
          );
        }
        expect(await value('l7flow_conntrack_process_restarts_total', { process: 'events' })).toBe(5);

        // Now it cannot start at all for a while: it exits at once, again and again. A
        // connection that ends meanwhile is still ended, from the dumps.
        const held = await heldConnection();
        await sleep(1500); // listed by a dump
        await writeFile(flag('no-events'), '');
        process.kill(await eventually('the events process', () => ns.eventsPid()), 'SIGKILL');
        await eventually('the events process down', async () => ((await eventsUp()) ? undefined : true));
        const restartsBefore = await value('l7flow_conntrack_process_restarts_total');
        await held.close();
        await eventually('the held connection ended without its DESTROY', () => endedIn(held.port), {
          ms: 15_000,
          everyMs: 100,
        });
        await running.waitForMetrics(
          'the events process failing again and again',
          (m) => m.value('l7flow_conntrack_process_restarts_total') >= restartsBefore + 3,
        );
        expect(await eventsUp()).toBe(false);
        await rm(flag('no-events'));
        await eventually('the events process back', async () => ((await eventsUp()) ? true : undefined), {
          ms: 10_000,
        });

        // Dumps hang past command_timeout: they end incomplete, which proves nothing, so a live
        // connection stays live; DESTROY events still end the others.
        const live = await heldConnection();
        await sleep(1500);
        await writeFile(flag('slow-dump'), '');
        const timedOut = await running.waitForMetrics(
          'two dumps timed out',
          (m) => m.value('l7flow_conntrack_dumps_total', { result: 'timed_out' }) >= 2,
          15_000,
        );
        const completeDumps = timedOut.value('l7flow_conntrack_dumps_total', { result: 'complete' });
        const destroyed = await exchange();
        // No dump lists the table now, and the kernel evicts expired entries lazily: list it
        // ourselves, as its garbage collector eventually would, to have the DESTROY sent.
        await eventually(
          'the exchange ended by DESTROY alone',
          async () => {
            await ns.evictExpired();
            return endedIn(destroyed.port, destroyed.n);
          },
          { ms: 10_000, everyMs: 250 },
        );
        expect(await value('l7flow_conntrack_dumps_total', { result: 'complete' })).toBe(completeDumps);
        await rm(flag('slow-dump'));
        await running.run.waitForLog((l) => l.msg === 'conntrack dumps complete again', 10_000);
        await sleep(1500); // a complete dump lists the live connection again

        const { scrapes, violations } = await monitor.stop();
        expect(violations).toEqual([]);
        expect(scrapes).toBeGreaterThan(20);
        expect((await agent.stop()).code).toBe(0);

        const records = (await readFile(output, 'utf8'))
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as FlowRecord);
        const of = (clientPort: number) =>
          records.filter((r) => r.tuple.srcPort === clientPort && r.tuple.dstPort === port);
        // Every exchange: its connection ended, carrying its transaction (and nothing else).
        for (const { port: clientPort, n } of requests) {
          const connection = of(clientPort);
          expect(
            connection.some((r) => r.endReason === 3),
            `connection from ${clientPort}`,
          ).toBe(true);
          expect(
            connection.flatMap((r) => r.l7.map((e) => (e.kind === 'http' ? transactionOf('ct', e.http.url) : -1))),
          ).toEqual([n]);
          expect(connection.at(-1)?.totals.packets).toBeGreaterThanOrEqual(4);
        }
        expect(of(held.port).some((r) => r.endReason === 3)).toBe(true);
        // The connection alive through the timed-out dumps was never taken for ended.
        expect(of(live.port).map((r) => r.endReason)).not.toContain(3);
        expect(of(live.port).at(-1)?.endReason).toBe(4);
        await live.close();
        // No transaction waited in vain: all of them rode their connection's records.
        expect(records.filter((r) => r.totals.packets === 0 && r.l7.length > 0)).toEqual([]);
      },
    );
  },
);
