import type { TimeUs } from './records.js';

/** A scheduled callback; cancel() is idempotent. */
export interface Timer {
  cancel(): void;
}

/**
 * Time and timers, injected so that pure code and tests never read the wall clock or
 * start real timers. Components take it from their Settings.
 */
export interface Clock {
  /** Wall-clock time in microseconds since the epoch. */
  nowUs(): TimeUs;
  /** Runs `fn` once after `ms` milliseconds. The timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): Timer;
}

/** The real clock: microsecond wall time from the high-resolution timer. */
export const systemClock: Clock = {
  nowUs: () => Math.round((performance.timeOrigin + performance.now()) * 1000),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Resolves after `ms` on `clock`, or early (without rejecting) when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
