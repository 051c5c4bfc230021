/**
 * What the main thread hands the score-files worker, and what comes back. The
 * columns go over in shared memory (util/worker.ts sharedColumns): those not made
 * there are copied into one SharedArrayBuffer once, and the worker reads them where they are.
 * Errors come back as plain data (errors.ts) and are rebuilt into the same
 * ChurnwatchError.
 */
import type { SerializedError } from '../errors.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import { binOfRule, stepSources, withStepColumns, type StepBins } from '../evaluate/step-columns.js';
import type { Scores } from '../score/score.js';
import { TextColumn } from '../util/text-column.js';
import { sharedColumns } from '../util/worker.js';
import type { OutputRecord, PublicationPlace } from './publish.js';

/** The score files, in the order their records are added to the publication. */
export const SCORE_FILES = ['scores.csv', 'scores.arrow'] as const;

/**
 * What the score files are made of: the flag and value columns of the evaluation, and
 * the scorecard measures' bins, from which they read those measures' steps instead of
 * the steps' flags columns (step-columns.ts).
 */
export type ScoreRules = Pick<Evaluation, 'ruleIds' | 'flags' | 'value'> & Partial<Pick<Evaluation, 'bins'>>;
/** What the score files are made of: risk, expected loss and tier. */
export type ScoreValues = Pick<Scores, 'risk' | 'expectedLoss' | 'tier'>;

/**
 * A measure column of `--with-measures`, after the flags: its values per subscriber
 * and how a cell is written. money: yuan with 2 decimals; count and number: exact to
 * `scale` decimals, a whole value without them; day: a date; enum: the code's value.
 * Not given (NaN, or ENUM_MISSING for an enum) is an empty cell, null in Arrow.
 */
export interface MeasureColumn {
  name: string;
  kind: 'money' | 'count' | 'number' | 'day' | 'enum';
  scale: number;
  values?: readonly string[];
  data: Column;
}

/** The header of scores.csv (and the column names of scores.arrow). */
export function scoresHeader(ev: Pick<Evaluation, 'ruleIds'>, measures: readonly Pick<MeasureColumn, 'name'>[] = []): string[] {
  return ['subscriber_id', 'value', 'tier', 'risk_score', 'expected_loss', ...ev.ruleIds, ...measures.map((m) => m.name)];
}

/** What the rules stage made: the worker may have it before the scores (score-files.ts ScoreRulesHandedOver). */
export interface ScoresRulesPart {
  place: PublicationPlace;
  n: number;
  idBytes: Uint8Array;
  idOffsets: Int32Array;
  ruleIds: string[];
  /** Null where the rule is a step of a measure in `bins`. */
  flags: (Uint8Array | null)[];
  bins: StepBins[];
  value: Float64Array;
}

/** What the score stage made, and the measures of --with-measures. */
export interface ScoresScoresPart {
  risk: Float64Array;
  expectedLoss: Float64Array;
  tier: Uint8Array;
  measures: MeasureColumn[];
}

export interface ScoresWorkerInput extends ScoresRulesPart, ScoresScoresPart {}

export type ScoresFromWorker = { type: 'done'; records: OutputRecord[] } | { type: 'error'; error: SerializedError };

type Column = Uint8Array | Int32Array | Float32Array | Float64Array;

export function toWorkerInput(
  place: PublicationPlace,
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[] = [],
): ScoresWorkerInput {
  return { ...toRulesPart(place, ids, ev), ...toScoresPart(s, measures) };
}

export function toRulesPart(place: PublicationPlace, ids: TextColumn, ev: ScoreRules): ScoresRulesPart {
  const n = ids.length;
  const offsets = ids.offsets.subarray(0, n + 1);
  const bins = ev.bins ?? [],
    binOf = binOfRule(bins, ev.flags.length);
  // A step's column is not read here (reading it would make it): the worker reads its bin.
  const own = ev.ruleIds.flatMap((_, j) => (binOf[j]! < 0 ? [ev.flags[j]!] : []));
  const [idBytes, idOffsets, value, ...columns] = sharedColumns([
    ids.bytes.subarray(0, offsets[n]!),
    offsets,
    ev.value,
    ...own,
    ...bins.map((b) => b.bin),
  ] as [Uint8Array, Int32Array, Float64Array, ...Uint8Array[]]);
  let next = 0;
  const flags = ev.ruleIds.map((_, j) => (binOf[j]! < 0 ? columns[next++]! : null));
  const shared = bins.map((b) => ({ ...b, bin: columns[next++]! }));
  return { place, n, idBytes, idOffsets, ruleIds: [...ev.ruleIds], flags, bins: shared, value };
}

export function toScoresPart(s: ScoreValues, measures: readonly MeasureColumn[] = []): ScoresScoresPart {
  const data = sharedColumns(measures.map((m) => m.data));
  const [risk, expectedLoss, tier] = sharedColumns([s.risk, s.expectedLoss, s.tier] as [Float64Array, Float64Array, Uint8Array]);
  return { risk, expectedLoss, tier, measures: measures.map((m, k) => ({ ...m, data: data[k]! })) };
}

export function fromWorkerInput(w: ScoresWorkerInput): { ids: TextColumn; ev: ScoreRules; s: ScoreValues; measures: MeasureColumn[] } {
  return {
    ids: new TextColumn(w.idBytes, w.idOffsets, w.n),
    ev: { ruleIds: w.ruleIds, flags: withStepColumns(w.flags, stepSources(w.bins)), bins: w.bins, value: w.value },
    s: { risk: w.risk, expectedLoss: w.expectedLoss, tier: w.tier },
    measures: w.measures,
  };
}
