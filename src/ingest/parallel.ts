/**
 * The fact worker seen from the main thread: starts it, collects its messages
 * (the shared id table, progress, results, an error) and lets the caller wait for
 * what it needs. The worker script is the compiled fact-worker.js next to this file;
 * when it is not there (running from TypeScript sources, as the tests do), the
 * caller reads everything in this thread instead.
 */
import { deserializeError } from '../errors.js';
import { startWorker, type SpareThread, type WorkerThread } from '../util/worker.js';
import type { FactJob, FactResult } from './fact-jobs.js';
import { IdTable } from './id-table.js';
import type { RejectRow } from './rejects.js';
import type { SharedIdTable } from './id-table.js';
import { unpackScan } from './subscriber-ranges.js';
import type { SubscriberScan } from './subscribers.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';

export { factWorkerUrl } from './worker-protocol.js';

export interface WorkerKeys {
  table: IdTable;
  dups: Int32Array;
  rejects: RejectRow[];
  valid: number;
  sha256: string;
}

/** What a worker reports as it goes (ids are the caller's job ids). */
export interface FactWorkerHooks {
  /** Ready for a job: after subscribers.csv, and after each result or error, when no job given is left undone. */
  onReady(): void;
  onStart?: (job: number) => void;
  onRows?: (job: number, rows: number, bytes: number) => void;
  onResult(job: number, result: FactResult): void;
  onError(job: number, error: Error): void;
}

export class FactWorker {
  private readonly worker: WorkerThread;
  /** A failure outside any job: reading subscribers.csv (its ids), or the thread itself. */
  failure: Error | null = null;
  private finished = false;
  private wake: (() => void)[] = [];
  private keysValue: WorkerKeys | null = null;
  private scanValue: { scan: SubscriberScan | null; error: Error | null } | null = null;
  /** Jobs given and not yet answered (one given before the worker is ready waits in its inbox). */
  private given = 0;

  /** `spare`: a thread of the same script started earlier (IngestPlan.spareThreads), taken instead of a new one. */
  constructor(url: URL, input: WorkerInput, hooks: FactWorkerHooks, spare?: SpareThread) {
    this.worker = startWorker<FromWorker>(spare ?? url, input, 'ingest worker', {
      isLast: (m) => m.type === 'done',
      message: (m) => {
        switch (m.type) {
          case 'keys':
            this.keysValue = { table: IdTable.fromShared(m.table), dups: m.dups, rejects: m.rejects, valid: m.valid, sha256: m.sha256 };
            break;
          case 'scan':
            this.scanValue = {
              scan: m.scan === null ? null : unpackScan(m.scan),
              error: m.error === null ? null : deserializeError(m.error),
            };
            break;
          case 'ready':
            if (this.given === 0) hooks.onReady();
            break;
          case 'start':
            hooks.onStart?.(m.job);
            break;
          case 'rows':
            hooks.onRows?.(m.job, m.rows, m.bytes);
            break;
          case 'result':
            // The next job first: the result's merge runs here while the worker reads it.
            if (--this.given === 0) hooks.onReady();
            hooks.onResult(m.job, m.result);
            break;
          case 'error':
            if (m.job < 0) this.failure ??= deserializeError(m.error);
            else {
              // (After the error is known: it may take the failed file's other jobs off the queue.)
              hooks.onError(m.job, deserializeError(m.error));
              if (--this.given === 0) hooks.onReady();
            }
            break;
          case 'done':
            this.finished = true;
            break;
        }
        this.notify();
      },
      failed: (e) => {
        this.failure ??= e;
        this.finished = true;
        this.notify();
      },
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((r) => this.wake.push(r));
  }

  /** The worker's id table for subscribers.csv (throws the worker's error if it failed first). */
  async keys(): Promise<WorkerKeys> {
    await this.until(() => this.keysValue !== null || this.failure !== null || this.finished);
    if (this.keysValue !== null) return this.keysValue;
    throw this.failure ?? new Error('the ingest worker finished without reading subscribers.csv');
  }

  /**
   * The worker's scan of its range of subscribers.csv, or the error it raised (or the
   * worker's, if it failed). Taken once: this object lives to the end of the read, and
   * a range's columns kept here after they were joined would stay with it (0.6 GB at 10M).
   */
  async scan(): Promise<{ scan: SubscriberScan | null; error: Error | null }> {
    await this.until(() => this.scanValue !== null || this.failure !== null || this.finished);
    const got = this.scanValue ?? { scan: null, error: this.failure ?? new Error('the ingest worker finished without scanning its range') };
    this.scanValue = null;
    return got;
  }

  /** Waits until the worker has ended (after end(), or a failure). */
  async ended(): Promise<void> {
    await this.until(() => this.finished);
  }

  /** Sends a worker started without subscribers.csv the id table its jobs need. */
  sendTable(table: SharedIdTable): void {
    this.post({ type: 'table', table });
  }

  /** Gives the worker its next job (before it is ready, too: the job waits for it). */
  assign(id: number, job: FactJob): void {
    this.given++;
    this.post({ type: 'job', id, job });
  }

  /** No more jobs: the worker ends. */
  end(): void {
    this.post({ type: 'end' });
  }

  private post(m: ToWorker): void {
    this.worker.post(m);
  }

  async terminate(): Promise<void> {
    this.finished = true;
    await this.worker.terminate();
  }
}
