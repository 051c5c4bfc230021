/**
 * A scorecard's step flags as views of its measures' bins. Each step of a measure is a
 * rule with a 0/1 column, and a step's column is its measure's bin compared with one
 * number: held whole, the columns were a byte per subscriber and step (94 steps: 0.9 GB
 * at 10M subscribers), where the bins are a byte per subscriber and measure. So a step's
 * column is made from its bin only where something reads it: whole, the first time a
 * caller reads it (withStepColumns), or a range at a time (stepColumn: scores.arrow's
 * record batches, and the flag combinations of scores.csv read the bins themselves).
 */
import { binFlag } from './passes.js';

/** A measure's steps as flags[first], flags[first + 1], ... (`steps` of them), and each subscriber's step among them. */
export interface StepBins {
  first: number;
  steps: number;
  /** k + 1 where flags[first + k] is set; 0 where none of them is. */
  bin: Uint8Array;
  /** Subscribers per bin: hits[k + 1] is flags[first + k]'s count of hits (summary.json's hits_per_rule). */
  hits: Int32Array;
}

/** Where a step's column is read from: rule `at` is set where bin holds step + 1. */
export interface StepSource {
  at: number;
  bin: Uint8Array;
  step: number;
}

/** The step sources of measures laid out as StepBins. */
export function stepSources(bins: readonly StepBins[]): StepSource[] {
  return bins.flatMap(({ first, steps, bin }) => Array.from({ length: steps }, (_, k) => ({ at: first + k, bin, step: k })));
}

/**
 * `flags` with each source's column made from its bin the first time it is read, and
 * kept. Entries at the sources' places may be null: they are never read. The other
 * entries are the columns given.
 */
export function withStepColumns(flags: readonly (Uint8Array | null)[], sources: readonly StepSource[]): Uint8Array[] {
  const out = flags.slice() as Uint8Array[];
  for (const { at, bin, step } of sources) {
    let column: Uint8Array | undefined;
    Object.defineProperty(out, at, {
      enumerable: true,
      get: () => (column ??= stepColumn(bin, step, 0, bin.length)),
    });
  }
  return out;
}

/**
 * Step `step`'s 0/1 flags of subscribers [from, to), read off their bins, into `out`
 * (a new array when not given; at least to − from long).
 */
export function stepColumn(bin: Uint8Array, step: number, from: number, to: number, out = new Uint8Array(to - from)): Uint8Array {
  const column = out.length === to - from ? out : out.subarray(0, to - from),
    cells = bin.subarray(from, to);
  if (((cells.byteOffset | column.byteOffset) & 3) === 0) binFlag(cells, step + 1, column);
  else for (let i = 0; i < cells.length; i++) column[i] = +(cells[i] === step + 1);
  return column;
}

/**
 * For each rule, the index in `bins` of the measure whose steps it is, or -1 (a rule
 * with a column of its own).
 */
export function binOfRule(bins: readonly StepBins[], rules: number): Int32Array {
  const of = new Int32Array(rules).fill(-1);
  bins.forEach(({ first, steps }, b) => {
    of.fill(b, first, first + steps);
  });
  return of;
}
