/**
 * Without the optional package (not installed, or no build for the platform) the
 * duckdb engine stops before reading anything, with exit 78 and how to install it;
 * the in-process engine never loads it.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cli } from '../helpers/cli.js';

vi.mock('@duckdb/node-api', () => {
  throw new Error('Cannot find module @duckdb/node-api');
});

const tmp = mkdtempSync(join(tmpdir(), 'cw-engine-missing-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--engine duckdb without @duckdb/node-api', () => {
  it('exits 78 naming the package and how to install it, and publishes nothing', async () => {
    const input = join(tmp, 'in');
    expect((await cli(['generate', '--subscribers', '50', '--out', input, '--as-of', '2026-03-15'])).code).toBe(0);
    const out = join(tmp, 'out');
    const r = await cli(['run', '--input', input, '--out', out, '--as-of', '2026-03-15', '--engine', 'duckdb', '--log-level', 'silent']);
    expect(r.code).toBe(78);
    expect(r.err).toContain('CW_ENGINE_UNAVAILABLE');
    expect(r.err).toContain('npm install @duckdb/node-api@1.5.5-r.5');
    expect(readdirSync(out).filter((f) => !f.startsWith('failed') && !f.startsWith('.lock'))).toEqual([]);
    const ok = await cli(['run', '--input', input, '--out', out, '--as-of', '2026-03-15', '--log-level', 'silent']);
    expect(ok.code).toBe(0);
  });
});
