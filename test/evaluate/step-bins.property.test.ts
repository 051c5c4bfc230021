/**
 * A scorecard measure's steps found once per subscriber (stepBins) and each step's flags
 * read off that bin (binFlag) against each step's own comparisons (stepFlag, the
 * conditions' as the SQL differential test holds them): the same flags for steps in
 * order, open below or above or not, with values on and beside the bounds (within the
 * tolerance), NaN, infinities, and excluded subscribers; and the hits counted per step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stepNumber } from '../../src/config/rulepack.js';
import { binFlag, stepBins, stepFlag } from '../../src/evaluate/passes.js';
import { COMPARE_TOLERANCE } from '../../src/rules/compile.js';

const E = COMPARE_TOLERANCE;

/** Steps in order without overlap, as the pack's parser lets them through, bounds through their text. */
const stepsArb = fc
  .tuple(
    fc.oneof(
      fc.uniqueArray(fc.double({ min: -1000, max: 1000, noNaN: true }), { minLength: 1, maxLength: 9 }),
      fc.uniqueArray(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 1, maxLength: 9 }),
    ),
    fc.boolean(),
    fc.boolean(),
    fc.array(fc.boolean(), { maxLength: 9 }),
  )
  .map(([cuts, openBelow, openAbove, gaps]) => {
    const b = [...cuts].sort((x, y) => x - y).map((x) => Number(stepNumber(Math.round(x * 1000) / 1000)));
    const bounds: { lo: number | null; hi: number | null }[] = [];
    if (openBelow) bounds.push({ lo: null, hi: b[0]! });
    for (let k = 0; k + 1 < b.length; k++) if (!gaps[k] && b[k]! < b[k + 1]!) bounds.push({ lo: b[k]!, hi: b[k + 1]! });
    if (openAbove || bounds.length === 0) bounds.push({ lo: b[b.length - 1]!, hi: null });
    return bounds;
  });

/** A value on a bound, or the tolerance away from it (where the comparisons' ties are), or beside either. */
function near(b: number, off: number, kind: number): number {
  const v = b + off * E * (kind === 2 ? 1 : 0.5);
  return kind === 3 ? v * (1 + Number.EPSILON * Math.sign(off)) : v;
}

describe('scorecard steps by bin', () => {
  it('flags every step as its own comparisons do', () => {
    fc.assert(
      fc.property(
        stepsArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: -3, max: 3 }), fc.nat(4), fc.boolean()), { minLength: 1, maxLength: 70 }),
        (bounds, cells) => {
          const edges = bounds.flatMap(({ lo, hi }) => [lo, hi]).filter((b): b is number => b !== null);
          const x = Float64Array.from(cells, ([at, off, kind]) =>
            kind === 0
              ? Number.NaN
              : kind === 1
                ? at % 2
                  ? Infinity
                  : -Infinity
                : kind === 4
                  ? edges[at % edges.length]! + at / 7 - 3
                  : near(edges[at % edges.length]!, off, kind),
          );
          const excluded = Uint8Array.from(cells, ([, , , out]) => +out);
          const bin = stepBins(bounds, x, excluded);
          expect(bin).not.toBeNull();
          bounds.forEach(({ lo, hi }, k) => {
            const own = stepFlag(lo, hi, x, excluded);
            const flag = new Uint8Array(x.length),
              count = binFlag(bin!, k + 1, flag);
            expect(Array.from(flag)).toEqual(Array.from(own));
            expect(count).toBe(own.reduce((a, f) => a + f, 0));
          });
          // No subscriber in two steps (the bins are the steps' own flags).
          expect(bin!.every((b) => b <= bounds.length)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts each step over columns of many words (the sums taken 127 words at a time), to the last byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 7 }), fc.integer(), (n, steps, seed) => {
        let s = seed | 1;
        const bin = Uint8Array.from({ length: n }, () => {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          return (s >>> 0) % (steps + 1);
        });
        for (let k = 1; k <= steps; k++) {
          const flag = new Uint8Array(n),
            count = binFlag(bin, k, flag);
          expect(Array.from(flag)).toEqual(Array.from(bin, (b) => +(b === k)));
          expect(count).toBe(bin.filter((b) => b === k).length);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('gives up on steps that overlap', () => {
    const x = Float64Array.of(1, 2, 3);
    expect(
      stepBins(
        [
          { lo: 0, hi: 2 },
          { lo: 1, hi: null },
        ],
        x,
        new Uint8Array(3),
      ),
    ).toBeNull();
  });
});
