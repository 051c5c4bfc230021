/**
 * What a phone number is, as the extracts give it, ingest validates it and the task
 * files require it: an optional '+', then 5 to 20 ASCII digits.
 */
export const PHONE = /^\+?\d{5,20}$/;

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
