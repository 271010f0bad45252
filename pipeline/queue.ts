/**
 * What a full queue gives up: the records being added (`drop_newest`, the OTel Collector's
 * behaviour) or the oldest held ones (`drop_oldest`, which favours fresh data after an outage).
 */
export type OverflowPolicy = 'drop_newest' | 'drop_oldest';
export const overflowPolicies: readonly OverflowPolicy[] = ['drop_newest', 'drop_oldest'];

/**
 * A bounded FIFO of items on a fixed ring buffer. push() never blocks and never grows the
 * buffer: on overflow it drops by policy and reports the count through `onDrop`.
 */
export class BoundedQueue<T> {
  readonly #ring: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy,
    private readonly onDrop: (count: number) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue capacity must be >= 1 (got ${capacity})`);
    this.#ring = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds items in order; returns how many were dropped to respect the bound. */
  push(items: readonly T[]): number {
    const cap = this.capacity;
    let dropped = 0;
    for (const item of items) {
      if (this.#size === cap) {
        dropped++;
        if (this.policy === 'drop_newest') continue;
        this.#ring[this.#head] = undefined;
        this.#head = (this.#head + 1) % cap;
        this.#size--;
      }
      this.#ring[(this.#head + this.#size) % cap] = item;
      this.#size++;
    }
    if (dropped > 0) this.onDrop(dropped);
    return dropped;
  }

  /** Removes and returns up to `max` items, oldest first. */
  take(max: number): T[] {
    const count = Math.min(max, this.#size);
    const out = new Array<T>(count);
    for (let i = 0; i < count; i++) {
      out[i] = this.#ring[this.#head] as T;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
    }
    this.#size -= count;
    return out;
  }

  /** Removes everything; returns how many items were discarded. */
  clear(): number {
    const count = this.#size;
    this.take(count);
    return count;
  }
}
