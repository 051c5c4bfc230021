/**
 * What a phone number is, as the task files require it and ingest stores it: an
 * optional '+', then 5 to 20 ASCII digits.
 */
export const PHONE = /^\+?\d{5,20}$/;

/**
 * A phone number as the extracts may write it: PHONE with spaces or dashes between
 * the digits (at most 3 in a row): "138 1234 5678", "+86 138-1234-5678". Ingest
 * stores it without them (compactPhoneBytes).
 */
export const PHONE_WRITTEN = /^\+?\d(?:[ -]{0,3}\d){4,19}$/;

/** The country code of numbers written without one, unless the run configuration says otherwise. */
export const DEFAULT_COUNTRY_CODE = '86';

/** PHONE tested on UTF-8 bytes b[s..e), already trimmed. */
export function isPhoneBytes(b: Uint8Array, s: number, e: number): boolean {
  if (s < e && b[s] === 0x2b) s++;
  if (e - s < 5 || e - s > 20) return false;
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Bytes that compactPhoneBytes and phoneKeyBytes may write: a '+', a country code, 20 digits. */
export const PHONE_KEY_BYTES = 24;

/**
 * PHONE_WRITTEN tested on UTF-8 bytes b[s..e) (already trimmed), writing the number
 * without its separators (PHONE) to out; its length, or -1 when it is not one.
 */
export function compactPhoneBytes(b: Uint8Array, s: number, e: number, out: Uint8Array): number {
  let n = 0,
    digits = 0,
    gap = 0;
  if (s < e && b[s] === 0x2b) {
    out[n++] = 0x2b;
    s++;
  }
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 20) return -1;
      out[n++] = c;
      gap = 0;
    } else if ((c === 0x20 || c === 0x2d) && digits > 0 && ++gap <= 3) {
      // Spaces and dashes that group the digits are dropped; a longer gap is not a number.
    } else {
      return -1;
    }
  }
  return digits >= 5 && gap === 0 ? n : -1;
}

/**
 * The key two phone numbers are compared by: the number in E.164 form ('+', country
 * code, national number) with the default country's '+' and code left out, so that
 * the usual national number is its own key and needs no copy. 13812345678,
 * +86 138 1234 5678, 0086-138-1234-5678 and 8613812345678 all have the key
 * 13812345678 (default country code 86); +44 20 7946 0958 has +442079460958.
 *
 * - '+' or '00' starts an international number; in the default country its national
 *   number is the key, elsewhere '+' and its digits.
 * - Otherwise the number is national: one leading trunk '0' is dropped (010 → 10).
 * - With country code 86, 13 digits of 86 followed by a mobile (1…) carry the code:
 *   no national number is that long, and exports often write mobiles so.
 *
 * b[s..e) is trimmed; cc holds the country code's ASCII digits. Returns 0 when
 * b[s..e) is its own key (digits only, no trunk 0, no code), else the key's length
 * in out (PHONE_KEY_BYTES), or -1 when b[s..e) is not a phone number.
 */
export function phoneKeyBytes(b: Uint8Array, s: number, e: number, cc: Uint8Array, scratch: Uint8Array, out: Uint8Array): number {
  if (e - s >= 5 && e - s <= 20 && b[s]! > 0x30 && b[s]! <= 0x39 && !carriesCode(b, s, e, cc) && isPhoneBytes(b, s, e)) return 0;
  const len = compactPhoneBytes(b, s, e, scratch);
  if (len < 0) return -1;
  let p = 0;
  if (scratch[0] === 0x2b || (scratch[0] === 0x30 && scratch[1] === 0x30)) {
    p = scratch[0] === 0x2b ? 1 : 2;
    let inCountry = len - p > cc.length;
    for (let k = 0; inCountry && k < cc.length; k++) inCountry = scratch[p + k] === cc[k];
    if (inCountry) {
      p += cc.length;
      if (scratch[p] === 0x30) p++; // +86 (0)10 …: a trunk 0 written after the code
    } else {
      out[0] = 0x2b;
      for (let k = p; k < len; k++) out[1 + k - p] = scratch[k]!;
      return 1 + len - p;
    }
  } else if (carriesCode(scratch, 0, len, cc)) {
    p = cc.length;
  } else if (scratch[0] === 0x30) {
    p = 1;
  }
  for (let k = p; k < len; k++) out[k - p] = scratch[k]!;
  return len - p;
}

/** 86 followed by a mobile number (13 digits: 861…), with country code 86. */
function carriesCode(b: Uint8Array, s: number, e: number, cc: Uint8Array): boolean {
  return cc.length === 2 && cc[0] === 0x38 && cc[1] === 0x36 && e - s === 13 && b[s] === 0x38 && b[s + 1] === 0x36 && b[s + 2] === 0x31;
}

/**
 * A phone number as the extracts give it in E.164 ("+8613812345678"): the same
 * reading as the do-not-call comparison (phoneKeyBytes), with `countryCode` for a
 * national number. Null when the result is shorter than 8 or longer than E.164's 15
 * digits: no tool can dial it, and guessing would dial someone else.
 */
export function toE164(phone: string, countryCode: string): string | null {
  const b = utf8.encode(phone.trim());
  const scratch = new Uint8Array(Math.max(PHONE_KEY_BYTES, b.length)),
    out = new Uint8Array(PHONE_KEY_BYTES);
  const n = phoneKeyBytes(b, 0, b.length, utf8.encode(countryCode), scratch, out);
  if (n < 0) return null;
  const key = n === 0 ? phone.trim() : new TextDecoder().decode(out.subarray(0, n));
  const e164 = key.startsWith('+') ? key : `+${countryCode}${key}`;
  return /^\+[1-9]\d{7,14}$/.test(e164) ? e164 : null;
}

const utf8 = new TextEncoder();

/** The national form of an E.164 number ("13812345678") in the country `countryCode`; other countries' numbers keep their E.164 form. */
export function toNational(e164: string, countryCode: string): string {
  return e164.startsWith(`+${countryCode}`) ? e164.slice(countryCode.length + 1) : e164;
}
