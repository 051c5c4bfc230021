/**
 * The fast path for plain subscriber records (subscriber-rows.ts) against the general
 * reader alone, on generated subscribers files that mix plain records with every kind
 * of odd one (quotes with delimiters and line feeds inside, spaces and U+3000 around
 * fields, upper-case enums, empty optional fields, '+' phones, bad phones, enums,
 * numbers and dates, wrong field counts, CR LF, empty lines, Chinese text, other
 * delimiters), some files with every field quoted, read in chunks that cut records
 * anywhere, in each pass mode: the same ids, lines, attributes, rejects, stats and
 * errors. And the export dialects the fast path is for (quoted fields, YYYYMMDD and
 * YYYY/MM/DD dates, CR LF) are taken by it, not left to the general reader.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { outcome, type Outcome } from './scan-helpers.js';
import { scanSubscribers, type ScanSubscribersOptions, type SubscriberScan } from '../../src/ingest/subscribers.js';
import { SubscriberRows } from '../../src/ingest/subscriber-rows.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-subrows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Mostly plain values, then odd ones. */
const mix = (plain: string[], odd: string[]): fc.Arbitrary<string> =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...plain) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });

const COLUMNS: [string, fc.Arbitrary<string>, boolean][] = [
  [
    'subscriber_id',
    mix(
      ['A1', 'A2', 'B7', 'S100', '0001000003', '张三', 'ü1'],
      ['A1', ' A2', 'A3 ', '\u3000A1', 'A1\u3000', '', ' ', '"A,1"', '"Q"', 'x\u00a0', '\u00a0', 'a\tb', '〇1'],
    ),
    true,
  ],
  [
    'msisdn',
    mix(
      ['13800000000', '+8613900000000', '12345', '12345678901234567890'],
      [
        '123456789012345678901',
        '1234',
        ' 13800000000',
        '13800000000 ',
        '',
        'tel:1',
        '"13800000000"',
        '+',
        '+1234',
        '１２３４５',
        '138-0000',
      ],
    ),
    true,
  ],
  [
    'status',
    mix(
      ['active', 'closed', 'suspended_hold', 'suspended_arrears'],
      ['ACTIVE', ' active', 'Closed', 'gone', '', '"active"', 'activ', 'actives'],
    ),
    true,
  ],
  ['member_level', mix(['', 'gold', 'none', 'diamond', 'silver'], ['GOLD', 'platinum', ' ', ' gold', '"gold"', 'Gold ']), false],
  [
    'prepaid_balance',
    mix(
      ['', '12.50', '-3', '0', '7.07', '100', '5.', '.5', '-0'],
      ['1.234', '1.230', 'x', '-', '.', '1,5', '+1', ' 1', '1 ', '999999999999999', '9999999999999999', '99999999999999.99', '"7"', '1e3'],
    ),
    false,
  ],
  [
    'activation_date',
    mix(
      ['', '2024-01-31', '2019-09-07', '2024-02-29', '20240131', '2024/01/31'],
      [
        '2024-02-30',
        '20240230',
        '2024/02/30',
        '2024/01-31',
        '2024013',
        '9999-12-31',
        ' 2024-01-31',
        '1899-12-31',
        '2024-01-31 08:00',
        'soon',
        '"2024-01-31"',
        '2024-1-31',
      ],
    ),
    false,
  ],
  [
    'status_since',
    mix(
      ['', '2026-08-20', '2014-05-10', '20260820', '2026/08/20'],
      ['2023-02-29', '2026/8/20', '202608201', '2026-08-20T10:00', '2026-08-20 ', 'x'],
    ),
    false,
  ],
  [
    'name',
    mix(['N', '丁东丹', '', 'Li Wei'], [' N', 'N ', '"x\ny"', '"a,b"', '\u3000名', '名\u3000', '〇', 'a\rb', '"say ""hi"""', '\t']),
    false,
  ],
  ['region', mix(['广州市越秀区', '', 'north'], [' r', '"r\r\nx"', 'r\u00a0']), false],
  ['manager_id', mix(['CM00486', ''], ['CM 1', ' CM1']), false],
  ['plan_id', mix(['5G-128', '4G-008', ''], ['"5G,1"', '5G ']), false],
  // 'x"y' is malformed CSV: both readers must fail the same way.
  ['note', mix(['a', '', 'b c'], ['"x\ny"', ' ', 'x"y']), false],
];

interface Layout {
  header: string[];
  gen: fc.Arbitrary<string>[];
}

const layoutArb: fc.Arbitrary<Layout> = fc
  .tuple(fc.shuffledSubarray(COLUMNS.filter((c) => !c[2])), fc.integer({ min: 0, max: 100 }))
  .map(([optional, seed]) => {
    const chosen = [...COLUMNS.filter((c) => c[2]), ...optional];
    const order = chosen
      .map((c, i) => ({ c, k: (i * 7919 + seed * 104729) % 1009 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.c);
    return { header: order.map((c) => c[0]), gen: order.map((c) => c[1]) };
  });

interface File {
  text: string;
  delimiter: string;
  thousands: boolean;
}

const fileArb: fc.Arbitrary<File> = fc
  .tuple(
    layoutArb,
    fc.constantFrom(',', ',', ',', '|', '\t', ';', '.'),
    fc.constantFrom('\n', '\n', '\r\n'),
    fc.boolean(),
    fc.constantFrom('', '', '', '\ufeff', '\n', '\r\n'),
    fc.boolean(),
    fc.boolean(),
  )
  .chain(([layout, delimiter, eol, thousands, lead, lastEol, quoteAll]) => {
    const row = fc.tuple(fc.tuple(...layout.gen), fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5)).map(([cells, odd]) => {
      const c = quoteAll ? cells.map((x) => `"${x.replaceAll('"', '""')}"`) : [...cells];
      if (odd === 1) c.push('extra');
      if (odd === 2) c.pop();
      if (odd === 4) return '';
      if (odd === 5) return c.join(delimiter) + (eol === '\n' ? '\r\n' : '\n');
      return c.join(delimiter) + (odd === 3 ? eol : '');
    });
    return fc.array(row, { minLength: 1, maxLength: 40 }).map((rows) => ({
      text: lead + [layout.header.join(delimiter), ...rows].join(eol) + (lastEol ? eol : ''),
      delimiter,
      thousands: thousands && delimiter !== ',',
    }));
  });

/** Everything a scan gives, as plain data (ms left out). */
function plain(r: SubscriberScan): unknown {
  const v = r.values;
  return {
    valid: r.valid,
    keys: r.keys === null ? null : Array.from({ length: r.keys.n }, (_, i) => r.keys!.keyString(i)),
    lines: r.lines === null ? null : Array.from(r.lines),
    values:
      v === null
        ? null
        : {
            msisdn: v.msisdn.toArray(),
            name: v.name.toArray(),
            region: v.region.toArray(),
            managerId: v.managerId.toArray(),
            status: Array.from(v.status),
            memberLevel: Array.from(v.memberLevel),
            prepaidBalance: Array.from(v.prepaidBalance),
            activationDate: Array.from(v.activationDate),
            statusSince: Array.from(v.statusSince),
          },
    rejects: r.rejects,
    rejectedIds: [...r.rejectedIds.entries()].map(([k, b]) => [k, Array.from(b)]),
    stats: { ...r.stats, ms: 0 },
  };
}

let n = 0;
async function both(file: File, mode: { keys: boolean; values: boolean }, chunkSize: number): Promise<[Outcome, Outcome]> {
  const path = join(dir, `subscribers-${n++}.csv`);
  writeFileSync(path, file.text);
  const input = { ...defaultInputOptions(dir), delimiter: file.delimiter, thousands: file.thousands };
  const run = (opts: Partial<ScanSubscribersOptions>) =>
    outcome(async () => plain(await scanSubscribers(path, 'subscribers.csv', input, { ...mode, ...opts })));
  return [await run({ plain: true, chunkSize }), await run({ plain: false, chunkSize: 1 << 20 })];
}

const MODES = [
  { keys: true, values: false },
  { keys: false, values: true },
  { keys: true, values: true },
];

describe('the fast path for plain subscriber records', () => {
  it('when subscriber files mix plain and odd records then the fast path gives what the general reader gives', async () => {
    await fc.assert(
      fc.asyncProperty(
        fileArb,
        fc.constantFrom(...MODES),
        fc.constantFrom(1, 2, 7, 61, 97, 256, 1 << 20, 1 << 20, 1 << 20),
        async (file, mode, chunkSize) => {
          const [fast, general] = await both(file, mode, chunkSize);
          expect(fast).toEqual(general);
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);

  const DIALECTS: [string, (cells: string[], i: number) => string][] = [
    ['plain', (c) => c.join(',') + '\n'],
    ['every field quoted', (c) => c.map((x) => `"${x}"`).join(',') + '\n'],
    ['names quoted, with the delimiter', (c) => c.map((x, k) => (k === 2 ? `"${x}, ${x}"` : x)).join(',') + '\n'],
    ['YYYYMMDD dates', (c) => c.map((x, k) => (k === 6 ? x.replaceAll('-', '') : x)).join(',') + '\n'],
    ['mixed dates', (c, i) => c.map((x, k) => (k === 6 ? x.replaceAll('-', ['-', '/', ''][i % 3]!) : x)).join(',') + '\n'],
    ['CR LF', (c) => c.join(',') + '\r\n'],
  ];
  it.each(DIALECTS)('when a file is all in the dialect "%s" then the fast path takes almost every record', async (_name, write) => {
    const rows = Array.from({ length: 3000 }, (_, i) =>
      write(
        [
          `S${i}`,
          `1380000${String(i).padStart(4, '0')}`,
          `名${i}`,
          ['active', 'closed'][i % 2]!,
          i % 3 ? '' : 'gold',
          i % 5 ? '12.5' : '',
          `2024-01-${String(1 + (i % 28)).padStart(2, '0')}`,
        ],
        i,
      ),
    );
    const text = 'subscriber_id,msisdn,name,status,member_level,prepaid_balance,activation_date\n' + rows.join('');
    const resume = vi.spyOn(SubscriberRows.prototype, 'resume');
    try {
      for (const mode of MODES) {
        resume.mockClear();
        const [fast, general] = await both({ text, delimiter: ',', thousands: false }, mode, 4096);
        expect(fast).toEqual(general);
        expect((general as { ok: true; value: { valid: number } }).value.valid).toBe(3000);
        // The general reader sees the first record and one cut by each chunk's end.
        expect(resume.mock.calls.length).toBeLessThan(3000 / 20);
      }
    } finally {
      resume.mockRestore();
    }
  });
});
