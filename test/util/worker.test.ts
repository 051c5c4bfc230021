import { describe, expect, it } from 'vitest';
import { ChurnwatchError, deserializeError, serializeError } from '../../src/errors.js';
import { compiledWorker, startWorker } from '../../src/util/worker.js';

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
