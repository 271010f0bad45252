/**
 * A binary min-heap of (deadline, item). It is the store's expiry queue: finding what is due
 * costs O(log n) per due item instead of a scan of every connection. Entries may go stale
 * (an item's real deadline moved later); the owner re-checks each popped item and pushes it
 * again with its new deadline, so an item has at most one entry.
 */
export class DeadlineHeap<T> {
  readonly #deadlines: number[] = [];
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(deadline: number, item: T): void {
    const deadlines = this.#deadlines;
    const items = this.#items;
    let i = items.length;
    deadlines.push(deadline);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((deadlines[parent] as number) <= deadline) break;
      deadlines[i] = deadlines[parent] as number;
      items[i] = items[parent] as T;
      i = parent;
    }
    deadlines[i] = deadline;
    items[i] = item;
  }

  /** The earliest deadline, or Infinity when empty. */
  peekDeadline(): number {
    return this.#deadlines.length > 0 ? (this.#deadlines[0] as number) : Number.POSITIVE_INFINITY;
  }

  /** Removes and returns the item with the earliest deadline, if that deadline is <= `now`. */
  popDue(now: number): T | undefined {
    if (this.peekDeadline() > now) return undefined;
    const deadlines = this.#deadlines;
    const items = this.#items;
    const top = items[0] as T;
    const lastDeadline = deadlines.pop() as number;
    const lastItem = items.pop() as T;
    const size = items.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && (deadlines[right] as number) < (deadlines[left] as number) ? right : left;
        if ((deadlines[child] as number) >= lastDeadline) break;
        deadlines[i] = deadlines[child] as number;
        items[i] = items[child] as T;
        i = child;
      }
      deadlines[i] = lastDeadline;
      items[i] = lastItem;
    }
    return top;
  }
}
