import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';
import { systemClock } from '../../pipeline/clock.js';
import type { ConnSample } from '../../pipeline/records.js';
import { LineSplitter } from '../../receiver/conntrack/line-splitter.js';
import type { LineParser } from '../../receiver/conntrack/line-result.js';
import { parseOvsLine } from '../../receiver/conntrack/parse-ovs.js';
import { parseTextLine } from '../../receiver/conntrack/parse-text.js';
import { parseXmlLine } from '../../receiver/conntrack/parse-xml.js';
import { pumpEntries } from '../../receiver/conntrack/pump.js';
import { measureAsync, report } from './harness.js';
import type { Bench } from './run.js';

/**
 * One 100,000-entry dump, made by replicating the entries of a captured dump (with distinct
 * source ports), fed in 64 KiB chunks as a pipe delivers it: parsed, batched by 1000 and
 * handed to a consumer that the pump awaits, as the receiver does. The same-run baseline only
 * cuts the same chunks into lines. Goal (issue #5): under 150 ms on one core.
 */
const entries = 100_000;
const chunkSize = 64 * 1024;
const fixtures = join(packageRoot, 'test', 'fixtures', 'conntrack');

function replicatedDump(file: string, isEntry: (line: string) => boolean): string[] {
  const captured = readFileSync(join(fixtures, file), 'utf8').split('\n').filter(isEntry);
  const lines: string[] = [];
  for (let i = 0; i < entries; i++) {
    const port = 10_000 + (i % 50_000);
    // Vary the first source port so that no two entries are the same text.
    lines.push((captured[i % captured.length] ?? '').replace(/sport([=>])\d+/, `sport$1${port}`));
  }
  const text = `${lines.join('\n')}\n`;
  const chunks: string[] = [];
  for (let at = 0; at < text.length; at += chunkSize) chunks.push(text.slice(at, at + chunkSize));
  return chunks;
}

/** Chunks as a pipe hands them over: asynchronously, one at a time. */
async function* feed(chunks: readonly string[]): AsyncGenerator<string> {
  for (const chunk of chunks) yield await Promise.resolve(chunk);
}

async function parseAndEmit(chunks: readonly string[], parse: LineParser): Promise<void> {
  let received = 0;
  const result = await pumpEntries(feed(chunks), {
    parse,
    clock: systemClock,
    maxLineLength: 65_536,
    batchSize: 1000,
    zones: new Set(),
    flushEveryChunk: false,
    emit: async (batch: readonly ConnSample[]) => {
      received += batch.length;
      return Promise.resolve();
    },
    onInvalid: (reason) => {
      throw new Error(`benchmark input did not parse: ${reason}`);
    },
  });
  if (result.entries !== entries || received !== entries) throw new Error(`emitted ${received} of ${entries}`);
}

async function splitOnly(chunks: readonly string[]): Promise<void> {
  const splitter = new LineSplitter(65_536);
  let lines = 0;
  for await (const chunk of feed(chunks)) splitter.push(chunk, () => lines++);
  if (lines !== entries) throw new Error(`split ${lines} of ${entries} lines`);
}

/** Median milliseconds of one run of `fn`. */
async function medianMs(fn: () => Promise<void>): Promise<number> {
  const { opsPerSecond } = await measureAsync(
    async (n) => {
      for (let i = 0; i < n; i++) await fn();
    },
    { n: 1, rounds: 9 },
  );
  return 1000 / opsPerSecond;
}

export const conntrackBench: Bench = {
  name: 'conntrack',
  async run() {
    const formats = [
      { name: 'netlink XML (conntrack -L -o xml)', file: 'dump.xml', parse: parseXmlLine, goal: true },
      { name: 'procfs text (/proc/net/nf_conntrack)', file: 'procfs.txt', parse: parseTextLine, goal: false },
      { name: 'OVS (dpctl/dump-conntrack -m -s)', file: 'ovs-dump-ms.txt', parse: parseOvsLine, goal: false },
    ];
    for (const format of formats) {
      const chunks = replicatedDump(
        format.file,
        (line) => parseXmlLine(line, 0).kind === 'sample' || /src=/.test(line),
      );
      const baseline = await medianMs(() => splitOnly(chunks));
      const value = await medianMs(() => parseAndEmit(chunks, format.parse));
      report({
        name: `parse + emit a 100k-entry dump, ${format.name}`,
        value,
        unit: 'ms',
        baseline: { name: 'split the same chunks into lines', value: baseline },
        ...(format.goal ? { goal: { value: 150, atLeast: false } } : {}),
      });
    }
  },
};
