/**
 * Subscriber ids of rows in no order (a shuffled extract), looked up a batch at a time.
 *
 * A sorted extract is resolved by IdTable.find from the last id found, with sequential
 * reads. Rows in no order miss that window, and each lookup is then three dependent
 * cache misses (hash slot, key offsets, key bytes) on tables far larger than the
 * cache: about half a microsecond a row, most of the cost of reading a shuffled
 * usage_daily. Looked up one row at a time, the misses come one after another; here
 * the ids of a batch of records are hashed first, then every slot is read, then every
 * offset, then every key, each step a loop whose reads do not depend on each other, so
 * that the processor has many misses outstanding at once (3-4 × fewer CPU seconds for
 * the lookups alone, measured on 12M lookups in a 1M-key table). Ids of digits alone
 * (IdTable's digits) need only the slot: half the CPU again.
 *
 * The fast path (plain-rows.ts) collects a batch of parsed records (where each id lies,
 * the values, where the record starts) and folds them, in file order, once their ids
 * are resolved; a record whose id is not in the table ends the batch there, and the
 * general reader takes it, exactly as when the fast path looks ids up one at a time.
 * Which way a file's chunk goes is decided from the chunk before (`on`): batches once
 * most lookups miss the window, one at a time again once most ids follow the last one.
 */
import { hashBytes } from '../util/hash.js';
import { digitHash, digitValue, type IdTable, WINDOW } from './id-table.js';

/** IdBatch.idx of a record only checked to be a key (IdBatch.resolve's `needed`). */
export const PRESENT = -2;

/** Records per batch: enough misses in flight, small enough to stay in the cache. */
export const BATCH = 256;

export class IdBatch {
  /** Look ids up a batch at a time (rows in no order), or one at a time (false). */
  on: boolean;
  /** Keep `on` as it is whatever the rows' order (tests). */
  readonly fixed: boolean;
  /** Where record k's id lies in the chunk: [starts[k], ends[k]). */
  readonly starts = new Int32Array(BATCH);
  readonly ends = new Int32Array(BATCH);
  /** Where record k starts, and the line feeds the scan had passed there (to stop at a record). */
  readonly rows = new Int32Array(BATCH);
  readonly lines = new Float64Array(BATCH);
  /** Record k's values at values[k * width ...] (the fold's values, restored before it is called). */
  readonly values: Float64Array;
  /** Record k's subscriber index, after resolve() (PRESENT for a record whose index was not needed). */
  readonly idx = new Int32Array(BATCH);
  /** need[k] = 0: record k is not folded, only its id must be a key (resolve's `need`). */
  readonly need = new Uint8Array(BATCH);
  private readonly hashes = new Int32Array(BATCH);
  private readonly found = new Int32Array(BATCH);

  /**
   * `width`: the length of the fold's values; `on`: batched (true), one at a time
   * (false), or as the rows' order says (undefined). InputOptions.idBatch fixes it for
   * every reader of a run (tests, diagnosis, A/B timing).
   */
  constructor(width: number, on?: boolean) {
    this.values = new Float64Array(BATCH * Math.max(1, width));
    this.on = on ?? false;
    this.fixed = on !== undefined;
  }

  /**
   * Resolves the ids of records 0..n-1 of chunk b into idx; returns how many, from
   * the first, are in the table (n when all are): the record after them is left to
   * the general reader. The same indexes as IdTable.find, which settles what the
   * batched probe cannot (two keys with one hash). With `needed` true, a record k
   * with need[k] = 0 may get PRESENT instead of its index: it is only checked to be a key.
   */
  resolve(table: IdTable, b: Uint8Array, n: number, needed = false): number {
    const ok = table.hashIndex().digits ? this.resolveDigits(table, b, n, needed) : this.resolveBytes(table, b, n);
    const idx = this.idx;
    if (!this.fixed && ok > 1) {
      // Indexes of consecutive records that have one, as many pairs as records when all have.
      let near = 0;
      let pairs = 1;
      let prev = -1;
      for (let k = 0; k < ok; k++) {
        const i = idx[k]!;
        if (i < 0) continue;
        if (prev >= 0) {
          pairs++;
          const d = i - prev;
          if (d >= 0 && d <= WINDOW) near++;
        }
        prev = i;
      }
      if (near * 2 > pairs) this.on = false;
    }
    return ok;
  }

  /**
   * resolve() in a table of digit keys: a slot holding the id's hash holds its key (the
   * hash is a bijection there), so each lookup reads one slot and no key bytes, and an
   * id of another form is not in the table. A record that is not folded (`needed`) is
   * looked up in the table's presence bitmap, which stays in the cache, when it has one.
   */
  private resolveDigits(table: IdTable, b: Uint8Array, n: number, needed: boolean): number {
    const { slots, mask, width } = table.hashIndex();
    const { starts, ends, hashes, found, idx, need } = this;
    const presence = needed ? table.presence() : null;
    let ok = n;
    for (let k = 0; k < n; k++) {
      const s = starts[k]!;
      const value = ends[k]! - s === width ? digitValue(b, s, s + width) : -1;
      if (value < 0) {
        ok = k;
        break;
      }
      idx[k] = 0;
      if (presence !== null && need[k] === 0) {
        const o = value - presence.min;
        if (o < 0 || o >= presence.size || (presence.bits[o >>> 5]! & (1 << (o & 31))) === 0) {
          ok = k;
          break;
        }
        idx[k] = PRESENT;
      }
      hashes[k] = digitHash(value);
    }
    firstSlots(slots, mask, hashes, found, ok, idx);
    for (let k = 0; k < ok; k++) {
      if (idx[k] === PRESENT) continue;
      idx[k] = found[k]! - 1;
      if (idx[k]! < 0) return k;
    }
    return ok;
  }

  /** resolve() in a table hashed by bytes: slot, then the key's end bytes, then the whole key. */
  private resolveBytes(table: IdTable, b: Uint8Array, n: number): number {
    const { slots, mask, offsets, keys, width } = table.hashIndex();
    const { starts, ends, hashes, found, idx } = this;
    for (let k = 0; k < n; k++) hashes[k] = hashBytes(b, starts[k]!, ends[k]!);
    firstSlots(slots, mask, hashes, found, n, null);
    // Its key's offset, when the lengths agree (-1 otherwise): one miss less when every key has one length.
    if (width > 0) {
      for (let k = 0; k < n; k++) idx[k] = found[k]! !== 0 && ends[k]! - starts[k]! === width ? (found[k]! - 1) * width : -1;
    } else {
      for (let k = 0; k < n; k++) {
        const v = found[k]!;
        if (v === 0) {
          idx[k] = -1;
          continue;
        }
        const o = offsets[v - 1]!;
        idx[k] = offsets[v]! - o === ends[k]! - starts[k]! ? o : -1;
      }
    }
    // Its first and last bytes, each row's reads on their own so that they overlap (the
    // comparison below, a loop per row, would wait for each row's miss in turn).
    for (let k = 0; k < n; k++) {
      const o = idx[k]!;
      if (o >= 0 && (keys[o]! !== b[starts[k]!] || keys[o + ends[k]! - starts[k]! - 1] !== b[ends[k]! - 1])) idx[k] = -1;
    }
    let ok = n;
    for (let k = 0; k < n; k++) {
      const v = found[k]!;
      const s = starts[k]!;
      const e = ends[k]!;
      let i = -1;
      if (v !== 0) {
        const o = idx[k]!;
        if (o >= 0) {
          let d = e - s - 1;
          while (d >= 0 && keys[o + d] === b[s + d]) d--;
          if (d < 0) i = v - 1;
        }
        // Another key with the same hash came first in the probe: the table's own lookup.
        if (i < 0) i = table.find(b, s, e);
      }
      idx[k] = i;
      if (i < 0) {
        ok = k;
        break;
      }
    }
    return ok;
  }

  /** After a chunk looked up one row at a time: batches from the next when most of its `records` missed the window (`hashed` of them). */
  observe(hashed: number, records: number): void {
    if (!this.fixed && records >= 64 && hashed * 2 > records) this.on = true;
  }
}

/**
 * found[k] = the first slot holding hashes[k] (its index + 1), 0 when there is none, for
 * k < n but those with skip[k] = PRESENT: reads that do not wait for each other.
 */
function firstSlots(slots: Int32Array, mask: number, hashes: Int32Array, found: Int32Array, n: number, skip: Int32Array | null): void {
  for (let k = 0; k < n; k++) {
    if (skip !== null && skip[k] === PRESENT) continue;
    const h = hashes[k]!;
    let v = 0;
    for (let j = h & mask; ; j = (j + 1) & mask) {
      const w = slots[2 * j + 1]!;
      if (w === 0 || slots[2 * j] === h) {
        v = w;
        break;
      }
    }
    found[k] = v;
  }
}
