/**
 * Noisy-OR risk looked up by each subscriber's set of hit rules against the product
 * taken rule by rule, in rule order: the same doubles bit for bit, and the same hit
 * counts, with up to 16 rules (the table) and past them (rule by rule).
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import type { Evaluation } from '../../src/evaluate/evaluate.js';
import { score } from '../../src/score/score.js';
import { TextColumn } from '../../src/util/text-column.js';

const pack = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'rules/default.yaml');
const base = pack.rules[0]!;

describe('noisy-OR risk', () => {
  it('equals the product rule by rule, bit for bit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer(),
        (weights, n, seed) => {
          const rules = weights.map((weight, j) => ({ ...base, id: `r${j}`, weight }));
          let x = seed | 1;
          const flags = rules.map(() =>
            Uint8Array.from({ length: n }, () => {
              x ^= x << 13;
              x ^= x >>> 17;
              x ^= x << 5;
              return (x >>> 3) & 1;
            }),
          );
          const ev: Evaluation = {
            rules,
            ruleIds: rules.map((r) => r.id),
            flags,
            excluded: new Uint8Array(n),
            value: new Float64Array(n).fill(100),
          };
          const s = score(pack, ev, TextColumn.from(Array.from({ length: n }, (_, i) => `s${i}`)));
          for (let i = 0; i < n; i++) {
            let keep = 1,
              hits = 0;
            for (let j = 0; j < rules.length; j++)
              if (flags[j]![i]) {
                keep *= 1 - rules[j]!.weight;
                hits++;
              }
            expect(Object.is(s.risk[i], hits ? 1 - keep : 0)).toBe(true);
            expect(s.hits[i]).toBe(hits);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
