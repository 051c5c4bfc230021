/**
 * DuckDB out of memory under --engine duckdb: a refusal of the configuration (78, the
 * limit named, what to change), not an internal error (70), and nothing published.
 * A full disk under its temp folder: 73, the folder named, not an internal error.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { engineFailure } from '../../src/engine/duckdb.js';
import { ChurnwatchError, EXIT_CODES } from '../../src/errors.js';
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

describe('--engine duckdb on a full disk', () => {
  it('is CW_ENGINE_DISK_FULL (exit 73) naming the temp folder, not an internal error', () => {
    // DuckDB's message when a spill file or its database file cannot grow (seen reading a 10M set).
    const io = new Error('IO Error: Could not write file "/x/.tmp-engine-7/spill/duckdb_temp_storage_S64K-0.tmp": No space left on device');
    const e = engineFailure(io, '2GB', '/x/.tmp-engine-7');
    expect(e).toBeInstanceOf(ChurnwatchError);
    expect((e as ChurnwatchError).code).toBe('CW_ENGINE_DISK_FULL');
    expect(EXIT_CODES.CW_ENGINE_DISK_FULL).toBe(73);
    expect((e as Error).message).toContain('/x/.tmp-engine-7');
    // Other IO errors stay what they are.
    const other = new Error('IO Error: Cannot open file "y": Permission denied');
    expect(engineFailure(other, '2GB', '/x')).toBe(other);
  });
});
