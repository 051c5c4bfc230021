/**
 * Risk, value tier and priority. Risk combines the weights of the rules a
 * subscriber hits by noisy-OR, 1 − Π(1 − wᵢ): each rule is read as an independent
 * chance of churn, so more signals raise the risk without ever passing 1. Expected
 * loss = risk × value; within a tier, tasks go by expected loss, then subscriber id
 * (its UTF-8 bytes, which is Unicode code point order).
 */
import type { RulePack, Tier } from '../config/rulepack.js';
import { COMPARE_TOLERANCE } from '../rules/compile.js';
import type { Evaluation } from '../rules/evaluate.js';
import type { TextColumn } from '../util/text-column.js';

export const TIER_CODES: Tier[] = ['high', 'mid', 'mass'];

export interface Scores {
  risk: Float64Array;
  expectedLoss: Float64Array;
  /** Index into TIER_CODES. */
  tier: Uint8Array;
  /** Number of rules hit. */
  hits: Uint8Array;
}

export function assignTiers(pack: RulePack, value: Float64Array, ids: TextColumn): Uint8Array {
  const n = value.length;
  const tier = new Uint8Array(n);
  const policy = pack.tiers;
  if (policy.method === 'threshold') {
    for (let i = 0; i < n; i++) {
      const v = value[i]!;
      tier[i] = v - policy.high >= -COMPARE_TOLERANCE ? 0 : v - policy.mid >= -COMPARE_TOLERANCE ? 1 : 2;
    }
    return tier;
  }
  // Rank: the top share by value is high, the next share mid; ties broken by id so the cut is stable.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => value[b]! - value[a]! || ids.compare(a, b));
  const highCount = Math.round(policy.highShare * n);
  const midCount = Math.round(policy.midShare * n);
  order.forEach((idx, rank) => { tier[idx] = rank < highCount ? 0 : rank < highCount + midCount ? 1 : 2; });
  return tier;
}

export function score(pack: RulePack, ev: Evaluation, ids: TextColumn): Scores {
  const n = ev.value.length;
  const weights = pack.rules.filter((r) => r.enabled).map((r) => r.weight);
  const keep = new Float64Array(n).fill(1);
  const hits = new Uint8Array(n);
  ev.flags.forEach((f, j) => {
    const w = 1 - weights[j]!;
    for (let i = 0; i < n; i++) if (f[i]) { keep[i] *= w; hits[i]++; }
  });
  const risk = new Float64Array(n);
  const expectedLoss = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    risk[i] = hits[i] ? 1 - keep[i]! : 0;
    expectedLoss[i] = risk[i]! * Math.max(0, ev.value[i]!);
  }
  return { risk, expectedLoss, tier: assignTiers(pack, ev.value, ids), hits };
}

/** Subscribers that get a task, per tier, in task order. */
export function rankTasks(pack: RulePack, s: Scores, ids: TextColumn, suppressed: Uint8Array | null): number[][] {
  const perTier: number[][] = [[], [], []];
  for (let i = 0; i < s.risk.length; i++) {
    if (s.hits[i] && s.risk[i]! >= pack.tasks.minRisk && !(suppressed && suppressed[i])) perTier[s.tier[i]!]!.push(i);
  }
  for (const list of perTier) {
    list.sort((a, b) => s.expectedLoss[b]! - s.expectedLoss[a]! || ids.compare(a, b));
  }
  return perTier;
}
