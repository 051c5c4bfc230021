import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files that must not share a process with others: a vi.mock of a package
 * (the mock would leak into later files, or come too late after an earlier file
 * loaded the real package).
 */
const ALONE = ['test/engine/unavailable.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    globalSetup: ['test/setup/scratch-dir.ts'],
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one at a time on a 2-core machine, where
    // much of a file's time is spent waiting for the child processes and worker threads it starts.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        extends: true,
        // The other files share their worker processes: loading src and its packages again
        // for each of ~90 files cost a third of the suite's CPU. Tests restore what they set
        // on the process (environment variables, TZ).
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ALONE, poolOptions: { forks: { isolate: false } } },
      },
      { extends: true, test: { name: 'alone', include: ALONE } },
    ],
  },
});
