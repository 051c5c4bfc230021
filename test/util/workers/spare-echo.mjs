// Test worker: takes its input through threadInput (the compiled one), collects every
// message after it, and posts both back at 'end'.
import { parentPort } from 'node:worker_threads';

const { threadInput } = await import(new URL('../../../dist/util/worker.js', import.meta.url).href);
const seen = [];
const input = await threadInput((m) => {
  if (m !== 'end') seen.push(m);
  else {
    parentPort.postMessage({ type: 'done', seen });
    parentPort.unref();
  }
});
parentPort.postMessage({ type: 'input', input });
