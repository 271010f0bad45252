import type { Component, Settings } from '../../pipeline/component.js';
import type { Consumer } from '../../pipeline/consumer.js';
import { once } from '../../pipeline/once.js';
import type { L7Event, PipelineRecord } from '../../pipeline/records.js';
import { EveDecoder } from './decode.js';
import { EveMetrics, EveStream } from './eve-stream.js';
import type { SuricataEveConfig } from './factory.js';
import { FileSource } from './source-file.js';
import { SocketSource } from './source-socket.js';

interface Source {
  start(): Promise<void>;
  stop(signal?: AbortSignal): Promise<void>;
}

export class SuricataEveReceiver implements Component {
  readonly #metrics: EveMetrics;
  readonly #decoder: EveDecoder;
  readonly #source: Source;
  readonly #file: FileSource | undefined;
  /** Decoded events not yet accepted downstream (`l7flow_records_held{buffer="delivery"}`). */
  #delivering = 0;

  constructor(
    private readonly settings: Settings,
    private readonly config: SuricataEveConfig,
    private readonly next: Consumer<PipelineRecord>,
  ) {
    this.#metrics = new EveMetrics(settings.telemetry);
    this.#decoder = new EveDecoder(config.event_types);
    const newStream = () => new EveStream(this.#decoder, this.#metrics, config.max_line_bytes);
    const deliver = (events: L7Event[]) => this.#deliver(events);
    const telemetry = settings.telemetry;
    telemetry.holds('delivery', () => this.#delivering);
    if (config.source === 'file') {
      this.#file = new FileSource({
        path: config.file.path,
        startAt: config.file.start_at,
        follow: config.file.follow,
        offsetFile: config.file.offset_file,
        pollIntervalMs: config.file.poll_interval,
        clock: settings.clock,
        newStream,
        deliver,
        metrics: {
          rotations: telemetry.counter('l7flow_eve_file_rotations_total', 'Rotations by rename followed.')(),
          truncations: telemetry.counter('l7flow_eve_file_truncations_total', 'Truncations (copytruncate) followed.')(),
        },
        onError: (error) => telemetry.error('read', `${config.file.path}: ${error.message}`),
      });
      this.#source = this.#file;
    } else {
      this.#source = new SocketSource({
        path: config.socket.path,
        mode: parseInt(config.socket.mode, 8),
        maxClients: config.socket.max_clients,
        newStream,
        deliver,
        metrics: {
          connections: telemetry.counter('l7flow_eve_client_connections_total', 'Suricata connections accepted.')(),
          rejected: telemetry.counter(
            'l7flow_eve_client_rejected_total',
            'Suricata connections refused (max_clients).',
          )(),
          clients: telemetry.gauge('l7flow_eve_clients', 'Suricata connections open now.')(),
        },
      });
    }
  }

  details() {
    return this.config.source === 'file'
      ? {
          source: 'file',
          path: this.config.file.path,
          follow: this.config.file.follow,
          eventTypes: this.config.event_types,
        }
      : {
          source: 'socket',
          path: this.config.socket.path,
          mode: this.config.socket.mode,
          eventTypes: this.config.event_types,
        };
  }

  /** For a file read without following (replay): resolves once it has all been delivered. */
  completed(): Promise<void> | undefined {
    return this.#file && !this.config.file.follow ? this.#file.completed : undefined;
  }

  async start(): Promise<void> {
    await this.#source.start();
  }

  readonly shutdown = once(async (signal?: AbortSignal) => {
    await this.#source.stop(signal);
  });

  /**
   * Hands events on in batches; never rejects: a refused batch is counted as dropped. The
   * events are received here and held until the batch carrying them is accepted or refused.
   */
  async #deliver(events: L7Event[]): Promise<void> {
    const telemetry = this.settings.telemetry;
    telemetry.received(events.length);
    this.#delivering += events.length;
    const size = this.config.batch_size;
    for (let i = 0; i < events.length; i += size) {
      const batch = events.length <= size ? events : events.slice(i, i + size);
      this.#metrics.decoded(batch);
      try {
        await this.next.consume(batch);
      } catch (error) {
        telemetry.dropped('rejected', batch.length, error instanceof Error ? error.message : String(error));
      } finally {
        this.#delivering -= batch.length;
      }
    }
  }
}
