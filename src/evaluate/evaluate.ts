/**
 * Runs the compiled rule pack over the feature columns: one 0/1 array per enabled
 * rule, with excluded subscribers (closed, by default) never flagged.
 */
import type { RuleDef, RulePack } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { Column, CompiledCondition } from '../rules/compile.js';
import { sharedFloat64, sharedUint8 } from '../util/worker.js';

export interface Evaluation {
  /** The enabled rules, in pack order: flags[j] and ruleIds[j] belong to rules[j]. */
  rules: readonly RuleDef[];
  ruleIds: string[];
  flags: Uint8Array[];
  excluded: Uint8Array;
  value: Float64Array;
}

export function columnsFor(table: FeatureTable, keys: string[]): Column[] {
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
  const flags = enabled.map((r) => {
    const f = runCondition(r.compiled, table, D);
    for (let i = 0; i < n; i++) if (excluded[i]) f[i] = 0;
    return f;
  });
  return { rules: enabled, ruleIds: enabled.map((r) => r.id), flags, excluded, value };
}
