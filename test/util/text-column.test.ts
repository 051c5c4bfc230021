import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CodedText, CodedTextBuilder, TextColumn, TextColumnBuilder } from '../../src/util/text-column.js';

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

describe('CodedText', () => {
  const coded = (values: readonly string[]) => {
    const b = new CodedTextBuilder(4);
    for (const v of values) b.pushString(v);
    return b.finish();
  };
  it('when values repeat, are empty or not ASCII then each reads back as written, also once put in shared memory', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('', '广州市越秀区', 'CM10486', 'a', 'ab', 'b', '\u3000x'), { maxLength: 200 }), (values) => {
        const c = coded(values);
        expect(c.toArray()).toEqual(values);
        expect(c.length).toBe(values.length);
        const shared = c.shared();
        expect(shared.toArray()).toEqual(values);
        for (const a of [shared.codes, shared.dict.bytes, shared.dict.offsets]) expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(shared.codes.constructor).toBe(c.codes.constructor);
        // Each distinct value once in the dictionary.
        expect(c.dict.length).toBe(new Set(values).size);
      }),
    );
  });

  it("property: a value's code is the number of distinct values before its first appearance, whatever its length", () => {
    const value = fc.string({ unit: 'grapheme', maxLength: 24 });
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 400 }), (distinct, picks) => {
        const values = picks.map((k) => distinct[k % distinct.length]!);
        const first = new Map<string, number>();
        for (const v of values) if (!first.has(v)) first.set(v, first.size);
        expect(Array.from(coded(values).codes)).toEqual(values.map((v) => first.get(v)));
      }),
    );
  });

  it('when a column has more than 65,536 distinct values then the codes widen to four bytes and every value stays', () => {
    const values = Array.from({ length: 70_000 }, (_, i) => `M${i % 66_000}`);
    const c = coded(values);
    expect(c.codes).toBeInstanceOf(Uint32Array);
    expect(c.dict.length).toBe(66_000);
    expect(c.get(69_999)).toBe('M3999');
    expect(c.toArray()).toEqual(values);
    expect(coded(['x', 'y', 'x']).codes).toBeInstanceOf(Uint16Array);
  });

  it('when columns are joined or filtered then the values are those of the plain columns joined or filtered', () => {
    const a = ['r1', 'r2', 'r1', ''],
      b = ['r3', 'r1', 'r3'];
    const joined = CodedText.concat([coded(a), coded(b)]);
    expect(joined.toArray()).toEqual([...a, ...b]);
    expect(joined.dict.length).toBe(4);
    expect(joined.filter(Uint8Array.of(1, 0, 0, 1, 1, 0, 1)).toArray()).toEqual(['r1', '', 'r3', 'r3']);
  });
});
