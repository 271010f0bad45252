import type { AgentConfig } from '../config/load.js';
import { systemClock, type Clock } from './clock.js';
import { Graph, type ShutdownResult } from './graph.js';
import type { Logger } from './logger.js';
import { deferred } from './once.js';
import { TelemetryServer } from './telemetry-server.js';
import { Telemetry } from './telemetry.js';

export interface ServiceOptions {
  readonly logger: Logger;
  readonly version: string;
  readonly clock?: Clock;
  /** Collect process metrics (CPU, memory, event loop); off in tests that build many services. */
  readonly processMetrics?: boolean;
}

export interface FatalReport {
  readonly componentId: string;
  readonly error: Error;
}

/**
 * One running agent: the component graph plus its telemetry endpoint. The CLI owns the
 * process (signals, exit codes); this owns everything inside it.
 */
export class Service {
  readonly telemetry: Telemetry;
  readonly #graph: Graph;
  readonly #server: TelemetryServer | undefined;
  readonly #clock: Clock;
  readonly #fatal = deferred<FatalReport>();
  #failing = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly options: ServiceOptions,
  ) {
    this.#clock = options.clock ?? systemClock;
    this.telemetry = new Telemetry({ processMetrics: options.processMetrics ?? false });
    this.telemetry
      .gauge('l7flow_build_info', 'Always 1; the labels describe the running agent.', ['version', 'node_version'])
      .set({ version: options.version, node_version: process.versions.node }, 1);
    this.#graph = new Graph(config, {
      logger: options.logger,
      clock: this.#clock,
      telemetry: this.telemetry,
      onFatal: (componentId, error) => {
        options.logger.error({ component: componentId, err: error }, 'component failed; shutting down');
        this.#failing = true;
        this.#fatal.resolve({ componentId, error });
      },
    });
    const address = config.service.telemetry.metrics.address;
    this.#server =
      address === ''
        ? undefined
        : new TelemetryServer(this.telemetry, {
            healthy: () => !this.#failing,
            readiness: () => this.#graph.readiness(),
          });
  }

  /** Resolves when a component reports a fatal failure (never, in a healthy agent). */
  get fatal(): Promise<FatalReport> {
    return this.#fatal.promise;
  }

  /** The bound telemetry address, once started (undefined when the listener is off). */
  get telemetryAddress(): string | undefined {
    return this.#server?.address;
  }

  readiness(): { ready: boolean; waiting: readonly string[] } {
    return this.#graph.readiness();
  }

  /** See Graph.receiversCompleted: for `l7flow replay`, which stops when its input is done. */
  receiversCompleted(): Promise<void> | undefined {
    return this.#graph.receiversCompleted();
  }

  /** Opens the telemetry endpoint first, so probes answer (not ready) while components start. */
  async start(): Promise<void> {
    const began = this.#clock.nowUs();
    const metrics = this.#server ? await this.#server.listen(this.config.service.telemetry.metrics.address) : 'off';
    try {
      await this.#graph.start();
    } catch (error) {
      await this.#server?.close();
      throw error;
    }
    const pipelines = Object.keys(this.config.service.pipelines);
    const startMs = Math.round((this.#clock.nowUs() - began) / 1000);
    this.options.logger.info({ version: this.options.version, pipelines, metrics, startMs }, 'l7flow started');
  }

  /** Graceful stop within `service.shutdown_timeout`. */
  async shutdown(): Promise<ShutdownResult> {
    const deadline = new AbortController();
    const timeoutMs = this.config.service.shutdown_timeout;
    const timer = this.#clock.setTimeout(() => deadline.abort(), timeoutMs);
    const began = this.#clock.nowUs();
    const result = await this.#graph.shutdown(deadline.signal);
    timer.cancel();
    await this.#server?.close();
    const stopMs = Math.round((this.#clock.nowUs() - began) / 1000);
    const clean = result.clean && !this.#failing;
    if (clean) this.options.logger.info({ stopMs }, 'l7flow stopped');
    else this.options.logger.error({ stopMs, failures: result.failures, timeoutMs }, 'l7flow stopped uncleanly');
    return { clean, failures: result.failures };
  }
}
