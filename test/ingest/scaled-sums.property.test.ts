/**
 * The measure sums are kept in whole units of 10^-scale (fen) as Int32 when every sum
 * of a column fits, else in the doubles they were made in (scaledSums). Property: the
 * rules, explain and the measure columns see the same numbers either way, the double
 * the sum divided once was; and a sum past ±2^31 fen (21,474,836.47 yuan) never wraps.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { billingMerge, foldBilling, scaledSums, readBilling } from '../../src/ingest/facts.js';
import { IdTable } from '../../src/ingest/id-table.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { checkExpression } from '../../src/rules/check.js';
import { compileCondition, plainColumn, valueAt } from '../../src/rules/compile.js';
import { parseExpression } from '../../src/rules/parse.js';
import { World, cleanup } from '../helpers/world.js';

const INT32 = 2 ** 31;
/** Sums in fen: mostly small, some at the Int32 edges, some past them (up to 2^53). */
const fen = fc.oneof(
  fc.integer({ min: -100_000_000, max: 100_000_000 }),
  fc.integer({ min: -3, max: 3 }).map((d) => (d < 0 ? -INT32 - 1 - d : INT32 - 1 - d)),
  fc.integer({ min: INT32 - 2, max: Number.MAX_SAFE_INTEGER }).chain((v) => fc.constantFrom(v, -v)),
);

describe('scaled sums', () => {
  it('property: Int32 exactly when every sum fits, and the same value as the divided double either way', () => {
    fc.assert(
      fc.property(fc.array(fen, { minLength: 1, maxLength: 40 }), fc.constantFrom(1, 100, 1000), (xs, unit) => {
        const c = scaledSums(Float64Array.from(xs), unit);
        const fits = xs.every((v) => v >= -INT32 && v < INT32);
        expect(c.values instanceof Int32Array).toBe(fits);
        xs.forEach((v, i) => expect(valueAt(c, i)).toBe(v / unit));
        expect(Array.from(plainColumn(c))).toEqual(xs.map((v) => v / unit));
      }),
      { numRuns: 300 },
    );
  });

  it('property: a compiled rule over the kept sums flags what it flags over the divided doubles, at the tolerance boundaries too', () => {
    const c = checkExpression(parseExpression('amount(M0) <= 0.70 * amount(M1) and amount(M1) >= 10'));
    const rule = compileCondition(c.tree, c.features.keys());
    const pairs = fc.array(
      fc.oneof(
        fc.tuple(fen, fen),
        // M0 within a fen of 70% of M1: where the comparison's tolerance decides.
        fc
          .tuple(fc.integer({ min: 1000, max: 5_000_000 }), fc.integer({ min: -1, max: 1 }))
          .map(([m1, d]) => [Math.floor((m1 * 70) / 100) + d, m1]),
      ),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(pairs, (ps) => {
        const n = ps.length;
        const kept = [0, 1].map((k) =>
          scaledSums(
            Float64Array.from(ps, (p) => p[k]!),
            100,
          ),
        );
        const divided = [0, 1].map((k) => ({ values: Float64Array.from(ps, (p) => p[k]! / 100), unit: 1 }));
        const a = new Uint8Array(n),
          b = new Uint8Array(n);
        rule.run(kept, n, 0, a);
        rule.run(divided, n, 0, b);
        expect(Array.from(a)).toEqual(Array.from(b));
      }),
      { numRuns: 300 },
    );
  });

  it('property: billing sums made in Int32 and widened where a sum leaves it are the sums made in doubles, read whole or in two ranges', async () => {
    const ids = new IdTable(4);
    const subs = ['S1', 'S2', 'S3'];
    for (const id of subs) ids.insert(Buffer.from(id), 0, 2);
    // Bills in fen: small, near a Int32 edge, or far past it (a sum may leave Int32 and come back).
    const bill = fc.oneof(
      fc.integer({ min: -100_000, max: 100_000 }),
      fc.integer({ min: INT32 - 3, max: INT32 + 3 }).chain((v) => fc.constantFrom(v, -v)),
      fc.integer({ min: 2 ** 40, max: 2 ** 45 }).chain((v) => fc.constantFrom(v, -v)),
    );
    // mou is never negative (such a row is rejected).
    const row = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 1 }), bill, bill.map(Math.abs));
    const yuan = (f: number) => `${f < 0 ? '-' : ''}${Math.floor(Math.abs(f) / 100)}.${String(Math.abs(f) % 100).padStart(2, '0')}`;
    const oct = 2026 * 12 + 9;
    const windows = { amount: 2, mou: 2 };
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 12 }), fc.nat(), fc.boolean(), async (rows, cutAt, bySubscriber) => {
        const w = new World('2026-11-23', false);
        // Sorted by subscriber as exports are (each range then holds a slice of them, copied in the merge), or in no order.
        const sorted = bySubscriber ? [...rows].sort((a, b) => a[0] - b[0]) : rows;
        for (const [s, k, amount, mou] of sorted) w.bill(subs[s]!, w.month(k), yuan(amount), { mou: yuan(mou) });
        const dir = w.write(undefined, ['billing_monthly']);
        try {
          const path = `${dir}/billing_monthly.csv`;
          const input = defaultInputOptions(dir);
          const keys = { n: subs.length, idTable: ids };
          const expected = new Map<number, Record<string, { values: Int32Array | Float64Array; unit: number }>>();
          for (const k of [0, 1]) {
            const amount = new Float64Array(subs.length),
              mou = new Float64Array(subs.length);
            const own = sorted.filter((r) => r[1] === k);
            if (own.length === 0) continue;
            for (const [s, , a, m] of own) {
              amount[s] += a;
              mou[s] += m;
            }
            expected.set(oct - k, { amount: scaledSums(amount, 100), mou: scaledSums(mou, 100) });
          }
          const whole = await readBilling(path, 'billing_monthly.csv', input, keys, new RejectLog(), oct + 1, windows);
          expect(whole.fold.months).toEqual(expected);
          // Two ranges cut at a line start after the header.
          const text = readFileSync(path, 'utf8');
          const starts = [...text.matchAll(/\n/g)].map((m) => m.index! + 1).filter((i) => i < text.length);
          const cut = starts[1 + (cutAt % (starts.length - 1))] ?? text.length;
          const header = text.slice(0, starts[0]! - 1).split(',');
          const merge = billingMerge(input, windows);
          for (const [index, r] of [
            [0, { start: 0, end: cut }],
            [1, { start: cut, end: text.length }],
          ] as const) {
            const got = await foldBilling(path, 'billing_monthly.csv', input, keys, new RejectLog(), oct + 1, windows, {
              range: { ...r, index, header: index === 0 ? null : header, hashWhole: false },
            });
            merge.add(got.part!);
          }
          expect(merge.finish().fold.billing!.months).toEqual(expected);
        } finally {
          cleanup(dir);
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  it('when a month sum passes 2^31 fen then billing keeps that month in doubles and the sum is exact, not wrapped', async () => {
    const ids = new IdTable(4);
    for (const id of ['S1', 'S2']) ids.insert(Buffer.from(id), 0, 2);
    const w = new World('2026-11-23', false);
    // 15,000,000.00 yuan twice: 3,000,000,000 fen, past Int32 (a wrapped Int32 would read -12,949,672.96).
    w.bill('S1', w.month(0), '15000000.00').bill('S1', w.month(0), '15000000.00', { mou: '1' }).bill('S2', w.month(0), '-0.01');
    w.bill('S2', w.month(1), '20.00');
    const dir = w.write(undefined, ['billing_monthly']);
    try {
      const oct = 2026 * 12 + 9;
      const r = await readBilling(
        `${dir}/billing_monthly.csv`,
        'billing_monthly.csv',
        defaultInputOptions(dir),
        { n: 2, idTable: ids },
        new RejectLog(),
        oct + 1,
        { amount: 2 },
      );
      const m0 = r.fold.months.get(oct)!.amount!;
      const m1 = r.fold.months.get(oct - 1)!.amount!;
      expect(m0.values).toBeInstanceOf(Float64Array);
      expect(Array.from(plainColumn(m0))).toEqual([30000000, -0.01]);
      expect(m1.values).toBeInstanceOf(Int32Array);
      expect(Array.from(plainColumn(m1))).toEqual([0, 20]);
    } finally {
      cleanup(dir);
    }
  });

  it('when a bill passes 2^31 fen then a run reads it exactly: the rules and the measure columns see the sum', async () => {
    const w = new World();
    w.sub('BIG', {}).bills('BIG', ['25000000.00', '30000000.00', '30000000.00', '30000000.00']);
    const r = await w.run(['--with-measures']);
    expect(r.code).toBe(0);
    const row = r.scores.get('BIG')!;
    expect([row.amount_m0, row.amount_m1]).toEqual(['25000000.00', '30000000.00']);
    // 25M < 0.7 × 30M is false (83%), so no drop; a wrapped sum would be negative and flag it.
    expect(row.arpu_drop_mom).toBe('0');
  });
});
