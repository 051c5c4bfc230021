/**
 * A small, fast, seedable pseudo-random number generator for the extract generator.
 *
 * The core is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128 bits
 * of state) seeded from a 128-bit string hash (cyrb128) and warmed up. Everything is
 * made of 32-bit integer operations and IEEE-754 basic arithmetic (+ - * / sqrt),
 * which JavaScript defines exactly, so a seed gives the same sequence on every run,
 * platform and engine. `Math.log`, `Math.exp` and friends are NOT exact in
 * JavaScript (their precision is implementation-defined), so the logarithm and
 * exponential the normal and lognormal draws need are computed here from basic
 * arithmetic.
 *
 * A numeric seed is used through its decimal string: seed 42 and seed "42" are the
 * same stream (a command line always hands over strings).
 */

// Math.LN2 and Math.SQRT2 are constants the language fixes to the nearest double, unlike Math.log.
const LN2 = Math.LN2;
const SQRT2 = Math.SQRT2;
const TWO32 = 4294967296;

/** cyrb128: a 128-bit hash of a string's UTF-16 code units, as four uint32 words. */
export function hashString(str: string): [number, number, number, number] {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** A 32-bit integer finaliser (lowbias32): a stateless hash of one uint32 to a uint32. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, s];
}

/** 1/(2k+1) for k = 0..13. */
const INV_ODD = [
  1, 0.3333333333333333, 0.2, 0.14285714285714285, 0.1111111111111111, 0.09090909090909091, 0.07692307692307693, 0.06666666666666667,
  0.058823529411764705, 0.05263157894736842, 0.047619047619047616, 0.043478260869565216, 0.04, 0.037037037037037035,
];

/** Natural logarithm from basic arithmetic only (exact-to-the-spec, so reproducible everywhere). */
export function ln(x: number): number {
  if (x !== x || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  let e = 0;
  while (x >= 1099511627776) {
    x /= 1099511627776;
    e += 40;
  } // 2^40, exact
  while (x < 9.094947017729282e-13) {
    x *= 1099511627776;
    e -= 40;
  }
  while (x >= 2) {
    x *= 0.5;
    e++;
  }
  while (x < 1) {
    x *= 2;
    e--;
  }
  if (x > SQRT2) {
    x *= 0.5;
    e++;
  }
  // x in (0.707, 1.415]: ln x = 2 atanh(s), s = (x-1)/(x+1), |s| <= 0.1716
  const s = (x - 1) / (x + 1);
  const s2 = s * s;
  // atanh(s) = s (1 + s²/3 + s⁴/5 + ...), Horner on s² with the literal 1/(2k+1)
  let sum = INV_ODD[INV_ODD.length - 1]!;
  for (let k = INV_ODD.length - 2; k >= 0; k--) sum = sum * s2 + INV_ODD[k]!;
  return 2 * s * sum + e * LN2;
}

/** 1/n! for n = 0..14, as literals (exact to parse, so the same everywhere). */
const INV_FACT = [
  1, 1, 0.5, 0.16666666666666666, 0.041666666666666664, 0.008333333333333333, 0.001388888888888889, 0.0001984126984126984,
  0.0000248015873015873, 0.0000027557319223985893, 2.755731922398589e-7, 2.505210838544172e-8, 2.08767569878681e-9, 1.6059043836821613e-10,
  1.1470745597729725e-11,
];

/** e^x from basic arithmetic only. */
export function exp(x: number): number {
  if (x !== x) return NaN;
  if (x > 709.78) return Infinity;
  if (x < -745.2) return 0;
  const k = Math.round(x / LN2);
  const r = x - k * LN2; // |r| <= ~0.347, so 14 Taylor terms reach double precision
  let sum = INV_FACT[14]!;
  for (let n = 13; n >= 0; n--) sum = sum * r + INV_FACT[n]!;
  let p = sum;
  let kk = k;
  while (kk >= 30) {
    p *= 1073741824;
    kk -= 30;
  }
  while (kk <= -30) {
    p /= 1073741824;
    kk += 30;
  }
  while (kk >= 4) {
    p *= 16;
    kk -= 4;
  }
  while (kk <= -4) {
    p *= 0.0625;
    kk += 4;
  }
  while (kk > 0) {
    p *= 2;
    kk--;
  }
  while (kk < 0) {
    p *= 0.5;
    kk++;
  }
  return p;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number | string) {
    const h = hashString(String(seed));
    // Spread the hash through splitmix32 so that similar seeds start far apart.
    let s = h[0] ^ h[1] ^ h[2] ^ h[3];
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [z, next] = splitmix32(s);
      s = next;
      words.push((z ^ h[i]!) >>> 0);
    }
    this.a = words[0]!;
    this.b = words[1]!;
    this.c = words[2]!;
    this.d = words[3]! | 1;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  /** A new independent stream for a labelled purpose, derived from this seed's state. */
  derive(label: string): Prng {
    return new Prng(`${this.a.toString(16)}:${this.b.toString(16)}:${this.c.toString(16)}:${this.d.toString(16)}/${label}`);
  }

  /** Next uint32. */
  nextU32(): number {
    const a = this.a,
      b = this.b,
      c = this.c;
    const d = (this.d + 1) | 0;
    const t = (((a + b) | 0) + d) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const cr = (c << 21) | (c >>> 11);
    this.c = (cr + t) | 0;
    this.d = d;
    return t >>> 0;
  }

  /** Float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / TWO32;
  }

  /** Integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(array: readonly T[]): T {
    return array[Math.floor(this.next() * array.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal deviate (Marsaglia's polar method). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * ln(s)) / s);
    this.spare = v * m;
    this.hasSpare = true;
    return u * m;
  }

  /** exp(mu + sigma * N(0,1)). */
  lognormal(mu: number, sigma: number): number {
    return exp(mu + sigma * this.normal());
  }
}
