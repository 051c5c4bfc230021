/**
 * The one analysis path: ingest → check counts → gates → features → rules → scores.
 * The nightly run (pipeline.ts), `explain` and the analysts' commands all call
 * analyse() (diff calls analyseEach, two packs over one read), so they read, gate and
 * score the extracts the same way; what differs is what they do around it, through
 * the hooks (timings, progress, input checks).
 */
import { basename } from 'node:path';
import { neededFiles, requiredFeatures, type RulePack } from './config/rulepack.js';
import { ChurnwatchError } from './errors.js';
import type { FeatureRequest } from './rules/catalogue.js';
import { buildFeatures, type FeatureTable } from './features/features.js';
import { ingest, type Extracts, type IngestPlan } from './ingest/ingest.js';
import { checkGates } from './ingest/gates.js';
import { packColumnNeeds, type ColumnNeeds, type ExtractName, type InputOptions } from './ingest/layout.js';
import { evaluate, namedFlags, namedTerms, type Evaluation } from './evaluate/evaluate.js';
import { RulesThread, type RulesShare } from './evaluate/rules-thread.js';
import { assignTiers, score, scoresFrom, type Scores } from './score/score.js';
import type { DuckDbEngine, EngineScores } from './engine/duckdb.js';
import { plainColumn, type Column, type FeatureColumn } from './rules/compile.js';
import { monthOfDay } from './util/dates.js';
import { DEFAULT_COUNTRY_CODE } from './util/phone.js';
import { readLedger } from './output/ledger-file.js';
import { startLedger, type LedgerPlan, type LedgerUpdate } from './tasks/ledger.js';
import { applyPolicy, policyCounts, type PolicyCounts, type PolicyPlan } from './tasks/policy.js';
import { displayName, locateExtract } from './ingest/layout.js';
import { readSubscribers } from './ingest/subscribers.js';
import { readContactHistory, readDoNotCall } from './ingest/facts.js';
import { RejectLog } from './ingest/rejects.js';
import type { FileStats } from './ingest/table-reader.js';
import { ScoresIntake } from './score/scores-intake.js';
import { readScoresFile, type ScoresFileStats } from './output/scores-reader.js';

/** What the task stage and the publication read of the extracts (a run from a scores file reads no fact extract). */
export type TaskExtracts = Pick<Extracts, 'subscribers' | 'doNotCall' | 'contacts' | 'files' | 'rejects'>;

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

/**
 * How, never what, a night reads and writes: switches for tests, diagnosis and A/B
 * timing (the CLI takes them from the environment: cli/knobs.ts). Each one unset is
 * decided by the input's size, the rows' order and the cores; no setting changes an output.
 */
export interface Tuning {
  /** Read the extracts on worker threads too (true), or all in this thread (false). */
  ingestParallel?: boolean;
  /** The smallest byte range a measure extract is cut into. */
  minRangeBytes?: number;
  /** Look the ids of plain fact rows up a batch at a time (true) or one at a time (false). */
  idBatch?: boolean;
  /** Write the score files and the largest tier's task files on worker threads (true), or in this thread (false). */
  writeParallel?: boolean;
  /** Share a scorecard's steps and logit with a worker thread (true), or run the rules in this thread alone (false). */
  rulesParallel?: boolean;
  /** Write a publication's large files past the page cache where the file system takes it (true), or through it (false). */
  directWrites?: boolean;
}

export interface AnalysisHooks {
  /** A stage begins (ingest also reports its own finer stages through ingest.onStage). */
  stageStart?: (stage: AnalysisStage) => void;
  /** A stage has ended. */
  stageDone?: (stage: AnalysisStage) => void;
  /** Progress callbacks of the read. */
  ingest?: Pick<IngestPlan, 'onStage' | 'onRows' | 'onFiles' | 'readFacts' | 'spareThreads'>;
  /** How the extracts are read; default: as their size and order say. */
  tuning?: Tuning;
  /** The read failed: return the error to throw instead (the nightly run names a changed input as the cause). */
  ingestFailed?: (e: unknown) => unknown;
  /** The extracts are read and their counts agree; called before any gate, so a failed run can still report them. */
  ingested?: (extracts: TaskExtracts) => void;
  /** The rules stage shared its passes with a worker thread (rules-thread.ts): how. */
  rulesShared?: (share: RulesShare) => void;
  /** The rules are evaluated in process (each pack's, in order), before the scores: their columns may go on meanwhile. */
  evaluated?: (evaluations: readonly Evaluation[]) => void;
  /**
   * Another engine's rules and scores (the duckdb engine, which read the measure
   * extracts through ingest.readFacts and holds their sums): given the feature
   * columns read in process, it returns each pack's results and the measure
   * features of the flagged subscribers (all of them with `all`).
   */
  engine?: { score: DuckDbEngine['score']; all: boolean };
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
  const { ingestParallel: parallel, minRangeBytes, idBatch } = hooks.tuning ?? {};
  const reading = idBatch === undefined ? input : { ...input, idBatch };
  const columnNeeds = mergeNeeds(packs.map(packColumnNeeds));
  const extracts = await readStage(hooks, () =>
    ingest({ asOf, input: reading, features, needed, columnNeeds, parallel, minRangeBytes, ...hooks.ingest }),
  );
  // Its modules load during the gates and features; a pack without a scorecard has no passes to share.
  const rulesThread =
    hooks.engine === undefined && packs.some((p) => p.scorecard.length > 0)
      ? RulesThread.start(extracts.subscribers.n, hooks.tuning?.rulesParallel)
      : null;
  try {
    return await analyseRead(extracts, asOf, packs, perPack, features, hooks, rulesThread);
  } finally {
    void rulesThread?.release();
  }
}

/** analyseEach after the read. */
async function analyseRead(
  extracts: Extracts,
  asOf: number,
  packs: readonly RulePack[],
  perPack: Map<string, FeatureRequest>[],
  features: Map<string, FeatureRequest>,
  hooks: AnalysisHooks,
  rulesThread: RulesThread | null,
): Promise<Analysis[]> {
  hooks.stageStart?.('gates');
  // M0 depends on the billing rows alone, so every pack's gates choose the same one.
  const m0 = packs.map((p, k) => checkGates(p, extracts, asOf, monthOfDay(asOf), perPack[k]!))[0]!;
  hooks.stageDone?.('gates');

  if (hooks.engine) return engineAnalyses(extracts, asOf, packs, perPack, features, m0, hooks, hooks.engine);
  hooks.stageStart?.('features');
  const table = buildFeatures(extracts, features, m0);
  hooks.stageDone?.('features');

  hooks.stageStart?.('rules');
  const evaluations = packs.map((p) => evaluate(p, table, asOf, rulesThread));
  hooks.stageDone?.('rules');
  if (rulesThread !== null) {
    void rulesThread.release();
    hooks.rulesShared?.(rulesThread.share);
  }
  hooks.evaluated?.(evaluations);

  hooks.stageStart?.('score');
  const scores = packs.map((p, k) => score(p, evaluations[k]!, extracts.subscribers.ids));
  // A logistic pack's logit sums were made for the score alone (a score made again sums them anew): let go of
  // them, where they were held to the run's end (85 MB at 10M subscribers, at the write stage's peak).
  for (const ev of evaluations) delete ev.logit;
  hooks.stageDone?.('score');
  return packs.map((_, k) => ({ extracts, features: perPack[k]!, m0, table, evaluation: evaluations[k]!, scores: scores[k]! }));
}

/**
 * analyseEach's stages after the gates when another engine computes the rules and
 * scores: the features read in process (attributes, ticket and contract counts) go
 * to it, and the task stage gets a feature table of the rows it brought back.
 */
async function engineAnalyses(
  extracts: Extracts,
  asOf: number,
  packs: readonly RulePack[],
  perPack: Map<string, FeatureRequest>[],
  features: Map<string, FeatureRequest>,
  m0: number,
  hooks: AnalysisHooks,
  engine: NonNullable<AnalysisHooks['engine']>,
): Promise<Analysis[]> {
  const n = extracts.subscribers.n;
  hooks.stageStart?.('features');
  const local = buildFeatures(extracts, new Map([...features].filter(([, f]) => f.source !== 'billing' && f.source !== 'usage')), m0);
  hooks.stageDone?.('features');
  hooks.stageStart?.('rules');
  const results: EngineScores[] = [];
  // Billing and usage stay in the engine, so every local column is a plain one (plainColumn copies nothing).
  const nodeColumns = new Map([...local.columns].map(([k, c]) => [k, plainColumn(c)]));
  for (const p of packs) results.push(await engine.score(p, asOf, n, nodeColumns, engine.all));
  hooks.stageDone?.('rules');
  hooks.stageStart?.('score');
  const out = packs.map((pack, k): Analysis => {
    const r = results[k]!;
    const rules = pack.rules.filter((x) => x.enabled);
    const evaluation: Evaluation = {
      rules,
      ruleIds: rules.map((x) => x.id),
      flags: r.flags,
      named: pack.score === 'logistic' ? namedTerms(rules, r.flags, n) : r.flags,
      excluded: r.excluded,
      value: r.value,
    };
    // A logistic pack's risk goes through exp(), which DuckDB and V8 round differently in the last bit now and
    // then: it is scored here from DuckDB's flags, so scores.arrow keeps the in-process engine's bits.
    const scores =
      pack.score === 'logistic'
        ? score(pack, evaluation, extracts.subscribers.ids)
        : scoresFrom(pack, evaluation, {
            risk: r.risk,
            expectedLoss: r.loss,
            // A rank reads every subscriber's value: the engine scores slices of them, and leaves it to this.
            tier: r.tier ?? assignTiers(pack, r.value, extracts.subscribers.ids),
          });
    return { extracts, features: perPack[k]!, m0, table: engineTable(r, perPack[k]!, local), evaluation, scores };
  });
  hooks.stageDone?.('score');
  return out;
}

/** The features of a pack over the rows the engine brought back: its measure columns, and the local columns at those rows. */
function engineTable(r: EngineScores, features: Map<string, FeatureRequest>, local: FeatureTable): FeatureTable {
  const rows = r.rows;
  const columns = new Map<string, FeatureColumn>();
  const kept = r.kept;
  for (const key of features.keys()) {
    const measure = r.measures.get(key);
    if (measure !== undefined) {
      // DuckDB hands the measures back in units already (yuan, minutes): divisor 1 gives the same doubles.
      columns.set(key, { values: measure, unit: 1 });
      continue;
    }
    const full = plainColumn(local.columns.get(key)!);
    if (rows === null) {
      columns.set(key, full);
      continue;
    }
    const compact = new (full.constructor as new (n: number) => Column)(kept);
    for (let i = 0; i < rows.length; i++) if (rows[i]! >= 0) compact[rows[i]!] = full[i]!;
    columns.set(key, compact);
  }
  return rows === null ? { n: local.n, columns } : { n: kept, columns, rows };
}

/** The read stage around `read`: its hooks, the input-changed check of a failure, and the count check. */
async function readStage<T extends TaskExtracts>(hooks: AnalysisHooks, read: () => Promise<T>): Promise<T> {
  hooks.stageStart?.('ingest');
  let extracts: T;
  try {
    extracts = await read();
  } catch (e) {
    throw hooks.ingestFailed ? hooks.ingestFailed(e) : e;
  }
  checkCounts(extracts);
  hooks.stageDone?.('ingest');
  hooks.ingested?.(extracts);
  return extracts;
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
function checkCounts(extracts: Pick<Extracts, 'files' | 'rejects'>): void {
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
export function decideContacts(...args: Parameters<typeof startContacts>): ContactDecisions {
  const { policy, ledger } = startContacts(...args);
  return { policy, counts: policyCounts(policy, args[3].scores.hits), ledger: ledger.finish() };
}

/**
 * decideContacts in steps: the policy, and the ledger begun, whose tiers the task
 * files decide as they plan them (the largest first, for the thread that writes it)
 * and whose rest finish() decides; the counts are policyCounts' to take after.
 */
export function startContacts(
  pack: RulePack,
  asOf: number,
  input: Pick<InputOptions, 'defaultCountryCode'>,
  a: Pick<Analysis, 'evaluation' | 'scores'> & { extracts: TaskExtracts },
  outRoot: string | null,
): { policy: PolicyPlan; ledger: LedgerUpdate } {
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
  const ledger = startLedger({
    prior: outRoot === null ? null : readLedger(outRoot, asOf),
    plan: policy,
    D: asOf,
    policy: pack.policy,
    ids: extracts.subscribers.ids,
    rules: ev.rules,
    flags: namedFlags(ev),
    tier: scores.tier,
    contacts: extracts.contacts,
  });
  return { policy, ledger };
}

/** The analysis of a night whose scores were computed elsewhere (`churnwatch tasks --scores`). */
export interface ScoresAnalysisResult {
  extracts: TaskExtracts;
  features: Map<string, FeatureRequest>;
  /** Unknown: the billing extract is not read (the scores file carries the months' sums, not which month was M0). */
  m0: null;
  table: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
  scoresFile: ScoresFileStats;
}

/**
 * The same analysis from a scores table (the SQL script's output, or a scores file
 * with the measure columns): only what the task stage needs is read from the input
 * folder (subscribers.csv, and do_not_call.csv and contact_history.csv when there),
 * never the fact extracts; the scores file gives the measures and flags, checked
 * against the pack by ScoresIntake. The data-quality gates are the scoring job's
 * business: they need the fact extracts.
 */
export async function analyseScores(
  input: InputOptions,
  asOf: number,
  pack: RulePack,
  scoresPath: string,
  hooks: Pick<AnalysisHooks, 'stageStart' | 'stageDone' | 'ingestFailed' | 'ingested'> = {},
): Promise<ScoresAnalysisResult> {
  const opts: InputOptions = { ...input, needs: packColumnNeeds(pack) };
  const rejects = new RejectLog();
  const files: FileStats[] = [];
  const extracts = await readStage(hooks, async (): Promise<TaskExtracts> => {
    const subscribersPath = locateExtract(opts, 'subscribers');
    if (subscribersPath === undefined) {
      const file = displayName(opts, 'subscribers');
      throw new ChurnwatchError(
        'CW_EXTRACT_MISSING_FILE',
        `gate needed-files failed: ${file} is not in ${opts.dir}; the task step reads it`,
        {
          file,
          gate: 'needed-files',
        },
      );
    }
    const subs = await readSubscribers(subscribersPath, displayName(opts, 'subscribers'), opts, rejects);
    files.push(subs.stats);
    const dncPath = locateExtract(opts, 'do_not_call');
    let doNotCall: Uint8Array | null = null;
    if (dncPath !== undefined) {
      const dnc = await readDoNotCall(dncPath, displayName(opts, 'do_not_call'), opts, subs.table, rejects);
      doNotCall = dnc.flags;
      files.push(dnc.stats);
    }
    const historyPath = locateExtract(opts, 'contact_history');
    let contacts: TaskExtracts['contacts'] = null;
    if (historyPath !== undefined) {
      const keys = { n: subs.table.n, idTable: subs.table.idTable! };
      const history = await readContactHistory(historyPath, displayName(opts, 'contact_history'), opts, keys, rejects, asOf);
      contacts = history.fold;
      files.push(history.stats);
    }
    return { subscribers: subs.table, doNotCall, contacts, files, rejects };
  });
  hooks.stageStart?.('score');
  const intake = new ScoresIntake(pack, extracts.subscribers, asOf, basename(scoresPath));
  const scoresFile = await readScoresFile(scoresPath, intake);
  const { features, table, evaluation, scores } = intake.finish();
  delete extracts.subscribers.idTable;
  hooks.stageDone?.('score');
  return { extracts, features, m0: null, table, evaluation, scores, scoresFile };
}
