import { describe, expect, it } from 'vitest';
import { ClosedError } from './errors.js';
import { consumerFn, countingConsumer, fanout } from './consumer.js';

describe('countingConsumer', () => {
  it('counts a batch once the next consumer accepted it, not before', async () => {
    const counted: number[] = [];
    let accept!: () => void;
    const next = consumerFn<number>(() => new Promise<void>((resolve) => (accept = resolve)));
    const pending = countingConsumer(next, (n) => counted.push(n)).consume([1, 2, 3]);
    await Promise.resolve();
    expect(counted).toEqual([]);
    accept();
    await pending;
    expect(counted).toEqual([3]);
  });

  it('does not count a refused batch: the sender counts it as dropped, once', async () => {
    const counted: number[] = [];
    const closed = consumerFn<number>(() => Promise.reject(new ClosedError('flow_join')));
    await expect(countingConsumer(closed, (n) => counted.push(n)).consume([1, 2])).rejects.toBeInstanceOf(ClosedError);
    expect(counted).toEqual([]);
  });
});

describe('fanout', () => {
  it('hands the batch to every consumer and re-throws the first refusal after all were called', async () => {
    const seen: string[] = [];
    const ok = (name: string) =>
      consumerFn<number>((batch) => {
        seen.push(`${name}:${batch.length}`);
        return Promise.resolve();
      });
    const refusing = consumerFn<number>(() => Promise.reject(new Error('refused')));
    await expect(fanout([ok('a'), refusing, ok('b')]).consume([1])).rejects.toThrow('refused');
    expect(seen).toEqual(['a:1', 'b:1']);
  });
});
