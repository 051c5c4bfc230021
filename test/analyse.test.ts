/**
 * One analysis path: run and explain read, gate and score the extracts through the
 * same analyse(), so a gate that stops the nightly run stops explain too, and the
 * stages report in order through the hooks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { analyse, type AnalysisStage } from '../src/analyse.js';
import { loadRulePack } from '../src/config/rulepack.js';
import { ChurnwatchError } from '../src/errors.js';
import { defaultInputOptions } from '../src/ingest/layout.js';
import { parseDay } from '../src/util/dates.js';
import { World, cleanup } from './helpers/world.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) cleanup(dirs.pop()!);
});

function world(cutM0: boolean): string {
  const w = new World('2026-11-23');
  for (let s = 0; s < 80; s++) {
    const id = `U${s}`;
    w.sub(id, {});
    for (let k = 0; k <= 5; k++)
      if (!(cutM0 && k === 0 && s % 10 !== 0)) w.bill(id, w.month(k), '40.00', { mou: '100', hotline_calls: '0' });
    for (let k = 1; k <= 14; k++) w.usage(id, w.day(k), { calls: '2', data_mb: '10.5' });
  }
  const dir = w.write();
  dirs.push(dir);
  return dir;
}

describe('analyse', () => {
  it('when the extracts pass then the stages start and end in order through the hooks', async () => {
    const events: string[] = [];
    const a = await analyse(defaultInputOptions(world(false)), parseDay('2026-11-23'), loadRulePack('rules/default.yaml'), {
      stageStart: (s: AnalysisStage) => events.push(`start ${s}`),
      stageDone: (s: AnalysisStage) => events.push(`done ${s}`),
      ingested: () => events.push('ingested'),
    });
    expect(events).toEqual([
      'start ingest',
      'done ingest',
      'ingested',
      'start gates',
      'done gates',
      'start features',
      'done features',
      'start rules',
      'done rules',
      'start score',
      'done score',
    ]);
    expect(a.extracts.subscribers.n).toBeGreaterThanOrEqual(80);
    expect(a.evaluation.rules.length).toBe(a.evaluation.flags.length);
  });

  it('when a bill month is cut then analyse (and so explain) stops at the billing-complete gate as run does', async () => {
    const err = await analyse(defaultInputOptions(world(true)), parseDay('2026-11-23'), loadRulePack('rules/default.yaml')).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ChurnwatchError);
    expect((err as ChurnwatchError).context.gate).toBe('billing-complete');
    expect((err as ChurnwatchError).exitCode).toBe(65);
  });
});
