// Test worker: this thread's nice value before and after the compiled yieldCores(workerData.by), and the process's.
import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

const { yieldCores } = await import(workerData.module);
const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
const before = getPriority(tid);
yieldCores(workerData.by);
parentPort.postMessage({ before, after: getPriority(tid), process: getPriority(process.pid) });
