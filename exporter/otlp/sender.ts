import { sleep, type Clock } from '../../pipeline/clock.js';
import { BoundedQueue, type OverflowPolicy } from '../../pipeline/queue.js';

/** What one export attempt came to. */
export type AttemptOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly retryable: boolean;
      /** gRPC status name (UNAVAILABLE, ...) or NONE, for metrics. */
      readonly code: string;
      readonly message: string;
      /** Server-requested wait (RetryInfo) before the next attempt. */
      readonly throttleMs?: number;
    };

/** Sends one batch; never rejects (failures are outcomes). */
export type Transmit<T> = (batch: readonly T[]) => Promise<AttemptOutcome>;

export interface RetrySettings {
  readonly enabled: boolean;
  readonly initialIntervalMs: number;
  readonly maxIntervalMs: number;
  /** 0 = retry for ever. */
  readonly maxElapsedMs: number;
  readonly multiplier: number;
  readonly randomizationFactor: number;
}

export interface SenderSettings {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  /** Batches in flight at once, each with its own retries. */
  readonly consumers: number;
  readonly batchSize: number;
  readonly batchTimeoutMs: number;
  readonly retry: RetrySettings;
}

/** Why items were dropped; the `reason` label of the drop counters. */
export type DropReason = 'queue_full' | 'export_failed' | 'retries_exhausted' | 'shutdown_timeout';

/** Where a Sender reports what became of its items. Every item ends in delivered or dropped, once. */
export interface SenderReport<T> {
  delivered(items: readonly T[]): void;
  dropped(items: readonly T[], reason: DropReason, detail?: string): void;
  /** An attempt finished (`seconds` on the clock); a failed one is followed by a retry or a drop. */
  attempted(outcome: AttemptOutcome, items: number, seconds: number): void;
  /** A failed batch will be sent again after a back-off. */
  retrying(items: number): void;
}

/**
 * The exporterhelper of this exporter (reference/otel.md §4.4, R2), one per signal: a bounded
 * queue of items, batches of up to `batchSize` sent when full or `batchTimeoutMs` after the
 * first item waits, up to `consumers` batches in flight at once (so serialising the next batch
 * overlaps waiting for the last acknowledgement), retries of transient failures with
 * exponential back-off and jitter until `maxElapsedMs`, and a flush on close().
 *
 * No silent loss: every item accepted by add() is reported once, as delivered or as dropped
 * with a reason. Pure apart from the injected Clock and Transmit.
 */
export class Sender<T> {
  readonly #queue: BoundedQueue<T>;
  readonly #abandon = new AbortController();
  /** Idle consumers: those waiting for any item, and those waiting for a full batch. */
  readonly #waiting = new Set<{ readonly wantsFullBatch: boolean; readonly wake: () => void }>();
  #closing = false;
  #workers: Promise<unknown> | undefined;

  constructor(
    private readonly settings: SenderSettings,
    private readonly transmit: Transmit<T>,
    private readonly report: SenderReport<T>,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {
    // The queue never drops by itself: add() makes room first, so the dropped items are known.
    this.#queue = new BoundedQueue<T>(settings.capacity, 'drop_newest', () => {});
  }

  /** Items held: queued, not counting the batches in flight. */
  get size(): number {
    return this.#queue.size;
  }

  get capacity(): number {
    return this.settings.capacity;
  }

  /** Starts the consumers. Items added before start() wait for them. */
  start(): void {
    this.#workers ??= Promise.all(Array.from({ length: this.settings.consumers }, () => this.#run()));
  }

  /** Queues items without waiting; what does not fit is dropped by the overflow policy. */
  add(items: readonly T[]): void {
    if (items.length === 0) return;
    if (this.#closing) {
      this.report.dropped(items, 'shutdown_timeout', 'exporter is shut down');
      return;
    }
    const free = this.settings.capacity - this.#queue.size;
    let accepted = items;
    if (items.length > free) {
      if (this.settings.overflow === 'drop_newest') {
        accepted = items.slice(0, free);
        this.report.dropped(items.slice(free), 'queue_full');
      } else {
        const fromQueue = Math.min(this.#queue.size, items.length - free);
        const evicted = this.#queue.take(fromQueue);
        const skipped = items.length > this.settings.capacity ? items.length - this.settings.capacity : 0;
        accepted = items.slice(skipped);
        this.report.dropped([...evicted, ...items.slice(0, skipped)], 'queue_full');
      }
    }
    this.#queue.push(accepted);
    this.#wakeConsumers();
  }

  /**
   * Stops intake and sends what is queued, retrying as usual. When `signal` aborts, the batches
   * in flight and everything still queued are dropped as `shutdown_timeout` and close() returns.
   */
  async close(signal?: AbortSignal): Promise<void> {
    this.#closing = true;
    const abandon = () => this.#abandon.abort();
    if (signal?.aborted) abandon();
    else signal?.addEventListener('abort', abandon, { once: true });
    this.#wakeConsumers();
    try {
      this.start();
      await this.#workers;
    } finally {
      signal?.removeEventListener('abort', abandon);
      const left = this.#queue.take(this.#queue.size);
      if (left.length > 0) this.report.dropped(left, 'shutdown_timeout');
    }
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#abandon.signal.aborted) return;
      if (this.#queue.size === 0) {
        if (this.#closing) return;
        await this.#idle(false);
        continue;
      }
      if (this.#queue.size < this.settings.batchSize && !this.#closing) await this.#idle(true);
      if (this.#abandon.signal.aborted) return;
      // Another consumer may have taken the items meanwhile.
      const batch = this.#queue.take(this.settings.batchSize);
      if (batch.length > 0) await this.#deliver(batch);
    }
  }

  /**
   * Waits until there are items (or, with `fullBatch`, a full batch, or the batch timeout has
   * passed), or close() is called.
   */
  #idle(fullBatch: boolean): Promise<void> {
    return new Promise((resolve) => {
      const timer = fullBatch ? this.clock.setTimeout(() => wake(), this.settings.batchTimeoutMs) : undefined;
      const waiter = { wantsFullBatch: fullBatch, wake: () => wake() };
      const wake = () => {
        timer?.cancel();
        this.#waiting.delete(waiter);
        resolve();
      };
      this.#waiting.add(waiter);
    });
  }

  #wakeConsumers(): void {
    const full = this.#closing || this.#queue.size >= this.settings.batchSize;
    for (const waiter of [...this.#waiting]) if (full || !waiter.wantsFullBatch) waiter.wake();
  }

  async #deliver(batch: readonly T[]): Promise<void> {
    const { retry } = this.settings;
    const began = this.clock.nowUs();
    let interval = retry.initialIntervalMs;
    for (;;) {
      const attemptBegan = this.clock.nowUs();
      const outcome = await this.#unlessAbandoned(this.transmit(batch));
      if (outcome === undefined) return this.report.dropped(batch, 'shutdown_timeout', 'shutdown deadline passed');
      this.report.attempted(outcome, batch.length, (this.clock.nowUs() - attemptBegan) / 1e6);
      if (outcome.ok) return this.report.delivered(batch);

      const detail = `${outcome.code}: ${outcome.message}`;
      if (!retry.enabled || !outcome.retryable) return this.report.dropped(batch, 'export_failed', detail);
      const delay = Math.max(this.#jitter(interval), outcome.throttleMs ?? 0);
      const elapsedMs = (this.clock.nowUs() - began) / 1000;
      if (retry.maxElapsedMs > 0 && elapsedMs + delay > retry.maxElapsedMs)
        return this.report.dropped(batch, 'retries_exhausted', detail);
      this.report.retrying(batch.length);
      await sleep(this.clock, delay, this.#abandon.signal);
      if (this.#abandon.signal.aborted) return this.report.dropped(batch, 'shutdown_timeout', detail);
      interval = Math.min(interval * retry.multiplier, retry.maxIntervalMs);
    }
  }

  /** A delay drawn uniformly from interval × [1 − factor, 1 + factor] (cenkalti/backoff, as the collector). */
  #jitter(interval: number): number {
    const factor = this.settings.retry.randomizationFactor;
    return Math.round(interval * (1 - factor + 2 * factor * this.random()));
  }

  /** The attempt's outcome, or undefined if the shutdown deadline passes first. */
  #unlessAbandoned(attempt: Promise<AttemptOutcome>): Promise<AttemptOutcome | undefined> {
    const signal = this.#abandon.signal;
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (outcome: AttemptOutcome) => {
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      // Transmit is not supposed to reject; if it does, the batch fails for good rather than hanging.
      attempt.then(settle, (error: unknown) =>
        settle({
          ok: false,
          retryable: false,
          code: 'NONE',
          message: error instanceof Error ? error.message : String(error),
        }),
      );
    });
  }
}
