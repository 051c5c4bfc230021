import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { csvLine } from '../../src/output/csv.js';
import { CsvBytesWriter } from '../../src/output/csv-bytes.js';

const cellText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', '=', '+', '-', '@', '\t', '\0', '＝', '＋', '－', '＠', '张', ' ', '1'), maxLength: 8 }),
);

function viaWriter(rows: string[][], freeText: Set<number>, chunk: number): string {
  const parts: Buffer[] = [];
  const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)), chunk);
  for (const row of rows) {
    row.forEach((c, j) => {
      if (j > 0) w.comma();
      if (j % 2 === 0) w.cellString(c, freeText.has(j));
      else { const b = Buffer.from(c, 'utf8'); w.cell(b, 0, b.length, freeText.has(j)); }
    });
    w.endLine();
  }
  w.end();
  return Buffer.concat(parts).toString('utf8');
}

describe('CsvBytesWriter', () => {
  it('writes the same text as csvLine, cell by cell, at any chunk size', () => {
    fc.assert(fc.property(
      fc.array(fc.array(cellText, { minLength: 1, maxLength: 6 }), { maxLength: 20 }),
      fc.uniqueArray(fc.nat(5)),
      fc.integer({ min: 1, max: 64 }),
      (rows, free, chunk) => {
        const freeText = new Set(free);
        const want = rows.map((r) => csvLine(r, freeText)).join('');
        expect(viaWriter(rows, freeText, chunk)).toBe(want);
      },
    ), { numRuns: 400 });
  });

  it('formats integers as String() does', () => {
    fc.assert(fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), (v) => {
      const parts: Buffer[] = [];
      const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)));
      w.uint(v);
      w.end();
      expect(Buffer.concat(parts).toString()).toBe(String(v));
    }));
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
