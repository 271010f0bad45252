import type { ConsumingComponent, Settings } from '../../pipeline/component.js';
import { ClosedError } from '../../pipeline/errors.js';
import { once } from '../../pipeline/once.js';
import type { PipelineRecord } from '../../pipeline/records.js';
import type { DebugConfig } from './factory.js';
import { RotatingFile } from './rotating-file.js';
import { formatRecord } from './text-format.js';

interface LineSink {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Standard output, honouring back-pressure; closing leaves the stream open for others. */
const stdoutSink: LineSink = {
  write: (text) =>
    new Promise((resolve, reject) => {
      process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
    }),
  close: () => Promise.resolve(),
};

export class DebugExporter implements ConsumingComponent {
  readonly #file: RotatingFile | undefined;
  #sink: LineSink | undefined;
  #closed = false;
  /** Records of the write in progress (`l7flow_records_held{buffer="writing"}`). */
  #writing = 0;

  constructor(
    private readonly settings: Settings,
    private readonly config: DebugConfig,
  ) {
    this.#file =
      config.path === '' ? undefined : new RotatingFile(config.path, config.max_file_size, config.max_backups);
    settings.telemetry.holds('writing', () => this.#writing);
  }

  async start(): Promise<void> {
    if (this.#closed) return;
    await this.#file?.open();
    this.#sink = this.#file ?? stdoutSink;
  }

  details() {
    return { output: this.config.path === '' ? 'stdout' : this.config.path, format: this.config.format };
  }

  async consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#closed) throw new ClosedError(this.settings.id);
    if (!this.#sink) throw new Error(`${this.settings.id}: consume before start`);
    const format = this.config.format === 'text' ? formatRecord : JSON.stringify;
    let text = '';
    for (const record of batch) text += `${format(record)}\n`;
    // Held while written; on failure released uncounted: the sending queue counts export_failed.
    this.#writing += batch.length;
    try {
      await this.#sink.write(text);
    } finally {
      this.#writing -= batch.length;
    }
    this.settings.telemetry.sent(batch.length);
  }

  readonly shutdown = once(async (): Promise<void> => {
    this.#closed = true;
    await this.#sink?.close();
  });
}
