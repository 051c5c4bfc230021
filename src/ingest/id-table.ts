/**
 * Subscriber id → dense index without a JavaScript string per lookup: an
 * open-addressing hash table keyed by bytes.
 *
 * - The keys' bytes lie end to end in one slab (`keys`), key i at
 *   keys[offsets[i] .. offsets[i + 1]).
 * - `slots` holds pairs (hash, index + 1), linear probing, 0 = empty, load at most 5/8.
 * - Lookups hash the bytes of a CSV field in place and compare bytes on a hash hit.
 *   Extracts are usually sorted like subscribers.csv, so the key of the last lookup
 *   and the few after it are compared before hashing: a sorted extract is resolved
 *   with sequential memory reads only. Rows in no order are looked up a batch at a
 *   time instead (unsorted-ids.ts, over hashIndex()).
 * - Keys of one width (ids padded to it) are found at i * width, without offsets.
 * - Keys that are all decimal digits of one width, with values below 2^32 (numeric
 *   ids, the usual case), are hashed by their value through a bijection (digitHash):
 *   equal hashes are then equal keys, so a lookup that finds its hash in a slot is
 *   done without reading the key's bytes (one cache miss a scattered lookup, not two),
 *   and a field of any other form is not in the table without a probe.
 *
 * Two ways to fill it:
 * - insert(): one key at a time, duplicates found at once (small tables);
 * - append() all keys, then buildIndex(): the index is built in one go, slot region
 *   by slot region so that its random writes stay in cache (several times faster for
 *   millions of keys); duplicates are reported afterwards.
 *
 * A finished table can be shared with worker threads: share() returns its arrays in
 * SharedArrayBuffers and IdTable.fromShared() wraps them (lookups only). A table
 * made `shared` has them there from the start, so sharing it copies nothing.
 *
 * Trimming: field lookups ignore ASCII whitespace around the id. The reference
 * semantics are String#trim of the decoded field, which also strips Unicode spaces
 * (U+00A0, U+3000, U+FEFF, …); when the field may start or end with one, the lookup
 * decodes it and trims it as a string, so the two always agree.
 */
import type { RecordView } from './csv-scan.js';
import { fmix32, hashBytes } from '../util/hash.js';
import { writablePages } from '../util/pages.js';

export interface SharedIdTable {
  n: number;
  keys: Uint8Array;
  offsets: Uint32Array;
  slots: Int32Array;
  /** The slots hold digitHash of the keys (see IdTable.digits). */
  digits: boolean;
}

/** The keys of an unindexed table, as plain arrays (IdTable.keyParts, IdTable.concat). */
export interface IdKeys {
  n: number;
  keys: Uint8Array;
  offsets: Uint32Array;
}

/** Which digit values are keys (IdTable.presence): bit v - min of `bits`, for v - min below `size`. */
export interface DigitPresence {
  bits: Int32Array;
  min: number;
  size: number;
}

/** A presence bitmap is kept while the keys' values span at most this many values per key (4 bytes a key). */
const PRESENCE_SPAN = 32;

/** Returned by field lookups of a field that is empty after trimming. */
export const ID_EMPTY = -2;
/** Returned by lookups of an id that is not in the table. */
export const ID_UNKNOWN = -1;

/** How many keys after the last one found a lookup compares before it hashes (rows this near count as in order). */
export const WINDOW = 8;

function isWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Largest value a digit key may have for digitHash to stay a bijection (2^32 - 1). */
const DIGITS_MAX = 0xffffffff;

/**
 * The value of b[s..e) when it is only decimal digits, at most DIGITS_MAX; -1 otherwise.
 * (Digits of a key of 10 or fewer bytes never reach 2^53, so the sum is exact.)
 */
export function digitValue(b: Uint8Array, s: number, e: number): number {
  if (e - s > 10 || e <= s) return -1;
  let v = 0;
  for (let k = s; k < e; k++) {
    const c = b[k]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v <= DIGITS_MAX ? v : -1;
}

/** hashes[i] = digitHash of key i (keys of w bytes each); false, with hashes unfinished, at the first key not all digits. */
function digitHashes(keys: Uint8Array, w: number, n: number, hashes: Int32Array): boolean {
  for (let i = 0; i < n; i++) {
    const value = digitValue(keys, i * w, i * w + w);
    if (value < 0) return false;
    hashes[i] = digitHash(value);
  }
  return true;
}

function byteHashes(keys: Uint8Array, off: Uint32Array, n: number, hashes: Int32Array): void {
  for (let i = 0; i < n; i++) hashes[i] = hashBytes(keys, off[i]!, off[i + 1]!);
}

/** The key indexes by region of their home slot ((hash & mask) >>> shift), in index order within a region. */
function regionOrder(hashes: Int32Array, mask: number, shift: number, regions: number): Int32Array {
  const n = hashes.length;
  const starts = new Int32Array(regions + 1);
  for (let i = 0; i < n; i++) starts[((hashes[i]! & mask) >>> shift) + 1]!++;
  for (let r = 0; r < regions; r++) starts[r + 1]! += starts[r]!;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[starts[(hashes[i]! & mask) >>> shift]!++] = i;
  return order;
}

/**
 * The hash of a digit key by its value (digitValue, not -1): the murmur3 finaliser,
 * a bijection of 32-bit words, so two keys of one width with one hash are one key.
 */
export function digitHash(value: number): number {
  return fmix32(value | 0);
}

const encoder = new TextEncoder();
let scratchBytes: Uint8Array = new Uint8Array(256);

function capacityFor(n: number): number {
  let cap = 16;
  while (cap * 5 < n * 8) cap *= 2;
  return cap;
}

export class IdTable {
  private _n = 0;
  private keys: Uint8Array;
  private used = 0;
  private offsets: Uint32Array;
  private slots: Int32Array;
  private mask: number;
  /** False after append() until buildIndex() ran. */
  private indexed = true;
  private frozen = false;
  /** Index of the last key found (lookups start there). */
  private last = -1;
  /**
   * False after a lookup that the window after `last` would not have found: rows in
   * no order (a shuffled extract) then skip the window, whose reads would miss the
   * cache for nothing. A sorted extract turns it on again at its next near lookup.
   */
  private near = true;
  private keysView: Buffer | null = null;
  /** Lookups that the window after the last key found did not settle (they hashed): how scattered the rows are. */
  hashed = 0;
  /** The length of every key when they all have one (ids padded to a width, the usual case), else 0: key i is then at i * width. */
  private width = 0;
  /** Every key is `width` digits (digitValue not -1) and the slots hold digitHash: set by buildIndex(), or by the first insert(). */
  private digits = false;
  /** presence() as made for `presenceOf` keys (-1: not made since the last buildIndex()). */
  private presenceBits: DigitPresence | null = null;
  private presenceOf = -1;

  /**
   * `expected`: number of keys to size for; `keyBytes`: their total size, when known;
   * `indexed`: keys to size the hash index for (0 when they come by append());
   * `shared`: the arrays in SharedArrayBuffers (a table that worker threads will read).
   */
  constructor(
    expected = 1024,
    keyBytes = expected * 12,
    indexed = expected,
    private readonly shared = false,
  ) {
    const cap = capacityFor(indexed);
    this.slots = this.int32(cap * 2);
    this.mask = cap - 1;
    this.offsets = new Uint32Array(this.memory(4 * (Math.max(16, expected) + 1)));
    this.keys = new Uint8Array(this.memory(Math.max(256, keyBytes)));
  }

  private memory(bytes: number): ArrayBuffer | SharedArrayBuffer {
    return this.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  }

  private int32(n: number): Int32Array {
    return writablePages(new Int32Array(this.memory(4 * n)));
  }

  /** Wraps a table shared by another thread (lookups only). */
  static fromShared(s: SharedIdTable): IdTable {
    const t = new IdTable(1, 1);
    t._n = s.n;
    t.keys = s.keys;
    t.offsets = s.offsets;
    t.used = s.offsets[s.n]!;
    t.slots = s.slots;
    t.mask = (s.slots.length >> 1) - 1;
    t.frozen = true;
    t.measureWidth();
    t.digits = s.digits;
    return t;
  }

  /** Sets width from the offsets. */
  private measureWidth(): void {
    const off = this.offsets;
    const w = this._n > 0 ? off[1]! - off[0]! : 0;
    for (let i = 1; i < this._n && w > 0; i++) if (off[i + 1]! - off[i]! !== w) return void (this.width = 0);
    this.width = w;
  }

  get n(): number {
    return this._n;
  }

  /** True for a table whose arrays live in SharedArrayBuffers (made by share() or fromShared()). */
  get isShared(): boolean {
    return this.keys.buffer instanceof SharedArrayBuffer;
  }

  /** Bytes held by the table. */
  get byteSize(): number {
    return this.keys.byteLength + this.offsets.byteLength + this.slots.byteLength;
  }

  /**
   * The table's arrays in SharedArrayBuffers, for worker threads. The table must not
   * change afterwards (it is frozen).
   */
  share(): SharedIdTable {
    this.requireIndex();
    const copy = <T extends Uint8Array | Uint32Array | Int32Array>(a: T, len: number, make: (sab: SharedArrayBuffer) => T): T => {
      if (a.buffer instanceof SharedArrayBuffer) return a.subarray(0, len) as T;
      const out = make(new SharedArrayBuffer(Math.max(1, len) * a.BYTES_PER_ELEMENT));
      out.set(a.subarray(0, len) as never);
      return out;
    };
    this.keys = copy(this.keys, this.used, (b) => new Uint8Array(b));
    this.offsets = copy(this.offsets, this._n + 1, (b) => new Uint32Array(b));
    this.slots = copy(this.slots, this.slots.length, (b) => new Int32Array(b));
    this.keysView = null;
    this.frozen = true;
    return { n: this._n, keys: this.keys, offsets: this.offsets, slots: this.slots, digits: this.digits };
  }

  /** Key i as a string (UTF-8). */
  keyString(i: number): string {
    if (this.keysView === null || this.keysView.buffer !== this.keys.buffer) {
      this.keysView = Buffer.from(this.keys.buffer, this.keys.byteOffset, this.keys.byteLength);
    }
    return this.keysView.toString('utf8', this.offsets[i]!, this.offsets[i + 1]!);
  }

  /** Key i's bytes equal b[s..e)? (Compared from the end: sorted ids share their heads.) */
  private equalsAt(i: number, b: Uint8Array, s: number, e: number): boolean {
    const len = e - s;
    const w = this.width;
    let o = i * w;
    // (Keys of one width: no offsets to read, one cache miss less on a scattered lookup.)
    if (w > 0 ? len !== w : this.offsets[i + 1]! - (o = this.offsets[i]!) !== len) return false;
    const keys = this.keys;
    for (let k = len - 1; k >= 0; k--) if (keys[o + k] !== b[s + k]) return false;
    return true;
  }

  private requireIndex(): void {
    if (!this.indexed) throw new Error('IdTable: buildIndex() must run after append()');
  }

  /** Index of the key b[s..e) (exact bytes), or ID_UNKNOWN. */
  find(b: Uint8Array, s: number, e: number): number {
    const n = this._n;
    const last = this.last;
    // (Rows in no order, digit keys: the last key's bytes are not in the cache, the lookup
    // below read only its slot; comparing them would cost a miss for nothing.)
    if (last >= 0 && (this.near || !this.digits) && this.equalsAt(last, b, s, e)) return last;
    const lim = Math.min(n, last + 1 + WINDOW);
    if (this.near) for (let i = last + 1; i < lim; i++) if (this.equalsAt(i, b, s, e)) return (this.last = i);
    return this.findHashed(b, s, e);
  }

  /**
   * find() past the window: for a caller that compared the last key found and the
   * WINDOW after it itself (plain-rows.ts nearId), or find() once the window missed.
   */
  findHashed(b: Uint8Array, s: number, e: number): number {
    if (!this.indexed) this.requireIndex();
    this.hashed++;
    const last = this.last;
    const digits = this.digits;
    let h: number;
    if (digits) {
      const value = e - s === this.width ? digitValue(b, s, e) : -1;
      if (value < 0) return ID_UNKNOWN;
      h = digitHash(value);
    } else {
      h = hashBytes(b, s, e);
    }
    const slots = this.slots;
    const mask = this.mask;
    for (let j = h & mask; ; j = (j + 1) & mask) {
      const v = slots[2 * j + 1]!;
      if (v === 0) return ID_UNKNOWN;
      if (slots[2 * j] === h && (digits || this.equalsAt(v - 1, b, s, e))) {
        this.near = v - 1 > last && v - 1 <= last + WINDOW;
        return (this.last = v - 1);
      }
    }
  }

  /**
   * Key i was found by a caller that compares ids in place (plain-rows.ts nearId):
   * the next lookup starts there, as after find() of it (rows near each other).
   */
  foundAt(i: number): void {
    if (i < 0 || i >= this._n) return;
    this.last = i;
    this.near = true;
  }

  /** The hash index's arrays, for lookups of many keys at once (unsorted-ids.ts): slots as find() reads them, hashed by digitHash when `digits`. */
  hashIndex(): { slots: Int32Array; mask: number; offsets: Uint32Array; keys: Uint8Array; width: number; digits: boolean } {
    this.requireIndex();
    return { slots: this.slots, mask: this.mask, offsets: this.offsets, keys: this.keys, width: this.width, digits: this.digits };
  }

  /**
   * For a table of digit keys whose values span at most PRESENCE_SPAN values a key: a
   * bit per value of the span, set for the keys' (made on first use). Whether an id is
   * a key, without its index, then costs a read that stays in the cache (1M ids spread
   * over 7M values: 875 KB) instead of a slot's cache miss. Null for any other table.
   */
  presence(): DigitPresence | null {
    this.requireIndex();
    if (this.presenceOf === this._n) return this.presenceBits;
    this.presenceOf = this._n;
    this.presenceBits = null;
    const n = this._n;
    const w = this.width;
    if (!this.digits || n === 0) return null;
    const keys = this.keys;
    let min = Infinity;
    let max = -1;
    for (let i = 0; i < n; i++) {
      const v = digitValue(keys, i * w, i * w + w);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const size = max - min + 1;
    if (size > PRESENCE_SPAN * n) return null;
    const bits = new Int32Array((size + 31) >>> 5);
    for (let i = 0; i < n; i++) {
      const o = digitValue(keys, i * w, i * w + w) - min;
      bits[o >>> 5]! |= 1 << (o & 31);
    }
    this.presenceBits = { bits, min, size };
    return this.presenceBits;
  }

  /** The slots' hash of a key: digitHash of its value in a table of digit keys (-1 there, with no hash, for a key of another form). */
  private hashOf(b: Uint8Array, s: number, e: number): number {
    if (!this.digits) return hashBytes(b, s, e);
    const value = e - s === this.width || this._n === 0 ? digitValue(b, s, e) : -1;
    return value < 0 ? -1 : digitHash(value);
  }

  private pushKey(b: Uint8Array, s: number, e: number): number {
    if (this.frozen) throw new Error('IdTable: the table is shared and read-only');
    const i = this._n;
    const len = e - s;
    if (this.used + len > this.keys.length) {
      let size = this.keys.length * 2;
      while (size < this.used + len) size *= 2;
      const k = new Uint8Array(this.memory(size));
      k.set(this.keys.subarray(0, this.used));
      this.keys = k;
    }
    if (i + 2 > this.offsets.length) {
      const o = new Uint32Array(this.memory(this.offsets.length * 8));
      o.set(this.offsets);
      this.offsets = o;
    }
    const keys = this.keys;
    for (let k = 0, o = this.used; k < len; k++) keys[o + k] = b[s + k]!;
    this.used += len;
    this.offsets[i + 1] = this.used;
    this._n = i + 1;
    this.width = i === 0 || len === this.width ? len : 0;
    return i;
  }

  /**
   * Adds the key b[s..e) as index n and returns n, or returns the existing index
   * when the key is already there (nothing is added then).
   */
  insert(b: Uint8Array, s: number, e: number): number {
    this.requireIndex();
    // The first key decides how an empty index hashes (it holds no hash yet).
    if (this._n === 0) this.digits = digitValue(b, s, e) >= 0;
    else if (this.digits && (e - s !== this.width || digitValue(b, s, e) < 0)) {
      // The first key of another form: not one of these, and the index goes back to hashing bytes.
      const i = this.pushKey(b, s, e);
      this.buildIndex();
      return i;
    }
    const h = this.hashOf(b, s, e);
    const slots = this.slots;
    const mask = this.mask;
    let j = h & mask;
    for (; ; j = (j + 1) & mask) {
      const v = slots[2 * j + 1]!;
      if (v === 0) break;
      if (slots[2 * j] === h && this.equalsAt(v - 1, b, s, e)) return v - 1;
    }
    const i = this.pushKey(b, s, e);
    if ((i + 1) * 8 > (mask + 1) * 5) {
      this.buildIndex();
    } else {
      slots[2 * j] = h;
      slots[2 * j + 1] = i + 1;
    }
    return i;
  }

  /**
   * append() of a key that sorts after the last key added (bytes compared; a key sorts
   * after every key it begins with), returning its index; ID_UNKNOWN, and nothing added,
   * for any other key. Keys added by it alone are distinct, with no index to keep.
   */
  appendAbove(b: Uint8Array, s: number, e: number): number {
    const n = this._n;
    if (n > 0) {
      const keys = this.keys;
      const o = this.offsets[n - 1]!;
      const la = this.offsets[n]! - o;
      const lb = e - s;
      const m = Math.min(la, lb);
      let k = 0;
      while (k < m && keys[o + k] === b[s + k]) k++;
      if (k < m ? keys[o + k]! > b[s + k]! : lb <= la) return ID_UNKNOWN;
    }
    return this.append(b, s, e);
  }

  /** Adds the key b[s..e) as index n without looking for it (buildIndex() must run before lookups). */
  append(b: Uint8Array, s: number, e: number): number {
    this.indexed = false;
    return this.pushKey(b, s, e);
  }

  /**
   * Builds the hash index over all keys. Returns null when the keys are distinct;
   * otherwise firstOf, where firstOf[i] is the first index holding key i's bytes (i
   * itself for a first occurrence), and lookups of a repeated key give its first index.
   */
  buildIndex(): Int32Array | null {
    if (this.frozen) throw new Error('IdTable: the table is shared and read-only');
    const n = this._n;
    const cap = capacityFor(n);
    const mask = cap - 1;
    const keys = this.keys;
    const off = this.offsets;
    const hashes = new Int32Array(n);
    this.presenceOf = -1;
    const w = this.width;
    // Each pass over the keys is a function of its own: V8 compiles a long loop on the
    // stack, and the code after it in the same function had never run then, so each
    // next loop of one long function cost a deoptimization and a new compile (14-22
    // of them in one ingest).
    const digits = w > 0 && digitHashes(keys, w, n, hashes);
    this.digits = digits;
    if (!digits) byteHashes(keys, off, n, hashes);
    // Bucket the keys by the region of the table their home slot lies in (regions of
    // 256 KiB), keeping index order within a region, then fill region by region.
    let regionBits = 0;
    while (regionBits < 16 && (cap >>> regionBits) * 8 > 1 << 18) regionBits++;
    const order = regionOrder(hashes, mask, Math.log2(cap) - regionBits, 1 << regionBits);
    const slots = this.int32(cap * 2);
    const firstOf = this.placeKeys(order, hashes, slots, mask);
    this.slots = slots;
    this.mask = mask;
    this.indexed = true;
    this.last = -1;
    return firstOf;
  }

  /** Puts each key of `order` in the slots (its hash and index + 1); null, or each key's first equal key. */
  private placeKeys(order: Int32Array, hashes: Int32Array, slots: Int32Array, mask: number): Int32Array | null {
    const n = order.length;
    const keys = this.keys;
    const off = this.offsets;
    let firstOf: Int32Array | null = null;
    for (let q = 0; q < n; q++) {
      const i = order[q]!;
      const h = hashes[i]!;
      let j = h & mask;
      let dup = -1;
      for (; ; j = (j + 1) & mask) {
        const v = slots[2 * j + 1]!;
        if (v === 0) break;
        if (slots[2 * j] === h && this.equalsAt(v - 1, keys, off[i]!, off[i + 1]!)) {
          dup = v - 1;
          break;
        }
      }
      if (dup < 0) {
        slots[2 * j] = h;
        slots[2 * j + 1] = i + 1;
      } else {
        // Equal keys share a home slot, hence a region, and come in index order: `dup` is the first.
        if (firstOf === null) {
          firstOf = new Int32Array(n);
          for (let k = 0; k < n; k++) firstOf[k] = k;
        }
        firstOf[i] = dup;
      }
    }
    return firstOf;
  }

  /** The keys as appended (no index), to post a byte range's table to another thread and join it there (concat). */
  keyParts(): IdKeys {
    return { n: this._n, keys: this.keys.subarray(0, this.used), offsets: this.offsets.subarray(0, this._n + 1) };
  }

  /** Appends the keys of another table (keyParts) after these, not indexed (buildIndex() must run before lookups). */
  appendKeys(p: IdKeys): void {
    if (this.frozen) throw new Error('IdTable: the table is shared and read-only');
    const bytes = p.offsets[p.n]!;
    if (this.used + bytes > this.keys.length) {
      const k = new Uint8Array(this.memory(this.used + bytes));
      k.set(this.keys.subarray(0, this.used));
      this.keys = k;
    }
    if (this._n + p.n + 1 > this.offsets.length) {
      const o = new Uint32Array(this.memory(4 * (this._n + p.n + 1)));
      o.set(this.offsets.subarray(0, this._n + 1));
      this.offsets = o;
    }
    this.keys.set(p.keys.subarray(0, bytes), this.used);
    for (let k = 1; k <= p.n; k++) this.offsets[this._n + k] = this.used + p.offsets[k]!;
    this._n += p.n;
    this.used += bytes;
    this.indexed = false;
    this.last = -1;
    this.measureWidth();
  }

  /** Keeps only the keys with keep[i] set (renumbering them in order); buildIndex() must run again. */
  compact(keep: Uint8Array): void {
    if (this.frozen) throw new Error('IdTable: the table is shared and read-only');
    const n = this._n;
    const keys = this.keys;
    const off = this.offsets;
    let m = 0;
    let used = 0;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      const s = off[i]!,
        e = off[i + 1]!;
      keys.copyWithin(used, s, e);
      used += e - s;
      off[++m] = used;
    }
    this._n = m;
    this.used = used;
    this.indexed = false;
    this.last = -1;
    this.measureWidth();
  }

  /** Index of a string key, or ID_UNKNOWN (tests and callers outside the hot loops). */
  indexOf(id: string): number {
    const bytes = encoder.encode(id);
    return this.find(bytes, 0, bytes.length);
  }

  /**
   * Index of the id in field i of the record, trimmed as String#trim would trim
   * it: ID_EMPTY when nothing is left, ID_UNKNOWN when it is not in the table.
   */
  findField(rec: RecordView, i: number): number {
    if (i < 0 || i >= rec.count) return ID_EMPTY;
    const b = rec.buf;
    const s = rec.start[i]!;
    const e = rec.end[i]!;
    if (s < e) {
      // The usual case: no space or non-ASCII byte at either end.
      const c0 = b[s]!,
        c1 = b[e - 1]!;
      if (c0 > 0x20 && c0 < 0x80 && c1 > 0x20 && c1 < 0x80) return this.find(b, s, e);
    }
    const t = fieldKey(rec, i);
    return t === null ? ID_EMPTY : this.find(t.b, t.s, t.e);
  }

  /** insert() of the trimmed id of field i (see findField); ID_EMPTY when it is empty. */
  insertField(rec: RecordView, i: number): number {
    const t = fieldKey(rec, i);
    return t === null ? ID_EMPTY : this.insert(t.b, t.s, t.e);
  }

  /** append() of the trimmed id of field i (see findField); ID_EMPTY when it is empty. */
  appendField(rec: RecordView, i: number): number {
    const t = fieldKey(rec, i);
    return t === null ? ID_EMPTY : this.append(t.b, t.s, t.e);
  }
}

/** The trimmed key bytes of a field (see IdTable.findField), null when empty; valid until the next call. */
const keyRange: { b: Uint8Array; s: number; e: number } = { b: new Uint8Array(0), s: 0, e: 0 };
export function fieldKey(rec: RecordView, i: number): { b: Uint8Array; s: number; e: number } | null {
  if (i < 0 || i >= rec.count) return null;
  const b = rec.buf;
  let s = rec.start[i]!;
  let e = rec.end[i]!;
  while (s < e && isWs(b[s]!)) s++;
  while (e > s && isWs(b[e - 1]!)) e--;
  if (s === e) return null;
  if ((b[s]! | b[e - 1]!) >= 0x80 && mayHaveUnicodeSpace(b, s, e)) {
    const t = unicodeTrim(b, s, e);
    if (t === null) return null;
    if (t !== undefined) {
      keyRange.b = t;
      keyRange.s = 0;
      keyRange.e = t.length;
      return keyRange;
    }
  }
  keyRange.b = b;
  keyRange.s = s;
  keyRange.e = e;
  return keyRange;
}

/**
 * False when b[s..e) can neither start nor end with a non-ASCII character that
 * String#trim removes (U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000, U+FEFF: lead bytes C2, E1, E2, E3, EF).
 */
export function mayHaveUnicodeSpace(b: Uint8Array, s: number, e: number): boolean {
  const lead = (c: number) => c === 0xc2 || c === 0xe1 || c === 0xe2 || c === 0xe3 || c === 0xef;
  if (lead(b[s]!)) return true;
  if (e - s >= 2 && b[e - 2] === 0xc2) return true;
  return e - s >= 3 && lead(b[e - 3]!);
}

/**
 * For bytes that may start or end with a Unicode space: the UTF-8 of the String#trim
 * of their decoding when trimming removes something (null when nothing is left),
 * undefined when the bytes are already trimmed.
 */
export function unicodeTrim(b: Uint8Array, s: number, e: number): Uint8Array | null | undefined {
  const text = Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('utf8');
  const t = text.trim();
  if (t.length === text.length) return undefined;
  if (t === '') return null;
  if (scratchBytes.length < t.length * 3) scratchBytes = new Uint8Array(t.length * 3);
  const { written } = encoder.encodeInto(t, scratchBytes);
  return scratchBytes.subarray(0, written);
}
