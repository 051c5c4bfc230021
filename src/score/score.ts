/**
 * Risk, value tier and priority. Risk combines the weights of the rules a
 * subscriber hits by noisy-OR, 1 − Π(1 − wᵢ): each rule is read as an independent
 * chance of churn, so more signals raise the risk without ever passing 1. Expected
 * loss = risk × value (0 when the value is negative or not given); within a tier, tasks go by expected loss, then subscriber id
 * (its UTF-8 bytes, which is Unicode code point order).
 */
import type { RulePack } from '../config/rulepack.js';
import { COMPARE_TOLERANCE } from '../rules/compile.js';
import { logitSums, type Evaluation } from '../evaluate/evaluate.js';
import { HitBits } from '../evaluate/hit-bits.js';
import type { TextColumn } from '../util/text-column.js';
import { sharedFloat64, sharedUint8 } from '../util/worker.js';

export interface Scores {
  risk: Float64Array;
  expectedLoss: Float64Array;
  /** What tasks are ranked by, highest first (the pack's ranking:): expectedLoss itself, or risk. */
  rank: Float64Array;
  /** Index into TIERS (contract.ts). */
  tier: Uint8Array;
  /** Number of rules hit. */
  hits: Uint8Array;
}

export function assignTiers(pack: RulePack, value: Float64Array, ids: TextColumn): Uint8Array {
  const n = value.length;
  // Tier, risk and loss in shared memory: the score-files worker reads them without a copy.
  const tier = sharedUint8(n);
  const policy = pack.tiers;
  if (policy.method === 'threshold') {
    for (let i = 0; i < n; i++) {
      const v = value[i]!;
      tier[i] = v - policy.high >= -COMPARE_TOLERANCE ? 0 : v - policy.mid >= -COMPARE_TOLERANCE ? 1 : 2;
    }
    return tier;
  }
  // Rank: the top share by value is high, the next share mid; ties broken by id so the cut is stable.
  // A value the pack cannot compute (NaN) ranks below every value.
  const key = Float64Array.from(value, (v) => (Number.isNaN(v) ? -Infinity : v));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (key[a] === key[b] ? ids.compare(a, b) : key[b]! - key[a]!));
  const highCount = Math.round(policy.highShare * n);
  const midCount = Math.round(policy.midShare * n);
  order.forEach((idx, rank) => {
    tier[idx] = rank < highCount ? 0 : rank < highCount + midCount ? 1 : 2;
  });
  return tier;
}

export function score(pack: RulePack, ev: Evaluation, ids: TextColumn): Scores {
  const { risk, hits } = pack.score === 'logistic' ? logisticRisk(pack, ev) : noisyOrRisk(ev);
  const n = risk.length;
  const expectedLoss = sharedFloat64(n);
  for (let i = 0; i < n; i++) {
    // A negative value, or one the pack cannot compute (NaN), counts as 0.
    const v = ev.value[i]!;
    expectedLoss[i] = v > 0 ? risk[i]! * v : 0;
  }
  const rank = pack.ranking === 'risk' ? risk : expectedLoss;
  return { risk, expectedLoss, rank, tier: assignTiers(pack, ev.value, ids), hits };
}

/** Up to this many rules, noisy-OR risk is looked up by the set of rules hit (a table of 2^rules entries). */
const RISK_TABLE_RULES = 16;

function noisyOrRisk(ev: Evaluation): Pick<Scores, 'risk' | 'hits'> {
  const n = ev.value.length,
    rules = ev.flags.length;
  if (rules > RISK_TABLE_RULES) return noisyOrByRule(ev);
  // Each subscriber's hit rules as one word (made once here; the task stage reads the same bits), then risk and
  // hits by that word. The product of a set is its set without the highest rule, times that rule's 1 − w: the
  // same multiplications in the same order (rule order) as rule by rule, so the same doubles.
  const bits = HitBits.of(ev.flags, n).bits;
  const size = 1 << rules;
  const keepOf = new Float64Array(size),
    riskOf = new Float64Array(size),
    hitsOf = new Uint8Array(size);
  keepOf[0] = 1;
  for (let b = 1; b < size; b++) {
    const top = 31 - Math.clz32(b),
      rest = b ^ (1 << top);
    keepOf[b] = keepOf[rest]! * (1 - ev.rules[top]!.weight);
    hitsOf[b] = hitsOf[rest]! + 1;
    riskOf[b] = 1 - keepOf[b]!;
  }
  const risk = sharedFloat64(n);
  const hits = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    risk[i] = riskOf[b]!;
    hits[i] = hitsOf[b]!;
  }
  return { risk, hits };
}

/** noisyOrRisk rule by rule, for packs with more rules than a table holds. */
function noisyOrByRule(ev: Evaluation): Pick<Scores, 'risk' | 'hits'> {
  const n = ev.value.length;
  const keep = new Float64Array(n).fill(1);
  const hits = new Uint8Array(n);
  ev.flags.forEach((f, j) => {
    const w = 1 - ev.rules[j]!.weight;
    for (let i = 0; i < n; i++)
      if (f[i]) {
        keep[i] *= w;
        hits[i]++;
      }
  });
  const risk = sharedFloat64(n);
  for (let i = 0; i < n; i++) risk[i] = hits[i] ? 1 - keep[i]! : 0;
  return { risk, hits };
}

/**
 * σ(intercept + Σ points of the rules hit): a probability when the points were fitted
 * on labelled history. An excluded subscriber (closed: already gone) has risk 0. hits
 * counts the rules with positive points, and only once risk reaches flag_risk: the
 * steps of a scorecard touch nearly everyone, and a subscriber counts as flagged (gets a
 * task, in backtest's flagged) only when something raised the score far enough. The
 * sums are the evaluation's when it made them with the named terms (Evaluation.logit).
 */
function logisticRisk(pack: RulePack, ev: Evaluation): Pick<Scores, 'risk' | 'hits'> {
  const n = ev.value.length;
  const made = ev.logit;
  const { logit, raised } =
    made !== undefined && made.intercept === pack.intercept && made.logit.length === n
      ? made
      : logitSums(ev.rules, ev.flags, ev.bins ?? [], n, pack.intercept);
  const excluded = ev.excluded,
    flagRisk = pack.flagRisk;
  const risk = sharedFloat64(n);
  const hits = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (excluded[i]) continue;
    const r = 1 / (1 + Math.exp(-logit[i]!));
    risk[i] = r;
    if (r >= flagRisk) hits[i] = raised[i]!;
  }
  return { risk, hits };
}

/**
 * Scores from risk, expected loss and tiers computed elsewhere (the duckdb engine, by
 * the SQL the pack compiles to): the hits counted as noisyOrRisk and logisticRisk
 * count them, the rank as score() picks it.
 */
export function scoresFrom(pack: RulePack, ev: Evaluation, computed: Pick<Scores, 'risk' | 'expectedLoss' | 'tier'>): Scores {
  const { risk, expectedLoss, tier } = computed;
  const n = risk.length;
  const hits = new Uint8Array(n);
  const logistic = pack.score === 'logistic';
  ev.flags.forEach((f, j) => {
    if (logistic && !(ev.rules[j]!.weight > 0)) return;
    for (let i = 0; i < n; i++) if (f[i]) hits[i]++;
  });
  if (logistic) for (let i = 0; i < n; i++) if (ev.excluded[i] || !(risk[i]! >= pack.flagRisk)) hits[i] = 0;
  return { risk, expectedLoss, rank: pack.ranking === 'risk' ? risk : expectedLoss, tier, hits };
}

/** The terms of subscriber i's logit in a logistic pack: the intercept, then each rule hit with its points. */
export function logitTerms(
  pack: RulePack,
  ev: Evaluation,
  i: number,
): { intercept: number; terms: { rule: string; points: number }[]; total: number } {
  const terms: { rule: string; points: number }[] = [];
  let total = pack.intercept;
  ev.flags.forEach((f, j) => {
    if (!f[i]) return;
    terms.push({ rule: ev.ruleIds[j]!, points: ev.rules[j]!.weight });
    total += ev.rules[j]!.weight;
  });
  return { intercept: pack.intercept, terms, total };
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

const RADIX_BITS = 11,
  RADIX = 1 << RADIX_BITS,
  DIGIT = RADIX - 1;

/**
 * The positions of `keys` in ascending order, equal keys in their order (a stable
 * sort). Each key is made an unsigned 64-bit number that orders as the double does
 * (a negative's bits all turned, a positive's sign bit set); an LSD radix sort orders
 * them by the high 32 bits (sign, exponent and the mantissa's top 20 bits), in digits
 * of 11 bits whose counts are all taken in one read of the keys, moving each key's
 * two halves with its position so that every pass reads in order. Keys whose high
 * halves are equal are then few and side by side (ties, or values within a millionth
 * of each other): each such run is ordered by its low halves, stably. Half the passes
 * of a radix sort over all 64 bits. No -0 and no NaN among the keys (the caller folds them).
 */
export function radixOrder(keys: Float64Array): Int32Array {
  // A loop per function: each is optimised on its own, where one function of them all was compiled again at each
  // next loop (nine times a night), its feedback for the code after the running loop not yet taken.
  const m = keys.length;
  let lo = new Uint32Array(m),
    hi = new Uint32Array(m);
  const count = new Int32Array(3 * RADIX);
  let order = new Int32Array(m),
    next = new Int32Array(m),
    nextLo = new Uint32Array(m),
    nextHi = new Uint32Array(m);
  splitKeys(new Uint32Array(keys.buffer, keys.byteOffset, 2 * m), lo, hi, count, order);
  for (let pass = 0; pass < 3; pass++) {
    if (!startingPlaces(count, pass * RADIX, m)) continue;
    radixPass(count, pass, order, lo, hi, next, nextLo, nextHi);
    [order, next] = [next, order];
    [lo, nextLo] = [nextLo, lo];
    [hi, nextHi] = [nextHi, hi];
  }
  orderTies(order, lo, hi);
  return order;
}

/**
 * Each key's two halves as an unsigned number that orders as the double does, the counts of its high half's digits,
 * and the keys' positions in `order` as they come.
 */
function splitKeys(raw: Uint32Array, lo: Uint32Array, hi: Uint32Array, count: Int32Array, order: Int32Array): void {
  const L = LITTLE_ENDIAN ? 0 : 1;
  for (let k = 0; k < lo.length; k++) {
    order[k] = k;
    let h = raw[2 * k + 1 - L]!,
      l = raw[2 * k + L]!;
    if (h & 0x80000000) {
      h = ~h >>> 0;
      l = ~l >>> 0;
    } else h = (h | 0x80000000) >>> 0;
    lo[k] = l;
    hi[k] = h;
    count[h & DIGIT]!++;
    count[RADIX + ((h >>> RADIX_BITS) & DIGIT)]!++;
    count[2 * RADIX + (h >>> (2 * RADIX_BITS))]!++;
  }
}

/** A pass's digit counts made starting places; false when one digit value holds every key (the order stands). */
function startingPlaces(count: Int32Array, base: number, m: number): boolean {
  let sum = 0,
    single = false;
  for (let d = base; d < base + RADIX; d++) {
    const c = count[d]!;
    if (c === m) single = true;
    count[d] = sum;
    sum += c;
  }
  return !single;
}

/** One stable pass by the digit of the high halves at `pass`, each key's halves moved with its position. */
function radixPass(
  count: Int32Array,
  pass: number,
  order: Int32Array,
  lo: Uint32Array,
  hi: Uint32Array,
  next: Int32Array,
  nextLo: Uint32Array,
  nextHi: Uint32Array,
): void {
  const shift = pass * RADIX_BITS,
    base = pass * RADIX;
  for (let p = 0; p < order.length; p++) {
    const h = hi[p]!,
      q = count[base + ((h >>> shift) & DIGIT)]!++;
    next[q] = order[p]!;
    nextLo[q] = lo[p]!;
    nextHi[q] = h;
  }
}

/** Each run of equal high halves ordered by its low halves, stably. */
function orderTies(order: Int32Array, lo: Uint32Array, hi: Uint32Array): void {
  const m = order.length;
  for (let a = 0; a < m; ) {
    const h = hi[a]!;
    let b = a + 1,
      rising = true;
    for (; b < m && hi[b] === h; b++) if (lo[b]! < lo[b - 1]!) rising = false;
    if (!rising) orderRunByLow(order, lo, a, b);
    a = b;
  }
}

/** Runs up to this long are ordered by insertion; longer ones (many keys within a millionth) by a comparator sort. */
const INSERTION_RUN = 32;

/** order[a..b) and lo[a..b) together, stably by lo (the run's positions are in ascending order: ties keep it). */
function orderRunByLow(order: Int32Array, lo: Uint32Array, a: number, b: number): void {
  if (b - a <= INSERTION_RUN) {
    for (let p = a + 1; p < b; p++) {
      const l = lo[p]!,
        o = order[p]!;
      let q = p - 1;
      for (; q >= a && lo[q]! > l; q--) {
        lo[q + 1] = lo[q]!;
        order[q + 1] = order[q]!;
      }
      lo[q + 1] = l;
      order[q + 1] = o;
    }
    return;
  }
  const run = Array.from({ length: b - a }, (_, k) => a + k).sort((x, y) => lo[x]! - lo[y]! || order[x]! - order[y]!);
  const runLo = run.map((x) => lo[x]!),
    runOrder = run.map((x) => order[x]!);
  lo.set(runLo, a);
  order.set(runOrder, a);
}

/**
 * `list` ordered by loss, highest first, then by id; a NaN loss (a value the rule
 * pack cannot compute) goes last. A comparator sort over millions of subscribers
 * spends its time in comparator calls and in scattered reads of `loss`: instead the
 * losses are gathered once and radix-sorted with their positions; only runs of equal
 * losses are then sorted by id.
 */
export function byLossThenId(list: readonly number[], loss: Float64Array, ids: TextColumn): number[] {
  const order = rankOrder(list, loss, ids);
  const out: number[] = [];
  for (let p = 0; p < order.length; p++) out.push(list[order[p]!]!);
  return out;
}

/** byLossThenId as positions in `list`: list[order[0]] first (a caller with columns by position reads them in order). */
export function rankOrder(list: ArrayLike<number>, loss: Float64Array, ids: TextColumn): Int32Array {
  const m = list.length;
  const keys = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const v = loss[list[k]!]!;
    keys[k] = v === v ? -v + 0 : Infinity; // ascending order of -loss; +0 folds -0 into 0; NaN last
  }
  const order = radixOrder(keys);
  // A run of one loss is in list order (the radix sort is stable): already in id order when the list rises and
  // subscribers are numbered in id order (the extract sorted by id), which one read of the ids in order tells.
  // Else each run is checked (neighbours compared; scattered reads, a cache miss each) and sorted where needed.
  if (m >= ids.length >>> 3 && rises(list) && idsAscending(ids)) return order;
  const sorted = new Float64Array(m);
  for (let p = 0; p < m; p++) sorted[p] = keys[order[p]!]!;
  for (let a = 0; a < m; ) {
    let b = a + 1;
    while (b < m && sorted[b] === sorted[a]) b++;
    if (b - a > 1 && !inIdOrder(list, order, a, b, ids)) {
      const run = Array.from(order.subarray(a, b)).sort((x, y) => ids.compare(list[x]!, list[y]!));
      order.set(run, a);
    }
    a = b;
  }
  return order;
}

/**
 * Whether list[order[a..b)] is already in id order. Subscribers are usually numbered
 * in id order (the extract sorted by id), and the stable radix sort keeps a run of
 * equal losses in list order: then one comparison per neighbour replaces a
 * comparator sort.
 */
function inIdOrder(list: ArrayLike<number>, order: Int32Array, a: number, b: number, ids: TextColumn): boolean {
  for (let k = a + 1; k < b; k++) if (ids.compare(list[order[k - 1]!]!, list[order[k]!]!) > 0) return false;
  return true;
}

function rises(list: ArrayLike<number>): boolean {
  for (let k = 1; k < list.length; k++) if (list[k - 1]! >= list[k]!) return false;
  return true;
}

const ascending = new WeakMap<TextColumn, boolean>();

/** Whether every id is below the next (no two equal): then subscriber order is id order. Read once per column. */
function idsAscending(ids: TextColumn): boolean {
  let known = ascending.get(ids);
  if (known === undefined) {
    known = risingBytes(ids);
    ascending.set(ids, known);
  }
  return known;
}

/**
 * Whether each value's bytes are below the next value's (TextColumn.compare(i - 1, i) < 0 for every i),
 * four bytes at a time: read big-endian, a word orders as its first differing byte does. Ids of one
 * extract share their heads, so a byte at a time walked the whole head of each of a million ids.
 */
function risingBytes(ids: TextColumn): boolean {
  const b = ids.bytes,
    o = ids.offsets;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  next: for (let i = 1; i < ids.length; i++) {
    const p = o[i - 1]!,
      q = o[i]!,
      pLength = q - p,
      qLength = o[i + 1]! - q,
      length = Math.min(pLength, qLength);
    let k = 0;
    for (; k + 4 <= length; k += 4) {
      const x = view.getUint32(p + k),
        y = view.getUint32(q + k);
      if (x !== y) {
        if (x > y) return false;
        continue next;
      }
    }
    for (; k < length; k++) {
      const x = b[p + k]!,
        y = b[q + k]!;
      if (x !== y) {
        if (x > y) return false;
        continue next;
      }
    }
    if (pLength >= qLength) return false;
  }
  return true;
}
