/**
 * Worker thread entry (see task-files.ts): rebuilds the render input over the shared
 * columns while the main thread applies the contact policy, then writes the first
 * tier job the main thread offers and takes the next while any is left, writing each into the
 * publication's folder as the main thread would (writePlain). It posts the records
 * once every file it made is written and synced, or its error as plain data:
 * nothing of it is still writing when it posts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { writePlain } from './plain-tasks.js';
import { FolderWriter } from './publish.js';
import {
  planOf,
  renderInputOf,
  type FromTaskFilesWorker,
  type TaskFilesStart,
  type TierRecords,
  type ToTaskFilesWorker,
} from './task-files.js';

const start = workerData as TaskFilesStart;
const port = parentPort!;
const input = renderInputOf(start);

// The messages, as they come: the count first, then the jobs in order.
const inbox: ToTaskFilesWorker[] = [];
let wake: (() => void) | null = null;
port.on('message', (m: ToTaskFilesWorker) => {
  inbox.push(m);
  wake?.();
});
async function next(): Promise<ToTaskFilesWorker> {
  while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
  wake = null;
  return inbox.shift()!;
}

async function write(): Promise<FromTaskFilesWorker> {
  const folder = new FolderWriter(start.place);
  const written: TierRecords[] = [];
  try {
    const first = await next();
    const count = first.type === 'tiers' ? first.count : 0;
    // The first job is this thread's; the others go to whichever thread is free first.
    for (let q = 0; q < count; q = Atomics.add(start.next, 0, 1)) {
      let job = await next();
      // Jobs come in order; those before q went to the main thread.
      while (job.type !== 'job' || job.q < q) job = await next();
      const records: TierRecords = { tier: job.tier, full: [], deltas: [] };
      written.push(records);
      writePlain(folder, input, planOf(job.plan, start.measures), job.rows, job.withDelta, records);
    }
    await folder.synced();
    return { type: 'done', tiers: written };
  } catch (e) {
    // The syncs under way must end before the main thread may remove the folder.
    await folder.synced().catch(() => {});
    return { type: 'error', error: serializeError(e) };
  }
}

void write().then((msg) => {
  port.postMessage(msg);
  port.unref();
});
