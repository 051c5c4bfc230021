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
