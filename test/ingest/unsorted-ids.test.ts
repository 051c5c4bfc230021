/**
 * Batched id lookups (unsorted-ids.ts) against IdTable.find one at a time: the same
 * indexes, the batch cut at the first unknown id, keys of one width found without
 * their offsets however the table was made (inserted, appended, joined, compacted,
 * shared), and two ids of one 32-bit hash told apart.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashBytes, IdTable } from '../../src/ingest/id-table.js';
import { BATCH, IdBatch } from '../../src/ingest/unsorted-ids.js';

const enc = new TextEncoder();
/** Two ids of one 32-bit hash (as in id-table.test.ts). */
const COLLIDING = ['id43zx', 'idbpad'] as const;

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
});
