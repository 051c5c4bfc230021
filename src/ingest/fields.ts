/**
 * Byte-level versions of the text checks the row handlers make, each equal to its
 * string form (decode the field, String#trim, then compare): enum codes
 * (`s.trim().toLowerCase()`), phone numbers (/^\+?\d{5,20}$/ on the trimmed text)
 * and trimmed strings. They work on ASCII bytes and fall back to the string form
 * when a field has a non-ASCII byte where it could matter (a Unicode space that
 * String#trim strips, a character that lower-cases to ASCII such as U+212A).
 */
import { fieldString, type RecordView } from './csv-scan.js';
import { mayHaveUnicodeSpace } from './id-table.js';
import type { TextColumnBuilder } from '../util/text-column.js';
import { compactPhoneBytes, PHONE_KEY_BYTES, PHONE_WRITTEN } from '../util/phone.js';

function isWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const encoder = new TextEncoder();

/** An enum's values as ASCII bytes, for fieldEnum. */
export function enumBytes(values: readonly string[]): Uint8Array[] {
  return values.map((v) => encoder.encode(v));
}

/**
 * Code (index into values) of field i, compared as `fieldString(rec, i).trim().toLowerCase()`;
 * -1 when it is none of them, -2 when the trimmed field is empty (or missing).
 * `values` are lower-case ASCII.
 */
export function fieldEnum(rec: RecordView, i: number, values: readonly string[], bytes: Uint8Array[]): number {
  if (i < 0 || i >= rec.count) return -2;
  const b = rec.buf;
  let s = rec.start[i]!;
  let e = rec.end[i]!;
  while (s < e && isWs(b[s]!)) s++;
  while (e > s && isWs(b[e - 1]!)) e--;
  if (s === e) return -2;
  const len = e - s;
  outer: for (let v = 0; v < bytes.length; v++) {
    const want = bytes[v]!;
    if (want.length !== len) continue;
    for (let k = 0; k < len; k++) {
      let c = b[s + k]!;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== want[k]) continue outer;
    }
    return v;
  }
  for (let k = s; k < e; k++) {
    if (b[k]! >= 0x80) {
      const t = fieldString(rec, i).trim().toLowerCase();
      return t === '' ? -2 : values.indexOf(t);
    }
  }
  return -1;
}

// The trimmed byte span of the last trimSpan() call that returned undefined
// (module state rather than an object per call: this runs once per field).
let spanStart = 0;
let spanEnd = 0;

/**
 * Trims field i to its bytes without ASCII white space. Returns the field's value
 * when that is already known ('' for an empty field, String.trim's result when the
 * bytes may hold Unicode spaces); otherwise leaves the span in spanStart/spanEnd
 * and returns undefined.
 */
function trimSpan(rec: RecordView, i: number): string | undefined {
  if (i < 0 || i >= rec.count) return '';
  const b = rec.buf;
  let s = rec.start[i]!;
  let e = rec.end[i]!;
  while (s < e && isWs(b[s]!)) s++;
  while (e > s && isWs(b[e - 1]!)) e--;
  if (s === e) return '';
  if ((b[s]! | b[e - 1]!) >= 0x80 && mayHaveUnicodeSpace(b, s, e)) return fieldString(rec, i).trim();
  spanStart = s;
  spanEnd = e;
  return undefined;
}

/**
 * Field i as `fieldString(rec, i).trim()`, decoded from the trimmed bytes.
 */
export function fieldTrimmed(rec: RecordView, i: number): string {
  return trimSpan(rec, i) ?? decode(rec.buf, spanStart, spanEnd);
}

/**
 * Appends field i, trimmed as fieldTrimmed trims it, to a text column: the bytes are
 * copied as they are (no string), except when the field may hold Unicode spaces.
 */
export function pushTrimmed(rec: RecordView, i: number, column: Pick<TextColumnBuilder, 'pushBytes' | 'pushString'>): void {
  const known = trimSpan(rec, i);
  if (known === undefined) column.pushBytes(rec.buf, spanStart, spanEnd);
  else column.pushString(known);
}

// A Buffer view of the last buffer decoded from (records of one chunk share it).
let lastBytes: Uint8Array | null = null;
let lastView: Buffer | null = null;

/** Buffer#utf8Slice (what Buffer#toString('utf8', s, e) calls, without its argument checks). */
type Utf8Slicer = Buffer & { utf8Slice?: (s: number, e: number) => string };

/**
 * UTF-8 decoding of b[s..e). Short ASCII text (ids, phone numbers, codes) is built
 * with String.fromCharCode, which is faster than decoding through Buffer.
 */
export function decode(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n <= 12) {
    let or = 0;
    for (let k = s; k < e; k++) or |= b[k]!;
    if (or < 0x80) return asciiString(b, s, n);
  }
  if (b !== lastBytes || lastView === null) {
    lastView = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    lastBytes = b;
  }
  const v = lastView as Utf8Slicer;
  return v.utf8Slice !== undefined ? v.utf8Slice(s, e) : v.toString('utf8', s, e);
}

/** The n (0..12) ASCII bytes at b[s..] as a string. */
function asciiString(b: Uint8Array, s: number, n: number): string {
  const f = String.fromCharCode;
  switch (n) {
    case 0:
      return '';
    case 1:
      return f(b[s]!);
    case 2:
      return f(b[s]!, b[s + 1]!);
    case 3:
      return f(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!);
    case 10:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!);
    case 11:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!);
    default:
      return f(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
        b[s + 11]!,
      );
  }
}

/**
 * 1 when the trimmed field is a phone number (an optional '+', then 5 to 20 ASCII
 * digits, with spaces or dashes between them: PHONE_WRITTEN), 0 when it is empty, -1
 * when it is something else.
 */
export function fieldPhone(rec: RecordView, i: number): number {
  const known = trimSpan(rec, i);
  if (known !== undefined) return known === '' ? 0 : PHONE_WRITTEN.test(known) ? 1 : -1;
  return compactPhoneBytes(rec.buf, spanStart, spanEnd, phoneScratch) > 0 ? 1 : -1;
}

const phoneScratch = new Uint8Array(PHONE_KEY_BYTES);

/**
 * Appends field i, a phone number by fieldPhone, to a text column without its
 * separators ("138 1234 5678" → 13812345678): the stored form, which the task files
 * require.
 */
export function pushPhone(rec: RecordView, i: number, column: TextColumnBuilder): void {
  const known = trimSpan(rec, i);
  if (known !== undefined) {
    column.pushString(known.replace(/[ -]/g, ''));
    return;
  }
  const n = compactPhoneBytes(rec.buf, spanStart, spanEnd, phoneScratch);
  if (n === spanEnd - spanStart) column.pushBytes(rec.buf, spanStart, spanEnd);
  else column.pushBytes(phoneScratch, 0, n);
}
