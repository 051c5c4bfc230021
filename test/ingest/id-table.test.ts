/**
 * The byte-keyed id table against a Map of strings (the reference): lookups of
 * fields trimmed as String#trim trims (ASCII and Unicode spaces), full 32-bit hash
 * collisions, duplicates found by the bulk build, sharing with another thread; and
 * the byte-level field checks (enum, phone, trimmed text) against their string forms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldString } from '../../src/ingest/csv-scan.js';
import { enumBytes, fieldEnum, fieldPhone, fieldTrimmed, pushPhone, pushTrimmed } from '../../src/ingest/fields.js';
import { TextColumnBuilder } from '../../src/util/text-column.js';
import { ID_EMPTY, ID_UNKNOWN, IdTable } from '../../src/ingest/id-table.js';
import { hashBytes } from '../../src/util/hash.js';
import { KindCodes } from '../../src/ingest/facts.js';
import { field } from './scan-helpers.js';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

/** Every character String#trim strips, and some it does not (U+0085, U+180E, U+200B). */
const SPACES = [
  ' ',
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  '\u00a0',
  '\u1680',
  '\u2000',
  '\u200a',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
  '\ufeff',
];
const NOT_SPACES = ['\u0085', '\u180e', '\u200b'];

const idChar = fc.constantFrom(...'0123456789ABZaz-_张三', ...NOT_SPACES, 'é');
const core = fc.array(idChar, { minLength: 1, maxLength: 6 }).map((a) => a.join(''));
const pad = fc.array(fc.constantFrom(...SPACES), { maxLength: 2 }).map((a) => a.join(''));
/** An id as an extract may spell it: padded with spaces of any kind, or blank. */
const spelled = fc.oneof({ weight: 6, arbitrary: fc.tuple(pad, core, pad).map(([a, b, c]) => a + b + c) }, { weight: 1, arbitrary: pad });

/** Two different keys with the same 32-bit hash (found by a birthday search over `id<base 36>`). */
const COLLIDING = ['idebynpv', 'idpvynix'] as const;

describe('IdTable', () => {
  it('when keys are inserted one by one then each is found at its index, repeats give the first index, others are unknown', () => {
    const t = new IdTable(4);
    const keys = Array.from({ length: 5000 }, (_, i) => `S${(i * 7919) % 100000}`);
    keys.forEach((k, i) => {
      expect(t.insertField(field(k), 0)).toBe(i);
    });
    expect(t.n).toBe(keys.length);
    expect(t.insertField(field(keys[42]!), 0)).toBe(42);
    expect(t.n).toBe(keys.length);
    keys.forEach((k, i) => {
      expect(t.indexOf(k)).toBe(i);
    });
    expect(t.indexOf('S100001')).toBe(ID_UNKNOWN);
    expect(t.indexOf('')).toBe(ID_UNKNOWN);
    expect(t.keyString(1234)).toBe(keys[1234]);
  });

  it('when keys are appended while each sorts after the last then exactly those are added, and the index built after finds them all', () => {
    const key = fc.array(fc.constantFrom('0', '1', '9', 'A', 'z', '张'), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 40 }), (keys) => {
        const t = new IdTable(4);
        const added: string[] = [];
        for (const k of keys) {
          const b = bytes(k);
          const above = added.length === 0 || Buffer.compare(Buffer.from(b), Buffer.from(bytes(added[added.length - 1]!))) > 0;
          expect(t.appendAbove(b, 0, b.length)).toBe(above ? added.length : ID_UNKNOWN);
          if (above) added.push(k);
        }
        expect(t.buildIndex()).toBeNull();
        added.forEach((k, i) => expect(t.indexOf(k)).toBe(i));
      }),
    );
  });

  it('when two different ids have the same 32-bit hash then both are kept apart', () => {
    const [a, b] = COLLIDING;
    const ba = bytes(a),
      bb = bytes(b);
    expect(hashBytes(ba, 0, ba.length)).toBe(hashBytes(bb, 0, bb.length));
    for (const bulk of [false, true]) {
      const t = new IdTable(2);
      const ids = ['x', a, 'y', b, 'z'];
      if (bulk) {
        for (const id of ids) t.appendField(field(id), 0);
        expect(t.buildIndex()).toBeNull();
      } else {
        for (const id of ids) t.insertField(field(id), 0);
      }
      expect([t.indexOf(a), t.indexOf(b), t.indexOf('x'), t.indexOf(`${a}!`)]).toEqual([1, 3, 0, ID_UNKNOWN]);
      // Lookups in every order, so that the last-found shortcut is exercised both ways.
      for (const order of [
        [a, b],
        [b, a],
        ['z', a],
        ['x', b],
      ])
        for (const id of order) expect(t.findField(field(id), 0)).toBe(ids.indexOf(id));
    }
  });

  it('when fields are looked up then the result equals a Map of String#trim-med ids, for ASCII and Unicode spaces', () => {
    fc.assert(
      fc.property(fc.array(spelled, { maxLength: 40 }), fc.array(spelled, { maxLength: 40 }), (stored, queried) => {
        const ref = new Map<string, number>();
        const t = new IdTable(2);
        for (const s of stored) {
          const id = s.trim();
          const got = t.insertField(field(s), 0);
          if (id === '') {
            expect(got).toBe(ID_EMPTY);
            continue;
          }
          if (!ref.has(id)) ref.set(id, ref.size);
          expect(got).toBe(ref.get(id));
        }
        for (const q of [...queried, ...stored]) {
          const id = q.trim();
          expect(t.findField(field(q), 0)).toBe(id === '' ? ID_EMPTY : (ref.get(id) ?? ID_UNKNOWN));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("when contract kinds are coded then KindCodes gives insertField's codes, past the kinds it compares byte by byte too", () => {
    // A few kinds, spelled with spaces around them or not, and more of them than KindCodes compares itself.
    const kind = fc.oneof(
      spelled,
      fc.integer({ min: 0, max: 12 }).map((k) => `kind${k}`),
    );
    fc.assert(
      fc.property(fc.array(kind, { maxLength: 60 }), (kinds) => {
        const reference = new IdTable(64);
        const codes = new KindCodes();
        for (const k of kinds) expect(codes.codeOf(field(k), 0)).toBe(reference.insertField(field(k), 0));
      }),
      { numRuns: 300 },
    );
  });

  it('when ids are appended and indexed in bulk then duplicates point at their first occurrence, and compaction renumbers', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 300 }), (draws) => {
        const ids = draws.map((d) => `ID-${d}`);
        const t = new IdTable(2);
        for (const id of ids) t.append(bytes(id), 0, bytes(id).length);
        const firstOf = t.buildIndex();
        const first = new Map<string, number>();
        ids.forEach((id, i) => {
          if (!first.has(id)) first.set(id, i);
        });
        if (first.size === ids.length) expect(firstOf).toBeNull();
        else
          ids.forEach((id, i) => {
            expect(firstOf![i]).toBe(first.get(id));
          });
        for (const [id, i] of first) expect(t.indexOf(id)).toBe(i);
        const keep = Uint8Array.from(ids, (id, i) => (first.get(id) === i ? 1 : 0));
        t.compact(keep);
        expect(t.buildIndex()).toBeNull();
        const distinct = [...first.keys()];
        expect(t.n).toBe(distinct.length);
        distinct.forEach((id, i) => {
          expect(t.indexOf(id)).toBe(i);
          expect(t.keyString(i)).toBe(id);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('when a table of a million ids is built in bulk then every id is found, in file order and out of it', () => {
    const n = 1_000_000;
    const t = new IdTable();
    const b = new Uint8Array(10);
    const put = (i: number) => {
      const s = String(1_000_000_000 + i * 3);
      for (let k = 0; k < 10; k++) b[k] = s.charCodeAt(k);
    };
    for (let i = 0; i < n; i++) {
      put(i);
      t.append(b, 0, 10);
    }
    expect(t.buildIndex()).toBeNull();
    let wrong = 0;
    for (let i = 0; i < n; i += 1) {
      put(i);
      if (t.find(b, 0, 10) !== i) wrong++;
    }
    for (let q = 0; q < 200_000; q++) {
      const i = (q * 7919) % n;
      put(i);
      if (t.find(b, 0, 10) !== i) wrong++;
    }
    // In order again after the scattered ones (the window after the last id found is
    // skipped while lookups are scattered, and used again once they are near): with
    // gaps within and beyond the window, and repeats.
    for (let i = 0; i < n; i += 1 + (i % 13)) {
      put(i);
      if (t.find(b, 0, 10) !== i || t.find(b, 0, 10) !== i) wrong++;
    }
    put(n); // 1000000000 + 3n: not in the table
    expect(t.find(b, 0, 10)).toBe(ID_UNKNOWN);
    expect(wrong).toBe(0);
  });

  it('when a table is shared then a wrapper over its buffers finds the same ids and refuses changes', () => {
    const t = new IdTable(2);
    for (const id of ['a', 'bb', 'ccc', '张三']) t.insertField(field(id), 0);
    const shared = t.share();
    expect(shared.keys.buffer).toBeInstanceOf(SharedArrayBuffer);
    const u = IdTable.fromShared(structuredClone(shared));
    expect(['a', 'bb', 'ccc', '张三', 'd'].map((id) => u.indexOf(id))).toEqual([0, 1, 2, 3, ID_UNKNOWN]);
    expect(() => u.insertField(field('d'), 0)).toThrow();
    expect(() => t.append(bytes('d'), 0, 1)).toThrow();
  });
});

describe('byte-level field checks', () => {
  const LEVELS = ['diamond', 'gold', 'silver', 'none'] as const;
  const LEVEL_BYTES = enumBytes(LEVELS);
  const enumText = fc.oneof(
    fc.tuple(pad, fc.constantFrom(...LEVELS, 'GOLD', 'Gold', 'gol', 'golden', '', '\u212aelvin', 'İ'), pad).map(([a, b, c]) => a + b + c),
    fc.string({ maxLength: 8 }),
  );

  it('when an enum field is read then its code equals indexOf(trim().toLowerCase()), -2 for blank', () => {
    fc.assert(
      fc.property(enumText, (s) => {
        const t = s.trim().toLowerCase();
        expect(fieldEnum(field(s), 0, LEVELS, LEVEL_BYTES)).toBe(t === '' ? -2 : (LEVELS as readonly string[]).indexOf(t));
      }),
      { numRuns: 500 },
    );
    // U+212A KELVIN SIGN lower-cases to an ASCII k.
    expect(fieldEnum(field('\u212a'), 0, ['k'], enumBytes(['k']))).toBe(0);
  });

  it('when a phone field is checked then it agrees with /^\\+?\\d(?:[ -]{0,3}\\d){4,19}$/ on the trimmed text, and is stored without its separators', () => {
    const digits = fc.stringMatching(/^[0-9]{0,22}$/);
    const separated = fc
      .array(fc.tuple(digits, fc.constantFrom(' ', '-', ' - ', '--', '    ')), { maxLength: 4 })
      .map((a) => a.flat().join(''));
    const phone = fc
      .tuple(pad, fc.constantFrom('', '+', '+ '), separated, digits, fc.constantFrom('', 'x', '٣', ' 1', '-'), pad)
      .map((p) => p.join(''));
    const column = new TextColumnBuilder(4, 8);
    const want: string[] = [];
    fc.assert(
      fc.property(fc.oneof(phone, fc.string({ maxLength: 12 })), (s) => {
        const t = s.trim();
        const ok = t === '' ? 0 : /^\+?\d(?:[ -]{0,3}\d){4,19}$/.test(t) ? 1 : -1;
        expect(fieldPhone(field(s), 0)).toBe(ok);
        if (ok === 1) {
          pushPhone(field(s), 0, column);
          want.push(t.replace(/[ -]/g, ''));
        }
      }),
      { numRuns: 1000 },
    );
    expect(column.finish().toArray()).toEqual(want);
  });

  it('when text is trimmed from bytes, or copied trimmed into a text column, then it equals fieldString(...).trim()', () => {
    const column = new TextColumnBuilder(4, 8);
    const want: string[] = [];
    fc.assert(
      fc.property(fc.oneof(spelled, fc.string({ maxLength: 10 })), (s) => {
        const rec = field(s);
        expect(fieldTrimmed(rec, 0)).toBe(fieldString(rec, 0).trim());
        pushTrimmed(rec, 0, column);
        want.push(fieldString(rec, 0).trim());
      }),
      { numRuns: 500 },
    );
    expect(column.finish().toArray()).toEqual(want);
  });
});
