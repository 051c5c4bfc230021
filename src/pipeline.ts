/**
 * The nightly run, stage by stage: rule pack → ingest → gates → features → rules →
 * scores → tasks → publish. Stages in the middle take values and return values; this
 * module wires them together, times them and hands the outputs to the publisher.
 *
 * scores.csv and scores.arrow are written by a worker thread on large runs from the
 * end of the score stage, while this thread applies the contact policy and writes the
 * task, policy and ledger files (output/score-files.ts); the run waits for it at the
 * end of the write stage, and its failure is the run's failure.
 *
 * Around the stages: the run takes the output folder's lock first (exit 75 when another
 * run holds it), clears what killed runs left, refuses an already published date
 * without --force before reading anything, notes the identity of every input file
 * before reading (and aborts with 75 when one changed by the time the outputs are
 * ready), and checks that every record read was either accepted or rejected. A run
 * that fails after taking the lock leaves OUTDIR/failed/<date>/ (failure.json, and
 * rejects.csv once the extracts were read) and publishes nothing.
 */
import type { Logger } from 'pino';
import { analyse, analyseScores, startContacts, type AnalysisHooks, type ContactDecisions, type TaskExtracts } from './analyse.js';
import type { Tuning } from './analyse.js';
import { requiredFeatures, type RulePack } from './config/rulepack.js';
import type { ConfigSource, EngineSettings } from './config/run-config.js';
import type { DuckDbEngine } from './engine/duckdb.js';
import { ChurnwatchError, EXIT_CODES } from './errors.js';
import { releaseMeasureFolds } from './ingest/ingest.js';
import { EXTRACT_NAMES, locateExtract, type InputOptions } from './ingest/layout.js';
import type { FileStats } from './ingest/table-reader.js';
import { POLICY_FILES, writeLedger, writePolicyFile } from './tasks/policy-files.js';
import { policyCounts } from './tasks/policy.js';
import { DEFAULT_TASK_PROFILE, type TaskProfile } from './tasks/tasks.js';
import { DEFAULT_TASK_OUTPUT, writeTaskOutputs, type TaskOutputOptions, type TaskOutputs } from './output/task-outputs.js';
import { flaggedFeatureTable, TaskFilesThread } from './output/task-files.js';
import { CsvBytesWriter } from './util/bytes.js';
import { formatDay } from './util/dates.js';
import type { SpareThread } from './util/worker.js';
import { csvLine } from './output/csv.js';
import { collectGarbage } from './util/collect.js';
import {
  Publication,
  RunLock,
  type OutputRecord,
  TMP_PREFIX,
  clearFailureReport,
  ensureDir,
  sweepLeftovers,
  writeFailureReport,
} from './output/publish.js';
import { scrubPersonal } from './util/mask.js';
import { handScoreRules, ScoreFiles, startScoresThread, type ScoreRulesHandedOver } from './output/score-files.js';
import { measureNames, scoreColumns, scoreMeasures } from './output/measures.js';
import { SCORE_FILES } from './output/scores-protocol.js';
import { writeScoresParquet } from './output/scores-parquet.js';
import type { ScoresFormat } from './config/run-config.js';
import { manifestJson } from './report/manifest.js';
import { buildSummary, fileSummary, hitCounts, type HitCounts } from './report/summary.js';
import { nightlyReportHtml } from './report/run-report.js';
import { statSync, type BigIntStats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';

/**
 * From this many subscribers a night collects its garbage at the three hand-overs where
 * a stage lets go of 80-500 MB (util/collect.ts): on a smaller night what is let go of
 * is small, and a collection's pause is not worth it.
 */
const COLLECT_FROM_SUBSCRIBERS = 1 << 22;
/** While the flagged rows are gathered, a collection after every this many whole columns let go of (~40 MB each at 10M). */
const COLLECT_EVERY_COLUMNS = 4;

export interface RunOptions {
  input: InputOptions;
  outRoot: string;
  asOf: number;
  pack: RulePack;
  packPath: string;
  /** The --config file, for the manifest; null or absent: the defaults. */
  config?: ConfigSource | null;
  force: boolean;
  fileMode: number;
  dirMode: number;
  logger: Logger;
  /** Personal data in the task files; default (DEFAULT_TASK_PROFILE): full numbers and names. */
  taskProfile?: TaskProfile;
  /** The layout and language of the task files; default: the plain per-tier CSV files in English. */
  taskOutput?: TaskOutputOptions;
  /** The engine that reads the measure extracts; default: in process. */
  engine?: EngineSettings;
  onProgress?: (stage: string) => void;
  /** Rows and bytes read so far per extract, every million rows or so (for a terminal's progress line). */
  onRows?: (extract: string, rows: number, bytes: number) => void;
  /** The size in bytes of each extract the run reads, before it reads them (what onRows' bytes add up to). */
  onInputs?: (bytes: Record<string, number>) => void;
  /**
   * The task step (`churnwatch tasks --scores`): the scores table computed elsewhere
   * (the SQL script's output) instead of the fact extracts; the run reads only what
   * the task stage needs from the input folder and publishes the same files.
   */
  scores?: string;
  /** 'parquet': scores.parquet besides scores.csv and scores.arrow (default 'arrow': those two). */
  scoresFormat?: ScoresFormat;
  /** Add every measure the pack reads to scores.csv and scores.arrow, after the rule flags. */
  withMeasures?: boolean;
  /** Threads and lookups (tests, diagnosis, A/B timing); default: as the input's size says. */
  tuning?: Tuning;
  /** The ingest's worker threads, started before the run (IngestPlan.spareThreads); the caller releases them. */
  spareThreads?: readonly SpareThread[];
}

export interface RunResult {
  published: string;
  tasks: Record<string, number>;
  summary: Record<string, unknown>;
}

export async function runNightly(o: RunOptions): Promise<RunResult> {
  const { pack, asOf, logger } = o;
  const profile = o.taskProfile ?? DEFAULT_TASK_PROFILE;
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round(now - t);
    t = now;
    logger.info({ stage, ms: timings[stage] }, 'stage done');
  };
  const asOfText = formatDay(asOf);
  // A measure column that a rule id already names is refused before the lock and the long read.
  if (o.withMeasures) measureNames(requiredFeatures(pack), scoreColumns(pack));
  ensureDir(o.outRoot, o.dirMode);
  const lock = new RunLock(o.outRoot, o.fileMode);
  lock.acquire();
  if (lock.tookOverFrom !== undefined)
    logger.warn({ lock: lock.path, stale_pid: lock.tookOverFrom }, 'took over the stale lock of a run that is gone');
  logger.debug({ lock: lock.path }, 'lock taken');
  try {
    const swept = sweepLeftovers(o.outRoot);
    if (swept.length > 0) logger.warn({ leftovers: swept }, 'cleared what an interrupted run left');
    // Refuse early (before the long read) when the date is published and --force is absent.
    let publication: Publication | undefined = new Publication(o.outRoot, asOfText, {
      force: o.force,
      fileMode: o.fileMode,
      dirMode: o.dirMode,
      directWrites: o.tuning?.directWrites,
    });
    logger.debug({ direct_writes: publication.writesDirect }, 'publication begun');
    let extracts: TaskExtracts | undefined;
    let engine: DuckDbEngine | undefined;
    let scoresThread = null as SpareThread | ScoreRulesHandedOver | null;
    const closeEngine = () => {
      engine?.close();
      engine = undefined;
    };
    try {
      if (o.engine?.name === 'duckdb') {
        // Its spill files and tables live in the output root (swept by the next run if this one is killed), never in the published folder.
        const tempDir = join(o.outRoot, `${TMP_PREFIX}engine-${process.pid}`);
        const threads = o.engine.threads ?? availableParallelism();
        // Loaded only here: the engine's module and its SQL compiler (~75 kB) are no part of an in-process night.
        const { DuckDbEngine } = await import('./engine/duckdb.js');
        engine = await DuckDbEngine.open({ memoryLimit: o.engine.memoryLimit, threads, tempDir }, o.input);
        logger.info({ engine: 'duckdb', memory_limit: o.engine.memoryLimit, threads }, 'engine opened');
      }
      const before = snapshotInputs(o.input);
      logger.debug({ inputs: [...before.values()].map((s) => ({ file: s.file, bytes: s.size })) }, 'inputs noted before reading');
      const hooks: AnalysisHooks = {
        tuning: o.tuning,
        stageStart: (stage) => {
          // The score-files worker loads on the core that the rules and score stages leave idle.
          if (stage === 'rules' && extracts) scoresThread = startScoresThread(extracts.subscribers.ids.length, o.tuning?.writeParallel);
          // What the rules stage let go of (a scorecard's spare values arrays: ~160 MB at 10M), freed before the
          // score's risk and expected loss are made.
          if (stage === 'score' && extracts && extracts.subscribers.ids.length >= COLLECT_FROM_SUBSCRIBERS) collectGarbage();
          if (stage !== 'ingest') o.onProgress?.(stage);
        },
        // Ranking the tasks (below) is part of the score stage.
        stageDone: (stage) => {
          if (stage !== 'score') lap(stage);
        },
        ingest: {
          onStage: (stage) => {
            o.onProgress?.(stage);
            logger.info({ stage }, 'stage start');
          },
          onRows: o.onRows,
          spareThreads: o.spareThreads,
          ...(engine ? { readFacts: engine.readFacts.bind(engine) } : {}),
          onFiles: o.onInputs && ((files) => o.onInputs!(Object.fromEntries(files.map((f) => [f.extract, before.get(f.path)?.size ?? 0])))),
        },
        // A file rewritten under the reader shows up as whatever it broke (a malformed
        // record, a cut encoding sequence); the change is the cause, and a retry the cure.
        ingestFailed: (e) => {
          const changed = changedSince(before);
          return changed !== undefined ? inputChanged(changed) : e;
        },
        ingested: (x) => {
          extracts = x;
          for (const f of x.files) {
            logger.debug(
              { file: f.file, rows_read: f.records, rows_accepted: f.accepted, rows_rejected: f.rejected, bytes: f.bytes },
              'file read',
            );
          }
          const byCode = x.rejects.countsByCode();
          if (Object.keys(byCode).length > 0) logger.info({ rejected: byCode }, 'rows rejected');
          // Where, never what: the values stay out of the log (rejects.csv has them, masked).
          for (const r of x.rejects.rows.slice(0, 20))
            logger.debug({ file: r.file, line: r.line, column: r.column, code: r.code }, 'row rejected');
          checkInputsUnchanged(x.files, before);
        },
        rulesShared: (s) =>
          logger.debug(
            {
              steps: s.steps,
              steps_here: s.stepsHere,
              logit_ranges: s.ranges,
              logit_ranges_here: s.rangesHere,
              waited_ms: Math.round(s.waitedMs),
            },
            'rules stage shared with a worker thread',
          ),
        evaluated: ([ev]) => {
          if (scoresThread && publication && extracts && ev)
            scoresThread = handScoreRules(scoresThread, publication, extracts.subscribers.ids, ev);
        },
        // The rules and scores where the measure sums are; --with-measures needs every subscriber's measures back.
        ...(engine ? { engine: { score: engine.score.bind(engine), all: o.withMeasures === true } } : {}),
      };
      const a =
        o.scores === undefined ? await analyse(o.input, asOf, pack, hooks) : await analyseScores(o.input, asOf, pack, o.scores, hooks);
      closeEngine();
      extracts = a.extracts;
      const { table, evaluation: ev, scores } = a;
      const ids = extracts.subscribers.ids;
      // What the score stage let go of (a scorecard's logit: 80 MB at 10M), freed before the score files' worker
      // and the gather below allocate on top of it.
      if (ids.length >= COLLECT_FROM_SUBSCRIBERS) collectGarbage();
      lap('score');
      // The score files need nothing of the policy: on a large run a worker thread writes them
      // from here on, while this thread applies the policy and writes every other file.
      const measures = o.withMeasures ? scoreMeasures(a.features, table, scoreColumns(pack)) : [];
      const scoreFiles = ScoreFiles.start(publication, ids, ev, scores, measures, o.tuning?.writeParallel, scoresThread);
      logger.debug({ files: SCORE_FILES, thread: scoreFiles.thread }, 'writing score files');
      const taskOutput = o.taskOutput ?? DEFAULT_TASK_OUTPUT;
      // On a large run the largest tier's plain task files are written by a worker: it starts now, and is
      // ready with the columns it reads when the policy has decided who gets a task.
      let taskFiles: TaskFilesThread | null = null;
      let taskCounts: Record<string, number>;
      let contacts: ContactDecisions;
      let hits: HitCounts;
      let tasks: TaskOutputs | undefined;
      let summary: Record<string, unknown>;
      let reportHtml: string;
      // Listed after the score files, as they always were.
      const after: OutputRecord[] = [];
      try {
        const startFrom = performance.now();
        // The task files read the features of the flagged subscribers only: those rows are gathered once, for
        // this thread and the worker, and the whole columns go (at 10M some 0.5 GB, held to the end before). On a
        // large night each whole column goes as soon as it is gathered, and what went is collected every few
        // columns: gathered all at once, the flagged rows were 0.26 GB more at the night's peak.
        if (!('scoresFile' in a)) releaseMeasureFolds(a.extracts);
        const collecting = ids.length >= COLLECT_FROM_SUBSCRIBERS;
        let gathered = 0;
        const features = flaggedFeatureTable({ features: table, evaluation: ev, scores }, (key) => {
          table.columns.delete(key);
          if (collecting && ++gathered % COLLECT_EVERY_COLUMNS === 0) collectGarbage();
        });
        table.columns.clear();
        if (collecting) collectGarbage();
        const columns = { pack, D: asOf, subscribers: extracts.subscribers, features, evaluation: ev, scores, contacts: extracts.contacts };
        if (taskOutput.profile === 'plain')
          taskFiles = TaskFilesThread.start(publication.place(), columns, o.tuning?.writeParallel, profile);
        // The ms: what gathering those rows, starting the worker and handing it the columns took this thread.
        logger.debug(
          { thread: taskFiles === null ? 'main' : 'worker', ms: Math.round(performance.now() - startFrom) },
          "writing the largest tier's task files",
        );
        o.onProgress?.('policy');
        // The ledger's tiers are decided as the task files plan them, the largest first: its plan goes to the
        // worker before the other tiers, the ledger's waiting and closed rows and the policy's counts are made.
        const { policy, ledger: update } = startContacts(pack, asOf, o.input, a, o.outRoot);
        const perTier = policy.perTier;
        lap('policy');

        o.onProgress?.('write');
        const taskInput = { ...columns, taskType: policy.taskType, ledger: update };
        tasks = await writeTaskOutputs(publication, taskInput, perTier, profile, taskOutput, taskFiles, update.tier);
        const ledger = update.finish();
        contacts = { policy, counts: policyCounts(policy, scores.hits), ledger };
        taskCounts = tasks.counts;
        after.push(writeCsv(publication, 'rejects.csv', (w) => writeRejects(w, extracts!)));
        for (const name of POLICY_FILES)
          after.push(writeCsv(publication, name, (w) => writePolicyFile(w, name, policy, { ids, evaluation: ev, scores })));
        after.push(writeCsv(publication, 'ledger.csv', (w) => writeLedger(w, ledger.rows)));
        // Counted while the task-files worker may still be writing the largest tier.
        hits = hitCounts(ev, scores);
        // finish() writes the tiers the worker has not taken, then waits for the worker's tier, its copies
        // and fsyncs: the summary and the report are made meanwhile. The summary holds `timings` itself,
        // which the stages still to end fill in; the report leaves the timings out.
        const finishing = tasks.finish();
        finishing.catch(() => {});
        summary = buildSummary({
          asOf,
          pack,
          extracts,
          features: a.features,
          m0: a.m0,
          scores,
          tasksPerTier: taskCounts,
          contacts,
          timings,
          hits,
        });
        reportHtml = nightlyReportHtml(summary, scores.risk, o.outRoot);
        const waitFrom = performance.now();
        await finishing;
        // waited_ms: how long this thread still waited for the task files (the worker's tier, the copies) after the report.
        logger.debug({ tiers: tasks.writers, waited_ms: Math.round(performance.now() - waitFrom) }, 'task files written');
      } catch (e) {
        // The workers and the copies must be done with the folder before the failure path removes it.
        await Promise.allSettled([scoreFiles.settle(), taskFiles?.settle(), tasks?.settle()]);
        throw e;
      }
      const waitFrom = performance.now();
      for (const r of await scoreFiles.records()) publication.add(r);
      // On the worker, the time this thread waited for it after its other files; in this thread, the time they took.
      logger.debug({ thread: scoreFiles.thread, ms: Math.round(performance.now() - waitFrom) }, 'score files written');
      if (o.scoresFormat === 'parquet') await writeScoresParquet(publication, ids, ev, scores, measures);
      for (const r of after) publication.add(r);
      lap('write');

      // The hashes were taken in the pass that read each file; the file is unchanged since
      // before that pass (checked again here, just before publishing), so they are the
      // hashes of the files as they were before the run read them.
      checkInputsUnchanged(extracts.files, before);
      const inputs: { extract: string; file: string; bytes: number; sha256: string }[] = extracts.files.map((f) => ({
        extract: f.extract,
        file: basename(f.path),
        bytes: f.before.size,
        sha256: f.sha256,
      }));
      // A night from a scores file: that file is an input too (its bytes hashed as they were read).
      if ('scoresFile' in a)
        inputs.push({ extract: 'scores', file: a.scoresFile.file, bytes: a.scoresFile.bytes, sha256: a.scoresFile.sha256 });
      publication.writeText('summary.json', JSON.stringify(summary, null, 2) + '\n');
      // The report leaves the timings out, so a rerun of the same inputs writes the same bytes.
      publication.writeText('report.html', reportHtml);
      await publication.synced();
      logger.debug({ target: publication.target }, 'publishing');
      const published = publication.commit((outputs) =>
        manifestJson({ asOf: asOfText, pack, packPath: o.packPath, config: o.config, inputs, outputs, profile }),
      );
      publication = undefined;
      try {
        clearFailureReport(o.outRoot, asOfText);
      } catch {
        logger.warn({ date: asOfText }, 'could not remove the report of an earlier failed run');
      }
      logger.info({ tasks: taskCounts, flagged: summary.flagged }, 'published');
      return { published, tasks: taskCounts, summary };
    } catch (e) {
      publication?.abandon();
      publication = undefined;
      reportFailure(o, asOfText, e, extracts);
      throw e;
    } finally {
      closeEngine();
      await scoresThread?.release();
      publication?.abandon();
    }
  } finally {
    lock.release();
  }
}

const REJECT_HEADER = ['file', 'line', 'column', 'code', 'reason', 'raw_value'];

/** rejects.csv: every text cell neutralised against formulas (the line number is ours). */
function rejectsCsv(extracts: Pick<TaskExtracts, 'rejects'>): string {
  const parts: Buffer[] = [];
  const w = new CsvBytesWriter((bytes) => {
    parts.push(Buffer.from(bytes));
  });
  writeRejects(w, extracts);
  w.end();
  return Buffer.concat(parts).toString('utf8');
}

function writeRejects(w: CsvBytesWriter, extracts: Pick<TaskExtracts, 'rejects'>): void {
  w.rawString(csvLine(REJECT_HEADER));
  for (const r of extracts.rejects.rows) {
    w.cellString(r.file, true);
    w.comma();
    w.uint(r.line);
    w.comma();
    w.cellString(r.column, true);
    w.comma();
    w.cellString(r.code, true);
    w.comma();
    w.cellString(r.reason, true);
    w.comma();
    w.cellString(r.raw, true);
    w.endLine();
  }
}

/** A CSV file of the publication, written and closed; its record is the caller's to add. */
function writeCsv(publication: Publication, name: string, write: (w: CsvBytesWriter) => void): OutputRecord {
  const file = publication.open(name);
  const w = new CsvBytesWriter((bytes) => file.writeBytes(bytes));
  write(w);
  w.end();
  return file.close();
}

interface InputIdentity {
  file: string;
  size: number;
  id: string;
}

function identityOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Size, inode and modification and change times of every extract present, before any is read. */
function snapshotInputs(input: InputOptions): Map<string, InputIdentity> {
  const out = new Map<string, InputIdentity>();
  for (const name of EXTRACT_NAMES) {
    const path = locateExtract(input, name);
    if (path === undefined) continue;
    try {
      const st = statSync(path, { bigint: true });
      if (st.isFile()) out.set(path, { file: basename(path), size: Number(st.size), id: identityOf(st) });
    } catch {
      /* the reader reports it */
    }
  }
  return out;
}

/**
 * An input read by this run must be the file that was there when the run started:
 * same inode, size, modification and change time (the change time moves with every
 * write and cannot be set back), and the bytes read must be its size.
 */
function checkInputsUnchanged(files: FileStats[], before: Map<string, InputIdentity>): void {
  for (const f of files) {
    const then = before.get(f.path);
    if (then === undefined || identityNow(f.path) !== then.id || f.bytes !== then.size || f.before.size !== then.size)
      throw inputChanged(f.file);
  }
}

function identityNow(path: string): string | undefined {
  try {
    return identityOf(statSync(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

/** The name of the first input noted before reading that is no longer the same file, if any. */
function changedSince(before: Map<string, InputIdentity>): string | undefined {
  for (const [path, then] of before) if (identityNow(path) !== then.id) return then.file;
  return undefined;
}

function inputChanged(file: string): ChurnwatchError {
  return new ChurnwatchError(
    'CW_INPUT_CHANGED',
    `${file} changed while the run read it (its size or modification time moved since the run started; the export may still be running); nothing was published: rerun when the export has finished`,
    { file },
  );
}

/** Leaves OUTDIR/failed/<date>/ for the operator; never hides the original error. */
function reportFailure(o: RunOptions, asOfText: string, e: unknown, extracts: TaskExtracts | undefined): void {
  const known = e instanceof ChurnwatchError;
  const code = known ? e.code : 'CW_INTERNAL';
  const failure = {
    as_of: asOfText,
    code,
    exit_code: EXIT_CODES[code],
    message: scrubPersonal(known ? e.message : `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`),
    ...(known && e.context.gate ? { gate: e.context.gate } : {}),
    ...(known && e.context.file ? { file: e.context.file } : {}),
    ...(known && e.context.line !== undefined ? { line: e.context.line } : {}),
    ...(extracts ? { files: fileSummary(extracts, false), rejects: 'rejects.csv' } : {}),
  };
  const files = [{ name: 'failure.json', text: JSON.stringify(failure, null, 2) + '\n' }];
  if (extracts) files.push({ name: 'rejects.csv', text: rejectsCsv(extracts) });
  try {
    const where = writeFailureReport(o.outRoot, asOfText, { fileMode: o.fileMode, dirMode: o.dirMode }, files);
    o.logger.info({ report: where, code }, 'failed run reported');
  } catch (e2) {
    o.logger.warn({ code: (e2 as ChurnwatchError).code ?? 'error' }, 'could not write the failed-run report');
  }
}
