import { existsSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChurnwatchError, deserializeError, serializeError } from '../../src/errors.js';
import { compiledWorker, startSpare, startWorker, type SpareThread } from '../../src/util/worker.js';
import { ensureBuilt } from '../hardening/helpers.js';

const url = new URL('./workers/echo.mjs', import.meta.url);

async function run(mode: string) {
  const messages: string[] = [];
  const failures: Error[] = [];
  const thread = startWorker<{ type: string }>(url, { mode }, 'test worker', {
    isLast: (m) => m.type === 'done',
    message: (m) => messages.push(m.type),
    failed: (e) => failures.push(e),
  });
  await thread.exited;
  return { messages, failures };
}

describe('startWorker', () => {
  it('when the worker posts its last message and ends then nothing failed', async () => {
    expect(await run('normal')).toEqual({ messages: ['progress', 'done'], failures: [] });
  });
  it('when the worker exits before its last message then that is one failure naming the worker and exit code', async () => {
    const r = await run('silent-exit');
    expect(r.messages).toEqual(['progress']);
    expect(r.failures.map((e) => e.message)).toEqual(['the test worker stopped unexpectedly (exit code 3)']);
  });
  it('when the worker throws then the failure is reported once, with its message', async () => {
    const r = await run('throw');
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.message).toContain('boom in worker');
  });
  it('when running from sources then there is no compiled worker', () => {
    expect(compiledWorker('file:///x/y.ts', 'w.js')).toBeNull();
    expect(compiledWorker(new URL('./worker.test.js', import.meta.url).href, 'absent-worker.js')).toBeNull();
  });
});

describe('spare threads', () => {
  const spareUrl = new URL('./workers/spare-echo.mjs', import.meta.url);
  beforeAll(ensureBuilt);
  async function talk(script: URL | SpareThread) {
    const messages: unknown[] = [];
    const failures: Error[] = [];
    const thread = startWorker<{ type: string }>(script, { night: 7 }, 'test worker', {
      isLast: (m) => m.type === 'done',
      message: (m) => messages.push(m),
      failed: (e) => failures.push(e),
    });
    thread.post('a');
    thread.post({ b: 2 });
    thread.post('end');
    await thread.exited;
    return { messages, failures };
  }
  const expected = {
    messages: [
      { type: 'input', input: { night: 7 } },
      { type: 'done', seen: ['a', { b: 2 }] },
    ],
    failures: [],
  };
  it('when a spare thread is taken then its input comes first and every message after it, in order', async () => {
    const spare = startSpare(spareUrl)!;
    // (Its script has loaded and waits, as the ingest's does while the run parses its pack.)
    await new Promise((r) => setTimeout(r, 50));
    expect(await talk(spare)).toEqual(expected);
  });
  it('when a script reads its input with threadInput then it runs the same without a spare', async () => {
    expect(await talk(spareUrl)).toEqual(expected);
  });
  it('when a spare was released then taking it starts a new thread of its script', async () => {
    const spare = startSpare(spareUrl)!;
    await spare.release();
    expect(await talk(spare)).toEqual(expected);
  });
});

describe('error serialisation', () => {
  it('when a ChurnwatchError crosses then code, message and context survive', () => {
    const e = deserializeError(serializeError(new ChurnwatchError('CW_GATE_USAGE_DAY', 'gate failed', { gate: 'usage-days', line: 3 })));
    expect(e).toBeInstanceOf(ChurnwatchError);
    expect((e as ChurnwatchError).code).toBe('CW_GATE_USAGE_DAY');
    expect((e as ChurnwatchError).context).toEqual({ gate: 'usage-days', line: 3 });
    expect(e.message).toBe('gate failed');
  });
  it('when another error crosses then it stays a plain error with its name', () => {
    const e = deserializeError(serializeError(new TypeError('bad')));
    expect(e).not.toBeInstanceOf(ChurnwatchError);
    expect(e.name).toBe('TypeError');
  });
});

describe('yieldCores', () => {
  beforeAll(ensureBuilt);

  it.skipIf(!existsSync('/proc/thread-self'))("lowers the calling thread's priority only, never past 19", async () => {
    const module = new URL('../../dist/util/worker.js', import.meta.url).href;
    const seen = (by: number) =>
      new Promise<{ before: number; after: number; process: number }>((resolve, reject) => {
        const w = new Worker(new URL('./workers/yield-cores.mjs', import.meta.url), { workerData: { module, by } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const mine = getPriority(process.pid);
    const lowered = await seen(3);
    expect(lowered.after).toBe(Math.min(19, lowered.before + 3));
    expect(lowered.process).toBe(mine); // the process (its main thread) keeps its priority
    expect((await seen(40)).after).toBe(19);
    expect(getPriority(process.pid)).toBe(mine);
  });
});
