/**
 * The one analysis path: ingest → check counts → gates → features → rules → scores.
 * The nightly run (pipeline.ts), `explain` and the analysts' commands all call
 * analyse() (diff calls analyseEach, two packs over one read), so they read, gate and
 * score the extracts the same way; what differs is what they do around it, through
 * the hooks (timings, progress, input checks).
 */
import { neededFiles, requiredFeatures, type RulePack } from './config/rulepack.js';
import { ChurnwatchError } from './errors.js';
import type { FeatureRequest } from './rules/catalogue.js';
import { buildFeatures, type FeatureTable } from './features/features.js';
import { ingest, type Extracts, type IngestPlan } from './ingest/ingest.js';
import { checkGates } from './ingest/gates.js';
import { packColumnNeeds, type ColumnNeeds, type ExtractName, type InputOptions } from './ingest/layout.js';
import { evaluate, type Evaluation } from './evaluate/evaluate.js';
import { score, type Scores } from './score/score.js';
import { monthOfDay } from './util/dates.js';
import { DEFAULT_COUNTRY_CODE } from './util/phone.js';
import { readLedger } from './output/ledger-file.js';
import { updateLedger, type LedgerPlan } from './tasks/ledger.js';
import { applyPolicy, policyCounts, type PolicyCounts, type PolicyPlan } from './tasks/policy.js';

export interface Analysis {
  extracts: Extracts;
  /** The features the pack reads, by key. */
  features: Map<string, FeatureRequest>;
  m0: number;
  table: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
}

export type AnalysisStage = 'ingest' | 'gates' | 'features' | 'rules' | 'score';

export interface AnalysisHooks {
  /** A stage begins (ingest also reports its own finer stages through ingest.onStage). */
  stageStart?: (stage: AnalysisStage) => void;
  /** A stage has ended. */
  stageDone?: (stage: AnalysisStage) => void;
  /** Progress callbacks of the read. */
  ingest?: Pick<IngestPlan, 'onStage' | 'onRows' | 'onFiles' | 'parallel'>;
  /** The read failed: return the error to throw instead (the nightly run names a changed input as the cause). */
  ingestFailed?: (e: unknown) => unknown;
  /** The extracts are read and their counts agree; called before any gate, so a failed run can still report them. */
  ingested?: (extracts: Extracts) => void;
}

export async function analyse(input: InputOptions, asOf: number, pack: RulePack, hooks: AnalysisHooks = {}): Promise<Analysis> {
  return (await analyseEach(input, asOf, [pack], hooks))[0]!;
}

/**
 * The same path for several rule packs over one read of the extracts (diff): the read
 * and the features cover every feature any pack reads; gates, rules and scores run per
 * pack, each pack's gates judging every file read (one only another pack needs, too).
 */
export async function analyseEach(
  input: InputOptions,
  asOf: number,
  packs: readonly RulePack[],
  hooks: AnalysisHooks = {},
): Promise<Analysis[]> {
  const perPack = packs.map((p) => requiredFeatures(p));
  const features = new Map(perPack.flatMap((f) => [...f]));
  const needed = new Set(packs.flatMap((p) => [...neededFiles(p)]));
  hooks.stageStart?.('ingest');
  let extracts: Extracts;
  try {
    extracts = await ingest({ asOf, input, features, needed, columnNeeds: mergeNeeds(packs.map(packColumnNeeds)), ...hooks.ingest });
  } catch (e) {
    throw hooks.ingestFailed ? hooks.ingestFailed(e) : e;
  }
  checkCounts(extracts);
  hooks.stageDone?.('ingest');
  hooks.ingested?.(extracts);

  hooks.stageStart?.('gates');
  // M0 depends on the billing rows alone, so every pack's gates choose the same one.
  const m0 = packs.map((p, k) => checkGates(p, extracts, asOf, monthOfDay(asOf), perPack[k]!))[0]!;
  hooks.stageDone?.('gates');

  hooks.stageStart?.('features');
  const table = buildFeatures(extracts, features, m0);
  hooks.stageDone?.('features');

  hooks.stageStart?.('rules');
  const evaluations = packs.map((p) => evaluate(p, table, asOf));
  hooks.stageDone?.('rules');

  hooks.stageStart?.('score');
  const scores = packs.map((p, k) => score(p, evaluations[k]!, extracts.subscribers.ids));
  hooks.stageDone?.('score');
  return packs.map((_, k) => ({ extracts, features: perPack[k]!, m0, table, evaluation: evaluations[k]!, scores: scores[k]! }));
}

/** The optional columns any of the packs needs, each with the readers of all of them. */
function mergeNeeds(all: ColumnNeeds[]): ColumnNeeds {
  if (all.length === 1) return all[0]!;
  const out: ColumnNeeds = {};
  for (const needs of all) {
    for (const [extract, byCol] of Object.entries(needs)) {
      for (const [col, readers] of Object.entries(byCol ?? {})) {
        const list = ((out[extract as ExtractName] ??= {})[col] ??= []);
        for (const r of readers) if (!list.includes(r)) list.push(r);
      }
    }
  }
  return out;
}

/** Every record read is accepted or rejected, and every rejection is listed; anything else is a bug. */
function checkCounts(extracts: Extracts): void {
  for (const f of extracts.files) {
    if (f.accepted + f.rejected !== f.records || extracts.rejects.count(f.file) !== f.rejected) {
      throw new ChurnwatchError(
        'CW_INTERNAL',
        `${f.file}: ${f.records} records read but ${f.accepted} accepted and ${f.rejected} rejected (${extracts.rejects.count(f.file)} listed)`,
        { file: f.file },
      );
    }
  }
}

export interface ContactDecisions {
  policy: PolicyPlan;
  counts: PolicyCounts;
  ledger: LedgerPlan;
}

/**
 * The contact policy and the task ledger over an analysis: who gets a task, under
 * which id and state, and who not and why. The run publishes these decisions;
 * explain shows them for one subscriber, from the same ledger (the latest published
 * before D in outRoot; none: every task starts an episode).
 */
export function decideContacts(
  pack: RulePack,
  asOf: number,
  input: Pick<InputOptions, 'defaultCountryCode'>,
  a: Pick<Analysis, 'extracts' | 'evaluation' | 'scores'>,
  outRoot: string | null,
): ContactDecisions {
  const { extracts, evaluation: ev, scores } = a;
  const policy = applyPolicy({
    pack,
    D: asOf,
    evaluation: ev,
    scores,
    subscribers: extracts.subscribers,
    doNotCall: extracts.doNotCall,
    contacts: extracts.contacts,
    countryCode: input.defaultCountryCode ?? DEFAULT_COUNTRY_CODE,
  });
  const counts = policyCounts(policy, scores.hits);
  const ledger = updateLedger({
    prior: outRoot === null ? null : readLedger(outRoot, asOf),
    plan: policy,
    D: asOf,
    policy: pack.policy,
    ids: extracts.subscribers.ids,
    rules: ev.rules,
    flags: ev.flags,
    tier: scores.tier,
    contacts: extracts.contacts,
  });
  return { policy, counts, ledger };
}
