/**
 * The rules stage's passes over all subscribers that need no rule code: a scorecard
 * measure's steps found from its values (stepBins; a step's flags are read off them by
 * binFlag where asked for), and a logistic pack's logit summed with its named terms (logitRows). They
 * read and write typed arrays only, so the rules thread (rules-worker.ts) runs them
 * too, on arrays in shared memory, with this same code: which thread ran a pass never
 * changes a bit of what it wrote. This module imports nothing heavy: the thread loads it alone.
 */
import { COMPARE_TOLERANCE } from '../rules/compile.js';
import { sharedUint8 } from '../util/worker.js';
import { BLOCK } from './hit-bits.js';

/** One step's flags by its own comparisons (0/1 numbers, and-ed: no branch per cell). */
export function stepFlag(lo: number | null, hi: number | null, x: Float64Array, excluded: Uint8Array): Uint8Array {
  const E = COMPARE_TOLERANCE,
    n = x.length;
  const f = sharedUint8(n);
  if (lo === null) for (let i = 0; i < n; i++) f[i] = +(x[i]! - hi! < -E) & (excluded[i]! ^ 1);
  else if (hi === null) for (let i = 0; i < n; i++) f[i] = +(lo - x[i]! <= E) & (excluded[i]! ^ 1);
  else for (let i = 0; i < n; i++) f[i] = +(lo - x[i]! <= E) & +(x[i]! - hi < -E) & (excluded[i]! ^ 1);
  return f;
}

/** A measure's bounds sorted without repeats, and the step (k + 1 for bounds[k], 0 none) of each count of bounds passed. */
export interface StepTable {
  sorted: number[];
  stepOf: Uint8Array;
}

/**
 * stepBins' table, or null when the steps are not in order without overlap (then the
 * caller compares per step). Both comparisons are of one kind, b − x <= E: `x − below <
 * −E` is its negation (fl(x − b) = −fl(b − x), false on NaN either way), and fl(b − x)
 * only grows with b, so the bounds a value passes are the lowest ones of the sorted
 * list, and their count c says the step: bounds[k] holds exactly when its from is among
 * the first c and its below is not. Steps in order with from >= the last below hold for
 * disjoint ranges of c; a NaN passes no bound and is in no step (the test x === x).
 */
export function stepTable(bounds: readonly { lo: number | null; hi: number | null }[]): StepTable | null {
  if (bounds.length > 254) return null;
  const sorted = [...new Set(bounds.flatMap(({ lo, hi }) => [lo, hi]).filter((b): b is number => b !== null))].sort((a, b) => a - b);
  const stepOf = new Uint8Array(sorted.length + 1);
  for (let k = 0; k < bounds.length; k++) {
    const { lo, hi } = bounds[k]!;
    const from = lo === null ? 0 : sorted.indexOf(lo) + 1,
      to = hi === null ? sorted.length : sorted.indexOf(hi);
    for (let c = from; c <= to; c++) {
      if (stepOf[c] !== 0) return null;
      stepOf[c] = k + 1;
    }
  }
  return { sorted, stepOf };
}

/** Each subscriber's step (k + 1 for bounds[k], 0 for none or excluded), or null as stepTable says. */
export function stepBins(
  bounds: readonly { lo: number | null; hi: number | null }[],
  x: Float64Array,
  excluded: Uint8Array,
): Uint8Array | null {
  const table = stepTable(bounds);
  if (table === null) return null;
  const bin = new Uint8Array(x.length);
  binsInto(table, x, excluded, bin);
  return bin;
}

/** stepBins' bins into `bin` (as long as x). */
function binsInto({ sorted, stepOf }: StepTable, x: Float64Array, excluded: Uint8Array, bin: Uint8Array): void {
  if (sorted.length <= UNROLLED_BOUNDS) binsUnrolled(sorted, stepOf, x, excluded, bin);
  else binsByLoop(Float64Array.from(sorted), stepOf, x, excluded, bin);
}

/** Up to this many bounds, stepBins compares each value with every one in straight-line code. */
const UNROLLED_BOUNDS = 8;

/**
 * stepBins' count with up to UNROLLED_BOUNDS bounds in locals, the missing ones +Infinity:
 * Infinity − v is Infinity or NaN, never <= E, so they add nothing. A loop over the
 * bounds per subscriber took five times as long as the comparisons themselves.
 */
function binsUnrolled(sorted: readonly number[], stepOf: Uint8Array, x: Float64Array, excluded: Uint8Array, bin: Uint8Array): void {
  const E = COMPARE_TOLERANCE,
    n = x.length;
  const [b0 = Infinity, b1 = Infinity, b2 = Infinity, b3 = Infinity, b4 = Infinity, b5 = Infinity, b6 = Infinity, b7 = Infinity] = sorted;
  const at = new Uint8Array(UNROLLED_BOUNDS + 1);
  at.set(stepOf);
  if (sorted.length <= 4)
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const c = +(b0 - v <= E) + +(b1 - v <= E) + +(b2 - v <= E) + +(b3 - v <= E);
      bin[i] = at[c]! * (+(v === v) & (excluded[i]! ^ 1));
    }
  else
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const c =
        +(b0 - v <= E) +
        +(b1 - v <= E) +
        +(b2 - v <= E) +
        +(b3 - v <= E) +
        +(b4 - v <= E) +
        +(b5 - v <= E) +
        +(b6 - v <= E) +
        +(b7 - v <= E);
      bin[i] = at[c]! * (+(v === v) & (excluded[i]! ^ 1));
    }
}

/** stepBins' count over any number of sorted bounds. */
function binsByLoop(B: Float64Array, stepOf: Uint8Array, x: Float64Array, excluded: Uint8Array, bin: Uint8Array): void {
  const E = COMPARE_TOLERANCE,
    n = x.length,
    nb = B.length;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    let c = 0;
    for (let k = 0; k < nb; k++) c += +(B[k]! - v <= E);
    bin[i] = stepOf[c]! * (+(v === v) & (excluded[i]! ^ 1));
  }
}

/**
 * The 0/1 bytes bin[i] === k, four at a time where the columns are aligned: a byte of
 * bin ^ k is 0 exactly where it held k, and ((t & 0x7f) + 0x7f | t) sets a byte's high
 * bit exactly where the byte is not 0, carrying into no other byte. The words are summed
 * as they are written, for the count of ones (127 words of 0/1 bytes a sum: no byte
 * carries into the next, nor the sum past 2^31), where a pass per measure over its bins
 * counted them. Writes them into f (as long as bin, both at a multiple of four bytes);
 * returns the count.
 */
export function binFlag(bin: Uint8Array, k: number, f: Uint8Array): number {
  const n = bin.length;
  const words = n >>> 2,
    pattern = Math.imul(k, 0x01010101);
  let count = 0;
  // The bytes past the last whole word first: run before the words, this loop's types are known when the engine
  // optimises the word loop, where after it they were not and the optimised code left it on every call.
  for (let i = words << 2; i < n; i++) count += f[i] = +(bin[i] === k);
  const bw = new Uint32Array(bin.buffer, bin.byteOffset, words),
    fw = new Uint32Array(f.buffer, f.byteOffset, words);
  for (let from = 0; from < words; from += 127) {
    const to = Math.min(words, from + 127);
    let lanes = 0;
    for (let w = from; w < to; w++) {
      const t = bw[w]! ^ pattern;
      const ones = (~(((t & 0x7f7f7f7f) + 0x7f7f7f7f) | t) & 0x80808080) >>> 7;
      fw[w] = ones;
      lanes += ones;
    }
    count += (lanes & 0xff) + ((lanes >>> 8) & 0xff) + ((lanes >>> 16) & 0xff) + (lanes >>> 24);
  }
  // A number, not an object: code after the loop that the first call's optimised code has no feedback for left
  // that code on most calls (--trace-deopt: 41 of 80 calls left it where it made an object).
  return count;
}

/**
 * A measure's steps from its values x: each subscriber's bin and the hits per bin. The
 * steps' own 0/1 columns are not made here: read off the bins where something asks for
 * them (step-columns.ts), they were a byte per subscriber and step, most of a scorecard's
 * memory (0.9 GB at 10M subscribers).
 */
export interface StepsWork {
  table: StepTable;
  x: Float64Array;
  excluded: Uint8Array;
  bin: Uint8Array;
  /** hits[k + 1]: the subscribers in bin k + 1 (step k's hits); hits[0] those in no step. */
  hits: Int32Array;
}

export function binSteps(w: StepsWork): void {
  binsInto(w.table, w.x, w.excluded, w.bin);
  binCounts(w.bin, w.hits);
}

/**
 * counts[b] = the cells of bin equal to b (b < counts.length). Four counters a value,
 * one per lane: a run of equal bins then increments four slots in turn, not one slot
 * whose store each next increment waits for.
 */
export function binCounts(bin: Uint8Array, counts: Int32Array): void {
  const size = counts.length,
    lanes = new Int32Array(4 * 256),
    n = bin.length,
    whole = n & ~3;
  for (let i = 0; i < whole; i += 4) {
    lanes[bin[i]! << 2]++;
    lanes[(bin[i + 1]! << 2) | 1]++;
    lanes[(bin[i + 2]! << 2) | 2]++;
    lanes[(bin[i + 3]! << 2) | 3]++;
  }
  for (let i = whole; i < n; i++) lanes[bin[i]! << 2]++;
  for (let b = 0; b < size; b++) counts[b] = lanes[b << 2]! + lanes[(b << 2) | 1]! + lanes[(b << 2) | 2]! + lanes[(b << 2) | 3]!;
}

/** How many terms a logistic task names: enough to say why, short enough for an agent's screen. */
export const NAMED_TERMS = 3;

/**
 * A logit's terms in rule order, each a column of small numbers read through a table at
 * offsets[t] + cell: a measure's bin (0 no step, k its steps[k - 1]), or a plain rule's
 * 0/1 flag as a measure of one step. Per entry the step's points, up (0/1: points > 0)
 * and its place's bit in the low or high word of the named places; all 0 at cell 0, so
 * a step not hit adds +0 (which changes no sum but a zero's sign, which σ does not see).
 * Padded to whole fours with terms of the zeros at offset 0.
 */
export interface TermTables {
  cells: Uint8Array[];
  offsets: Int32Array;
  low: Int32Array;
  high: Int32Array;
  points: Float64Array;
  up: Uint8Array;
}

/** Where logitRows names each subscriber's terms: the rules by place (`order`), their bits `words` words a subscriber. */
export interface Naming {
  order: Int32Array;
  bits: Int32Array;
  words: number;
}

/**
 * The logit sums of subscribers [from, to) into logit and raised (and with `naming`
 * their named terms' bits), a block of subscribers at a time, every term over the block
 * before the next (its sums stay in cache), four terms a pass added left to right: each
 * sum adds its terms in rule order, the score's doubles bit for bit. A subscriber's
 * sums read its own cells only, so any cut of the subscribers into ranges gives the same bits.
 */
export function logitRows(
  t: TermTables,
  intercept: number,
  from: number,
  to: number,
  logit: Float64Array,
  raised: Uint8Array,
  naming: Naming | null,
): void {
  const lows = new Int32Array(BLOCK),
    highs = new Int32Array(BLOCK),
    sums = new Float64Array(BLOCK),
    counts = new Uint8Array(BLOCK);
  for (let b = from; b < to; b += BLOCK) {
    const e = Math.min(to, b + BLOCK);
    lows.fill(0);
    highs.fill(0);
    sums.fill(intercept);
    counts.fill(0);
    for (let m = 0; m < t.cells.length; m += 4) addFourTerms(t, m, b, e, sums, counts, lows, highs);
    logit.set(sums.subarray(0, e - b), b);
    raised.set(counts.subarray(0, e - b), b);
    if (naming !== null) nameBlock(naming.order, naming.bits, naming.words, b, e, lows, highs);
  }
}

/**
 * Adds terms m..m + 3 over subscribers [b, e), left to right. Its own function, small: the
 * engine optimises it within the first block, where a long function with it inside ran
 * slow code for tens of milliseconds while its optimised code was being compiled.
 */
function addFourTerms(
  t: TermTables,
  m: number,
  b: number,
  e: number,
  sums: Float64Array,
  counts: Uint8Array,
  lows: Int32Array,
  highs: Int32Array,
): void {
  const { cells, offsets, low, high, points, up } = t;
  const c0 = cells[m]!,
    c1 = cells[m + 1]!,
    c2 = cells[m + 2]!,
    c3 = cells[m + 3]!;
  const o0 = offsets[m]!,
    o1 = offsets[m + 1]!,
    o2 = offsets[m + 2]!,
    o3 = offsets[m + 3]!;
  for (let i = b, k = 0; i < e; i++, k++) {
    const a0 = o0 + c0[i]!,
      a1 = o1 + c1[i]!,
      a2 = o2 + c2[i]!,
      a3 = o3 + c3[i]!;
    sums[k] = sums[k]! + points[a0]! + points[a1]! + points[a2]! + points[a3]!;
    counts[k] += up[a0]! + up[a1]! + up[a2]! + up[a3]!;
    lows[k]! |= low[a0]! | low[a1]! | low[a2]! | low[a3]!;
    highs[k]! |= high[a0]! | high[a1]! | high[a2]! | high[a3]!;
  }
}

/** Names each subscriber of [b, e) by its lowest places' bits (lows, then highs), NAMED_TERMS at the most. */
function nameBlock(order: Int32Array, bits: Int32Array, words: number, b: number, e: number, lows: Int32Array, highs: Int32Array): void {
  for (let i = b, k = 0; i < e; i++, k++) {
    let left = NAMED_TERMS,
      w = lows[k]!,
      base = 0;
    for (; left > 0; left--, w &= w - 1) {
      if (w === 0) {
        if (base === 32) break;
        base = 32;
        w = highs[k]!;
        if (w === 0) break;
      }
      const j = order[base + 31 - Math.clz32(w & -w)]!;
      bits[i * words + (j >>> 5)]! |= 1 << (j & 31);
    }
  }
}
