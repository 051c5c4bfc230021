/**
 * Messages between the main thread and the fact worker (errors cross as errors.ts's SerializedError).
 */
import type { SerializedError } from '../errors.js';
import type { FactJob, FactResult } from './fact-jobs.js';
import type { SharedIdTable } from './id-table.js';
import type { InputOptions } from './layout.js';
import type { RejectRow } from './rejects.js';

export interface WorkerInput {
  input: InputOptions;
  /**
   * The worker reads the subscriber ids of this file itself, or (null) is sent the
   * table another worker read, in a ToWorker message (jobs that need no ids, hashing a
   * file, run before it comes).
   */
  subscribers: { path: string; file: string } | null;
  jobs: FactJob[];
  /** Post progress messages. */
  progress: boolean;
}

export type ToWorker = { type: 'table'; table: SharedIdTable };

export type FromWorker =
  | { type: 'keys'; table: SharedIdTable; dups: Int32Array; rejects: RejectRow[]; valid: number; sha256: string }
  | { type: 'start'; job: number }
  | { type: 'rows'; job: number; extract: string; rows: number; bytes: number }
  | { type: 'result'; job: number; result: FactResult }
  /** job: the index of the failing job, -1 while reading subscribers.csv. */
  | { type: 'error'; job: number; error: SerializedError }
  | { type: 'done' };
