/**
 * scores.csv and scores.arrow, written beside the task files: on a large run by a
 * worker thread (the compiled scores-worker.js next to this file) while the main
 * thread writes the task files, so the write stage takes about the longer of the two
 * instead of their sum; on a small run, with one core, or when running from
 * TypeScript sources (the tests) where there is no compiled worker, in this thread
 * when their records are asked for. Either way the files are the same bytes, and a
 * failure is the same error: the worker sends its error back as data and it is
 * thrown here, from records().
 *
 * `parallel` (the CLI's CHURNWATCH_WRITE_PARALLEL) turns the worker off or on
 * regardless of the run's size (for tests and diagnosis).
 */
import { availableParallelism } from 'node:os';
import { deserializeError } from '../errors.js';
import type { TextColumn } from '../util/text-column.js';
import { compiledWorker, startForResult, startSpare, type SpareThread, type WorkerThread } from '../util/worker.js';
import type { OutputRecord, Publication } from './publish.js';
// scores.js itself loads apache-arrow, which the main thread needs only when it writes the files itself.
import {
  toRulesPart,
  toScoresPart,
  toWorkerInput,
  type MeasureColumn,
  type ScoreRules,
  type ScoresFromWorker,
  type ScoresWorkerInput,
  type ScoreValues,
} from './scores-protocol.js';

/**
 * Below this many subscribers the worker saves nothing: starting it (a thread, and
 * loading apache-arrow there) takes about 0.25 s, about what the score files of
 * 250,000 subscribers take in the main thread (measured on two cores: a loss at 100k,
 * even at 250k, the write stage 0.7 s shorter at 1M).
 */
const WORKER_MIN_SUBSCRIBERS = 250_000;

/** The worker script, or null when this module runs from sources that were not compiled. */
export function scoresWorkerUrl(): URL | null {
  return compiledWorker(import.meta.url, 'scores-worker.js');
}

/** Whether a run of n subscribers writes its files on worker threads (`parallel`, when given, decides instead). */
export function wantWorker(n: number, parallel?: boolean): boolean {
  if (parallel !== undefined) return parallel;
  return n >= WORKER_MIN_SUBSCRIBERS && availableParallelism() >= 2;
}

/**
 * The worker's thread for a run of n subscribers that will write its score files there,
 * started before their columns exist (at the rules stage, which leaves the second core
 * idle): its start and module loading, ~0.2 s of CPU, are then off the write stage,
 * where every thread of the run shares the cores. Null when the files will be written
 * in this thread. ScoreFiles.start takes it; the caller releases it if the run ends first.
 */
export function startScoresThread(n: number, parallel?: boolean): SpareThread | null {
  const url = wantWorker(n, parallel) ? scoresWorkerUrl() : null;
  return url === null ? null : startSpare(url);
}

type Outcome = { records: OutputRecord[] } | { error: Error };

/** `thread` (startScoresThread) given the rules' columns now, unless it has them already. */
export function handScoreRules(
  thread: SpareThread | ScoreRulesHandedOver,
  publication: Publication,
  ids: TextColumn,
  ev: ScoreRules,
): ScoreRulesHandedOver {
  return thread instanceof ScoreRulesHandedOver ? thread : new ScoreRulesHandedOver(thread, publication, ids, ev);
}

/**
 * The worker of startScoresThread given the rules' columns as soon as the rules stage is
 * done: it makes the rule flags' combinations (scores.ts flagKeys) while the score stage
 * runs on the main thread alone, instead of beside the policy and the task files.
 * ScoreFiles.start hands it the scores; release() ends it if the run ends first.
 */
export class ScoreRulesHandedOver {
  private scored = false;
  private readonly worker: WorkerThread;
  readonly outcome: Promise<Outcome>;

  constructor(
    thread: SpareThread,
    publication: Publication,
    ids: TextColumn,
    readonly ev: ScoreRules,
  ) {
    const { thread: worker, result } = startForResult<ScoresFromWorker>(
      thread,
      toRulesPart(publication.place(), ids, ev),
      'score-files worker',
    );
    this.worker = worker;
    this.outcome = outcomeOf(result);
  }

  /** The outcome of writing the files once the scores are handed over. */
  score(s: ScoreValues, measures: readonly MeasureColumn[]): Promise<Outcome> {
    this.scored = true;
    this.worker.post(toScoresPart(s, measures));
    return this.outcome;
  }

  async release(): Promise<void> {
    if (this.scored) return;
    await this.worker.terminate();
    await this.outcome;
  }
}

export class ScoreFiles {
  /** Where the files are written: 'worker' (already under way) or 'main' (in records()). */
  readonly thread: 'worker' | 'main';

  /**
   * Starts writing the score files of `publication`: on a worker now, or (in this thread)
   * when records() is called. `parallel` decides instead of the run's size. The
   * columns may be used meanwhile: the worker has its own copy.
   * `measures` (run --with-measures) follow the rule flags. `thread`, from
   * startScoresThread, is taken instead of starting one; one that already has these
   * rules' columns is only handed the scores.
   */
  static start(
    publication: Publication,
    ids: TextColumn,
    ev: ScoreRules,
    s: ScoreValues,
    measures: readonly MeasureColumn[] = [],
    parallel?: boolean,
    thread: SpareThread | ScoreRulesHandedOver | null = null,
  ): ScoreFiles {
    let spare: SpareThread | null = null;
    if (thread instanceof ScoreRulesHandedOver) {
      if (thread.ev === ev) return new ScoreFiles(publication, ids, ev, s, measures, thread.score(s, measures));
      void thread.release();
    } else spare = thread;
    const url = wantWorker(ids.length, parallel) ? scoresWorkerUrl() : null;
    if (url === null) void spare?.release();
    const script = url === null ? null : (spare ?? url);
    const outcome = script === null ? null : runWorker(script, toWorkerInput(publication.place(), ids, ev, s, measures));
    return new ScoreFiles(publication, ids, ev, s, measures, outcome);
  }

  private constructor(
    private readonly publication: Publication,
    private readonly ids: TextColumn,
    private readonly ev: ScoreRules,
    private readonly s: ScoreValues,
    private readonly measures: readonly MeasureColumn[],
    private readonly outcome: Promise<Outcome> | null,
  ) {
    this.thread = outcome === null ? 'main' : 'worker';
  }

  /** The records of scores.csv and scores.arrow, in that order, once both are written and closed. */
  async records(): Promise<OutputRecord[]> {
    if (this.outcome === null) {
      const { writeScoreFiles } = await import('./scores.js');
      return writeScoreFiles((name) => this.publication.open(name), this.ids, this.ev, this.s, this.measures);
    }
    const o = await this.outcome;
    if ('error' in o) throw o.error;
    return o.records;
  }

  /**
   * Waits until the worker has stopped touching the publication's folder, whatever
   * the outcome: for when the run fails elsewhere and is about to remove the folder.
   */
  async settle(): Promise<void> {
    await this.outcome;
  }
}

/** Runs the worker to its end; never rejects (a failure is the outcome's error). */
function runWorker(script: URL | SpareThread, input: ScoresWorkerInput): Promise<Outcome> {
  return outcomeOf(startForResult<ScoresFromWorker>(script, input, 'score-files worker').result);
}

async function outcomeOf(result: Promise<ScoresFromWorker | Error>): Promise<Outcome> {
  const m = await result;
  if (m instanceof Error) return { error: m };
  return m.type === 'done' ? { records: m.records } : { error: deserializeError(m.error) };
}
