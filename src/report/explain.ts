/**
 * Why a subscriber was (or was not) flagged: every rule with its condition, the
 * feature values it read for this subscriber and its verdict, plus value, tier and
 * risk. Pure: values in, text or a plain object out. For analysts checking a rule;
 * it prints no phone number or name.
 */
import type { RulePack } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { ATTRIBUTES, STATUS_VALUES, TIERS } from '../contract/contract.js';
import { featureUnit, type FeatureRequest } from '../rules/catalogue.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import type { Scores } from '../score/score.js';
import { formatNumber, renderReason } from '../tasks/tasks.js';
import { formatDay, formatMonth } from '../util/dates.js';
import { TASK_STATES, type LedgerPlan } from '../tasks/ledger.js';
import { HELD_OUT, OVERFLOW, SUPPRESSED, SUPPRESSION_CODES, TASK, TASK_TYPES, type PolicyPlan } from '../tasks/policy.js';

/**
 * A feature as the rule read it: a number (rounded as the text form shows it), an
 * enum's value or a date as text, or null when it is not given (or the rule is disabled).
 */
export type FeatureValue = number | string | null;

export interface RuleExplanation {
  id: string;
  enabled: boolean;
  flagged: boolean;
  when: string;
  weight: number;
  reads: Record<string, FeatureValue>;
  reason?: string;
}

/** The JSON form: numbers are numbers, and what is not given is null. */
export interface Explanation {
  subscriber_id: string;
  as_of: string;
  months: Record<string, string>;
  status: string;
  excluded: boolean;
  value: number | null;
  tier: string;
  risk_score: number | null;
  expected_loss: number | null;
  rules: RuleExplanation[];
  /** What the contact policy did with the subscriber, as the run's files show it. */
  policy: PolicyOutcome;
}

export interface PolicyOutcome {
  outcome: 'not_flagged' | 'task' | 'suppressed' | 'held_out' | 'over_capacity';
  /** suppressed: the first policy that stopped the task (suppressed.csv's code). */
  code?: string;
  /** task: its id and state in the ledger, and its type. */
  task_id?: string;
  state?: string;
  task_type?: string;
  /** over_capacity: the queue that was full and the rank in it (overflow.csv). */
  queue?: string;
  rank?: number;
}

/** Subscriber i's policy outcome from the run's plan and ledger: the same decisions the published files carry. */
export function policyOutcome(plan: PolicyPlan, ledger: LedgerPlan, i: number): PolicyOutcome {
  switch (plan.outcome[i]) {
    case TASK: {
      const row = ledger.rows.openRowOf(i);
      return {
        outcome: 'task',
        task_id: ledger.rows.taskId(row),
        state: TASK_STATES[ledger.rows.state[row]!]!,
        task_type: TASK_TYPES[plan.taskType[i]!]!,
      };
    }
    case SUPPRESSED:
      return { outcome: 'suppressed', code: SUPPRESSION_CODES[plan.code[i]!]! };
    case HELD_OUT:
      return { outcome: 'held_out' };
    case OVERFLOW: {
      const k = plan.overflow.subscriber.indexOf(i);
      return { outcome: 'over_capacity', queue: plan.overflow.queues[plan.overflow.queue[k]!]!, rank: plan.overflow.rank[k]! };
    }
    default:
      return { outcome: 'not_flagged' };
  }
}

function featureValue(table: FeatureTable, key: string, f: FeatureRequest, i: number): FeatureValue {
  const v = table.columns.get(key)?.[i];
  if (v === undefined || Number.isNaN(v)) return null;
  const unit = featureUnit(f);
  if (unit === 'enum') return ATTRIBUTES[key]!.values![v] ?? null;
  if (unit === 'day') return formatDay(v);
  return unit === 'money' ? rounded(v, 2) : unit === 'count' ? Math.round(v) : Math.round(v * 100) / 100;
}

/** v with as many decimals as the text form and scores.csv show; null when it is not a finite number. */
function rounded(v: number, decimals: number): number | null {
  return Number.isFinite(v) ? Number(v.toFixed(decimals)) : null;
}

export function explain(args: {
  pack: RulePack;
  D: number;
  m0: number;
  subscribers: SubscriberTable;
  table: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
  index: number;
  /** Subscriber i's policy outcome (policyOutcome over the run's decisions). */
  policyOf: (i: number) => PolicyOutcome;
}): Explanation {
  const { pack, D, m0, subscribers: s, table, evaluation: ev, scores, index: i } = args;
  const rules = pack.rules.map((r) => {
    const j = ev.ruleIds.indexOf(r.id);
    const flagged = j >= 0 && ev.flags[j]![i] === 1;
    const reads = Object.fromEntries([...r.features].map(([k, f]) => [k, r.enabled ? featureValue(table, k, f, i) : null]));
    return {
      id: r.id,
      enabled: r.enabled,
      flagged,
      when: r.when.replace(/\s+/g, ' '),
      weight: r.weight,
      reads,
      ...(flagged ? { reason: renderReason(r.reason, table, i, D) } : {}),
    };
  });
  const months: Record<string, string> = {};
  for (let k = 0; k <= 3; k++) months[`M${k}`] = formatMonth(m0 - k);
  return {
    subscriber_id: s.ids.get(i),
    as_of: formatDay(D),
    months,
    status: STATUS_VALUES[s.status[i]!] ?? '?',
    excluded: ev.excluded[i] === 1,
    value: rounded(ev.value[i]!, 2),
    tier: TIERS[scores.tier[i]!]!,
    risk_score: rounded(scores.risk[i]!, 4),
    expected_loss: rounded(scores.expectedLoss[i]!, 2),
    rules,
    policy: args.policyOf(i),
  };
}

/** The text form, for an analyst reading it. */
export function explanationText(e: Explanation, pack: RulePack): string {
  const lines = [
    `subscriber ${e.subscriber_id}, as of ${e.as_of} (M0 ${e.months.M0}, M1 ${e.months.M1}, M2 ${e.months.M2}, M3 ${e.months.M3})`,
    `status ${e.status}; value ${fixed(e.value, 2)} (${pack.value.expr}) → tier ${e.tier}; risk ${fixed(e.risk_score, 4)}; expected loss ${fixed(e.expected_loss, 2)}`,
  ];
  if (e.excluded) lines.push(`never flagged: ${pack.exclude.expr}`);
  lines.push(`policy: ${policyText(e.policy)}`);
  lines.push('');
  for (const r of e.rules) {
    const features = pack.rules.find((p) => p.id === r.id)?.features;
    lines.push(`${r.flagged ? '[x]' : '[ ]'} ${r.id}${r.enabled ? '' : ' (disabled)'}  weight ${r.weight}`);
    lines.push(`      when ${r.when}`);
    for (const [k, v] of Object.entries(r.reads)) lines.push(`      ${k} = ${!r.enabled ? 'n/a' : featureText(features?.get(k), v)}`);
    if (r.reason) lines.push(`      reason: ${r.reason}`);
  }
  return lines.join('\n') + '\n';
}

function policyText(p: PolicyOutcome): string {
  switch (p.outcome) {
    case 'task':
      return `task ${p.task_id} (${p.state}, ${p.task_type})`;
    case 'suppressed':
      return `no task: suppressed by ${p.code} (suppressed.csv)`;
    case 'held_out':
      return 'no task: held out as the control group (holdout.csv)';
    case 'over_capacity':
      return `no task tonight: queue ${p.queue} full at rank ${p.rank} (overflow.csv)`;
    default:
      return 'no task: not flagged';
  }
}

function featureText(f: FeatureRequest | undefined, v: FeatureValue): string {
  if (v === null) return '(not given)';
  return typeof v === 'string' ? v : formatNumber(v, f ? featureUnit(f) : 'number', false);
}

function fixed(v: number | null, decimals: number): string {
  return v === null ? '(not given)' : v.toFixed(decimals);
}

/** Explanations of several subscribers from one analysis, in the order given. */
export function explainMany(args: Omit<Parameters<typeof explain>[0], 'index'>, indexes: readonly number[]): Explanation[] {
  return indexes.map((index) => explain({ ...args, index }));
}

/** The text of several explanations, one block each, separated by a rule line. */
export function explanationsText(es: readonly Explanation[], pack: RulePack): string {
  return es.map((e) => explanationText(e, pack)).join('\n' + '-'.repeat(72) + '\n\n');
}
