/**
 * Worker thread entry (see parallel.ts): reads the subscriber ids of subscribers.csv
 * into a shared IdTable (the main thread meanwhile reads the rest of that file), posts
 * the table, then folds its fact jobs one after another and posts each result with
 * its arrays transferred. Errors go back as plain data and are rebuilt into the same
 * ChurnwatchError (code, message, context) in the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFactJob, transferables } from './fact-jobs.js';
import { resolveKeys, scanSubscribers } from './subscribers.js';
import { serializeError } from '../errors.js';
import type { FromWorker, WorkerInput } from './worker-protocol.js';

const port = parentPort!;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function main(): Promise<void> {
  const w = workerData as WorkerInput;
  let at = -1;
  try {
    const scan = await scanSubscribers(w.subscribers.path, w.subscribers.file, w.input, { keys: true, values: false });
    const keys = resolveKeys(scan, w.subscribers.file);
    const table = keys.table.share();
    post({ type: 'keys', table, dups: keys.dups, rejects: keys.rejects, valid: scan.valid, sha256: scan.stats.sha256 });
    const subs = { n: keys.table.n, idTable: keys.table };
    for (at = 0; at < w.jobs.length; at++) {
      const job = w.jobs[at]!;
      post({ type: 'start', job: at });
      const onRows = w.progress ? (rows: number, bytes: number) => post({ type: 'rows', extract: job.extract, rows, bytes }) : undefined;
      const result = await runFactJob(job, w.input, subs, onRows);
      post({ type: 'result', job: at, result }, transferables(result));
    }
  } catch (e) {
    post({ type: 'error', job: at, error: serializeError(e) });
  }
  post({ type: 'done' });
}

void main();
