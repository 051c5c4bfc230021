/**
 * The parts of calibrate, each against values worked out by hand: the candidates a
 * pack yields, the --measures list, quantile edges, the monotone merge, the keyed split.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import {
  candidateId,
  candidateMeasures,
  heldOutPart,
  HELD_OUT_SHARE,
  mergeViolations,
  quantileEdges,
  splitMeasureList,
  type CardMeasure,
} from '../../src/report/calibrate.js';
import { TextColumn } from '../../src/util/text-column.js';

describe('candidateMeasures', () => {
  it('lists what the rules read, what they compare (one of x / y and y / x, D − a date), then the listed ones', () => {
    const pack = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'default.yaml');
    const ms = candidateMeasures(pack, ['calls(d7)', 'amount(M0)']).map((c) => c.measure);
    // arpu_drop_mom: amount(M1) >= 10 and amount(M0) <= 0.70 * amount(M1)
    expect(ms.slice(0, 3)).toEqual(['amount(M1)', 'amount(M0)', 'amount(M0) / amount(M1)']);
    // arpu_decline_3m compares amount(M1) > amount(M0): the same pair, left out.
    expect(ms).not.toContain('amount(M1) / amount(M0)');
    expect(ms).toContain('amount(M3) / amount(M2)');
    expect(ms).toContain('mou(M0) / mou(M1)');
    // silence_3d: activation_date <= d3 compares dates: the line's age.
    expect(ms).toContain('D - activation_date');
    // enums and dates themselves are no measure; a listed duplicate appears once.
    expect(ms).not.toContain('status');
    expect(ms).not.toContain('activation_date');
    expect(ms.filter((m) => m === 'amount(M0)')).toHaveLength(1);
    expect(ms[ms.length - 1]).toBe('calls(d7)');
  });

  it('names a candidate by its measure', () => {
    expect(candidateId('amount(M0) / amount(M1)')).toBe('amount_m0_over_amount_m1');
    expect(candidateId('D - activation_date')).toBe('d_minus_activation_date');
    expect(candidateId("tickets('any', -30, -1)")).toBe('tickets_any_minus_30_minus_1');
  });

  it('splits --measures at commas outside parentheses', () => {
    expect(splitMeasureList("tickets('complaint', -90, -1), amount(M0) ,,max(mou(M0), 1)")).toEqual([
      "tickets('complaint', -90, -1)",
      'amount(M0)',
      'max(mou(M0), 1)',
    ]);
  });
});

describe('quantileEdges', () => {
  it('cuts at the 5, 20, 40, 60, 80 and 95% quantiles, merging equal cuts and dropping empty steps', () => {
    const v = Array.from({ length: 100 }, (_, k) => k + 1); // 1..100
    // simple-statistics quantileSorted interpolates at position p × (n − 1): 0.05 × 99 = 4.95 → 5.95, 0.95 × 99 = 94.05 → 95.05 → 95
    expect(quantileEdges(v)).toEqual([5.95, 20.8, 40.6, 60.4, 80.2, 95]);
    // eight zeros, 1, 2: the cuts at 5..60% are 0 (no step below the smallest value), 80% is 7.2 → 0.2, 95% is 8.55 → 1.55
    expect(quantileEdges([0, 0, 0, 0, 0, 0, 0, 0, 1, 2])).toEqual([0.2, 1.55]);
    expect(quantileEdges([3, 3, 3])).toEqual([]);
    // NaN (not given) is left out: 1..10, positions 0.45, 1.8, 3.6, 5.4, 7.2, 8.55
    expect(quantileEdges([Number.NaN, 1, 2, Number.NaN, 3, 4, 5, 6, 7, 8, 9, 10])).toEqual([1.45, 2.8, 4.6, 6.4, 8.2, 9.55]);
  });

  it('rounds an edge to three significant digits', () => {
    const v = Array.from({ length: 1000 }, (_, k) => 1 + k / 7000);
    for (const e of quantileEdges(v)) expect(String(e).replace(/^[0.]+|\./g, '').length).toBeLessThanOrEqual(3);
  });
});

describe('mergeViolations', () => {
  const m = (points: number[], edges: number[]): CardMeasure => ({ id: 'x', measure: 'x', points, edges });

  it('merges the two neighbouring steps that most break the direction of first to last', () => {
    const a = m([1, 0.5, 0.8, 0.2, -1], [10, 20, 30, 40]);
    expect(mergeViolations([a])).toBe(true);
    // falling overall; 0.5 → 0.8 rises by 0.3: steps 2 and 3 merge (edge 20 goes)
    expect(a.edges).toEqual([10, 30, 40]);
    expect(a.points).toHaveLength(4);
  });

  it('merges in every measure that breaks its direction, one pair each', () => {
    const a = m([0, 1, 0.5, 2], [1, 2, 3]);
    const b = m([3, 2], [5]);
    const c = m([2, 1, 1.5, 0], [1, 2, 3]);
    expect(mergeViolations([a, b, c])).toBe(true);
    expect([a.edges, b.edges, c.edges]).toEqual([[1, 3], [5], [1, 3]]);
  });

  it('is false when every measure runs one way', () => {
    expect(mergeViolations([m([-1, 0, 0, 2], [1, 2, 3]), m([3, 2], [5])])).toBe(false);
  });
});

describe('heldOutPart', () => {
  const ids = TextColumn.from(Array.from({ length: 20000 }, (_, k) => `S${k}`));

  it('holds out about the share, the same subscribers every time, another set under another seed', () => {
    const a = heldOutPart(ids, '1');
    const share = a.reduce((s, x) => s + x, 0) / a.length;
    expect(Math.abs(share - HELD_OUT_SHARE)).toBeLessThan(0.015);
    expect(heldOutPart(ids, '1')).toEqual(a);
    const b = heldOutPart(ids, '2');
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
    expect(same / a.length).toBeLessThan(0.7);
  });
});
