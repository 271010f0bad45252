import { deferred, type Deferred } from '../../pipeline/once.js';
import type { LineParser } from '../../receiver/conntrack/line-result.js';
import { parseXmlLine } from '../../receiver/conntrack/parse-xml.js';
import type { ConntrackSource, OutputRun, RunResult } from '../../receiver/conntrack/source.js';

/** A producer run the test drives: write() output, finish() it, or let the receiver cancel it. */
export class FakeRun implements OutputRun {
  readonly #chunks: string[] = [];
  #ended = false;
  #wake: Deferred | undefined;
  readonly #done = deferred<RunResult>();
  readonly done = this.#done.promise;
  cancelled = false;

  write(text: string): this {
    this.#chunks.push(text);
    this.#wake?.resolve();
    return this;
  }

  finish(result: RunResult = { ok: true }): this {
    this.#ended = true;
    this.#wake?.resolve();
    this.#done.resolve(result);
    return this;
  }

  cancel(): void {
    if (this.#ended) return;
    this.cancelled = true;
    this.finish({ ok: false, reason: 'cancelled', detail: 'cancelled' });
  }

  readonly output: AsyncIterable<string> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<string>> => {
        for (;;) {
          const chunk = this.#chunks.shift();
          if (chunk !== undefined) return { value: chunk, done: false };
          if (this.#ended) return { value: undefined, done: true };
          this.#wake = deferred();
          await this.#wake.promise;
        }
      },
    }),
  };
}

/**
 * A source whose dumps and event runs the test scripts: `onDump` answers each dump (by
 * default an empty, successful one) and every run is kept for inspection.
 */
export class FakeSource implements ConntrackSource {
  readonly format = 'xml';
  readonly parse: LineParser = parseXmlLine;
  readonly dumps: { zones: readonly number[]; run: FakeRun }[] = [];
  readonly eventRuns: { run: FakeRun; stderr: (line: string) => void }[] = [];
  onDump: (zones: readonly number[], run: FakeRun) => void = (_, run) => run.finish();
  onEvents: (run: FakeRun) => void = () => {};
  preflightError: Error | undefined;

  constructor(
    readonly kernel = true,
    private readonly perZone = true,
  ) {}

  scopes(zones: readonly number[]): readonly (readonly number[])[] {
    return this.perZone && zones.length > 0 ? zones.map((zone) => [zone]) : [zones];
  }

  dump(zones: readonly number[]): OutputRun {
    const run = new FakeRun();
    this.dumps.push({ zones, run });
    this.onDump(zones, run);
    return run;
  }

  events(onStderrLine: (line: string) => void): OutputRun {
    const run = new FakeRun();
    this.eventRuns.push({ run, stderr: onStderrLine });
    this.onEvents(run);
    return run;
  }

  async preflight(): Promise<void> {
    if (this.preflightError) throw this.preflightError;
    return Promise.resolve();
  }

  details() {
    return { command: 'fake' };
  }
}
