/**
 * The edge between components. Resolving means the batch was accepted: from then on the
 * receiving side owns it, and any later loss is its to count. Records are readonly;
 * the same batch may be handed to several consumers.
 */
export interface Consumer<R> {
  consume(batch: readonly R[]): Promise<void>;
}

/** A consumer from a function, for wiring and for tests. */
export function consumerFn<R>(fn: (batch: readonly R[]) => Promise<void>): Consumer<R> {
  return { consume: fn };
}

/**
 * Hands every batch to all consumers. One consumer's rejection does not keep the batch from
 * the others; the first error is re-thrown after all have been called.
 */
export function fanout<R>(consumers: readonly Consumer<R>[]): Consumer<R> {
  if (consumers.length === 1) return consumers[0] as Consumer<R>;
  return {
    async consume(batch) {
      const results = await Promise.allSettled(consumers.map((c) => c.consume(batch)));
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    },
  };
}

/**
 * Passes batches through to `next`, reporting each batch's size once `next` accepted it. A
 * refused batch is not counted: the side that sent it counts it as dropped, so one loss is
 * never counted twice (as sent and as dropped).
 */
export function countingConsumer<R>(next: Consumer<R>, count: (n: number) => void): Consumer<R> {
  return {
    async consume(batch) {
      await next.consume(batch);
      count(batch.length);
    },
  };
}
