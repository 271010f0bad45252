import type { OverflowPolicy } from '../../pipeline/queue.js';
import type { EncodedMessage } from './codec/message.js';

/** A message waiting for the transport, and the data records lost just before it. */
export interface QueuedMessage {
  readonly message: EncodedMessage;
  /** Data records dropped between the previous message and this one: its sequence number skips them. */
  skippedBefore: number;
}

/**
 * The bounded FIFO of encoded messages waiting on the transport. It never grows past
 * `capacity` (plus one message being written, when a failed write puts it back): on
 * overflow it drops by policy, reports each dropped message through `onDrop`, and keeps
 * the dropped data records' count on the message that follows them, so that the sequence
 * numbers still advance past them when it is sent (RFC 7011 §3.1).
 */
export class SendQueue {
  readonly #ring: (QueuedMessage | undefined)[];
  #head = 0;
  #size = 0;
  /** Records dropped after the newest queued message; they precede the next one pushed. */
  #pendingSkip = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy,
    private readonly onDrop: (message: EncodedMessage) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be >= 1 (got ${capacity})`);
    this.#ring = new Array<QueuedMessage | undefined>(capacity + 1);
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size >= this.capacity;
  }

  /** Flows whose main record is in a queued message (read at scrape time: O(size)). */
  get flows(): number {
    let flows = 0;
    for (let i = 0; i < this.#size; i++) flows += this.#ring[(this.#head + i) % this.#ring.length]?.message.flows ?? 0;
    return flows;
  }

  /** Adds a message at the tail, dropping by policy when full. */
  push(message: EncodedMessage): void {
    if (this.full) {
      if (this.policy === 'drop_newest') {
        this.#pendingSkip += message.dataRecords;
        this.onDrop(message);
        return;
      }
      this.#dropHead();
    }
    this.#put(this.#size, { message, skippedBefore: this.#pendingSkip });
    this.#pendingSkip = 0;
    this.#size++;
  }

  peek(): QueuedMessage | undefined {
    return this.#size === 0 ? undefined : this.#ring[this.#head];
  }

  shift(): QueuedMessage | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#ring.length;
    this.#size--;
    return item;
  }

  /** Puts back a message whose write failed, at the head; may overflow by policy. */
  unshift(item: QueuedMessage): void {
    this.#head = (this.#head - 1 + this.#ring.length) % this.#ring.length;
    this.#ring[this.#head] = item;
    this.#size++;
    if (this.#size <= this.capacity) return;
    if (this.policy === 'drop_oldest') this.#dropHead();
    else this.#dropTail();
  }

  /** Empties the queue, returning what it held (e.g. to count it as dropped at shutdown). */
  clear(): QueuedMessage[] {
    const items: QueuedMessage[] = [];
    for (let item = this.shift(); item; item = this.shift()) items.push(item);
    this.#pendingSkip = 0;
    return items;
  }

  #dropHead(): void {
    const dropped = this.shift() as QueuedMessage;
    const lost = dropped.skippedBefore + dropped.message.dataRecords;
    const next = this.peek();
    if (next) next.skippedBefore += lost;
    else this.#pendingSkip += lost;
    this.onDrop(dropped.message);
  }

  #dropTail(): void {
    const index = (this.#head + this.#size - 1) % this.#ring.length;
    const dropped = this.#ring[index] as QueuedMessage;
    this.#ring[index] = undefined;
    this.#size--;
    this.#pendingSkip += dropped.skippedBefore + dropped.message.dataRecords;
    this.onDrop(dropped.message);
  }

  #put(position: number, item: QueuedMessage): void {
    this.#ring[(this.#head + position) % this.#ring.length] = item;
  }
}
