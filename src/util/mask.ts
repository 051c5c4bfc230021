/**
 * Personal data in outputs, logs and messages.
 *
 * - maskPhone / maskName: the display forms for consumers that must not hold the
 *   full values (138****1234, and a name's first character).
 * - maskRaw: the shape of a rejected field for rejects.csv, without a phone number,
 *   an ID number or a name in it.
 * - scrubPersonal: a last line of defence for free text that leaves the process
 *   (log lines, error messages): mobile numbers and ID numbers are masked wherever
 *   they appear. Code never puts field values into logs or messages in the first
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
const DIGIT_RUN = /\d{7,}/g;

/**
 * The raw value of a rejected field as rejects.csv shows it: clipped to 64
 * characters; a phone or name column reduced to its first character; elsewhere runs
 * of 7 or more digits (phone, ID and account numbers) keep only their first 3 and
 * last 4 digits, and runs of Han characters (names, when columns are shifted) only
 * their first character.
 */
export function maskRaw(column: string, raw: string): string {
  const chars = Array.from(raw);
  const clipped = chars.length > 64 ? `${chars.slice(0, 64).join('')}…` : raw;
  if (PERSONAL_COLUMNS.has(column)) {
    const n = Array.from(clipped).length;
    return n <= 1 ? '*' : `${Array.from(clipped)[0]}${'*'.repeat(Math.min(n - 1, 16))}`;
  }
  return clipped
    .replace(DIGIT_RUN, (d) => `${d.slice(0, 3)}${'*'.repeat(d.length - 7)}${d.slice(-4)}`)
    .replace(HAN_RUN, (h) => {
      const cs = Array.from(h);
      return `${cs[0]}${'*'.repeat(cs.length - 1)}`;
    });
}

/** Mainland mobile numbers (optionally behind +86 / 0086 / 86) and 18-character ID numbers, not inside longer digit runs. */
const MOBILE_IN_TEXT = /(?<!\d)(?:\+?86|0086)?1[3-9]\d{9}(?!\d)/g;
const ID_IN_TEXT = /(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])/g;

/** Masks phone and ID numbers anywhere in a text (for log lines and messages). */
export function scrubPersonal(text: string): string {
  return text
    .replace(ID_IN_TEXT, (id) => `${id.slice(0, 3)}${'*'.repeat(11)}${id.slice(-4)}`)
    .replace(MOBILE_IN_TEXT, (p) => maskPhone(p));
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
