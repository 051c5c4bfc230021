/**
 * scores.csv and scores.arrow written by the worker thread (compiled CLI,
 * CHURNWATCH_WRITE_PARALLEL=1) are the same publication as written in the main
 * thread, and a write that fails in the worker fails the run as it would in the main
 * thread: same exit code, same failure report, nothing published, nothing left over.
 * The failures are real ones: the file-size limit (RLIMIT_FSIZE, set with prlimit)
 * lets every other output through and stops the score file (EFBIG).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup } from '../helpers/world.js';
import {
  AS_OF,
  collect,
  ensureBuilt,
  failureReport,
  generate,
  reproducibleOutputs,
  runChild,
  runUnderLimit,
  spawnCli,
  summaryWithoutTimings,
  tempDir,
  verifyPublished,
  type ChildRun,
  type Manifest,
} from '../hardening/helpers.js';

const HAS_PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].some((p) => existsSync(p));

let work: string;
let input: string;
/** The publication with the score files written in the main thread, and its file sizes. */
let reference: Manifest;
let sizes: Record<string, number>;

beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('scores');
  input = join(work, 'in');
  await generate(input, ['--subscribers', '5000', '--seed', '2']);
  const r = await run(join(work, 'main'), '0');
  expect([r.code, threadOf(r)]).toEqual([0, 'main']);
  reference = verifyPublished(join(work, 'main', AS_OF));
  sizes = Object.fromEntries(reference.outputs.map((o) => [o.file, o.bytes]));
}, 120_000);

afterAll(() => {
  if (work) cleanup(work);
});

function run(out: string, parallel: '0' | '1' | undefined, fsizeLimit?: number, extra: string[] = []): Promise<ChildRun> {
  const args = ['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'debug', ...extra];
  return runUnderLimit(args, { CHURNWATCH_WRITE_PARALLEL: parallel }, fsizeLimit);
}

/** Where the log says the score files were written. */
function threadOf(r: ChildRun): string | undefined {
  for (const line of r.stderr.split('\n')) {
    try {
      const j = JSON.parse(line) as { msg?: string; thread?: string };
      if (j.msg === 'writing score files') return j.thread;
    } catch {
      /* not a log line */
    }
  }
  return undefined;
}

describe('score files on a worker thread', () => {
  it('when written by the worker then the publication is the one written in the main thread, byte for byte', async () => {
    const worker = await run(join(work, 'worker'), '1');
    const auto = await run(join(work, 'auto'), undefined);
    for (const r of [worker, auto]) expect([r.code, r.stderr.includes('"level":50')]).toEqual([0, false]);
    expect([threadOf(worker), threadOf(auto)]).toEqual(['worker', 'main']); // 5,000 subscribers: too few for a worker by default
    const m = reference;
    const w = verifyPublished(join(work, 'worker', AS_OF));
    expect(w.outputs.map((o) => o.file)).toEqual([
      // Every full task file, then the deltas.
      ...['', '-delta'].flatMap((d) =>
        ['high', 'mid', 'mass'].flatMap((t) => ['call', 'sms', 'visit'].map((c) => `tasks-${t}-${c}${d}.csv`)),
      ),
      'scores.csv',
      'scores.arrow',
      'rejects.csv',
      'suppressed.csv',
      'holdout.csv',
      'overflow.csv',
      'ledger.csv',
      'summary.json',
      'report.html',
    ]);
    expect(reproducibleOutputs(w)).toEqual(reproducibleOutputs(m));
    expect(summaryWithoutTimings(join(work, 'worker', AS_OF))).toEqual(summaryWithoutTimings(join(work, 'main', AS_OF)));
    for (const f of ['scores.csv', 'scores.arrow']) {
      expect(readFileSync(join(work, 'worker', AS_OF, f)).equals(readFileSync(join(work, 'main', AS_OF, f)))).toBe(true);
      expect(statSync(join(work, 'worker', AS_OF, f)).mode & 0o777).toBe(0o600);
    }
  }, 60_000);

  it('when the measures are added then the worker writes the same score files as the main thread', async () => {
    const runs = [
      await run(join(work, 'mw'), '1', undefined, ['--with-measures']),
      await run(join(work, 'mm'), '0', undefined, ['--with-measures']),
    ];
    expect(runs.map((r) => [r.code, threadOf(r)])).toEqual([
      [0, 'worker'],
      [0, 'main'],
    ]);
    for (const f of ['scores.csv', 'scores.arrow']) {
      const w = readFileSync(join(work, 'mw', AS_OF, f));
      expect(w.equals(readFileSync(join(work, 'mm', AS_OF, f)))).toBe(true);
      expect(w.length).toBeGreaterThan(sizes[f]!);
    }
  }, 60_000);

  it.skipIf(!HAS_PRLIMIT)(
    'when the worker cannot write scores.csv then the run exits 73 as in the main thread and publishes nothing',
    async () => {
      const others = Math.max(
        ...Object.entries(sizes)
          .filter(([f]) => !f.startsWith('scores.'))
          .map(([, b]) => b),
      );
      expect(sizes['scores.csv']!).toBeGreaterThan(others + 1024);
      const limit = Math.floor((others + sizes['scores.csv']!) / 2);
      const reports: Record<string, unknown>[] = [];
      for (const parallel of ['1', '0'] as const) {
        const out = join(work, `efbig-scores-${parallel}`);
        const r = await run(out, parallel, limit);
        expect([parallel, r.code, threadOf(r)]).toEqual([parallel, 73, parallel === '1' ? 'worker' : 'main']);
        expect(r.stderr).toContain('CW_OUTPUT_UNWRITABLE');
        expect(readdirSync(out)).toEqual(['failed']);
        const f = failureReport(out);
        expect([f.code, String(f.file).endsWith('/scores.csv')]).toEqual(['CW_OUTPUT_UNWRITABLE', true]);
        reports.push(f);
      }
      expect(reports[0]).toEqual(reports[1]);
    },
    60_000,
  );

  it.skipIf(!HAS_PRLIMIT)(
    'when a task file fails while the worker writes then the run waits for it, exits 73 and leaves nothing behind',
    async () => {
      const out = join(work, 'efbig-tasks');
      const r = await run(out, '1', Math.floor(sizes['tasks-high-call.csv']! / 2));
      expect([r.code, threadOf(r)]).toEqual([73, 'worker']);
      expect(readdirSync(out)).toEqual(['failed']);
      const f = failureReport(out);
      // The first file to pass the limit: three threads write at once (this one, the score-files and the
      // task-files worker), so it is whichever of the larger outputs got there first.
      const larger = Object.keys(sizes).filter((name) => sizes[name]! > sizes['tasks-high-call.csv']! / 2);
      expect(larger).toContain('tasks-high-call.csv');
      expect([f.code, larger.some((name) => String(f.file).endsWith(`/${name}`))]).toEqual(['CW_OUTPUT_UNWRITABLE', true]);
      // The next run (no limit) publishes normally.
      const again = await runChild(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'warn'], {
        env: { CHURNWATCH_WRITE_PARALLEL: '1' },
      });
      expect(again.code).toBe(0);
      expect(readdirSync(out).sort()).toEqual([AS_OF]);
    },
    60_000,
  );

  it('when the run is killed while the worker writes then nothing is visible and the rerun publishes the same files', async () => {
    const want = reproducibleOutputs(reference);
    const killed: string[] = [];
    for (const delayMs of [0, 40, 120]) {
      const out = join(work, `kill-${delayMs}`);
      const child = spawnCli(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'debug'], {
        env: { CHURNWATCH_WRITE_PARALLEL: '1' },
      });
      let timer: NodeJS.Timeout | undefined;
      const r = await collect(child, (line) => {
        if (timer === undefined && line.includes('"msg":"writing score files"')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      clearTimeout(timer);
      if (r.signal === 'SIGKILL') killed.push(`${delayMs} ms`);
      else expect(r.code).toBe(0);
      // Only hidden leftovers, or a complete publication.
      const shown = readdirSync(out).filter((e) => !e.startsWith('.'));
      if (shown.length > 0) {
        expect(shown).toEqual([AS_OF]);
        expect(reproducibleOutputs(verifyPublished(join(out, AS_OF)))).toEqual(want);
      }
      const again = await runChild(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--force', '--log-level', 'warn'], {
        env: { CHURNWATCH_WRITE_PARALLEL: '1' },
      });
      expect(again.code).toBe(0);
      expect(reproducibleOutputs(verifyPublished(join(out, AS_OF)))).toEqual(want);
      expect(readdirSync(out)).toEqual([AS_OF]);
    }
    expect(killed.length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
