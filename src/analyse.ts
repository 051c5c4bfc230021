/**
 * The stages of a run without the publishing around them, for analysts' commands
 * (explain): ingest, the data-quality gates, features, rules and scores.
 */
import { neededFiles, requiredFeatures, type RulePack } from './config/rulepack.js';
import { buildFeatures, type FeatureTable } from './features/features.js';
import { ingest, type Extracts } from './ingest/ingest.js';
import { checkBillingMonths, checkRejectShare, checkUsageDays, chooseM0 } from './ingest/gates.js';
import { packColumnNeeds, type InputOptions } from './ingest/layout.js';
import { evaluate, type Evaluation } from './rules/evaluate.js';
import { score, type Scores } from './score/score.js';
import { monthOfDay } from './util/dates.js';

export interface Analysis {
  extracts: Extracts;
  m0: number;
  table: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
}

export async function analyse(input: InputOptions, asOf: number, pack: RulePack): Promise<Analysis> {
  const features = requiredFeatures(pack);
  const extracts = await ingest({ asOf, input, features, needed: neededFiles(pack), columnNeeds: packColumnNeeds(pack) });
  const m0 = chooseM0(extracts.billing.rowsPerMonth, monthOfDay(asOf));
  checkBillingMonths(pack, extracts.billing.rowsPerMonth, m0, features);
  if (extracts.usage) checkUsageDays(pack, extracts.usage.rowsPerDay, asOf, features, pack.gates.minDayRowsRatio);
  checkRejectShare(extracts.files, pack.gates.maxRejectShare);
  const table = buildFeatures(extracts, features, m0);
  const evaluation = evaluate(pack, table, asOf);
  return { extracts, m0, table, evaluation, scores: score(pack, evaluation, extracts.subscribers.ids) };
}
