/**
 * The measure extracts cut into byte ranges (src/ingest/ranges.ts) against one reader
 * of the whole file: the same folded arrays, repeats, rejects and line numbers, and,
 * through the compiled CLI with 1, 2 and 4 workers (worker threads on and off), the
 * same bytes in every output. The extracts are made awkward on purpose: dirty rows,
 * quoted fields holding line feeds (so that some cuts fall inside a record), rows
 * repeated across ranges, CR LF lines, a gzip file.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import { defaultInputOptions, type InputOptions } from '../../src/ingest/layout.js';
import { mergeRanges, planRanges, RangeMerge } from '../../src/ingest/ranges.js';
import { runFactJob, type FactJob, type FactResult } from '../../src/ingest/fact-jobs.js';
import { readSubscribers } from '../../src/ingest/subscribers.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { monthOfDay, parseDay } from '../../src/util/dates.js';
import { AS_OF, generate, tempDir, ensureBuilt } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';
import { expectSameOutputs, plainExtracts, rangePlan, runWorkers } from './plain-extracts.js';

const MIN = 4096;
let dir: string;
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) cleanup(d);
});

/** Every field quoted, a field with a line feed, a comma and a doubled quote on some rows. */
function quoteAll(line: string): string {
  return line
    .split(',')
    .map((f) => `"${f}"`)
    .join(',');
}

beforeAll(async () => {
  await ensureBuilt();
  dir = tempDir('ranges');
  temps.push(dir);
  await generate(dir, ['--subscribers', '1500', '--seed', '7', '--dirty', '0.004']);
  // usage_daily: an extra text column, quoted, spanning up to 40 lines on some rows; a
  // few rows repeated further down (repeats of a subscriber's first row of the day
  // that end up in another range than that row).
  const usage = readFileSync(join(dir, 'usage_daily.csv'), 'utf8').trimEnd().split('\n');
  const out = [`${usage[0]},note`];
  for (let i = 1; i < usage.length; i++) {
    const note = i % 97 === 0 ? `"a note, ""quoted""\n${'over lines\n'.repeat(i % 40)}end"` : i % 5 === 0 ? '"plain"' : '';
    out.push(`${usage[i]},${note}`);
    if (i % 211 === 0) out.push(`${usage[Math.max(1, i - 150)]},`);
  }
  writeFileSync(join(dir, 'usage_daily.csv'), out.join('\n') + '\n');
  // billing_monthly: CR LF, every field quoted, the first subscriber's rows repeated at the end.
  const billing = readFileSync(join(dir, 'billing_monthly.csv'), 'utf8').trimEnd().split('\n');
  const firstId = billing[1]!.split(',')[0]!;
  billing.push(...billing.filter((l) => l.startsWith(`${firstId},`)));
  writeFileSync(join(dir, 'billing_monthly.csv'), billing.map(quoteAll).join('\r\n') + '\r\n');
  // contracts: gzip (never cut).
  writeFileSync(join(dir, 'contracts.csv.gz'), gzipSync(readFileSync(join(dir, 'contracts.csv'))));
  rmSync(join(dir, 'contracts.csv'));
}, 180_000);

/**
 * Every file's sha256 and size as sha256sum would give them, the cut ones (hashed by
 * their first range, the rest of the file read for the hash only) included.
 */
function expectFileHashes(got: Awaited<ReturnType<typeof ingest>>, folder: string): void {
  const cut = got.files.filter((f) => f.extract === 'billing_monthly' || f.extract === 'usage_daily');
  expect(cut.length).toBe(2);
  for (const f of got.files) {
    const bytes = readFileSync(f.path);
    expect([f.file, f.sha256, f.bytes]).toEqual([f.file, createHash('sha256').update(bytes).digest('hex'), bytes.length]);
    expect(f.path.startsWith(folder)).toBe(true);
  }
}

describe('measure extracts read in byte ranges', () => {
  it('when the files are cut for 2, 4 and 7 readers then everything read equals what one reader reads, rejects and repeats included', async () => {
    const input = defaultInputOptions(dir);
    const one = await ingest(rangePlan(input, 1, MIN));
    const usage = one.files.find((f) => f.extract === 'usage_daily')!;
    const billing = one.files.find((f) => f.extract === 'billing_monthly')!;
    expect(usage.rejected).toBeGreaterThan(5);
    expect(usage.duplicates).toBeGreaterThan(5);
    expect(billing.duplicates).toBeGreaterThanOrEqual(1);
    // Rejected rows after the multi-line notes: their line numbers count the notes' lines.
    expect(Math.max(...one.rejects.rows.filter((r) => r.file === 'usage_daily.csv').map((r) => r.line))).toBeGreaterThan(
      readFileSync(join(dir, 'usage_daily.csv'), 'utf8').split('\n').length / 2,
    );
    const expected = plainExtracts(one);
    for (const workers of [2, 4, 7]) {
      const cuts = await planRanges(join(dir, 'usage_daily.csv'), 'usage_daily', input, workers, MIN);
      expect(cuts?.ranges.length).toBe(workers);
      expect(await planRanges(join(dir, 'billing_monthly.csv'), 'billing_monthly', input, workers, MIN)).not.toBeNull();
      const cut = await ingest(rangePlan(input, workers, MIN));
      expect(plainExtracts(cut)).toEqual(expected);
      expectFileHashes(cut, dir);
    }
    expect(await planRanges(join(dir, 'contracts.csv.gz'), 'contracts', input, 4, MIN)).toBeNull();
  }, 120_000);

  it('when the first range leads then it holds about that many bytes more than each of the others, and never more than half a share', async () => {
    const input = defaultInputOptions(dir);
    const path = join(dir, 'usage_daily.csv');
    const size = readFileSync(path).length;
    const lengths = async (lead: number) =>
      (await planRanges(path, 'usage_daily', input, 3, MIN, lead))!.ranges.map((r) => r.end - r.start);
    const even = await lengths(0);
    const led = await lengths(size / 10);
    // (Each cut moves on to the next line feed: a record's length either way.)
    const line = 200;
    expect(Math.abs(led[0]! - led[1]! - size / 10)).toBeLessThan(2 * line);
    expect(Math.abs(led[1]! - led[2]!)).toBeLessThan(2 * line);
    expect(Math.abs(even[0]! - even[1]!)).toBeLessThan(2 * line);
    const capped = await lengths(size);
    expect(Math.abs(capped[0]! - capped[1]! - size / 6)).toBeLessThan(2 * line);
  });

  it('when a cut falls inside a quoted field then the file is read again whole, with the same result', async () => {
    const input = defaultInputOptions(dir);
    const path = join(dir, 'usage_daily.csv');
    // Some cut of some reader count lands inside a multi-line note.
    const bytes = readFileSync(path);
    const inside: number[] = [];
    for (let workers = 2; workers <= 40; workers++) {
      const cuts = (await planRanges(path, 'usage_daily', input, workers, MIN))!.ranges.slice(1).map((r) => r.start);
      if (cuts.some((c) => bytes.subarray(c, c + 11).toString() === 'over lines\n' || bytes.subarray(c, c + 3).toString() === 'end'))
        inside.push(workers);
    }
    expect(inside.length).toBeGreaterThan(0);
    const expected = plainExtracts(await ingest(rangePlan(input, 1, MIN)));
    for (const workers of inside.slice(0, 3)) expect(plainExtracts(await ingest(rangePlan(input, workers, MIN)))).toEqual(expected);
  }, 120_000);

  it('when the extracts are GBK with | between fields then the cut files read the same as one reader reads them', async () => {
    // GBK's trail bytes (0x40-0xFE) include "|", never LF or the quote: 亅倈億 end in 0x7C.
    const gbk = tempDir('ranges-gbk');
    temps.push(gbk);
    await generate(gbk, ['--subscribers', '800', '--seed', '3', '--delimiter', '|', '--dirty', '0.004']);
    const usage = readFileSync(join(gbk, 'usage_daily.csv'), 'utf8').trimEnd().split('\n');
    const rows = usage.map((l, i) => (i === 0 ? `${l}|备注` : `${l}|${i % 7 === 0 ? `"亅倈億 说明|""引号""\n第二行"` : '普通'}`));
    writeFileSync(join(gbk, 'usage_daily.csv'), iconv.encode(rows.join('\n') + '\n', 'gbk'));
    for (const f of readdirSync(gbk))
      if (f.endsWith('.csv') && f !== 'usage_daily.csv')
        writeFileSync(join(gbk, f), iconv.encode(readFileSync(join(gbk, f), 'utf8'), 'gbk'));
    const input: InputOptions = { ...defaultInputOptions(gbk), delimiter: '|', encoding: 'gbk' };
    const expected = plainExtracts(await ingest(rangePlan(input, 1, MIN)));
    for (const workers of [2, 4]) {
      expect((await planRanges(join(gbk, 'usage_daily.csv'), 'usage_daily', input, workers, MIN))?.ranges.length).toBe(workers);
      const cut = await ingest(rangePlan(input, workers, MIN));
      expect(plainExtracts(cut)).toEqual(expected);
      expectFileHashes(cut, gbk);
    }
  }, 120_000);

  it("when the ranges arrive in any order then each is merged once those before it are in, let go, and the result is the one reader's", async () => {
    const input = defaultInputOptions(dir);
    const { table } = await readSubscribers(join(dir, 'subscribers.csv'), 'subscribers.csv', input, new RejectLog());
    const keys = { n: table.n, idTable: table.idTable! };
    const asOf = parseDay(AS_OF);
    const jobs: FactJob[] = [
      // Sorted by day: the days read lie in the last ranges (the first ranges' arrays are replaced, not added to).
      {
        extract: 'usage_daily',
        path: join(dir, 'usage_daily.csv'),
        file: 'usage_daily.csv',
        asOf,
        wanted: [
          [1, ['calls', 'sms']],
          [3, ['data_mb']],
        ],
      },
      // Sorted by subscriber: each range holds a slice of them (added over that slice only).
      {
        extract: 'billing_monthly',
        path: join(dir, 'billing_monthly.csv'),
        file: 'billing_monthly.csv',
        asOfMonth: monthOfDay(asOf),
        windows: { amount: 3, mou: 2 },
      },
    ];
    for (const whole of jobs) {
      const cut = (await planRanges(whole.path, whole.extract, input, 4, MIN))!;
      expect(cut.ranges.length).toBe(4);
      const ranges: FactResult[] = [];
      for (const [index, r] of cut.ranges.entries())
        ranges.push(
          await runFactJob({ ...whole, range: { ...r, index, header: index === 0 ? null : cut.header } } as FactJob, input, keys),
        );
      const merge = new RangeMerge(whole.extract, 4, { input, windows: 'windows' in whole ? whole.windows : undefined });
      const held = () => ranges.map((r) => r.part!.states.length > 0);
      merge.add(ranges[2]!);
      merge.add(ranges[0]!);
      expect(held()).toEqual([false, true, true, true]);
      merge.add(ranges[3]!);
      expect(merge.complete).toBe(false);
      merge.add(ranges[1]!);
      expect(held()).toEqual([false, false, false, false]);
      const merged = merge.finish()!;
      const one = await runFactJob(whole, input, keys);
      expect(plainExtracts({ ...merged, stats: { ...merged.stats, ms: 0 } } as never)).toEqual(
        plainExtracts({ ...one, stats: { ...one.stats, ms: 0, range: undefined } } as never),
      );
    }
  }, 120_000);

  it("when a hash job made the file's sha256 then the first range hashes nothing, and the merge waits for the hash and checks it", async () => {
    const input = defaultInputOptions(dir);
    const { table } = await readSubscribers(join(dir, 'subscribers.csv'), 'subscribers.csv', input, new RejectLog());
    const keys = { n: table.n, idTable: table.idTable! };
    const path = join(dir, 'billing_monthly.csv');
    const whole: FactJob = {
      extract: 'billing_monthly',
      path,
      file: 'billing_monthly.csv',
      asOfMonth: monthOfDay(parseDay(AS_OF)),
      windows: { amount: 3 },
    };
    const cut = (await planRanges(path, whole.extract, input, 3, MIN))!;
    const merge = () => new RangeMerge(whole.extract, cut.ranges.length, { input, windows: { amount: 3 } });
    const [withHash, changed] = [merge(), merge()];
    for (const [index, r] of cut.ranges.entries()) {
      const got = await runFactJob(
        { ...whole, range: { ...r, index, header: index === 0 ? null : cut.header, hashWhole: false } },
        input,
        keys,
      );
      expect(got.stats.range!.hashed).toBeUndefined();
      withHash.add(got);
      changed.add(got);
    }
    expect(withHash.complete).toBe(false);
    const hashed = await runFactJob({ extract: whole.extract, path, file: whole.file, hash: true }, input, keys);
    withHash.hashed(hashed.stats);
    expect(withHash.complete).toBe(true);
    const bytes = readFileSync(path);
    expect(withHash.finish()!.stats).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
    // The hash job read another number of bytes than the ranges: the file changed between the reads.
    changed.hashed({ ...hashed.stats, bytes: bytes.length + 1 });
    expect(() => changed.finish()).toThrow(expect.objectContaining({ code: 'CW_INPUT_CHANGED' }));
  }, 60_000);

  it('when a range does not end between records then its results are not merged (the caller reads the file whole)', () => {
    const stats = (between: boolean, hashed?: number) => ({
      extract: 'usage_daily' as const,
      file: 'usage_daily.csv',
      path: 'usage_daily.csv',
      bytes: 10,
      records: 1,
      accepted: 1,
      rejected: 0,
      ms: 0,
      sha256: '',
      before: { size: 20, mtimeMs: 0 },
      range: { lines: 1, between, startedAt: 0, endedAt: 0, hashed },
    });
    const part = { states: [], counts: new Map(), marked: new Map(), duplicates: 0, newest: -Infinity };
    const ranges = (between: boolean): FactResult[] => [
      { extract: 'usage_daily', stats: { ...stats(between, 20), sha256: 'x' }, rejects: [], part, range: 0 },
      { extract: 'usage_daily', stats: stats(true), rejects: [], part, range: 1 },
    ];
    const input = defaultInputOptions(dir);
    expect(mergeRanges(ranges(false), { input })).toBeNull();
    expect(mergeRanges(ranges(true), { input })?.stats).toMatchObject({ records: 2, bytes: 20, sha256: 'x' });
    // The first range hashed more (or fewer) bytes than the ranges read: the file changed between the reads.
    const grown = ranges(true);
    grown[0]!.stats.range!.hashed = 21;
    expect(() => mergeRanges(grown, { input })).toThrow(expect.objectContaining({ code: 'CW_INPUT_CHANGED' }));
  });

  it('when an extract read in ranges is malformed then the error is the one reader error, with its line', async () => {
    const bad = tempDir('ranges-bad');
    temps.push(bad);
    for (const f of readdirSync(dir)) if (f.endsWith('.csv') || f.endsWith('.gz')) writeFileSync(join(bad, f), readFileSync(join(dir, f)));
    const lines = readFileSync(join(dir, 'usage_daily.csv'), 'utf8').split('\n');
    lines.splice(Math.floor(lines.length * 0.8), 0, 'U0001,"2026-11-20"x,1,0,0,0,');
    writeFileSync(join(bad, 'usage_daily.csv'), lines.join('\n'));
    const input = defaultInputOptions(bad);
    const failure = async (workers: number) => {
      try {
        await ingest(rangePlan(input, workers, MIN));
      } catch (e) {
        const err = e as { code: string; message: string; context: unknown };
        return { code: err.code, message: err.message, context: err.context };
      }
      throw new Error('expected the ingest to fail');
    };
    const expected = await failure(1);
    expect(expected).toMatchObject({ code: 'CW_CSV_MALFORMED', context: { file: 'usage_daily.csv', column: 2 } });
    for (const workers of [2, 4]) expect(await failure(workers)).toEqual(expected);
  }, 120_000);

  it('when the compiled CLI runs with 1, 2 and 4 workers, with worker threads or without, then every output file is the same', async () => {
    const outs: string[] = [];
    for (const workers of ['1', '2', '4'])
      for (const threads of workers === '1' ? ['0'] : ['0', '1'])
        outs.push(await runWorkers(dir, join(dir, `out-${workers}-${threads}`), workers, threads, MIN));
    const first = outs[0]!;
    expect(readFileSync(join(first, 'rejects.csv'), 'utf8')).toContain('usage_daily.csv');
    expectSameOutputs(outs, expect);
  }, 240_000);
});
