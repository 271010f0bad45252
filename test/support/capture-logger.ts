import type { Logger } from '../../pipeline/logger.js';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A Logger that keeps every line (bindings merged in), for assertions. */
export class CaptureLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  debug = (obj: object, msg = '') => this.#push('debug', obj, msg);
  info = (obj: object, msg = '') => this.#push('info', obj, msg);
  warn = (obj: object, msg = '') => this.#push('warn', obj, msg);
  error = (obj: object, msg = '') => this.#push('error', obj, msg);

  child(bindings: Record<string, unknown>): Logger {
    return new CaptureLogger(this.lines, { ...this.bindings, ...bindings });
  }

  #push(level: LogLine['level'], obj: object, msg: string): void {
    this.lines.push({ ...this.bindings, ...obj, level, msg });
  }
}
