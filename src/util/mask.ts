/**
 * Personal data in outputs, logs and messages.
 *
 * - maskPhone / maskName: the display forms for consumers that must not hold the
 *   full values (138****1234, and a name's first character).
 * - maskRaw: the shape of a rejected field for rejects.csv, without a phone number,
 *   an ID number or a name in it.
 * - scrubPersonal: a last line of defence for free text that leaves the process
 *   (log lines, error messages): phone and ID numbers are masked wherever they
 *   appear, however written (separators, full-width digits: see maskNumbers). Code never puts field values into logs or messages in the first
 *   place; this only catches what a future mistake or a library message lets through.
 */

export { PHONE } from './phone.js';

/**
 * 13812345678 → 138****1234. A Chinese mobile behind +86 / 0086 / 86 is shown in its
 * national form; other numbers keep their first 3 and last 4 digits; short ones
 * only their last 2. Anything that is not a phone number is masked completely.
 */
export function maskPhone(phone: string): string {
  const m = /^\+?(\d+)$/.exec(phone.trim());
  if (!m) return '*'.repeat(Math.min(Math.max(phone.length, 1), 16));
  let d = m[1]!;
  const national = /^(?:0086|86)(1[3-9]\d{9})$/.exec(d);
  if (national) d = national[1]!;
  if (d.length >= 8) return `${d.slice(0, 3)}${'*'.repeat(d.length - 7)}${d.slice(-4)}`;
  if (d.length > 2) return `${'*'.repeat(d.length - 2)}${d.slice(-2)}`;
  return '*'.repeat(d.length);
}

/** A name reduced to its first character (a whole code point, so 𪚥 stays whole). */
export function maskName(name: string): string {
  for (const c of name.trim()) return c;
  return '';
}

const PERSONAL_COLUMNS = new Set(['msisdn', 'name']);
/** Han characters: a run of them in a field that should hold a date, number or code is most likely a name. */
const HAN_RUN = /\p{Script=Han}{2,}/gu;

/**
 * The raw value of a rejected field as rejects.csv shows it: a phone or name column
 * reduced to its first character; elsewhere phone and ID numbers in any written form
 * (as maskNumbers finds them) and any other run of 7 or more digits (account numbers)
 * keep only their first 3 and last 4 digits, runs of Han characters (names, when
 * columns are shifted) only their first character; then clipped to 64 characters
 * (after masking, so that the cut cannot leave part of a number unmasked).
 */
export function maskRaw(column: string, raw: string): string {
  if (PERSONAL_COLUMNS.has(column)) {
    const chars = Array.from(raw);
    return chars.length <= 1 ? '*' : `${chars[0]}${'*'.repeat(Math.min(chars.length - 1, 16))}`;
  }
  const masked = maskNumbers(raw, true).replace(HAN_RUN, (h) => {
    const cs = Array.from(h);
    return `${cs[0]}${'*'.repeat(cs.length - 1)}`;
  });
  const chars = Array.from(masked);
  return chars.length > 64 ? `${chars.slice(0, 64).join('')}…` : masked;
}

/** Masks phone and ID numbers anywhere in a text, in any written form (for log lines and messages). */
export function scrubPersonal(text: string): string {
  return maskNumbers(text, false);
}

// ---------------------------------------------------------------- numbers in free text

/**
 * What may stand between the digit groups of one written number, after NFKC (so the
 * ideographic space and the full-width forms count too): 138-1234-5678,
 * 138 1234 5678, 138.1234.5678, (010) 8888-1234, 010/88881234.
 */
const SEPARATORS = ' \t-./()';
/** At most this many separator characters between two groups of one number (") - "). */
const MAX_GAP = 3;
/** Numbers longer than this (in digits) are not looked for across more groups. */
const MAX_DIGITS = 20;

const MOBILE = /^(?:0086|86)?1[3-9]\d{9}$/;
/** A mainland landline with its trunk 0 and area code: 010 8888 1234, 0755-12345678. */
const LANDLINE = /^0[1-9]\d{8,10}$/;

/**
 * One character as the number finder sees it: NFKC of it when that is a single
 * character (１ → 1, － → -, U+3000 → space, ＋ → +), else the character itself.
 */
function normalChar(ch: string): string {
  if (ch.length === 1 && ch.charCodeAt(0) < 0x80) return ch;
  const n = ch.normalize('NFKC');
  return n.length === 1 ? n : ch;
}

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
/** Anything that might be a digit in another script or width; text without one is returned as it is. */
const MAYBE_DIGIT = /[0-9]|[^\p{ASCII}]/u;

/**
 * Finds phone and ID numbers written in any form, and masks each whole number (with
 * its separators, a leading + or '(' and an ID's final X) by its canonical masked
 * form: mobiles as maskPhone shows them (138****5678, also behind +86 / 0086 / 86),
 * ID numbers as 110***********123X, landlines and '+' numbers with their first 3 and
 * last 4 digits.
 *
 * The text is read after NFKC, character by character: digits are grouped into
 * numbers across separators (SEPARATORS, at most MAX_GAP between two groups); a
 * number is any run of consecutive groups whose digits form a mobile (with or without
 * its country code), an 18-character ID number, a landline with its area code, a
 * number written with '+' (7 digits or more), or a local number written as two groups
 * (888-1234, 8888 1234). Dates (2026-11-23) and amounts (1234.50) are none of these.
 * With `anyLongRun`, a single group of 7 or more digits is masked as well (account and
 * other numbers, in rejects.csv).
 */
function maskNumbers(text: string, anyLongRun: boolean): string {
  if (!MAYBE_DIGIT.test(text)) return text;
  const chars = Array.from(text);
  const norm = chars.map(normalChar);
  const n = chars.length;
  const out: string[] = [];
  let copied = 0;
  let p = 0;
  while (p < n) {
    if (!isDigit(norm[p]!)) {
      p++;
      continue;
    }
    // The groups of one run: [start, end) of each, and their digits.
    const starts: number[] = [],
      ends: number[] = [],
      digits: string[] = [];
    let q = p;
    for (;;) {
      let e = q;
      let d = '';
      while (e < n && isDigit(norm[e]!)) d += norm[e++]!;
      starts.push(q);
      ends.push(e);
      digits.push(d);
      let g = e;
      while (g < n && g - e < MAX_GAP && SEPARATORS.includes(norm[g]!)) g++;
      if (g === e || g >= n || !isDigit(norm[g]!)) break;
      q = g;
    }
    const run = { starts, ends, digits, norm };
    for (let i = 0; i < digits.length; ) {
      const m = matchAt(run, i, anyLongRun);
      if (m === null) {
        i++;
        continue;
      }
      let s = starts[i]!;
      if (s > 0 && (norm[s - 1] === '+' || norm[s - 1] === '(')) s--;
      out.push(chars.slice(copied, s).join(''), m.masked);
      copied = m.end;
      i = m.next;
    }
    p = ends[ends.length - 1]!;
  }
  if (copied === 0) return text;
  out.push(chars.slice(copied).join(''));
  return out.join('');
}

interface Run {
  starts: number[];
  ends: number[];
  digits: string[];
  norm: string[];
}

/** A long digit run keeps its first 3 and last 4 digits (as a phone is shown); a shorter one only its first and last 2, so that at least 3 are hidden. */
const keep3and4 = (d: string): string =>
  d.length >= 11
    ? `${d.slice(0, 3)}${'*'.repeat(d.length - 7)}${d.slice(-4)}`
    : `${d.slice(0, 2)}${'*'.repeat(d.length - 4)}${d.slice(-2)}`;

/** The longest number starting at group i: its masked form, where it ends in the text, and the next group. */
function matchAt(run: Run, i: number, anyLongRun: boolean): { masked: string; end: number; next: number } | null {
  const { starts, ends, digits, norm } = run;
  const plus = starts[i]! > 0 && norm[starts[i]! - 1] === '+';
  let joined = '';
  let last = i;
  while (last + 1 < digits.length && joined.length + digits[last]!.length + digits[last + 1]!.length <= MAX_DIGITS)
    joined += digits[last++]!;
  joined += digits[last]!;
  for (let j = last; j >= i; j--) {
    const d = j === last ? joined : digits.slice(i, j + 1).join('');
    const end = ends[j]!;
    // An ID number's final check character may be X (after separators too); letters around it do not make it less of an ID number.
    let x = end;
    while (x < norm.length && x - end < MAX_GAP && SEPARATORS.includes(norm[x]!)) x++;
    const after = norm[x] ?? '';
    if (d.length === 17 && (after === 'X' || after === 'x')) {
      return { masked: `${d.slice(0, 3)}${'*'.repeat(11)}${d.slice(-3)}${after}`, end: x + 1, next: j + 1 };
    }
    if (d.length === 18) {
      return { masked: `${d.slice(0, 3)}${'*'.repeat(11)}${d.slice(-4)}`, end, next: j + 1 };
    }
    if (MOBILE.test(d)) return { masked: maskPhone(d), end, next: j + 1 };
    if (LANDLINE.test(d) || (plus && d.length >= 7)) return { masked: maskPhone(plus ? `+${d}` : d), end, next: j + 1 };
    if (j === i + 1 && digits.length === 2 && d.length >= 7 && digits[i]!.length >= 3 && digits[j]!.length === 4) {
      return { masked: keep3and4(d), end, next: j + 1 };
    }
    if (j === i && anyLongRun && d.length >= 7) return { masked: keep3and4(d), end, next: j + 1 };
  }
  return null;
}

const WHOLE_MOBILE = /^(?:86)?1[3-9]\d{9}$/;
const WHOLE_ID = /^\d{17}[\dXx]$/;

/**
 * For log lines (NDJSON): masks inside JSON strings, and a bare JSON number that is a
 * whole mobile or ID number becomes a masked string; other numbers (counts, sizes)
 * stay. The line stays valid JSON.
 */
export function scrubJsonLine(line: string): string {
  return line.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (tok) => {
    if (tok.startsWith('"')) return scrubPersonal(tok);
    if (WHOLE_MOBILE.test(tok)) return JSON.stringify(maskPhone(tok));
    if (WHOLE_ID.test(tok)) return JSON.stringify(scrubPersonal(tok));
    return tok;
  });
}
