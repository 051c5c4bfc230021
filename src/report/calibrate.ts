/**
 * calibrate: fit a scorecard on labelled history and write it as a logistic rule pack.
 *
 * The candidates are the measures the pack's rules read, the quantities they compare
 * (amount(M0) <= 0.7 × amount(M1) compares amount(M0) / amount(M1); activation_date
 * <= d3 compares D − activation_date, the line's age), the pack's own scorecard
 * measures and any the analyst lists. Each gets quantile steps from the training part;
 * the pack's rules stay as 0/1 terms; one L2-regularised logistic fit gives every term
 * its points. Training and held-out parts come from a keyed hash of subscriber id and
 * seed, so the same inputs always give the same split and the same pack, byte for byte.
 *
 * Pure: texts and columns in, a pack text and figures out. The caller reads the
 * extracts (once, for the old pack and the candidates together) and writes the file.
 */
import { quantileSorted } from 'simple-statistics';
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { numberExpression, parseRulePack, type RulePack } from '../config/rulepack.js';
import { ChurnwatchError } from '../errors.js';
import { columnsFor, evaluate } from '../evaluate/evaluate.js';
import type { FeatureTable } from '../features/features.js';
import { parseExpression, type Node } from '../rules/parse.js';
import { checkExpression } from '../rules/check.js';
import { featureKey, featureUnit } from '../rules/catalogue.js';
import { byLossThenId, score, type Scores } from '../score/score.js';
import { formatDay } from '../util/dates.js';
import { fitLogistic } from '../util/logistic.js';
import { decileTable, rocAuc } from '../util/metrics.js';
import type { TextColumn } from '../util/text-column.js';
import { UNLABELLED } from './backtest.js';

/**
 * Where the steps of a measure are cut, as quantiles of its training values: the
 * classic quintiles, and the outer 5% on each side as steps of their own, since churn
 * signals (a steep drop, a bill far above the rest) live in the tails. Equal edges merge.
 */
export const STEP_QUANTILES = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95];
/** The share of labelled subscribers held out. */
export const HELD_OUT_SHARE = 0.3;
/** Steps with smaller points (log-odds) after the first fit are dropped: a 10% change in the odds at most. */
export const MIN_STEP_POINTS = 0.1;
/** The L2 penalty: small beside thousands of rows, enough to settle collinear steps. */
export const L2 = 1;
/** Points and edges are written rounded: readable, and what the pack says is what it scores. */
const POINT_DECIMALS = 3;
const EDGE_DIGITS = 3;

export interface Candidate {
  /** The scorecard id its steps are named by: amount_m0_over_amount_m1_1, ... */
  id: string;
  measure: string;
}

// ---------------------------------------------------------------------------
// Candidates

/** An expression tree as the rule language writes it (nested arithmetic in parentheses). */
function exprText(n: Node): string {
  switch (n.type) {
    case 'num':
      return n.text;
    case 'str':
      return `'${n.value}'`;
    case 'name':
      return n.name;
    case 'call':
      return `${n.name}(${n.args.map(exprText).join(', ')})`;
    case 'unary':
      return n.op === '-' ? `-${wrap(n.arg)}` : `not ${wrap(n.arg)}`;
    case 'binary':
      return `${wrap(n.left)} ${n.op} ${wrap(n.right)}`;
    default:
      return `(${n.type})`;
  }
}

function wrap(n: Node): string {
  return n.type === 'binary' || n.type === 'compare' || n.type === 'logical' ? `(${exprText(n)})` : exprText(n);
}

/** x without a constant factor: 0.70 * amount(M1) → amount(M1); a constant alone → null. */
function scaled(n: Node): Node | null {
  if (n.type === 'num') return null;
  if (n.type === 'binary' && n.op === '*') {
    if (n.left.type === 'num') return scaled(n.right);
    if (n.right.type === 'num') return scaled(n.left);
  }
  return n;
}

function visit(n: Node, f: (n: Node) => void): void {
  f(n);
  const children =
    n.type === 'call'
      ? n.args
      : n.type === 'unary'
        ? [n.arg]
        : n.type === 'binary' || n.type === 'logical'
          ? [n.left, n.right]
          : n.type === 'compare'
            ? n.operands
            : [];
  for (const c of children) visit(c, f);
}

/** The quantities a condition compares: x / y of two amounts, D − a date attribute. */
function comparedQuantities(when: string): string[] {
  const out: string[] = [];
  visit(parseExpression(when), (n) => {
    if (n.type !== 'compare') return;
    for (let k = 0; k + 1 < n.operands.length; k++) {
      const a = scaled(n.operands[k]!),
        b = scaled(n.operands[k + 1]!);
      if (a === null || b === null) continue;
      for (const side of [a, b]) if (side.type === 'name' && /_date$|_since$/.test(side.name)) out.push(`D - ${side.name}`);
      out.push(`${wrap(a)} / ${wrap(b)}`);
    }
  });
  return out;
}

/** A scorecard id from a measure: amount(M0) / amount(M1) → amount_m0_over_amount_m1. */
export function candidateId(measure: string): string {
  const words = measure
    .toLowerCase()
    .replaceAll('/', ' over ')
    .replaceAll('*', ' times ')
    .replaceAll('+', ' plus ')
    .replaceAll('-', ' minus ')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const id = /^[a-z]/.test(words) ? words : `m_${words}`;
  return id.slice(0, 48).replace(/_+$/, '');
}

/**
 * The candidate measures, in a stable order: the numeric features the enabled rules
 * read, the quantities they compare, the pack's scorecard measures, then `listed`.
 * A compared quantity that is not a number (a date over a date) is left out; a listed
 * one that is not a number expression is an error naming it.
 */
export function candidateMeasures(pack: RulePack, listed: readonly string[]): Candidate[] {
  const steps = new Set(pack.scorecard.flatMap((s) => s.steps.map((t) => t.rule)));
  const found: string[] = [];
  for (const r of pack.rules) {
    if (!r.enabled || steps.has(r.id)) continue;
    for (const f of r.features.values()) {
      const u = featureUnit(f);
      if (u !== 'enum' && u !== 'day' && u !== 'bool') found.push(featureKey(f));
    }
    found.push(...comparedQuantities(r.when));
  }
  found.push(...pack.scorecard.map((s) => s.measure));
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const ids = new Set(pack.rules.map((r) => r.id));
  const add = (measure: string) => {
    if (seen.has(measure)) return;
    seen.add(measure);
    // One of x / y and y / x: the steps of either say the same.
    const ratio = /^(\(.*\)|[^ ]+) \/ (\(.*\)|[^ ]+)$/.exec(measure);
    if (ratio) seen.add(`${ratio[2]} / ${ratio[1]}`);
    let id = candidateId(measure);
    for (let k = 2; ids.has(id); k++) id = `${candidateId(measure)}_${k}`;
    ids.add(id);
    out.push({ id, measure });
  };
  for (const m of found) {
    try {
      const c = checkExpression(parseExpression(m), { measures: pack.measures });
      if (c.unit !== 'bool' && c.unit !== 'day') add(m);
    } catch {
      // Not a number the language can compute (a date over a date): no candidate.
    }
  }
  for (const m of listed) {
    numberExpression(m, pack.measures, `--measures ${m}`);
    add(m);
  }
  return out;
}

/** Splits --measures at commas outside parentheses: tickets('complaint', -90, -1),amount(M0). */
export function splitMeasureList(list: string): string[] {
  const out: string[] = [];
  let depth = 0,
    from = 0;
  for (let k = 0; k <= list.length; k++) {
    const c = list[k];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' && depth === 0) || c === undefined) {
      const m = list.slice(from, k).trim();
      if (m !== '') out.push(m);
      from = k + 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The pack text

export interface CardMeasure extends Candidate {
  /** Step edges, ascending: steps are (−∞, e0), [e0, e1), ..., [e_last, ∞). */
  edges: number[];
  /** Points per step (edges.length + 1); 0: the step is left out. */
  points: number[];
}

export interface CardSpec {
  intercept: number;
  flagRisk: number;
  /** Points per rule id of the pack's own rules. */
  rulePoints: Map<string, number>;
  measures: CardMeasure[];
  fitted: Record<string, string | number> | null;
  header: string | null;
}

const GENERIC_ACTION = 'Call to learn what changed for the customer; offer a plan that fits the new usage.';
const GENERIC_ACTION_ZH = '致电了解客户情况变化，推荐适合当前用量的套餐。';

/**
 * The old pack's text as a logistic pack: its sections (value, tiers, tasks, policy,
 * channels, texts, comments) as they were, each rule's weight (or points) replaced by
 * its points, and the score keys and the scorecard set. The steps of a measure with 0
 * points are left out (a step not written scores 0 as well).
 */
export function scorecardPackText(oldText: string, spec: CardSpec): string {
  const doc = parseDocument(oldText);
  // Read before the rules' points are rewritten below (the keys read are not among them).
  const old = doc.toJS() as { pack?: string; ranking?: string; locales?: string[] };
  const root = doc.contents as YAMLMap;
  const rules = root.get('rules', true);
  if (isSeq(rules)) {
    for (const item of rules.items) {
      if (!isMap(item)) continue;
      const id = String(item.get('id'));
      const at = item.items.findIndex((p) => isScalar(p.key) && (p.key.value === 'weight' || p.key.value === 'points'));
      const pair = doc.createPair('points', spec.rulePoints.get(id) ?? 0);
      if (at >= 0) item.items.splice(at, 1, pair);
      else item.items.push(pair);
    }
  }
  // Another name, so a manifest or a backtest never passes the calibrated pack off as the one it came from.
  if (spec.fitted !== null && typeof old.pack === 'string' && !old.pack.endsWith('-calibrated')) root.set('pack', `${old.pack}-calibrated`);
  for (const key of ['score', 'ranking', 'intercept', 'flag_risk', 'fitted', 'scorecard']) root.delete(key);
  const ranking = old.ranking ?? 'expected_loss';
  const before = root.items.findIndex((p) => isScalar(p.key) && p.key.value === 'rules');
  const scoreKeys = [
    doc.createPair('score', 'logistic'),
    doc.createPair('ranking', ranking),
    doc.createPair('intercept', spec.intercept),
    doc.createPair('flag_risk', spec.flagRisk),
    ...(spec.fitted === null ? [] : [doc.createPair('fitted', spec.fitted)]),
  ];
  const first = scoreKeys[0]!.key as { commentBefore?: string; spaceBefore?: boolean };
  first.spaceBefore = true;
  first.commentBefore =
    ' The score: risk = 1 / (1 + exp(-(intercept + the points of every rule and step hit))),\n' +
    ' a probability when the points were fitted on labelled history (churnwatch calibrate).\n' +
    ' A subscriber is flagged when a term with positive points is hit and risk >= flag_risk.';
  root.items.splice(before < 0 ? root.items.length : before, 0, ...scoreKeys);
  const zh = old.locales?.includes('zh-CN') === true;
  const card = spec.measures
    .filter((m) => m.points.some((p) => p !== 0))
    .map((m) => ({
      id: m.id,
      title: m.measure,
      measure: m.measure,
      action: GENERIC_ACTION,
      ...(zh ? { texts: { 'zh-CN': { title: m.measure, action: GENERIC_ACTION_ZH } } } : {}),
      steps: m.points.flatMap((points, k) =>
        points === 0
          ? []
          : [{ ...(k > 0 ? { from: m.edges[k - 1]! } : {}), ...(k < m.edges.length ? { below: m.edges[k]! } : {}), points }],
      ),
    }));
  if (card.length > 0) {
    const node = doc.createNode(card) as unknown as { items: YAMLMap[] };
    for (const entry of node.items) {
      const steps = entry.get('steps', true) as unknown as { items: { flow: boolean }[] };
      for (const s of steps.items) s.flow = true;
    }
    const pair = doc.createPair('scorecard', node);
    (pair.key as { commentBefore?: string; spaceBefore?: boolean }).commentBefore =
      ' Graded steps of measures: each step is a rule <id>_<k> flagging from <= measure < below\n' +
      ' (the first step is open below, the last open above), with its points.';
    (pair.key as { spaceBefore?: boolean }).spaceBefore = true;
    root.items.push(pair);
  }
  if (spec.header !== null) (doc as Document).commentBefore = spec.header;
  return doc.toString({ lineWidth: 0 });
}

// ---------------------------------------------------------------------------
// Split, steps and fit

/** 1 for a subscriber of the held-out part: FNV-1a of seed and id, so the split is keyed, stable and needs no state. */
export function heldOutPart(ids: TextColumn, seed: string): Uint8Array {
  const out = new Uint8Array(ids.length);
  const key = new TextEncoder().encode(`${seed}\u0000`);
  const bound = Math.round(HELD_OUT_SHARE * 1000);
  for (let i = 0; i < ids.length; i++) {
    let h = 0x811c9dc5;
    for (const b of key) h = Math.imul(h ^ b, 0x01000193);
    for (let k = ids.start(i); k < ids.end(i); k++) h = Math.imul(h ^ ids.bytes[k]!, 0x01000193);
    out[i] = (h >>> 0) % 1000 < bound ? 1 : 0;
  }
  return out;
}

/** Quantile edges of the finite values, rounded to EDGE_DIGITS significant digits; equal and empty steps merge. */
export function quantileEdges(values: ArrayLike<number>, quantiles: readonly number[] = STEP_QUANTILES): number[] {
  // A typed array's own sort is numeric and native: a comparator sort of a JS array cost seconds per measure at 1M.
  let m = 0;
  const finite = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite[m++] = values[i]!;
  const v = finite.subarray(0, m).sort() as unknown as number[];
  if (v.length === 0) return [];
  const lo = v[0]!,
    hi = v[v.length - 1]!;
  const edges: number[] = [];
  for (const q of quantiles) {
    const e = Number(quantileSorted(v, q).toPrecision(EDGE_DIGITS)) + 0;
    // A step below the smallest value or above the largest would be empty.
    if (e > lo && e <= hi && (edges.length === 0 || e > edges[edges.length - 1]!)) edges.push(e);
  }
  return edges;
}

export interface HeldOutFigures {
  topDecileLift: number;
  auc: number;
}

function heldOutFigures(risk: Float64Array, label: Uint8Array, ids: TextColumn): HeldOutFigures {
  const all = Array.from({ length: risk.length }, (_, i) => i);
  const d = decileTable(byLossThenId(all, risk, ids), risk, label);
  return { topDecileLift: d.rows[0]!.lift, auc: rocAuc(risk, label) };
}

export interface Calibration {
  text: string;
  pack: RulePack;
  old: HeldOutFigures;
  new: HeldOutFigures;
  /** The new pack is worse on the held-out part (lower top-decile lift, or equal lift and lower AUC). */
  worse: boolean;
  sizes: { labelled: number; training: number; heldOut: number; churners: number };
  candidates: number;
  steps: number;
}

export interface CalibrateInput {
  oldPack: RulePack;
  oldText: string;
  /** The name the pack texts are parsed under in messages (the --out file). */
  file: string;
  candidates: readonly Candidate[];
  table: FeatureTable;
  D: number;
  ids: TextColumn;
  /** Per subscriber: 0, 1 or UNLABELLED (joinLabels). */
  label: Uint8Array;
  oldScores: Scores;
  seed: string;
  monotone: boolean;
  /** sha256 of the extracts and the labels, for the record. */
  dataSha256: string;
  version: string;
}

const round = (x: number, d: number) => Number(x.toFixed(d)) + 0;

export function calibrate(input: CalibrateInput): Calibration {
  const { oldPack, table, D, ids, label } = input;
  const n = ids.length;
  const held = heldOutPart(ids, input.seed);
  const excluded = evaluate(oldPack, table, D).excluded;
  const trainLabel = new Uint8Array(n).fill(UNLABELLED);
  const heldLabel = new Uint8Array(n).fill(UNLABELLED);
  const trainRows: number[] = [];
  let churners = 0,
    heldOut = 0;
  for (let i = 0; i < n; i++) {
    const y = label[i]!;
    if (y === UNLABELLED || excluded[i]) continue;
    churners += y;
    if (held[i]) {
      heldLabel[i] = y;
      heldOut++;
    } else {
      trainLabel[i] = y;
      trainRows.push(i);
    }
  }
  if (trainRows.length === 0 || heldOut === 0 || churners === 0)
    throw new ChurnwatchError(
      'CW_CALIBRATE_DATA',
      `the labels leave ${trainRows.length} subscribers to train on and ${heldOut} to hold out, with ${churners} churners; calibrate needs labelled churners and non-churners in both parts: pass a labels file that covers the extracts' subscribers`,
    );

  // Steps from the training part only: the held-out part must not shape the card it judges.
  const measures: CardMeasure[] = input.candidates.flatMap((c) => {
    const { compiled } = numberExpression(c.measure, oldPack.measures, `candidate ${c.measure}`);
    const values = new Float64Array(n);
    compiled.run(columnsFor(table, compiled.columns), n, D, values);
    const edges = quantileEdges(Float64Array.from(trainRows, (i) => values[i]!));
    return edges.length === 0 ? [] : [{ ...c, edges, points: new Array<number>(edges.length + 1).fill(1) }];
  });
  const oldSteps = new Set(oldPack.scorecard.flatMap((s) => s.steps.map((t) => t.rule)));
  const ownRules = oldPack.rules.filter((r) => r.enabled && !oldSteps.has(r.id)).map((r) => r.id);

  // Fit; with monotone, merge in each measure the two neighbouring steps that break its direction most, and fit again.
  let fit: { intercept: number; points: Map<string, number> };
  let last: { flags: readonly Uint8Array[]; ruleIds: readonly string[] };
  for (;;) {
    // Every step written (a step with 0 points would be left out and renumber the rest).
    const all = measures.map((m) => ({ ...m, points: m.points.map(() => 1) }));
    const design = parseRulePack(
      scorecardPackText(input.oldText, { intercept: 0, flagRisk: 0, rulePoints: new Map(), measures: all, fitted: null, header: null }),
      input.file,
    );
    const ev = evaluate(design, table, D);
    last = ev;
    const f = fitLogistic(ev.flags, trainLabel, trainRows, { l2: L2 });
    const points = new Map(ev.ruleIds.map((id, j) => [id, f.coef[j]!]));
    fit = { intercept: f.intercept, points };
    for (const m of measures) m.points = m.points.map((_, k) => points.get(`${m.id}_${k + 1}`) ?? 0);
    if (!input.monotone || !mergeViolations(measures)) break;
  }
  // A step whose points stay near 0 says little and costs a rule column every night: refit without those.
  const stepIds = new Set(measures.flatMap((m) => m.points.map((_, k) => `${m.id}_${k + 1}`)));
  const kept = last.ruleIds.map((id) => !stepIds.has(id) || Math.abs(fit.points.get(id)!) >= MIN_STEP_POINTS);
  if (kept.includes(false)) {
    const f = fitLogistic(
      last.flags.filter((_, j) => kept[j]),
      trainLabel,
      trainRows,
      { l2: L2 },
    );
    const ids = last.ruleIds.filter((_, j) => kept[j]);
    const points = new Map(last.ruleIds.map((id) => [id, 0]));
    ids.forEach((id, j) => {
      points.set(id, f.coef[j]!);
    });
    fit = { intercept: f.intercept, points };
    for (const m of measures) m.points = m.points.map((_, k) => points.get(`${m.id}_${k + 1}`) ?? 0);
  }

  const rulePoints = new Map<string, number>();
  for (const id of ownRules) rulePoints.set(id, round(fit.points.get(id) ?? 0, POINT_DECIMALS));
  for (const m of measures) m.points = m.points.map((p) => round(p, POINT_DECIMALS));
  const intercept = round(fit.intercept, POINT_DECIMALS);

  // flag_risk: the new pack flags about as many of the training part as the old one did, so the call volume stays.
  const oldFlagged = trainRows.filter((i) => input.oldScores.hits[i]! > 0 && input.oldScores.risk[i]! >= oldPack.tasks.minRisk).length;
  const spec: CardSpec = { intercept, flagRisk: 0, rulePoints, measures, fitted: null, header: null };
  const unflagged = parseRulePack(scorecardPackText(input.oldText, spec), input.file);
  const risk0 = score(unflagged, evaluate(unflagged, table, D), ids).risk;
  const trainRisk = trainRows.map((i) => risk0[i]!).sort((a, b) => b - a);
  spec.flagRisk = oldFlagged === 0 ? 1 : Math.floor(trainRisk[Math.min(oldFlagged, trainRisk.length) - 1]! * 1e4) / 1e4;

  const oldFigures = heldOutFigures(input.oldScores.risk, heldLabel, ids);
  const newFigures = heldOutFigures(risk0, heldLabel, ids);
  const sizes = { labelled: trainRows.length + heldOut, training: trainRows.length, heldOut, churners };
  spec.fitted = {
    by: `churnwatch ${input.version} calibrate`,
    from_pack: `${oldPack.name} v${oldPack.version} sha256 ${oldPack.hash}`,
    data_sha256: input.dataSha256,
    as_of: formatDay(D),
    labelled: sizes.labelled,
    churners,
    training: sizes.training,
    held_out: sizes.heldOut,
    split: `keyed hash of subscriber id and seed, ${HELD_OUT_SHARE * 100}% held out`,
    seed: input.seed,
    l2: L2,
    min_step_points: MIN_STEP_POINTS,
    monotone: input.monotone ? 'yes' : 'no',
    held_out_top_decile_lift: round(newFigures.topDecileLift, 4),
    held_out_auc: round(newFigures.auc, 4),
    old_pack_held_out_top_decile_lift: round(oldFigures.topDecileLift, 4),
    old_pack_held_out_auc: round(oldFigures.auc, 4),
  };
  spec.header = [
    ` Calibrated scorecard, written by churnwatch ${input.version} calibrate from the pack`,
    ` ${oldPack.name} v${oldPack.version} (sha256 ${oldPack.hash}).`,
    ` Fitted on the extracts as of ${formatDay(D)} and their labels (data sha256 ${input.dataSha256}):`,
    ` ${sizes.labelled} labelled subscribers, ${churners} churners; ${sizes.training} to train on, ${sizes.heldOut} held out`,
    ` (keyed split, seed ${input.seed}). Steps are quantiles of the training part; points come from`,
    ` an L2-regularised logistic fit (l2 ${L2}${input.monotone ? ', steps merged until monotone' : ''}; steps under ${MIN_STEP_POINTS} points dropped, then refitted).`,
    ` Held-out top-decile lift ${newFigures.topDecileLift.toFixed(2)}x (old pack ${oldFigures.topDecileLift.toFixed(2)}x),`,
    ` AUC ${newFigures.auc.toFixed(3)} (old pack ${oldFigures.auc.toFixed(3)}). The figures are also under fitted: below.`,
    ` Check it with: churnwatch rules check; measure it with: churnwatch backtest --rules <this file>.`,
  ].join('\n');
  const text = scorecardPackText(input.oldText, spec);
  const pack = parseRulePack(text, input.file);
  const worse =
    newFigures.topDecileLift < oldFigures.topDecileLift ||
    (newFigures.topDecileLift === oldFigures.topDecileLift && newFigures.auc < oldFigures.auc);
  return {
    text,
    pack,
    old: oldFigures,
    new: newFigures,
    worse,
    sizes,
    candidates: input.candidates.length,
    steps: pack.scorecard.reduce((s, m) => s + m.steps.length, 0),
  };
}

/**
 * In each measure whose points break its direction (the sign of last − first step),
 * merges the two neighbouring steps that break it most: the classic coarse classing,
 * one merge per measure per fit. False when every measure is monotone.
 */
export function mergeViolations(measures: CardMeasure[]): boolean {
  let merged = false;
  for (const m of measures) {
    const p = m.points;
    const up = p[p.length - 1]! >= p[0]!;
    let worst = -1,
      most = 1e-9;
    for (let k = 0; k + 1 < p.length; k++) {
      const by = up ? p[k]! - p[k + 1]! : p[k + 1]! - p[k]!;
      if (by > most) [worst, most] = [k, by];
    }
    if (worst < 0) continue;
    m.edges.splice(worst, 1);
    m.points.splice(worst, 1);
    merged = true;
  }
  return merged;
}

/** What calibrate prints: the sizes, then the held-out figures of both packs side by side. */
export function calibrationText(c: Calibration): string {
  const s = c.sizes;
  const lift = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
  const auc = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
  return [
    `labelled subscribers ${s.labelled} (${s.churners} churners): ${s.training} to train on, ${s.heldOut} held out`,
    `candidate measures ${c.candidates}; the new pack has ${c.steps} steps and ${c.pack.rules.length - c.steps} rules with points`,
    '',
    'held out                 old pack   new pack',
    `top-decile lift          ${lift(c.old.topDecileLift).padStart(8)}   ${lift(c.new.topDecileLift).padStart(8)}`,
    `AUC                      ${auc(c.old.auc).padStart(8)}   ${auc(c.new.auc).padStart(8)}`,
    '',
  ].join('\n');
}
