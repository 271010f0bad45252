import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Readable } from 'node:stream';
import type { Clock } from '../../pipeline/clock.js';
import type { OutputRun, RunResult } from './source.js';

export interface CommandOptions {
  readonly clock: Clock;
  /** Kill (SIGKILL) after this long; undefined for long-running streams. */
  readonly timeoutMs?: number;
  /** Extra environment variables for the child (on top of ours). */
  readonly env?: Readonly<Record<string, string>>;
  /** Every complete stderr line, as it arrives. */
  readonly onStderrLine?: (line: string) => void;
}

const stderrTailLength = 1024;

/**
 * Runs `file` with `args` (an argument array, never a shell) and exposes its stdout as text
 * chunks. stderr is always drained (a full stderr pipe would stall the child); its last
 * kilobyte goes into the failure detail. cancel() sends SIGTERM.
 */
export function runCommand(file: string, args: readonly string[], options: CommandOptions): OutputRun {
  let child: ChildProcessByStdio<null, Readable, Readable>;
  try {
    child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ? { ...process.env, ...options.env } : process.env,
    });
  } catch (error) {
    // spawn() throws only for arguments it cannot pass at all (a NUL byte, say).
    const detail = `${file}: ${error instanceof Error ? error.message : String(error)}`;
    return {
      output: textOf(Readable.from([])),
      done: Promise.resolve({ ok: false, reason: 'failed', detail }),
      cancel() {},
    };
  }
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');

  let stderrTail = '';
  let stderrPartial = '';
  child.stderr.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-stderrTailLength);
    if (!options.onStderrLine) return;
    const lines = (stderrPartial + text).split('\n');
    stderrPartial = (lines.pop() ?? '').slice(-stderrTailLength);
    for (const line of lines) options.onStderrLine(line);
  });

  let stopped: 'timed_out' | 'cancelled' | undefined;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : options.clock.setTimeout(() => {
          stopped ??= 'timed_out';
          child.kill('SIGKILL');
        }, options.timeoutMs);

  const done = new Promise<RunResult>((resolve) => {
    const finish = (status: string) => {
      timer?.cancel();
      const detail = `${[file, ...args].join(' ')}: ${status}${stderrTail.trim() ? `: ${stderrTail.trim()}` : ''}`;
      if (stopped) resolve({ ok: false, reason: stopped, detail });
      else if (status === 'exit code 0') resolve({ ok: true });
      else resolve({ ok: false, reason: 'failed', detail });
    };
    // 'error' without a pid: the process never started (ENOENT, EACCES); no 'close' may follow.
    child.once('error', (error) => {
      if (child.pid === undefined) finish(error.message);
    });
    child.once('close', (code, signal) => finish(signal ? `killed by ${signal}` : `exit code ${code ?? '?'}`));
  });

  return {
    output: textOf(child.stdout),
    done,
    cancel() {
      stopped ??= 'cancelled';
      child.kill('SIGTERM');
    },
  };
}

/** The stream's chunks; a stream error just ends them (`done` reports what happened). */
async function* textOf(stream: Readable): AsyncGenerator<string> {
  try {
    for await (const chunk of stream) yield chunk as string;
  } catch {
    // reported through `done`
  }
}
