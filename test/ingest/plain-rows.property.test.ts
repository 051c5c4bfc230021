/**
 * The fast path for plain fact records (plain-rows.ts) against the general reader
 * alone, on generated billing and usage files that mix plain records with every
 * kind of odd one (quotes, spaces, other date and number forms, bad values, unknown
 * ids, wrong field counts, CR LF, empty lines, other delimiters), some files with every
 * field quoted, read in chunks that cut records anywhere: the same sums, row counts,
 * rejects, stats and errors. And the export dialects the fast path is for (quoted
 * fields, YYYYMMDD and YYYY/MM/DD dates, CR LF, empty optional fields) are taken by it
 * whole, not left to the general reader.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readBilling, readUsage, type FactReadOptions } from '../../src/ingest/facts.js';
import { IdTable } from '../../src/ingest/id-table.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { outcome, type Outcome } from './scan-helpers.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { fastDelimiter, Kind, PlainRows, type PeriodCounts } from '../../src/ingest/plain-rows.js';
import { parseDay } from '../../src/util/dates.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-plain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const IDS = ['S1', 'S2', 'S3', 'S10', '张三'];
const table = new IdTable(4);
for (const id of IDS) table.insert(Buffer.from(id), 0, Buffer.byteLength(id));
const subs = { n: IDS.length, idTable: table };
// Ids of one width and plain bytes: the fast path compares them in place (nearId); S10 and S4 are not in it.
const WIDTH_IDS = ['S1', 'S2', 'S3', 'S9'];
const widthTable = new IdTable(4);
for (const id of WIDTH_IDS) widthTable.insert(Buffer.from(id), 0, id.length);
const widthSubs = { n: WIDTH_IDS.length, idTable: widthTable };
// Ids of digits alone, of one width: the table hashes them by value (IdTable's digits); 0010 and 0004 are not in it.
const DIGIT_IDS = ['0001', '0002', '0003', '0009'];
const digitTable = new IdTable(4);
for (const id of DIGIT_IDS) digitTable.insert(Buffer.from(id), 0, id.length);
const digitSubs = { n: DIGIT_IDS.length, idTable: digitTable };
const D = parseDay('2026-11-23');

const id = fc.constantFrom('S1', 'S2', 'S3', 'S10', 'S1', 'S2', '张三', ' S2', 'S3 ', '\u3000S1', 'S4', '', '"S1"', '"S,2"');
const digitId = fc.constantFrom(
  ...['0001', '0002', '0003', '0009', '0001', '0002', '0003', '0010', '0004', '001', '00001', '000a', '0-01', '٠٠٠١'],
  ...[' 0002', '0003 ', '\u30000001', '', '"0001"', '"00,2"', '9999999999', '4294967297'],
);
const day = fc.constantFrom(
  '2026-11-22',
  '2026-11-21',
  '2026-11-20',
  '2026-11-22',
  '20261121',
  '2026/11/20',
  '2026/11/22',
  '20261122',
  '20261121',
  '20260230',
  '2026/02/30',
  '2026/11-22',
  '2026-11/22',
  '2026112',
  '202611221',
  '2026/1/22',
  '2026-02-30',
  ' 2026-11-22',
  '2026-11-22 08:00',
  '1899-12-31',
  '9999-12-31',
  '3000-02-29',
  'x',
  '',
  '"2026-11-21"',
  '2026-11-10',
  '20261101',
);
const month = fc.constantFrom(
  '2026-10',
  '2026-09',
  '2026-08',
  '2026-10',
  '202610',
  '202609',
  '202613',
  '2026/09',
  '2026/13',
  '20260',
  '2026100',
  '2026-13',
  ' 2026-10',
  '2026-11',
  '2027-01',
  '1899-12',
  '9999-12',
  '"2026-10"',
  '',
);
const num = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '3', '12.5', '12.50', '7.07', '-1', '-0', '-0.00', '-12.50', '0.01', '100') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' 1',
      '1 ',
      '12.505',
      '12.500',
      '1e3',
      '.5',
      '5.',
      '-',
      '.',
      '1,5',
      '+1',
      '"7"',
      '999999999999999',
      '9999999999999999',
      '99999999999999.99',
      'x',
      '٣',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: -99999, max: 99999 }).map((n) => (n / 100).toFixed(2)) },
);

interface Layout {
  header: string[];
  gen: Record<string, fc.Arbitrary<string>>;
}

function layoutArb(kind: 'usage' | 'billing', ids: fc.Arbitrary<string>): fc.Arbitrary<Layout> {
  const cols: [string, fc.Arbitrary<string>, boolean][] =
    kind === 'usage'
      ? [
          ['subscriber_id', ids, true],
          ['usage_date', day, true],
          ['calls', num, true],
          ['sms', num, false],
          ['data_mb', num, false],
          ['forwarded_calls', num, false],
          ['note', fc.constantFrom('a', '', 'b c', '"x\ny"'), false],
        ]
      : [
          ['subscriber_id', ids, true],
          ['bill_month', month, true],
          ['amount', num, true],
          ['mou', num, false],
          ['hotline_calls', fc.constantFrom('0', '3', '12', '1.0', '', 'x', '-2', '-0'), false],
          ['note', fc.constantFrom('a', '', '"q"'), false],
        ];
  return fc.tuple(fc.shuffledSubarray(cols.filter((c) => !c[2])), fc.integer({ min: 0, max: 100 })).map(([optional, seed]) => {
    const chosen = [...cols.filter((c) => c[2]), ...optional];
    // A fixed pseudo-random order.
    const order = chosen
      .map((c, i) => ({ c, k: (i * 7919 + seed * 104729) % 1009 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.c);
    return { header: order.map((c) => c[0]), gen: Object.fromEntries(order.map((c) => [c[0], c[1]])) };
  });
}

function fileArb(kind: 'usage' | 'billing', ids: fc.Arbitrary<string> = id): fc.Arbitrary<{ text: string; delimiter: string }> {
  return fc
    .tuple(layoutArb(kind, ids), fc.constantFrom(',', ',', '|', '\t', ';', '.'), fc.constantFrom('\n', '\n', '\r\n'), fc.boolean())
    .chain(([layout, delimiter, eol, quoteAll]) => {
      const row = fc
        .tuple(fc.record(layout.gen) as fc.Arbitrary<Record<string, string>>, fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 2, 3))
        .map(([r, odd]) => {
          const cells = layout.header.map((h) => (quoteAll ? `"${r[h]!.replaceAll('"', '""')}"` : r[h]!));
          if (odd === 1) cells.push('extra');
          if (odd === 2) cells.pop();
          return cells.join(delimiter) + (odd === 3 ? eol : '');
        });
      return fc
        .array(row, { minLength: 1, maxLength: 40 })
        .map((rows) => ({ text: [layout.header.join(delimiter), ...rows].join(eol) + eol, delimiter }));
    });
}

const plain = (v: unknown): unknown => {
  if (ArrayBuffer.isView(v)) return Array.from(v as Float64Array);
  if (v instanceof Map) return [...v.entries()].map(([k, e]) => [k, plain(e)]);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== 'ms')
        .map(([k, e]) => [k, plain(e)]),
    );
  return v;
};

let n = 0;
async function both(
  kind: 'usage' | 'billing',
  text: string,
  delimiter: string,
  chunkSize: number,
  keys: typeof subs = subs,
  idBatch?: boolean,
): Promise<[Outcome, Outcome]> {
  const path = join(dir, `${kind}-${n++}.csv`);
  writeFileSync(path, text);
  const input = { ...defaultInputOptions(dir), delimiter, idBatch };
  const run = (opts: FactReadOptions) =>
    outcome(async () => {
      const rejects = new RejectLog();
      const r =
        kind === 'usage'
          ? await readUsage(
              path,
              'f.csv',
              input,
              keys,
              rejects,
              D,
              new Map([
                [1, new Set(['activity', 'calls', 'sms', 'data_mb', 'forwarded_calls'] as const)],
                [3, new Set(['forwarded_calls'] as const)],
              ]),
              opts,
            )
          : await readBilling(path, 'f.csv', input, keys, rejects, 2026 * 12 + 10, { amount: 3, mou: 2, hotline_calls: 1 }, opts);
      return plain({ ...r, rejects: rejects.rows });
    });
  return [await run({ plain: true, chunkSize }), await run({ plain: false, chunkSize: 1 << 20 })];
}

describe('the fast path for plain records', () => {
  for (const kind of ['usage', 'billing'] as const) {
    it(`when ${kind} files mix plain and odd records then the fast path gives what the general reader gives`, async () => {
      await fc.assert(
        fc.asyncProperty(fileArb(kind), fc.constantFrom(1, 2, 7, 61, 97, 256, 1 << 20, 1 << 20), async ({ text, delimiter }, chunkSize) => {
          const [fast, general] = await both(kind, text, delimiter, chunkSize);
          expect(fast).toEqual(general);
        }),
        { numRuns: 120 },
      );
    }, 60_000);

    it(`when ${kind} files mix plain and odd records and the ids have one width then the fast path gives what the general reader gives`, async () => {
      await fc.assert(
        fc.asyncProperty(fileArb(kind), fc.constantFrom(1, 7, 97, 1 << 20), async ({ text, delimiter }, chunkSize) => {
          const [fast, general] = await both(kind, text, delimiter, chunkSize, widthSubs);
          expect(fast).toEqual(general);
        }),
        { numRuns: 75 },
      );
    }, 60_000);

    it(`when ${kind} files mix plain and odd records and the fast path looks ids up a batch at a time then it gives what the general reader gives`, async () => {
      await fc.assert(
        fc.asyncProperty(fileArb(kind), fc.constantFrom(1, 7, 97, 1 << 20), async ({ text, delimiter }, chunkSize) => {
          const [fast, general] = await both(kind, text, delimiter, chunkSize, subs, true);
          expect(fast).toEqual(general);
        }),
        { numRuns: 75 },
      );
    }, 60_000);

    it(`when ${kind} files longer than the fast path's first, shorter scan mix plain and odd records then the fast path gives what the general reader gives`, async () => {
      await fc.assert(
        fc.asyncProperty(fileArb(kind), fc.constantFrom(5000, 1 << 20), async ({ text, delimiter }, chunkSize) => {
          // The records repeated past the first scan's 4 KB (read-extract.ts), so that it stops inside one of them.
          const at = text.indexOf('\n') + 1;
          let long = text;
          while (long.length < 10_000) long += text.slice(at);
          const [fast, general] = await both(kind, long, delimiter, chunkSize, widthSubs);
          expect(fast).toEqual(general);
        }),
        { numRuns: 50 },
      );
    }, 60_000);

    it(`when ${kind} files of digit ids mix plain and odd records and the fast path looks ids up a batch at a time then it gives what the general reader gives`, async () => {
      expect(digitTable.hashIndex().digits).toBe(true);
      await fc.assert(
        fc.asyncProperty(fileArb(kind, digitId), fc.constantFrom(1, 7, 97, 1 << 20), async ({ text, delimiter }, chunkSize) => {
          const [fast, general] = await both(kind, text, delimiter, chunkSize, digitSubs, true);
          expect(fast).toEqual(general);
        }),
        { numRuns: 75 },
      );
    }, 60_000);
  }

  it('when a file is all plain then the fast path takes every record after the first chunk', async () => {
    const rows = Array.from(
      { length: 3000 },
      (_, i) => `${IDS[i % 4]},2026-11-${String(20 + (i % 3)).padStart(2, '0')},${i % 10},1,${(i % 7) / 4},0`,
    );
    const text = ['subscriber_id,usage_date,calls,sms,data_mb,forwarded_calls', ...rows].join('\n') + '\n';
    const [fast, general] = await both('usage', text, ',', 4096);
    expect(fast).toEqual(general);
    expect((general as { ok: true; value: { stats: { accepted: number } } }).value.stats.accepted).toBe(3000);
  });

  describe('rows in no order', () => {
    // Tables larger than a batch, rows of their ids in a seeded random order; ids of one
    // width are found without their offsets, ids of several widths with them.
    const tableOf = (ids: string[]) => {
      const table = new IdTable(1024);
      for (const m of ids) table.insert(Buffer.from(m), 0, m.length);
      return { table, ids };
    };
    const oneWidth = tableOf(Array.from({ length: 3000 }, (_, i) => `M${String((i * 7919) % 10007).padStart(5, '0')}`));
    const widths = tableOf(Array.from({ length: 3000 }, (_, i) => `M${(i * 7919) % 10007}`));
    // Digits alone, hashed by value: found without their bytes.
    const digits = tableOf(Array.from({ length: 3000 }, (_, i) => String(((i * 7919) % 10007) + 20000).padStart(6, '0')));
    type Table = typeof oneWidth;
    const order = (t: Table, n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => t.ids[(i * 2654435761 + seed) % t.ids.length]!);
    const columns = [
      { kind: Kind.Id, slot: 0, scale: 0 },
      { kind: Kind.Day, slot: 0, scale: 0 },
      { kind: Kind.Number, slot: 1, scale: 2 },
    ];
    const scanAll = (t: Table, text: string, batchedLookups: boolean | undefined, chunk: number, period: PeriodCounts | null = null) => {
      const folded: number[] = [];
      const rows = new PlainRows(columns, 2, 0x2c, t.table, (v, idx) => folded.push(idx, v[0]!, v[1]!), batchedLookups, period);
      const b = Buffer.from(text);
      const stops: number[] = [];
      const modes: boolean[] = [];
      // Chunks of `chunk` bytes; a record the fast path leaves is skipped as the general reader would take it.
      for (let p = 0; p < b.length; ) {
        modes.push(rows.batch.on);
        const end = Math.min(b.length, p + chunk);
        const q = rows.scan(b, p, end);
        if (q < end && q === p) {
          stops.push(q);
          p = b.indexOf(10, q) + 1;
        } else p = q;
      }
      return { folded, stops, records: rows.records, lines: rows.lines, modes };
    };

    it('when ids are looked up a batch at a time then the records, values and stops are those of one at a time', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(oneWidth, widths, digits),
          fc.integer({ min: 0, max: 1000 }),
          fc.integer({ min: 300, max: 1400 }),
          fc.constantFrom(64, 4096, 1 << 20),
          (t, seed, n, chunk) => {
            const lines = order(t, n, seed).map((m, i) => {
              if (i % 337 === 5) return `X${i},2026-11-20,1`; // not in the table
              if (i % 211 === 3) return `Z${String(i).padStart(5, '0')},2026-11-20,1`; // not in the table, of the ids' width
              if (i % 173 === 4) return `${String(90000 + i).padStart(6, '0')},2026-11-20,1`; // digits of the ids' width, not in the table
              if (i % 401 === 7) return `${m},2026-11-2x,1`; // not a date
              if (i % 293 === 9) return '';
              return `${m},2026-11-${10 + (i % 13)},${i % 50}.${i % 10}0`;
            });
            const text = `${lines.join('\n')}\n`;
            expect(t.table.hashIndex().digits).toBe(t === digits);
            const one = scanAll(t, text, false, chunk);
            // (Batched, the table's own lookup settles only two keys of one hash: none here.)
            const hashed = t.table.hashed;
            expect(scanAll(t, text, true, chunk)).toEqual({ ...one, modes: one.modes.map(() => true) });
            expect(one.stops.length).toBeGreaterThan(0);
            expect(t.table.hashed).toBe(hashed);
          },
        ),
        { numRuns: 60 },
      );
    });

    it('when rows in no order are counted per period then records of the periods not read are only checked to be known, and all else is as one at a time', () => {
      // The digit table has a presence bitmap: the records that are only counted are looked up in it, not in the slots.
      expect(digits.table.presence()).not.toBeNull();
      const base = D - 20;
      const scanCounted = (text: string, batchedLookups: boolean, chunk: number) => {
        const counts = new Float64Array(20),
          marks = new Float64Array(20);
        const other: number[] = [];
        const period = { slot: 0, base, counts, marks, markSlots: [1], other: (k: number) => other.push(k), from: D - 3, to: D - 1 };
        const { modes: _, ...got } = scanAll(digits, text, batchedLookups, chunk, period);
        return { ...got, counts: [...counts], marks: [...marks], other };
      };
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 1000 }),
          fc.integer({ min: 300, max: 1400 }),
          fc.constantFrom(64, 4096, 1 << 20),
          (seed, n, chunk) => {
            const lines = order(digits, n, seed).map((m, i) => {
              const day = `2026-11-${String(1 + ((i * 7 + seed) % 24)).padStart(2, '0')}`;
              if (i % 173 === 4) return `${String(90000 + i).padStart(6, '0')},${day},1`; // digits of the width, past the keys' span
              if (i % 131 === 6) return `${String(20001 + 2 * (i % 3000)).padStart(6, '0')},${day},1`; // in the span, maybe not a key
              if (i % 157 === 8) return `000000,${day},1`; // below the span
              if (i % 337 === 5) return `X${i},${day},1`;
              return `${m},${day},${i % 50}`;
            });
            const text = `${lines.join('\n')}\n`;
            expect(scanCounted(text, true, chunk)).toEqual(scanCounted(text, false, chunk));
          },
        ),
        { numRuns: 40 },
      );
    });

    it('when the rows come in no order then the lookups turn to batches, and back to one at a time when they come in order', () => {
      const shuffled = order(oneWidth, 2000, 17).map((m, i) => `${m},2026-11-20,${i % 9}`);
      const sorted = oneWidth.ids.slice(0, 2000).map((m, i) => `${m},2026-11-20,${i % 9}`);
      const text = `${[...shuffled, ...sorted].join('\n')}\n`;
      const auto = scanAll(oneWidth, text, undefined, 8192);
      expect(auto.modes.slice(0, 2)).toEqual([false, true]);
      expect(auto.modes.at(-1)).toBe(false);
      const { modes: _, ...values } = auto;
      const { modes: __, ...oneAtATime } = scanAll(oneWidth, text, false, 8192);
      expect(values).toEqual(oneAtATime);
    });
  });

  // Each dialect of the same three records; usage columns id, day, calls, sms (optional), note (not read).
  const dialects: Record<string, string> = {
    plain: 'S1,2026-11-22,3,1,a\nS2,2026-11-21,0,2,b\nS10,2026-11-20,12,,c\n',
    'every field quoted': '"S1","2026-11-22","3","1","a"\n"S2","2026-11-21","0","2","b"\n"S10","2026-11-20","12","","c"\n',
    'some fields quoted': 'S1,2026-11-22,3,1,"a, with the delimiter"\n"S2",2026-11-21,"0",2,b\nS10,"2026-11-20",12,"",""\n',
    'YYYYMMDD dates': 'S1,20261122,3,1,a\nS2,20261121,0,2,b\nS10,20261120,12,,c\n',
    'YYYY/MM/DD dates': 'S1,2026/11/22,3,1,a\nS2,2026/11/21,0,2,b\nS10,2026/11/20,12,,c\n',
    'mixed dates': 'S1,20261122,3,1,a\nS2,2026/11/21,0,2,b\nS10,2026-11-20,12,,c\n',
    'CR LF': 'S1,2026-11-22,3,1,a\r\nS2,2026-11-21,0,2,b\r\nS10,2026-11-20,12,,c\r\n',
    'empty optional fields': 'S1,2026-11-22,3,,\nS2,2026-11-21,0,,\nS10,2026-11-20,12,,\n',
  };
  for (const [name, text] of Object.entries(dialects)) {
    it(`when records are in the dialect "${name}" then the fast path takes them all, with the general reader's values`, () => {
      const folded: number[][] = [];
      const rows = new PlainRows(
        [
          { kind: Kind.Id, slot: 0, scale: 0 },
          { kind: Kind.Day, slot: 0, scale: 0 },
          { kind: Kind.Number, slot: 1, scale: 2 },
          { kind: Kind.OptionalNumber, slot: 2, scale: 2 },
          { kind: Kind.Skip, slot: 0, scale: 0 },
        ],
        3,
        0x2c,
        table,
        (values, idx) => folded.push([idx, ...values]),
      );
      const b = Buffer.from(text);
      expect(rows.scan(b, 0, b.length)).toBe(b.length);
      expect([rows.records, rows.lines]).toEqual([3, 3]);
      const sms = name === 'empty optional fields' ? [0, 0, 0] : [100, 200, 0];
      expect(folded).toEqual([
        [table.find(Buffer.from('S1'), 0, 2), parseDay('2026-11-22'), 300, sms[0]],
        [table.find(Buffer.from('S2'), 0, 2), parseDay('2026-11-21'), 0, sms[1]],
        [table.find(Buffer.from('S10'), 0, 3), parseDay('2026-11-20'), 1200, sms[2]],
      ]);
    });
  }

  /** A fast path over (id, day or month) records, each period pushed to `out`. */
  const periodRows = (kind: typeof Kind.Day | typeof Kind.Month, delim: number, out: number[]) =>
    new PlainRows(
      [
        { kind: Kind.Id, slot: 0, scale: 0 },
        { kind, slot: 0, scale: 0 },
      ],
      1,
      delim,
      table,
      (values) => out.push(values[0]!),
    );

  it('when a day repeats the bytes of the last separated day, with a compact or bad day between, then each row gets its own day', () => {
    const days: number[] = [];
    const rows = periodRows(Kind.Day, 0x2c, days);
    const b = Buffer.from('S1,2026-11-22\nS2,20261120\nS3,2026-11-22\nS1,2026/11/21\nS2,2026/11/21\n');
    expect(rows.scan(b, 0, b.length)).toBe(b.length);
    expect(days).toEqual(['2026-11-22', '2026-11-20', '2026-11-22', '2026-11-21', '2026-11-21'].map(parseDay));
    const bad = Buffer.from('S1,2026-02-30\nS1,2026-11-22\n');
    expect(rows.scan(bad, 0, bad.length)).toBe(0);
    const next = Buffer.from('S1,2026-11-22\n');
    expect(rows.scan(next, 0, next.length)).toBe(next.length);
    expect(days.at(-1)).toBe(parseDay('2026-11-22'));
  });

  it('when a month is YYYYMM or YYYY/MM, quoted or not, then the fast path takes it', () => {
    const folded: number[] = [];
    const rows = periodRows(Kind.Month, 0x7c, folded);
    const b = Buffer.from('S1|202610\r\n"S2"|"2026/09"\nS3|2026-08\n');
    expect(rows.scan(b, 0, b.length)).toBe(b.length);
    expect(folded).toEqual([2026 * 12 + 9, 2026 * 12 + 8, 2026 * 12 + 7]);
  });

  it('when a quoted field holds a doubled quote or a line break, or text follows its closing quote, then the fast path stops there', () => {
    const columns = [
      { kind: Kind.Id, slot: 0, scale: 0 },
      { kind: Kind.Skip, slot: 0, scale: 0 },
    ];
    for (const odd of ['S2,"a""b"\n', 'S2,"a\nb"\n', 'S2,"a"b\n', '"S2"x,a\n', 'S2,"a\n']) {
      const rows = new PlainRows(columns, 1, 0x2c, table, () => {});
      const b = Buffer.from(`S1,"ok"\n${odd}S3,c\n`);
      expect(rows.scan(b, 0, b.length)).toBe(8);
      expect(rows.records).toBe(1);
    }
  });

  for (const batchedLookups of [false, true]) {
    it(`when rows are counted per period by the fast path${batchedLookups ? ' (ids a batch at a time)' : ''} then every row is counted, the active ones marked, and only the periods read are folded`, () => {
      const base = D - 8;
      const counts = new Float64Array(8),
        marks = new Float64Array(8);
      const other: [number, boolean][] = [];
      const folded: number[][] = [];
      const rows = new PlainRows(
        [
          { kind: Kind.Id, slot: 0, scale: 0 },
          { kind: Kind.Day, slot: 0, scale: 0 },
          { kind: Kind.Number, slot: 1, scale: 0 },
          { kind: Kind.OptionalNumber, slot: 2, scale: 1 },
        ],
        3,
        0x2c,
        table,
        (v, idx) => folded.push([idx, v[0]!, v[1]!, v[2]!]),
        batchedLookups,
        { slot: 0, base, counts, marks, markSlots: [1, 2], other: (k, m) => other.push([k, m]), from: D - 3, to: D - 1 },
      );
      const b = Buffer.from(
        'S1,2026-11-22,1,\nS2,2026-11-22,0,0.5\nS3,2026-11-22,0,\nS1,2026-11-16,2,\nS2,2026-11-10,0,0\nS3,2026-12-01,3,\n',
      );
      expect(rows.scan(b, 0, b.length)).toBe(b.length);
      const at = (day: string) => parseDay(day) - base;
      expect([counts[at('2026-11-22')], marks[at('2026-11-22')], counts[at('2026-11-16')], marks[at('2026-11-16')]]).toEqual([3, 2, 1, 1]);
      expect(other).toEqual([
        [parseDay('2026-11-10'), false],
        [parseDay('2026-12-01'), true],
      ]);
      const [s1, s2, s3] = ['S1', 'S2', 'S3'].map((i) => table.find(Buffer.from(i), 0, 2));
      expect(folded).toEqual([
        [s1, D - 1, 1, 0],
        [s2, D - 1, 0, 5],
        [s3, D - 1, 0, 0],
      ]);
    });
  }

  it('when ids have one width and come in order then the fast path finds them without looking them up in the table', () => {
    const find = vi.spyOn(widthTable, 'find');
    const hashed = vi.spyOn(widthTable, 'findHashed');
    try {
      const folded: number[] = [];
      const columns = [
        { kind: Kind.Id, slot: 0, scale: 0 },
        { kind: Kind.Number, slot: 0, scale: 0 },
      ];
      const rows = new PlainRows(columns, 1, 0x2c, widthTable, (_, idx) => folded.push(idx), false);
      const b = Buffer.from('S1,1\nS1,2\n"S2",3\nS9,4\nS9,5\n');
      expect(rows.scan(b, 0, b.length)).toBe(b.length);
      expect(folded).toEqual([0, 0, 1, 3, 3]);
      expect(find).not.toHaveBeenCalled();
      expect(hashed).not.toHaveBeenCalled();
      // Out of the window's reach (a key before the last one found) the table's index is asked.
      const back = Buffer.from('S1,6\n');
      expect(rows.scan(back, 0, back.length)).toBe(back.length);
      expect(folded.at(-1)).toBe(0);
      expect(hashed).toHaveBeenCalledTimes(1);
      expect(find).not.toHaveBeenCalled();
    } finally {
      find.mockRestore();
      hashed.mockRestore();
    }
  });

  describe('ids of one width compared in place', () => {
    // Keys of `width` bytes from a seeded generator, distinct, in table order.
    const keysOf = (width: number, seed: number, count: number) => {
      const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_';
      const keys = new Set<string>();
      let x = seed >>> 0;
      while (keys.size < Math.min(count, alphabet.length ** width)) {
        let k = '';
        for (let j = 0; j < width; j++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          k += alphabet[(x >>> 16) % alphabet.length];
        }
        keys.add(k);
      }
      return [...keys];
    };
    const columns = [
      { kind: Kind.Id, slot: 0, scale: 0 },
      { kind: Kind.Number, slot: 0, scale: 0 },
    ];

    it('when ids of any width from 1 to 12 bytes come in order then each is the key the table holds, and one byte changed anywhere is no key', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 }), (width, seed) => {
          const keys = keysOf(width, seed, 40);
          const table = new IdTable(64);
          for (const k of keys) table.insert(Buffer.from(k), 0, width);
          const known = new Set(keys);
          // Every key in order, some twice, some skipped past the window; every 5th row a
          // key with one byte changed (at each position in turn) that is no key.
          const rows: string[] = [];
          const want: number[] = [];
          keys.forEach((k, i) => {
            if (i % 11 === 4) return;
            const reps = i % 3 === 0 ? 2 : 1;
            for (let r = 0; r < reps; r++) {
              rows.push(`${k},${i}`);
              want.push(i);
            }
            if (i % 5 === 2) {
              const at = i % width;
              for (const c of 'xyz!') {
                const odd = k.slice(0, at) + c + k.slice(at + 1);
                if (!known.has(odd)) {
                  rows.push(`${odd},0`);
                  break;
                }
              }
            }
          });
          const b = Buffer.from(`${rows.join('\n')}\n`);
          const folded: number[] = [];
          const fast = new PlainRows(columns, 1, 0x2c, table, (_, idx) => folded.push(idx), false);
          let stops = 0;
          for (let p = 0; p < b.length; ) {
            const q = fast.scan(b, p, b.length);
            if (q < b.length) {
              stops++;
              p = b.indexOf(10, q) + 1;
            } else p = q;
          }
          expect(folded).toEqual(want);
          expect(stops).toBe(rows.length - want.length);
        }),
        { numRuns: 200 },
      );
    });

    it('when one call takes more rows than the first few then each row gets its own subscriber and day and is counted once, the rows where the fast path warms its rarer ways included', () => {
      // Rows of one day in runs, ids in order with some skipped (some past the window), some days compact: the 33rd row
      // of a call is found by the table's lookup, its day parsed anew and its run counted in two parts (plain-rows.ts
      // WARM_RECORD); everything must come out as from the usual ways.
      const base = D - 8;
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 ** 31 }),
          fc.integer({ min: 33, max: 90 }),
          fc.integer({ min: 1, max: 40 }),
          (seed, n, run) => {
            const keys = keysOf(7, seed, 200);
            const table = new IdTable(256);
            for (const k of keys) table.insert(Buffer.from(k), 0, 7);
            const lines: string[] = [];
            const counts = new Float64Array(8),
              marks = new Float64Array(8);
            const wantCounts = new Float64Array(8),
              wantMarks = new Float64Array(8);
            const want: number[][] = [];
            let k = 0;
            for (let r = 0; r < n; r++) {
              const d = Math.min(7, Math.floor(r / run));
              const day = base + d;
              const [y, m, dd] = new Date(day * 86400000).toISOString().slice(0, 10).split('-');
              const text = d % 3 === 2 ? `${y}${m}${dd}` : `${y}-${m}-${dd}`;
              k = (k + 1 + ((seed >>> (r % 31)) % 3 === 0 ? r % 13 : 0)) % keys.length;
              const v = (seed >>> (r % 29)) & 1;
              lines.push(`${keys[k]},${text},${v}`);
              wantCounts[d]!++;
              if (v > 0) wantMarks[d]!++;
              if (day >= D - 5 && day <= D - 2) want.push([k, day, v]);
            }
            const folded: number[][] = [];
            const rows = new PlainRows(
              [
                { kind: Kind.Id, slot: 0, scale: 0 },
                { kind: Kind.Day, slot: 0, scale: 0 },
                { kind: Kind.Number, slot: 1, scale: 0 },
              ],
              2,
              0x2c,
              table,
              (vals, idx) => folded.push([idx, vals[0]!, vals[1]!]),
              false,
              { slot: 0, base, counts, marks, markSlots: [1], other: () => expect.unreachable(), from: D - 5, to: D - 2 },
            );
            const b = Buffer.from(`${lines.join('\n')}\n`);
            expect(rows.scan(b, 0, b.length)).toBe(b.length);
            expect(rows.records).toBe(n);
            expect(folded).toEqual(want);
            expect([...counts]).toEqual([...wantCounts]);
            expect([...marks]).toEqual([...wantMarks]);
          },
        ),
        { numRuns: 200 },
      );
    });

    it("when the fast path has found ids in place then the table's next lookup starts after the last of them", () => {
      const keys = keysOf(10, 7, 64);
      const table = new IdTable(64);
      for (const k of keys) table.insert(Buffer.from(k), 0, 10);
      const rows = new PlainRows(columns, 1, 0x2c, table, () => undefined, false);
      const b = Buffer.from(
        `${keys
          .slice(20, 30)
          .map((k) => `${k},1`)
          .join('\n')}\n`,
      );
      expect(rows.scan(b, 0, b.length)).toBe(b.length);
      const hashed = table.hashed;
      // The next key, as the general reader would look up a record the fast path left: in the window, not hashed.
      expect(table.find(Buffer.from(keys[30]!), 0, 10)).toBe(30);
      expect(table.hashed).toBe(hashed);
    });
  });

  it('knows which delimiters can occur in a value', () => {
    expect([',', '|', '\t', ';', ' '].map((d) => fastDelimiter(d.charCodeAt(0)))).toEqual([true, true, true, true, true]);
    expect(['.', '-', '+', '0', '9', '"'].map((d) => fastDelimiter(d.charCodeAt(0)))).toEqual([false, false, false, false, false, false]);
  });
});
