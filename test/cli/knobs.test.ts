/**
 * The environment switches (cli/knobs.ts): the CLI reads them once and hands them down
 * as typed options; the stages read no environment (Biome's noProcessEnv holds src/
 * but cli/ to that in `npm run lint`). The stages are wrapped here to see what they are given.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KNOBS, readTuning } from '../../src/cli/knobs.js';
import type { IngestPlan } from '../../src/ingest/ingest.js';
import { cli } from '../helpers/cli.js';

const seen = vi.hoisted(() => ({ plans: [] as unknown[], scoreFiles: [] as unknown[], taskFiles: [] as unknown[] }));

vi.mock('../../src/ingest/ingest.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/ingest/ingest.js')>();
  return {
    ...real,
    ingest: (plan: IngestPlan) => {
      seen.plans.push(plan);
      return real.ingest(plan);
    },
  };
});

/** The class with its static start() recording what `pick` takes of its arguments (the thread switch). */
function recordingStart<C extends { start: (...args: never[]) => unknown }>(real: C, pick: (args: never[]) => unknown, into: unknown[]): C {
  return new Proxy(real, {
    get: (target, key, receiver) =>
      key === 'start'
        ? (...args: never[]) => {
            into.push(pick(args));
            return target.start(...args);
          }
        : Reflect.get(target, key, receiver),
  });
}

vi.mock('../../src/output/score-files.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/output/score-files.js')>();
  return { ...real, ScoreFiles: recordingStart(real.ScoreFiles, (args) => args[5], seen.scoreFiles) };
});

vi.mock('../../src/output/task-files.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/output/task-files.js')>();
  return {
    ...real,
    TaskFilesThread: recordingStart(
      real.TaskFilesThread,
      (args: unknown[]) => [args[2], (args[0] as { directWrites: boolean }).directWrites],
      seen.taskFiles,
    ),
  };
});

const AS_OF = '2026-11-23';
const work = mkdtempSync(join(tmpdir(), 'cw-knobs-'));
const input = join(work, 'in');
const names = KNOBS.map((k) => k.name);
const saved = names.map((n) => process.env[n]);

beforeAll(async () => {
  expect((await cli(['generate', '--subscribers', '300', '--seed', '3', '--out', input, '--as-of', AS_OF])).code).toBe(0);
});
afterEach(() => {
  names.forEach((n, i) => {
    if (saved[i] === undefined) delete process.env[n];
    else process.env[n] = saved[i];
  });
  seen.plans.length = 0;
  seen.scoreFiles.length = 0;
  seen.taskFiles.length = 0;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('reading the switches', () => {
  it('when every switch is set then each gives its typed setting, and an empty one counts as unset', () => {
    expect(
      readTuning({
        CHURNWATCH_INGEST_PARALLEL: '1',
        CHURNWATCH_RANGE_MIN_BYTES: '4096',
        CHURNWATCH_ID_BATCH: '0',
        CHURNWATCH_WRITE_PARALLEL: ' 0 ',
        CHURNWATCH_RULES_PARALLEL: '1',
        CHURNWATCH_DIRECT_WRITES: '0',
      }),
    ).toEqual({
      ingestParallel: true,
      minRangeBytes: 4096,
      idBatch: false,
      writeParallel: false,
      rulesParallel: true,
      directWrites: false,
    });
    expect(readTuning({ CHURNWATCH_ID_BATCH: '', HOME: '/' })).toEqual({});
  });

  it.each([
    ['CHURNWATCH_INGEST_PARALLEL', 'yes'],
    ['CHURNWATCH_ID_BATCH', 'true'],
    ['CHURNWATCH_WRITE_PARALLEL', '2'],
    ['CHURNWATCH_DIRECT_WRITES', 'on'],
    ['CHURNWATCH_RANGE_MIN_BYTES', '0'],
    ['CHURNWATCH_RANGE_MIN_BYTES', '4k'],
    ['CHURNWATCH_RANGE_MIN_BYTES', '1.5'],
  ])('when %s is %s then the value is refused as a usage error naming the variable', (name, value) => {
    expect(() => readTuning({ [name]: value })).toThrow(
      expect.objectContaining({ code: 'CW_USAGE', message: expect.stringContaining(name) }),
    );
  });

  it('when a command runs with a switch set to nonsense then it exits 64 in the one error form, before reading anything', async () => {
    process.env.CHURNWATCH_INGEST_PARALLEL = 'yes';
    const r = await cli(['explain', '--input', input, '--as-of', AS_OF, '--subscriber', 'X']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/^churnwatch: CHURNWATCH_INGEST_PARALLEL='yes' in the environment is not 1 or 0 .*\[CW_USAGE\]\n$/);
    expect(seen.plans).toEqual([]);
  });

  it('when the operating docs are read then their table of switches has a row for every one', () => {
    const doc = readFileSync('docs/operating.md', 'utf8');
    for (const k of KNOBS) expect(doc).toContain(`| \`${k.name}\` |`);
  });
});

describe('handing the switches down', () => {
  it('when run is given the switches in its environment then the reader and both file writers are given them', async () => {
    Object.assign(process.env, {
      CHURNWATCH_INGEST_PARALLEL: '0',
      CHURNWATCH_RANGE_MIN_BYTES: '4096',
      CHURNWATCH_ID_BATCH: '1',
      CHURNWATCH_WRITE_PARALLEL: '0',
      CHURNWATCH_DIRECT_WRITES: '0',
    });
    const r = await cli(['run', '--input', input, '--out', join(work, 'out'), '--as-of', AS_OF, '--log-level', 'silent']);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(seen.plans).toEqual([
      expect.objectContaining({ parallel: false, minRangeBytes: 4096, input: expect.objectContaining({ idBatch: true }) }),
    ]);
    expect([seen.scoreFiles, seen.taskFiles]).toEqual([[false], [[false, false]]]);
  });

  it('when an analyst command runs with one switch then its reader is given that one and left to decide the rest', async () => {
    process.env.CHURNWATCH_INGEST_PARALLEL = '1';
    const id = readFileSync(join(input, 'subscribers.csv'), 'utf8').split('\n')[1]!.split(',')[0]!;
    const r = await cli(['explain', '--input', input, '--as-of', AS_OF, '--subscriber', id]);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(seen.plans).toEqual([expect.objectContaining({ parallel: true, minRangeBytes: undefined })]);
    expect((seen.plans[0] as IngestPlan).input.idBatch).toBeUndefined();
  });
});
