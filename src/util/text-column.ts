/**
 * A column of text as UTF-8 bytes end to end with offsets: value i is
 * bytes[offsets[i] .. offsets[i + 1]). The subscriber table keeps its text
 * attributes (ids, phone numbers, names, regions, …) this way instead of as one
 * JavaScript string per row: ingest copies a field's bytes without decoding it, the
 * writers copy them out again without encoding, the memory is two flat buffers the
 * garbage collector never walks, and the same buffers are an Arrow Utf8 column
 * (Int32 offsets) without a copy.
 *
 * Order: compare() orders by bytes, which for UTF-8 is Unicode code point order.
 */
import { sharedColumns } from './worker.js';
import { hashBytes } from './hash.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A column's bytes may not pass what Int32 offsets can address (the Arrow Utf8 limit). */
export const TEXT_COLUMN_MAX_BYTES = 0x7fffffff;

export class TextColumn {
  constructor(
    readonly bytes: Uint8Array,
    readonly offsets: Int32Array,
    readonly length: number,
  ) {
    if (offsets.length < length + 1) throw new Error('TextColumn: offsets shorter than length + 1');
  }

  static from(values: readonly string[]): TextColumn {
    const b = new TextColumnBuilder(values.length);
    for (const v of values) b.pushString(v);
    return b.finish();
  }

  start(i: number): number {
    return this.offsets[i]!;
  }

  end(i: number): number {
    return this.offsets[i + 1]!;
  }

  byteLength(i: number): number {
    return this.offsets[i + 1]! - this.offsets[i]!;
  }

  /** Value i decoded (for the few places that need a string: explain, messages, tests). */
  get(i: number): string {
    if (i < 0 || i >= this.length) throw new RangeError(`TextColumn: index ${i} out of range`);
    return decoder.decode(this.bytes.subarray(this.offsets[i]!, this.offsets[i + 1]!));
  }

  toArray(): string[] {
    const out = new Array<string>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.get(i);
    return out;
  }

  /** Byte order of values a and b: negative, 0 or positive. */
  compare(a: number, b: number): number {
    const o = this.offsets,
      bytes = this.bytes;
    let p = o[a]!,
      q = o[b]!;
    const pe = o[a + 1]!,
      qe = o[b + 1]!;
    while (p < pe && q < qe) {
      const d = bytes[p]! - bytes[q]!;
      if (d !== 0) return d;
      p++;
      q++;
    }
    return pe - p - (qe - q);
  }

  /** The first index holding exactly `text`, or -1. */
  indexOf(text: string): number {
    const want = encoder.encode(text);
    const o = this.offsets,
      bytes = this.bytes,
      n = want.length;
    outer: for (let i = 0; i < this.length; i++) {
      const s = o[i]!;
      if (o[i + 1]! - s !== n) continue;
      for (let k = 0; k < n; k++) if (bytes[s + k] !== want[k]) continue outer;
      return i;
    }
    return -1;
  }

  /** The values whose keep[i] is non-zero, in order. */
  filter(keep: Uint8Array): TextColumn {
    const b = new TextColumnBuilder(this.length, this.offsets[this.length]!);
    for (let i = 0; i < this.length; i++) if (keep[i]) b.pushBytes(this.bytes, this.offsets[i]!, this.offsets[i + 1]!);
    return b.finish();
  }
}

/** Builds a TextColumn value by value; the buffers grow by doubling. */
export class TextColumnBuilder {
  private bytes: Uint8Array;
  private offsets: Int32Array;
  private n = 0;
  private used = 0;

  /**
   * `shared`: the buffers in shared memory, for a column that a worker thread reads
   * while this one still uses it (the subscriber ids, which the score-files worker
   * writes out): it is then handed over without a copy.
   */
  constructor(
    expected = 1024,
    expectedBytes = expected * 12,
    private readonly shared = false,
  ) {
    this.bytes = this.newBytes(Math.max(64, expectedBytes));
    this.offsets = this.newOffsets(Math.max(16, expected) + 1);
  }

  private newBytes(size: number): Uint8Array {
    return new Uint8Array(this.shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  }

  private newOffsets(size: number): Int32Array {
    return new Int32Array(this.shared ? new SharedArrayBuffer(size * 4) : new ArrayBuffer(size * 4));
  }

  get length(): number {
    return this.n;
  }

  private room(extra: number): void {
    if (this.n + 1 >= this.offsets.length) {
      const o = this.newOffsets(this.offsets.length * 2);
      o.set(this.offsets);
      this.offsets = o;
    }
    const need = this.used + extra;
    if (need > this.bytes.length) {
      if (need > TEXT_COLUMN_MAX_BYTES) throw new RangeError('TextColumn: more than 2 GiB of text in one column');
      const b = this.newBytes(Math.min(TEXT_COLUMN_MAX_BYTES, Math.max(need, this.bytes.length * 2)));
      b.set(this.bytes.subarray(0, this.used));
      this.bytes = b;
    }
  }

  pushBytes(src: Uint8Array, s: number, e: number): void {
    const len = e - s;
    if (this.n + 1 >= this.offsets.length || this.used + len > this.bytes.length) this.room(len);
    const dst = this.bytes;
    let u = this.used;
    if (len <= 32) for (let k = s; k < e; k++) dst[u++] = src[k]!;
    else {
      dst.set(src.subarray(s, e), u);
      u += len;
    }
    this.used = u;
    this.offsets[++this.n] = u;
  }

  pushString(value: string): void {
    if (value.length === 0) {
      this.pushBytes(this.bytes, 0, 0);
      return;
    }
    this.room(value.length * 3);
    this.used += encoder.encodeInto(value, this.bytes.subarray(this.used)).written;
    this.offsets[++this.n] = this.used;
  }

  /** The column so far: a view of the builder's buffers, valid until the next push. */
  current(): TextColumn {
    return new TextColumn(this.bytes.subarray(0, this.used), this.offsets.subarray(0, this.n + 1), this.n);
  }

  /**
   * The column; the builder must not be used afterwards. The column views the
   * builder's buffers: their unused tails were never written, so (allocated zeroed
   * and lazily by the system) they take address space but no memory.
   */
  finish(): TextColumn {
    return this.current();
  }
}

/**
 * A column of text with few distinct values (regions, manager ids), dictionary coded:
 * value i is dict's value codes[i]. Two bytes a row (four past 65,536 distinct
 * values) instead of its bytes and an offset: at 10M subscribers the region and
 * manager columns take 40 MB instead of 264 MB, and stay coded to the task files,
 * whose renderer copies the dictionary entry of a row's code.
 */
export class CodedText {
  constructor(
    readonly codes: Uint16Array | Uint32Array,
    readonly dict: TextColumn,
  ) {}

  static from(values: readonly string[]): CodedText {
    const b = new CodedTextBuilder(values.length);
    for (const v of values) b.pushString(v);
    return b.finish();
  }

  get length(): number {
    return this.codes.length;
  }

  get(i: number): string {
    if (i < 0 || i >= this.codes.length) throw new RangeError(`CodedText: index ${i} out of range`);
    return this.dict.get(this.codes[i]!);
  }

  toArray(): string[] {
    const values = this.dict.toArray();
    return Array.from(this.codes, (c) => values[c]!);
  }

  /** The values whose keep[i] is non-zero, in order (the same dictionary). */
  filter(keep: Uint8Array): CodedText {
    const codes = this.codes.filter((_, i) => keep[i]);
    return new CodedText(codes, this.dict);
  }

  /**
   * The same column with its codes and dictionary in shared memory, as the table's
   * other shown texts: the task-files worker renders from them where they are.
   */
  shared(): CodedText {
    const d = this.dict;
    const [codes, bytes, offsets] = sharedColumns([
      this.codes,
      d.bytes.subarray(0, d.offsets[d.length]!),
      d.offsets.subarray(0, d.length + 1),
    ]);
    return new CodedText(codes, new TextColumn(bytes, offsets, d.length));
  }

  /** The columns one after another, in one dictionary. */
  static concat(cols: readonly CodedText[]): CodedText {
    const out = new CodedTextBuilder(cols.reduce((a, c) => a + c.length, 0));
    for (const c of cols) {
      const d = c.dict;
      const map = new Uint32Array(d.length);
      for (let k = 0; k < d.length; k++) map[k] = out.code(d.bytes, d.offsets[k]!, d.offsets[k + 1]!);
      for (let i = 0; i < c.codes.length; i++) out.pushCode(map[c.codes[i]!]!);
    }
    return out.finish();
  }
}

/**
 * Builds a CodedText value by value: each value is looked up in the dictionary so far
 * (an open-addressing table of codes) and added when new. Meant for few distinct
 * values: a column whose values are all different would cost its bytes again in the
 * dictionary, plus 8 to 16 bytes a value of table and 4 of code.
 */
export class CodedTextBuilder {
  private codes: Uint16Array | Uint32Array;
  private n = 0;
  private readonly dict = new TextColumnBuilder(256, 4096);
  private dictView: TextColumn = this.dict.current();
  /** code + 1 per slot, 0 empty; at most half full. */
  private slots = new Int32Array(1024);

  constructor(expected = 1024) {
    this.codes = new Uint16Array(Math.max(16, expected));
  }

  get length(): number {
    return this.n;
  }

  /** The code of b[s..e), added to the dictionary when new. */
  code(b: Uint8Array, s: number, e: number): number {
    const slots = this.slots,
      mask = slots.length - 1;
    const d = this.dictView,
      db = d.bytes,
      doff = d.offsets,
      len = e - s;
    for (let j = hashBytes(b, s, e) & mask; ; j = (j + 1) & mask) {
      const v = slots[j]!;
      if (v === 0) {
        const c = this.dict.length;
        this.dict.pushBytes(b, s, e);
        this.dictView = this.dict.current();
        slots[j] = c + 1;
        if ((c + 1) * 2 > slots.length) this.rehash();
        return c;
      }
      const o = doff[v - 1]!;
      if (doff[v]! - o !== len) continue;
      let k = 0;
      while (k < len && db[o + k] === b[s + k]) k++;
      if (k === len) return v - 1;
    }
  }

  private rehash(): void {
    const d = this.dictView;
    const slots = new Int32Array(this.slots.length * 2),
      mask = slots.length - 1;
    for (let c = 0; c < d.length; c++) {
      let j = hashBytes(d.bytes, d.offsets[c]!, d.offsets[c + 1]!) & mask;
      while (slots[j] !== 0) j = (j + 1) & mask;
      slots[j] = c + 1;
    }
    this.slots = slots;
  }

  pushCode(c: number): void {
    if (this.n === this.codes.length || (c > 0xffff && this.codes instanceof Uint16Array)) {
      // Past 65,536 distinct values the codes take four bytes (the same codes, widened).
      const wide = c > 0xffff || this.codes instanceof Uint32Array;
      const size = this.n === this.codes.length ? this.codes.length * 2 : this.codes.length;
      const codes = wide ? new Uint32Array(size) : new Uint16Array(size);
      codes.set(this.codes.subarray(0, this.n));
      this.codes = codes;
    }
    this.codes[this.n++] = c;
  }

  pushBytes(b: Uint8Array, s: number, e: number): void {
    this.pushCode(this.code(b, s, e));
  }

  pushString(value: string): void {
    const b = encoder.encode(value);
    this.pushBytes(b, 0, b.length);
  }

  /** The column; the builder must not be used afterwards. */
  finish(): CodedText {
    return new CodedText(this.codes.slice(0, this.n), this.dictView);
  }
}
