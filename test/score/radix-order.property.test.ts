/**
 * radixOrder against a stable comparator sort of the keys: any doubles but -0 and NaN
 * (the callers fold them), with many keys that differ only in their low 32 bits (the
 * runs it orders after the high halves), short runs and runs past insertion's length.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { radixOrder } from '../../src/score/score.js';

function stableOrder(keys: Float64Array): number[] {
  return Array.from(keys, (_, k) => k).sort((a, b) => keys[a]! - keys[b]! || a - b);
}

describe('radixOrder', () => {
  it('orders as a stable sort of the keys does', () => {
    // A few bases, each with neighbours a few units in the last place apart: the same high half, other low halves.
    const near = fc
      .tuple(fc.constantFrom(1, 38.4, -4.25, 1e-9, 123456.789, -1e12), fc.integer({ min: -40, max: 40 }))
      .map(([base, ulps]) => {
        const v = new Float64Array([base]);
        new BigInt64Array(v.buffer)[0]! += BigInt(ulps);
        return v[0]!;
      });
    const any = fc.double({ noNaN: true }).map((v) => v + 0);
    fc.assert(
      fc.property(fc.array(fc.oneof(near, any, fc.constantFrom(0, Infinity, -Infinity)), { maxLength: 400 }), (values) => {
        const keys = Float64Array.from(values);
        expect(Array.from(radixOrder(keys))).toEqual(stableOrder(keys));
      }),
      { numRuns: 400 },
    );
  });

  it('orders long runs of keys within a millionth of each other, and every digit of the high half', () => {
    const m = 30_000;
    const keys = Float64Array.from({ length: m }, (_, i) =>
      i % 4 === 0 ? 1 + ((i * 2654435761) % 1000) * 2 ** -52 : i % 4 === 1 ? ((i * 40503) % 7919) * 0.37 - 1000 : (i % 9) * 0.5,
    );
    expect(Array.from(radixOrder(keys))).toEqual(stableOrder(keys));
  });
});
