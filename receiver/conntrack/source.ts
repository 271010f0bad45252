import type { LineParser } from './line-result.js';

/** How one run of a producer (a command or a file read) ended. */
export type RunResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** `failed`: non-zero exit, a signal, or no start at all (binary missing, file unreadable). */
      readonly reason: 'failed' | 'timed_out' | 'cancelled';
      /** Exit status and the end of stderr, for the log. */
      readonly detail: string;
    };

/** One run of a producer: its output as text chunks, and how it ended. */
export interface OutputRun {
  /** Text in arbitrary chunks; ends when the producer ends, whatever the reason. */
  readonly output: AsyncIterable<string>;
  /** Settles once the producer is gone. Never rejects. */
  readonly done: Promise<RunResult>;
  /** Stops the producer early; `done` then reports `cancelled`. Idempotent. */
  cancel(): void;
}

/**
 * Where conntrack entries come from. A dump covers the zones it is given ([] = all); the
 * receiver runs one dump per element of scopes() each cycle, one after the other.
 */
export interface ConntrackSource {
  /** Output format, the `format` label of parse errors. */
  readonly format: 'xml' | 'text' | 'ovs';
  /** Parser for the lines of dump() (and events()). */
  readonly parse: LineParser;
  /**
   * Kernel conntrack, whose counters and times depend on the acct/timestamp sysctls (their
   * absence is worth a warning); OVS userspace conntrack has neither, ever.
   */
  readonly kernel: boolean;
  /** The dumps of one cycle: one per zone when the tool can filter, else one for all. */
  scopes(zones: readonly number[]): readonly (readonly number[])[];
  dump(zones: readonly number[]): OutputRun;
  /** The DESTROY event stream, for sources that have one. Runs until cancelled or it fails. */
  events?(onStderrLine: (line: string) => void): OutputRun;
  /** Checks at start-up that the source can work at all (binary runs, file readable). Throws. */
  preflight(): Promise<void>;
  /** What the start-up log line says about the source. */
  details(): Readonly<Record<string, unknown>>;
}
