import type { SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { ConsumingComponent, Settings } from '../../pipeline/component.js';
import { ClosedError } from '../../pipeline/errors.js';
import { once } from '../../pipeline/once.js';
import type { FlowRecord, PipelineRecord } from '../../pipeline/records.js';
import type { BoundCounter, ComponentTelemetry } from '../../pipeline/telemetry.js';
import type { OtlpConfig } from './factory.js';
import { openGrpcTransports, type GrpcSettings, type OtlpTransports } from './grpc-transport.js';
import { logSubject, mapFlowLog, type LogMapping } from './map-log.js';
import { mapTransaction, type SpanMapping, type TransactionSpans } from './map-span.js';
import { ResourceCache } from './resources.js';
import { compileRoutes } from './routes.js';
import { Sender, type AttemptOutcome, type DropReason, type SenderReport, type Transmit } from './sender.js';

export interface OtlpExporterOptions {
  /** This node's name, part of every derived id. */
  readonly nodeName: string;
  /** The agent's version, on the instrumentation scope. */
  readonly version: string;
  /** Opens the network side; tests may substitute their own. */
  readonly openTransports?: (settings: GrpcSettings) => Promise<OtlpTransports>;
  /** Jitter source for retry back-off. */
  readonly random?: () => number;
}

type Signal = 'traces' | 'logs';

/**
 * A record's share of the queues: how many of its spans and logs are still on their way, and
 * the first reason one of them was dropped. A record is sent when all its items were
 * delivered, dropped (under that first reason) when any was not, so the graph's record
 * accounting (received = sent + dropped + held) holds for this exporter too.
 */
interface Ticket {
  remaining: number;
  dropReason?: DropReason;
  detail?: string;
}

interface Entry<T> {
  readonly item: T;
  readonly ticket: Ticket;
}

/** Export latency buckets, in seconds (a loopback RPC takes about a millisecond). */
const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The OTLP exporter. The graph's sending queue hands it one batch of flow records at a time;
 * consume() maps them to spans and logs at once and queues those on this exporter's own
 * Senders (one per signal), which batch, send and retry. So the two queues have distinct
 * jobs: the graph's isolates the pipeline from this exporter; ours holds mapped items through
 * network outages, retries and the shutdown flush.
 */
export class OtlpExporter implements ConsumingComponent {
  readonly #spans: Sender<Entry<ReadableSpan>> | undefined;
  readonly #logs: Sender<Entry<ReadableLogRecord>> | undefined;
  readonly #spanMapping: SpanMapping;
  readonly #logMapping: LogMapping;
  readonly #suppressed: BoundCounter;
  /** Records with spans or logs still queued or in flight (`l7flow_records_held{buffer="otlp_queue"}`). */
  #holding = 0;
  #transports: OtlpTransports | undefined;
  #closed = false;

  constructor(
    private readonly settings: Settings,
    private readonly config: OtlpConfig,
    private readonly options: OtlpExporterOptions,
  ) {
    const scope: InstrumentationScope = { name: 'l7flow', version: options.version };
    const resources = new ResourceCache(config.service_name_label);
    this.#spanMapping = {
      nodeName: options.nodeName,
      routes: compileRoutes(config.routes),
      requestHeaders: config.headers_allowlist.request.map((name) => name.toLowerCase()),
      responseHeaders: config.headers_allowlist.response.map((name) => name.toLowerCase()),
      unattributed: config.unattributed_spans,
      resources,
      scope,
    };
    this.#logMapping = { nodeName: options.nodeName, resources, scope };
    this.#suppressed = settings.telemetry.counter('l7flow_otlp_items_dropped_total', droppedHelp, ['signal', 'reason'])(
      { signal: 'traces', reason: 'not_opted_in' },
    );
    this.#spans = config.signals.includes('traces')
      ? this.#sender('traces', (batch) => this.#transports?.traces(batch) ?? notStarted)
      : undefined;
    this.#logs = config.signals.includes('logs')
      ? this.#sender('logs', (batch) => this.#transports?.logs(batch) ?? notStarted)
      : undefined;
    settings.telemetry.holds('otlp_queue', () => this.#holding);
  }

  async start(): Promise<void> {
    if (this.#closed || this.#transports) return;
    const { config } = this;
    this.#transports = await (this.options.openTransports ?? openGrpcTransports)({
      endpoint: config.endpoint,
      tls: config.tls,
      compression: config.compression,
      headers: config.headers,
      timeoutMs: config.timeout,
      userAgent: `l7flow/${this.options.version}`,
    });
    this.#spans?.start();
    this.#logs?.start();
  }

  details() {
    const { tls } = this.config;
    return {
      endpoint: this.config.endpoint,
      tls: tls.insecure ? 'off' : tls.cert_file !== '' ? 'mutual' : 'on',
      compression: this.config.compression,
      signals: this.config.signals,
      node: this.options.nodeName,
    };
  }

  consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(this.settings.id));
    const observedUs = this.settings.clock.nowUs();
    const spans: Entry<ReadableSpan>[] = [];
    const logs: Entry<ReadableLogRecord>[] = [];
    let nothingToSend = 0;
    let suppressed = 0;
    for (const record of batch) {
      if (record.kind !== 'flow') {
        this.settings.telemetry.dropped('unsupported_record', 1, `${record.kind} records are not exported over OTLP`);
        continue;
      }
      const ticket: Ticket = { remaining: 0 };
      const spansBefore = spans.length;
      const logsBefore = logs.length;
      try {
        suppressed += this.#mapRecord(record, observedUs, ticket, spans, logs);
      } catch (error) {
        // Records are typed, so this is a bug or absurd data: lose this record, never its neighbours.
        spans.length = spansBefore;
        logs.length = logsBefore;
        this.settings.telemetry.dropped('invalid_record', 1, error instanceof Error ? error.message : String(error));
        continue;
      }
      if (ticket.remaining === 0) nothingToSend++;
      else this.#holding++;
    }
    // Records that yield nothing under the configured signals are done: nothing of them is lost.
    this.settings.telemetry.sent(nothingToSend);
    this.#suppressed.inc(suppressed);
    this.#spans?.add(spans);
    this.#logs?.add(logs);
    return Promise.resolve();
  }

  /** Appends the record's spans and log; returns how many transactions got no span by policy. */
  #mapRecord(
    record: FlowRecord,
    observedUs: number,
    ticket: Ticket,
    spans: Entry<ReadableSpan>[],
    logs: Entry<ReadableLogRecord>[],
  ): number {
    let suppressed = 0;
    let only: TransactionSpans | undefined;
    const itemsBefore = spans.length + logs.length;
    if (this.#spans) {
      record.l7.forEach((event, index) => {
        if (event.kind !== 'http') return;
        const mapped = mapTransaction(record, event, index, this.#spanMapping);
        if (mapped.suppressed) suppressed++;
        if (mapped.client) spans.push({ item: mapped.client, ticket });
        if (mapped.server) spans.push({ item: mapped.server, ticket });
        if (record.l7.length === 1) only = mapped;
      });
    }
    if (this.#logs) {
      const subject = logSubject(record, this.#logMapping);
      const span = only && (subject.side === 'client' ? (only.client ?? only.server) : (only.server ?? only.client));
      const link: SpanContext | undefined = span?.spanContext();
      logs.push({ item: mapFlowLog(record, subject.resource, observedUs, this.#logMapping, link), ticket });
    }
    ticket.remaining = spans.length + logs.length - itemsBefore;
    return suppressed;
  }

  readonly shutdown = once(async (signal?: AbortSignal): Promise<void> => {
    this.#closed = true;
    await Promise.all([this.#spans?.close(signal), this.#logs?.close(signal)]);
    const transports = this.#transports;
    this.#transports = undefined;
    // Closing waits for RPCs still in flight; past the deadline, stop waiting (they were counted as dropped).
    if (transports) await untilAborted(transports.shutdown(), signal);
  });

  #sender<T extends ReadableSpan | ReadableLogRecord>(signal: Signal, transmit: Transmit<T>): Sender<Entry<T>> {
    const metrics = signalMetrics(this.settings.telemetry, signal);
    const report: SenderReport<Entry<T>> = {
      delivered: (entries) => {
        metrics.sent.inc(entries.length);
        this.#settle(entries);
      },
      dropped: (entries, reason, detail) => {
        metrics.dropped(reason).inc(entries.length);
        this.#settle(entries, reason, detail);
      },
      attempted: (outcome, items, seconds) => {
        (outcome.ok ? metrics.latencyOk : metrics.latencyFailed).observe(seconds);
        if (!outcome.ok) metrics.failed(outcome.code).inc(items);
      },
      retrying: (items) => metrics.retried.inc(items),
    };
    const { queue, batch, retry_on_failure: retry } = this.config;
    const sender = new Sender<Entry<T>>(
      {
        capacity: queue.size,
        overflow: queue.overflow,
        consumers: queue.num_consumers,
        batchSize: batch.send_batch_size,
        batchTimeoutMs: batch.timeout,
        retry: {
          enabled: retry.enabled,
          initialIntervalMs: retry.initial_interval,
          maxIntervalMs: retry.max_interval,
          maxElapsedMs: retry.max_elapsed_time,
          multiplier: retry.multiplier,
          randomizationFactor: retry.randomization_factor,
        },
      },
      (entries) => transmit(entries.map((entry) => entry.item)),
      report,
      this.settings.clock,
      this.options.random,
    );
    this.settings.telemetry.queue(`otlp_${signal}`, sender);
    return sender;
  }

  /** Closes the tickets of finished items; records whose last item finished are counted. */
  #settle(entries: readonly Entry<unknown>[], reason?: DropReason, detail?: string): void {
    let sent = 0;
    const dropped = new Map<DropReason, { count: number; detail: string | undefined }>();
    for (const { ticket } of entries) {
      if (reason !== undefined && ticket.dropReason === undefined) {
        ticket.dropReason = reason;
        ticket.detail = detail;
      }
      if (--ticket.remaining > 0) continue;
      this.#holding--;
      if (ticket.dropReason === undefined) {
        sent++;
        continue;
      }
      const tally = dropped.get(ticket.dropReason) ?? { count: 0, detail: ticket.detail };
      tally.count++;
      dropped.set(ticket.dropReason, tally);
    }
    const { telemetry } = this.settings;
    telemetry.sent(sent);
    for (const [why, tally] of dropped) telemetry.dropped(why, tally.count, tally.detail);
  }
}

const notStarted: Promise<AttemptOutcome> = Promise.resolve({
  ok: false,
  retryable: false,
  code: 'NONE',
  message: 'exporter was not started',
});

/** Resolves when `work` settles or `signal` aborts, whichever comes first. */
function untilAborted(work: Promise<void>, signal?: AbortSignal): Promise<void> {
  const settled = work.catch(() => {});
  if (!signal) return settled;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void settled.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The per-signal metric children the hot path uses, bound once. */
function signalMetrics(telemetry: ComponentTelemetry, signal: Signal) {
  const bySignal = { signal };
  const dropped = telemetry.counter('l7flow_otlp_items_dropped_total', droppedHelp, ['signal', 'reason']);
  const failed = telemetry.counter(
    'l7flow_otlp_items_failed_total',
    'Spans and logs in export requests that failed, by gRPC status; they are then retried or dropped.',
    ['signal', 'code'],
  );
  const latency = telemetry.histogram(
    'l7flow_otlp_export_duration_seconds',
    'Duration of one export request.',
    latencyBuckets,
    ['signal', 'outcome'],
  );
  return {
    sent: telemetry.counter('l7flow_otlp_items_sent_total', 'Spans and logs the receiver acknowledged.', ['signal'])(
      bySignal,
    ),
    retried: telemetry.counter('l7flow_otlp_items_retried_total', 'Spans and logs sent again after a failure.', [
      'signal',
    ])(bySignal),
    dropped: (reason: DropReason) => dropped({ signal, reason }),
    failed: (code: string) => failed({ signal, code }),
    latencyOk: latency({ signal, outcome: 'ok' }),
    latencyFailed: latency({ signal, outcome: 'failed' }),
  };
}

const droppedHelp = 'Spans and logs dropped, by signal and reason.';
