import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

export type Labels = Readonly<Record<string, string>>;

/** A counter with its label values bound. Count per batch, not per record, on hot paths. */
export interface BoundCounter {
  inc(value?: number): void;
}
export interface BoundGauge {
  set(value: number): void;
}
export interface BoundHistogram {
  observe(value: number): void;
}

/** What /metrics reports for a queue: held records and the bound. */
export interface QueueGauge {
  readonly size: number;
  readonly capacity: number;
}

/** Reads how many records a component holds in one place, at scrape time. */
export type HeldCount = () => number;

/** The terms of a component's accounting identity, as its stop log line states them. */
export interface RecordAccounting {
  readonly received: number;
  readonly sent: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly held: Readonly<Record<string, number>>;
}

/** How often a component may log an aggregated drop warning. */
const dropWarningIntervalUs = 10_000_000;

/**
 * The process's Prometheus registry. Metric families are shared by all components and
 * told apart by the `component` label (its id), so that two instances of one type add up.
 * Naming: `l7flow_` prefix, counters end in `_total`, units in the name (`_seconds`, `_bytes`).
 */
export class Telemetry {
  readonly registry = new Registry();
  readonly #families = new Map<string, Counter | Gauge | Histogram>();
  readonly #queues = new Map<string, { component: string; queue: string; gauge: QueueGauge }>();
  readonly #held = new Map<string, { component: string; buffer: string; count: HeldCount }>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    const queues = this.#queues;
    new Gauge({
      name: 'l7flow_queue_size',
      help: 'Records held in a bounded queue.',
      labelNames: ['component', 'queue'],
      registers: [this.registry],
      collect() {
        for (const q of queues.values()) this.set({ component: q.component, queue: q.queue }, q.gauge.size);
      },
    });
    const held = this.#held;
    new Gauge({
      name: 'l7flow_records_held',
      help: 'Records a component accepted and has neither passed on nor dropped yet, by where it holds them.',
      labelNames: ['component', 'buffer'],
      registers: [this.registry],
      collect() {
        for (const h of held.values()) this.set({ component: h.component, buffer: h.buffer }, h.count());
      },
    });
    new Gauge({
      name: 'l7flow_queue_capacity',
      help: 'Maximum records a bounded queue holds before it drops.',
      labelNames: ['component', 'queue'],
      registers: [this.registry],
      collect() {
        for (const q of queues.values()) this.set({ component: q.component, queue: q.queue }, q.gauge.capacity);
      },
    });
  }

  counter(name: string, help: string, labelNames: readonly string[]): Counter {
    return this.#family(name, labelNames, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  gauge(name: string, help: string, labelNames: readonly string[]): Gauge {
    return this.#family(name, labelNames, () => new Gauge({ name, help, labelNames, registers: [this.registry] }));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#family(
      name,
      labelNames,
      () => new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] }),
    );
  }

  registerQueue(component: string, queue: string, gauge: QueueGauge): void {
    this.#queues.set(`${component}\u0000${queue}`, { component, queue, gauge });
  }

  registerHeld(component: string, buffer: string, count: HeldCount): void {
    this.#held.set(`${component}\u0000${buffer}`, { component, buffer, count });
  }

  forComponent(component: string, logger: Logger, clock: Clock): ComponentTelemetry {
    return new ComponentTelemetry(this, component, logger, clock);
  }

  #family<M extends Counter | Gauge | Histogram>(name: string, labelNames: readonly string[], make: () => M): M {
    const existing = this.#families.get(name);
    if (existing) {
      const known = (existing as unknown as { labelNames: readonly string[] }).labelNames;
      if (known.join() !== labelNames.join()) {
        throw new Error(
          `metric ${name} registered twice with different labels (${known.join()} vs ${labelNames.join()})`,
        );
      }
      return existing as M;
    }
    const created = make();
    this.#families.set(name, created);
    return created;
  }
}

/**
 * A component's view of telemetry: the standard record counters, queue gauges, and its own
 * metric families with the `component` label already bound.
 *
 * Accounting contract (docs/metrics.md): for every component, at every scrape, records
 * received = records sent + records dropped (by reason) + records held (holds()), so no loss
 * goes uncounted. Each record moves from one term to another in one synchronous step, and a
 * scrape reads every value in one synchronous pass, so the identity holds exactly even while
 * records flow. flow_join, which turns transactions and samples into flow records, keeps its
 * own identities (transactions in = out + dropped + held; connections opened = forgotten + held).
 */
export class ComponentTelemetry {
  readonly #received: BoundCounter;
  readonly #sent: BoundCounter;
  readonly #droppedFamily: (labels: Labels) => BoundCounter;
  readonly #errorFamily: (labels: Labels) => BoundCounter;
  readonly #pending = { dropped: new Map<string, number>(), errors: new Map<string, number>() };
  readonly #totals = { received: 0, sent: 0, dropped: new Map<string, number>() };
  readonly #holders = new Map<string, HeldCount>();
  #lastDetail: string | undefined;
  #lastWarningUs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly telemetry: Telemetry,
    readonly component: string,
    readonly logger: Logger,
    readonly clock: Clock,
  ) {
    this.#received = this.counter('l7flow_records_received_total', 'Records a component accepted.')();
    this.#sent = this.counter(
      'l7flow_records_sent_total',
      'Records a component passed on (or, for exporters, delivered).',
    )();
    this.#droppedFamily = this.counter('l7flow_records_dropped_total', 'Records a component dropped, by reason.', [
      'reason',
    ]);
    this.#errorFamily = this.counter(
      'l7flow_component_errors_total',
      'Failures a component survived (it retries or carries on), by kind.',
      ['kind'],
    );
  }

  received(count: number): void {
    if (count <= 0) return;
    this.#received.inc(count);
    this.#totals.received += count;
  }

  sent(count: number): void {
    if (count <= 0) return;
    this.#sent.inc(count);
    this.#totals.sent += count;
  }

  /**
   * Counts a loss under `reason` and logs it in aggregate, at most once per 10 s, with the
   * latest `detail` (an error message, say).
   */
  dropped(reason: string, count: number, detail?: string): void {
    if (count <= 0) return;
    this.#droppedFamily({ reason }).inc(count);
    this.#totals.dropped.set(reason, (this.#totals.dropped.get(reason) ?? 0) + count);
    this.#aggregate(this.#pending.dropped, reason, count, detail);
  }

  /** Counts a survived failure (a read error, a refused connection) and logs it in aggregate. */
  error(kind: string, detail: string): void {
    this.#errorFamily({ kind }).inc();
    this.#aggregate(this.#pending.errors, kind, 1, detail);
  }

  /** Logs drops and errors not yet reported; the graph calls it at shutdown. */
  flushWarnings(): void {
    const { dropped, errors } = this.#pending;
    if (dropped.size === 0 && errors.size === 0) return;
    const fields: Record<string, unknown> = {};
    if (dropped.size > 0) fields.dropped = Object.fromEntries(dropped);
    if (errors.size > 0) fields.errors = Object.fromEntries(errors);
    if (this.#lastDetail !== undefined) fields.detail = this.#lastDetail;
    dropped.clear();
    errors.clear();
    this.#lastDetail = undefined;
    this.#lastWarningUs = this.clock.nowUs();
    this.logger.warn(fields, fields.dropped ? 'records dropped' : 'errors');
  }

  #aggregate(pending: Map<string, number>, key: string, count: number, detail: string | undefined): void {
    pending.set(key, (pending.get(key) ?? 0) + count);
    if (detail !== undefined) this.#lastDetail = detail;
    if (this.clock.nowUs() - this.#lastWarningUs >= dropWarningIntervalUs) this.flushWarnings();
  }

  queue(name: string, gauge: QueueGauge): void {
    this.telemetry.registerQueue(this.component, name, gauge);
  }

  /**
   * Declares a place where the component holds records it accepted (a queue, a store, a batch
   * being written): `l7flow_records_held{component, buffer}` reads `count` at every scrape.
   * Counted in records of the unit the component receives, so that it closes the identity.
   */
  holds(buffer: string, count: HeldCount): void {
    this.#holders.set(buffer, count);
    this.telemetry.registerHeld(this.component, buffer, count);
  }

  /**
   * This component's record counts so far, held records read now. The graph puts them in the
   * component's stop line: once the agent has exited there is no /metrics left to scrape.
   */
  accounting(): RecordAccounting {
    const held: Record<string, number> = {};
    for (const [buffer, count] of this.#holders) held[buffer] = count();
    return {
      received: this.#totals.received,
      sent: this.#totals.sent,
      dropped: Object.fromEntries(this.#totals.dropped),
      held,
    };
  }

  /** A counter family; call the result with the extra label values to get a cached child. */
  counter(name: string, help: string, extraLabels: readonly string[] = []): (labels?: Labels) => BoundCounter {
    const family = this.telemetry.counter(name, help, ['component', ...extraLabels]);
    return this.#bind(family, (child) => ({ inc: (v = 1) => child.inc(v) }));
  }

  gauge(name: string, help: string, extraLabels: readonly string[] = []): (labels?: Labels) => BoundGauge {
    const family = this.telemetry.gauge(name, help, ['component', ...extraLabels]);
    return this.#bind(family, (child) => ({ set: (v) => child.set(v) }));
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    extraLabels: readonly string[] = [],
  ): (labels?: Labels) => BoundHistogram {
    const family = this.telemetry.histogram(name, help, ['component', ...extraLabels], buckets);
    return this.#bind(family, (child) => ({ observe: (v) => child.observe(v) }));
  }

  #bind<F extends Counter | Gauge | Histogram, B>(
    family: F,
    wrap: (child: ReturnType<F['labels']>) => B,
  ): (labels?: Labels) => B {
    const children = new Map<string, B>();
    return (labels = {}) => {
      // One extra label (the common case: reason, type) is its own key; more are joined.
      const values = Object.values(labels);
      const key = values.length === 1 ? (values[0] as string) : JSON.stringify(labels);
      let bound = children.get(key);
      if (!bound) {
        bound = wrap(family.labels({ ...labels, component: this.component }) as ReturnType<F['labels']>);
        children.set(key, bound);
      }
      return bound;
    };
  }
}
