import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import type { Clock } from '../../pipeline/clock.js';
import { parseTextLine } from './parse-text.js';
import type { ConntrackSource, OutputRun, RunResult } from './source.js';

export interface ProcfsSourceOptions {
  readonly path: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
}

/**
 * `/proc/net/nf_conntrack` (kernels built with CONFIG_NF_CONNTRACK_PROCFS): the same fields
 * as conntrack's text output but no ids and start times only to the second. One read covers
 * every zone; the receiver filters.
 */
export function procfsSource(options: ProcfsSourceOptions): ConntrackSource {
  return {
    format: 'text',
    parse: parseTextLine,
    kernel: true,
    scopes: (zones) => [zones],
    dump: () => readFileRun(options),
    async preflight() {
      try {
        await access(options.path, constants.R_OK);
      } catch (error) {
        throw new Error(
          `procfs_path ${JSON.stringify(options.path)} is not readable (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        );
      }
    },
    details: () => ({ path: options.path }),
  };
}

function readFileRun({ path, timeoutMs, clock }: ProcfsSourceOptions): OutputRun {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  let stopped: 'timed_out' | 'cancelled' | undefined;
  const stop = (why: 'timed_out' | 'cancelled') => {
    stopped ??= why;
    stream.destroy();
  };
  const timer = clock.setTimeout(() => stop('timed_out'), timeoutMs);
  const done = new Promise<RunResult>((resolve) => {
    let failure: string | undefined;
    stream.once('error', (error) => (failure = error.message));
    stream.once('close', () => {
      timer.cancel();
      if (stopped) resolve({ ok: false, reason: stopped, detail: `${path}: ${stopped.replace('_', ' ')}` });
      else if (failure !== undefined) resolve({ ok: false, reason: 'failed', detail: failure });
      else resolve({ ok: true });
    });
  });
  async function* output(): AsyncGenerator<string> {
    try {
      for await (const chunk of stream) yield chunk as string;
    } catch {
      // reported through `done`
    }
  }
  return { output: output(), done, cancel: () => stop('cancelled') };
}
