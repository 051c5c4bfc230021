import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Test files that must not share a process with others: a vi.mock of a package
 * (the mock would leak into later files, or come too late after an earlier file
 * loaded the real package).
 */
const ALONE = ['test/engine/unavailable.test.ts'];

/**
 * The files that take longest (a fresh clone's CI, 2 cores), started first. Vitest orders
 * by the durations it cached at the last run, and without a cache (a fresh clone) by file
 * size: these small files with long runs then started late, and one of the two workers
 * ran alone at the end. A file missing from the list only runs in vitest's own order.
 */
const SLOW_FIRST = [
  'test/sql/spark-grammar.test.ts',
  'test/bench/bench-smoke.test.ts',
  'test/tasks/task-writer.property.test.ts',
  'test/hardening/atomic-publish.test.ts',
  'test/output/score-files.test.ts',
  'test/policy/three-nights.test.ts',
  'test/report/calibrate.test.ts',
  'test/fuzz/fuzz.test.ts',
  'test/engine/duckdb.test.ts',
  'test/output/task-files.test.ts',
  'test/report/report-browser.test.ts',
  'test/ingest/ranges.test.ts',
  'test/ingest/plain-rows.property.test.ts',
  'test/sql/to-fixed.test.ts',
  'test/ingest/wide.test.ts',
  'test/hardening/reruns.test.ts',
  'test/output/profiles.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const k = SLOW_FIRST.indexOf(relative(this.ctx.config.root, f.moduleId).split('\\').join('/'));
      return k < 0 ? SLOW_FIRST.length : k;
    };
    // Array.prototype.sort is stable: the files not listed keep vitest's order.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    testTimeout: 60_000,
    globalSetup: ['test/setup/scratch-dir.ts'],
    sequence: { sequencer: SlowFirst },
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
