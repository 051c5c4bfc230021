/**
 * summary.json's hit counts: countNonZero reads four bytes a word, so it is held against
 * a byte-by-byte count on any bytes (not only 0 and 1), any length and any start in
 * the buffer (a column can be a view at an odd offset); hitCounts against the columns,
 * and a scorecard measure's steps by the counts of its bins.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countNonZero, hitCounts } from '../../src/report/summary.js';

const byByte = (a: Uint8Array) => a.reduce((c, b) => c + (b !== 0 ? 1 : 0), 0);

describe('summary hit counts', () => {
  it('countNonZero counts the bytes that are not 0, whatever their values, length and offset', () => {
    const bytes = fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x01), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(bytes, { maxLength: 80 }), fc.integer({ min: 0, max: 7 }), (values, offset) => {
        const buffer = new Uint8Array(offset + values.length);
        buffer.set(values, offset);
        const view = buffer.subarray(offset);
        expect(countNonZero(view)).toBe(byByte(view));
      }),
      { numRuns: 500 },
    );
  });

  it('countNonZero counts long columns of sparse flags', () => {
    const a = new Uint8Array(1 << 16);
    for (let i = 0; i < a.length; i += 7) a[i] = 1;
    a[a.length - 1] = 200;
    expect(countNonZero(a)).toBe(byByte(a));
    expect(countNonZero(a.subarray(3, 1003))).toBe(byByte(a.subarray(3, 1003)));
  });

  it('hitCounts gives each rule its hits and the subscribers that hit any', () => {
    const flags = [Uint8Array.of(1, 0, 0, 1, 1), Uint8Array.of(0, 0, 0, 0, 1)];
    const hits = Uint8Array.of(1, 0, 0, 1, 2);
    expect(hitCounts({ ruleIds: ['a', 'b'], flags }, { hits })).toEqual({ perRule: { a: 3, b: 1 }, flagged: 3 });
  });

  it("hitCounts takes a measure's steps from its bins' counts", () => {
    const bin = Uint8Array.of(0, 2, 1, 2, 2);
    const flags = [Uint8Array.of(1, 0, 0, 1, 1), ...[1, 2].map((k) => bin.map((b) => +(b === k)))];
    const bins = [{ first: 1, steps: 2, bin, hits: Int32Array.of(1, 1, 3) }];
    const hits = Uint8Array.of(1, 0, 0, 1, 2);
    const counts = { perRule: { a: 3, m_1: 1, m_2: 3 }, flagged: 3 };
    expect(hitCounts({ ruleIds: ['a', 'm_1', 'm_2'], flags, bins }, { hits })).toEqual(counts);
    expect(hitCounts({ ruleIds: ['a', 'm_1', 'm_2'], flags }, { hits })).toEqual(counts);
  });
});
