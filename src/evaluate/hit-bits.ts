/**
 * Subscribers per block of the loops that take every rule over a block before the
 * next block (hit bits, a logit's terms, the named terms): the block's sums stay in
 * cache, where a pass per rule over all subscribers read and wrote them once per rule.
 */
export const BLOCK = 4096;

/**
 * Each subscriber's hit rules as bits, 32 rules to a word: made column by column
 * over all subscribers (reads that move forward), then read once per subscriber
 * where the stages after the policy visit subscribers in rank order; reading every
 * rule's flag column there would be one scattered read per rule and row.
 */
export class HitBits {
  /** Words per subscriber: subscriber i's bits are bits[i * words ..], bit j % 32 of word j / 32 for rule j. */
  readonly words: number;
  readonly bits: Int32Array;
  /** Open addressing by a hash of the words: each slot -1 or a pattern's number. */
  private slots = new Int32Array(1024).fill(-1);
  /** Per pattern number, a subscriber that has it (its words are the pattern's). */
  private holders = new Int32Array(512);
  private patternCount = 0;

  private constructor(words: number, bits: Int32Array) {
    this.words = words;
    this.bits = bits;
  }

  private static fromFlags(flags: readonly Uint8Array[], n: number): HitBits {
    const words = wordsFor(flags.length);
    const bits = new Int32Array(n * words);
    // Every rule over a block of subscribers before the next block: the block's words stay in cache.
    for (let b = 0; b < n; b += BLOCK) {
      const e = Math.min(n, b + BLOCK);
      let j = 0;
      // Four rules per pass (never across a word: 32 is a multiple of 4): a quarter of the block's words' reads and writes.
      for (; j + 4 <= flags.length; j += 4) {
        const f0 = flags[j]!,
          f1 = flags[j + 1]!,
          f2 = flags[j + 2]!,
          f3 = flags[j + 3]!,
          word = j >>> 5,
          shift = j & 31;
        for (let i = b, at = b * words + word; i < e; i++, at += words)
          bits[at]! |= (f0[i]! | (f1[i]! << 1) | (f2[i]! << 2) | (f3[i]! << 3)) << shift;
      }
      for (; j < flags.length; j++) {
        const f = flags[j]!,
          word = j >>> 5,
          shift = j & 31;
        // Flags are 0/1: a shift, not a branch (a scorecard's steps hit at random, and a branch per cell mispredicts).
        for (let i = b, at = b * words + word; i < e; i++, at += words) bits[at]! |= f[i]! << shift;
      }
    }
    return new HitBits(words, bits);
  }

  /** The bits of the rules' flag columns over n subscribers, made once per set of columns (they are never changed once made). */
  static of(flags: readonly Uint8Array[], n: number): HitBits {
    let made = cache.get(flags);
    if (made === undefined || made.bits.length !== n * made.words) {
      made = HitBits.fromFlags(flags, n);
      cache.set(flags, made);
    }
    return made;
  }

  /**
   * Bits set where the flag columns were made (wordsFor(flags.length) words per
   * subscriber), kept as those columns' bits: of() then reads every column no more.
   */
  static adopt(flags: readonly Uint8Array[], bits: Int32Array): HitBits {
    const made = new HitBits(wordsFor(flags.length), bits);
    cache.set(flags, made);
    return made;
  }

  /**
   * Equal for two subscribers exactly when they hit the same rules: with one word, the
   * word itself; with more (over 32 rules: a scorecard), a number given to each distinct
   * pattern as first asked for, found in a hash table of the patterns (a tree of maps, a
   * level per word, took three map lookups per call; text keys cost a string per call).
   */
  key(i: number): number {
    const w = this.words,
      bits = this.bits,
      base = i * w;
    if (w === 1) return bits[i]!;
    const h = wordsHash(bits, base, w);
    let mask = this.slots.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const p = this.slots[slot]!;
      if (p < 0) break;
      const other = this.holders[p]! * w;
      let k = 0;
      while (k < w && bits[base + k] === bits[other + k]) k++;
      if (k === w) return p;
    }
    const p = this.patternCount++;
    if (p === this.holders.length) {
      const grown = new Int32Array(2 * p);
      grown.set(this.holders);
      this.holders = grown;
    }
    this.holders[p] = i;
    if (2 * this.patternCount > this.slots.length) this.rehash();
    mask = this.slots.length - 1;
    let slot = h & mask;
    while (this.slots[slot] !== -1) slot = (slot + 1) & mask;
    this.slots[slot] = p;
    return p;
  }

  /** The pattern table at twice its size. */
  private rehash(): void {
    const w = this.words,
      bits = this.bits,
      slots = new Int32Array(2 * this.slots.length).fill(-1),
      mask = slots.length - 1;
    for (let p = 0; p < this.patternCount - 1; p++) {
      let slot = wordsHash(bits, this.holders[p]! * w, w) & mask;
      while (slots[slot] !== -1) slot = (slot + 1) & mask;
      slots[slot] = p;
    }
    this.slots = slots;
  }

  hits(i: number, j: number): boolean {
    return (this.bits[i * this.words + (j >>> 5)]! & (1 << (j & 31))) !== 0;
  }

  /** Subscriber i hits no rule. */
  none(i: number): boolean {
    const w = this.words;
    for (let k = i * w; k < (i + 1) * w; k++) if (this.bits[k] !== 0) return false;
    return true;
  }
}

/** FNV-1a over the words bits[base .. base + w), its high bits folded into the low ones (the table's mask takes those). */
function wordsHash(bits: Int32Array, base: number, w: number): number {
  let h = 0x811c9dc5;
  for (let k = base; k < base + w; k++) h = Math.imul(h ^ bits[k]!, 0x01000193);
  return h ^ (h >>> 15);
}

/** Words of bits per subscriber for `rules` rules. */
export function wordsFor(rules: number): number {
  return Math.max(1, Math.ceil(rules / 32));
}

const cache = new WeakMap<readonly Uint8Array[], HitBits>();

/** The ids of the rules each subscriber hits joined by ';', made once per distinct set of hit rules (few). */
export class HitCodes {
  private readonly bits: HitBits;
  private readonly known = new Map<number, string>();

  constructor(
    private readonly ruleIds: readonly string[],
    flags: readonly Uint8Array[],
    n: number,
  ) {
    this.bits = HitBits.of(flags, n);
  }

  of(i: number): string {
    const key = this.bits.key(i);
    let codes = this.known.get(key);
    if (codes === undefined) {
      codes = this.ruleIds.filter((_, j) => this.bits.hits(i, j)).join(';');
      this.known.set(key, codes);
    }
    return codes;
  }
}
