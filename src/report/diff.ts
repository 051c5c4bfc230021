/**
 * What a rule-pack change does: who enters the flagged set and who leaves it, each
 * rule's hits on both sides, the moves between task tiers, and with labels the
 * precision and lift of each side. Pure: two analyses of the same extracts in,
 * figures and text out.
 *
 * "Flagged" is what gets a task before contact suppression (as in backtest). Ids of
 * the subscribers who enter or leave are listed only when asked for (--list N): an
 * analyst needs a few to explain, and subscriber ids are what explain takes; phone
 * numbers and names are never shown.
 */
import type { RulePack } from '../config/rulepack.js';
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
  rules: RuleChange[];
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

function ruleChanges(a: Side, b: Side, n: number): RuleChange[] {
  const ids = [...a.evaluation.ruleIds, ...b.evaluation.ruleIds.filter((id) => !a.evaluation.ruleIds.includes(id))];
  const none = new Uint8Array(n);
  return ids.map((id) => {
    const ja = a.evaluation.ruleIds.indexOf(id),
      jb = b.evaluation.ruleIds.indexOf(id);
    const fa = ja >= 0 ? a.evaluation.flags[ja]! : none,
      fb = jb >= 0 ? b.evaluation.flags[jb]! : none;
    let hitsA = 0,
      hitsB = 0,
      onlyA = 0,
      onlyB = 0;
    for (let i = 0; i < n; i++) {
      hitsA += fa[i]!;
      hitsB += fb[i]!;
      if (fa[i] && !fb[i]) onlyA++;
      else if (fb[i] && !fa[i]) onlyB++;
    }
    return { id, hitsA: ja >= 0 ? hitsA : null, hitsB: jb >= 0 ? hitsB : null, onlyA, onlyB };
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
    rules: ruleChanges(a, b, n),
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

export function diffText(d: PackDiff): string {
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
  lines.push(
    '',
    'hits per rule',
    ...alignColumns(
      [
        ['rule', 'A', 'B', 'change', 'A only', 'B only'],
        ...d.rules.map((r) => [
          r.id,
          r.hitsA === null ? '-' : String(r.hitsA),
          r.hitsB === null ? '-' : String(r.hitsB),
          signed((r.hitsB ?? 0) - (r.hitsA ?? 0)),
          String(r.onlyA),
          String(r.onlyB),
        ]),
      ],
      [false, true, true, true, true, true],
    ).map((l) => `  ${l}`),
  );
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
