import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { csvLine, neutraliseFormula } from '../../src/output/csv.js';
import { CsvBytesWriter, putFixedPoint, putHundredths, putPadded, putScaled, putUint, startsLikeFormula } from '../../src/util/bytes.js';

const cellText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom('a', ',', '"', '\n', '\r', '=', '+', '-', '@', '\t', '\0', '＝', '＋', '－', '＠', '张', ' ', '1'),
    maxLength: 8,
  }),
);

function viaWriter(rows: string[][], freeText: Set<number>, chunk: number): string {
  const parts: Buffer[] = [];
  const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)), chunk);
  for (const row of rows) {
    row.forEach((c, j) => {
      if (j > 0) w.comma();
      if (j % 2 === 0) w.cellString(c, freeText.has(j));
      else {
        const b = Buffer.from(c, 'utf8');
        w.cell(b, 0, b.length, freeText.has(j));
      }
    });
    w.endLine();
  }
  w.end();
  return Buffer.concat(parts).toString('utf8');
}

describe('CsvBytesWriter', () => {
  it('writes the same text as csvLine, cell by cell, at any chunk size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(cellText, { minLength: 1, maxLength: 6 }), { maxLength: 20 }),
        fc.uniqueArray(fc.nat(5)),
        fc.integer({ min: 1, max: 64 }),
        (rows, free, chunk) => {
          const freeText = new Set(free);
          const want = rows.map((r) => csvLine(r, freeText)).join('');
          expect(viaWriter(rows, freeText, chunk)).toBe(want);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('formats integers as String() does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), (v) => {
        const parts: Buffer[] = [];
        const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)));
        w.uint(v);
        w.end();
        expect(Buffer.concat(parts).toString()).toBe(String(v));
      }),
    );
  });

  it('copies large cells through a small buffer', () => {
    const big = 'x,'.repeat(100_000);
    const parts: Buffer[] = [];
    const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)), 16);
    w.cellString(big, true);
    w.endLine();
    w.end();
    expect(Buffer.concat(parts).toString()).toBe(csvLine([big], new Set([0])));
  });
});

describe('util/bytes', () => {
  it('neutralises the same first characters on bytes as on strings, for every BMP code point', () => {
    for (let c = 0; c < 0x10000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const text = String.fromCharCode(c) + 'x';
      const b = Buffer.from(text, 'utf8');
      expect(startsLikeFormula(b, 0, b.length)).toBe(neutraliseFormula(text) !== text);
    }
  });

  it('writes hundredths and zero-padded numbers as the generator did with strings', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), fc.integer({ min: 1, max: 16 }), (h, width) => {
        const out = new Uint8Array(64);
        const sign = h < 0 ? '-' : '',
          a = Math.abs(h);
        expect(Buffer.from(out.subarray(0, putHundredths(out, 0, h))).toString()).toBe(
          `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`,
        );
        const v = a % 10 ** width;
        expect(Buffer.from(out.subarray(0, putPadded(out, 0, v, width))).toString()).toBe(String(v).padStart(width, '0'));
      }),
    );
  });

  it('writes whole numbers two digits at a time as String does, and fixed points as putScaled does', () => {
    const small = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 120_000 }),
      fc.constantFrom(0, 9, 10, 99, 100, 999, 1000, 9999, 10000, 2 ** 31 - 1),
    );
    fc.assert(
      fc.property(small, fc.constantFrom(2 as const, 4 as const), (v, digits) => {
        const out = new Uint8Array(40);
        const want = new Uint8Array(40);
        const at = 3;
        expect(Buffer.from(out.subarray(at, putUint(out, at, v))).toString()).toBe(String(v));
        const end = putFixedPoint(out, at, v, digits);
        expect(Buffer.from(out.subarray(at, end)).equals(Buffer.from(want.subarray(at, putScaled(want, at, v, digits, false))))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
