/**
 * CSV output written as bytes: cells go straight into a reused buffer, handed to
 * `sink` about every megabyte, with no string per line and no array per row. The
 * text is the same, byte for byte, as csvLine() in csv.ts gives: RFC 4180 quoting
 * (a cell with '"', ',', LF or CR is quoted, its quotes doubled), "\n" line ends,
 * and a free-text cell that starts like a formula gets a leading "'" first.
 */

const QUOTE = 0x22, COMMA = 0x2c, LF = 0x0a, CR = 0x0d, APOSTROPHE = 0x27;

/** As csv.ts's FORMULA_START: = + - @ tab CR NUL, and the full-width ＝ ＋ － ＠ (EF BC 9D / 8B / 8D / A0). */
export function bytesStartLikeFormula(b: Uint8Array, s: number, e: number): boolean {
  if (s >= e) return false;
  const c = b[s]!;
  if (c === 0x3d || c === 0x2b || c === 0x2d || c === 0x40 || c === 0x09 || c === CR || c === 0) return true;
  if (c === 0xef && e - s >= 3 && b[s + 1] === 0xbc) {
    const d = b[s + 2]!;
    return d === 0x9d || d === 0x8b || d === 0x8d || d === 0xa0;
  }
  return false;
}

/** True when a cell must be quoted: it holds '"', ',', LF or CR. */
export function needsQuotes(b: Uint8Array, s: number, e: number): boolean {
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    if (c <= COMMA && (c === QUOTE || c === COMMA || c === LF || c === CR)) return true;
  }
  return false;
}

/**
 * The cell b[s..e) into dst at p, which must have room for 2 (e - s) + 3 bytes;
 * returns the end. A cell with '"', ',', LF or CR is quoted, its quotes doubled; a
 * free-text cell that starts like a formula gets a leading "'" first.
 */
export function putCell(dst: Uint8Array, p: number, b: Uint8Array, s: number, e: number, freeText: boolean): number {
  const prefix = freeText && bytesStartLikeFormula(b, s, e);
  if (!needsQuotes(b, s, e)) {
    if (prefix) dst[p++] = APOSTROPHE;
    if (e - s <= 32) for (let k = s; k < e; k++) dst[p++] = b[k]!;
    else { dst.set(b.subarray(s, e), p); p += e - s; }
    return p;
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

const encoder = new TextEncoder();

export class CsvBytesWriter {
  private buf: Uint8Array;
  private pos = 0;
  /** Scratch for strings that are not plain ASCII. */
  private scratch = new Uint8Array(256);

  constructor(private readonly sink: (bytes: Uint8Array) => void, private readonly chunk = 1 << 20) {
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
    const n = e - s;
    this.room(n);
    const dst = this.buf;
    let p = this.pos;
    if (n <= 32) for (let k = s; k < e; k++) dst[p++] = b[k]!;
    else { dst.set(b.subarray(s, e), p); p += n; }
    this.pos = p;
  }

  /** A string as it is, UTF-8 (the caller knows it needs no quoting). */
  rawString(str: string): void {
    const n = str.length;
    this.room(n);
    const dst = this.buf;
    let p = this.pos;
    for (let k = 0; k < n; k++) {
      const c = str.charCodeAt(k);
      if (c >= 0x80) { this.pos = p; this.rawBytesOf(str.slice(k)); return; }
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
    const dst = this.buf;
    if (v < 10) { dst[this.pos++] = 0x30 + v; return; }
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    for (let t = v; digits > 0; digits--) { const q = Math.floor(t / 10); dst[--p] = 0x30 + (t - q * 10); t = q; }
  }

  /** A cell from bytes, quoted if it must be; a free-text cell is neutralised against formulas first. */
  cell(b: Uint8Array, s: number, e: number, freeText: boolean): void {
    this.room(2 * (e - s) + 3);
    this.pos = putCell(this.buf, this.pos, b, s, e, freeText);
  }

  /** A cell from a string, as cell(). */
  cellString(str: string, freeText: boolean): void {
    let plain = true;
    for (let k = 0; k < str.length; k++) {
      const c = str.charCodeAt(k);
      if (c >= 0x80 || c === QUOTE || c === COMMA || c === LF || c === CR) { plain = false; break; }
    }
    if (plain && !(freeText && str.length > 0 && bytesStartLikeFormula1(str.charCodeAt(0)))) {
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

function bytesStartLikeFormula1(c: number): boolean {
  return c === 0x3d || c === 0x2b || c === 0x2d || c === 0x40 || c === 0x09 || c === CR || c === 0;
}
