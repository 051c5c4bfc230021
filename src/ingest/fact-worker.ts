/**
 * Worker thread entry (see parallel.ts): reads the subscriber ids of subscribers.csv
 * into a shared IdTable (the main thread meanwhile reads the rest of that file), posts
 * the table, then folds its fact jobs one after another and posts each result with
 * its arrays transferred. A worker that is not given subscribers.csv is sent the
 * table instead, and hashes files while it waits. A worker given a byte range of
 * subscribers.csv scans it for ids and attributes, posts the scan, and is sent the
 * table joined from every range. Errors go back as plain data and
 * are rebuilt into the same ChurnwatchError (code, message, context) in the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFactJob, transferables } from './fact-jobs.js';
import { resolveKeys, scanSubscribers } from './subscribers.js';
import { serializeError } from '../errors.js';
import { IdTable } from './id-table.js';
import { packScan } from './subscriber-ranges.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';

const port = parentPort!;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function main(): Promise<void> {
  const w = workerData as WorkerInput;
  let at = -1;
  try {
    let idTable: Promise<IdTable>;
    const sent = () => new Promise<IdTable>((resolve) => port.once('message', (m: ToWorker) => resolve(IdTable.fromShared(m.table))));
    if (w.subscribers?.range) {
      // Listening before the scan is posted: the table may come back right after it.
      idTable = sent();
      try {
        const { path, file, range } = w.subscribers;
        const scan = await scanSubscribers(path, file, w.input, { keys: true, values: true, range });
        const { packed, transfer } = packScan(scan);
        post({ type: 'scan', scan: packed, error: null }, transfer);
      } catch (e) {
        post({ type: 'scan', scan: null, error: serializeError(e) });
      }
    } else if (w.subscribers !== null) {
      const scan = await scanSubscribers(w.subscribers.path, w.subscribers.file, w.input, { keys: true, values: false });
      const keys = resolveKeys(scan, w.subscribers.file);
      const table = keys.table.share();
      post({ type: 'keys', table, dups: keys.dups, rejects: keys.rejects, valid: scan.valid, sha256: scan.stats.sha256 });
      idTable = Promise.resolve(keys.table);
    } else {
      idTable = sent();
    }
    for (at = 0; at < w.jobs.length; at++) {
      const job = w.jobs[at]!;
      const j = at;
      post({ type: 'start', job: j });
      const onRows = w.progress
        ? (rows: number, bytes: number) => post({ type: 'rows', job: j, extract: job.extract, rows, bytes })
        : undefined;
      const table = 'hash' in job ? null : await idTable;
      const subs = { n: table?.n ?? 0, idTable: table ?? new IdTable(1) };
      const result = await runFactJob(job, w.input, subs, onRows);
      post({ type: 'result', job: at, result }, transferables(result));
    }
  } catch (e) {
    post({ type: 'error', job: at, error: serializeError(e) });
  }
  post({ type: 'done' });
}

void main();
