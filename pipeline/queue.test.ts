import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BoundedQueue } from './queue.js';

describe('bounded queue', () => {
  it('drops the newest items when full under drop_newest, and reports the count', () => {
    const drops: number[] = [];
    const queue = new BoundedQueue<number>(3, 'drop_newest', (n) => drops.push(n));
    expect(queue.push([1, 2, 3, 4, 5])).toBe(2);
    expect(drops).toEqual([2]);
    expect(queue.take(10)).toEqual([1, 2, 3]);
  });

  it('drops the oldest items when full under drop_oldest', () => {
    const queue = new BoundedQueue<number>(3, 'drop_oldest', () => {});
    queue.push([1, 2]);
    expect(queue.push([3, 4, 5])).toBe(2);
    expect(queue.take(10)).toEqual([3, 4, 5]);
  });

  it('never holds more than its capacity and accounts for every item (model check)', () => {
    const op = fc.oneof(fc.record({ push: fc.array(fc.integer(), { maxLength: 7 }) }), fc.record({ take: fc.nat(6) }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom('drop_newest', 'drop_oldest' as const),
        fc.array(op),
        (capacity, policy, ops) => {
          let dropped = 0;
          const queue = new BoundedQueue<number>(capacity, policy, (n) => (dropped += n));
          const model: number[] = [];
          let pushed = 0;
          let taken = 0;
          for (const o of ops) {
            if ('push' in o) {
              queue.push(o.push);
              pushed += o.push.length;
              for (const v of o.push) {
                if (model.length < capacity) model.push(v);
                else if (policy === 'drop_oldest') {
                  model.shift();
                  model.push(v);
                }
              }
            } else {
              const got = queue.take(o.take);
              taken += got.length;
              expect(got).toEqual(model.splice(0, o.take));
            }
            expect(queue.size).toBeLessThanOrEqual(capacity);
            expect(pushed).toBe(taken + dropped + queue.size);
          }
        },
      ),
    );
  });

  it('refuses a capacity below 1', () => {
    expect(() => new BoundedQueue(0, 'drop_newest', () => {})).toThrow(/capacity must be >= 1/);
  });
});
