/**
 * HitBits.key against its reference: pattern numbers given in the order subscribers are
 * first asked for, equal exactly when the hit rules are (a map from each subscriber's
 * words as text), over one to four words and past the pattern table's first size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HitBits } from '../../src/evaluate/hit-bits.js';

/** The numbers key() should give, asked in `asks` order: a new number for each set of words first seen. */
function referenceKeys(flags: readonly Uint8Array[], asks: readonly number[]): number[] {
  const known = new Map<string, number>();
  return asks.map((i) => {
    const text = flags.map((f) => f[i]).join('');
    let k = known.get(text);
    if (k === undefined) known.set(text, (k = known.size));
    return k;
  });
}

describe('HitBits.key', () => {
  it('numbers the distinct sets of hit rules as first asked for', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 33, max: 128 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer(),
        (rules, n, sparsity, seed) => {
          let x = seed | 1;
          const next = () => {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            return x >>> 0;
          };
          // Few rules hit per subscriber (many repeated sets), or many (most sets distinct: the table grows).
          const flags = Array.from({ length: rules }, () => Uint8Array.from({ length: n }, () => (next() % sparsity === 0 ? 1 : 0)));
          const asks = Array.from({ length: 2 * n }, (_, k) => (k < n ? next() % n : k - n));
          const bits = HitBits.of(flags, n);
          expect(asks.map((i) => bits.key(i))).toEqual(referenceKeys(flags, asks));
        },
      ),
      { numRuns: 60 },
    );
  });
});
