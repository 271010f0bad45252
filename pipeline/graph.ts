import type { AgentConfig } from '../config/load.js';
import type { Clock } from './clock.js';
import type { Component, ComponentKind, ConsumingComponent, Host, Settings } from './component.js';
import { countingConsumer, fanout, type Consumer } from './consumer.js';
import type { Logger } from './logger.js';
import type { PipelineRecord, RecordFamily } from './records.js';
import { SendingQueue } from './sending-queue.js';
import type { ComponentTelemetry, Telemetry } from './telemetry.js';

export interface GraphOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  /** Called when a running component reports a failure it cannot recover from. */
  readonly onFatal: (componentId: string, error: Error) => void;
}

interface Node {
  readonly id: string;
  readonly kind: ComponentKind;
  readonly component: Component;
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
  readonly sendingQueue?: SendingQueue;
  started: boolean;
}

export interface ShutdownResult {
  /** True when every component stopped without error before the deadline. */
  readonly clean: boolean;
  readonly failures: readonly string[];
}

/**
 * The running form of an AgentConfig: every component created and wired.
 *
 * Wiring per pipeline: receivers -> processors (in order) -> a SendingQueue per exporter.
 * A receiver in several pipelines feeds all of them; an exporter in several pipelines has one
 * instance and one queue. Record counters (`received`/`sent`) are kept on the edges here,
 * counted once the receiving side accepted a batch, so components only count their drops and
 * what they hold (receivers count what they read; each exporter's queue counts its intake).
 */
export class Graph {
  readonly #exporters: Node[] = [];
  readonly #processors: Node[] = [];
  readonly #receivers: Node[] = [];
  readonly #sendingQueues: SendingQueue[] = [];
  #state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped' = 'created';

  constructor(
    config: AgentConfig,
    private readonly options: GraphOptions,
  ) {
    const exporterQueues = new Map<string, SendingQueue>();
    for (const [id, { factory, config: section, sendingQueue }] of config.exporters) {
      const settings = this.#settings(id);
      const component = factory.create(settings, section);
      const queue = new SendingQueue(id, component, sendingQueue, settings.telemetry);
      exporterQueues.set(id, queue);
      this.#sendingQueues.push(queue);
      this.#exporters.push(this.#node(id, 'exporter', component, settings, queue));
    }

    const receiverHeads = new Map<string, Consumer<PipelineRecord>[]>();
    for (const pipeline of Object.values(config.service.pipelines)) {
      let next: Consumer<PipelineRecord> = fanout(
        pipeline.exporters.map((id) => exporterQueues.get(id) as SendingQueue),
      );
      const processors: Node[] = [];
      const inputs = familiesReaching(config, pipeline.receivers, pipeline.processors);
      for (const id of [...pipeline.processors].reverse()) {
        const { factory, config: section } = config.processors.get(id) as NonNullable<
          ReturnType<typeof config.processors.get>
        >;
        const settings: Settings = { ...this.#settings(id), inputs: inputs.get(id) ?? new Set<RecordFamily>() };
        const component: ConsumingComponent = factory.create(
          settings,
          section,
          countingConsumer(next, (n) => settings.telemetry.sent(n)),
        );
        next = countingConsumer(component, (n) => settings.telemetry.received(n));
        processors.unshift(this.#node(id, 'processor', component, settings));
      }
      this.#processors.push(...processors);
      for (const id of pipeline.receivers) receiverHeads.set(id, [...(receiverHeads.get(id) ?? []), next]);
    }

    for (const [id, { factory, config: section }] of config.receivers) {
      const settings = this.#settings(id);
      const next = countingConsumer(fanout(receiverHeads.get(id) ?? []), (n) => settings.telemetry.sent(n));
      this.#receivers.push(this.#node(id, 'receiver', factory.create(settings, section, next), settings));
    }
  }

  /** All nodes in start order: exporters, processors, receivers. */
  get #startOrder(): Node[] {
    return [...this.#exporters, ...this.#processors, ...this.#receivers];
  }

  /**
   * Starts exporters, then processors, then receivers, so that data always has somewhere
   * to go. If one fails, those already started are shut down and the error is re-thrown.
   */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new Error(`graph cannot start when ${this.#state}`);
    this.#state = 'starting';
    for (const node of this.#startOrder) {
      const host: Host = { reportFatal: (error) => this.options.onFatal(node.id, error) };
      const began = this.options.clock.nowUs();
      try {
        await node.component.start(host);
      } catch (error) {
        node.logger.error({ err: error }, `${node.kind} failed to start`);
        await this.shutdown();
        throw new Error(
          `${node.kind} ${node.id} failed to start: ${error instanceof Error ? error.message : String(error)}`,
          {
            cause: error,
          },
        );
      }
      node.started = true;
      node.sendingQueue?.start();
      const startMs = Math.round((this.options.clock.nowUs() - began) / 1000);
      node.logger.info({ kind: node.kind, ...node.component.details?.(), startMs }, `${node.kind} started`);
    }
    this.#state = 'running';
  }

  /**
   * Receivers first (they stop intake and flush into processors), then processors in
   * pipeline order, then the exporters' queues drain, then exporters flush and close.
   * Components still busy when `signal` aborts are abandoned and the result is not clean.
   * Idempotent: later calls wait for nothing and report clean.
   */
  async shutdown(signal?: AbortSignal): Promise<ShutdownResult> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return { clean: true, failures: [] };
    this.#state = 'stopping';
    const failures: string[] = [];
    const stop = async (node: Node) => {
      try {
        await node.component.shutdown(signal);
        if (node.started)
          node.logger.info({ kind: node.kind, records: node.telemetry.accounting() }, `${node.kind} stopped`);
      } catch (error) {
        failures.push(`${node.id}: ${error instanceof Error ? error.message : String(error)}`);
        node.logger.error({ err: error }, `${node.kind} failed to stop cleanly`);
      }
    };
    await Promise.all(this.#receivers.map(stop));
    for (const node of this.#processors) await stop(node);
    await Promise.all(this.#sendingQueues.map((queue) => queue.drain(signal)));
    await Promise.all(this.#exporters.map(stop));
    for (const node of this.#startOrder) node.telemetry.flushWarnings();
    if (signal?.aborted) failures.push('shutdown deadline passed before every component had stopped');
    this.#state = 'stopped';
    return { clean: failures.length === 0, failures };
  }

  /**
   * When every receiver is finite (Component.completed, e.g. files replayed to their end):
   * resolves once all have handed on their input. Undefined when any receiver runs until
   * stopped, since the agent then has no natural end.
   */
  receiversCompleted(): Promise<void> | undefined {
    const completions: Promise<void>[] = [];
    for (const node of this.#receivers) {
      const completion = node.component.completed?.();
      if (completion === undefined) return undefined;
      completions.push(completion);
    }
    return completions.length > 0 ? Promise.all(completions).then(() => undefined) : undefined;
  }

  /** Ready when running and every component that reports readiness is ready. */
  readiness(): { ready: boolean; waiting: string[] } {
    if (this.#state !== 'running') return { ready: false, waiting: [`agent is ${this.#state}`] };
    const waiting = this.#startOrder.filter((n) => n.component.isReady?.() === false).map((n) => n.id);
    return { ready: waiting.length === 0, waiting };
  }

  #settings(id: string): Settings {
    const logger = this.options.logger.child({ component: id });
    return {
      id,
      logger,
      clock: this.options.clock,
      telemetry: this.options.telemetry.forComponent(id, logger, this.options.clock),
    };
  }

  #node(id: string, kind: ComponentKind, component: Component, settings: Settings, sendingQueue?: SendingQueue): Node {
    return {
      id,
      kind,
      component,
      logger: settings.logger,
      telemetry: settings.telemetry,
      started: false,
      ...(sendingQueue ? { sendingQueue } : {}),
    };
  }
}

/** The record families entering each processor of a pipeline, from what its receivers produce. */
function familiesReaching(
  config: AgentConfig,
  receivers: readonly string[],
  processors: readonly string[],
): Map<string, ReadonlySet<RecordFamily>> {
  let flowing = new Set<RecordFamily>(receivers.flatMap((id) => config.receivers.get(id)?.factory.produces ?? []));
  const reaching = new Map<string, ReadonlySet<RecordFamily>>();
  for (const id of processors) {
    reaching.set(id, flowing);
    const factory = config.processors.get(id)?.factory;
    if (!factory) continue;
    const transformed = factory.consumes.some((f) => flowing.has(f));
    const next = new Set([...flowing].filter((f) => !factory.consumes.includes(f)));
    // A family it both consumes and produces only passes through (k8s_l7 attaches Pods to l7
    // and conn records): it flows on only if it flowed in, or flow_join would wait for
    // connections that never come.
    if (transformed) for (const f of factory.produces) if (!factory.consumes.includes(f) || flowing.has(f)) next.add(f);
    flowing = next;
  }
  return reaching;
}
