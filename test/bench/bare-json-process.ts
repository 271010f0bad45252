import { readFile, unlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { markerPrefix } from '../support/perf-workload.js';
import { monotonicMs, noteMarkers } from '../support/perf-sinks.js';

/**
 * The whole-pipeline benchmark's baseline: the least a program can do with the same input.
 * It listens on a Unix socket for the EVE stream, splits it into lines and JSON.parses each,
 * keeping the last parsed object of every flow; on 'table' it reads the conntrack table and
 * keeps each line (the benchmark asks as often as the agent read it). Run with --expose-gc,
 * forked with IPC; argv: socket path, table path. Answers 'stats' with its CPU time, counts,
 * peak RSS and marker times, 'heap' with its heap after a full collection; exits on 'close'.
 */
const [socketPath = '', tablePath = ''] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const flows = new Map<unknown, unknown>();
const connections = new Map<string, string>();
const markers = new Map<number, number>();
let lines = 0;
let malformed = 0;
let conntrackLines = 0;
let peakRss = 0;

const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines++;
      try {
        const event = JSON.parse(line) as { flow_id?: unknown };
        flows.set(event.flow_id, event);
      } catch {
        malformed++;
      }
      if (line.includes(markerPrefix)) noteMarkers(Buffer.from(line), markers, monotonicMs());
    }
  });
  socket.on('error', () => {});
});
await unlink(socketPath).catch(() => {});
await new Promise<void>((resolve) => server.listen(socketPath, resolve));

async function readTable(): Promise<void> {
  const text = await readFile(tablePath, 'utf8');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    conntrackLines++;
    connections.set(line.slice(0, line.indexOf(' packets=')), line);
  }
}
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

process.send?.('ready');
process.on('message', (message) => {
  switch (message) {
    case 'stats': {
      const cpu = process.cpuUsage();
      process.send?.({
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        lines,
        malformed,
        conntrackLines,
        peakRss,
        markers: [...markers],
      });
      break;
    }
    case 'table':
      void readTable().then(() => process.send?.('read'));
      break;
    case 'heap':
      gc();
      process.send?.({ heapUsed: process.memoryUsage().heapUsed, connections: connections.size, flows: flows.size });
      break;
    case 'close':
      clearInterval(sampler);
      for (const socket of sockets) socket.destroy();
      server.close(() => process.exit(0));
      break;
  }
});
