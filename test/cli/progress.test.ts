/**
 * The terminal progress: stage lines with times, a live line with rows per file and
 * the rate while reading, and nothing at all without a terminal (cron).
 */
import { describe, expect, it } from 'vitest';
import { makeProgress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { stream: { isTTY, write: (s: string) => { out.push(s); return true; } }, out };
}

describe('progress', () => {
  it('when there is no terminal then nothing is printed', () => {
    const { stream, out } = fakeStream(false);
    const p = makeProgress(stream);
    p.stage('read usage'); p.rows('usage_daily', 1_000_000, 35_000_000); p.done('done');
    expect(out).toEqual([]);
  });

  it('when on a terminal then stages show their time and reads show rows and MB/s', () => {
    const { stream, out } = fakeStream(true);
    let t = 0;
    const p = makeProgress(stream, () => t);
    p.stage('read usage');
    t = 1000; p.rows('usage_daily', 2_500_000, 100_000_000);
    t = 1100; p.rows('usage_daily', 2_600_000, 104_000_000); // throttled: not drawn
    t = 2000; p.rows('billing_monthly', 1_000_000, 30_000_000);
    t = 2500; p.stage('gates');
    t = 2600; p.done('done');
    const text = out.join('');
    expect(text).toContain('reading usage_daily 2.5M rows · 100 MB/s');
    expect(out.filter((s) => s.startsWith('\r')).length).toBe(3); // t=1000, t=2000, and the final redraw; t=1100 was throttled
    expect(text).toContain('reading usage_daily 2.6M rows · billing_monthly 1.0M rows · 54 MB/s\n');
    expect(text).toContain('  read usage           2.5s\n');
    expect(text).toContain('  gates                0.1s\n');
    expect(text.endsWith('done (2.6s)\n')).toBe(true);
  });
});
