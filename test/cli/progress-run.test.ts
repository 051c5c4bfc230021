/**
 * What the progress line's percentage rests on: the sizes a run announces before
 * reading are those of the files it then reads, and the bytes it reports for each
 * reach that size, plain or gzip, with or without the worker thread. So the line
 * ends at 100%.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeLogger } from '../../src/cli/log.js';
import { loadRulePack } from '../../src/config/rulepack.js';
import { generateExtracts } from '../../src/generate/generate.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { runNightly } from '../../src/pipeline.js';
import { parseDay } from '../../src/util/dates.js';
import { AS_OF, tempDir } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';

const work = tempDir('progress');
afterAll(() => cleanup(work));

describe('progress of a run', () => {
  it.each([
    ['plain files, one thread', false, false],
    ['gzip files, one thread', true, false],
    ['plain files, with the worker', false, true],
    ['gzip files, with the worker', true, true],
  ])(
    "when a run reads %s then the bytes reported per extract reach the sizes announced, which are the files' sizes",
    async (name, gzip, parallel) => {
      const dir = join(work, name.replace(/\W+/g, '-'));
      await generateExtracts({ subscribers: 2000, seed: 4, asOf: parseDay(AS_OF), outDir: dir, gzip });
      let announced: Record<string, number> = {};
      const last = new Map<string, number>();
      await runNightly({
        input: defaultInputOptions(dir),
        outRoot: join(dir, 'out'),
        asOf: parseDay(AS_OF),
        pack: loadRulePack('rules/default.yaml'),
        packPath: 'rules/default.yaml',
        force: false,
        fileMode: 0o600,
        dirMode: 0o700,
        logger: makeLogger('silent'),
        tuning: { ingestParallel: parallel },
        onInputs: (bytes) => {
          announced = bytes;
        },
        onRows: (extract, _rows, bytes) => {
          last.set(extract, Math.max(bytes, last.get(extract) ?? 0));
        },
      });
      const files = readdirSync(dir).filter((f) => /\.csv(\.gz)?$/.test(f));
      expect(Object.keys(announced).sort()).toEqual(files.map((f) => f.replace(/\.csv(\.gz)?$/, '')).sort());
      for (const f of files) expect(announced[f.replace(/\.csv(\.gz)?$/, '')]).toBe(statSync(join(dir, f)).size);
      expect(Object.fromEntries(last)).toEqual(announced);
    },
  );
});
