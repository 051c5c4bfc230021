/**
 * Smoke test of the benchmark harness (bench/bench.mjs) at a tiny size: it generates
 * extracts, runs churnwatch and the DuckDB SQL once each, and both sides (and the
 * independent JS reference) must flag the same subscribers. No timing is asserted:
 * the figures come from `npm run bench` and live in docs/performance.md.
 * Skipped, with a message, where @duckdb/node-api cannot load.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

let duckdbProblem: string | undefined;
try {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  (await DuckDBInstance.create(':memory:')).closeSync();
} catch (e) {
  duckdbProblem = e instanceof Error ? e.message : String(e);
  console.warn(`bench smoke test skipped: @duckdb/node-api cannot load here (${duckdbProblem})`);
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cw-bench-smoke-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(duckdbProblem !== undefined)('bench harness at 2,000 subscribers', () => {
  it('when it runs once per side then it completes and both sides flag the same subscribers', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      'bench/bench.mjs', '--subscribers', '2000', '--runs', '1', '--warmup', '0', '--reference',
      '--data-dir', join(tmp, 'data'), '--results-dir', join(tmp, 'results'),
    ], { cwd: root, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 22 });
    expect(stdout).toContain('agreement: both sides give the same 12 flags and tier for all 2,000 subscribers');

    const files = readdirSync(join(tmp, 'results'));
    expect(files).toHaveLength(1);
    const r = JSON.parse(readFileSync(join(tmp, 'results', files[0]!), 'utf8'));
    expect(r.agreement).toMatchObject({ agree: true, subscribers_churnwatch: 2000, subscribers_duckdb: 2000, unmatched_ids: 0, mismatched_subscribers: 0, tier_differs: 0 });
    expect(r.reference).toMatchObject({ churnwatch: { agrees: true }, duckdb: { agrees: true } });
    // Every rule is hit at this size, so the agreement is not the trivial all-zero one.
    for (const c of Object.values(r.agreement.per_rule) as { churnwatch: number; duckdb: number }[]) {
      expect(c.churnwatch).toBeGreaterThan(0);
      expect(c.duckdb).toBe(c.churnwatch);
    }
    expect(r.runs).toHaveLength(2);
    expect(Object.keys(r.churnwatch_stages_ms_median)).toContain('ingest');
    // Outputs are removed unless --keep; the extracts stay for reuse.
    expect(readdirSync(join(tmp, 'data')).sort()).toEqual(['2000-1']);
  }, 60_000);
});
