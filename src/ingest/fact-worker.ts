/**
 * Worker thread entry (see parallel.ts): reads the subscriber ids of subscribers.csv
 * into a shared IdTable (the main thread meanwhile reads the rest of that file), posts
 * the table, then folds the fact jobs it is given one after another and posts each
 * result with its arrays transferred. A worker that is not given subscribers.csv is
 * sent the table instead, and hashes files while it waits. A worker given a byte range
 * of subscribers.csv scans it for ids and attributes, posts the scan, and is sent the
 * table joined from every range. Errors go back as plain data and are rebuilt into
 * the same ChurnwatchError (code, message, context) in the main thread; a job's error
 * does not stop the worker (the main thread decides what is read again).
 */
import { parentPort } from 'node:worker_threads';
import { runFactJob, transferables } from './fact-jobs.js';
import { resolveKeys, scanSubscribers } from './subscribers.js';
import { serializeError } from '../errors.js';
import { IdTable } from './id-table.js';
import { packScan } from './subscriber-ranges.js';
import { threadInput } from '../util/worker.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';

const port = parentPort!;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

// Jobs and the table come as messages, at any time: the table may come right after the scan is posted.
let gotTable!: (t: IdTable) => void;
const sentTable = new Promise<IdTable>((resolve) => (gotTable = resolve));
const inbox: Exclude<ToWorker, { type: 'table' }>[] = [];
let wake: (() => void) | null = null;
// (A spare thread, started before the run knew its input, is sent it first.)
const input = threadInput<WorkerInput, ToWorker>((m) => {
  if (m.type === 'table') gotTable(IdTable.fromShared(m.table));
  else {
    inbox.push(m);
    wake?.();
  }
});
async function next(): Promise<Exclude<ToWorker, { type: 'table' }>> {
  while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
  wake = null;
  return inbox.shift()!;
}

async function main(): Promise<void> {
  const w = await input;
  let idTable: Promise<IdTable> = sentTable;
  try {
    if (w.subscribers?.range) {
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
    }
  } catch (e) {
    post({ type: 'error', job: -1, error: serializeError(e) });
    post({ type: 'done' });
    port.unref();
    return;
  }
  post({ type: 'ready' });
  for (let m = await next(); m.type === 'job'; m = await next()) {
    const { id, job } = m;
    try {
      post({ type: 'start', job: id });
      const onRows = w.progress
        ? (rows: number, bytes: number) => post({ type: 'rows', job: id, extract: job.extract, rows, bytes })
        : undefined;
      const table = 'hash' in job ? null : await idTable;
      const subs = { n: table?.n ?? 0, idTable: table ?? new IdTable(1) };
      const result = await runFactJob(job, w.input, subs, onRows);
      post({ type: 'result', job: id, result }, transferables(result));
    } catch (e) {
      post({ type: 'error', job: id, error: serializeError(e) });
    }
  }
  post({ type: 'done' });
  port.unref();
}

void main();
