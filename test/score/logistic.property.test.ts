/**
 * Logistic risk with its terms added four rules per pass against the sum taken rule by
 * rule, in rule order: the same doubles bit for bit, and the same hit counts (the rules
 * with positive points, once risk reaches flag_risk), for any number of rules (whole
 * passes of four and the rules left over), with excluded subscribers at 0.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import type { Evaluation } from '../../src/evaluate/evaluate.js';
import { score } from '../../src/score/score.js';
import { TextColumn } from '../../src/util/text-column.js';

const defaults = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'rules/default.yaml');
const base = defaults.rules[0]!;

describe('logistic risk', () => {
  it('equals the sum rule by rule, bit for bit', () => {
    const subscribers = fc.integer({ min: 1, max: 60 });
    const column = (n: number) => fc.uint8Array({ min: 0, max: 1, minLength: n, maxLength: n });
    const points = fc.array(fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(0, -0, 0.1, -0.1)), { maxLength: 23 });
    const world = fc.tuple(subscribers, points).chain(([n, points]) =>
      fc.record({
        points: fc.constant(points),
        flags: fc.tuple(...points.map(() => column(n))),
        excluded: column(n).map((e) => e.map((v, i) => v & (i % 3 === 0 ? 1 : 0))),
      }),
    );
    fc.assert(
      fc.property(
        world,
        fc.double({ min: -4, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ({ points, flags, excluded }, intercept, flagRisk) => {
          const n = excluded.length;
          const pack = { ...defaults, score: 'logistic' as const, intercept, flagRisk };
          const rules = points.map((weight, j) => ({ ...base, id: `r${j}`, weight }));
          const ev: Evaluation = { rules, ruleIds: rules.map((r) => r.id), flags, excluded, value: new Float64Array(n).fill(100) };
          const s = score(pack, ev, TextColumn.from(Array.from({ length: n }, (_, i) => `s${i}`)));
          for (let i = 0; i < n; i++) {
            let logit = intercept,
              raised = 0;
            for (let j = 0; j < rules.length; j++)
              if (flags[j]![i]) {
                logit += points[j]!;
                if (points[j]! > 0) raised++;
              }
            const risk = excluded[i] ? 0 : 1 / (1 + Math.exp(-logit));
            expect(s.risk[i]).toBe(risk);
            expect(s.hits[i]).toBe(!excluded[i] && risk >= flagRisk ? raised : 0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
