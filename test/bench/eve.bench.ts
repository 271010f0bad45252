import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';
import { systemClock } from '../../pipeline/clock.js';
import type { L7Kind } from '../../pipeline/records.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { silentLogger } from '../../pipeline/logger.js';
import { EveDecoder } from '../../receiver/suricata_eve/decode.js';
import { EveMetrics, EveStream } from '../../receiver/suricata_eve/eve-stream.js';
import { aitEvePath } from '../support/corpus.js';
import { compare, report } from './harness.js';
import type { Bench } from './run.js';

const chunkBytes = 64 * 1024;

/** ~10 MB of real EVE lines (the AIT log repeated; our own fixture when the corpus is absent), in 64 KiB chunks. */
function workload(): { chunks: Buffer[]; lines: number; source: string } {
  const source = existsSync(aitEvePath) ? aitEvePath : join(packageRoot, 'test', 'fixtures', 'eve', 'small.eve.json');
  const one = readFileSync(source);
  const copies = Math.ceil((10 * 1024 * 1024) / one.length);
  const all = Buffer.concat(Array.from({ length: copies }, () => one));
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += chunkBytes) chunks.push(all.subarray(at, at + chunkBytes));
  let lines = 0;
  for (const byte of all) if (byte === 0x0a) lines++;
  return {
    chunks,
    lines,
    source: existsSync(aitEvePath) ? 'AIT eve.json (corpus)' : 'test/fixtures/eve/small.eve.json',
  };
}

function streamFor(types: readonly L7Kind[]): () => EveStream {
  const telemetry = new Telemetry().forComponent('bench', silentLogger, systemClock);
  const metrics = new EveMetrics(telemetry);
  const decoder = new EveDecoder(types);
  return () => new EveStream(decoder, metrics, 1024 * 1024);
}

/** The baseline: split the same chunks into lines as naively as possible and JSON.parse each. */
function baseline(chunks: readonly Buffer[]): number {
  let rest = '';
  let parsed = 0;
  for (const chunk of chunks) {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      try {
        JSON.parse(part);
        parsed++;
      } catch {
        // malformed lines cost the baseline nothing more
      }
    }
  }
  return parsed;
}

export const eveBench: Bench = {
  name: 'eve',
  run() {
    const { chunks, lines, source } = workload();
    process.stdout.write(`  input: ${source}, ${(chunks.length * chunkBytes) / 1e6} MB, ${lines} lines per pass\n`);
    const pass = (types: readonly L7Kind[]) => {
      const newStream = streamFor(types);
      return (n: number) => {
        for (let i = 0; i < n; i++) {
          const stream = newStream();
          for (const chunk of chunks) stream.push(chunk);
          stream.end(true);
        }
      };
    };
    const results = compare({
      base: (n) => {
        for (let i = 0; i < n; i++) baseline(chunks);
      },
      all: pass(['http', 'tls', 'dns']),
      http: pass(['http']),
    });
    const [base, all, http] = [results.base, results.all, results.http];
    const baselineRow = { name: 'split lines + JSON.parse', value: base.opsPerSecond * lines };
    report({
      name: 'framing + decoding, http/tls/dns selected',
      value: all.opsPerSecond * lines,
      unit: 'lines/s',
      baseline: baselineRow,
      goal: { value: 0.8 * baselineRow.value, atLeast: true },
    });
    report({
      name: 'framing + decoding, http only',
      value: http.opsPerSecond * lines,
      unit: 'lines/s',
      baseline: baselineRow,
      goal: { value: baselineRow.value, atLeast: true },
    });

    // Memory while 1 GB streams through one stream: the heap must stay flat.
    const newStream = streamFor(['http', 'tls', 'dns']);
    const stream = newStream();
    const passes = Math.ceil(1e9 / (chunks.length * chunkBytes));
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    for (let pass = 0; pass < passes; pass++) {
      for (const chunk of chunks) stream.push(chunk);
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakHeap = Math.max(peakHeap, now.heapUsed);
    }
    stream.end(true);
    report({
      name: `peak heap while 1 GB streams through (${passes} passes)`,
      value: peakHeap / 1e6,
      unit: 'MB',
      baseline: { name: 'heap before', value: before.heapUsed / 1e6 },
    });
    report({
      name: 'peak RSS while 1 GB streams through',
      value: peakRss / 1e6,
      unit: 'MB',
      baseline: { name: 'RSS before', value: before.rss / 1e6 },
    });
  },
};
