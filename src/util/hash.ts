/**
 * Hashes for in-memory tables and stable buckets: none is kept in an output, so
 * any of them may change, but each caller's result must not change by accident.
 */

/** The murmur3 finaliser: every bit of the result depends on every bit of h, and it is a bijection of 32-bit words. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * A hash of the bytes b[s..e) for open-addressing tables (ids, dictionary values):
 * four bytes a step (a step per byte was most of a value's coding, ~60 ns for an
 * 18-byte region), then the murmur3 finaliser, so that every byte reaches the low bits
 * the tables use. Equal bytes give equal hashes whatever buffer holds them.
 */
export function hashBytes(b: Uint8Array, s: number, e: number): number {
  let h = Math.imul(e - s, 0x9e3779b1);
  let k = s;
  for (; k + 4 <= e; k += 4) h = Math.imul(h ^ (b[k]! | (b[k + 1]! << 8) | (b[k + 2]! << 16) | (b[k + 3]! << 24)), 0x01000193);
  for (; k < e; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  return fmix32(h);
}
