import type { Clock } from '../../pipeline/clock.js';
import type { ConnSample } from '../../pipeline/records.js';
import { LineSplitter } from './line-splitter.js';
import type { ConntrackEvent, InvalidReason, LineParser } from './line-result.js';

export interface PumpOptions {
  readonly parse: LineParser;
  readonly clock: Clock;
  readonly maxLineLength: number;
  /** Most samples handed on at once. */
  readonly batchSize: number;
  /** Samples of other zones are left out; an empty set keeps every zone. */
  readonly zones: ReadonlySet<number>;
  /**
   * Hand on what each chunk completed at once (event streams, where latency matters),
   * rather than only full batches (dumps).
   */
  readonly flushEveryChunk: boolean;
  /** Hands a batch downstream. The pump waits for it before reading on: that is the
   * back-pressure on the producer. */
  readonly emit: (batch: readonly ConnSample[]) => Promise<void>;
  readonly onInvalid: (reason: InvalidReason, line: string) => void;
  /** Every event line, before the zone filter. */
  readonly onEvent?: (event: ConntrackEvent) => void;
  /** Every line, parsed or not: the producer is alive and talking. */
  readonly onLine?: () => void;
}

export interface PumpResult {
  /** Samples handed on. */
  readonly entries: number;
  readonly invalid: number;
  /** Samples left out by the zone filter. */
  readonly otherZones: number;
}

/**
 * Streams conntrack output into batches of samples: text chunks are split into lines, each
 * line parsed on its own (a bad one is reported and skipped, its neighbours unaffected),
 * and samples are emitted in order. Each sample is stamped with the clock's time when its
 * chunk arrived. Memory is bounded by one chunk plus one batch whatever the output's size.
 */
export async function pumpEntries(chunks: AsyncIterable<string>, options: PumpOptions): Promise<PumpResult> {
  const { parse, zones, batchSize, onInvalid, onEvent, onLine } = options;
  const splitter = new LineSplitter(options.maxLineLength);
  let pending: ConnSample[] = [];
  let entries = 0;
  let invalid = 0;
  let otherZones = 0;
  let timeUs = 0;

  const take = (line: string) => {
    onLine?.();
    const result = parse(line, timeUs);
    if (result.kind === 'sample') {
      if (result.event !== undefined) onEvent?.(result.event);
      if (zones.size > 0 && !zones.has(result.sample.zone)) otherZones++;
      else pending.push(result.sample);
    } else if (result.kind === 'invalid') {
      invalid++;
      onInvalid(result.reason, line);
    }
  };

  const flush = async (all: boolean) => {
    let from = 0;
    while (pending.length - from >= batchSize || (all && from < pending.length)) {
      const batch = pending.slice(from, from + batchSize);
      from += batch.length;
      entries += batch.length;
      await options.emit(batch);
    }
    pending = from === 0 ? pending : pending.slice(from);
  };

  for await (const chunk of chunks) {
    timeUs = options.clock.nowUs();
    const tooLong = splitter.push(chunk, take);
    for (let i = 0; i < tooLong; i++) {
      invalid++;
      onInvalid('line_too_long', '');
    }
    await flush(options.flushEveryChunk);
  }
  const last = splitter.end();
  if (last !== undefined) take(last);
  await flush(true);
  return { entries, invalid, otherZones };
}
