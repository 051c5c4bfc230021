/**
 * Bytes for every writer (task files, scores, rejects, the generator): CSV cells,
 * numbers and text put straight into byte arrays, with no string per line and no
 * array per row. The text is the same, byte for byte, as csvLine() in
 * output/csv.ts gives: RFC 4180 quoting (a cell with '"', ',', LF or CR is quoted,
 * its quotes doubled), "\n" line ends, and a free-text cell that starts like a
 * formula gets a leading "'" first.
 *
 * The put* functions write into dst at p and return the end; the caller has made
 * room (the most each can take is said with it), so none of them checks.
 */

const QUOTE = 0x22,
  COMMA = 0x2c,
  LF = 0x0a,
  CR = 0x0d,
  APOSTROPHE = 0x27,
  MINUS = 0x2d,
  ZERO = 0x30,
  POINT = 0x2e;

/**
 * A first character that makes a spreadsheet read the cell as a formula: = + - @,
 * tab, CR and NUL (OWASP's list, and NUL), and the full-width ＝ ＋ － ＠ that East
 * Asian spreadsheet set-ups may convert. The one list both the string and the byte
 * check use.
 */
export function isFormulaStart(codePoint: number): boolean {
  switch (codePoint) {
    case 0x3d:
    case 0x2b:
    case 0x2d:
    case 0x40:
    case 0x09:
    case CR:
    case 0:
    case 0xff1d:
    case 0xff0b:
    case 0xff0d:
    case 0xff20:
      return true;
    default:
      return false;
  }
}

/** isFormulaStart of the first character of the UTF-8 cell b[s..e). */
export function startsLikeFormula(b: Uint8Array, s: number, e: number): boolean {
  if (s >= e) return false;
  const c = b[s]!;
  if (c < 0x80) return isFormulaStart(c);
  // The full-width forms are U+FF00..U+FF3F: EF BC xx.
  return c === 0xef && e - s >= 3 && b[s + 1] === 0xbc && isFormulaStart(0xff00 + (b[s + 2]! & 0x3f));
}

/** True when a cell must be quoted: it holds '"', ',', LF or CR. */
export function needsQuotes(b: Uint8Array, s: number, e: number): boolean {
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    if (c <= COMMA && (c === QUOTE || c === COMMA || c === LF || c === CR)) return true;
  }
  return false;
}

/** The most bytes putCell writes for a cell of n bytes. */
export function cellRoom(n: number): number {
  return 2 * n + 3;
}

/**
 * The cell b[s..e) (cellRoom(e - s) bytes at most): quoted if it must be, its
 * quotes doubled; a free-text cell that starts like a formula gets a leading "'" first.
 */
export function putCell(dst: Uint8Array, p: number, b: Uint8Array, s: number, e: number, freeText: boolean): number {
  const prefix = freeText && startsLikeFormula(b, s, e);
  if (!needsQuotes(b, s, e)) {
    if (prefix) dst[p++] = APOSTROPHE;
    return putBytes(dst, p, b, s, e);
  }
  dst[p++] = QUOTE;
  if (prefix) dst[p++] = APOSTROPHE;
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    dst[p++] = c;
    if (c === QUOTE) dst[p++] = QUOTE;
  }
  dst[p++] = QUOTE;
  return p;
}

/** b[s..e) as it is (a loop for short runs, where set() costs more than it saves). */
export function putBytes(dst: Uint8Array, p: number, b: Uint8Array, s: number, e: number): number {
  if (e - s > 32) {
    dst.set(b.subarray(s, e), p);
    return p + e - s;
  }
  for (let k = s; k < e; k++) dst[p++] = b[k]!;
  return p;
}

/** A DataView of b's bytes, for copyBytes. */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * putBytes for a caller that keeps views of its buffers: src[s..e) into dst at p, dv
 * and sv viewing dst and src (viewOf); returns the end. Eight bytes a step through the
 * views: dst.set(src.subarray(s, e), p) makes an object per copy (some 65 ns whatever
 * the length, and garbage to collect), a loop over the bytes takes some 2 ns a byte,
 * and a task row is a dozen copies of 10 to 150 bytes (literals, subscriber cells, the
 * row again into the next file).
 */
export function copyBytes(dst: Uint8Array, dv: DataView, p: number, src: Uint8Array, sv: DataView, s: number, e: number): number {
  let k = s;
  for (; k + 8 <= e; k += 8, p += 8) {
    dv.setInt32(p, sv.getInt32(k, true), true);
    dv.setInt32(p + 4, sv.getInt32(k + 4, true), true);
  }
  if (k + 4 <= e) {
    dv.setInt32(p, sv.getInt32(k, true), true);
    k += 4;
    p += 4;
  }
  for (; k < e; k++) dst[p++] = src[k]!;
  return p;
}

/** A string that is all ASCII (text.length bytes). */
export function putAscii(dst: Uint8Array, p: number, text: string): number {
  for (let k = 0; k < text.length; k++) dst[p++] = text.charCodeAt(k);
  return p;
}

/** Digits of a whole number from 0 below 2^53. */
export function decimalDigits(v: number): number {
  let digits = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
  return digits;
}

/** "00" to "99": the two digit bytes of k at 2k and 2k + 1. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, k) => ZERO + (k & 1 ? (k >> 1) % 10 : Math.floor(k / 20)));

/** The two digits of a whole number from 0 to 99 (2 bytes). */
export function putTwoDigits(dst: Uint8Array, p: number, v: number): number {
  dst[p] = DIGIT_PAIRS[2 * v]!;
  dst[p + 1] = DIGIT_PAIRS[2 * v + 1]!;
  return p + 2;
}

/** A whole number from 0 below 2^53 in decimal (16 bytes at most). */
export function putUint(dst: Uint8Array, p: number, v: number): number {
  if (v < 10) {
    dst[p] = ZERO + v;
    return p + 1;
  }
  const end = p + decimalDigits(v);
  let d = end;
  if (v < 2147483648) {
    // Two digits per division: the hot numeric cells (scores.csv, task files) are mostly of this size.
    let t = v | 0;
    while (t >= 100) {
      const q = (t / 100) | 0;
      d -= 2;
      putTwoDigits(dst, d, t - q * 100);
      t = q;
    }
    if (t >= 10) putTwoDigits(dst, d - 2, t);
    else dst[d - 1] = ZERO + t;
  } else {
    for (let t = v; d > p; ) {
      const q = Math.floor(t / 10);
      dst[--d] = ZERO + (t - q * 10);
      t = q;
    }
  }
  return end;
}

/**
 * putScaled(n, digits, false) for n from 0 below 2^31 and 2 or 4 digits (16 bytes
 * at most): the whole part, the point and the places, two digits at a time.
 */
export function putFixedPoint(dst: Uint8Array, p: number, n: number, digits: 2 | 4): number {
  const unit = digits === 2 ? 100 : 10000;
  // n / unit is correctly rounded and at least 1 / unit away from the next whole number, so | 0 is its floor.
  const whole = (n / unit) | 0;
  p = putUint(dst, p, whole);
  dst[p++] = POINT;
  let frac = n - whole * unit;
  if (digits === 4) {
    const high = (frac / 100) | 0;
    p = putTwoDigits(dst, p, high);
    frac -= high * 100;
  }
  return putTwoDigits(dst, p, frac);
}

/** A whole number from 0 below 10^width, zero-padded to width digits (width bytes). */
export function putPadded(dst: Uint8Array, p: number, v: number, width: number): number {
  const end = p + width;
  for (let d = end, t = v; d > p; ) {
    const q = Math.floor(t / 10);
    dst[--d] = ZERO + (t - q * 10);
    t = q;
  }
  return end;
}

/** String(v) for a number (NUMBER_ROOM bytes at most); no string is made for safe integers. */
export function putDecimal(dst: Uint8Array, p: number, v: number): number {
  if (!Number.isSafeInteger(v)) return putAscii(dst, p, String(v));
  if (v < 0) {
    dst[p++] = MINUS;
    v = -v;
  }
  return putUint(dst, p, v);
}

/** Bytes putFixed or putDecimal take at most (a double in 21 digits with sign, point and decimals, or in exponent form). */
export const NUMBER_ROOM = 32;

/**
 * v.toFixed(digits) (2 or 4; NUMBER_ROOM bytes at most).
 *
 * toFixed takes the integer n nearest to v × 10^digits, computed exactly. The
 * product in doubles is within 2^-23 of exact while below 2^31, so when it lies
 * within 0.49 of an integer, that integer is n, and the digits are written here
 * without making a string. Near a tie, for large values and for NaN and the
 * infinities, toFixed itself decides.
 */
export function putFixed(dst: Uint8Array, p: number, v: number, digits: 2 | 4): number {
  const scale = digits === 2 ? 100 : 10000;
  const scaled = (v < 0 ? -v : v) * scale;
  if (scaled < 2147483648) {
    const n = Math.round(scaled);
    const off = scaled - n;
    if (off <= 0.49 && off >= -0.49) {
      if (v < 0) dst[p++] = MINUS;
      const whole = Math.floor(n / scale);
      p = putUint(dst, p, whole);
      dst[p++] = POINT;
      return putPadded(dst, p, n - whole * scale, digits);
    }
  }
  return putAscii(dst, p, v.toFixed(digits));
}

/** A whole number of hundredths as a decimal with two places ("-12.05"; 20 bytes at most). */
export function putHundredths(dst: Uint8Array, p: number, h: number): number {
  if (h < 0) {
    dst[p++] = MINUS;
    h = -h;
  }
  const whole = Math.floor(h / 100);
  p = putUint(dst, p, whole);
  dst[p++] = POINT;
  return putPadded(dst, p, h - whole * 100, 2);
}

/**
 * A whole number n of 10^-scale as a decimal (scale 0 to 4; n below 2^53 in size; 24
 * bytes at most): with all `scale` places ("3.10"), or with `trim` without its
 * trailing zeros and without the point when nothing is left ("3.1", "3").
 */
export function putScaled(dst: Uint8Array, p: number, n: number, scale: number, trim: boolean): number {
  if (n < 0) {
    dst[p++] = MINUS;
    n = -n;
  }
  const unit = 10 ** scale;
  const whole = Math.floor(n / unit);
  p = putUint(dst, p, whole);
  let frac = n - whole * unit;
  let places = scale;
  if (trim) {
    if (frac === 0) return p;
    while (frac % 10 === 0) {
      frac /= 10;
      places--;
    }
  }
  if (places === 0) return p;
  dst[p++] = POINT;
  return putPadded(dst, p, frac, places);
}

const encoder = new TextEncoder();

/**
 * A growing byte buffer that is reused: a batch of rows, or a cell assembled from
 * pieces, whose contents are placed again afterwards. reserve() first, then write
 * into `bytes` from `length` with the put* functions.
 */
export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for n more bytes (`bytes` may be another array afterwards). */
  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(c: number): void {
    this.reserve(1);
    this.bytes[this.length++] = c;
  }

  append(b: Uint8Array): void {
    this.raw(b, 0, b.length);
  }

  raw(b: Uint8Array, s: number, e: number): void {
    this.reserve(e - s);
    this.length = putBytes(this.bytes, this.length, b, s, e);
  }

  /** As putCell. */
  cell(b: Uint8Array, s: number, e: number, freeText: boolean): void {
    this.reserve(cellRoom(e - s));
    this.length = putCell(this.bytes, this.length, b, s, e, freeText);
  }

  /** A copy of what it holds. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** A cell's bytes as a file has them: quoted if needed, neutralised if free text. */
export function cellBytes(text: string | Uint8Array, freeText: boolean): Uint8Array {
  const bytes = typeof text === 'string' ? encoder.encode(text) : text;
  const out = new ByteBuffer(cellRoom(bytes.length));
  out.cell(bytes, 0, bytes.length, freeText);
  return out.toBytes();
}

/**
 * CSV written as bytes into a buffer handed to `sink` about every `chunk` bytes,
 * never in the middle of a line.
 */
export class CsvBytesWriter {
  private buf: Uint8Array;
  private pos = 0;
  /** Scratch for strings that are not plain ASCII. */
  private scratch = new Uint8Array(256);

  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    private readonly chunk = 1 << 20,
  ) {
    this.buf = new Uint8Array(chunk + 4096);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = new Uint8Array(n + 4096);
  }

  /** Hands what is buffered to the sink (the sink must copy or consume it before returning). */
  flush(): void {
    if (this.pos === 0) return;
    this.sink(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Ends a line; flushes once a chunk is full, so lines are never split between sink calls. */
  endLine(): void {
    this.room(1);
    this.buf[this.pos++] = LF;
    if (this.pos >= this.chunk) this.flush();
  }

  comma(): void {
    this.room(1);
    this.buf[this.pos++] = COMMA;
  }

  /** Bytes as they are (the caller knows they need no quoting). */
  raw(b: Uint8Array, s: number, e: number): void {
    this.room(e - s);
    this.pos = putBytes(this.buf, this.pos, b, s, e);
  }

  /** A whole line, its line end the last of b[s..e) (the caller knows it is a line of CSV); flushes as endLine(). */
  line(b: Uint8Array, s: number, e: number): void {
    this.room(e - s);
    this.pos = putBytes(this.buf, this.pos, b, s, e);
    if (this.pos >= this.chunk) this.flush();
  }

  /** Room for n more bytes, written straight into `bytes` from `length` on, then taken with took(). */
  reserve(n: number): void {
    this.room(n);
  }

  /** The buffer, valid until the next call that may flush or grow it. */
  get bytes(): Uint8Array {
    return this.buf;
  }

  get length(): number {
    return this.pos;
  }

  /** Takes what was written straight into `bytes`, up to `end`. */
  took(end: number): void {
    this.pos = end;
  }

  /** After a line written straight in and taken (its LF included): flushes as endLine() does. */
  lineTaken(): void {
    if (this.pos >= this.chunk) this.flush();
  }

  /** A string as it is, UTF-8 (the caller knows it needs no quoting). */
  rawString(str: string): void {
    const n = str.length;
    this.room(n);
    const dst = this.buf;
    let p = this.pos;
    for (let k = 0; k < n; k++) {
      const c = str.charCodeAt(k);
      if (c >= 0x80) {
        this.pos = p;
        this.rawBytesOf(str.slice(k));
        return;
      }
      dst[p++] = c;
    }
    this.pos = p;
  }

  private rawBytesOf(str: string): void {
    const bytes = this.utf8(str);
    this.raw(bytes, 0, bytes.length);
  }

  private utf8(str: string): Uint8Array {
    if (str.length * 3 > this.scratch.length) this.scratch = new Uint8Array(str.length * 3 + 64);
    return this.scratch.subarray(0, encoder.encodeInto(str, this.scratch).written);
  }

  /** A non-negative integer (below 2^53) in decimal. */
  uint(v: number): void {
    this.room(16);
    this.pos = putUint(this.buf, this.pos, v);
  }

  /** A whole number of 10^-scale, as putScaled. */
  scaled(n: number, scale: number, trim: boolean): void {
    this.room(24);
    this.pos = putScaled(this.buf, this.pos, n, scale, trim);
  }

  /** A cell from bytes, as putCell. */
  cell(b: Uint8Array, s: number, e: number, freeText: boolean): void {
    this.room(cellRoom(e - s));
    this.pos = putCell(this.buf, this.pos, b, s, e, freeText);
  }

  /** A cell from a string, as cell(). */
  cellString(str: string, freeText: boolean): void {
    let plain = true;
    for (let k = 0; k < str.length; k++) {
      const c = str.charCodeAt(k);
      if (c >= 0x80 || c === QUOTE || c === COMMA || c === LF || c === CR) {
        plain = false;
        break;
      }
    }
    if (plain && !(freeText && str.length > 0 && isFormulaStart(str.charCodeAt(0)))) {
      this.rawString(str);
      return;
    }
    const bytes = this.utf8(str);
    this.cell(bytes, 0, bytes.length, freeText);
  }

  /** Everything buffered, flushed. */
  end(): void {
    this.flush();
  }
}
