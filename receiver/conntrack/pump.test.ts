import { describe, expect, it } from 'vitest';
import { deferred } from '../../pipeline/once.js';
import type { ConnSample } from '../../pipeline/records.js';
import { asyncChunks, chunked, fixtureLine, fixtureLines } from '../../test/support/conntrack-fixtures.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import type { ConntrackEvent, InvalidReason } from './line-result.js';
import { parseXmlLine } from './parse-xml.js';
import { pumpEntries, type PumpOptions } from './pump.js';

const entries = fixtureLines('dump.xml').filter((line) => line.startsWith('<flow'));

function dumpText(count: number): string {
  return `${Array.from({ length: count }, (_, i) => entries[i % entries.length]).join('\n')}\n`;
}

const chunksOf = (text: string, size: number) => asyncChunks(chunked(text, size));

function options(overrides: Partial<PumpOptions> = {}) {
  const batches: ConnSample[][] = [];
  const invalid: InvalidReason[] = [];
  const events: ConntrackEvent[] = [];
  const base: PumpOptions = {
    parse: parseXmlLine,
    clock: new ManualClock(),
    maxLineLength: 65_536,
    batchSize: 1000,
    zones: new Set(),
    flushEveryChunk: false,
    emit: async (batch) => {
      batches.push([...batch]);
      return Promise.resolve();
    },
    onInvalid: (reason) => invalid.push(reason),
    onEvent: (event) => events.push(event),
  };
  return { options: { ...base, ...overrides }, batches, invalid, events };
}

describe('pumpEntries', () => {
  it('emits a dump in order, in batches of at most batchSize, whatever the chunking', async () => {
    const text = dumpText(2500);
    for (const size of [100, 4096, 65_536, text.length]) {
      const { options: o, batches } = options();
      const result = await pumpEntries(chunksOf(text, size), o);
      expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
      expect(result).toEqual({ entries: 2500, invalid: 0, otherZones: 0 });
      expect(batches.flat().map((s) => s.id)).toEqual(
        Array.from(
          { length: 2500 },
          (_, i) => (parseXmlLine(entries[i % entries.length] ?? '', 0) as { sample: ConnSample }).sample.id,
        ),
      );
    }
  });

  it('reads no further while a batch waits downstream (back-pressure)', async () => {
    const text = dumpText(3000);
    let pulled = 0;
    async function* counted(): AsyncGenerator<string> {
      for await (const chunk of chunksOf(text, 8192)) {
        pulled++;
        yield chunk;
      }
    }
    const gate = deferred();
    let emits = 0;
    const { options: o } = options({
      emit: async () => {
        emits++;
        if (emits === 1) await gate.promise;
      },
    });
    const running = pumpEntries(counted(), o);
    while (emits === 0) await new Promise((resolve) => setImmediate(resolve));
    const pulledWhileBlocked = pulled;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(emits).toBe(1);
    expect(pulled).toBe(pulledWhileBlocked);
    gate.resolve();
    await running;
    expect(pulled).toBeGreaterThan(pulledWhileBlocked);
    expect(emits).toBe(3);
  });

  it('skips a bad line, counts it with its reason, and keeps its neighbours', async () => {
    const good = fixtureLine('dump.xml', '<dport>8081</dport>');
    const text = [good, good.slice(0, 100), 'x'.repeat(1500), good, ''].join('\n');
    const { options: o, batches, invalid } = options({ maxLineLength: 1000 });
    const result = await pumpEntries(chunksOf(text, 64), o);
    expect(batches.flat()).toHaveLength(2);
    expect(invalid).toEqual(['truncated', 'line_too_long']);
    expect(result).toEqual({ entries: 2, invalid: 2, otherZones: 0 });
  });

  it('leaves out other zones when given zones', async () => {
    const { options: o, batches } = options({ zones: new Set([7]) });
    const result = await pumpEntries(chunksOf(dumpText(entries.length), 512), o);
    expect(batches.flat().map((s) => s.zone)).toEqual([7]);
    expect(result.otherZones).toBe(entries.length - 1);
  });

  it('stamps samples with the clock time at which their chunk arrived', async () => {
    const clock = new ManualClock();
    const start = clock.nowUs();
    const line = `${fixtureLine('dump.xml', '<dport>8081</dport>')}\n`;
    async function* slow(): AsyncGenerator<string> {
      yield await Promise.resolve(line);
      clock.advance(1500);
      yield line;
    }
    const { options: o, batches } = options({ clock });
    await pumpEntries(slow(), o);
    expect(batches.flat().map((s) => s.timeUs)).toEqual([start, start + 1_500_000]);
  });

  it('for event streams, hands on what each chunk completed at once and reports each event', async () => {
    const lines = fixtureLines('events-destroy.xml');
    const oneLineAtATime = () => asyncChunks(lines.map((line) => `${line}\n`));
    const { options: o, batches, events } = options({ flushEveryChunk: true });
    await pumpEntries(oneLineAtATime(), o);
    expect(batches.map((b) => b.length)).toEqual([1, 1, 1]);
    expect(events).toEqual(['destroy', 'destroy', 'destroy']);
    expect(batches.flat().every((s) => s.dying)).toBe(true);
  });
});
