import type { z } from 'zod';
import type { Clock } from './clock.js';
import type { Consumer } from './consumer.js';
import type { Logger } from './logger.js';
import type { PipelineRecord, RecordFamily } from './records.js';
import type { ComponentTelemetry } from './telemetry.js';

/**
 * Lifecycle of every receiver, processor and exporter.
 *
 * 1. create() (on the factory) only wires: no sockets, files, processes, timers or watches.
 * 2. start() opens what the component needs and returns promptly; long-running work goes to
 *    the background. A rejection aborts the agent's start-up.
 * 3. After start, failures are counted or reported through Host.reportFatal, never thrown
 *    from background work.
 * 4. shutdown() is idempotent and safe before start(). It stops intake, flushes what it holds
 *    downstream, then releases resources. It honours `signal` (the shutdown deadline): once
 *    aborted it gives up waiting and counts what it could not deliver as dropped.
 *
 * The graph starts exporters, then processors, then receivers, and shuts them down in the
 * reverse order, so data always has somewhere to go.
 */
export interface Component {
  start(host: Host): Promise<void>;
  shutdown(signal?: AbortSignal): Promise<void>;
  /** Optional readiness beyond "started" (e.g. Kubernetes informers synced). */
  isReady?(): boolean;
  /** What the start-up log line should say about it (listen address, file path, mode). */
  details?(): Readonly<Record<string, unknown>>;
  /**
   * Finite receivers (a file replayed to its end) return a promise that resolves once all their
   * input has been handed on; others return undefined. `l7flow replay` stops the agent when
   * every finite receiver has completed.
   */
  completed?(): Promise<void> | undefined;
}

/** A component that accepts records: every processor and exporter. consume() after
 * shutdown() rejects with ClosedError. */
export interface ConsumingComponent extends Component, Consumer<PipelineRecord> {}

/** What the running service offers a component. */
export interface Host {
  /** Reports a failure the component cannot recover from; the agent shuts down non-zero. */
  reportFatal(error: Error): void;
}

/** What a factory gets from code (as opposed to Config, which comes from YAML). */
export interface Settings {
  /** Component id, `type[/name]`. */
  readonly id: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly telemetry: ComponentTelemetry;
  /**
   * The record families that reach this component in its pipeline (processors and exporters).
   * A join can tell from it that no connection will ever come. Absent: unknown, assume all.
   */
  readonly inputs?: ReadonlySet<RecordFamily>;
}

export type ComponentKind = 'receiver' | 'processor' | 'exporter';

interface FactoryBase<S extends z.ZodType> {
  /** lower_snake_case, the `type` part of a component id. */
  readonly type: string;
  /** Strict schema of the YAML section, with every default; unknown keys are errors. */
  readonly configSchema: S;
  /** Cross-field checks on a parsed config; messages are `key.path: problem`. */
  validate?(config: z.output<S>): string[];
}

export interface ReceiverFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  readonly kind: 'receiver';
  readonly produces: readonly RecordFamily[];
  create(settings: Settings, config: z.output<S>, next: Consumer<PipelineRecord>): Component;
}

export interface ProcessorFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  readonly kind: 'processor';
  /** Families it transforms; other families pass through it unchanged. */
  readonly consumes: readonly RecordFamily[];
  /** Families it emits in place of those it consumes. */
  readonly produces: readonly RecordFamily[];
  create(settings: Settings, config: z.output<S>, next: Consumer<PipelineRecord>): ConsumingComponent;
}

export interface ExporterFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  readonly kind: 'exporter';
  readonly consumes: readonly RecordFamily[];
  create(settings: Settings, config: z.output<S>): ConsumingComponent;
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;

/** The fully defaulted configuration of a factory. */
export function defaultConfig<S extends z.ZodType>(factory: { configSchema: S }): z.output<S> {
  return factory.configSchema.parse({});
}

/** Component ids are `type[/name]`; both parts as in the OTel Collector. */
const componentIdPattern = /^([a-z][a-z0-9_]*)(?:\/([A-Za-z0-9_.-]+))?$/;

export function parseComponentId(id: string): { type: string; name?: string } | undefined {
  const match = componentIdPattern.exec(id);
  if (!match) return undefined;
  return match[2] === undefined ? { type: match[1] ?? '' } : { type: match[1] ?? '', name: match[2] };
}
