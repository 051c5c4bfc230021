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
  scores: Scores;
  tasksPerTier: Record<string, number>;
  /** The contact policy's and the ledger's counts, and the outcomes of earlier tasks. */
  contacts: { counts: PolicyCounts; ledger: Pick<LedgerPlan, 'counts' | 'outcomes'> };
  timings: Record<string, number>;
  /** The hit counts (hitCounts), which the run takes while it waits for its writers. */
  hits: HitCounts;
}

/** Subscribers per rule that hit it, and subscribers that hit any. */
export interface HitCounts {
  perRule: Record<string, number>;
  flagged: number;
}

/**
 * The counts of summary.json's hits_per_rule and flagged: a pass over every flag column
 * (a scorecard has ~100 of them), so the run takes them while its task files are still
 * being written on another thread, not after.
 */
export function hitCounts(ev: Pick<Evaluation, 'ruleIds' | 'flags' | 'bins'>, scores: Pick<Scores, 'hits'>): HitCounts {
  // A scorecard's steps were counted as their bins were made (most of its columns).
  const counted = new Map<number, number>();
  for (const { first, steps, hits } of ev.bins ?? []) for (let k = 0; k < steps; k++) counted.set(first + k, hits[k + 1]!);
  const perRule: Record<string, number> = {};
  ev.ruleIds.forEach((id, j) => {
    perRule[id] = counted.get(j) ?? countNonZero(ev.flags[j]!);
  });
  return { perRule, flagged: countNonZero(scores.hits) };
}

export function buildSummary(s: SummaryInput): Record<string, unknown> {
  const { extracts, scores, hits, asOf, m0 } = s;
  const subscribersPerTier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<string, number>;
  for (let i = 0; i < scores.tier.length; i++) subscribersPerTier[TIERS[scores.tier[i]!]!]!++;
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
    hits_per_rule: hits.perRule,
    flagged: hits.flagged,
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

/**
 * The bytes of `a` that are not 0, four at a time: a byte's high bit is set in t when
 * any of its bits is (its low seven bits plus 0x7f carry into bit 7 and never past it),
 * and a multiply adds the four high bits into the top byte.
 */
export function countNonZero(a: Uint8Array): number {
  const n = a.length;
  let i = 0,
    c = 0;
  const head = Math.min(n, (4 - (a.byteOffset & 3)) & 3);
  for (; i < head; i++) if (a[i] !== 0) c++;
  const words = (n - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(a.buffer, a.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      const x = w[k]!;
      const t = (((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080;
      c += Math.imul(t >>> 7, 0x01010101) >>> 24;
    }
    i += words * 4;
  }
  for (; i < n; i++) if (a[i] !== 0) c++;
  return c;
}
