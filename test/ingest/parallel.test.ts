/**
 * The worker-thread ingest (which runs only from the compiled code: the worker is
 * dist/ingest/fact-worker.js) against the one-thread ingest of the same files:
 * the same folded arrays, stats and rejects (rows rejected in the worker included),
 * and the same error, with code, message and context, when an extract is broken,
 * wherever it is read. The compiled CLI is run both ways too.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRulePack, neededFiles, requiredFeatures } from '../../src/config/rulepack.js';
import type { Extracts, IngestPlan } from '../../src/ingest/ingest.js';
import { defaultInputOptions, type ExtractName } from '../../src/ingest/layout.js';
import { cleanup, World } from '../helpers/world.js';
import {
  AS_OF,
  ensureBuilt,
  ROOT,
  runChild,
  sha256,
  summaryWithoutTimings,
  tempDir,
  verifyPublished,
  reproducibleOutputs,
} from '../hardening/helpers.js';
import { plainExtracts } from './plain-extracts.js';

type Ingest = (plan: IngestPlan) => Promise<Extracts>;
let ingest: Ingest;
let dir: string;
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) cleanup(d);
});

beforeAll(async () => {
  await ensureBuilt();
  ingest = ((await import(pathToFileURL(join(ROOT, 'dist', 'ingest', 'ingest.js')).href)) as { ingest: Ingest }).ingest;
  const w = new World(AS_OF);
  for (let s = 0; s < 300; s++) {
    const id = `U${String(s).padStart(4, '0')}`;
    w.sub(id, { status: s % 17 === 0 ? 'suspended_arrears' : 'active', prepaid_balance: s % 5 === 0 ? '3.50' : '' });
    w.bills(id, [`${20 + (s % 50)}.00`, `${40 + (s % 30)}.10`, '30.00', '90.00'], [{ mou: String(s % 200), hotline_calls: String(s % 7) }]);
    for (let k = 1; k <= 14; k++)
      if ((s + k) % 4 !== 0)
        w.usage(id, w.day(k), { calls: String((s * k) % 3), sms: '1', data_mb: `${s % 9}.25`, forwarded_calls: String(s % 2) });
    if (s % 3 === 0) w.ticket(id, w.day(s % 90), s % 2 ? 'complaint' : 'fault');
    if (s % 2 === 0) w.contract(id, w.rel((s % 60) - 30), s % 8 ? '0' : '1');
  }
  // Rows to reject in every fact file (and a duplicate subscriber).
  w.sub('U0003', {});
  w.usage('NOBODY', w.day(1), { calls: '1' }).usage('U0001', 'someday', { calls: '1' }).usage('U0002', w.day(2), { calls: 'many' });
  w.bill('U0001', '2026-13', '1.00').bill('NOBODY', w.month(0), '1.00');
  w.ticket('U0005', w.day(3), 'praise');
  w.contract('U0008', 'never', '0');
  dir = w.write(tempDir('parallel'));
  temps.push(dir);
  // Optional extracts, each with one bad row in a hundred or more (the reject gate allows 1%).
  const contacts = Array.from(
    { length: 150 },
    (_, s) =>
      `U${String(s * 2).padStart(4, '0')},2026-11-${String(1 + (s % 20)).padStart(2, '0')},phone,${s % 3 ? 'declined' : 'retained'},T${s}`,
  );
  writeFileSync(
    join(dir, 'contact_history.csv'),
    ['subscriber_id,contacted_at,channel,outcome,task_id', ...contacts, 'U0002,2026-11-02,sms,maybe,T-bad'].join('\n') + '\n',
  );
  writeFileSync(
    join(dir, 'do_not_call.csv'),
    ['msisdn', ...Array.from({ length: 120 }, (_, s) => String(13800000000 + s * 2)), 'not-a-phone'].join('\n') + '\n',
  );
}, 180_000);

const pack = loadRulePack('rules/default.yaml');
function plan(input: string, parallel: boolean, workerExtracts?: ExtractName[]): IngestPlan {
  return {
    asOf: new World(AS_OF, false).D,
    input: defaultInputOptions(input),
    features: requiredFeatures(pack),
    needed: neededFiles(pack),
    parallel,
    workerExtracts,
    keepIdTable: true,
  };
}

async function failure(p: Promise<unknown>): Promise<{ name: string; code: string; message: string; context: unknown }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; code: string; message: string; context: unknown };
    return { name: err.name, code: err.code, message: err.message, context: err.context };
  }
  throw new Error('expected the ingest to fail');
}

const SPLITS: ExtractName[][] = [['usage_daily'], ['usage_daily', 'contracts'], ['billing_monthly', 'tickets', 'contact_history']];

describe('ingest with a worker thread', () => {
  it('when the fact extracts are shared out in any way then the result equals the one-thread result, rejects included', async () => {
    const one = await ingest(plan(dir, false));
    expect(one.rejects.rows.length).toBeGreaterThan(8);
    expect(one.rejects.rows.filter((r) => r.file === 'usage_daily.csv').length).toBe(3);
    // In shared memory in one thread too: its keys are the ids column, which the score-files worker reads where it is.
    expect(one.subscribers.idTable!.isShared).toBe(true);
    const expected = plainExtracts(one);
    for (const split of SPLITS) {
      const two = await ingest(plan(dir, true, split));
      expect(plainExtracts(two)).toEqual(expected);
      // The id table comes from the worker (shared memory) and finds every subscriber.
      expect(two.subscribers.idTable!.isShared).toBe(true);
      two.subscribers.ids.toArray().forEach((id, i) => {
        expect(two.subscribers.idTable!.indexOf(id)).toBe(i);
      });
    }
    // Unless asked for, the id table is let go once the extracts are read.
    expect((await ingest({ ...plan(dir, true, ['usage_daily']), keepIdTable: false })).subscribers.idTable).toBeUndefined();
  }, 60_000);

  it('when an extract read in the worker is malformed then the same error arrives, with its code, message and context', async () => {
    const bad = tempDir('parallel-bad');
    temps.push(bad);
    for (const f of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts'])
      writeFileSync(join(bad, `${f}.csv`), readFileSync(join(dir, `${f}.csv`)));
    appendFileSync(join(bad, 'usage_daily.csv'), 'U0001,"2026-11-20"x,1,0,0,0\n');
    const expected = await failure(ingest(plan(bad, false)));
    expect(expected).toMatchObject({ name: 'ChurnwatchError', code: 'CW_CSV_MALFORMED', context: { file: 'usage_daily.csv', column: 2 } });
    for (const split of SPLITS) expect(await failure(ingest(plan(bad, true, split)))).toEqual(expected);

    // Broken files on both sides: the error of the extract read first in one thread wins.
    appendFileSync(join(bad, 'tickets.csv'), 'T9,U0001,2026-11-20,"fault\n');
    const both = await failure(ingest(plan(bad, false)));
    expect(both).toEqual(expected);
    for (const split of SPLITS) expect(await failure(ingest(plan(bad, true, split)))).toEqual(expected);
    appendFileSync(join(bad, 'billing_monthly.csv'), 'U0001,2026-10,"1.00\n');
    const billingFirst = await failure(ingest(plan(bad, false)));
    expect(billingFirst.context).toMatchObject({ file: 'billing_monthly.csv' });
    for (const split of SPLITS) expect(await failure(ingest(plan(bad, true, split)))).toEqual(billingFirst);
  }, 60_000);

  it('when subscribers.csv is broken then the worker reading its ids fails the same way as the main thread', async () => {
    const bad = tempDir('parallel-subs');
    temps.push(bad);
    for (const f of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts'])
      writeFileSync(join(bad, `${f}.csv`), readFileSync(join(dir, `${f}.csv`)));
    writeFileSync(join(bad, 'subscribers.csv'), readFileSync(join(dir, 'subscribers.csv'), 'utf8').replace('U0007,', 'U0007,"'));
    const expected = await failure(ingest(plan(bad, false)));
    expect(expected.code).toBe('CW_CSV_MALFORMED');
    expect(await failure(ingest(plan(bad, true, ['usage_daily'])))).toEqual(expected);
  }, 60_000);

  it('when the compiled CLI runs with and without the worker then every output but the timings is the same', async () => {
    const outs: string[] = [];
    for (const env of ['0', '1']) {
      const out = join(dir, `out-${env}`);
      const r = await runChild(['run', '--input', dir, '--out', out, '--as-of', AS_OF, '--log-level', 'warn'], {
        env: { CHURNWATCH_INGEST_PARALLEL: env },
      });
      expect([r.code, r.stderr]).toEqual([0, '']);
      outs.push(join(out, AS_OF));
    }
    expect(reproducibleOutputs(verifyPublished(outs[1]!))).toEqual(reproducibleOutputs(verifyPublished(outs[0]!)));
    expect(summaryWithoutTimings(outs[1]!)).toEqual(summaryWithoutTimings(outs[0]!));
    expect(readFileSync(join(outs[1]!, 'rejects.csv'), 'utf8')).toContain('usage_daily.csv');
  }, 60_000);
});

describe('handing jobs to a fact worker', () => {
  type Hooks = import('../../src/ingest/parallel.js').FactWorkerHooks;
  type Worker = import('../../src/ingest/parallel.js').FactWorker;
  it('when a job is given before the worker is ready then it runs straight away, and the next is asked for before the result is handed on', async () => {
    const dist = (await import(pathToFileURL(join(ROOT, 'dist', 'ingest', 'parallel.js')).href)) as {
      FactWorker: new (url: URL, input: unknown, hooks: Hooks) => Worker;
      factWorkerUrl: () => URL;
    };
    const events: string[] = [];
    const path = join(dir, 'subscribers.csv');
    const worker: Worker = new dist.FactWorker(
      dist.factWorkerUrl(),
      { input: defaultInputOptions(dir), subscribers: null, progress: false },
      {
        onReady: () => {
          events.push('ready');
          worker.end();
        },
        onStart: () => events.push('start'),
        onResult: (_, r) => events.push(`result ${r.stats.sha256 === sha256(readFileSync(path))}`),
        onError: (_, e) => events.push(`error ${e.message}`),
      },
    );
    // (The worker's own 'ready' comes after this: the job given first must not make it ask for another.)
    worker.assign(0, { extract: 'subscribers', path, file: 'subscribers.csv', hash: true });
    await worker.ended();
    await worker.terminate();
    expect(events).toEqual(['start', 'ready', 'result true']);
  }, 30_000);
});
