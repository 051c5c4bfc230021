/**
 * Messages between the main thread and the fact worker, and errors as plain data.
 */
import { ChurnwatchError, type ErrorCode, type ErrorContext } from '../errors.js';
import type { FactJob, FactResult } from './fact-jobs.js';
import type { SharedIdTable } from './id-table.js';
import type { InputOptions } from './layout.js';
import type { RejectRow } from './rejects.js';

export interface WorkerInput {
  input: InputOptions;
  subscribers: { path: string; file: string };
  jobs: FactJob[];
  /** Post progress messages. */
  progress: boolean;
}

export interface SerializedError {
  churnwatch: boolean;
  name: string;
  message: string;
  code?: string;
  context?: ErrorContext;
  stack?: string;
}

export type FromWorker =
  | { type: 'keys'; table: SharedIdTable; dups: Int32Array; rejects: RejectRow[]; valid: number; sha256: string }
  | { type: 'start'; job: number }
  | { type: 'rows'; extract: string; rows: number; bytes: number }
  | { type: 'result'; job: number; result: FactResult }
  /** job: the index of the failing job, -1 while reading subscribers.csv. */
  | { type: 'error'; job: number; error: SerializedError }
  | { type: 'done' };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ChurnwatchError) {
    return { churnwatch: true, name: e.name, message: e.message, code: e.code, context: { ...e.context }, stack: e.stack };
  }
  if (e instanceof Error) return { churnwatch: false, name: e.name, message: e.message, stack: e.stack };
  return { churnwatch: false, name: 'Error', message: String(e) };
}

/** The error as it was thrown in the worker: a ChurnwatchError keeps its code, message and context. */
export function deserializeError(s: SerializedError): Error {
  if (s.churnwatch) {
    const e = new ChurnwatchError(s.code as ErrorCode, s.message, s.context ?? {});
    if (s.stack) e.stack = s.stack;
    return e;
  }
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}
