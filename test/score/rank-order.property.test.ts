/**
 * The task order (byLossThenId) against the plain comparator sort it replaces: loss
 * highest first, then id bytes, for any losses (ties, zeros of both signs, huge and
 * tiny values) and any ids (repeated ones keep their list order, as a stable sort does).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byLossThenId } from '../../src/score/score.js';
import { TextColumn } from '../../src/util/text-column.js';

describe('byLossThenId', () => {
  it('orders as the comparator sort does', () => {
    const loss = fc.oneof(fc.constantFrom(0, -0, 1, 1.5, 2.25, 1e-300, 1e300, Infinity), fc.double({ min: 0, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(loss, fc.string({ unit: fc.constantFrom('a', 'b', 'z', '张', '0'), maxLength: 3 })), { maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (rows, keepShare) => {
          const losses = Float64Array.from(rows.map((r) => r[0]));
          const ids = TextColumn.from(rows.map((r) => r[1]));
          const list = rows.map((_, i) => i).filter((i) => (i * 7919) % 100 < keepShare * 100);
          const want = list.slice().sort((a, b) => losses[b]! - losses[a]! || ids.compare(a, b));
          expect(byLossThenId(list, losses, ids)).toEqual(want);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('orders long lists with long runs of ties, ids in and out of subscriber order', () => {
    // Past one digit's 2048 values, so every radix pass scatters; ties far longer than the property test's.
    const m = 20_000;
    const losses = Float64Array.from({ length: m }, (_, i) => (i % 5 === 0 ? (i * 2654435761) % 1e6 : (i % 13) * 0.25));
    for (const shuffled of [false, true]) {
      const ids = TextColumn.from(Array.from({ length: m }, (_, i) => `S${String(shuffled ? (i * 7919) % m : i).padStart(6, '0')}`));
      const list = Array.from({ length: m }, (_, i) => i).filter((i) => i % 3 !== 1);
      const want = list.slice().sort((a, b) => losses[b]! - losses[a]! || ids.compare(a, b));
      expect(byLossThenId(list, losses, ids)).toEqual(want);
    }
  });

  it('orders every subscriber by ids that share long heads, sorted, nearly sorted or repeated, as the comparator sort does', () => {
    // Every subscriber in the list and in subscriber order: the order then rests on whether the whole id column
    // rises, which is read four bytes at a time; the heads and tails here end on every byte of a word.
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '0', '9', '张'), maxLength: 9 }), { maxLength: 120 }),
        fc.constantFrom('', 'S', 'CU-', 'CUST-2026-', '客户-'),
        fc.nat(),
        fc.boolean(),
        (texts, head, swap, sorted) => {
          const values = (sorted ? texts.slice().sort() : texts).map((t) => head + t);
          // A sorted column with one pair of neighbours swapped: only the ids say it does not rise.
          if (sorted && values.length > 1 && swap % 2 === 0) {
            const k = swap % (values.length - 1);
            [values[k], values[k + 1]] = [values[k + 1]!, values[k]!];
          }
          const ids = TextColumn.from(values);
          const losses = Float64Array.from(values, (_, i) => (swap % 3 === 0 ? 1 : i % 2));
          const list = values.map((_, i) => i);
          const want = list.slice().sort((a, b) => losses[b]! - losses[a]! || ids.compare(a, b) || a - b);
          expect(byLossThenId(list, losses, ids)).toEqual(want);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('puts a loss the pack could not compute (NaN) last, by id', () => {
    const losses = Float64Array.of(NaN, 3, NaN, 5);
    const ids = TextColumn.from(['d', 'c', 'a', 'b']);
    expect(byLossThenId([0, 1, 2, 3], losses, ids)).toEqual([3, 1, 2, 0]);
  });
});
