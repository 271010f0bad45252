import type { SendingQueueConfig } from '../config/schema.js';
import type { Consumer } from './consumer.js';
import { ClosedError } from './errors.js';
import { deferred, type Deferred } from './once.js';
import { BoundedQueue } from './queue.js';
import type { PipelineRecord } from './records.js';
import type { ComponentTelemetry } from './telemetry.js';

/**
 * The bounded queue the graph puts in front of each exporter, so that one slow or failing
 * exporter never blocks the pipeline or its sibling exporters. consume() only enqueues;
 * one worker hands batches of up to `batch_size` records to the exporter, one at a time.
 * The exporter may take as long as it needs per batch (retries included): meanwhile the
 * queue absorbs input, and drops by policy when full.
 *
 * Drop reasons: `queue_full`, `export_failed` (the exporter rejected a batch: it gives up on
 * those records), `shutdown_timeout` (still queued when the shutdown deadline passed).
 *
 * Accounting: the queue counts what it holds (`l7flow_records_held{buffer="sending_queue"}`);
 * from the moment the exporter's consume() is called the batch is the exporter's to count as
 * sent, dropped or held, except when consume() rejects: then the exporter has counted none of
 * it and the queue counts it as `export_failed`.
 */
export class SendingQueue implements Consumer<PipelineRecord> {
  readonly #queue: BoundedQueue<PipelineRecord>;
  #closed = false;
  #deadlinePassed = false;
  #wake: Deferred | undefined;
  #worker: Promise<void> | undefined;

  constructor(
    private readonly id: string,
    private readonly exporter: Consumer<PipelineRecord>,
    private readonly config: SendingQueueConfig,
    private readonly telemetry: ComponentTelemetry,
  ) {
    this.#queue = new BoundedQueue(config.queue_size, config.overflow, (n) => telemetry.dropped('queue_full', n));
    telemetry.queue('sending_queue', this.#queue);
    telemetry.holds('sending_queue', () => this.#queue.size);
  }

  consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(this.id));
    this.telemetry.received(batch.length);
    this.#queue.push(batch);
    this.#wake?.resolve();
    return Promise.resolve();
  }

  start(): void {
    this.#worker ??= this.#run();
  }

  /**
   * Stops intake and waits until every queued record was handed to the exporter, or until
   * `signal` aborts; what is still queued then is dropped and counted.
   */
  async drain(signal?: AbortSignal): Promise<void> {
    this.#closed = true;
    this.#wake?.resolve();
    if (this.#worker && !signal?.aborted) {
      const aborted = deferred();
      const onAbort = () => aborted.resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      await Promise.race([this.#worker, aborted.promise]);
      signal?.removeEventListener('abort', onAbort);
    }
    this.#deadlinePassed = true;
    this.telemetry.dropped('shutdown_timeout', this.#queue.clear());
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#deadlinePassed) return;
      if (this.#queue.size === 0) {
        if (this.#closed) return;
        this.#wake = deferred();
        await this.#wake.promise;
        this.#wake = undefined;
        continue;
      }
      const batch = this.#queue.take(this.config.batch_size);
      try {
        await this.exporter.consume(batch);
      } catch (error) {
        this.telemetry.dropped('export_failed', batch.length, error instanceof Error ? error.message : String(error));
      }
      // An exporter whose consume() settles at once (it maps and enqueues) would otherwise have
      // the whole queue drained in one turn of the event loop, while /metrics, sockets and
      // timers wait (issue #10, overload).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
