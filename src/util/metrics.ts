/**
 * Measures of how well a flag or a ranking finds churners, for backtest and diff
 * (and calibrate after them): precision, recall and lift with 95% Wilson intervals,
 * ROC AUC, and a decile table of a ranking. Pure: arrays in, plain objects out.
 *
 * It sits on the ground floor, beside the other helpers that know nothing of the
 * pipeline, so any stage that fits or judges a score can use it.
 *
 * simple-statistics has no Wilson interval (its probit is a two-decimal table lookup,
 * too coarse for z); its rank sum builds an object per value, too slow at a million
 * subscribers, so the AUC is computed here and tested against it. Deciles are cuts by
 * rank position, not score quantiles: with the 2 to 8 distinct risks of a rule pack,
 * quantiles of the score collapse into one or two bins.
 */
/** z for a two-sided 95% interval: the 0.975 quantile of the standard normal. */
export const Z95 = 1.959963984540054;

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

const NO_INTERVAL: Interval = { estimate: NaN, low: NaN, high: NaN };

/**
 * Wilson score interval of a proportion k/n. Unlike the normal approximation it stays
 * inside [0, 1] and is usable for k = 0 or k = n and for small n. NaN when n = 0.
 */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return NO_INTERVAL;
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { estimate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface FlagMeasures {
  /** Subscribers flagged. */
  flagged: number;
  /** Churners among them. */
  churners: number;
  /** churners / flagged. */
  precision: Interval;
  /** churners / all churners. */
  recall: Interval;
  /**
   * precision / base rate. The interval is precision's Wilson interval divided by the
   * base rate, which is taken as known: its own sampling error is left out, so the
   * interval is somewhat too narrow when there are few churners in all.
   */
  lift: Interval;
}

/** Precision, recall and lift of a flag among `total` labelled subscribers of whom `positives` churned. */
export function flagMeasures(flagged: number, churners: number, positives: number, total: number): FlagMeasures {
  const precision = wilson(churners, flagged);
  const recall = wilson(churners, positives);
  const base = total > 0 ? positives / total : NaN;
  const lift = base > 0 ? { estimate: precision.estimate / base, low: precision.low / base, high: precision.high / base } : NO_INTERVAL;
  return { flagged, churners, precision, recall, lift };
}

/** flagMeasures of a 0/1 flag array over the subscribers with a label (label 0/1; anything else is unlabelled). */
export function measureFlag(flag: ArrayLike<number>, label: ArrayLike<number>): FlagMeasures {
  let flagged = 0,
    churners = 0,
    positives = 0,
    total = 0;
  for (let i = 0; i < label.length; i++) {
    const y = label[i]!;
    if (y !== 0 && y !== 1) continue;
    total++;
    positives += y;
    if (flag[i]) {
      flagged++;
      churners += y;
    }
  }
  return flagMeasures(flagged, churners, positives, total);
}

/**
 * ROC AUC of `score` for the labelled subscribers: the chance that a random churner
 * scores above a random non-churner, ties counting one half (the Mann-Whitney U over
 * the product of the class sizes, which is what the rank sum with tied ranks averaged
 * gives). Both classes' scores are sorted as typed arrays and walked together, with
 * no object per subscriber: at a million subscribers this is ~100 ms where the rank
 * sum of simple-statistics takes seconds. A NaN score ranks lowest. NaN when either
 * class is empty.
 */
export function rocAuc(score: ArrayLike<number>, label: ArrayLike<number>): number {
  let p = 0,
    q = 0;
  for (let i = 0; i < label.length; i++)
    if (label[i] === 1) p++;
    else if (label[i] === 0) q++;
  if (p === 0 || q === 0) return NaN;
  const pos = new Float64Array(p),
    neg = new Float64Array(q);
  p = 0;
  q = 0;
  for (let i = 0; i < label.length; i++) {
    const s = score[i]!;
    const v = s === s ? s : -Infinity;
    if (label[i] === 1) pos[p++] = v;
    else if (label[i] === 0) neg[q++] = v;
  }
  pos.sort();
  neg.sort();
  // For each churner: the others strictly below it, plus half of those equal to it.
  let below = 0,
    upTo = 0,
    u = 0;
  for (let k = 0; k < p; k++) {
    const s = pos[k]!;
    while (below < q && neg[below]! < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < q && neg[upTo]! === s) upTo++;
    u += below + (upTo - below) / 2;
  }
  return u / (p * q);
}

export interface DecileRow {
  /** 1 = the highest scores. */
  decile: number;
  subscribers: number;
  churners: number;
  /** Churn rate within the decile. */
  rate: number;
  /** rate / base rate. */
  lift: number;
  /** Share of all churners in deciles 1..this one. */
  cumulativeShare: number;
  minScore: number;
  maxScore: number;
}

export interface DecileTable {
  subscribers: number;
  churners: number;
  baseRate: number;
  rows: DecileRow[];
  /** Distinct score values among the labelled subscribers. */
  distinctScores: number;
  /**
   * The tie group at the cut below decile 1: the score it shares, how many
   * subscribers hold that score, and how many of them the tie-break put inside
   * decile 1. tied = 0 when the cut falls between two different scores.
   */
  topCut: { score: number; tied: number; inside: number };
}

/**
 * Deciles of a ranking of the labelled subscribers. `order` lists subscriber indexes
 * best first with ties already broken (the caller's deterministic tie-break, by id);
 * unlabelled ones in it are skipped. Decile k holds ranks floor((k-1)·n/10) to
 * floor(k·n/10) - 1, so sizes differ by at most one, and a tie group that straddles
 * a cut is split by that tie-break, which topCut reports for the cut that matters most.
 */
export function decileTable(order: ArrayLike<number>, score: ArrayLike<number>, label: ArrayLike<number>): DecileTable {
  const ranked: number[] = [];
  for (let r = 0; r < order.length; r++) {
    const y = label[order[r]!];
    if (y === 0 || y === 1) ranked.push(order[r]!);
  }
  const n = ranked.length;
  let churners = 0;
  for (const i of ranked) churners += label[i]!;
  const baseRate = n > 0 ? churners / n : NaN;
  const rows: DecileRow[] = [];
  let cumulative = 0;
  for (let k = 1; k <= 10; k++) {
    const from = Math.floor(((k - 1) * n) / 10),
      to = Math.floor((k * n) / 10);
    let c = 0,
      lo = Infinity,
      hi = -Infinity;
    for (let r = from; r < to; r++) {
      const i = ranked[r]!;
      c += label[i]!;
      const s = score[i]!;
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    cumulative += c;
    const size = to - from;
    const rate = size > 0 ? c / size : NaN;
    rows.push({
      decile: k,
      subscribers: size,
      churners: c,
      rate,
      lift: rate / baseRate,
      cumulativeShare: churners > 0 ? cumulative / churners : NaN,
      minScore: size > 0 ? lo : NaN,
      maxScore: size > 0 ? hi : NaN,
    });
  }
  const distinct = new Set<number>();
  for (const i of ranked) distinct.add(score[i]!);
  return { subscribers: n, churners, baseRate, rows, distinctScores: distinct.size, topCut: tieAtCut(ranked, score, Math.floor(n / 10)) };
}

/** The tie group that the cut before rank `cut` falls inside, if any. */
function tieAtCut(ranked: readonly number[], score: ArrayLike<number>, cut: number): DecileTable['topCut'] {
  if (cut <= 0 || cut >= ranked.length) return { score: NaN, tied: 0, inside: 0 };
  const s = score[ranked[cut - 1]!]!;
  if (score[ranked[cut]!] !== s) return { score: s, tied: 0, inside: 0 };
  let a = cut - 1,
    b = cut;
  while (a > 0 && score[ranked[a - 1]!] === s) a--;
  while (b + 1 < ranked.length && score[ranked[b + 1]!] === s) b++;
  return { score: s, tied: b - a + 1, inside: cut - a };
}
