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

  private constructor(flags: readonly Uint8Array[], n: number) {
    const words = Math.max(1, Math.ceil(flags.length / 32));
    const bits = new Int32Array(n * words);
    for (let j = 0; j < flags.length; j++) {
      const f = flags[j]!,
        word = j >>> 5,
        bit = 1 << (j & 31);
      for (let i = 0; i < n; i++) if (f[i]) bits[i * words + word]! |= bit;
    }
    this.words = words;
    this.bits = bits;
  }

  /** The bits of the rules' flag columns over n subscribers, made once per set of columns (they are never changed once made). */
  static of(flags: readonly Uint8Array[], n: number): HitBits {
    let made = cache.get(flags);
    if (made === undefined || made.bits.length !== n * made.words) {
      made = new HitBits(flags, n);
      cache.set(flags, made);
    }
    return made;
  }

  /** Equal for two subscribers exactly when they hit the same rules: with one word, the word itself. */
  key(i: number): number | string {
    const w = this.words;
    return w === 1 ? this.bits[i]! : this.bits.subarray(i * w, (i + 1) * w).join(',');
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

const cache = new WeakMap<readonly Uint8Array[], HitBits>();

/** The ids of the rules each subscriber hits joined by ';', made once per distinct set of hit rules (few). */
export class HitCodes {
  private readonly bits: HitBits;
  private readonly known = new Map<number | string, string>();

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
