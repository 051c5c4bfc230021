/**
 * The score-files worker's thread starts with the rules stage, before its columns
 * exist, and is handed the rules' columns when that stage ends. A run that fails
 * between then and the score files must still end: the thread is released, nothing is
 * published and no hidden folder is left. The worker runs only from the compiled
 * build (from the TypeScript sources the files are written in this thread), so the
 * pipeline is loaded from dist/ here.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, ensureBuilt, tempDir } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const work = tempDir('score-thread');
let built: {
  runNightly: typeof import('../../src/pipeline.js').runNightly;
  makeLogger: typeof import('../../src/cli/log.js').makeLogger;
  loadRulePack: typeof import('../../src/config/rulepack.js').loadRulePack;
  generateExtracts: typeof import('../../src/generate/generate.js').generateExtracts;
  defaultInputOptions: typeof import('../../src/ingest/layout.js').defaultInputOptions;
  parseDay: typeof import('../../src/util/dates.js').parseDay;
};

const fromDist = (path: string) => import(pathToFileURL(join(ROOT, 'dist', path)).href);

beforeAll(async () => {
  await ensureBuilt();
  built = {
    runNightly: (await fromDist('pipeline.js')).runNightly,
    makeLogger: (await fromDist('cli/log.js')).makeLogger,
    loadRulePack: (await fromDist('config/rulepack.js')).loadRulePack,
    generateExtracts: (await fromDist('generate/generate.js')).generateExtracts,
    defaultInputOptions: (await fromDist('ingest/layout.js')).defaultInputOptions,
    parseDay: (await fromDist('util/dates.js')).parseDay,
  };
}, 120_000);

afterAll(() => cleanup(work));

describe('the score-files thread started with the rules', () => {
  it('when the run fails after the rules stage then it ends with that failure, publishes nothing, leaves no hidden folder and no thread', async () => {
    const { generateExtracts, parseDay } = built;
    const input = join(work, 'in');
    const out = join(work, 'out');
    await generateExtracts({ subscribers: 2000, seed: 3, asOf: parseDay(AS_OF), outDir: input });
    // The first run makes the threads a process keeps (libuv's pool); a second one must add none.
    await failAtScore(input, out);
    const before = threadCount();
    const stages = await failAtScore(input, out);
    expect(stages).toContain('rules');
    if (before !== null) {
      // A terminated worker's thread is joined shortly after terminate() settles.
      for (let waited = 0; threadCount()! > before && waited < 2000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      // (At most: the process is shared with other test files, whose own threads may end meanwhile.)
      expect(threadCount()).toBeLessThanOrEqual(before);
    }
    expect(existsSync(join(out, AS_OF))).toBe(false);
    expect(readdirSync(out).filter((e) => e.startsWith('.tmp-') || e.startsWith('.old-'))).toEqual([]);
  }, 60_000);
});

/** This process's threads (Linux), or null where that cannot be read. */
function threadCount(): number | null {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return null;
  }
}

/** A run of the extracts in `input` that fails as the score stage starts; the stages it announced. */
async function failAtScore(input: string, out: string): Promise<string[]> {
  const { runNightly, makeLogger, loadRulePack, defaultInputOptions, parseDay } = built;
  const stages: string[] = [];
  const run = runNightly({
    input: defaultInputOptions(input),
    outRoot: out,
    asOf: parseDay(AS_OF),
    pack: loadRulePack(join(ROOT, 'rules', 'default.yaml')),
    packPath: 'rules/default.yaml',
    force: false,
    fileMode: 0o600,
    dirMode: 0o700,
    logger: makeLogger('silent'),
    // The score files on a worker whatever the run's size: the thread starts with the rules stage.
    tuning: { writeParallel: true },
    onProgress: (stage: string) => {
      stages.push(stage);
      if (stage === 'score') throw new Error('stopped at the score stage');
    },
  });
  await expect(run).rejects.toThrow('stopped at the score stage');
  return stages;
}
