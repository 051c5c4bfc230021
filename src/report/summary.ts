/**
 * summary.json: what a run saw and did, built from values (the analysis and the
 * task counts). Holds no phone number, name or subscriber id. The per-stage and
 * per-file timings are the only values that differ between reruns of the same inputs.
 */
import type { RulePack } from '../config/rulepack.js';
import type { Extracts } from '../ingest/ingest.js';
import type { FeatureRequest } from '../rules/catalogue.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import { TIERS } from '../contract/contract.js';
import type { Scores } from '../score/score.js';
import type { LedgerPlan } from '../tasks/ledger.js';
import type { PolicyCounts } from '../tasks/policy.js';
import { formatDay, formatMonth, monthOfDay } from '../util/dates.js';

/** Per extract: bytes and rows read, accepted, rejected (by code), repeated; with times for summary.json. */
export function fileSummary(extracts: Pick<Extracts, 'files' | 'rejects'>, withTimes: boolean): Record<string, Record<string, unknown>> {
  const byCode = extracts.rejects.countsByCode();
  return Object.fromEntries(
    extracts.files.map((f) => [
      f.extract,
      {
        file: f.file,
        bytes: f.bytes,
        rows_read: f.records,
        rows_accepted: f.accepted,
        rows_rejected: f.rejected,
        ...(f.rejected > 0 ? { rejected_by_code: byCode[f.file] ?? {} } : {}),
        ...(f.duplicates !== undefined ? { rows_repeated: f.duplicates } : {}),
        ...(withTimes ? { ms: Math.round(f.ms) } : {}),
      },
    ]),
  );
}

export interface SummaryInput {
  asOf: number;
  pack: RulePack;
  extracts: Pick<Extracts, 'files' | 'rejects' | 'subscribers'>;
  features: Map<string, FeatureRequest>;
  /** null when the billing extract was not read (a night from a scores file): the months used are then not listed. */
  m0: number | null;
  evaluation: Evaluation;
  scores: Scores;
  tasksPerTier: Record<string, number>;
  /** The contact policy's and the ledger's counts, and the outcomes of earlier tasks. */
  contacts: { counts: PolicyCounts; ledger: Pick<LedgerPlan, 'counts' | 'outcomes'> };
  timings: Record<string, number>;
}

export function buildSummary(s: SummaryInput): Record<string, unknown> {
  const { extracts, evaluation: ev, scores, asOf, m0 } = s;
  const subscribersPerTier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<string, number>;
  for (let i = 0; i < scores.tier.length; i++) subscribersPerTier[TIERS[scores.tier[i]!]!]!++;
  const hitsPerRule: Record<string, number> = {};
  ev.ruleIds.forEach((id, j) => {
    hitsPerRule[id] = countNonZero(ev.flags[j]!);
  });
  const monthsUsed: Record<string, string> = {};
  const daysUsed: Record<string, string> = {};
  for (const f of s.features.values()) {
    if (f.source === 'billing' && m0 !== null) monthsUsed[`M${f.month}`] = formatMonth(m0 - f.month);
    if (f.source === 'usage') daysUsed[`d${f.day}`] = formatDay(asOf - f.day);
  }
  return {
    as_of: formatDay(asOf),
    rule_pack: { name: s.pack.name, sha256: s.pack.hash },
    files: fileSummary(extracts, true),
    subscribers: extracts.subscribers.n,
    subscribers_per_tier: subscribersPerTier,
    hits_per_rule: hitsPerRule,
    flagged: countNonZero(scores.hits),
    tasks_per_tier: s.tasksPerTier,
    policy: s.contacts.counts,
    // The flagged subscribers without a task by what withheld them, under the names the run report charts.
    suppressed: s.contacts.counts.suppressed_by_code,
    held_out: s.contacts.counts.held_out,
    over_capacity: s.contacts.counts.over_capacity_by_queue,
    ledger: s.contacts.ledger.counts,
    earlier_task_outcomes: s.contacts.ledger.outcomes,
    months: { run_month: formatMonth(monthOfDay(asOf)), ...monthsUsed },
    days: { D: formatDay(asOf), ...daysUsed },
    timings_ms: s.timings,
  };
}

function countNonZero(a: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < a.length; i++) if (a[i]) c++;
  return c;
}
