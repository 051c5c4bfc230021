/**
 * The fact worker's script, and the messages between the main thread and it (errors
 * cross as errors.ts's SerializedError). Light on purpose: the CLI starts the workers
 * from here before it loads the rest of the run.
 */
import type { SerializedError } from '../errors.js';
import type { FactJob, FactResult } from './fact-jobs.js';
import type { SharedIdTable } from './id-table.js';
import type { InputOptions } from './layout.js';
import type { ByteRange } from './read-extract.js';
import type { RejectRow } from './rejects.js';
import type { PackedScan } from './subscriber-ranges.js';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compiledWorker, startSpare, type SpareThread } from '../util/worker.js';

/** The worker script, or null when this module runs from sources that were not compiled. */
export function factWorkerUrl(): URL | null {
  return compiledWorker(import.meta.url, 'fact-worker.js');
}

/** Below this many bytes of extracts, starting a worker costs more than it saves. */
export const PARALLEL_MIN_BYTES = 48 << 20;

/**
 * Up to `count` fact workers started before the run knows what they will read (see
 * IngestPlan.spareThreads); none when running from sources, or when the files in
 * `inputDir` are too small for the ingest to use a worker (a guess: the ingest decides
 * by the extracts it reads, and releases what it does not take).
 */
export function spareFactWorkers(count: number, inputDir: string): SpareThread[] {
  const url = factWorkerUrl();
  const started: SpareThread[] = [];
  if (url === null || folderBytes(inputDir) < PARALLEL_MIN_BYTES) return started;
  for (let k = 0; k < count; k++) {
    const spare = startSpare(url);
    if (spare !== null) started.push(spare);
  }
  return started;
}

/** The bytes of the files in `dir` (0 when it cannot be read: the run fails on it anyway). */
function folderBytes(dir: string): number {
  try {
    let bytes = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isFile()) bytes += statSync(join(dir, e.name)).size;
    return bytes;
  } catch {
    return 0;
  }
}

export interface WorkerInput {
  input: InputOptions;
  /**
   * The worker reads the subscriber ids of this file itself, or (null) is sent the
   * table another thread made, in a ToWorker message (jobs that need no ids, hashing a
   * file, run before it comes). With a range, the worker scans that range for ids and
   * attributes, posts the scan, and is sent the table the main thread joins from all ranges.
   */
  subscribers: { path: string; file: string; range?: ByteRange & { header: string[] | null } } | null;
  /** Post progress messages. */
  progress: boolean;
}

/**
 * The worker is given one job at a time, the next when it posts the result of the one
 * before (or 'ready', at first), so that the threads share the jobs by how long each
 * really takes; 'end' when there is none left for it.
 */
export type ToWorker = { type: 'table'; table: SharedIdTable } | { type: 'job'; id: number; job: FactJob } | { type: 'end' };

export type FromWorker =
  | { type: 'keys'; table: SharedIdTable; dups: Int32Array; rejects: RejectRow[]; valid: number; sha256: string }
  /** A range of subscribers.csv scanned (or its error: the main thread then reads the file whole). */
  | { type: 'scan'; scan: PackedScan | null; error: SerializedError | null }
  /** Done with subscribers.csv: the first job may come. */
  | { type: 'ready' }
  | { type: 'start'; job: number }
  | { type: 'rows'; job: number; extract: string; rows: number; bytes: number }
  | { type: 'result'; job: number; result: FactResult }
  /** job: the id of the failing job, -1 while reading subscribers.csv (the worker then stops). */
  | { type: 'error'; job: number; error: SerializedError }
  | { type: 'done' };
