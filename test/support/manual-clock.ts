import type { Clock, Timer } from '../../pipeline/clock.js';

/** A clock that moves only when told to; due timers fire in time order during advance(). */
export class ManualClock implements Clock {
  #nowUs: number;
  #timers: { at: number; fn: () => void; seq: number }[] = [];
  #seq = 0;

  constructor(startUs = Date.UTC(2026, 10, 26, 12, 0, 0) * 1000) {
    this.#nowUs = startUs;
  }

  nowUs(): number {
    return this.#nowUs;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { at: this.#nowUs + ms * 1000, fn, seq: this.#seq++ };
    this.#timers.push(timer);
    return { cancel: () => (this.#timers = this.#timers.filter((t) => t !== timer)) };
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#nowUs + ms * 1000;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#nowUs = Math.max(this.#nowUs, due.at);
      due.fn();
    }
    this.#nowUs = target;
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }
}
