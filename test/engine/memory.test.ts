/**
 * DuckDB out of memory under --engine duckdb: a refusal of the configuration (78, the
 * limit named, what to change), not an internal error (70), and nothing published.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { loadDuckDb } from '../sql/helpers.js';

const SAMPLE = fileURLToPath(new URL('../../fixtures/sample', import.meta.url));
const duckdb = await loadDuckDb();
const dir = mkdtempSync(join(tmpdir(), 'cw-engine-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(duckdb === null)('--engine duckdb beyond its --memory-limit', () => {
  it('exits 78 CW_ENGINE_MEMORY naming the limit and the flag, and publishes nothing', async () => {
    const out = join(dir, 'out');
    const args = ['run', '--input', SAMPLE, '--out', out, '--as-of', '2026-11-23', '--engine', 'duckdb', '--log-level', 'silent'];
    const r = await cli([...args, '--memory-limit', '1MB']);
    expect(r.code).toBe(78);
    expect(r.err).toContain('CW_ENGINE_MEMORY');
    expect(r.err).toContain('--memory-limit 1MB');
    expect(r.err).not.toContain('internal error');
    expect(existsSync(join(out, '2026-11-23'))).toBe(false);
    // The same run within a workable limit publishes: the refusal was the limit's.
    const ok = await cli([...args, '--memory-limit', '512MB']);
    expect(ok.code).toBe(0);
    expect(existsSync(join(out, '2026-11-23', 'scores.csv'))).toBe(true);
  });
});
