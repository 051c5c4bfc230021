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
  const named = pack.score === 'logistic' ? namedTerms(enabled, flags, n, bins) : flags;
  return { rules: enabled, ruleIds, flags, named, excluded, value, bins };
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
): { flags: Map<string, Uint8Array>; binned: ({ rules: string[] } & StepBin)[] } {
  const flags = new Map<string, Uint8Array>();
  const binned: ({ rules: string[] } & StepBin)[] = [];
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
    steps.forEach((st, k) => {
      flags.set(st.rule, binFlag(found.bin, k + 1));
    });
    binned.push({ rules: steps.map((st) => st.rule), ...found });
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
 * Each subscriber's step (k + 1 for bounds[k], 0 for none or excluded) and the count of
 * each, or null when the steps are not in order without overlap (then the caller
 * compares per step).
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
): StepBin | null {
  const E = COMPARE_TOLERANCE,
    n = x.length;
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
  const B = Float64Array.from(sorted),
    nb = B.length;
  const bin = new Uint8Array(n),
    hits = new Int32Array(bounds.length + 1);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    let c = 0;
    for (let k = 0; k < nb; k++) c += +(B[k]! - v <= E);
    const at = stepOf[c]! * (+(v === v) & (excluded[i]! ^ 1));
    bin[i] = at;
    hits[at]!++;
  }
  return { bin, hits };
}

/** Each subscriber's step among a measure's (0: none), and the subscribers in each. */
type StepBin = Pick<StepBins, 'bin' | 'hits'>;

/**
 * The 0/1 bytes bin[i] === k, four at a time where the columns are aligned: a byte of
 * bin ^ k is 0 exactly where it held k, and ((t & 0x7f) + 0x7f | t) sets a byte's high
 * bit exactly where the byte is not 0, carrying into no other byte.
 */
export function binFlag(bin: Uint8Array, k: number): Uint8Array {
  const n = bin.length;
  const f = sharedUint8(n);
  const words = n >>> 2,
    pattern = Math.imul(k, 0x01010101);
  const bw = new Uint32Array(bin.buffer, bin.byteOffset, words),
    fw = new Uint32Array(f.buffer, f.byteOffset, words);
  for (let w = 0; w < words; w++) {
    const t = bw[w]! ^ pattern;
    fw[w] = (~(((t & 0x7f7f7f7f) + 0x7f7f7f7f) | t) & 0x80808080) >>> 7;
  }
  for (let i = words << 2; i < n; i++) f[i] = +(bin[i] === k);
  return f;
}

/** The flags of the rules a task names (Evaluation.named). */
export function namedFlags(ev: Pick<Evaluation, 'flags' | 'named'>): readonly Uint8Array[] {
  return ev.named ?? ev.flags;
}

/** How many terms a logistic task names: enough to say why, short enough for an agent's screen. */
export const NAMED_TERMS = 3;

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
  const none = new Uint8Array(n);
  const out = flags.map(() => none);
  const order = rules
    .map((_, j) => j)
    .filter((j) => rules[j]!.weight > 0)
    .sort((a, b) => rules[b]!.weight - rules[a]!.weight || a - b);
  for (const j of order) out[j] = new Uint8Array(n);
  // The named terms' hit bits too, set with the flags (a few per subscriber): the task stage reads them, and
  // making them from 50-odd sparse columns afterwards took longer than this whole loop.
  const words = wordsFor(flags.length),
    bits = new Int32Array(n * words);
  if (bins.length > 0 && order.length <= 64) namedByBins(order, flags, bins, n, out, bits);
  else {
    // A block of subscribers through every rule before the next block (each subscriber still takes its rules in order).
    const count = new Uint8Array(BLOCK);
    for (let b = 0; b < n; b += BLOCK) {
      const e = Math.min(n, b + BLOCK);
      count.fill(0);
      for (const j of order) {
        const f = flags[j]!,
          mine = out[j]!,
          word = j >>> 5,
          bit = 1 << (j & 31);
        for (let i = b; i < e; i++)
          if (f[i] && count[i - b]! < NAMED_TERMS) {
            mine[i] = 1;
            count[i - b]++;
            bits[i * words + word]! |= bit;
          }
      }
    }
  }
  HitBits.adopt(out, bits);
  return out;
}

/**
 * namedTerms' choice as each subscriber's NAMED_TERMS lowest places in `order` among the
 * rules it hits, taken from a bit per place: a measure's steps set their place's bit by
 * a lookup of its bin, so a scorecard takes a pass per measure instead of one per step,
 * and no pass branches per hit (a scorecard's steps hit at random, and a branch per
 * cell mispredicts). Up to 64 places (two words); namedTerms takes more itself.
 */
function namedByBins(
  order: readonly number[],
  flags: readonly Uint8Array[],
  bins: readonly StepBins[],
  n: number,
  out: Uint8Array[],
  bits: Int32Array,
): void {
  const words = wordsFor(flags.length);
  const placeOf = new Int32Array(flags.length).fill(-1);
  order.forEach((j, place) => {
    placeOf[j] = place;
  });
  const inBins = new Uint8Array(flags.length);
  // Per measure, the bits of its steps' places by bin, the low word's then the high word's (0 for no step, or no points).
  const stepBits = bins.map(({ first, steps }) => {
    inBins.fill(1, first, first + steps);
    const table = new Int32Array(2 * (steps + 1));
    for (let k = 1; k <= steps; k++) {
      const place = placeOf[first + k - 1]!;
      if (place >= 0) table[2 * k + (place >>> 5)] = 1 << (place & 31);
    }
    return table;
  });
  const columns = order.filter((j) => !inBins[j]);
  const low = new Int32Array(BLOCK),
    high = new Int32Array(BLOCK);
  for (let b = 0; b < n; b += BLOCK) {
    const e = Math.min(n, b + BLOCK);
    low.fill(0);
    high.fill(0);
    for (const j of columns) {
      const f = flags[j]!,
        place = placeOf[j]!,
        shift = place & 31,
        word = place < 32 ? low : high;
      for (let i = b, k = 0; i < e; i++, k++) word[k]! |= f[i]! << shift;
    }
    // Four measures a pass: a quarter of the reads and writes of the block's words.
    let m = 0;
    for (; m + 4 <= bins.length; m += 4) {
      const b0 = bins[m]!.bin,
        b1 = bins[m + 1]!.bin,
        b2 = bins[m + 2]!.bin,
        b3 = bins[m + 3]!.bin;
      const t0 = stepBits[m]!,
        t1 = stepBits[m + 1]!,
        t2 = stepBits[m + 2]!,
        t3 = stepBits[m + 3]!;
      for (let i = b, k = 0; i < e; i++, k++) {
        const a0 = 2 * b0[i]!,
          a1 = 2 * b1[i]!,
          a2 = 2 * b2[i]!,
          a3 = 2 * b3[i]!;
        low[k]! |= t0[a0]! | t1[a1]! | t2[a2]! | t3[a3]!;
        high[k]! |= t0[a0 + 1]! | t1[a1 + 1]! | t2[a2 + 1]! | t3[a3 + 1]!;
      }
    }
    for (; m < bins.length; m++) {
      const bin = bins[m]!.bin,
        table = stepBits[m]!;
      for (let i = b, k = 0; i < e; i++, k++) {
        const at = 2 * bin[i]!;
        low[k]! |= table[at]!;
        high[k]! |= table[at + 1]!;
      }
    }
    for (let i = b, k = 0; i < e; i++, k++) {
      let left = NAMED_TERMS,
        w = low[k]!;
      for (; left > 0 && w !== 0; left--, w &= w - 1) name(31 - Math.clz32(w & -w), i);
      for (w = high[k]!; left > 0 && w !== 0; left--, w &= w - 1) name(63 - Math.clz32(w & -w), i);
    }
  }
  function name(place: number, i: number): void {
    const j = order[place]!;
    out[j]![i] = 1;
    bits[i * words + (j >>> 5)]! |= 1 << (j & 31);
  }
}
