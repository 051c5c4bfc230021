/**
 * Backtest: how well the rules of a pack, one by one and combined, find the
 * subscribers that a labels file says churned. Pure: the analysis and the labels
 * in, figures and text out; it publishes nothing.
 *
 * The population is the subscribers that have a label. Labels of ids not in
 * subscribers.csv and subscribers without a label are counted, never guessed.
 * "Flagged" by the combined score means what gets a task before contact suppression:
 * at least one rule hit and a risk of at least tasks.min_risk. The ranking is by risk,
 * ties broken by subscriber id as in task order; a second line shows the same for the
 * expected-loss order the tasks use, which on data where churners are low-value ranks
 * far worse than risk alone.
 */
import type { RulePack } from '../config/rulepack.js';
import type { Labels, LabelProblem } from '../ingest/labels.js';
import type { MeasureColumn } from '../output/scores-protocol.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import { byLossThenId, type Scores } from '../score/score.js';
import { formatDay, NO_DAY } from '../util/dates.js';
import { decileTable, measureFlag, rocAuc, type DecileTable, type FlagMeasures, type Interval } from '../util/metrics.js';
import type { TextColumn } from '../util/text-column.js';
import { alignColumns } from './text-table.js';

/** The label of a subscriber without one. */
export const UNLABELLED = 255;

export interface LabelJoin {
  /** Per subscriber: 0, 1 or UNLABELLED. */
  label: Uint8Array;
  labelled: number;
  /** Label rows whose id is not in subscribers.csv (or whose row there was rejected). */
  unknownSubscribers: number;
  /** Subscribers of subscribers.csv with no label row. */
  unlabelledSubscribers: number;
  /** Churners whose churn date is on or before the run date: they had left before D. */
  churnedBeforeAsOf: number;
}

export function joinLabels(ids: TextColumn, labels: Labels, asOf: number): LabelJoin {
  const index = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) index.set(ids.get(i), i);
  const label = new Uint8Array(ids.length).fill(UNLABELLED);
  let unknown = 0,
    before = 0,
    labelled = 0;
  labels.ids.forEach((id, k) => {
    const i = index.get(id);
    if (i === undefined) {
      unknown++;
      return;
    }
    label[i] = labels.churned[k]!;
    labelled++;
    if (labels.churned[k] === 1 && labels.churnDay[k]! !== NO_DAY && labels.churnDay[k]! <= asOf) before++;
  });
  return { label, labelled, unknownSubscribers: unknown, unlabelledSubscribers: ids.length - labelled, churnedBeforeAsOf: before };
}

/** The label column of `backtest --measures-out`, after the measures. */
export const LABEL_COLUMN = 'churned';

/** Each subscriber's label as a column of the scores CSV: 0 or 1, empty without a label. */
export function labelMeasure(label: Uint8Array): MeasureColumn {
  return { name: LABEL_COLUMN, kind: 'count', scale: 0, data: Float64Array.from(label, (l) => (l === UNLABELLED ? Number.NaN : l)) };
}

export interface RankingMeasures {
  key: 'risk' | 'expected_loss';
  auc: number;
  deciles: DecileTable;
}

export interface ScoreMeasures {
  rules: (FlagMeasures & { id: string })[];
  combined: FlagMeasures;
  ranking: RankingMeasures;
  expectedLoss: RankingMeasures;
}

export interface Backtest extends ScoreMeasures {
  asOf: string;
  pack: { name: string; version: number; hash: string };
  labels: {
    file: string;
    records: number;
    malformed: number;
    problems: LabelProblem[];
    unknownSubscribers: number;
    unlabelledSubscribers: number;
    churnedBeforeAsOf: number;
  };
  population: { subscribers: number; labelled: number; churners: number; baseRate: number };
}

function ranking(key: RankingMeasures['key'], score: Float64Array, label: Uint8Array, ids: TextColumn): RankingMeasures {
  const all = Array.from({ length: score.length }, (_, i) => i);
  return { key, auc: rocAuc(score, label), deciles: decileTable(byLossThenId(all, score, ids), score, label) };
}

/** The figures of one pack's scores against labels: shared by backtest and diff. */
export function measureScores(pack: RulePack, ev: Evaluation, scores: Scores, ids: TextColumn, label: Uint8Array): ScoreMeasures {
  const flagged = new Uint8Array(scores.risk.length);
  for (let i = 0; i < flagged.length; i++) flagged[i] = scores.hits[i]! > 0 && scores.risk[i]! >= pack.tasks.minRisk ? 1 : 0;
  return {
    rules: ev.ruleIds.map((id, j) => ({ id, ...measureFlag(ev.flags[j]!, label) })),
    combined: measureFlag(flagged, label),
    ranking: ranking('risk', scores.risk, label, ids),
    expectedLoss: ranking('expected_loss', scores.expectedLoss, label, ids),
  };
}

export function backtest(args: {
  pack: RulePack;
  asOf: number;
  ids: TextColumn;
  evaluation: Evaluation;
  scores: Scores;
  labels: Labels;
}): Backtest {
  const { pack, asOf, ids, labels } = args;
  const join = joinLabels(ids, labels, asOf);
  const m = measureScores(pack, args.evaluation, args.scores, ids, join.label);
  return {
    asOf: formatDay(asOf),
    pack: { name: pack.name, version: pack.version, hash: pack.hash },
    labels: {
      file: labels.file,
      records: labels.records,
      malformed: labels.malformed,
      problems: labels.problems,
      unknownSubscribers: join.unknownSubscribers,
      unlabelledSubscribers: join.unlabelledSubscribers,
      churnedBeforeAsOf: join.churnedBeforeAsOf,
    },
    population: {
      subscribers: ids.length,
      labelled: join.labelled,
      churners: m.ranking.deciles.churners,
      baseRate: m.ranking.deciles.baseRate,
    },
    ...m,
  };
}

// ---------------------------------------------------------------------------
// Text

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a');
export const times = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
/** An AUC to three decimals; n/a when a class is empty. */
export const aucText = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const withInterval = (i: Interval, f: (v: number) => string): string =>
  Number.isFinite(i.estimate) ? `${f(i.estimate)} [${f(i.low)}, ${f(i.high)}]` : 'n/a';

/** One row per flag: flagged, churners, precision, recall and lift, each with its 95% interval. */
export function flagTable(rows: (FlagMeasures & { id: string })[]): string[] {
  return alignColumns(
    [
      ['flag', 'flagged', 'churners', 'precision [95%]', 'recall [95%]', 'lift [95%]'],
      ...rows.map((r) => [
        r.id,
        String(r.flagged),
        String(r.churners),
        withInterval(r.precision, pct),
        withInterval(r.recall, pct),
        withInterval(r.lift, times),
      ]),
    ],
    [false, true, true, true, true, true],
  );
}

export function decileText(d: DecileTable): string[] {
  return alignColumns(
    [
      ['decile', 'subscribers', 'churners', 'churn rate', 'lift', 'cum. churners', 'scores'],
      ...d.rows.map((r) => [
        String(r.decile),
        String(r.subscribers),
        String(r.churners),
        pct(r.rate),
        times(r.lift),
        pct(r.cumulativeShare),
        Number.isFinite(r.minScore)
          ? r.minScore === r.maxScore
            ? r.minScore.toFixed(4)
            : `${r.minScore.toFixed(4)}-${r.maxScore.toFixed(4)}`
          : '',
      ]),
    ],
    [true, true, true, true, true, true, false],
  );
}

export function tieText(d: DecileTable): string {
  const cut =
    d.topCut.tied > 0
      ? `the top-decile cut falls inside a tie: ${d.topCut.tied} subscribers share score ${d.topCut.score.toFixed(4)}, ${d.topCut.inside} of them inside decile 1 by subscriber id`
      : 'the top-decile cut falls between two scores (no tie)';
  return `${d.distinctScores} distinct scores; ${cut}`;
}

export function backtestText(b: Backtest): string {
  const l = b.labels,
    p = b.population;
  const lines = [
    `backtest of ${b.pack.name} v${b.pack.version} as of ${b.asOf} against ${l.file}`,
    `labels: ${l.records} rows; ${p.labelled} of ${p.subscribers} subscribers labelled, ${p.churners} churned (base rate ${pct(p.baseRate)})`,
    `        ${l.unknownSubscribers} labels for subscribers not in subscribers.csv, ${l.unlabelledSubscribers} subscribers without a label, ${l.malformed} rows not read` +
      (l.churnedBeforeAsOf > 0 ? `, ${l.churnedBeforeAsOf} churn dates on or before the run date (check --as-of)` : ''),
    ...l.problems.map((q) => `        ${l.file}:${q.line} (column ${q.column}): ${q.reason}`),
    '',
    ...flagTable([...b.rules, { id: 'combined (any rule)', ...b.combined }]),
    '',
    `ranking by risk (ties by subscriber id): AUC ${aucText(b.ranking.auc)}; ${tieText(b.ranking.deciles)}`,
    ...decileText(b.ranking.deciles),
    '',
    `ranking by expected loss (task order): AUC ${aucText(b.expectedLoss.auc)}, top-decile lift ${times(b.expectedLoss.deciles.rows[0]!.lift)}`,
    'intervals: 95% Wilson for precision and recall; lift = precision interval / base rate (base rate taken as known)',
  ];
  return lines.join('\n') + '\n';
}

/**
 * JSON with snake_case keys like summary.json and explain, numbers to 6 decimals and
 * a figure that cannot be computed (no one flagged, no churner) as null.
 */
export function toJson(value: unknown): string {
  return (
    JSON.stringify(
      snakeKeys(value),
      (_k, v: unknown) => (typeof v === 'number' ? (Number.isFinite(v) ? Math.round(v * 1e6) / 1e6 : null) : v),
      2,
    ) + '\n'
  );
}

function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(x)]));
}
