import { describe, expect, it } from 'vitest';
import { fitLogistic, sigmoid, solveSymmetric } from '../../src/util/logistic.js';

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('fitLogistic against hand-computed values', () => {
  // Group x=0: 10 rows, 2 churners; group x=1: 10 rows, 6 churners.
  const x = [...Array(10).fill(0), ...Array(10).fill(1)];
  const y = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];

  it('without a penalty, one 0/1 column gives the two groups’ log-odds', () => {
    const f = fitLogistic([x], y, all(20), { l2: 0 });
    expect(f.converged).toBe(true);
    expect(f.intercept).toBeCloseTo(Math.log(0.2 / 0.8), 9); // −ln 4
    expect(f.coef[0]).toBeCloseTo(Math.log(6), 9); // ln(0.6/0.4) + ln 4
  });

  it('with no column, the intercept is the log-odds of the base rate', () => {
    const f = fitLogistic([], y, all(20), { l2: 0 });
    expect(f.intercept).toBeCloseTo(Math.log(8 / 12), 9);
    expect(f.coef).toEqual([]);
  });

  it('the L2 penalty shrinks the coefficient and not the intercept: the fit meets its stationarity equations', () => {
    const l2 = 2;
    const f = fitLogistic([x], y, all(20), { l2 });
    const mu = x.map((v) => sigmoid(f.intercept + f.coef[0]! * v));
    const g0 = y.reduce((s, v, i) => s + v - mu[i]!, 0);
    const g1 = y.reduce((s, v, i) => s + (v - mu[i]!) * x[i]!, 0);
    expect(g0).toBeCloseTo(0, 9);
    expect(g1).toBeCloseTo(l2 * f.coef[0]!, 9);
    expect(f.coef[0]!).toBeGreaterThan(0);
    expect(f.coef[0]!).toBeLessThan(Math.log(6));
  });

  it('only the listed rows count', () => {
    const f = fitLogistic([x], y, [0, 1, 2, 3, 10, 11, 12, 16], { l2: 0 }); // 2 of 4, then 3 of 4
    expect(f.intercept).toBeCloseTo(0, 9);
    expect(f.coef[0]).toBeCloseTo(Math.log(3), 9);
  });

  it('two collinear columns (bins that sum to one) stay defined under the penalty and split the effect evenly', () => {
    const a = x.map((v) => 1 - v);
    const f = fitLogistic([a, x], y, all(20), { l2: 1 });
    expect(f.converged).toBe(true);
    expect(f.coef[1]! - f.coef[0]!).toBeGreaterThan(0);
    expect(f.coef[0]! + f.coef[1]!).toBeCloseTo(0, 6); // symmetric penalty: the minimum-norm split
  });
});

describe('solveSymmetric', () => {
  it('solves a 2 × 2 system by hand', () => {
    // [4 2; 2 3] x = [2; 1] → x = [0.5, 0]
    const x = solveSymmetric(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 1]), 2);
    expect(x[0]).toBeCloseTo(0.5, 12);
    expect(x[1]).toBeCloseTo(0, 12);
  });
});
