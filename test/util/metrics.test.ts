/**
 * The measures against values worked out by hand (each computation is written out
 * beside its assertion), so a slip in a formula cannot hide behind a second copy of it.
 */
import { wilcoxonRankSum } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { decileTable, flagMeasures, measureFlag, rocAuc, wilson, Z95 } from '../../src/util/metrics.js';

describe('wilson', () => {
  it('when 3 of 10 then the interval is [0.1078, 0.6032]', () => {
    // p = 0.3, z² = 3.841459, denom = 1 + z²/10 = 1.3841459
    // centre = (0.3 + z²/20) / denom = 0.4920730 / 1.3841459 = 0.355506
    // half = z/denom · sqrt(0.3·0.7/10 + z²/400) = 1.416009 · sqrt(0.0306036) = 0.247716
    const w = wilson(3, 10);
    expect(w.estimate).toBe(0.3);
    expect(w.low).toBeCloseTo(0.355506 - 0.247716, 5);
    expect(w.high).toBeCloseTo(0.355506 + 0.247716, 5);
  });

  it('when 0 of 5 then the low end is 0 and the high end z²/(n+z²)', () => {
    // p = 0: centre = half = (z²/10)/(1 + z²/5); high = 2·centre = z²/(5 + z²) = 3.841459/8.841459 = 0.434482
    const w = wilson(0, 5);
    expect(w.low).toBe(0);
    expect(w.high).toBeCloseTo((Z95 * Z95) / (5 + Z95 * Z95), 12);
    expect(w.high).toBeCloseTo(0.434482, 5);
  });

  it('when n is 0 then every figure is NaN', () => {
    const w = wilson(0, 0);
    expect([w.estimate, w.low, w.high].every(Number.isNaN)).toBe(true);
  });
});

describe('flagMeasures', () => {
  it('when 3 of 10 flagged churned and 5 of 50 churned in all then precision 0.3, recall 0.6, lift 3 with the precision interval over 0.1', () => {
    const m = flagMeasures(10, 3, 5, 50);
    expect(m.precision.estimate).toBe(0.3);
    expect(m.recall.estimate).toBe(0.6);
    expect(m.lift.estimate).toBeCloseTo(3, 12);
    // base rate 5/50 = 0.1: lift interval = Wilson(3, 10) / 0.1 = [1.0779, 6.0322]
    expect(m.lift.low).toBeCloseTo(1.0779, 4);
    expect(m.lift.high).toBeCloseTo(6.03222, 4);
  });

  it('when labels hold unlabelled entries then measureFlag leaves them out', () => {
    // labelled: i = 0..3 (churned 1,0,1,0); i = 4 has label 255 (no label) and is flagged
    const m = measureFlag([1, 1, 0, 0, 1], [1, 0, 1, 0, 255]);
    expect([m.flagged, m.churners]).toEqual([2, 1]);
    expect(m.recall.estimate).toBe(0.5);
    expect(m.lift.estimate).toBe(1); // 0.5 / (2/4)
  });
});

describe('rocAuc', () => {
  it('when churners score 0.9, 0.5, 0.5 and the others 0.5, 0.1 then AUC is 5/6', () => {
    // pairs (churner, other): (0.9,0.5)=1 (0.9,0.1)=1, and twice (0.5,0.5)=½ (0.5,0.1)=1: 2 + 1.5 + 1.5 = 5 of 6
    expect(rocAuc([0.9, 0.5, 0.5, 0.5, 0.1], [1, 1, 1, 0, 0])).toBeCloseTo(5 / 6, 12);
  });

  it('when scores are random with many ties then AUC equals the rank-sum AUC of simple-statistics', () => {
    // AUC = (W − P(P+1)/2) / (P·N), W the rank sum of the churners with tied ranks averaged
    let x = 12345;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 20; round++) {
      const score = Array.from({ length: 300 }, () => Math.floor(next() * 8) / 8);
      const label = score.map((s) => (next() < 0.2 + s / 2 ? 1 : 0));
      const pos = score.filter((_, i) => label[i] === 1),
        neg = score.filter((_, i) => label[i] === 0);
      const expected = (wilcoxonRankSum(pos, neg) - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
      expect(rocAuc(score, label)).toBeCloseTo(expected, 12);
    }
  });

  it('when a score is NaN then it ranks lowest', () => {
    // churner NaN vs others 0.1 and NaN: loses one, ties one → 0.5 of 2; churner 0.2 beats both → 2; (0.5 + 2) / 4
    expect(rocAuc([NaN, 0.2, 0.1, NaN], [1, 1, 0, 0])).toBeCloseTo(2.5 / 4, 12);
  });

  it('when every score is equal then AUC is 0.5; when a class is empty then NaN', () => {
    expect(rocAuc([0, 0, 0, 0], [1, 0, 0, 1])).toBe(0.5);
    expect(rocAuc([0.3, 0.2], [0, 0])).toBeNaN();
  });
});

describe('decileTable', () => {
  it('when 20 subscribers are ranked then each decile holds 2 and the top cut splits the tie group at 0.5', () => {
    // scores best first: 0.9, 0.5, 0.5, 0.5, then 16 zeros; churners at ranks 1, 3 and 20.
    const score = [0.9, 0.5, 0.5, 0.5, ...Array(16).fill(0)];
    const label = score.map((_, r) => (r === 0 || r === 2 || r === 19 ? 1 : 0));
    const order = score.map((_, r) => r);
    const t = decileTable(order, score, label);
    expect(t.subscribers).toBe(20);
    expect(t.baseRate).toBe(3 / 20);
    // decile 1 = ranks 1-2: one churner, rate 0.5, lift 0.5/0.15 = 3.333, cumulative 1/3
    expect(t.rows[0]).toMatchObject({ decile: 1, subscribers: 2, churners: 1, rate: 0.5, minScore: 0.5, maxScore: 0.9 });
    expect(t.rows[0]!.lift).toBeCloseTo(10 / 3, 12);
    expect(t.rows[0]!.cumulativeShare).toBeCloseTo(1 / 3, 12);
    // decile 2 = ranks 3-4: one churner → cumulative 2/3; decile 10 = ranks 19-20: one → 1
    expect(t.rows[1]!.cumulativeShare).toBeCloseTo(2 / 3, 12);
    expect(t.rows[9]).toMatchObject({ churners: 1, cumulativeShare: 1 });
    expect(t.distinctScores).toBe(3);
    // cut after rank 2 falls in the group of three 0.5s (ranks 2-4), one of which is inside
    expect(t.topCut).toEqual({ score: 0.5, tied: 3, inside: 1 });
  });

  it('when 13 subscribers are ranked then the deciles hold 1 or 2 by floor(k·13/10) and unlabelled ones are skipped', () => {
    // cuts at floor(k·13/10) = 1,2,3,5,6,7,9,10,11,13 → sizes 1,1,1,2,1,1,2,1,1,2
    const score = Array.from({ length: 14 }, (_, i) => 14 - i);
    const label = score.map((_, i) => (i === 5 ? 255 : i % 2));
    const t = decileTable(
      score.map((_, i) => i),
      score,
      label,
    );
    expect(t.rows.map((r) => r.subscribers)).toEqual([1, 1, 1, 2, 1, 1, 2, 1, 1, 2]);
    expect(t.topCut.tied).toBe(0);
    expect(t.distinctScores).toBe(13);
  });
});
