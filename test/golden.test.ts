/**
 * Golden test: the committed extracts in fixtures/golden/input (200 generated
 * subscribers plus a few hand-made bad rows) must give exactly the committed task
 * files, scores and rejects, byte for byte. When a change alters them on purpose,
 * regenerate with:
 *   node bin/churnwatch.js run --input fixtures/golden/input --out /tmp/g --as-of 2026-11-23 --force
 * and review the diff of fixtures/golden/expected before committing it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, PLAIN_TASK_FILES, plainFiles, runCli, type RunOutcome } from './helpers/world.js';

const EXPECTED = 'fixtures/golden/expected';
let out: string;
let r: RunOutcome;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'cw-golden-'));
  r = await runCli('fixtures/golden/input', '2026-11-23', [], out);
});
afterAll(() => cleanup(out));

describe('golden outputs for fixtures/golden', () => {
  it('when the fixture is run then it publishes', () => {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each([
    ...PLAIN_TASK_FILES,
    ...['high', 'mid', 'mass'].flatMap((t) => plainFiles(t, '-delta')),
    'scores.csv',
    'rejects.csv',
    'suppressed.csv',
    'holdout.csv',
    'overflow.csv',
  ])('when %s is written then it equals the golden file byte for byte', (file) => {
    expect(readFileSync(join(r.published, file), 'utf8')).toBe(readFileSync(join(EXPECTED, file), 'utf8'));
  });

  it('when the run is summarised then the counts add up', () => {
    const s = r.summary;
    for (const f of Object.values(s.files) as { rows_read: number; rows_accepted: number; rows_rejected: number }[]) {
      expect(f.rows_accepted + f.rows_rejected).toBe(f.rows_read);
    }
    expect(s.files.billing_monthly.rows_rejected).toBe(3);
    expect(s.files.usage_daily.rows_rejected).toBe(1);
    const tasks = s.tasks_per_tier.high + s.tasks_per_tier.mid + s.tasks_per_tier.mass;
    expect(tasks).toBe(s.policy.tasks);
    expect(s.policy.tasks + s.policy.suppressed + s.policy.held_out + s.policy.over_capacity).toBe(s.flagged);
  });
});
