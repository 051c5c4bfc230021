/**
 * Runs the compiled rule pack over the feature columns: one 0/1 array per enabled
 * rule, with excluded subscribers (closed, by default) never flagged.
 */
import { stepNumber, type RuleDef, type RulePack } from '../config/rulepack.js';
import { COMPARE_TOLERANCE } from '../rules/compile.js';
import type { FeatureTable } from '../features/features.js';
import type { CompiledCondition, FeatureColumn } from '../rules/compile.js';
import { sharedFloat64, sharedUint8 } from '../util/worker.js';
import { BLOCK, HitBits, wordsFor } from './hit-bits.js';

export interface Evaluation {
  /** The enabled rules, in pack order: flags[j] and ruleIds[j] belong to rules[j]. */
  rules: readonly RuleDef[];
  ruleIds: string[];
  flags: Uint8Array[];
  /**
   * Per rule, the subscribers whose task names it (reason codes, reason text, action):
   * the flags themselves, or in a logistic pack only the NAMED_TERMS rules with the
   * most positive points each subscriber hits. A scorecard's steps touch nearly everyone,
   * and a task listing twenty terms (one distinct set per subscriber) helps no agent.
   * Absent: the flags (namedFlags).
   */
  named?: Uint8Array[];
  excluded: Uint8Array;
  value: Float64Array;
  /**
   * The scorecard measures whose steps are flag columns side by side, each with the one
   * step every subscriber is in (a measure's steps are disjoint): the score reads a step's
   * points from it instead of a column per step. Absent or empty: read the flags.
   */
  bins?: StepBins[];
  /** A logistic pack's logit, summed with its named terms (namedByBins); absent: the score sums it. */
  logit?: LogitSums;
}

/** A measure's steps as flags[first], flags[first + 1], ... (`steps` of them), and each subscriber's step among them. */
export interface StepBins {
  first: number;
  steps: number;
  /** k + 1 where flags[first + k] is set; 0 where none of them is. */
  bin: Uint8Array;
  /** Subscribers per bin: hits[k + 1] is flags[first + k]'s count of hits (summary.json's hits_per_rule). */
  hits: Int32Array;
}

export function columnsFor(table: FeatureTable, keys: string[]): FeatureColumn[] {
  return keys.map((k) => {
    const c = table.columns.get(k);
    if (!c) throw new Error(`internal: feature ${k} was not computed`);
    return c;
  });
}

function runCondition(c: CompiledCondition, table: FeatureTable, D: number): Uint8Array {
  const out = sharedUint8(table.n);
  c.run(columnsFor(table, c.columns), table.n, D, out);
  return out;
}

export function evaluate(pack: RulePack, table: FeatureTable, D: number): Evaluation {
  const n = table.n;
  const excluded = runCondition(pack.exclude.compiled, table, D);
  // Flags and value in shared memory: the score-files worker reads them without a copy.
  const value = sharedFloat64(n);
  pack.value.compiled.run(columnsFor(table, pack.value.compiled.columns), n, D, value);
  const enabled = pack.rules.filter((r) => r.enabled);
  const { flags: steps, binned } = stepFlags(pack, table, D, excluded, new Set(enabled.map((r) => r.id)));
  // The excluded are few (the closed): listed once, each rule's flags cleared at them only, not a pass over all.
  const out = excludedList(excluded);
  const flags = enabled.map((r) => {
    const step = steps.get(r.id);
    if (step !== undefined) return step; // excluded subscribers already left out
    const f = runCondition(r.compiled, table, D);
    for (let k = 0; k < out.length; k++) f[out[k]!] = 0;
    return f;
  });
  const ruleIds = enabled.map((r) => r.id);
  const bins = binned.flatMap(({ rules, bin, hits }) => {
    const first = ruleIds.indexOf(rules[0]!);
    // Side by side as the pack lists them; otherwise the score reads the flags.
    return rules.every((id, k) => ruleIds[first + k] === id) ? [{ first, steps: rules.length, bin, hits }] : [];
  });
  if (pack.score !== 'logistic') return { rules: enabled, ruleIds, flags, named: flags, excluded, value, bins };
  const { named, sums } = namedAndLogit(enabled, flags, n, bins, pack.intercept);
  return { rules: enabled, ruleIds, flags, named, excluded, value, bins, ...(sums !== null && { logit: sums }) };
}

/** The subscribers whose excluded flag is set, in order. */
function excludedList(excluded: Uint8Array): Int32Array {
  let count = 0;
  for (let i = 0; i < excluded.length; i++) count += excluded[i]!;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; k < count; i++) if (excluded[i]) out[k++] = i;
  return out;
}

/**
 * The flags of a scorecard's enabled steps, each measure computed once for all its
 * steps (a step's own condition would compute it again per step), the excluded left
 * out. The bounds go through the text the step's condition was written with, and the
 * comparisons are compile.ts's with its tolerance: `from <= x` as from − x <= E,
 * `x < below` as x − below < −E, so the flags are the conditions' own (the SQL
 * differential test checks both). Each subscriber's step is found in one pass per
 * measure (stepBins), then each step's flags are read off it four subscribers at a
 * time; a pass per step over the measure compared every value twice per step.
 */
function stepFlags(
  pack: RulePack,
  table: FeatureTable,
  D: number,
  excluded: Uint8Array,
  enabled: Set<string>,
): { flags: Map<string, Uint8Array>; binned: ({ rules: string[] } & Pick<StepBins, 'bin' | 'hits'>)[] } {
  const flags = new Map<string, Uint8Array>();
  const binned: ({ rules: string[] } & Pick<StepBins, 'bin' | 'hits'>)[] = [];
  const n = table.n;
  // One measure's values at a time, each written whole over the last: a new array per measure was 8 bytes a
  // subscriber each for the collector.
  let values: Float64Array | null = null;
  for (const m of pack.scorecard) {
    // "given" (no bounds) keeps its condition, x == x; a disabled step is not computed.
    const steps = m.steps.filter((st) => (st.from !== null || st.below !== null) && enabled.has(st.rule));
    if (steps.length === 0) continue;
    const x = (values ??= new Float64Array(n));
    m.compiled.run(columnsFor(table, m.compiled.columns), n, D, x);
    const bounds = steps.map((st) => ({
      lo: st.from === null ? null : Number(stepNumber(st.from)),
      hi: st.below === null ? null : Number(stepNumber(st.below)),
    }));
    const found = stepBins(bounds, x, excluded);
    if (found === null) {
      bounds.forEach(({ lo, hi }, k) => {
        flags.set(steps[k]!.rule, stepFlag(lo, hi, x, excluded));
      });
      continue;
    }
    // In shared memory as every rule's flags: the score-files worker reads them where they are (a scorecard's
    // steps are most of its columns, and each was copied for the worker at the end of the score stage).
    const hits = new Int32Array(steps.length + 1);
    hits[0] = n;
    steps.forEach((st, k) => {
      const flag = sharedUint8(n),
        count = binFlag(found, k + 1, flag);
      flags.set(st.rule, flag);
      hits[k + 1] = count;
      hits[0] -= count;
    });
    binned.push({ rules: steps.map((st) => st.rule), bin: found, hits });
  }
  return { flags, binned };
}

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

/**
 * Each subscriber's step (k + 1 for bounds[k], 0 for none or excluded), or null when
 * the steps are not in order without overlap (then the caller compares per step).
 * Both comparisons are of one kind, b − x <= E: `x − below < −E` is its negation
 * (fl(x − b) = −fl(b − x), false on NaN either way), and fl(b − x) only grows with b,
 * so the bounds a value passes are the lowest ones of the sorted list, and their
 * count c says the step: bounds[k] holds exactly when its from is among the first c
 * and its below is not. Steps in order with from >= the last below hold for disjoint
 * ranges of c; a NaN passes no bound and is in no step (the test x === x).
 */
export function stepBins(
  bounds: readonly { lo: number | null; hi: number | null }[],
  x: Float64Array,
  excluded: Uint8Array,
): Uint8Array | null {
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
  const bin = new Uint8Array(x.length);
  if (sorted.length <= UNROLLED_BOUNDS) binsUnrolled(sorted, stepOf, x, excluded, bin);
  else binsByLoop(Float64Array.from(sorted), stepOf, x, excluded, bin);
  return bin;
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
 * counted them. Writes them into f (as long as bin); returns the count.
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

/** The flags of the rules a task names (Evaluation.named). */
export function namedFlags(ev: Pick<Evaluation, 'flags' | 'named'>): readonly Uint8Array[] {
  return ev.named ?? ev.flags;
}

/** How many terms a logistic task names: enough to say why, short enough for an agent's screen. */
export const NAMED_TERMS = 3;

/**
 * A logistic pack's logit before σ: intercept + the points of every rule hit, added in
 * rule order (the score's own sum, bit for bit), and raised, the rules with positive
 * points hit. Summed where the named terms are picked: both read every measure's bin.
 */
export interface LogitSums {
  intercept: number;
  logit: Float64Array;
  raised: Uint8Array;
}

/**
 * Each subscriber's NAMED_TERMS hit rules with the most positive points (equals in pack order). With the steps of
 * scorecard measures as bins (Evaluation.bins), namedByBins picks the same terms.
 */
export function namedTerms(
  rules: readonly RuleDef[],
  flags: readonly Uint8Array[],
  n: number,
  bins: readonly StepBins[] = [],
): Uint8Array[] {
  return namedAndLogit(rules, flags, n, bins, 0).named;
}

/** namedTerms, and with the measures' bins (namedByBins) the logit sums from `intercept` too. */
export function namedAndLogit(
  rules: readonly RuleDef[],
  flags: readonly Uint8Array[],
  n: number,
  bins: readonly StepBins[],
  intercept: number,
): { named: Uint8Array[]; sums: LogitSums | null } {
  const order = rules
    .map((_, j) => j)
    .filter((j) => rules[j]!.weight > 0)
    .sort((a, b) => rules[b]!.weight - rules[a]!.weight || a - b);
  // The named terms as hit bits (a few per subscriber), the columns made from them when read: the task stage reads
  // the bits, and making them from 50-odd sparse columns afterwards took longer than this whole loop.
  const words = wordsFor(flags.length),
    bits = new Int32Array(n * words);
  let sums: LogitSums | null = null;
  if (bins.length > 0 && order.length <= 64) sums = namedByBins(rules, order, flags, bins, n, bits, intercept);
  else {
    // A block of subscribers through every rule before the next block (each subscriber still takes its rules in order).
    const count = new Uint8Array(BLOCK);
    for (let b = 0; b < n; b += BLOCK) {
      const e = Math.min(n, b + BLOCK);
      count.fill(0);
      for (const j of order) {
        const f = flags[j]!,
          word = j >>> 5,
          bit = 1 << (j & 31);
        for (let i = b; i < e; i++)
          if (f[i] && count[i - b]! < NAMED_TERMS) {
            count[i - b]++;
            bits[i * words + word]! |= bit;
          }
      }
    }
  }
  const named = namedColumns(flags.length, order, bits, n);
  HitBits.adopt(named, bits);
  return { named, sums };
}

/**
 * The named columns over their hit bits: every stage after the score reads the bits
 * (HitBits.of, adopted with them), so a rule's column is made from them only the first
 * time it is read (a test, an analyst's tool). Written out, the columns were ~50 MB of
 * fresh pages a night with a scorecard, for nothing. A rule that names nothing reads
 * one column of zeros.
 */
function namedColumns(count: number, named: readonly number[], bits: Int32Array, n: number): Uint8Array[] {
  const words = wordsFor(count);
  const out = new Array<Uint8Array>(count).fill(new Uint8Array(n));
  for (const j of named) {
    let column: Uint8Array | undefined;
    Object.defineProperty(out, j, {
      enumerable: true,
      get: () => {
        if (column === undefined) {
          column = new Uint8Array(n);
          const word = j >>> 5,
            shift = j & 31;
          for (let i = 0; i < n; i++) column[i] = (bits[i * words + word]! >>> shift) & 1;
        }
        return column;
      },
    });
  }
  return out;
}

/**
 * namedTerms' choice as each subscriber's NAMED_TERMS lowest places in `order` among the
 * rules it hits, taken from a bit per place: a measure's steps set their place's bit by
 * a lookup of its bin, so a scorecard takes a pass per measure instead of one per step,
 * and no pass branches per hit (a scorecard's steps hit at random, and a branch per
 * cell mispredicts). Up to 64 places (two words); namedTerms takes more itself. The
 * same pass sums the logit (sumLogit): the bits come from the tables that hold the points.
 */
function namedByBins(
  rules: readonly RuleDef[],
  order: readonly number[],
  flags: readonly Uint8Array[],
  bins: readonly StepBins[],
  n: number,
  bits: Int32Array,
  intercept: number,
): LogitSums {
  const words = wordsFor(flags.length);
  const placeOf = new Int32Array(flags.length).fill(-1);
  order.forEach((j, place) => {
    placeOf[j] = place;
  });
  return sumLogit(termTables(rules, flags, bins, placeOf), n, intercept, (b, e, lows, highs) =>
    nameBlock(order, bits, words, b, e, lows, highs),
  );
}

/** Names each subscriber of [b, e) by its lowest places' bits (lows, then highs), NAMED_TERMS at the most. */
function nameBlock(
  order: readonly number[],
  bits: Int32Array,
  words: number,
  b: number,
  e: number,
  lows: Int32Array,
  highs: Int32Array,
): void {
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

/** A logistic pack's logit sums over the flags, measures read by their bins: the score's sum when the evaluation made none. */
export function logitSums(
  rules: readonly RuleDef[],
  flags: readonly Uint8Array[],
  bins: readonly StepBins[],
  n: number,
  intercept: number,
): LogitSums {
  return sumLogit(termTables(rules, flags, bins, new Int32Array(rules.length).fill(-1)), n, intercept);
}

/**
 * A logit's terms in rule order, each a column of small numbers read through a table at
 * offsets[t] + cell: a measure's bin (0 no step, k its steps[k - 1]), or a plain rule's
 * 0/1 flag as a measure of one step. Per entry the step's points, up (0/1: points > 0)
 * and its place's bit in the low or high word of the named places; all 0 at cell 0, so
 * a step not hit adds +0 (which changes no sum but a zero's sign, which σ does not see).
 * Padded to whole fours with terms of the zeros at offset 0.
 */
interface TermTables {
  cells: Uint8Array[];
  offsets: Int32Array;
  low: Int32Array;
  high: Int32Array;
  points: Float64Array;
  up: Uint8Array;
}

function termTables(rules: readonly RuleDef[], flags: readonly Uint8Array[], bins: readonly StepBins[], placeOf: Int32Array): TermTables {
  const cells: Uint8Array[] = [],
    offsets: number[] = [];
  // 256 zeros first: any cell of a padding term reads 0s.
  const steps: number[] = new Array(256).fill(-1);
  const byFirst = new Map(bins.map((m) => [m.first, m]));
  for (let j = 0; j < rules.length; ) {
    const m = byFirst.get(j);
    const count = m === undefined ? 1 : m.steps;
    cells.push(m === undefined ? flags[j]! : m.bin);
    offsets.push(steps.length);
    steps.push(-1);
    for (let k = 0; k < count; k++) steps.push(j + k);
    j += count;
  }
  while (cells.length % 4 !== 0) {
    cells.push(cells[0]!);
    offsets.push(0);
  }
  const size = steps.length,
    low = new Int32Array(size),
    high = new Int32Array(size),
    points = new Float64Array(size),
    up = new Uint8Array(size);
  steps.forEach((j, at) => {
    if (j < 0) return;
    const place = placeOf[j]!;
    if (place >= 0) (place < 32 ? low : high)[at] = 1 << (place & 31);
    points[at] = rules[j]!.weight;
    up[at] = +(rules[j]!.weight > 0);
  });
  return { cells, offsets: Int32Array.from(offsets), low, high, points, up };
}

/**
 * The logit sums a block of subscribers at a time, every term over the block before the
 * next (its sums stay in cache), four terms a pass added left to right: each sum adds
 * its terms in rule order, the score's doubles bit for bit. `named` gets each block's
 * place bits.
 */
function sumLogit(
  t: TermTables,
  n: number,
  intercept: number,
  named?: (b: number, e: number, lows: Int32Array, highs: Int32Array) => void,
): LogitSums {
  const logit = new Float64Array(n),
    raised = new Uint8Array(n);
  const lows = new Int32Array(BLOCK),
    highs = new Int32Array(BLOCK),
    sums = new Float64Array(BLOCK),
    counts = new Uint8Array(BLOCK);
  for (let b = 0; b < n; b += BLOCK) {
    const e = Math.min(n, b + BLOCK);
    lows.fill(0);
    highs.fill(0);
    sums.fill(intercept);
    counts.fill(0);
    for (let m = 0; m < t.cells.length; m += 4) addFourTerms(t, m, b, e, sums, counts, lows, highs);
    logit.set(sums.subarray(0, e - b), b);
    raised.set(counts.subarray(0, e - b), b);
    named?.(b, e, lows, highs);
  }
  return { intercept, logit, raised };
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
