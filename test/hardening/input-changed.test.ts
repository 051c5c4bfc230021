/**
 * Promise 11, stale or inconsistent extracts: an input that changes after the run
 * started (before, while or after it is read) aborts the run with 75 and publishes
 * nothing; the manifest records the hashes of the inputs as they were before reading.
 */
import { appendFileSync, cpSync, existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLogger } from '../../src/cli/log.js';
import { loadRulePack } from '../../src/config/rulepack.js';
import { ChurnwatchError, exitCodeOf } from '../../src/errors.js';
import { generateExtracts } from '../../src/generate/generate.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { runNightly } from '../../src/pipeline.js';
import { parseDay } from '../../src/util/dates.js';
import { cleanup } from '../helpers/world.js';
import { AS_OF, sha256, tempDir, verifyPublished } from './helpers.js';

let work: string;
let pristine: string;
beforeAll(async () => {
  work = tempDir('changed');
  pristine = join(work, 'pristine');
  await generateExtracts({ subscribers: 5000, seed: 3, asOf: parseDay(AS_OF), outDir: pristine });
}, 60_000);
afterAll(() => {
  if (work) cleanup(work);
});

let n = 0;
/** Runs the pipeline on a fresh copy of the extracts; `onStage` may tamper with them. */
async function run(onStage?: (stage: string, dir: string) => void) {
  const dir = join(work, `case-${++n}`);
  cpSync(pristine, dir, { recursive: true });
  const out = join(dir, 'out');
  const before = Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.csv'))
      .map((f) => [f, sha256(readFileSync(join(dir, f)))]),
  );
  let error: unknown;
  try {
    await runNightly({
      input: defaultInputOptions(dir),
      outRoot: out,
      asOf: parseDay(AS_OF),
      pack: loadRulePack('rules/default.yaml'),
      packPath: 'rules/default.yaml',
      force: false,
      fileMode: 0o600,
      dirMode: 0o700,
      logger: makeLogger('silent'),
      onProgress: (stage) => onStage?.(stage, dir),
    });
  } catch (e) {
    error = e;
  }
  return { dir, out, before, error, published: join(out, AS_OF) };
}

function expectAborted(r: Awaited<ReturnType<typeof run>>, file: string) {
  expect(r.error).toBeInstanceOf(ChurnwatchError);
  expect((r.error as ChurnwatchError).code).toBe('CW_INPUT_CHANGED');
  expect(exitCodeOf(r.error)).toBe(75);
  expect((r.error as Error).message).toContain(`${file} changed while the run read it`);
  expect(existsSync(r.published)).toBe(false);
  expect(readdirSync(r.out).filter((e) => !e.startsWith('.'))).toEqual(['failed']);
  expect(JSON.parse(readFileSync(join(r.out, 'failed', AS_OF, 'failure.json'), 'utf8'))).toMatchObject({
    code: 'CW_INPUT_CHANGED',
    exit_code: 75,
  });
}

describe('inputs that change under the run', () => {
  it('when nothing changes then the manifest records each input with the size and sha256 it had before the run', async () => {
    const r = await run();
    expect(r.error).toBeUndefined();
    const m = verifyPublished(r.published);
    expect(m.inputs.length).toBe(7);
    for (const i of m.inputs) {
      expect([i.file, i.sha256]).toEqual([i.file, r.before[i.file]]);
      expect(i.bytes).toBe(readFileSync(join(r.dir, i.file)).length);
    }
  });

  it('when a file already read grows before the run ends then the run exits 75 and publishes nothing', async () => {
    const r = await run((stage, dir) => {
      if (stage === 'read billing') appendFileSync(join(dir, 'subscribers.csv'), '9999999999,13800000000,x,active,,,P1,none,R,M1,\n');
    });
    expectAborted(r, 'subscribers.csv');
  });

  it('when a file not yet read is rewritten with the same size after the run started then the run exits 75 (the extracts may be from two exports)', async () => {
    const r = await run((stage, dir) => {
      if (stage !== 'read subscribers') return;
      const p = join(dir, 'billing_monthly.csv');
      const text = readFileSync(p, 'utf8');
      writeFileSync(p, text.replace('2026-10', '2026-09')); // same length, other content
    });
    expectAborted(r, 'billing_monthly.csv');
  });

  it('when a file is appended to while it is being read then the run exits 75', async () => {
    const r = await run((stage, dir) => {
      // The reader awaits each 1 MiB chunk: this lands after the first one.
      if (stage === 'read usage') setImmediate(() => appendFileSync(join(dir, 'usage_daily.csv'), '0001000003,2026-11-22,1,0,0,0\n'));
    });
    expect(readFileSync(join(pristine, 'usage_daily.csv')).length).toBeGreaterThan(2 << 20);
    expectAborted(r, 'usage_daily.csv');
  });

  it('when a file rewritten under the run breaks the reader then the change is reported (75), not the broken record (65)', async () => {
    const r = await run((stage, dir) => {
      if (stage === 'read subscribers')
        writeFileSync(join(dir, 'usage_daily.csv'), 'subscriber_id,usage_date,calls\n0001000003,"2026-11-22\n');
    });
    expectAborted(r, 'usage_daily.csv');
  });

  it('when an input changes after it was read, while the outputs are being written, then the run exits 75', async () => {
    const r = await run((stage, dir) => {
      if (stage === 'write') appendFileSync(join(dir, 'tickets.csv'), 'T-LATE,0001000003,2026-11-20,complaint,x\n');
    });
    expectAborted(r, 'tickets.csv');
  });

  it('when only the modification time of an input moves then the run still refuses (75): the check does not re-read the file', async () => {
    const r = await run((stage, dir) => {
      if (stage === 'read tickets') utimesSync(join(dir, 'contracts.csv'), new Date(), new Date(Date.now() + 5000));
    });
    expectAborted(r, 'contracts.csv');
  });
});
