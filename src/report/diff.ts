/**
 * What a rule-pack change does: who enters the flagged set and who leaves it, each
 * rule's hits on both sides, the moves between task tiers, and with labels the
 * precision and lift of each side. Pure: two analyses of the same extracts in,
 * figures and text out.
 *
 * "Flagged" is what gets a task before contact suppression (as in backtest). A
 * scorecard's steps are grouped by measure (one row each, the steps summed: a
 * calibrated pack has dozens of steps, and an analyst asks what changed per measure
 * first), each step under its measure for --steps and --json. Ids of
 * the subscribers who enter or leave are listed only when asked for (--list N): an
 * analyst needs a few to explain, and subscriber ids are what explain takes; phone
 * numbers and names are never shown.
 */
import { stepRange, type RulePack, type ScorecardMeasure } from '../config/rulepack.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import { TIERS } from '../contract/contract.js';
import type { Scores } from '../score/score.js';
import { formatDay } from '../util/dates.js';
import type { FlagMeasures } from '../util/metrics.js';
import type { TextColumn } from '../util/text-column.js';
import { aucText, flagTable, measureScores, times, type LabelJoin, type ScoreMeasures } from './backtest.js';
import { alignColumns } from './text-table.js';

export interface Side {
  pack: RulePack;
  evaluation: Evaluation;
  scores: Scores;
}

export interface RuleChange {
  id: string;
  /** Hits on each side; null where the rule is not enabled in that pack. */
  hitsA: number | null;
  hitsB: number | null;
  /** Subscribers hit by A and not by B, and the other way round. */
  onlyA: number;
  onlyB: number;
  /** With labels: churners among each side's hits (null where the rule is not in that pack). */
  churnersA?: number | null;
  churnersB?: number | null;
}

/**
 * A scorecard step, matched between the packs by its bounds (id: below 7.07, 7.07 to
 * below 9, ...), not by its rule id: amount_m0_2 of one fit may cut elsewhere in the other.
 */
export interface StepChange extends RuleChange {
  /** The step's rule in each pack; null where that pack has no step with these bounds. */
  ruleA: string | null;
  ruleB: string | null;
}

/**
 * One scorecard measure, its steps summed: hits are subscribers in any of its steps
 * (the steps of a measure do not overlap), A only / B only those in a step on one side
 * and in none on the other, and moved those in a step on both sides whose bounds differ.
 */
export interface MeasureChange extends RuleChange {
  measure: string;
  /** The measure's steps in each pack; null where the pack has no such measure. */
  stepsA: number | null;
  stepsB: number | null;
  moved: number;
  steps: StepChange[];
}

/** Tier of a subscriber's task, or 'none' when not flagged. */
export const TASK_TIERS = [...TIERS, 'none'] as const;

export interface PackDiff {
  asOf: string;
  packs: { a: { name: string; version: number; hash: string }; b: { name: string; version: number; hash: string } };
  subscribers: number;
  flagged: { a: number; b: number; both: number; enter: number; leave: number };
  /** The first ids (in id order) of those who enter and leave, when asked for. */
  listed?: { enter: string[]; leave: string[] };
  /** The packs' own rules (scorecard steps are under measures). */
  rules: RuleChange[];
  measures: MeasureChange[];
  /** tierMoves[x][y]: subscribers with task tier TASK_TIERS[x] under A and TASK_TIERS[y] under B. */
  tierMoves: number[][];
  labels?: {
    a: SideMeasures;
    b: SideMeasures;
    labelled: number;
    churners: number;
    unknownSubscribers: number;
    unlabelledSubscribers: number;
  };
}

export type SideMeasures = { combined: FlagMeasures; auc: number; topDecileLift: number };

function flaggedOf(side: Side): Uint8Array {
  const { scores, pack } = side;
  const f = new Uint8Array(scores.risk.length);
  for (let i = 0; i < f.length; i++) f[i] = scores.hits[i]! > 0 && scores.risk[i]! >= pack.tasks.minRisk ? 1 : 0;
  return f;
}

/** Ids in A's order, then B's own. */
function union(a: readonly string[], b: readonly string[]): string[] {
  return [...a, ...b.filter((id) => !a.includes(id))];
}

/** Hits, one-sided hits and (with labels) churners of two 0/1 columns; null marks the side without the rule. */
function compareFlags(id: string, fa: Uint8Array | null, fb: Uint8Array | null, label: Uint8Array | undefined, n: number): RuleChange {
  let hitsA = 0,
    hitsB = 0,
    onlyA = 0,
    onlyB = 0,
    churnA = 0,
    churnB = 0;
  for (let i = 0; i < n; i++) {
    const x = fa === null ? 0 : fa[i]!,
      y = fb === null ? 0 : fb[i]!;
    hitsA += x;
    hitsB += y;
    if (x && !y) onlyA++;
    else if (y && !x) onlyB++;
    if (label !== undefined && label[i] === 1) {
      churnA += x;
      churnB += y;
    }
  }
  const out: RuleChange = { id, hitsA: fa === null ? null : hitsA, hitsB: fb === null ? null : hitsB, onlyA, onlyB };
  if (label !== undefined) {
    out.churnersA = fa === null ? null : churnA;
    out.churnersB = fb === null ? null : churnB;
  }
  return out;
}

/** A rule's flags on one side, or null where it is not an enabled rule of that pack. */
function flagsOf(side: Side, id: string): Uint8Array | null {
  const j = side.evaluation.ruleIds.indexOf(id);
  return j >= 0 ? side.evaluation.flags[j]! : null;
}

const stepIds = (pack: RulePack): string[] => pack.scorecard.flatMap((m) => m.steps.map((st) => st.rule));

function ruleChanges(a: Side, b: Side, n: number, label: Uint8Array | undefined): RuleChange[] {
  const steps = new Set([...stepIds(a.pack), ...stepIds(b.pack)]);
  return union(a.evaluation.ruleIds, b.evaluation.ruleIds)
    .filter((id) => !steps.has(id))
    .map((id) => compareFlags(id, flagsOf(a, id), flagsOf(b, id), label, n));
}

/** Per subscriber, 1 + the index of the measure's step hit, 0 for none. */
function stepIndex(side: Side, m: ScorecardMeasure, n: number): Uint8Array {
  const at = new Uint8Array(n);
  m.steps.forEach((st, k) => {
    const f = flagsOf(side, st.rule);
    if (f !== null) for (let i = 0; i < n; i++) if (f[i]) at[i] = k + 1;
  });
  return at;
}

const anyStep = (at: Uint8Array | null): Uint8Array | null => at && Uint8Array.from(at, (k) => (k > 0 ? 1 : 0));

/** The steps of both sides by their bounds, lowest first; a step both packs cut alike is one row. */
function matchSteps(ma: ScorecardMeasure | null, mb: ScorecardMeasure | null) {
  const rows = new Map<string, { range: string; from: number; below: number; ruleA: string | null; ruleB: string | null }>();
  for (const [m, side] of [
    [ma, 'ruleA'],
    [mb, 'ruleB'],
  ] as const)
    for (const st of m?.steps ?? []) {
      const range = stepRange(st.from, st.below);
      const row = rows.get(range) ?? { range, from: st.from ?? -Infinity, below: st.below ?? Infinity, ruleA: null, ruleB: null };
      row[side] = st.rule;
      rows.set(range, row);
    }
  return [...rows.values()].sort((x, y) => x.from - y.from || x.below - y.below);
}

function measureChanges(a: Side, b: Side, n: number, label: Uint8Array | undefined): MeasureChange[] {
  const find = (p: RulePack, id: string) => p.scorecard.find((m) => m.id === id) ?? null;
  const ranges = (m: ScorecardMeasure | null) => m?.steps.map((st) => stepRange(st.from, st.below)) ?? [];
  return union(
    a.pack.scorecard.map((m) => m.id),
    b.pack.scorecard.map((m) => m.id),
  ).map((id) => {
    const ma = find(a.pack, id),
      mb = find(b.pack, id);
    const atA = ma && stepIndex(a, ma, n),
      atB = mb && stepIndex(b, mb, n);
    // Steps are compared by their bounds: the same id may cut elsewhere in the other pack.
    const rangesA = ranges(ma),
      rangesB = ranges(mb);
    let moved = 0;
    if (atA && atB)
      for (let i = 0; i < n; i++) {
        const x = atA[i]!,
          y = atB[i]!;
        if (x > 0 && y > 0 && rangesA[x - 1] !== rangesB[y - 1]) moved++;
      }
    return {
      ...compareFlags(id, anyStep(atA), anyStep(atB), label, n),
      measure: (ma ?? mb)!.measure,
      stepsA: ma === null ? null : ma.steps.length,
      stepsB: mb === null ? null : mb.steps.length,
      moved,
      steps: matchSteps(ma, mb).map(({ range, ruleA, ruleB }) => ({
        ...compareFlags(range, ruleA === null ? null : flagsOf(a, ruleA), ruleB === null ? null : flagsOf(b, ruleB), label, n),
        ruleA,
        ruleB,
      })),
    };
  });
}

function sideMeasures(m: ScoreMeasures): SideMeasures {
  return { combined: m.combined, auc: m.ranking.auc, topDecileLift: m.ranking.deciles.rows[0]!.lift };
}

export function diffPacks(args: { asOf: number; ids: TextColumn; a: Side; b: Side; list?: number; labels?: LabelJoin }): PackDiff {
  const { ids, a, b } = args;
  const n = ids.length;
  const fa = flaggedOf(a),
    fb = flaggedOf(b);
  const moves = TASK_TIERS.map(() => TASK_TIERS.map(() => 0));
  const enter: number[] = [],
    leave: number[] = [];
  let countA = 0,
    countB = 0,
    both = 0;
  for (let i = 0; i < n; i++) {
    countA += fa[i]!;
    countB += fb[i]!;
    if (fa[i] && fb[i]) both++;
    else if (fb[i]) enter.push(i);
    else if (fa[i]) leave.push(i);
    moves[fa[i] ? a.scores.tier[i]! : 3]![fb[i] ? b.scores.tier[i]! : 3]!++;
  }
  const firstIds = (list: number[]): string[] =>
    list
      .sort((x, y) => ids.compare(x, y))
      .slice(0, args.list)
      .map((i) => ids.get(i));
  const meta = (p: RulePack) => ({ name: p.name, version: p.version, hash: p.hash });
  const out: PackDiff = {
    asOf: formatDay(args.asOf),
    packs: { a: meta(a.pack), b: meta(b.pack) },
    subscribers: n,
    flagged: { a: countA, b: countB, both, enter: enter.length, leave: leave.length },
    ...(args.list ? { listed: { enter: firstIds(enter), leave: firstIds(leave) } } : {}),
    rules: ruleChanges(a, b, n, args.labels?.label),
    measures: measureChanges(a, b, n, args.labels?.label),
    tierMoves: moves,
  };
  if (args.labels) {
    const j = args.labels;
    const ma = measureScores(a.pack, a.evaluation, a.scores, ids, j.label);
    const mb = measureScores(b.pack, b.evaluation, b.scores, ids, j.label);
    out.labels = {
      a: sideMeasures(ma),
      b: sideMeasures(mb),
      labelled: j.labelled,
      churners: ma.ranking.deciles.churners,
      unknownSubscribers: j.unknownSubscribers,
      unlabelledSubscribers: j.unlabelledSubscribers,
    };
  }
  return out;
}

/** Rows of rule or measure changes: the leading cells of `head`, then hits, change, one-sided hits, moved, churners. */
function changeTable<R extends RuleChange & { moved?: number }>(
  head: string[],
  rows: readonly R[],
  lead: (r: R) => string[],
  labelled: boolean,
  moved = false,
): string[] {
  const count = (v: number | null | undefined) => (v === null || v === undefined ? '-' : String(v));
  const header = [
    ...head,
    'A',
    'B',
    'change',
    'A only',
    'B only',
    ...(moved ? ['moved'] : []),
    ...(labelled ? ['churners A', 'churners B'] : []),
  ];
  return alignColumns(
    [
      header,
      ...rows.map((r) => [
        r.id,
        ...lead(r),
        count(r.hitsA),
        count(r.hitsB),
        signed((r.hitsB ?? 0) - (r.hitsA ?? 0)),
        String(r.onlyA),
        String(r.onlyB),
        ...(moved ? [String(r.moved ?? 0)] : []),
        ...(labelled ? [count(r.churnersA), count(r.churnersB)] : []),
      ]),
    ],
    header.map((h, k) => k > 0 && !h.startsWith('step ')),
  ).map((l) => `  ${l}`);
}

export function diffText(d: PackDiff, options: { steps?: boolean } = {}): string {
  const f = d.flagged;
  const name = (p: PackDiff['packs']['a']) => `${p.name} v${p.version} (sha256 ${p.hash.slice(0, 12)})`;
  const lines = [
    `diff as of ${d.asOf} over ${d.subscribers} subscribers`,
    `  A: ${name(d.packs.a)}`,
    `  B: ${name(d.packs.b)}`,
    '',
    `flagged: A ${f.a}, B ${f.b}; in both ${f.both}; ${f.enter} enter (B only), ${f.leave} leave (A only)`,
  ];
  if (d.listed) {
    lines.push(`  first entering: ${d.listed.enter.join(' ') || '-'}`);
    lines.push(`  first leaving:  ${d.listed.leave.join(' ') || '-'}`);
  }
  const labelled = d.labels !== undefined;
  lines.push('', 'hits per rule', ...changeTable(['rule'], d.rules, () => [], labelled));
  if (d.measures.length > 0) {
    const steps = (v: number | null) => (v === null ? '-' : String(v));
    lines.push(
      '',
      `scorecard measures (each measure's steps summed; moved: in a step on both sides, bounds differ${options.steps ? '' : '; --steps lists each step'})`,
      ...changeTable(['measure', 'steps A', 'steps B'], d.measures, (m) => [steps(m.stepsA), steps(m.stepsB)], labelled, true),
    );
    if (options.steps)
      for (const m of d.measures)
        lines.push(
          '',
          `steps of ${m.id}: ${m.measure}`,
          ...changeTable(['range', 'step A', 'step B'], m.steps, (st) => [st.ruleA ?? '-', st.ruleB ?? '-'], labelled),
        );
  }
  lines.push(
    '',
    'task tier moves (rows A, columns B; none = not flagged)',
    ...alignColumns(
      [['A \\ B', ...TASK_TIERS], ...d.tierMoves.map((row, x) => [TASK_TIERS[x]!, ...row.map(String)])],
      [false, true, true, true, true],
    ).map((l) => `  ${l}`),
  );
  if (d.labels) {
    const l = d.labels;
    lines.push(
      '',
      `against labels: ${l.labelled} subscribers labelled, ${l.churners} churned; ${l.unknownSubscribers} labels for unknown subscribers, ${l.unlabelledSubscribers} subscribers without a label`,
      ...flagTable([
        { id: 'A flagged', ...l.a.combined },
        { id: 'B flagged', ...l.b.combined },
      ]).map((s) => `  ${s}`),
      `  ranking by risk: AUC A ${aucText(l.a.auc)}, B ${aucText(l.b.auc)}; top-decile lift A ${times(l.a.topDecileLift)}, B ${times(l.b.topDecileLift)}`,
    );
  }
  return lines.join('\n') + '\n';
}

function signed(v: number): string {
  return v > 0 ? `+${v}` : String(v);
}
