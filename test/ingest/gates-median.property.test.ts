/**
 * The gates' median against simple-statistics', which they used before: the same
 * number for any list of row counts, so a gate's verdict and message cannot move.
 */
import fc from 'fast-check';
import { median as reference } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { median } from '../../src/ingest/gates.js';

describe('median of the gates', () => {
  it('when given row counts or any finite numbers then it is the same number as simple-statistics gives', () => {
    const counts = fc.array(fc.nat({ max: 50_000_000 }), { minLength: 1, maxLength: 40 });
    const numbers = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }), { minLength: 1, maxLength: 40 });
    fc.assert(fc.property(fc.oneof(counts, numbers), (values) => Object.is(median(values), reference(values))));
  });

  it('when counts are even in number then it is the mean of the middle two, leaving the input in its order', () => {
    const values = [9, 1, 4, 6];
    expect(median(values)).toBe(5);
    expect(values).toEqual([9, 1, 4, 6]);
  });
});
