/**
 * subscribers.csv cut into byte ranges (src/ingest/subscriber-ranges.ts) against one
 * reader of the whole file: the same table, rejects and line numbers. The file is made
 * awkward on purpose: CR LF lines, names quoted over two lines (so that some cuts fall
 * inside a record, and others right after one), repeated ids and rejected rows whose
 * first occurrence lies in another range.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { planRanges } from '../../src/ingest/ranges.js';
import { joinScans } from '../../src/ingest/subscriber-ranges.js';
import { scanSubscribers } from '../../src/ingest/subscribers.js';
import { ensureBuilt, generate, ROOT, tempDir } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';
import { expectSameOutputs, plainExtracts, rangePlan, runWorkers } from './plain-extracts.js';

const MIN = 2048;
let dir: string;
let path: string;
/** Lines (1-based, in the written file) of the rows planted in its second half. */
const planted = { duplicate: 0, badDuplicate: 0, bad: 0 };
afterAll(() => cleanup(dir));

beforeAll(async () => {
  await ensureBuilt();
  dir = tempDir('subscriber-ranges');
  await generate(dir, ['--subscribers', '400', '--seed', '11']);
  path = join(dir, 'subscribers.csv');
  const rows = readFileSync(path, 'utf8').trimEnd().split('\n');
  const out: string[] = [];
  let line = 0;
  const put = (row: string) => {
    out.push(row);
    line += 1 + (row.match(/\n/g)?.length ?? 0);
    return line;
  };
  const early = rows[3]!.split(',');
  for (let i = 0; i < rows.length; i++) {
    const f = rows[i]!.split(',');
    // The name over two lines (a CR LF inside the quotes too, on some rows).
    if (i > 0 && i % 3 === 0) f[2] = `"${f[2]}\n${i % 2 ? 'x' : 'y\r'}"`;
    put(f.join(','));
    if (i === Math.floor(rows.length * 0.7)) {
      planted.duplicate = put([early[0], ...f.slice(1)].join(','));
      planted.badDuplicate = put([early[0], 'not-a-phone', ...f.slice(2)].join(','));
      planted.bad = put(['Z999', 'not-a-phone', ...f.slice(2)].join(','));
    }
  }
  writeFileSync(path, out.join('\r\n') + '\r\n');
}, 120_000);

/** subscribers.csv cut in 3 and each range scanned; the first sized for the whole file when `join` says so. */
async function scanRanges(input: ReturnType<typeof defaultInputOptions>, join: boolean) {
  const cut = (await planRanges(path, 'subscribers', input, 3, MIN))!;
  const parts = [];
  for (const [r, range] of cut.ranges.entries())
    parts.push(
      await scanSubscribers(path, 'subscribers.csv', input, {
        keys: true,
        values: true,
        range: { ...range, header: r ? cut.header : null },
        ...(join && r === 0 ? { sizeFor: cut.ranges[cut.ranges.length - 1]!.end } : {}),
      }),
    );
  return { cut, parts };
}

describe('subscribers.csv read in byte ranges', () => {
  it('when the ranges are scanned apart and joined then the scan equals one scan of the whole file', async () => {
    const input = defaultInputOptions(dir);
    const whole = await scanSubscribers(path, 'subscribers.csv', input, { keys: true, values: true });
    const { cut, parts } = await scanRanges(input, false);
    const joined = joinScans(parts)!;
    const plain = (s: typeof whole) => ({
      valid: s.valid,
      keys: Array.from({ length: s.keys!.n }, (_, i) => s.keys!.keyString(i)),
      lines: Array.from(s.lines!),
      values: s.values,
      rejects: s.rejects,
      rejectedIds: [...s.rejectedIds],
      records: s.stats.records,
      accepted: s.stats.accepted,
      rejected: s.stats.rejected,
    });
    expect(plain(joined)).toEqual(plain(whole));
    // A cut after the first range's records: the rejects after it keep their lines.
    expect(cut.ranges.length).toBe(3);
    expect(joined.rejects.map((r) => r.line)).toContain(planted.bad);
  });

  it('when the first range is sized for the whole file then the others are joined into its arrays, and its id table is shared without a copy', async () => {
    const input = defaultInputOptions(dir);
    const whole = await scanSubscribers(path, 'subscribers.csv', input, { keys: true, values: true });
    const { parts } = await scanRanges(input, true);
    const head = parts[0]!;
    const buffers = { lines: head.lines!.buffer, prepaid: head.values!.prepaidBalance.buffer, status: head.values!.status.buffer };
    const joined = joinScans(parts)!;
    expect(Array.from(joined.lines!)).toEqual(Array.from(whole.lines!));
    expect(Array.from(joined.values!.prepaidBalance)).toEqual(Array.from(whole.values!.prepaidBalance));
    expect(Array.from(joined.values!.status)).toEqual(Array.from(whole.values!.status));
    expect({ lines: joined.lines!.buffer, prepaid: joined.values!.prepaidBalance.buffer, status: joined.values!.status.buffer }).toEqual(
      buffers,
    );
    expect(joined.lines!.buffer).toBe(buffers.lines);
    expect(joined.values!.prepaidBalance.buffer).toBe(buffers.prepaid);
    const table = joined.keys!;
    expect(table.isShared).toBe(true);
    table.buildIndex();
    const keysBefore = table.keyParts().keys.buffer;
    const shared = table.share();
    expect(shared.keys.buffer).toBe(keysBefore);
    expect(shared.slots.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('when a worker has handed its range over then it keeps none of it, so the range goes once joined', async () => {
    // The compiled modules: the worker thread runs compiled code.
    const { FactWorker, factWorkerUrl } = (await import(
      pathToFileURL(join(ROOT, 'dist', 'ingest', 'parallel.js')).href
    )) as typeof import('../../src/ingest/parallel.js');
    const input = defaultInputOptions(dir);
    const cut = (await planRanges(path, 'subscribers', input, 2, MIN))!;
    const range = { ...cut.ranges[1]!, header: cut.header };
    const worker = new FactWorker(
      factWorkerUrl()!,
      { input, subscribers: { path, file: 'subscribers.csv', range }, progress: false },
      { onReady: () => worker.end(), onResult: () => {}, onError: () => {} },
    );
    try {
      const taken = await (async () => {
        const got = await worker.scan();
        expect(got.scan?.valid).toBeGreaterThan(0);
        return new WeakRef(got.scan!);
      })();
      await worker.ended();
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      // A WeakRef holds its target to the end of the task that made it.
      await new Promise((r) => setTimeout(r, 10));
      gc();
      expect(taken.deref()).toBeUndefined();
    } finally {
      await worker.terminate();
    }
  });

  it('when cut for 2 to 40 readers then everything read equals what one reader reads, duplicates and rejects at their lines', async () => {
    const one = await ingest(rangePlan(defaultInputOptions(dir), 1, MIN));
    const subs = one.rejects.rows.filter((r) => r.file === 'subscribers.csv');
    expect(subs.filter((r) => r.code === 'CW_ROW_DUPLICATE_SUBSCRIBER').map((r) => r.line)).toEqual([
      planted.duplicate,
      planted.badDuplicate,
    ]);
    expect(subs.find((r) => r.code === 'CW_ROW_BAD_PHONE')?.line).toBe(planted.bad);
    const expected = plainExtracts(one);
    // Cuts inside a quoted name (read again whole) and right after a record holding one.
    const bytes = readFileSync(path);
    const input = defaultInputOptions(dir);
    let inside = 0,
      after = 0;
    for (let workers = 2; workers <= 40; workers++) {
      const cuts = (await planRanges(path, 'subscribers', input, workers, MIN))!.ranges.slice(1).map((r) => r.start);
      const isInside = cuts.some((c) => /^(x|y\r)"/.test(bytes.subarray(c, c + 3).toString()));
      const isAfter = cuts.some((c) => /(x|y\r)",[^\n]*\r\n$/.test(bytes.subarray(Math.max(0, c - 120), c).toString()));
      if (workers > 4 && (!(isInside || isAfter) || (inside > 0 && after > 0))) continue;
      inside += Number(isInside);
      after += Number(isAfter);
      expect(plainExtracts(await ingest(rangePlan(defaultInputOptions(dir), workers, MIN)))).toEqual(expected);
    }
    expect([inside > 0, after > 0]).toEqual([true, true]);
  }, 120_000);

  it('when a range holds a malformed record then the error is the one reader error, with its line', async () => {
    const bad = tempDir('subscriber-ranges-bad');
    try {
      for (const f of readdirSync(dir)) if (f.endsWith('.csv')) writeFileSync(join(bad, f), readFileSync(join(dir, f)));
      const text = readFileSync(path, 'utf8');
      const at = text.indexOf('\r\n', Math.floor(text.length * 0.8)) + 2;
      writeFileSync(join(bad, 'subscribers.csv'), `${text.slice(0, at)}Z1,13800000000,"x"y,active,,,,,,,\r\n${text.slice(at)}`);
      const failure = async (workers: number) => {
        try {
          await ingest(rangePlan(defaultInputOptions(bad), workers, MIN));
        } catch (e) {
          const err = e as { code: string; message: string; context: unknown };
          return { code: err.code, message: err.message, context: err.context };
        }
        throw new Error('expected the ingest to fail');
      };
      const expected = await failure(1);
      expect(expected).toMatchObject({ code: 'CW_CSV_MALFORMED', context: { file: 'subscribers.csv' } });
      for (const workers of [2, 3]) expect(await failure(workers)).toEqual(expected);
    } finally {
      cleanup(bad);
    }
  });

  it('when the compiled CLI runs with 1, 2 and 4 worker threads then every output file is the same', async () => {
    const outs: string[] = [];
    for (const workers of ['1', '2', '4']) {
      outs.push(await runWorkers(dir, join(dir, `out-${workers}`), workers, workers === '1' ? '0' : '1', MIN));
    }
    const first = outs[0]!;
    expect(readFileSync(join(first, 'rejects.csv'), 'utf8')).toContain('CW_ROW_DUPLICATE_SUBSCRIBER');
    expectSameOutputs(outs, expect);
  }, 120_000);
});
