/**
 * The renderer visits a batch's rows in subscriber order (BatchOrder, a radix sort):
 * the same order as a stable comparison sort, for indices of every size (one pass
 * to three), repeats, and a batch that starts inside the plan's rows.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BatchOrder } from '../../src/tasks/tasks.js';

describe('BatchOrder', () => {
  it('orders a batch by subscriber, the rows of one subscriber in row order', () => {
    const index = fc.oneof(fc.nat(50), fc.nat((1 << 22) + 5), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
    fc.assert(
      fc.property(fc.array(index, { maxLength: 300 }), fc.nat(), fc.nat(), (values, a, b) => {
        const subscriber = Int32Array.from(values);
        const from = values.length === 0 ? 0 : a % values.length;
        const n = values.length - from === 0 ? 0 : b % (values.length - from + 1);
        const order = new BatchOrder(Math.max(1, n));
        // Twice over the same object: what one sort leaves must not change the next.
        for (let k = 0; k < 2; k++) {
          order.sort(subscriber, from, n);
          const want = Array.from({ length: n }, (_, r) => r).sort((x, y) => subscriber[from + x]! - subscriber[from + y]! || x - y);
          expect(Array.from(order.rowAt.subarray(0, n))).toEqual(want);
          expect(Array.from(order.subscriberAt.subarray(0, n))).toEqual(want.map((r) => subscriber[from + r]!));
        }
      }),
      { numRuns: 400 },
    );
  });
});
