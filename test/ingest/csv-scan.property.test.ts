/**
 * The scanner against csv-parse (the reference) over generated CSV, pushed in
 * every possible two-piece split, byte by byte, and in random pieces.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChurnwatchError } from '../../src/errors.js';
import { parseDayField, parseMonthField, parseScaled } from '../../src/ingest/csv-scan.js';
import { parseDay, parseMonth } from '../../src/util/dates.js';
import { field, scan, type Scanned } from './scan-helpers.js';

type Outcome = { ok: true; records: string[][]; lines: number[] } | { ok: false; column: number };

const LF = 0x0a;
const CR = 0x0d;

/** csv-parse's result, with each record's start line computed from its byte offsets. */
function reference(input: string, delimiter: string): Outcome {
  let rows: { record: string[]; info: { bytes: number } }[];
  try {
    rows = parse(input, {
      delimiter,
      quote: '"',
      escape: '"',
      skip_empty_lines: true,
      bom: true,
      relax_column_count: true,
      record_delimiter: ['\n', '\r\n'],
      info: true,
    }) as unknown as { record: string[]; info: { bytes: number } }[];
  } catch (e) {
    const column = (e as { column?: number }).column;
    if (typeof column !== 'number') throw e;
    return { ok: false, column: column + 1 };
  }
  // info.bytes is the offset just past a record's line end; the next record starts
  // after any empty lines that follow. Lines are counted by LF.
  const bytes = Buffer.from(input, 'utf8');
  let pos = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 1;
  const lines: number[] = [];
  for (const r of rows) {
    for (;;) {
      if (bytes[pos] === LF) pos += 1;
      else if (bytes[pos] === CR && bytes[pos + 1] === LF) pos += 2;
      else break;
      line++;
    }
    lines.push(line);
    for (; pos < r.info.bytes; pos++) if (bytes[pos] === LF) line++;
  }
  return { ok: true, records: rows.map((r) => r.record), lines };
}

function attempt(input: string, delimiter: string, cuts: number[]): Outcome {
  let got: Scanned;
  try {
    got = scan(input, delimiter, cuts);
  } catch (e) {
    if (!(e instanceof ChurnwatchError) || e.code !== 'CW_CSV_MALFORMED') throw e;
    return { ok: false, column: e.context.column as number };
  }
  return { ok: true, records: got.records, lines: got.lines };
}

function checkAllSplits(input: string, delimiter: string, randomCuts: number[]): void {
  const want = reference(input, delimiter);
  const n = Buffer.byteLength(input);
  const chunkings: number[][] = [
    [],
    Array.from({ length: n }, (_, i) => i + 1),
    [...new Set(randomCuts.map((c) => c % (n + 1)))].sort((a, b) => a - b),
  ];
  if (n <= 120) for (let c = 0; c <= n; c++) chunkings.push([c]);
  else for (let k = 0; k < 20; k++) chunkings.push([Math.floor((k * n) / 20)]);
  for (const cuts of chunkings) expect(attempt(input, delimiter, cuts), `cuts ${cuts.join(' ')}`).toEqual(want);
}

const delimiterArb = fc.constantFrom(',', '|', ';', '\t');

/** Characters that stress the scanner: ASCII, multi-byte UTF-8 (incl. Chinese, emoji, U+FEFF) and the syntax bytes. */
function fieldChar(delimiter: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('a', 'b', '1', '0', '.', '-', ' ', 'Z') },
    { weight: 2, arbitrary: fc.constantFrom('张', '三', '北', 'é', '€', '😀', '\ufeff', '\ufefc', '\u00a0') },
    { weight: 3, arbitrary: fc.constantFrom(delimiter, '"', '\r', '\n', ',', '|', ';', '\t') },
  );
}

/** A CSV document from rows of fields, quoting where needed and sometimes where not. */
const documentArb = delimiterArb.chain((delimiter) =>
  fc
    .record({
      rows: fc.array(
        fc.oneof(
          {
            weight: 8,
            arbitrary: fc.array(
              fc.tuple(
                fc.array(fieldChar(delimiter), { maxLength: 8 }).map((cs) => cs.join('')),
                fc.integer({ min: 0, max: 9 }),
              ),
              { minLength: 1, maxLength: 5 },
            ),
          },
          { weight: 1, arbitrary: fc.constant([] as [string, number][]) },
        ),
        { maxLength: 6 },
      ),
      crlf: fc.boolean(),
      bom: fc.boolean(),
      trailingNewline: fc.boolean(),
    })
    .map(({ rows, crlf, bom, trailingNewline }) => {
      const eol = crlf ? '\r\n' : '\n';
      const text = rows
        .map((row) =>
          row
            .map(([f, coin]) => {
              const needs = f.includes(delimiter) || f.includes('"') || f.includes('\r') || f.includes('\n');
              // coin 0: leave a field that needs quotes unquoted (mostly invalid or different, still compared)
              const quoted = needs ? coin !== 0 : coin >= 7;
              return quoted ? `"${f.replaceAll('"', '""')}"` : f;
            })
            .join(delimiter),
        )
        .join(eol);
      return { delimiter, text: (bom ? '\ufeff' : '') + text + (trailingNewline && text ? eol : '') };
    }),
);

describe('CsvScanner equals csv-parse', () => {
  it('on generated documents, at every split point', () => {
    fc.assert(
      fc.property(documentArb, fc.array(fc.nat(), { maxLength: 6 }), ({ delimiter, text }, cuts) => {
        checkAllSplits(text, delimiter, cuts);
      }),
      { numRuns: 400 },
    );
  });

  it('on random character soup (valid and invalid input)', () => {
    fc.assert(
      fc.property(
        delimiterArb.chain((d) =>
          fc.tuple(
            fc.constant(d),
            fc.array(fc.oneof(fieldChar(d), fc.constantFrom('""', '\r\n', `"${d}`, `${d}"`)), { maxLength: 30 }).map((a) => a.join('')),
          ),
        ),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 4 }),
        ([delimiter, text], bom, cuts) => {
          checkAllSplits((bom ? '\ufeff' : '') + text, delimiter, cuts);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects unterminated quotes like csv-parse', () => {
    fc.assert(
      fc.property(documentArb, fc.array(fieldChar(','), { maxLength: 6 }), ({ delimiter, text }, tail) => {
        fc.pre(reference(text, delimiter).ok);
        const t = tail.join('').replaceAll('"', '');
        const input = `${text}${text && !text.endsWith('\n') ? delimiter : ''}"${t}`;
        const want = reference(input, delimiter);
        expect(want.ok).toBe(false);
        const got = attempt(input, delimiter, []);
        expect(got).toEqual(want);
        expect(attempt(input, delimiter, [Buffer.byteLength(input) >> 1])).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });
});

describe('field parsers equal their string counterparts', () => {
  const dayChars = fc.constantFrom('0', '1', '2', '9', '-', '/', ' ', 'T', ':', '.', 'Z', '+', '\t', 'x');
  const dayLike = fc.oneof(
    fc.array(dayChars, { maxLength: 30 }).map((a) => a.join('')),
    fc
      .tuple(
        fc.integer({ min: 1890, max: 3010 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.constantFrom('-', '/', ''),
        fc.constantFrom('-', '/', '', 'same', 'same', 'same'),
        fc.boolean(),
        fc.constantFrom('', ' 08:15', 'T8:15:30', 'T08:15:30.5Z', ' 23:59:59+08:00', ' 12:00-0530', 'T1', ' 12:3', 'T12:30:1', ' 12:30Z1'),
        fc.constantFrom('', ' ', '  '),
      )
      .map(([y, m, d, sep, sep2, pad, time, ws]) => {
        const p = (v: number) => (pad || sep === '' ? String(v).padStart(2, '0') : String(v));
        return `${ws}${y}${sep}${p(m)}${sep2 === 'same' ? sep : sep2}${p(d)}${time}${ws}`;
      }),
  );

  it('parseDayField equals parseDay', () => {
    fc.assert(
      fc.property(dayLike, (s) => {
        expect(parseDayField(field(s), 0)).toEqual(parseDay(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('parseMonthField equals parseMonth', () => {
    const monthLike = fc.oneof(
      fc.array(fc.constantFrom('0', '1', '2', '9', '-', '/', ' '), { maxLength: 10 }).map((a) => a.join('')),
      fc
        .tuple(fc.integer({ min: 1890, max: 3010 }), fc.integer({ min: 0, max: 13 }), fc.constantFrom('-', '/', '', '.'))
        .map(([y, m, sep]) => `${y}${sep}${String(m).padStart(2, '0')}`),
    );
    fc.assert(
      fc.property(monthLike, (s) => {
        expect(parseMonthField(field(s), 0)).toEqual(parseMonth(s));
      }),
      { numRuns: 1000 },
    );
  });

  /** Exact reference with BigInt. */
  function scaledReference(s: string, scale: number, thousands: boolean): number {
    const m = (thousands ? /^([+-]?)(\d{1,3}(?:,\d{3})+|\d*)(?:\.(\d*))?$/ : /^([+-]?)(\d*)(?:\.(\d*))?$/).exec(
      s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, ''),
    );
    if (!m) return NaN;
    const int = m[2]!.replaceAll(',', '');
    const frac = m[3] ?? '';
    if (int.length + frac.length === 0) return NaN;
    if (/[1-9]/.test(frac.slice(scale))) return NaN;
    const v = BigInt((int || '0') + frac.slice(0, scale).padEnd(scale, '0'));
    if (v > 2n ** 53n) return NaN;
    const n = Number(v);
    return m[1] === '-' && n !== 0 ? -n : n;
  }

  it('parseScaled equals an exact reference', () => {
    const numChars = fc.constantFrom('0', '1', '5', '9', '.', ',', '-', '+', ' ', 'e');
    const numLike = fc.oneof(
      fc.array(numChars, { maxLength: 14 }).map((a) => a.join('')),
      fc
        .tuple(
          fc.constantFrom('', '-', '+', ' '),
          fc.bigInt({ min: 0n, max: 10n ** 18n }),
          fc.nat({ max: 6 }),
          fc.constantFrom('', '0', '00'),
        )
        .map(([sign, v, cut, zeros]) => {
          const digits = v.toString();
          const at = Math.max(0, digits.length - cut);
          return `${sign}${digits.slice(0, at)}${cut > 0 ? '.' + digits.slice(at) + zeros : ''}`;
        }),
      fc
        .tuple(
          fc.integer({ min: 0, max: 999 }),
          fc.array(fc.integer({ min: 0, max: 999 }), { maxLength: 4 }),
          fc.constantFrom('', '.5', '.25', '.125'),
        )
        .map(([h, gs, f]) => `${h},${gs.map((g) => String(g).padStart(3, '0')).join(',')}${f}`),
    );
    fc.assert(
      fc.property(numLike, fc.integer({ min: 0, max: 4 }), fc.boolean(), (s, scale, thousands) => {
        expect([s, parseScaled(field(s), 0, scale, thousands)]).toEqual([s, scaledReference(s, scale, thousands)]);
      }),
      { numRuns: 3000 },
    );
  });
});
