import { describe, expect, it } from 'vitest';
import { designPatterns, fitLogistic, sigmoid, solveSymmetric } from '../../src/util/logistic.js';

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

describe('fitLogistic on patterns of identical rows', () => {
  // A scorecard's shape: two measures of three 0/1 steps (one step hit at most each) and one 0/1 rule, 5,000 rows.
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const n = 5000;
  const stepOf = Array.from({ length: 2 }, () => Array.from({ length: n }, () => Math.floor(rand() * 4))); // 0: no step
  const columns = [
    ...stepOf.flatMap((s) => [1, 2, 3].map((k) => s.map((v) => (v === k ? 1 : 0)))),
    Array.from({ length: n }, () => (rand() < 0.2 ? 1 : 0)),
  ];
  const truth = [0.8, 0.2, -0.5, -0.3, 0.4, 1.1, 0.9];
  const y = Array.from({ length: n }, (_, i) => (rand() < sigmoid(-1.5 + columns.reduce((s, c, j) => s + c[i]! * truth[j]!, 0)) ? 1 : 0));
  const rows = all(n).filter((i) => i % 3 !== 0);

  it('identical rows collapse into one pattern with their count and churners, in order of first occurrence', () => {
    const x = [
      [1, 0, 1, 1, 0],
      [0, 2, 0, 0, 2],
    ];
    const d = designPatterns(x, [1, 0, 0, 1, 1], [0, 1, 2, 3, 4]);
    expect(Array.from(d.count)).toEqual([3, 2]); // rows 0, 2, 3 are {x0 = 1}; rows 1, 4 are {x1 = 2}
    expect(Array.from(d.positives)).toEqual([2, 1]);
    expect(Array.from(d.start)).toEqual([0, 1, 2]);
    expect(Array.from(d.idx)).toEqual([1, 2]); // column 0 is the intercept
    expect(Array.from(d.val)).toEqual([1, 2]);
    const other = designPatterns([[1, 1, 2]], [0, 1, 1], [0, 1, 2]); // a value other than 1 is a pattern of its own
    expect(Array.from(other.count)).toEqual([2, 1]);
  });

  it('the fit on patterns gives the row-by-row fit: the same iterations, every coefficient within the fit tolerance (1e-9)', () => {
    const d = designPatterns(columns, y, rows);
    expect(d.count.length).toBeLessThanOrEqual(4 * 4 * 2); // far fewer patterns than 3,333 rows
    for (const l2 of [0, 1]) {
      const grouped = fitLogistic(columns, y, rows, { l2 });
      const byRow = fitLogistic(columns, y, rows, { l2, group: false });
      expect(grouped.converged).toBe(true);
      expect(grouped.iterations).toBe(byRow.iterations);
      expect(Math.abs(grouped.intercept - byRow.intercept)).toBeLessThan(1e-9);
      for (let j = 0; j < columns.length; j++) expect(Math.abs(grouped.coef[j]! - byRow.coef[j]!)).toBeLessThan(1e-9);
    }
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
