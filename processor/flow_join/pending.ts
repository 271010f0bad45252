import type { L7Event } from '../../pipeline/records.js';

interface Entry {
  readonly key: string;
  readonly event: L7Event;
  readonly arrivedUs: number;
  taken: boolean;
}

/**
 * Transactions whose connection is not in the store yet, keyed by orientation-free tuple,
 * bounded in count and kept for a time-to-live. Arrival order is kept in a FIFO so that
 * expiry and eviction of the oldest cost O(1) each; entries taken out early are skipped lazily.
 */
export class PendingTransactions {
  readonly #byKey = new Map<string, Entry[]>();
  #fifo: Entry[] = [];
  #head = 0;
  #size = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#size;
  }

  /** Adds an event; when full, first removes and returns the oldest one. */
  add(key: string, event: L7Event, arrivedUs: number): L7Event | undefined {
    const evicted = this.#size >= this.capacity ? this.#shiftOldest() : undefined;
    const entry: Entry = { key, event, arrivedUs, taken: false };
    const list = this.#byKey.get(key);
    if (list) list.push(entry);
    else this.#byKey.set(key, [entry]);
    this.#fifo.push(entry);
    this.#size++;
    return evicted?.event;
  }

  /** Removes and returns every event waiting under `key`, oldest first. */
  take(key: string): L7Event[] {
    const list = this.#byKey.get(key);
    if (!list) return [];
    this.#byKey.delete(key);
    for (const entry of list) entry.taken = true;
    this.#size -= list.length;
    return list.map((entry) => entry.event);
  }

  /** Removes and returns the events that arrived before `cutoffUs`, oldest first. */
  expire(cutoffUs: number): L7Event[] {
    const expired: L7Event[] = [];
    for (;;) {
      const oldest = this.#peekOldest();
      if (!oldest || oldest.arrivedUs >= cutoffUs) break;
      expired.push((this.#shiftOldest() as Entry).event);
    }
    return expired;
  }

  /** Removes and returns everything, oldest first. */
  drain(): L7Event[] {
    return this.expire(Number.POSITIVE_INFINITY);
  }

  #peekOldest(): Entry | undefined {
    while (this.#head < this.#fifo.length && (this.#fifo[this.#head] as Entry).taken) this.#head++;
    this.#compact();
    return this.#fifo[this.#head];
  }

  #shiftOldest(): Entry | undefined {
    const entry = this.#peekOldest();
    if (!entry) return undefined;
    this.#head++;
    entry.taken = true;
    this.#size--;
    const list = this.#byKey.get(entry.key);
    if (list) {
      list.splice(list.indexOf(entry), 1);
      if (list.length === 0) this.#byKey.delete(entry.key);
    }
    return entry;
  }

  /** Drops the consumed front of the FIFO once it is at least half of the array. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#fifo.length) {
      this.#fifo = this.#fifo.slice(this.#head);
      this.#head = 0;
    }
  }
}
