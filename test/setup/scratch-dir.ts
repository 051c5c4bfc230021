/**
 * Global set-up: every temporary folder the tests make (mkdtemp under os.tmpdir(), the
 * CLI processes they start, DuckDB's spill folders) goes under one scratch folder of
 * this run, removed when the run ends. Many tests make folders per case and leave them;
 * without this a developer's temporary folder collects thousands of them, gigabytes
 * over a day.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  // Vitest runs a global set-up once per project: the first one makes the folder. (Nested
  // folders would also make paths too long for chromium's socket, at most 107 bytes.)
  if (process.env.CHURNWATCH_TEST_SCRATCH !== undefined) return () => {};
  const previous = process.env.TMPDIR;
  const scratch = mkdtempSync(join(tmpdir(), 'cw-tests-'));
  process.env.CHURNWATCH_TEST_SCRATCH = scratch;
  // Worker processes and the CLI processes they spawn inherit the environment, and
  // os.tmpdir() reads TMPDIR on each call.
  process.env.TMPDIR = scratch;
  return () => {
    delete process.env.CHURNWATCH_TEST_SCRATCH;
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(scratch, { recursive: true, force: true });
  };
}
