/**
 * The rules stage on two threads. With a scorecard most of the stage is passes that need
 * no rule code (passes.ts: the measures' steps, the logit and its named terms), and the
 * second core idles while the main thread runs them: a worker thread (rules-worker.ts,
 * started when the ingest ends) takes a share of them, on columns in shared memory. The
 * main thread computes each measure's values with the rule code and hands the measure's
 * steps over as a job; it runs the plain rules meanwhile, and any job the thread has not
 * taken yet it runs itself. The logit is cut into ranges of subscribers, the main thread
 * taking them from the first, the thread from the last. A job or range is taken by one
 * thread only (a compare-and-swap of its cell in a board of shared Int32s), and its
 * outputs are its own arrays or its own subscribers' cells: what was computed never
 * depends on which thread did it, nor on when.
 *
 * evaluate() stays synchronous: it waits for the thread's jobs with Atomics.wait, never
 * for a message. Without the thread (tests from TypeScript sources, a small run, one
 * core, a pack without a scorecard) every job runs in the main thread, the same code.
 */
import { availableParallelism } from 'node:os';
import {
  compiledWorker,
  sharedFloat64,
  sharedInt32,
  sharedUint8,
  startSpare,
  startWorker,
  type SpareThread,
  type WorkerThread,
} from '../util/worker.js';
import { binSteps, logitRows, type Naming, type StepsWork, type TermTables } from './passes.js';

/** A job's cell: 0 until it is ready; then ready, taken by the thread or by the main thread, done, or failed in the thread. */
const READY = 1,
  BY_THREAD = 2,
  BY_MAIN = 3,
  DONE = 4,
  FAILED = 5;

/** Subscribers per range of the logit: small enough that the last range either thread waits for is short. */
const LOGIT_ROWS = 16_384;

/** Values arrays of measures whose steps wait for a thread: fresh 8-byte columns per measure cost a page fault per 512 subscribers. */
const VALUES_POOL = 3;
/**
 * From this many subscribers, one values array fewer: each is 8 bytes a subscriber, and
 * at 10M the third (80 MB) is held at the rules stage's end, the night's peak then.
 */
const SMALLER_POOL_FROM = 1 << 22;

/** Below this many subscribers the thread saves less than its start costs (~40 ms of CPU). */
const THREAD_MIN_SUBSCRIBERS = 250_000;

/** A job waited for longer than this is a thread that died mid-job (a job takes milliseconds). */
const WAIT_LIMIT_MS = 60_000;

/** How the jobs were shared: steps jobs and logit ranges in all and run by the main thread, and its wait for the other. */
export interface RulesShare {
  steps: number;
  stepsHere: number;
  ranges: number;
  rangesHere: number;
  waitedMs: number;
}

function emptyShare(): RulesShare {
  return { steps: 0, stepsHere: 0, ranges: 0, rangesHere: 0, waitedMs: 0 };
}

export type RulesJob =
  | { kind: 'steps'; board: Int32Array; at: number; work: StepsWork }
  | {
      kind: 'logit';
      board: Int32Array;
      n: number;
      terms: TermTables;
      intercept: number;
      logit: Float64Array;
      raised: Uint8Array;
      naming: Naming | null;
    };

/** Where the main thread hands jobs over: the rules thread, or (in tests) anything that runs takeJob on them, or not. */
export interface RulesHelper {
  post(job: RulesJob): void;
  /** Where the main thread adds up how the jobs were shared. */
  readonly share?: RulesShare;
}

function claim(board: Int32Array, at: number, by: typeof BY_THREAD | typeof BY_MAIN): boolean {
  return Atomics.compareExchange(board, at, READY, by) === READY;
}

function finish(board: Int32Array, at: number, outcome: typeof DONE | typeof FAILED): void {
  Atomics.store(board, at, outcome);
  Atomics.notify(board, at);
}

function logitRange(job: Extract<RulesJob, { kind: 'logit' }>, range: number): void {
  const from = range * LOGIT_ROWS;
  logitRows(job.terms, job.intercept, from, Math.min(job.n, from + LOGIT_ROWS), job.logit, job.raised, job.naming);
}

/** The helper's side: the job, unless the main thread took it; a logit's ranges from the last until one is taken. */
export function takeJob(job: RulesJob): void {
  const run = (at: number, work: () => void) => {
    try {
      work();
      finish(job.board, at, DONE);
    } catch {
      // The main thread runs it again, and meets the error itself if it is one of the data.
      finish(job.board, at, FAILED);
    }
  };
  if (job.kind === 'steps') {
    if (claim(job.board, job.at, BY_THREAD)) run(job.at, () => binSteps(job.work));
    return;
  }
  for (let r = job.board.length - 1; r >= 0 && claim(job.board, r, BY_THREAD); r--) run(r, () => logitRange(job, r));
}

/**
 * The main thread's side, per evaluation: values arrays for the measures, the steps jobs
 * handed over as they are made, and the idle work (`idle`: runs one plain rule, false
 * when none is left) done while the thread holds every values array.
 */
export class RulesSplit {
  private readonly board: Int32Array;
  private readonly works: StepsWork[] = [];
  /** Per values array, the job reading it (-1: none). */
  private readonly pool: { x: Float64Array; at: number }[] = [];
  /** How many values arrays the pool grows to: one reused in this thread alone, a few shared with the thread. */
  private readonly poolSize: number;
  /** What the main thread did itself, and how long it waited for the other thread. */
  private readonly share: RulesShare;

  constructor(
    private readonly n: number,
    private readonly helper: RulesHelper | null,
    jobs: number,
    private readonly idle: () => boolean,
  ) {
    this.board = sharedInt32(Math.max(1, jobs));
    this.share = helper?.share ?? emptyShare();
    this.poolSize = helper === null ? 1 : n >= SMALLER_POOL_FROM ? VALUES_POOL - 1 : VALUES_POOL;
  }

  /** An array for a measure's values: one whose job is done, else a new one up to the pool's size, else once a job is done. */
  values(): Float64Array {
    for (;;) {
      const free = this.pool.find((b) => b.at < 0 || Atomics.load(this.board, b.at) === DONE);
      if (free !== undefined) {
        free.at = -1;
        return free.x;
      }
      if (this.pool.length < this.poolSize) {
        // One array reused in the main thread alone, as a plain one.
        const x = this.helper === null ? new Float64Array(this.n) : sharedFloat64(this.n);
        this.pool.push({ x, at: -1 });
        return x;
      }
      if (this.idle()) continue;
      const waiting = this.pool.map((b) => b.at).sort((a, b) => a - b);
      if (!waiting.some((at) => this.runHere(at))) this.settle(waiting[0]!);
    }
  }

  /** The steps of a measure whose values are in work.x (from values()): handed over, or run now. */
  steps(work: StepsWork): void {
    const at = this.works.length;
    this.works.push(work);
    this.share.steps++;
    this.pool.find((b) => b.x === work.x)!.at = at;
    Atomics.store(this.board, at, READY);
    if (this.helper === null) this.runHere(at);
    else this.helper.post({ kind: 'steps', board: this.board, at, work });
  }

  /** Every job done: the idle work first, then the jobs not taken yet (the last first: the thread takes them from the first), then the thread's. */
  finish(): void {
    while (this.idle());
    for (let at = this.works.length - 1; at >= 0; at--) this.runHere(at);
    for (let at = 0; at < this.works.length; at++) this.settle(at);
  }

  /** The logit sums over all subscribers (logitRows), their ranges shared with the thread; after finish(). */
  logit(terms: TermTables, intercept: number, naming: Naming | null): { logit: Float64Array; raised: Uint8Array } {
    const n = this.n;
    // Every cell is written: a values array, its pages in memory already and its measures' jobs done by now
    // (finish()), takes the sums.
    const logit = this.pool.pop()?.x ?? (this.helper === null ? new Float64Array(n) : sharedFloat64(n));
    if (this.helper === null) {
      const raised = new Uint8Array(n);
      logitRows(terms, intercept, 0, n, logit, raised, naming);
      return { logit, raised };
    }
    const raised = sharedUint8(n);
    const ranges = Math.ceil(n / LOGIT_ROWS),
      board = sharedInt32(Math.max(1, ranges));
    for (let r = 0; r < ranges; r++) Atomics.store(board, r, READY);
    const job: RulesJob = { kind: 'logit', board, n, terms, intercept, logit, raised, naming };
    this.helper.post(job);
    let r = 0;
    for (; r < ranges && claim(board, r, BY_MAIN); r++) {
      logitRange(job, r);
      Atomics.store(board, r, DONE);
    }
    this.share.ranges += ranges;
    this.share.rangesHere += r;
    const from = performance.now();
    for (; r < ranges; r++) awaitJob(board, r, () => logitRange(job, r));
    this.share.waitedMs += performance.now() - from;
    return { logit, raised };
  }

  /** Runs steps job `at` here if no thread has taken it. */
  private runHere(at: number): boolean {
    if (!claim(this.board, at, BY_MAIN)) return false;
    binSteps(this.works[at]!);
    Atomics.store(this.board, at, DONE);
    this.share.stepsHere++;
    return true;
  }

  private settle(at: number): void {
    if (this.runHere(at)) return;
    const from = performance.now();
    awaitJob(this.board, at, () => binSteps(this.works[at]!));
    this.share.waitedMs += performance.now() - from;
  }
}

/** Waits until the thread has done job `at`; one it failed is run here (`again`). */
function awaitJob(board: Int32Array, at: number, again: () => void): void {
  const since = performance.now();
  for (;;) {
    const state = Atomics.load(board, at);
    if (state === DONE || state === BY_MAIN) return;
    if (state === FAILED) {
      if (Atomics.compareExchange(board, at, FAILED, BY_MAIN) !== FAILED) continue;
      again();
      Atomics.store(board, at, DONE);
      return;
    }
    if (performance.now() - since > WAIT_LIMIT_MS) throw new Error(`internal: the rules thread held a job for over ${WAIT_LIMIT_MS} ms`);
    Atomics.wait(board, at, state, 1000);
  }
}

/**
 * The worker thread of a run's rules stage, started as a spare (its modules load
 * meanwhile) and taken with the first job. release() ends it; evaluate() has waited
 * for every job it handed over, so nothing of it is still writing then.
 */
export class RulesThread implements RulesHelper {
  private thread: WorkerThread | null = null;
  private released: Promise<void> | undefined;
  readonly share = emptyShare();

  private constructor(private readonly spare: SpareThread) {}

  /**
   * The thread for a run of n subscribers, or null when the rules run in this thread
   * alone; `parallel` (the CLI's CHURNWATCH_RULES_PARALLEL) decides instead of n and the cores.
   */
  static start(n: number, parallel?: boolean): RulesThread | null {
    if (!(parallel ?? (n >= THREAD_MIN_SUBSCRIBERS && availableParallelism() >= 2))) return null;
    const url = compiledWorker(import.meta.url, 'rules-worker.js');
    const spare = url === null ? null : startSpare(url);
    return spare === null ? null : new RulesThread(spare);
  }

  post(job: RulesJob): void {
    // A thread that failed takes no job: the main thread then runs them all.
    this.thread ??= startWorker(this.spare, null, 'rules worker', { message: () => {}, isLast: () => false, failed: () => {} });
    this.thread.post(job);
  }

  /** Ends the thread (again: nothing). */
  release(): Promise<void> {
    this.released ??= this.thread === null ? this.spare.release() : this.thread.terminate();
    return this.released;
  }
}
