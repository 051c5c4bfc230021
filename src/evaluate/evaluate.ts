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
  const steps = stepFlags(pack, table, D, excluded, new Set(enabled.map((r) => r.id)));
  // The excluded are few (the closed): listed once, each rule's flags cleared at them only, not a pass over all.
  const out = excludedList(excluded);
  const flags = enabled.map((r) => {
    const step = steps.get(r.id);
    if (step !== undefined) return step; // excluded subscribers already left out
    const f = runCondition(r.compiled, table, D);
    for (let k = 0; k < out.length; k++) f[out[k]!] = 0;
    return f;
  });
  const named = pack.score === 'logistic' ? namedTerms(enabled, flags, n) : flags;
  return { rules: enabled, ruleIds: enabled.map((r) => r.id), flags, named, excluded, value };
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
 * out in the same pass. The bounds go through the text the step's condition was
 * written with, and the comparisons are compile.ts's with its tolerance: `from <= x`
 * as from − x <= E, `x < below` as x − below < −E, so the flags are the conditions'
 * own (the SQL differential test checks both). A pass per step without a branch: a
 * scorecard's steps hit at random, and one pass finding each subscriber's step by
 * branches took 1.7 × as long at 1M (a mispredicted branch per subscriber and measure).
 */
function stepFlags(pack: RulePack, table: FeatureTable, D: number, excluded: Uint8Array, enabled: Set<string>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const E = COMPARE_TOLERANCE,
    n = table.n;
  for (const m of pack.scorecard) {
    // "given" (no bounds) keeps its condition, x == x; a disabled step is not computed.
    const steps = m.steps.filter((st) => (st.from !== null || st.below !== null) && enabled.has(st.rule));
    if (steps.length === 0) continue;
    const x = new Float64Array(n);
    m.compiled.run(columnsFor(table, m.compiled.columns), n, D, x);
    for (const st of steps) {
      const lo = st.from === null ? null : Number(stepNumber(st.from)),
        hi = st.below === null ? null : Number(stepNumber(st.below));
      // In shared memory as every rule's flags: the score-files worker reads them where they are (a scorecard's
      // steps are most of its columns, and each was copied for the worker at the end of the score stage).
      const f = sharedUint8(n);
      // Comparisons as 0/1 numbers, and-ed: no branch per cell.
      if (lo === null) for (let i = 0; i < n; i++) f[i] = +(x[i]! - hi! < -E) & (excluded[i]! ^ 1);
      else if (hi === null) for (let i = 0; i < n; i++) f[i] = +(lo - x[i]! <= E) & (excluded[i]! ^ 1);
      else for (let i = 0; i < n; i++) f[i] = +(lo - x[i]! <= E) & +(x[i]! - hi < -E) & (excluded[i]! ^ 1);
      out.set(st.rule, f);
    }
  }
  return out;
}

/** The flags of the rules a task names (Evaluation.named). */
export function namedFlags(ev: Pick<Evaluation, 'flags' | 'named'>): readonly Uint8Array[] {
  return ev.named ?? ev.flags;
}

/** How many terms a logistic task names: enough to say why, short enough for an agent's screen. */
export const NAMED_TERMS = 3;

/** Each subscriber's NAMED_TERMS hit rules with the most positive points (equals in pack order). */
export function namedTerms(rules: readonly RuleDef[], flags: readonly Uint8Array[], n: number): Uint8Array[] {
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
  HitBits.adopt(out, bits);
  return out;
}
