/**
 * Worker thread entry (see task-files.ts): rebuilds the render input over the shared
 * columns while the main thread applies the contact policy, then writes the one tier
 * it is given into the publication's folder as the main thread would (writePlain),
 * and posts the records once every file is written, copied and synced, or its error
 * as plain data. Nothing of it is still writing when it posts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { writePlain, type PlainRecords } from './plain-tasks.js';
import { FolderWriter } from './publish.js';
import { planOf, renderInputOf, type FromTaskFilesWorker, type TaskFilesStart, type ToTaskFilesWorker } from './task-files.js';

const start = workerData as TaskFilesStart;
const port = parentPort!;
const input = renderInputOf(start);

async function write(m: ToTaskFilesWorker): Promise<FromTaskFilesWorker> {
  if (m.type === 'none') return { type: 'done', full: [], deltas: [] };
  const folder = new FolderWriter(start.place);
  const records: PlainRecords = { full: [], deltas: [] };
  try {
    writePlain(folder, input, planOf(m.plan, start.measures), m.rows, m.withDelta, records);
    const deltas = await Promise.all(records.deltas);
    await folder.synced();
    return { type: 'done', full: records.full, deltas };
  } catch (e) {
    // The copies and syncs under way must end before the main thread may remove the folder.
    await Promise.allSettled([...records.deltas, folder.synced()]);
    return { type: 'error', error: serializeError(e) };
  }
}

port.once('message', (m: ToTaskFilesWorker) => {
  void write(m).then((msg) => {
    port.postMessage(msg);
    port.unref();
  });
});
