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
import { compiledWorker, startForResult, startSpare, type SpareThread } from '../util/worker.js';
import type { OutputRecord, Publication } from './publish.js';
// scores.js itself loads apache-arrow, which the main thread needs only when it writes the files itself.
import {
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

export class ScoreFiles {
  /** Where the files are written: 'worker' (already under way) or 'main' (in records()). */
  readonly thread: 'worker' | 'main';
  private readonly outcome: Promise<Outcome> | null;

  /**
   * Starts writing the score files of `publication`: on a worker now, or (in this thread)
   * when records() is called. `parallel` decides instead of the run's size. The
   * columns may be used meanwhile: the worker has its own copy.
   * `measures` (run --with-measures) follow the rule flags. `thread`, from
   * startScoresThread, is taken instead of starting one.
   */
  static start(
    publication: Publication,
    ids: TextColumn,
    ev: ScoreRules,
    s: ScoreValues,
    measures: readonly MeasureColumn[] = [],
    parallel?: boolean,
    thread: SpareThread | null = null,
  ): ScoreFiles {
    const url = wantWorker(ids.length, parallel) ? scoresWorkerUrl() : null;
    if (url === null) void thread?.release();
    return new ScoreFiles(publication, ids, ev, s, measures, url === null ? null : (thread ?? url));
  }

  private constructor(
    private readonly publication: Publication,
    private readonly ids: TextColumn,
    private readonly ev: ScoreRules,
    private readonly s: ScoreValues,
    private readonly measures: readonly MeasureColumn[],
    script: URL | SpareThread | null,
  ) {
    this.thread = script === null ? 'main' : 'worker';
    this.outcome = script === null ? null : runWorker(script, toWorkerInput(publication.place(), ids, ev, s, measures));
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
async function runWorker(script: URL | SpareThread, input: ScoresWorkerInput): Promise<Outcome> {
  const m = await startForResult<ScoresFromWorker>(script, input, 'score-files worker').result;
  if (m instanceof Error) return { error: m };
  return m.type === 'done' ? { records: m.records } : { error: deserializeError(m.error) };
}
