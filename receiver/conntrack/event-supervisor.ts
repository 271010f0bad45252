import { sleep, type Clock } from '../../pipeline/clock.js';
import type { OutputRun, RunResult } from './source.js';

/**
 * conntrack prints this on stderr once its netlink socket is subscribed and sized (`-b`).
 * stdout says nothing until the first event: it is block-buffered in a pipe.
 */
const listeningNotice = 'NOTICE: Netlink socket buffer size has been set';

export interface EventSupervisorOptions {
  readonly clock: Clock;
  /** Starts the events process. */
  readonly spawn: (onStderrLine: (line: string) => void) => OutputRun;
  /** Consumes a run's output until it ends; `onLine` is called for every line. */
  readonly consume: (output: AsyncIterable<string>, onLine: () => void) => Promise<unknown>;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** True once the process listens (its buffer-size notice or a first line), false when it exits. */
  readonly onUp: (up: boolean) => void;
  /** The process exited and will be started again after `delayMs`. */
  readonly onRestart: (result: RunResult, delayMs: number) => void;
  /** conntrack reported ENOBUFS: the kernel dropped events it could not queue. */
  readonly onOverrun: () => void;
}

/**
 * Keeps the conntrack event stream running: when the process exits (crash, kill, netlink
 * error) it is started again after a backoff that doubles from initialDelayMs up to
 * maxDelayMs, and resets once a process has lived for maxDelayMs. Connections that end while
 * no process listens are still noticed: they are missing from the next complete dump.
 */
export class EventSupervisor {
  readonly #stop = new AbortController();
  #run: OutputRun | undefined;
  #loop: Promise<void> | undefined;

  constructor(private readonly options: EventSupervisorOptions) {}

  start(): void {
    this.#loop ??= this.#supervise();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#run?.cancel();
    await this.#loop;
  }

  async #supervise(): Promise<void> {
    const { clock, maxDelayMs, initialDelayMs } = this.options;
    const signal = this.#stop.signal;
    let failures = 0;
    while (!signal.aborted) {
      const beganUs = clock.nowUs();
      const result = await this.#runOnce();
      if (signal.aborted) return;
      if (clock.nowUs() - beganUs >= maxDelayMs * 1000) failures = 0;
      const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** failures);
      failures = Math.min(failures + 1, 20);
      this.options.onRestart(result, delayMs);
      await sleep(clock, delayMs, signal);
    }
  }

  /** Runs one events process to its end; never throws. */
  async #runOnce(): Promise<RunResult> {
    const options = this.options;
    let up = false;
    const markUp = () => {
      if (up) return;
      up = true;
      options.onUp(true);
    };
    let run: OutputRun;
    try {
      run = options.spawn((line) => {
        if (line.includes('ENOBUFS')) options.onOverrun();
        else if (line.startsWith(listeningNotice)) markUp();
      });
    } catch (error) {
      return { ok: false, reason: 'failed', detail: error instanceof Error ? error.message : String(error) };
    }
    this.#run = run;
    if (this.#stop.signal.aborted) run.cancel();
    try {
      await options.consume(run.output, markUp);
    } catch {
      run.cancel(); // a bug past the parser; the exit is reported like any other
    }
    const result = await run.done;
    this.#run = undefined;
    if (up) options.onUp(false);
    return result;
  }
}
