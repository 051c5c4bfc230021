/**
 * A scorecard pack's rules stage shared with the rules worker thread (compiled CLI,
 * CHURNWATCH_RULES_PARALLEL=1) publishes what the main thread alone publishes, byte
 * for byte; and a pack without a scorecard never starts the thread.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup } from '../helpers/world.js';
import {
  AS_OF,
  ensureBuilt,
  generate,
  reproducibleOutputs,
  runUnderLimit,
  summaryWithoutTimings,
  tempDir,
  verifyPublished,
  type ChildRun,
} from '../hardening/helpers.js';

const SCORECARD_PACK = 'test/sql/logistic-pack.yaml';

let work: string;
let input: string;

beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('rules-thread');
  input = join(work, 'in');
  await generate(input, ['--subscribers', '5000', '--seed', '3']);
}, 120_000);

afterAll(() => {
  if (work) cleanup(work);
});

function run(out: string, parallel: '0' | '1', pack?: string): Promise<ChildRun> {
  const args = ['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'debug', ...(pack ? ['--rules', pack] : [])];
  return runUnderLimit(args, { CHURNWATCH_RULES_PARALLEL: parallel }, undefined);
}

/** The log's account of the shared stage, if the thread was used. */
function shared(r: ChildRun): Record<string, number> | undefined {
  for (const line of r.stderr.split('\n')) {
    try {
      const j = JSON.parse(line) as { msg?: string } & Record<string, number>;
      if (j.msg === 'rules stage shared with a worker thread') return j;
    } catch {
      /* not a log line */
    }
  }
  return undefined;
}

describe('the rules thread', () => {
  it("when a scorecard's steps and logit are shared with it then the publication is the main thread's, byte for byte", async () => {
    const [thread, alone] = [await run(join(work, 'thread'), '1', SCORECARD_PACK), await run(join(work, 'alone'), '0', SCORECARD_PACK)];
    for (const r of [thread, alone]) expect([r.code, r.stderr.includes('"level":50')]).toEqual([0, false]);
    const s = shared(thread);
    // Two measures with steps, and 5,000 subscribers: one range of the logit.
    expect(s && [s.steps, s.logit_ranges]).toEqual([2, 1]);
    expect(shared(alone)).toBeUndefined();
    const a = verifyPublished(join(work, 'thread', AS_OF)),
      b = verifyPublished(join(work, 'alone', AS_OF));
    expect(reproducibleOutputs(a)).toEqual(reproducibleOutputs(b));
    expect(summaryWithoutTimings(join(work, 'thread', AS_OF))).toEqual(summaryWithoutTimings(join(work, 'alone', AS_OF)));
  }, 60_000);

  it('when the pack has no scorecard then no thread is started', async () => {
    const r = await run(join(work, 'plain'), '1');
    expect(r.code).toBe(0);
    expect(shared(r)).toBeUndefined();
  }, 60_000);
});
