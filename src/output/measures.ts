/**
 * The measures of `run --with-measures`: every feature column the pack reads (its
 * rules, their reasons, the value expression and the exclusion), named as the SQL
 * engine names it (measureColumnName), with how its cells are written. The columns
 * are the feature table's own arrays, not copies.
 */
import { ATTRIBUTES, builtinMeasure, measureScale } from '../contract/contract.js';
import { ChurnwatchError } from '../errors.js';
import type { FeatureTable } from '../features/features.js';
import { featureUnit, measureColumnName, type FeatureRequest } from '../rules/catalogue.js';
import type { RulePack } from '../config/rulepack.js';
import { scoresHeader, type MeasureColumn } from './scores-protocol.js';
import { plainColumn } from '../rules/compile.js';

export type { MeasureColumn };

/** How a feature's cells are written: its unit, the decimals its sums are exact to, its enum values. */
function measureFormat(f: FeatureRequest): Pick<MeasureColumn, 'kind' | 'scale' | 'values'> {
  const unit = featureUnit(f);
  if (f.source === 'subscribers') {
    const values = ATTRIBUTES[f.column]!.values;
    if (unit === 'enum') return { kind: 'enum', scale: 0, values: [...(values ?? [])] };
    if (unit === 'day') return { kind: 'day', scale: 0 };
    return { kind: unit === 'money' ? 'money' : 'number', scale: 2 };
  }
  if (f.source === 'billing' || f.source === 'usage') {
    const m = f.declared ?? builtinMeasure(f.measure)!;
    return { kind: unit === 'money' ? 'money' : unit === 'count' ? 'count' : 'number', scale: measureScale(m) };
  }
  return { kind: 'count', scale: 0 };
}

/**
 * The column name of each feature, in the pack's order (value, exclusion, rules), each
 * name once. A name that is already a column of the scores files (a rule id such as
 * `amount_m0`) would make two columns of one name: refused before anything is read,
 * naming the rule to rename.
 */
export function measureNames(features: ReadonlyMap<string, FeatureRequest>, taken: readonly string[]): Map<string, string> {
  const byKey = new Map<string, string>();
  const names = new Set<string>();
  for (const [key, f] of features) {
    const name = measureColumnName(f);
    if (names.has(name)) continue;
    if (taken.includes(name)) {
      throw new ChurnwatchError(
        'CW_RULEPACK_INVALID',
        `--with-measures: the measure ${key} goes into the column ${name}, which the scores files already have (a rule id or a score column); rename that rule in the pack`,
      );
    }
    names.add(name);
    byKey.set(key, name);
  }
  return byKey;
}

/** The measure columns of `features` (see measureNames), over the feature table's arrays. */
export function scoreMeasures(
  features: ReadonlyMap<string, FeatureRequest>,
  table: FeatureTable,
  taken: readonly string[],
): MeasureColumn[] {
  return [...measureNames(features, taken)].map(([key, name]) => {
    const data = table.columns.get(key);
    if (data === undefined) throw new Error(`internal: feature ${key} was not computed`);
    // A measure's scaled sums go out as the numbers the rules read (a copy, only with --with-measures).
    return { name, data: plainColumn(data), ...measureFormat(features.get(key)!) };
  });
}

/** The columns of the scores files before any measure: what a measure's name must not be. */
export function scoreColumns(pack: RulePack): string[] {
  return scoresHeader({ ruleIds: pack.rules.filter((r) => r.enabled).map((r) => r.id) });
}
