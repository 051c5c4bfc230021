/**
 * Threads behind one door: every worker thread of churnwatch is found and started
 * here, so that finding the compiled script, telling a crash from a normal end and
 * waiting for the thread to be gone are written once.
 *
 * A worker script is the compiled `.js` file next to the module that uses it. When
 * that module runs from TypeScript sources (as the tests do) there is no such file,
 * and the caller does the work in its own thread instead.
 */
import { existsSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * Lowers the calling thread's scheduling priority by `niceness` (Linux: a thread has
 * its own nice value, set through its task id; elsewhere, or where it is refused,
 * nothing changes). For a thread whose work is not what the run waits for last: when
 * the cores are short, the threads that are get them first. It cannot be raised again.
 * Where the kernel groups a session's threads (autogroup, the usual default) this only
 * shares the process's own time differently; without it, the thread also yields to other
 * processes of a busy machine, and the run may end a little later there.
 */
export function yieldCores(niceness: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + niceness));
  } catch {
    /* not Linux, or not allowed: the priority stays */
  }
}

/** The compiled worker script `name` beside the module at `moduleUrl`, or null when running from sources. */
export function compiledWorker(moduleUrl: string, name: string): URL | null {
  if (!moduleUrl.endsWith('.js')) return null;
  const url = new URL(`./${name}`, moduleUrl);
  return existsSync(fileURLToPath(url)) ? url : null;
}

export interface WorkerHandlers<M> {
  /** Every message the worker posts, in order. */
  message(m: M): void;
  /** True for the message after which the worker ends normally; an exit before it is a failure. */
  isLast(m: M): boolean;
  /** The thread failed: an uncaught error, or it exited before its last message. Called at most once. */
  failed(e: Error): void;
}

export interface WorkerThread {
  /** Settles once the thread is gone: then nothing of it can still be writing. Never rejects. */
  readonly exited: Promise<void>;
  /** Sends the thread a message (SharedArrayBuffers in it are shared, not copied). */
  post(message: unknown): void;
  terminate(): Promise<void>;
}

/** The workerData of a spare thread: its input comes as its first message. */
const SPARE_INPUT = 'churnwatch: a spare thread, its input comes as its first message';

/**
 * A worker thread started before its input is known (the ingest's, at the start of a
 * run): its script loads on another core while this thread loads and parses the rest,
 * and startWorker gives it its input when it is needed. Until then it never holds the
 * process open.
 */
export interface SpareThread {
  readonly url: URL;
  /** Ends the thread unless startWorker took it. */
  release(): Promise<void>;
}

interface SpareState {
  worker: Worker | null;
  error: Error | null;
  exit: Promise<number>;
}

const spares = new WeakMap<SpareThread, SpareState>();

/** Starts `url` as a spare thread, or null when no thread can be started. */
export function startSpare(url: URL): SpareThread | null {
  let worker: Worker;
  try {
    worker = new Worker(url, { workerData: SPARE_INPUT });
  } catch {
    return null;
  }
  worker.unref();
  const exit = new Promise<number>((resolve) => worker.on('exit', resolve));
  const state: SpareState = { worker, error: null, exit };
  // (Listened to at once: an error of a thread nobody listens to would end this process.)
  worker.on('error', (e) => {
    state.error ??= e;
  });
  const spare: SpareThread = {
    url,
    release: async () => {
      const w = state.worker;
      state.worker = null;
      if (w !== null) await w.terminate();
    },
  };
  spares.set(spare, state);
  return spare;
}

/**
 * In a worker thread: its input, and every message after it to `onMessage`, in order.
 * A thread started with its input has it as workerData; a spare one gets it first.
 */
export function threadInput<I, M>(onMessage: (m: M) => void): Promise<I> {
  const port = parentPort!;
  if (workerData !== SPARE_INPUT) {
    port.on('message', onMessage);
    return Promise.resolve(workerData as I);
  }
  return new Promise<I>((resolve) => {
    let waiting = true;
    port.on('message', (m: unknown) => {
      if (!waiting) onMessage(m as M);
      else {
        waiting = false;
        resolve(m as I);
      }
    });
  });
}

/**
 * Starts the worker script `script` with `workerData` (the input of a script that reads
 * it with threadInput): a spare thread of it not yet taken or released is given it, else
 * a new thread is started. `what` names the worker in the error of an unexpected end
 * ("the ingest worker stopped unexpectedly (exit code 1)").
 */
export function startWorker<M>(script: URL | SpareThread, workerData: unknown, what: string, on: WorkerHandlers<M>): WorkerThread {
  let ended = false;
  let failed = false;
  const fail = (e: Error) => {
    if (failed) return;
    failed = true;
    on.failed(e);
  };
  const url = script instanceof URL ? script : script.url;
  const taken = script instanceof URL ? undefined : spares.get(script);
  let worker: Worker;
  let exit: Promise<number>;
  if (taken?.worker) {
    worker = taken.worker;
    taken.worker = null;
    worker.ref();
    if (taken.error !== null) fail(taken.error);
    worker.postMessage(workerData);
    exit = taken.exit;
  } else {
    try {
      worker = new Worker(url, { workerData });
    } catch (e) {
      fail(e as Error);
      return { exited: Promise.resolve(), post: () => {}, terminate: async () => {} };
    }
    exit = new Promise((resolve) => worker.on('exit', resolve));
  }
  worker.on('message', (m: M) => {
    if (on.isLast(m)) ended = true;
    on.message(m);
  });
  worker.on('error', (e) => fail(e));
  const exited = exit.then((code) => {
    if (!ended) fail(new Error(`the ${what} stopped unexpectedly (exit code ${code})`));
  });
  return {
    exited,
    post: (message) => worker.postMessage(message),
    terminate: async () => {
      ended = true;
      await worker.terminate();
    },
  };
}

/**
 * Starts a worker whose last message is its result (`isLast`: the one message it
 * sends, unless told otherwise). `result` settles once the thread is gone, so nothing
 * of it can still be writing then, with that message, or with the failure (a crash,
 * an exit before the message); it never rejects.
 */
export function startForResult<M>(
  script: URL | SpareThread,
  workerData: unknown,
  what: string,
  isLast: (m: M) => boolean = () => true,
): { thread: WorkerThread; result: Promise<M | Error> } {
  let result: M | Error | undefined;
  const thread = startWorker<M>(script, workerData, what, {
    isLast,
    message: (m) => {
      if (isLast(m)) result ??= m;
    },
    failed: (e) => {
      result ??= e;
    },
  });
  return { thread, result: thread.exited.then(() => result ?? new Error(`the ${what} ended without a result`)) };
}

/**
 * Zeroed typed arrays in shared memory, for columns that a worker thread will read
 * while this thread still uses them (the score files): handed over, they are read
 * where they are instead of being copied, which at 10M subscribers saves tens of
 * bytes a subscriber at the run's peak.
 */
export function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(n * Float64Array.BYTES_PER_ELEMENT));
}

export function sharedUint8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/**
 * Zeroed byte columns of the given lengths in one SharedArrayBuffer, each at a multiple
 * of 8 bytes. A large buffer is mapped fresh, its pages zeroed when first written, by
 * the thread that writes them; a small one may come from freed memory that the
 * allocating thread zeroes (a 1 MB column at 1M subscribers: both, for every column).
 */
export function sharedBytes(lengths: readonly number[]): Uint8Array[] {
  const at: number[] = [];
  let size = 0;
  for (const length of lengths) {
    at.push(size);
    size += Math.ceil(length / 8) * 8;
  }
  const sab = new SharedArrayBuffer(Math.max(8, size));
  return lengths.map((length, k) => new Uint8Array(sab, at[k]!, length));
}

export function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * Int32Array.BYTES_PER_ELEMENT));
}

type SharedColumn = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/**
 * Columns as a worker thread can read them: those already in shared memory as they
 * are, copies of the others laid out in one new SharedArrayBuffer (each at a
 * multiple of 8 bytes), in the same order. A plain typed array posted to a worker
 * would be serialised and copied again there, and with it any larger buffer it is a
 * view of.
 */
export function sharedColumns<T extends SharedColumn[]>(columns: T): T {
  const at: number[] = [];
  let size = 0;
  for (const c of columns) {
    at.push(size);
    if (!(c.buffer instanceof SharedArrayBuffer)) size += Math.ceil(c.byteLength / 8) * 8;
  }
  const sab = new SharedArrayBuffer(Math.max(8, size));
  return columns.map((c, k) => {
    if (c.buffer instanceof SharedArrayBuffer) return c;
    const Kind = c.constructor as new (buffer: SharedArrayBuffer, byteOffset: number, length: number) => SharedColumn;
    const copy = new Kind(sab, at[k]!, c.length);
    copy.set(c);
    return copy;
  }) as T;
}
