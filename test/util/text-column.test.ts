import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TextColumn, TextColumnBuilder } from '../../src/util/text-column.js';

describe('TextColumn', () => {
  it('keeps every value as it was given, bytes or string', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 200 }), (values) => {
        const b = new TextColumnBuilder(2, 4);
        values.forEach((v, i) => {
          if (i % 2) b.pushString(v);
          else {
            const u = Buffer.from(v);
            b.pushBytes(u, 0, u.length);
          }
        });
        const col = b.finish();
        expect(col.length).toBe(values.length);
        expect(col.toArray()).toEqual(values);
        values.forEach((v, i) => {
          expect(col.byteLength(i)).toBe(Buffer.byteLength(v));
        });
      }),
    );
  });

  it('orders by code point and finds values', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { minLength: 1, maxLength: 50 }), (values) => {
        const col = TextColumn.from(values);
        const cp = (s: string) => [...s].map((c) => c.codePointAt(0)!);
        const ref = (a: string, b: string) => {
          const x = cp(a),
            y = cp(b);
          for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k]! - y[k]!;
          return x.length - y.length;
        };
        for (let a = 0; a < values.length; a++) {
          const b = (a * 7) % values.length;
          expect(Math.sign(col.compare(a, b))).toBe(Math.sign(ref(values[a]!, values[b]!)));
          expect(col.indexOf(values[a]!)).toBe(values.indexOf(values[a]!));
        }
      }),
    );
  });

  it('filters', () => {
    const col = TextColumn.from(['a', 'bb', '', 'ccc']);
    expect(col.filter(Uint8Array.of(1, 0, 1, 1)).toArray()).toEqual(['a', '', 'ccc']);
    expect(col.indexOf('zz')).toBe(-1);
    expect(() => col.get(4)).toThrow(RangeError);
  });
});
