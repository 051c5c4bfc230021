/**
 * The fact worker seen from the main thread: starts it, collects its messages
 * (the shared id table, progress, results, an error) and lets the caller wait for
 * what it needs. The worker script is the compiled fact-worker.js next to this file;
 * when it is not there (running from TypeScript sources, as the tests do), the
 * caller reads everything in this thread instead.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FactResult } from './fact-jobs.js';
import { IdTable } from './id-table.js';
import type { RejectRow } from './rejects.js';
import { deserializeError, type FromWorker, type WorkerInput } from './worker-protocol.js';

/** The worker script, or null when this module runs from sources that were not compiled. */
export function factWorkerUrl(): URL | null {
  const url = new URL('./fact-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.js')) return null;
  return existsSync(fileURLToPath(url)) ? url : null;
}

export interface WorkerKeys {
  table: IdTable;
  dups: Int32Array;
  rejects: RejectRow[];
  valid: number;
  sha256: string;
}

export class FactWorker {
  private readonly worker: Worker;
  private readonly results = new Map<number, FactResult>();
  /** The first failure: the job it happened in (-1: subscribers.csv) and the error. */
  failure: { job: number; error: Error } | null = null;
  private finished = false;
  private wake: (() => void)[] = [];
  private keysValue: WorkerKeys | null = null;

  constructor(url: URL, input: WorkerInput, hooks: {
    onStart?: (job: number) => void;
    onRows?: (extract: string, rows: number, bytes: number) => void;
  } = {}) {
    this.worker = new Worker(url, { workerData: input });
    this.worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'keys':
          this.keysValue = { table: IdTable.fromShared(m.table), dups: m.dups, rejects: m.rejects, valid: m.valid, sha256: m.sha256 };
          break;
        case 'start':
          hooks.onStart?.(m.job);
          break;
        case 'rows':
          hooks.onRows?.(m.extract, m.rows, m.bytes);
          break;
        case 'result':
          this.results.set(m.job, m.result);
          break;
        case 'error':
          this.failure ??= { job: m.job, error: deserializeError(m.error) };
          break;
        case 'done':
          this.finished = true;
          break;
      }
      this.notify();
    });
    this.worker.on('error', (e) => {
      this.failure ??= { job: -1, error: e };
      this.finished = true;
      this.notify();
    });
    this.worker.on('exit', (code) => {
      if (!this.finished) {
        this.failure ??= { job: -1, error: new Error(`the ingest worker stopped unexpectedly (exit code ${code})`) };
        this.finished = true;
      }
      this.notify();
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
    throw this.failure?.error ?? new Error('the ingest worker finished without reading subscribers.csv');
  }

  /** Waits until jobs 0..count-1 have results, or the worker failed or finished. */
  async settled(count: number): Promise<void> {
    await this.until(() => this.finished || this.failure !== null || [...Array(count).keys()].every((j) => this.results.has(j)));
  }

  result(job: number): FactResult | undefined {
    return this.results.get(job);
  }

  async terminate(): Promise<void> {
    this.finished = true;
    await this.worker.terminate();
  }
}
