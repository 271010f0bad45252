import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeadlineHeap } from './expiry.js';

describe('deadline heap', () => {
  it('pops exactly the due items, earliest first (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.nat())),
        fc.integer({ min: 0, max: 1000 }),
        (entries, now) => {
          const heap = new DeadlineHeap<number>();
          entries.forEach(([deadline], i) => heap.push(deadline, i));
          const popped: number[] = [];
          for (let item = heap.popDue(now); item !== undefined; item = heap.popDue(now)) popped.push(entries[item]![0]);
          const due = entries
            .map(([d]) => d)
            .filter((d) => d <= now)
            .sort((a, b) => a - b);
          expect(popped).toEqual(due);
          expect(heap.size).toBe(entries.length - due.length);
          expect(heap.peekDeadline()).toBe(
            Math.min(...entries.map(([d]) => d).filter((d) => d > now), Number.POSITIVE_INFINITY),
          );
        },
      ),
    );
  });
});
