// Test worker: behaves as workerData.mode says.
import { parentPort, workerData } from 'node:worker_threads';
const { mode } = workerData;
if (mode === 'normal') {
  parentPort.postMessage({ type: 'progress' });
  parentPort.postMessage({ type: 'done' });
}
if (mode === 'silent-exit') {
  parentPort.postMessage({ type: 'progress' });
  process.exit(3);
}
if (mode === 'throw') throw new Error('boom in worker');
