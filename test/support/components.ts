import { z } from 'zod';
import { factoryRegistry, type FactoryRegistry } from '../../config/load.js';
import { allFactories } from '../../config/components.js';
import type {
  Component,
  ConsumingComponent,
  ExporterFactory,
  ProcessorFactory,
  ReceiverFactory,
  Settings,
} from '../../pipeline/component.js';
import type { Consumer } from '../../pipeline/consumer.js';
import { ClosedError } from '../../pipeline/errors.js';
import { deferred, type Deferred } from '../../pipeline/once.js';
import { FlowType, type FlowRecord, type HttpEvent, type PipelineRecord } from '../../pipeline/records.js';

/**
 * Components for graph and config tests, each reporting its lifecycle calls to a shared
 * journal so tests can assert start and shutdown order. Build a fresh kit per test.
 */
export interface TestKit {
  readonly factories: FactoryRegistry;
  readonly journal: string[];
  readonly sources: Map<string, TestSource>;
  readonly sinks: Map<string, TestSink>;
}

export function createTestKit(): TestKit {
  const journal: string[] = [];
  const sources = new Map<string, TestSource>();
  const sinks = new Map<string, TestSink>();
  const emptySchema = z.strictObject({});
  const sourceSchema = z.strictObject({ finite: z.boolean().default(false) });

  const source = (type: string, produces: ReceiverFactory['produces']): ReceiverFactory<typeof sourceSchema> => ({
    kind: 'receiver',
    type,
    configSchema: sourceSchema,
    produces,
    create: (settings, config, next) => {
      const created = new TestSource(settings, next, journal, config.finite);
      sources.set(settings.id, created);
      return created;
    },
  });

  const joinFactory: ProcessorFactory<typeof emptySchema> = {
    kind: 'processor',
    type: 'test_join',
    configSchema: emptySchema,
    consumes: ['l7', 'conn'],
    produces: ['flow'],
    create: (settings, _config, next) => new TestJoin(settings, next, journal),
  };

  const sinkSchema = z.strictObject({
    delay_ms: z.number().int().min(0).default(0),
    fail: z.boolean().default(false),
    fail_start: z.boolean().default(false),
    ready: z.boolean().default(true),
    consumes: z.array(z.enum(['l7', 'conn', 'flow'])).default(['l7', 'conn', 'flow']),
  });
  const sinkFactory = (type: string, consumes: ExporterFactory['consumes']): ExporterFactory<typeof sinkSchema> => ({
    kind: 'exporter',
    type,
    configSchema: sinkSchema,
    consumes,
    validate: (config) => (config.fail && config.delay_ms > 0 ? ['delay_ms: must be 0 when fail is set'] : []),
    create: (settings, config) => {
      const created = new TestSink(settings, config, journal);
      sinks.set(settings.id, created);
      return created;
    },
  });

  const factories = factoryRegistry([
    ...allFactories,
    source('test_source', ['l7']),
    source('test_conn_source', ['conn']),
    joinFactory,
    sinkFactory('test_sink', ['l7', 'conn', 'flow']),
    sinkFactory('test_flow_sink', ['flow']),
  ]);
  return { factories, journal, sources, sinks };
}

/** A receiver whose records the test pushes with emit(); a finite one completes on finish(). */
export class TestSource implements Component {
  #started = false;
  #stopped = false;
  readonly #finished = deferred();

  constructor(
    readonly settings: Settings,
    private readonly next: Consumer<PipelineRecord>,
    private readonly journal: string[],
    private readonly finite = false,
  ) {}

  completed(): Promise<void> | undefined {
    return this.finite ? this.#finished.promise : undefined;
  }

  finish(): void {
    this.#finished.resolve();
  }

  async start(): Promise<void> {
    this.journal.push(`start ${this.settings.id}`);
    this.#started = true;
    return Promise.resolve();
  }

  async emit(batch: readonly PipelineRecord[]): Promise<void> {
    if (!this.#started || this.#stopped) throw new Error(`${this.settings.id} is not running`);
    await this.next.consume(batch);
  }

  async shutdown(): Promise<void> {
    if (!this.#stopped) this.journal.push(`shutdown ${this.settings.id}`);
    this.#stopped = true;
    return Promise.resolve();
  }
}

/** Turns each HTTP event into a flow record carrying it. */
export class TestJoin implements ConsumingComponent {
  #stopped = false;

  constructor(
    readonly settings: Settings,
    private readonly next: Consumer<PipelineRecord>,
    private readonly journal: string[],
  ) {}

  async start(): Promise<void> {
    this.journal.push(`start ${this.settings.id}`);
    return Promise.resolve();
  }

  async consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#stopped) throw new ClosedError(this.settings.id);
    const flows = batch.filter((r): r is HttpEvent => r.kind === 'http').map(flowOf);
    if (flows.length > 0) await this.next.consume(flows);
  }

  async shutdown(): Promise<void> {
    if (!this.#stopped) this.journal.push(`shutdown ${this.settings.id}`);
    this.#stopped = true;
    return Promise.resolve();
  }
}

/** An exporter that keeps what it receives; it can be slowed down, blocked or made to fail. */
export class TestSink implements ConsumingComponent {
  readonly records: PipelineRecord[] = [];
  #stopped = false;
  #gate: Deferred | undefined;

  constructor(
    readonly settings: Settings,
    private readonly config: { delay_ms: number; fail: boolean; fail_start: boolean; ready: boolean },
    private readonly journal: string[],
  ) {}

  async start(): Promise<void> {
    if (this.config.fail_start) throw new Error('port already in use');
    this.journal.push(`start ${this.settings.id}`);
    return Promise.resolve();
  }

  isReady(): boolean {
    return this.config.ready;
  }

  /** Makes consume() wait until release() is called. */
  block(): void {
    this.#gate ??= deferred();
  }

  release(): void {
    this.#gate?.resolve();
    this.#gate = undefined;
  }

  async consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#stopped) throw new ClosedError(this.settings.id);
    if (this.#gate) await this.#gate.promise;
    if (this.config.delay_ms > 0) await new Promise((r) => setTimeout(r, this.config.delay_ms));
    if (this.config.fail) throw new Error('collector unreachable');
    this.records.push(...batch);
    this.settings.telemetry.sent(batch.length);
  }

  async shutdown(): Promise<void> {
    if (!this.#stopped) this.journal.push(`shutdown ${this.settings.id}`);
    this.#stopped = true;
    return Promise.resolve();
  }
}

export function httpEvent(txId: number, url = `/item/${txId}`): HttpEvent {
  return {
    kind: 'http',
    timeUs: 1_764_158_400_000_000 + txId,
    tuple: { proto: 6, srcIp: '10.0.0.1', srcPort: 40000, dstIp: '10.0.0.2', dstPort: 80 },
    flowId: 1,
    txId,
    http: { hostname: 'web', url, method: 'GET', status: 200 },
  };
}

function flowOf(event: HttpEvent): FlowRecord {
  const zero = { packets: 0, bytes: 0, reversePackets: 0, reverseBytes: 0 };
  return {
    kind: 'flow',
    flowKey: event.flowId ?? 0,
    tuple: event.tuple,
    startUs: event.timeUs,
    endUs: event.timeUs,
    endReason: 1,
    totals: zero,
    deltas: zero,
    flowType: FlowType.unknown,
    app: 'http',
    l7: [event],
    l7Dropped: 0,
  };
}
