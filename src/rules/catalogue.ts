/**
 * The allow-list of the rule language, derived from the input contract's measures
 * (src/contract/contract.ts): every name and function a rule may use, what it reads
 * from which extract, and its unit. A rule can only read what the contract (or its
 * pack's `measures:`) declares; adding a measure is a declaration there, adding a
 * rule over existing measures is a rule-pack edit.
 */
import { ATTRIBUTES, EVENT_MEASURES, builtinMeasure, type ColumnMeasure, type ExtractName, type Unit } from '../contract/contract.js';

export type { Unit } from '../contract/contract.js';

/** A number written in a rule must be below this (a quadrillion yuan is a typo, not a threshold). */
export const MAX_LITERAL = 1e15;

/**
 * A bound on any feature value: every field is parsed below 2^53 of its smallest
 * unit, and a sum over an extract's rows stays far below 1e30. Code generation
 * uses it to prove that arithmetic cannot overflow, and checks where it can.
 */
export const MAX_FEATURE = 1e30;

/** Largest offsets a rule may use: M0..M23 and d1..d366. */
export const MAX_MONTH_OFFSET = 23;
export const MAX_DAY_OFFSET = 366;

/** The functions that are not measures, and the words of the language: no measure may take these names. */
export const RESERVED_NAMES: readonly string[] = ['given', 'min', 'max', 'abs', 'pct_change', 'and', 'or', 'not', 'D'];

/**
 * A per-subscriber column the features stage must compute for the compiled rules.
 * A measure the rule pack declares carries its declaration (`declared`), so that
 * every stage after the checker knows its column and unit without the pack.
 */
export type FeatureRequest =
  | { source: 'subscribers'; column: string }
  | { source: 'billing'; measure: string; month: number; declared?: ColumnMeasure }
  | { source: 'usage'; measure: string; day: number; declared?: ColumnMeasure }
  | { source: 'tickets'; kind: string; from: number; to: number }
  | { source: 'contracts'; which: 'expiring' | 'lapsed'; from: number; to: number };

export function featureKey(f: FeatureRequest): string {
  switch (f.source) {
    case 'subscribers':
      return f.column;
    case 'billing':
      return `${f.measure}(M${f.month})`;
    case 'usage':
      return `${f.measure}(d${f.day})`;
    case 'tickets':
      return `tickets('${f.kind}', ${f.from}, ${f.to})`;
    case 'contracts':
      return `contracts_${f.which}(${f.from}, ${f.to})`;
  }
}

export function featureUnit(f: FeatureRequest): Unit | 'enum' {
  switch (f.source) {
    case 'subscribers':
      return ATTRIBUTES[f.column]!.unit;
    case 'billing':
    case 'usage':
      return (f.declared ?? builtinMeasure(f.measure)!).unit;
    default:
      return 'count';
  }
}

/** Which extract a feature reads; the run needs that file only when an enabled rule does. */
export function featureFile(f: FeatureRequest): ExtractName {
  switch (f.source) {
    case 'subscribers':
      return 'subscribers';
    case 'billing':
      return 'billing_monthly';
    case 'usage':
      return 'usage_daily';
    case 'tickets':
      return 'tickets';
    case 'contracts':
      return 'contracts';
  }
}

/** The columns a feature reads, by extract: what makes an optional column needed. */
export function featureColumns(f: FeatureRequest): { extract: ExtractName; columns: string[] } {
  switch (f.source) {
    case 'subscribers':
      return { extract: 'subscribers', columns: [f.column] };
    case 'billing':
    case 'usage': {
      const m = f.declared ?? builtinMeasure(f.measure)!;
      return {
        extract: featureFile(f),
        columns: 'sumOf' in m ? m.sumOf.map((p) => builtinMeasure(p) as ColumnMeasure).map((p) => p.column) : [m.column],
      };
    }
    case 'tickets':
      return { extract: 'tickets', columns: [...EVENT_MEASURES.find((e) => e.name === 'tickets')!.reads] };
    case 'contracts':
      return { extract: 'contracts', columns: [...EVENT_MEASURES.find((e) => e.name === `contracts_${f.which}`)!.reads] };
  }
}

const windowName = (k: number) => (k < 0 ? `m${-k}` : `p${k}`);

/**
 * The column a feature's values go under in a scores file (`run --with-measures`, the
 * SQL script's output): its key with everything but letters, digits and `_` folded,
 * e.g. `amount_m0`, `activity_d1`, `tickets_complaint_m90_m1`, `status`. The SQL
 * script names its feature columns the same, with an `f_` prefix.
 */
export function measureColumnName(f: FeatureRequest): string {
  switch (f.source) {
    case 'subscribers':
      return f.column;
    case 'billing':
      return `${f.measure}_m${f.month}`;
    case 'usage':
      return `${f.measure}_d${f.day}`;
    case 'tickets':
      return `tickets_${f.kind}_${windowName(f.from)}_${windowName(f.to)}`;
    case 'contracts':
      return `contracts_${f.which}_${windowName(f.from)}_${windowName(f.to)}`;
  }
}

/**
 * The measures a scores file carries after the rule columns, for the task step: every
 * feature but the subscribers' attributes (which it reads from subscribers.csv), in
 * the order given, once each.
 */
export function scoreMeasures(features: Iterable<FeatureRequest>): FeatureRequest[] {
  const seen = new Map<string, FeatureRequest>();
  for (const f of features) if (f.source !== 'subscribers' && !seen.has(measureColumnName(f))) seen.set(measureColumnName(f), f);
  return [...seen.values()];
}

/**
 * The decimals a measure is written with in a scores file: those it is summed in
 * (2 for money and the usage columns, 0 for whole counts: hotline calls, tickets,
 * contracts), so its text is its exact value.
 */
export function measureDigits(f: FeatureRequest): number {
  if (f.source !== 'billing' && f.source !== 'usage') return 0;
  const m = f.declared ?? builtinMeasure(f.measure)!;
  return 'sumOf' in m ? measureDigits({ ...f, measure: m.sumOf[0]!, declared: undefined }) : m.scale;
}
