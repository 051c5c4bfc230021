/**
 * The named terms' hit bits, set while namedTerms picks each subscriber's terms, are
 * the bits HitBits would make from the named columns themselves: over 32 rules (two
 * words), with ties of points and rules that raise nothing; and the terms picked with
 * scorecard measures read by their steps' bins are those picked from the columns.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import { NAMED_TERMS, namedTerms, type StepBins } from '../../src/evaluate/evaluate.js';
import { HitBits } from '../../src/evaluate/hit-bits.js';

const base = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'rules/default.yaml').rules[0]!;

describe('namedTerms', () => {
  it('leaves the hit bits of the named columns as HitBits makes them from the columns', () => {
    const n = 9000,
      R = 45;
    const rules = Array.from({ length: R }, (_, j) => ({ ...base, id: `r${j}`, weight: j % 7 === 3 ? -0.5 : ((j * 13) % 5) * 0.25 }));
    let x = 12345;
    const flags = rules.map(() =>
      Uint8Array.from({ length: n }, () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 4) % 3 === 0 ? 1 : 0;
      }),
    );
    const named = namedTerms(rules, flags, n);
    const adopted = HitBits.of(named, n);
    const fromColumns = HitBits.of([...named], n);
    expect(adopted).not.toBe(fromColumns);
    expect(adopted.words).toBe(2);
    expect(Array.from(adopted.bits)).toEqual(Array.from(fromColumns.bits));
    for (let i = 0; i < n; i++) expect(named.reduce((a, f) => a + f[i]!, 0)).toBeLessThanOrEqual(NAMED_TERMS);
  });

  it('picks the same terms from measures by their bins as from their step columns', () => {
    const n = 9000;
    let x = 777;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 4;
    };
    // Plain columns and measures of 1..7 steps in turn, points with ties, some not positive: 63 rules.
    const weights: number[] = [],
      flags: Uint8Array[] = [],
      bins: StepBins[] = [];
    for (let t = 0; weights.length < 63; t++) {
      const steps = Math.min(63 - weights.length, t % 3 === 0 ? 0 : 1 + (t % 7));
      if (steps === 0) {
        weights.push(((t * 7) % 5) * 0.25 - 0.25);
        flags.push(Uint8Array.from({ length: n }, () => +(next() % 5 === 0)));
        continue;
      }
      const bin = Uint8Array.from({ length: n }, () => next() % (steps + 1));
      bins.push({ first: flags.length, steps, bin, hits: new Int32Array(steps + 1) });
      for (let k = 1; k <= steps; k++) {
        weights.push(((t + k * 3) % 6) * 0.25 - 0.25);
        flags.push(bin.map((b) => +(b === k)));
      }
    }
    const rules = weights.map((weight, j) => ({ ...base, id: `r${j}`, weight }));
    const fromColumns = namedTerms(rules, flags, n);
    const fromBins = namedTerms(rules, flags, n, bins);
    expect(fromBins.map((f) => Array.from(f))).toEqual(fromColumns.map((f) => Array.from(f)));
    expect(Array.from(HitBits.of(fromBins, n).bits)).toEqual(Array.from(HitBits.of(fromColumns, n).bits));
  });
});
