import { formatDuration } from '../../config/duration.js';
import { sleep } from '../../pipeline/clock.js';
import type { Component, Host, Settings } from '../../pipeline/component.js';
import type { Consumer } from '../../pipeline/consumer.js';
import { once } from '../../pipeline/once.js';
import type { ConnDumpEnd, ConnSample, PipelineRecord } from '../../pipeline/records.js';
import type { BoundCounter, BoundGauge, BoundHistogram, Labels } from '../../pipeline/telemetry.js';
import { EventSupervisor } from './event-supervisor.js';
import type { ConntrackConfig } from './factory.js';
import type { InvalidReason } from './line-result.js';
import { pumpEntries, type PumpOptions, type PumpResult } from './pump.js';
import type { ConntrackSource, OutputRun, RunResult } from './source.js';
import { enableConntrackSysctls, netfilterSysctlDir } from './sysctls.js';

export interface ReceiverOptions {
  /** Most samples per batch handed downstream. */
  readonly batchSize?: number;
  /** Longer lines are counted as `line_too_long` and skipped. */
  readonly maxLineLength?: number;
  /** Where set_sysctls writes (tests point it at a directory of their own). */
  readonly sysctlDir?: string;
}

type DumpResult = 'complete' | 'failed' | 'timed_out' | 'cancelled';

interface Metrics {
  readonly dumps: (labels: Labels) => BoundCounter;
  readonly dumpSeconds: BoundHistogram;
  readonly dumpEntries: (labels: Labels) => BoundGauge;
  readonly events: (labels: Labels) => BoundCounter;
  readonly parseErrors: (labels: Labels) => BoundCounter;
  readonly restarts: BoundCounter;
  readonly eventsUp: BoundGauge;
  readonly overruns: BoundCounter;
}

/**
 * The conntrack receiver. Every poll_interval it dumps the table (one dump per zone where the
 * source filters by zone) and emits each dump as batches of ConnSample closed by exactly one
 * ConnDumpEnd, whose `complete` is false when the dump failed, timed out, was cancelled or
 * lost samples downstream. With source netlink and `events`, a supervised `conntrack -E`
 * delivers DESTROY events as dying samples in between.
 *
 * Output order: dumps and events are handed downstream one batch at a time, in the order
 * they were produced, and the receiver waits for each (the back-pressure that keeps a
 * 100k-entry dump within one chunk plus one batch of memory). A ConnDumpEnd's `timeUs` is
 * when its dump began: every sample of the dump is stamped at or after it.
 */
export class ConntrackReceiver implements Component {
  readonly #stop = new AbortController();
  readonly #batchSize: number;
  readonly #maxLineLength: number;
  readonly #metrics: Metrics;
  readonly #eventsEnabled: boolean;
  #host: Host | undefined;
  #polls: Promise<void> | undefined;
  #events: EventSupervisor | undefined;
  #currentDump: OutputRun | undefined;
  /** The last hand-off downstream; the next one starts after it settles. */
  #tail: Promise<unknown> = Promise.resolve();
  #rejected = 0;
  /** Records handed to #handOn and not yet accepted downstream (`l7flow_records_held{buffer="hand_off"}`). */
  #handing = 0;
  #firstDumpComplete = false;
  #eventsSubscribed = false;
  #failedDumps = 0;
  #warnedNoCounters = false;
  #warnedNoTimes = false;
  #sysctlsEnabled: string[] = [];

  constructor(
    private readonly settings: Settings,
    private readonly config: ConntrackConfig,
    private readonly next: Consumer<PipelineRecord>,
    private readonly source: ConntrackSource,
    private readonly options: ReceiverOptions = {},
  ) {
    this.#batchSize = options.batchSize ?? 1000;
    this.#maxLineLength = options.maxLineLength ?? 65_536;
    this.#eventsEnabled = config.events && source.events !== undefined;
    const telemetry = settings.telemetry;
    telemetry.holds('hand_off', () => this.#handing);
    this.#metrics = {
      dumps: telemetry.counter('l7flow_conntrack_dumps_total', 'Conntrack dumps, by result.', ['result']),
      dumpSeconds: telemetry.histogram(
        'l7flow_conntrack_dump_duration_seconds',
        'Time to read, parse and hand on one dump.',
        [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      )(),
      dumpEntries: telemetry.gauge(
        'l7flow_conntrack_dump_entries',
        'Entries in the latest dump, by zone ("all" when not filtered by zone).',
        ['zone'],
      ),
      events: telemetry.counter('l7flow_conntrack_events_total', 'Conntrack events read, by type.', ['type']),
      parseErrors: telemetry.counter(
        'l7flow_conntrack_parse_errors_total',
        'Lines that could not be read as conntrack entries, by format and reason.',
        ['format', 'reason'],
      ),
      restarts: telemetry.counter(
        'l7flow_conntrack_process_restarts_total',
        'Restarts of a supervised conntrack process.',
        ['process'],
      )({ process: 'events' }),
      eventsUp: telemetry.gauge(
        'l7flow_conntrack_events_process_up',
        '1 while the conntrack events process runs and listens.',
      )(),
      overruns: telemetry.counter(
        'l7flow_conntrack_event_overruns_total',
        'ENOBUFS reports of the events process: the kernel dropped events (the next dump still sees the table).',
      )(),
    };
  }

  async start(host: Host): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#host = host;
    await this.source.preflight();
    if (this.config.set_sysctls)
      this.#sysctlsEnabled = await enableConntrackSysctls(this.options.sysctlDir ?? netfilterSysctlDir);
    if (this.#stop.signal.aborted) return;
    this.#polls = this.#pollForever();
    if (this.#eventsEnabled) {
      this.#events = this.#superviseEvents();
      this.#events.start();
    }
  }

  /** Ready once a dump completed and, with events on, the event stream listened once. */
  isReady(): boolean {
    return this.#firstDumpComplete && (!this.#eventsEnabled || this.#eventsSubscribed);
  }

  details(): Readonly<Record<string, unknown>> {
    const { source, zones, poll_interval: pollInterval } = this.config;
    return {
      source,
      zones: zones.length > 0 ? zones : 'all',
      poll_interval: formatDuration(pollInterval),
      events: this.#eventsEnabled ? 'DESTROY' : source === 'netlink' ? 'off' : `not available with source ${source}`,
      ...this.source.details(),
      ...(this.#sysctlsEnabled.length > 0 ? { sysctls_enabled: this.#sysctlsEnabled } : {}),
    };
  }

  /**
   * Stops the poll loop and the events process (both killed, not waited for), then waits
   * for the last batches to be handed on, or until `signal` aborts.
   */
  readonly shutdown = once(async (signal?: AbortSignal): Promise<void> => {
    this.#stop.abort();
    this.#currentDump?.cancel();
    const stopped = Promise.all([this.#events?.stop(), this.#polls]).then(() => this.#tail);
    await (signal ? Promise.race([stopped, abortedPromise(signal)]) : stopped);
  });

  async #pollForever(): Promise<void> {
    const signal = this.#stop.signal;
    try {
      while (!signal.aborted) {
        const beganUs = this.settings.clock.nowUs();
        for (const zones of this.source.scopes(this.config.zones)) {
          if (signal.aborted) return;
          await this.#dump(zones);
        }
        const waitMs = this.config.poll_interval - (this.settings.clock.nowUs() - beganUs) / 1000;
        if (waitMs > 0) await sleep(this.settings.clock, waitMs, signal);
      }
    } catch (error) {
      this.#host?.reportFatal(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** One dump of `zones` ([] = all): its samples, then its ConnDumpEnd. */
  async #dump(zones: readonly number[]): Promise<void> {
    const clock = this.settings.clock;
    const beganUs = clock.nowUs();
    const rejectedBefore = this.#rejected;
    const run = this.source.dump(zones);
    this.#currentDump = run;
    let pumped: PumpResult | undefined;
    try {
      pumped = await pumpEntries(run.output, this.#pumpOptions(new Set(zones), false));
    } catch (error) {
      run.cancel();
      this.settings.logger.error({ err: error }, 'conntrack dump aborted by an unexpected error');
    }
    const result = await run.done;
    this.#currentDump = undefined;

    const outcome: DumpResult = !result.ok ? result.reason : pumped ? 'complete' : 'failed';
    const complete = outcome === 'complete' && this.#rejected === rejectedBefore;
    const entries = pumped?.entries ?? 0;
    this.#metrics.dumps({ result: outcome }).inc();
    this.#metrics.dumpSeconds.observe((clock.nowUs() - beganUs) / 1e6);
    this.#metrics.dumpEntries({ zone: zones.length === 0 ? 'all' : zones.join(',') }).set(entries);
    this.#reportOutcome(result, outcome, zones);
    if (complete) this.#firstDumpComplete = true;
    const end: ConnDumpEnd = { kind: 'conn_dump_end', timeUs: beganUs, zones, complete, entries };
    await this.#handOn([end]);
  }

  /** Logs when dumps start failing and when they work again, not every failed dump. */
  #reportOutcome(result: RunResult, outcome: DumpResult, zones: readonly number[]): void {
    if (outcome === 'complete') {
      if (this.#failedDumps > 0)
        this.settings.logger.info({ failed_dumps: this.#failedDumps }, 'conntrack dumps complete again');
      this.#failedDumps = 0;
    } else if (outcome !== 'cancelled') {
      if (this.#failedDumps === 0)
        this.settings.logger.warn(
          { result: outcome, zones, detail: result.ok ? undefined : result.detail },
          'conntrack dump failed; its end marker says incomplete, and the next poll retries',
        );
      this.#failedDumps++;
    }
  }

  #superviseEvents(): EventSupervisor {
    const events = this.source.events?.bind(this.source);
    if (!events) throw new Error('source has no event stream');
    const zones = new Set(this.config.zones);
    return new EventSupervisor({
      clock: this.settings.clock,
      spawn: events,
      consume: (output, onLine) => pumpEntries(output, { ...this.#pumpOptions(zones, true), onLine }),
      initialDelayMs: this.config.events_restart.initial_delay,
      maxDelayMs: this.config.events_restart.max_delay,
      onUp: (up) => {
        if (up) this.#eventsSubscribed = true;
        this.#metrics.eventsUp.set(up ? 1 : 0);
      },
      onRestart: (result, delayMs) => {
        this.#metrics.restarts.inc();
        this.settings.logger.warn(
          { detail: result.ok ? 'exit code 0' : result.detail, restart_in: formatDuration(delayMs) },
          'conntrack events process exited; the next dumps cover the gap',
        );
      },
      onOverrun: () => this.#metrics.overruns.inc(),
    });
  }

  #pumpOptions(zones: ReadonlySet<number>, flushEveryChunk: boolean): PumpOptions {
    return {
      parse: this.source.parse,
      clock: this.settings.clock,
      maxLineLength: this.#maxLineLength,
      batchSize: this.#batchSize,
      zones,
      flushEveryChunk,
      emit: (batch) => {
        if (this.source.kernel && !(this.#warnedNoCounters && this.#warnedNoTimes)) this.#checkAccounting(batch);
        return this.#handOn(batch);
      },
      onInvalid: (reason, line) => this.#invalidLine(reason, line),
      onEvent: (type) => this.#metrics.events({ type }).inc(),
    };
  }

  /**
   * Hands a batch downstream after the previous one; a rejection is counted, never thrown.
   * Its records count as received here, and as held until downstream accepts or refuses them.
   */
  #handOn(batch: readonly PipelineRecord[]): Promise<void> {
    const telemetry = this.settings.telemetry;
    telemetry.received(batch.length);
    this.#handing += batch.length;
    const handed = this.#tail.then(() =>
      this.next
        .consume(batch)
        .catch((error: unknown) => {
          this.#rejected += batch.length;
          telemetry.dropped(
            'downstream_rejected',
            batch.length,
            error instanceof Error ? error.message : String(error),
          );
        })
        .finally(() => {
          this.#handing -= batch.length;
        }),
    );
    this.#tail = handed;
    return handed;
  }

  /** A line that is not an entry: received (it should have been one) and dropped at once. */
  #invalidLine(reason: InvalidReason, line: string): void {
    this.#metrics.parseErrors({ format: this.source.format, reason }).inc();
    this.settings.telemetry.received(1);
    this.settings.telemetry.dropped('unparsable_line', 1, `${reason}: ${line.slice(0, 300)}`);
  }

  /** Warns once when kernel entries lack counters or times: the sysctls were off for them. */
  #checkAccounting(batch: readonly ConnSample[]): void {
    if (!this.#warnedNoCounters && batch.some((sample) => sample.counters === undefined)) {
      this.#warnedNoCounters = true;
      this.settings.logger.warn(
        { sysctl: 'net.netfilter.nf_conntrack_acct' },
        'conntrack entries without packet/byte counters (accounting was off when they were created); their samples carry no counters: set the sysctl to 1 or set_sysctls: true',
      );
    }
    if (!this.#warnedNoTimes && batch.some((sample) => sample.startUs === undefined)) {
      this.#warnedNoTimes = true;
      this.settings.logger.warn(
        { sysctl: 'net.netfilter.nf_conntrack_timestamp' },
        'conntrack entries without start times (timestamps were off when they were created); their samples carry none: set the sysctl to 1 or set_sysctls: true',
      );
    }
  }
}

function abortedPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
