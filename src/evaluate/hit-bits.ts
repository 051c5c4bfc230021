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
  private readonly patterns: PatternNode = new Map();
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
      for (let j = 0; j < flags.length; j++) {
        const f = flags[j]!,
          word = j >>> 5,
          shift = j & 31;
        // Flags are 0/1: a shift, not a branch (a scorecard's steps hit at random, and a branch per cell mispredicts).
        if (words === 1) for (let i = b; i < e; i++) bits[i]! |= f[i]! << shift;
        else for (let i = b; i < e; i++) bits[i * words + word]! |= f[i]! << shift;
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
   * pattern through a tree of maps, one level per word (text keys cost a string per call).
   */
  key(i: number): number {
    const w = this.words,
      base = i * w;
    if (w === 1) return this.bits[i]!;
    let node = this.patterns;
    for (let k = 0; k < w - 1; k++) {
      const word = this.bits[base + k]!;
      let next = node.get(word) as PatternNode | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(word, next);
      }
      node = next;
    }
    const last = this.bits[base + w - 1]!;
    let id = node.get(last) as number | undefined;
    if (id === undefined) {
      id = this.patternCount++;
      node.set(last, id);
    }
    return id;
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

/** Words of bits per subscriber for `rules` rules. */
export function wordsFor(rules: number): number {
  return Math.max(1, Math.ceil(rules / 32));
}

/** A level of HitBits.key's tree: a word's value to the next level, or at the last word to the pattern's number. */
type PatternNode = Map<number, PatternNode | number>;

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
