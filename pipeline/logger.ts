import { pino } from 'pino';

type LogFn = (obj: object, msg?: string) => void;

/**
 * Structured logger handed to components, bound to `{ component: id }`. A pino-compatible
 * subset so tests can capture lines without pino. Components log once at start and once
 * at stop, and aggregate anything that could repeat per record.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

/** JSON lines on stderr (stdout is left to exporters such as debug). Writes are synchronous
 * so that the last lines before exit are never lost. */
export function createLogger(level: LogLevel, fd = 2): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd, sync: true }),
  );
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
