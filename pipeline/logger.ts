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

/** json: one JSON object per line, for log collectors; console: aligned text, for people. */
export const logEncodings = ['json', 'console'] as const;
export type LogEncoding = (typeof logEncodings)[number];

/** Logs on stderr (stdout is left to exporters such as debug). Writes are synchronous so that
 * the last lines before exit are never lost. */
export function createLogger(level: LogLevel, encoding: LogEncoding = 'json'): Logger {
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (encoding === 'json') return pino(options, pino.destination({ fd: 2, sync: true }));
  return pino(options, { write: (line: string) => void process.stderr.write(consoleLine(line)) });
}

/** `2026-11-26T10:15:02.140Z INFO  suricata_eve: receiver started source=socket path=/tmp/eve.sock` */
export function consoleLine(json: string): string {
  const { time, level, msg, component, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const who = typeof component === 'string' ? `${component}: ` : '';
  return `${String(time)} ${String(level).toUpperCase().padEnd(5)} ${who}${typeof msg === 'string' ? msg : ''}${rest ? ` ${rest}` : ''}\n`;
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
