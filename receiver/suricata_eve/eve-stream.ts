import type { L7Event } from '../../pipeline/records.js';
import type { BoundCounter, ComponentTelemetry } from '../../pipeline/telemetry.js';
import type { EveDecoder } from './decode.js';
import { type SkipReason } from './decode.js';
import { LineSplitter } from './framing.js';

/** The receiver's counters, with their label values bound once. */
export class EveMetrics {
  readonly lines: BoundCounter;
  readonly bytes: BoundCounter;
  readonly blank: BoundCounter;
  readonly #skipped: Record<'unselected' | 'other_type', BoundCounter>;
  readonly #events: Record<L7Event['kind'], BoundCounter>;

  constructor(readonly telemetry: ComponentTelemetry) {
    this.lines = telemetry.counter('l7flow_eve_lines_total', 'Complete EVE lines read.')();
    this.bytes = telemetry.counter('l7flow_eve_bytes_total', 'EVE bytes read.')();
    const skipped = telemetry.counter(
      'l7flow_eve_lines_skipped_total',
      'EVE lines deliberately not decoded (unselected or other event types, blank lines).',
      ['reason'],
    );
    this.blank = skipped({ reason: 'blank' });
    this.#skipped = { unselected: skipped({ reason: 'unselected' }), other_type: skipped({ reason: 'other_type' }) };
    const events = telemetry.counter('l7flow_eve_events_total', 'L7 events decoded, by type.', ['type']);
    this.#events = { http: events({ type: 'http' }), tls: events({ type: 'tls' }), dns: events({ type: 'dns' }) };
  }

  /** Unselected and other types carry no transaction by design: skipped, not lost. */
  skipped(reason: SkipReason): void {
    if (reason === 'unselected' || reason === 'other_type') this.#skipped[reason].inc();
    else this.lost(reason);
  }

  /**
   * A line that should have carried a record and did not: received and dropped at once, so
   * the receiver's records received = sent + dropped + held covers bad input too.
   */
  lost(reason: 'malformed' | 'invalid' | 'oversize' | 'truncated'): void {
    this.telemetry.received(1);
    this.telemetry.dropped(reason, 1);
  }

  decoded(events: readonly L7Event[]): void {
    for (const event of events) this.#events[event.kind].inc();
  }
}

/**
 * One byte stream of EVE (a socket client, a file): framing plus decoding. Losses are counted
 * as drops with reasons `malformed`, `invalid`, `oversize` (longer than max_line_bytes) and
 * `truncated` (a partial line cut off by a disconnect).
 */
export class EveStream {
  readonly #splitter: LineSplitter;
  #events: L7Event[] = [];
  /** Lines since the last take(), counted in one increment per chunk. */
  #lines = 0;

  constructor(
    decoder: EveDecoder,
    private readonly metrics: EveMetrics,
    maxLineBytes: number,
  ) {
    this.#splitter = new LineSplitter(maxLineBytes, {
      line: (text) => {
        this.#lines++;
        if (text.length === 0 || text.trim().length === 0) return metrics.blank.inc();
        const result = decoder.decode(text);
        if (typeof result === 'string') metrics.skipped(result);
        else this.#events.push(result);
      },
      oversize: () => metrics.lost('oversize'),
    });
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.#splitter.pendingBytes;
  }

  /** Frames and decodes a chunk; returns the events of the lines it completed. */
  push(chunk: Buffer): L7Event[] {
    this.metrics.bytes.inc(chunk.length);
    this.#splitter.push(chunk);
    return this.#take();
  }

  /**
   * The stream ended. `complete` (a file read to its end) decodes a last line that lacks its
   * newline; otherwise (a client gone mid-line) the partial line is counted as truncated.
   */
  end(complete: boolean): L7Event[] {
    const hadPartial = this.#splitter.finish(complete);
    if (hadPartial && !complete) this.metrics.lost('truncated');
    return this.#take();
  }

  #take(): L7Event[] {
    if (this.#lines > 0) this.metrics.lines.inc(this.#lines);
    this.#lines = 0;
    const events = this.#events;
    if (events.length > 0) this.#events = [];
    return events;
  }
}
