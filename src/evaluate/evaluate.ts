/**
 * Runs the compiled rule pack over the feature columns: one 0/1 array per enabled
 * rule, with excluded subscribers (closed, by default) never flagged.
 */
import { stepNumber, type RuleDef, type RulePack, type ScorecardMeasure } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { CompiledCondition, FeatureColumn } from '../rules/compile.js';
import { sharedBytes, sharedFloat64, sharedInt32, sharedUint8 } from '../util/worker.js';
import { BLOCK, HitBits, wordsFor } from './hit-bits.js';
import { logitRows, NAMED_TERMS, stepFlag, stepTable, type TermTables } from './passes.js';
import { RulesSplit, type RulesHelper } from './rules-thread.js';
import { writablePages } from '../util/pages.js';
import { withStepColumns, type StepBins } from './step-columns.js';

export { NAMED_TERMS } from './passes.js';
export type { StepBins } from './step-columns.js';

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
   * points from it instead of a column per step. Absent or empty: read the flags. A step's
   * flags column is made from its bin when first read (step-columns.ts).
   */
  bins?: StepBins[];
  /** A logistic pack's logit, summed with its named terms (namedByBins); absent: the score sums it. */
  logit?: LogitSums;
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

/**
 * The pack's rules over the table. With `helper` (rules-thread.ts RulesThread) a
 * scorecard's steps and its logit are shared with another thread; the flags, bins and
 * sums are the same bits either way.
 */
export function evaluate(pack: RulePack, table: FeatureTable, D: number, helper: RulesHelper | null = null): Evaluation {
  const n = table.n;
  const excluded = runCondition(pack.exclude.compiled, table, D);
  // Flags and value in shared memory: the score-files worker reads them without a copy.
  const value = sharedFloat64(n);
  pack.value.compiled.run(columnsFor(table, pack.value.compiled.columns), n, D, value);
  const enabled = pack.rules.filter((r) => r.enabled);
  const measures = scorecardSteps(pack, new Set(enabled.map((r) => r.id)));
  const stepIds = new Set(measures.flatMap(({ steps }) => steps.map((st) => st.rule)));
  // The excluded are few (the closed): listed once, each rule's flags cleared at them only, not a pass over all.
  const out = excludedList(excluded);
  const plainRules = enabled.filter((r) => !stepIds.has(r.id)),
    plain = new Map<string, Uint8Array>();
  // One plain rule at a time: the steps' jobs call for it while the other thread holds every values array.
  const nextPlain = (): boolean => {
    const r = plainRules[plain.size];
    if (r === undefined) return false;
    const f = runCondition(r.compiled, table, D);
    for (let k = 0; k < out.length; k++) f[out[k]!] = 0;
    plain.set(r.id, f);
    return true;
  };
  const split = new RulesSplit(n, measures.length > 0 ? helper : null, measures.length, nextPlain);
  const { flags: steps, binned } = stepFlags(measures, table, D, excluded, split);
  split.finish();
  const ruleIds = enabled.map((r) => r.id);
  const flags = withStepColumns(
    enabled.map((r) => steps.get(r.id) ?? plain.get(r.id) ?? null),
    binned.flatMap(({ rules, bin }) => rules.map((id, k) => ({ at: ruleIds.indexOf(id), bin, step: k }))),
  );
  const bins = binned.flatMap(({ rules, bin, hits }) => {
    const first = ruleIds.indexOf(rules[0]!);
    // Side by side as the pack lists them; otherwise the score reads the flags.
    return rules.every((id, k) => ruleIds[first + k] === id) ? [{ first, steps: rules.length, bin, hits }] : [];
  });
  if (pack.score !== 'logistic') return { rules: enabled, ruleIds, flags, named: flags, excluded, value, bins };
  const { named, sums } = namedAndLogit(enabled, flags, n, bins, pack.intercept, split);
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

/** The scorecard's measures with their enabled steps that have bounds ("given", x == x, keeps its condition). */
function scorecardSteps(pack: RulePack, enabled: Set<string>): { m: ScorecardMeasure; steps: ScorecardMeasure['steps'] }[] {
  return pack.scorecard.flatMap((m) => {
    const steps = m.steps.filter((st) => (st.from !== null || st.below !== null) && enabled.has(st.rule));
    return steps.length === 0 ? [] : [{ m, steps }];
  });
}

/**
 * The flags of a scorecard's enabled steps, each measure computed once for all its
 * steps (a step's own condition would compute it again per step), the excluded left
 * out. The bounds go through the text the step's condition was written with, and the
 * comparisons are compile.ts's with its tolerance: `from <= x` as from − x <= E,
 * `x < below` as x − below < −E, so the flags are the conditions' own (the SQL
 * differential test checks both). Each subscriber's step is found in one pass per
 * measure (stepBins), and each step's flags are read off it where asked for
 * (step-columns.ts); a pass per step over the measure compared every value twice per
 * step. Those passes are a job per measure (passes.ts binSteps) that `split` runs here or hands
 * to the other thread; the measure's values, by the rule code, are made here.
 */
function stepFlags(
  measures: ReturnType<typeof scorecardSteps>,
  table: FeatureTable,
  D: number,
  excluded: Uint8Array,
  split: RulesSplit,
): { flags: Map<string, Uint8Array>; binned: ({ rules: string[] } & Pick<StepBins, 'bin' | 'hits'>)[] } {
  const flags = new Map<string, Uint8Array>();
  const binned: ({ rules: string[] } & Pick<StepBins, 'bin' | 'hits'>)[] = [];
  const n = table.n;
  const bounds = measures.map(({ steps }) =>
    steps.map((st) => ({
      lo: st.from === null ? null : Number(stepNumber(st.from)),
      hi: st.below === null ? null : Number(stepNumber(st.below)),
    })),
  );
  const found = bounds.map(stepTable);
  // The binned measures' bins in shared memory, as every rule's flags: the score-files worker reads them where
  // they are, and the rules thread writes them. One buffer: its pages are zeroed where written (a column of its
  // own was zeroed by this thread when made, even the columns the other thread writes).
  const columns = sharedBytes(found.flatMap((t) => (t === null ? [] : [n])));
  let next = 0;
  measures.forEach(({ m, steps }, k) => {
    const x = split.values();
    m.compiled.run(columnsFor(table, m.compiled.columns), n, D, x);
    const t = found[k]!;
    if (t === null) {
      bounds[k]!.forEach(({ lo, hi }, j) => {
        flags.set(steps[j]!.rule, stepFlag(lo, hi, x, excluded));
      });
      return;
    }
    const bin = columns[next++]!,
      hits = sharedInt32(steps.length + 1);
    binned.push({ rules: steps.map((st) => st.rule), bin, hits });
    split.steps({ table: t, x, excluded, bin, hits });
  });
  return { flags, binned };
}

/** The flags of the rules a task names (Evaluation.named). */
export function namedFlags(ev: Pick<Evaluation, 'flags' | 'named'>): readonly Uint8Array[] {
  return ev.named ?? ev.flags;
}

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
  split?: RulesSplit,
): { named: Uint8Array[]; sums: LogitSums | null } {
  const order = rules
    .map((_, j) => j)
    .filter((j) => rules[j]!.weight > 0)
    .sort((a, b) => rules[b]!.weight - rules[a]!.weight || a - b);
  // The named terms as hit bits (a few per subscriber), the columns made from them when read: the task stage reads
  // the bits, and making them from 50-odd sparse columns afterwards took longer than this whole loop.
  // In shared memory with a split: the other thread names its subscribers' terms too.
  const words = wordsFor(flags.length),
    bits = writablePages(split === undefined ? new Int32Array(n * words) : sharedInt32(n * words));
  let sums: LogitSums | null = null;
  if (bins.length > 0 && order.length <= 64) sums = namedByBins(rules, order, flags, bins, n, bits, intercept, split);
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
 * same pass sums the logit (passes.ts logitRows): the bits come from the tables that
 * hold the points. With `split`, over ranges of subscribers shared with another thread.
 */
function namedByBins(
  rules: readonly RuleDef[],
  order: readonly number[],
  flags: readonly Uint8Array[],
  bins: readonly StepBins[],
  n: number,
  bits: Int32Array,
  intercept: number,
  split?: RulesSplit,
): LogitSums {
  const placeOf = new Int32Array(flags.length).fill(-1);
  order.forEach((j, place) => {
    placeOf[j] = place;
  });
  const terms = termTables(rules, flags, bins, placeOf),
    naming = { order: Int32Array.from(order), bits, words: wordsFor(flags.length) };
  if (split !== undefined) return { intercept, ...split.logit(terms, intercept, naming) };
  const logit = new Float64Array(n),
    raised = new Uint8Array(n);
  logitRows(terms, intercept, 0, n, logit, raised, naming);
  return { intercept, logit, raised };
}

/** A logistic pack's logit sums over the flags, measures read by their bins: the score's sum when the evaluation made none. */
export function logitSums(
  rules: readonly RuleDef[],
  flags: readonly Uint8Array[],
  bins: readonly StepBins[],
  n: number,
  intercept: number,
): LogitSums {
  const logit = new Float64Array(n),
    raised = new Uint8Array(n);
  logitRows(termTables(rules, flags, bins, new Int32Array(rules.length).fill(-1)), intercept, 0, n, logit, raised, null);
  return { intercept, logit, raised };
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
