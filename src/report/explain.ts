/**
 * Why a subscriber was (or was not) flagged: every rule with its condition, the
 * feature values it read for this subscriber and its verdict, plus value, tier and
 * risk. Pure: values in, text or a plain object out. For analysts checking a rule;
 * it prints no phone number or name.
 */
import type { RulePack } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { SCALARS, STATUS_VALUES } from '../rules/catalogue.js';
import type { Evaluation } from '../rules/evaluate.js';
import { TIER_CODES, type Scores } from '../score/score.js';
import { formatNumber, renderReason } from '../tasks/tasks.js';
import { formatDay, formatMonth } from '../util/dates.js';

export interface RuleExplanation {
  id: string;
  enabled: boolean;
  flagged: boolean;
  when: string;
  weight: number;
  reads: Record<string, string>;
  reason?: string;
}

export interface Explanation {
  subscriber_id: string;
  as_of: string;
  months: Record<string, string>;
  status: string;
  excluded: boolean;
  value: string;
  tier: string;
  risk_score: string;
  expected_loss: string;
  rules: RuleExplanation[];
}

function featureText(table: FeatureTable, key: string, i: number): string {
  const v = table.columns.get(key)?.[i];
  if (v === undefined) return 'n/a';
  const scalar = SCALARS[key];
  if (scalar?.unit === 'enum') return scalar.values![v] ?? '(not given)';
  if (Number.isNaN(v)) return '(not given)';
  const unit = scalar?.unit ?? (key.startsWith('amount(') ? 'money' : key.startsWith('tickets(') || key.startsWith('contracts_') || key.startsWith('hotline_calls(') ? 'count' : 'number');
  return formatNumber(v, unit, false);
}

export function explain(args: {
  pack: RulePack; D: number; m0: number; subscribers: SubscriberTable; table: FeatureTable; evaluation: Evaluation; scores: Scores; index: number;
}): Explanation {
  const { pack, D, m0, subscribers: s, table, evaluation: ev, scores, index: i } = args;
  const rules = pack.rules.map((r) => {
    const j = ev.ruleIds.indexOf(r.id);
    const flagged = j >= 0 && ev.flags[j]![i] === 1;
    const reads = Object.fromEntries([...r.features.keys()].map((k) => [k, r.enabled ? featureText(table, k, i) : 'n/a']));
    return {
      id: r.id, enabled: r.enabled, flagged, when: r.when.replace(/\s+/g, ' '), weight: r.weight, reads,
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
    value: ev.value[i]!.toFixed(2),
    tier: TIER_CODES[scores.tier[i]!]!,
    risk_score: scores.risk[i]!.toFixed(4),
    expected_loss: scores.expectedLoss[i]!.toFixed(2),
    rules,
  };
}

export function explanationText(e: Explanation, pack: RulePack): string {
  const lines = [
    `subscriber ${e.subscriber_id}, as of ${e.as_of} (M0 ${e.months.M0}, M1 ${e.months.M1}, M2 ${e.months.M2}, M3 ${e.months.M3})`,
    `status ${e.status}; value ${e.value} (${pack.value.expr}) → tier ${e.tier}; risk ${e.risk_score}; expected loss ${e.expected_loss}`,
  ];
  if (e.excluded) lines.push(`never flagged: ${pack.exclude.expr}`);
  lines.push('');
  for (const r of e.rules) {
    lines.push(`${r.flagged ? '[x]' : '[ ]'} ${r.id}${r.enabled ? '' : ' (disabled)'}  weight ${r.weight}`);
    lines.push(`      when ${r.when}`);
    for (const [k, v] of Object.entries(r.reads)) lines.push(`      ${k} = ${v}`);
    if (r.reason) lines.push(`      reason: ${r.reason}`);
  }
  return lines.join('\n') + '\n';
}
