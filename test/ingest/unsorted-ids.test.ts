/**
 * Batched id lookups (unsorted-ids.ts) against IdTable.find one at a time: the same
 * indexes, the batch cut at the first unknown id, keys of one width found without
 * their offsets however the table was made (inserted, appended, joined, compacted,
 * shared), two ids of one 32-bit hash told apart, and keys of digits alone hashed by
 * their value, found without their bytes, however the table was made.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digitHash, digitValue, IdTable } from '../../src/ingest/id-table.js';
import { hashBytes } from '../../src/util/hash.js';
import { BATCH, IdBatch, PRESENT } from '../../src/ingest/unsorted-ids.js';

const enc = new TextEncoder();
/** Two ids of one 32-bit hash (as in id-table.test.ts). */
const COLLIDING = ['idebynpv', 'idpvynix'] as const;

/** The ids end to end in one buffer, each followed by a comma, in a batch. */
function batchOf(ids: readonly string[]): { batch: IdBatch; b: Uint8Array } {
  const batch = new IdBatch(1, true);
  const b = enc.encode(ids.map((id) => `${id},`).join(''));
  let p = 0;
  ids.forEach((id, k) => {
    batch.starts[k] = p;
    p += enc.encode(id).length;
    batch.ends[k] = p++;
  });
  return { batch, b };
}

function tableOf(ids: readonly string[]): IdTable {
  const t = new IdTable(4);
  for (const id of ids) t.insert(enc.encode(id), 0, enc.encode(id).length);
  return t;
}

describe('IdBatch', () => {
  it('when ids are resolved a batch at a time then each gets IdTable.find index, up to the first unknown one', () => {
    const keys = Array.from({ length: 700 }, (_, i) => `S${String(i * 13).padStart(6, '0')}`);
    const mixed = Array.from({ length: 700 }, (_, i) => `S${i * 13}`);
    fc.assert(
      fc.property(
        fc.constantFrom(keys, mixed),
        fc.array(fc.oneof({ weight: 30, arbitrary: fc.nat(699) }, { weight: 1, arbitrary: fc.constant(-1) }), {
          minLength: 1,
          maxLength: BATCH,
        }),
        (ids, picks) => {
          const t = tableOf(ids);
          const wanted = picks.map((k) => (k < 0 ? 'S9999999' : ids[k]!));
          const { batch, b } = batchOf(wanted);
          const hashed = t.hashed;
          const ok = batch.resolve(t, b, wanted.length);
          // (No key of the table shares a hash with another: the table's own lookup is not needed.)
          expect(t.hashed).toBe(hashed);
          const unknown = picks.indexOf(-1);
          expect(ok).toBe(unknown < 0 ? wanted.length : unknown);
          expect(Array.from(batch.idx.subarray(0, ok))).toEqual(picks.slice(0, ok));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('when two ids of a batch have one 32-bit hash then each gets its own index', () => {
    const [a, b] = COLLIDING;
    expect(hashBytes(enc.encode(a), 0, a.length)).toBe(hashBytes(enc.encode(b), 0, b.length));
    const t = tableOf(['xxxxxx', a, 'yyyyyy', b]);
    const got = batchOf([b, a, 'yyyyyy', b, 'zzzzzz', a]);
    expect(got.batch.resolve(t, got.b, 6)).toBe(4);
    expect(Array.from(got.batch.idx.subarray(0, 4))).toEqual([3, 1, 2, 3]);
  });

  it('when the keys have one width then the table says so, however it was made, and not once one differs', () => {
    const width = (t: IdTable) => t.hashIndex().width;
    const t = tableOf(['A1', 'B2', 'C3']);
    expect(width(t)).toBe(2);
    expect(width(IdTable.fromShared(t.share()))).toBe(2);
    const u = new IdTable(4, 16, 0);
    for (const id of ['A1', 'B22', 'C3']) u.append(enc.encode(id), 0, enc.encode(id).length);
    u.buildIndex();
    expect(width(u)).toBe(0);
    u.compact(Uint8Array.of(1, 0, 1));
    u.buildIndex();
    expect([width(u), u.indexOf('C3')]).toEqual([2, 1]);
    u.appendKeys({ n: 1, keys: enc.encode('D444'), offsets: Uint32Array.of(0, 4) });
    u.buildIndex();
    expect(width(u)).toBe(0);
    const got = batchOf(['D444', 'A1', 'C3']);
    expect(got.batch.resolve(u, got.b, 3)).toBe(3);
    expect(Array.from(got.batch.idx.subarray(0, 3))).toEqual([2, 0, 1]);
  });

  it('when the keys are digits of one width then they are hashed by value and a batch gets IdTable.find index, up to the first id not in it', () => {
    const keys = Array.from({ length: 700 }, (_, i) => String(1_000_000 + i * 7919).padStart(10, '0'));
    const appended = new IdTable(4, 16, 0);
    for (const k of keys) appended.append(enc.encode(k), 0, k.length);
    appended.buildIndex();
    const tables = [tableOf(keys), appended, IdTable.fromShared(tableOf(keys).share())];
    for (const t of tables) expect(t.hashIndex().digits).toBe(true);
    // Not in the table: digits of the width, of other widths, a letter or a sign among digits, digits past 2^32.
    const others = ['0000000001', '000100000', '00010000000', '000100000a', '-001000000', '4294967297', '9999999999', 'x'];
    fc.assert(
      fc.property(
        fc.constantFrom(...tables),
        fc.array(fc.oneof({ weight: 30, arbitrary: fc.nat(699) }, { weight: 1, arbitrary: fc.integer({ min: -others.length, max: -1 }) }), {
          minLength: 1,
          maxLength: BATCH,
        }),
        (t, picks) => {
          const wanted = picks.map((k) => (k < 0 ? others[-k - 1]! : keys[k]!));
          const { batch, b } = batchOf(wanted);
          const ok = batch.resolve(t, b, wanted.length);
          const unknown = picks.findIndex((k) => k < 0);
          expect(ok).toBe(unknown < 0 ? wanted.length : unknown);
          expect(Array.from(batch.idx.subarray(0, ok))).toEqual(picks.slice(0, ok));
          expect(wanted.map((id) => t.indexOf(id))).toEqual(picks.map((k) => (k < 0 ? -1 : k)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('when a key is not digits of the width, or is 2^32 or more, then the table hashes bytes, and keeps every key found', () => {
    const digits = (t: IdTable) => t.hashIndex().digits;
    expect([digitValue(enc.encode('4294967295'), 0, 10), digitValue(enc.encode('4294967296'), 0, 10)]).toEqual([4294967295, -1]);
    expect(digitHash(1)).not.toBe(digitHash(2));
    expect(digits(tableOf(['0001', '0002', '4294967296']))).toBe(false);
    expect(digits(tableOf(['0001', '002']))).toBe(false);
    // Digits first, then a key of another form: the index goes back to bytes, on insert and on a join.
    const many = Array.from({ length: 40 }, (_, i) => String(i * 3).padStart(4, '0'));
    const t = tableOf(many);
    expect(digits(t)).toBe(true);
    expect(t.insert(enc.encode('00a1'), 0, 4)).toBe(40);
    expect(digits(t)).toBe(false);
    expect([t.insert(enc.encode('0003'), 0, 4), t.indexOf('00a1'), t.indexOf('0117'), t.indexOf('0118')]).toEqual([1, 40, 39, -1]);
    const got = batchOf(['0117', '00a1', '0000']);
    expect(got.batch.resolve(t, got.b, 3)).toBe(3);
    expect(Array.from(got.batch.idx.subarray(0, 3))).toEqual([39, 40, 0]);
    const u = tableOf(['1234', '5678']);
    u.appendKeys({ n: 1, keys: enc.encode('12345'), offsets: Uint32Array.of(0, 5) });
    u.buildIndex();
    expect([digits(u), u.indexOf('12345'), u.indexOf('5678')]).toEqual([false, 2, 1]);
  });

  it('when only some records of a batch need their index then the others are checked against the presence bitmap, and the batch stops at the same record', () => {
    const keys = Array.from({ length: 700 }, (_, i) => String(50_000 + i * 3).padStart(8, '0'));
    const near = tableOf(keys);
    // One key far from the others: the span is too wide for a bitmap, the slots answer.
    const wide = tableOf([...keys, '90000000']);
    expect(near.presence()).not.toBeNull();
    expect(wide.presence()).toBeNull();
    expect(tableOf(['A1', 'B2']).presence()).toBeNull();
    const others = ['00050001', '00049999', '00052101', '00000000', '99999999', '0005000x', '0050000'];
    fc.assert(
      fc.property(
        fc.constantFrom(near, wide),
        fc.array(
          fc.tuple(
            fc.oneof({ weight: 30, arbitrary: fc.nat(699) }, { weight: 1, arbitrary: fc.integer({ min: -others.length, max: -1 }) }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: BATCH },
        ),
        (t, picks) => {
          const wanted = picks.map(([k]) => (k < 0 ? others[-k - 1]! : keys[k]!));
          const { batch, b } = batchOf(wanted);
          picks.forEach(([, need], k) => {
            batch.need[k] = need ? 1 : 0;
          });
          const ok = batch.resolve(t, b, wanted.length, true);
          const unknown = picks.findIndex(([k]) => k < 0);
          expect(ok).toBe(unknown < 0 ? wanted.length : unknown);
          picks.slice(0, ok).forEach(([k, need], r) => {
            if (need || t === wide) expect(batch.idx[r]).toBe(k);
            else expect(batch.idx[r]).toBe(PRESENT);
          });
        },
      ),
      { numRuns: 100 },
    );
    // A key added later is in the bitmap made next.
    near.insert(enc.encode('00052101'), 0, 8);
    const got = batchOf(['00052101']);
    got.batch.need[0] = 0;
    expect(got.batch.resolve(near, got.b, 1, true)).toBe(1);
  });
});
