/**
 * Why a subscriber was (or was not) flagged: every rule with its condition, the
 * feature values it read for this subscriber and its verdict, plus value, tier and
 * risk. Pure: values in, text or a plain object out. For analysts checking a rule;
 * it prints no phone number or name.
 */
import type { Locale, RulePack } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { ATTRIBUTES, STATUS_VALUES, TIERS } from '../contract/contract.js';
import { featureUnit, type FeatureRequest } from '../rules/catalogue.js';
import { valueAt } from '../rules/compile.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import { logitTerms, type Scores } from '../score/score.js';
import { textsOf } from '../tasks/records.js';
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
  /** noisy-OR packs: the rule's weight. */
  weight?: number;
  /** logistic packs: the points the rule adds to the logit when hit. */
  points?: number;
  reads: Record<string, FeatureValue>;
  /** A flagged rule's title, reason (with its evidence) and action, in the configured locale (output.locale). */
  title?: string;
  reason?: string;
  action?: string;
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
  /**
   * logistic packs: the logit as a sum, the intercept plus the points of each rule hit
   * (pack order); risk_score is σ(total), 0 for an excluded subscriber.
   */
  logit?: { intercept: number; terms: { rule: string; points: number }[]; total: number };
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
  const c = table.columns.get(key);
  const v = c === undefined ? undefined : valueAt(c, i);
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
  /** The language of the rules' texts (output.locale); en when not given. */
  locale?: Locale;
}): Explanation {
  const { pack, D, m0, subscribers: s, table, evaluation: ev, scores, index: i } = args;
  const rules = pack.rules.map((r) => {
    const j = ev.ruleIds.indexOf(r.id);
    const flagged = j >= 0 && ev.flags[j]![i] === 1;
    const reads = Object.fromEntries([...r.features].map(([k, f]) => [k, r.enabled ? featureValue(table, k, f, i) : null]));
    const t = textsOf(r, args.locale ?? 'en');
    return {
      id: r.id,
      enabled: r.enabled,
      flagged,
      when: r.when.replace(/\s+/g, ' '),
      ...(pack.score === 'logistic' ? { points: r.weight } : { weight: r.weight }),
      reads,
      ...(flagged ? { title: t.title, reason: renderReason(t.reason, table, i, D), action: t.action } : {}),
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
    ...(pack.score === 'logistic' ? { logit: logitTerms(pack, ev, i) } : {}),
    policy: args.policyOf(i),
  };
}

/** The text form, for an analyst reading it; the policy outcome and the rules' texts in `locale`. */
export function explanationText(e: Explanation, pack: RulePack, locale: Locale = 'en'): string {
  const lines = [
    `subscriber ${e.subscriber_id}, as of ${e.as_of} (M0 ${e.months.M0}, M1 ${e.months.M1}, M2 ${e.months.M2}, M3 ${e.months.M3})`,
    `status ${e.status}; value ${fixed(e.value, 2)} (${pack.value.expr}) → tier ${e.tier}; risk ${fixed(e.risk_score, 4)}; expected loss ${fixed(e.expected_loss, 2)}`,
  ];
  if (e.excluded) lines.push(`never flagged: ${pack.exclude.expr}`);
  if (e.logit) {
    // Most raising first: the top of the list is why the subscriber scored high.
    const terms = [...e.logit.terms].sort((a, b) => b.points - a.points);
    const width = Math.max(9, ...terms.map((t) => t.rule.length));
    lines.push('points (risk = 1 / (1 + exp(-total))):');
    lines.push(`  ${'intercept'.padEnd(width)}  ${signed(e.logit.intercept).padStart(8)}`);
    const title = new Map(pack.rules.map((r) => [r.id, r.title]));
    for (const t of terms) lines.push(`  ${t.rule.padEnd(width)}  ${signed(t.points).padStart(8)}  ${title.get(t.rule) ?? ''}`);
    lines.push(`  ${'total'.padEnd(width)}  ${signed(e.logit.total).padStart(8)}  → risk ${fixed(e.risk_score, 4)}`);
  }
  lines.push(`${POLICY_WORDS[locale].label}: ${policyText(e.policy, locale)}`);
  lines.push('');
  // A scorecard's steps not hit are left out: a calibrated pack has dozens per subscriber, and the
  // points above already say what counted. --json keeps every rule.
  const steps = new Set(pack.scorecard.flatMap((m) => m.steps.map((st) => st.rule)));
  const shown = e.rules.filter((r) => r.flagged || !steps.has(r.id));
  for (const r of shown) {
    const features = pack.rules.find((p) => p.id === r.id)?.features;
    const strength = r.points === undefined ? `weight ${r.weight}` : `points ${signed(r.points)}`;
    lines.push(`${r.flagged ? '[x]' : '[ ]'} ${r.id}${r.enabled ? '' : ' (disabled)'}  ${strength}`);
    lines.push(`      when ${r.when}`);
    for (const [k, v] of Object.entries(r.reads)) lines.push(`      ${k} = ${!r.enabled ? 'n/a' : featureText(features?.get(k), v)}`);
    const w = POLICY_WORDS[locale];
    if (r.reason) lines.push(`      ${w.reason}: ${r.reason}`, `      ${w.title}: ${r.title}`, `      ${w.action}: ${r.action}`);
  }
  const hidden = e.rules.length - shown.length;
  if (hidden > 0) lines.push(`(${hidden} scorecard steps not hit are not listed; --json lists every rule)`);
  return lines.join('\n') + '\n';
}

/**
 * The policy outcome's wording per locale, and the labels of a flagged rule's texts. Codes, ids, states and file names stay as
 * the files write them, so what explain says can be found in the files.
 */
const POLICY_WORDS: Record<
  Locale,
  { label: string; reason: string; title: string; action: string; text: (p: PolicyOutcome) => string; codes: Record<string, string> }
> = {
  en: {
    label: 'policy',
    reason: 'reason',
    title: 'title',
    action: 'action',
    text: (p) => {
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
    },
    codes: {
      closed: 'the subscriber is closed',
      do_not_call: 'the phone number is on do_not_call.csv',
      below_min_risk: 'risk below tasks.min_risk',
      callback_pending: 'a callback is not due yet',
      retained_follow_up_later: 'retained; the next follow-up is not due yet',
      attempts_exhausted: 'unreachable up to the attempt limit',
      retry_later: 'unreachable; the retry is not due yet',
      cooldown: 'contacted recently (cooldown)',
      same_phone: 'another subscriber with the same number has the task',
    },
  },
  'zh-CN': {
    label: '联系策略',
    reason: '原因',
    title: '标题',
    action: '建议动作',
    text: (p) => {
      switch (p.outcome) {
        case 'task':
          return `有任务 ${p.task_id}（状态 ${p.state}，类型 ${p.task_type}）`;
        case 'suppressed':
          return `无任务：被策略 ${p.code} 拦截（见 suppressed.csv）`;
        case 'held_out':
          return '无任务：列入对照组（见 holdout.csv）';
        case 'over_capacity':
          return `今晚无任务：队列 ${p.queue} 已满，排名 ${p.rank}（见 overflow.csv）`;
        default:
          return '无任务：未触发预警';
      }
    },
    codes: {
      closed: '用户已销户',
      do_not_call: '号码在免打扰名单（do_not_call.csv）中',
      below_min_risk: '风险低于 tasks.min_risk',
      callback_pending: '约定的回访时间未到',
      retained_follow_up_later: '已挽留成功，下次回访时间未到',
      attempts_exhausted: '联系不上，已达尝试次数上限',
      retry_later: '联系不上，重拨时间未到',
      cooldown: '近期已联系（冷静期）',
      same_phone: '同一号码的另一用户已有任务',
    },
  },
};

function policyText(p: PolicyOutcome, locale: Locale): string {
  const words = POLICY_WORDS[locale];
  const text = words.text(p);
  return p.outcome === 'suppressed' && p.code !== undefined && words.codes[p.code] !== undefined ? `${text}: ${words.codes[p.code]}` : text;
}

function featureText(f: FeatureRequest | undefined, v: FeatureValue): string {
  if (v === null) return '(not given)';
  return typeof v === 'string' ? v : formatNumber(v, f ? featureUnit(f) : 'number', false);
}

/** Points as the pack writes them, with their sign: +0.412, -1.3. */
function signed(v: number): string {
  const t = String(Number(v.toFixed(6)) + 0);
  return v > 0 ? `+${t}` : t;
}

function fixed(v: number | null, decimals: number): string {
  return v === null ? '(not given)' : v.toFixed(decimals);
}

/** Explanations of several subscribers from one analysis, in the order given. */
export function explainMany(args: Omit<Parameters<typeof explain>[0], 'index'>, indexes: readonly number[]): Explanation[] {
  return indexes.map((index) => explain({ ...args, index }));
}

/** The text of several explanations, one block each, separated by a rule line. */
export function explanationsText(es: readonly Explanation[], pack: RulePack, locale: Locale = 'en'): string {
  return es.map((e) => explanationText(e, pack, locale)).join('\n' + '-'.repeat(72) + '\n\n');
}
