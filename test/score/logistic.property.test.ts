/**
 * Logistic risk with its terms added four rules per pass against the sum taken rule by
 * rule, in rule order: the same doubles bit for bit, and the same hit counts (the rules
 * with positive points, once risk reaches flag_risk), for any number of rules (whole
 * passes of four and terms of zeros padding the last), with excluded subscribers at 0;
 * and with scorecard measures read by their steps' bins (Evaluation.bins) among the
 * columns, the sums made by the score or with the named terms (Evaluation.logit).
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack, type RulePack } from '../../src/config/rulepack.js';
import { namedAndLogit, type Evaluation } from '../../src/evaluate/evaluate.js';
import { score } from '../../src/score/score.js';
import { TextColumn } from '../../src/util/text-column.js';

const defaults = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'rules/default.yaml');
const base = defaults.rules[0]!;

/** score()'s risk and hits against the logit summed rule by rule in rule order. */
function expectRuleByRule(pack: RulePack, ev: Evaluation, points: readonly number[], hit: readonly Uint8Array[] = ev.flags): void {
  const n = ev.excluded.length;
  const s = score(pack, ev, TextColumn.from(Array.from({ length: n }, (_, i) => `s${i}`)));
  for (let i = 0; i < n; i++) {
    let logit = pack.intercept,
      raised = 0;
    for (let j = 0; j < points.length; j++)
      if (hit[j]![i]) {
        logit += points[j]!;
        if (points[j]! > 0) raised++;
      }
    const risk = ev.excluded[i] ? 0 : 1 / (1 + Math.exp(-logit));
    expect(s.risk[i]).toBe(risk);
    expect(s.hits[i]).toBe(!ev.excluded[i] && risk >= pack.flagRisk ? raised : 0);
  }
}

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
          expectRuleByRule(pack, ev, points);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('equals the sum rule by rule with measures read by their bins, and from the logit the named terms were picked with, bit for bit', () => {
    fc.assert(
      fc.property(
        scorecardWorld,
        fc.double({ min: -4, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (w, intercept, flagRisk) => {
          const { pack, ev, points } = scorecardEvaluation(w, intercept, flagRisk);
          expectRuleByRule(pack, ev, points);
          // Evaluation.logit, as evaluate() makes it with the named terms of a scorecard (up to 64 places).
          const { sums } = namedAndLogit(ev.rules, ev.flags, ev.excluded.length, ev.bins!, intercept);
          const places = points.filter((p) => p > 0).length;
          expect(sums === null).toBe(ev.bins!.length === 0 || places > 64);
          // The flags cleared: were the sums not used, every risk would be σ(intercept).
          if (sums !== null)
            expectRuleByRule(pack, { ...ev, logit: sums, bins: [], flags: ev.flags.map((f) => f.map(() => 0)) }, points, ev.flags);
        },
      ),
      { numRuns: 400 },
    );
  });
});

/** Terms in rule order: a plain column (0 steps) or a measure of 1..7 steps, each subscriber's cell a flag or a bin. */
const scorecardWorld = fc
  .tuple(
    fc.integer({ min: 1, max: 60 }),
    fc.array(
      fc.tuple(
        fc.nat(7),
        fc.array(fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(0, -0, 0.1, -0.1)), { minLength: 7, maxLength: 7 }),
      ),
      { maxLength: 14 },
    ),
  )
  .chain(([n, terms]) =>
    fc.record({
      terms: fc.constant(terms),
      cells: fc.tuple(...terms.map(([steps]) => fc.uint8Array({ min: 0, max: Math.max(1, steps), minLength: n, maxLength: n }))),
      excluded: fc.uint8Array({ min: 0, max: 1, minLength: n, maxLength: n }),
    }),
  );

function scorecardEvaluation(w: typeof scorecardWorld extends fc.Arbitrary<infer T> ? T : never, intercept: number, flagRisk: number) {
  const n = w.excluded.length;
  const pack = { ...defaults, score: 'logistic' as const, intercept, flagRisk };
  const points: number[] = [],
    flags: Uint8Array[] = [],
    bins: NonNullable<Evaluation['bins']> = [];
  w.terms.forEach(([steps, p], t) => {
    const cell = w.cells[t]!;
    if (steps === 0) {
      points.push(p[0]!);
      flags.push(cell);
      return;
    }
    bins.push({ first: flags.length, steps, bin: cell, hits: new Int32Array(steps + 1) });
    for (let k = 1; k <= steps; k++) {
      points.push(p[k - 1]!);
      flags.push(cell.map((b) => +(b === k)));
    }
  });
  const rules = points.map((weight, j) => ({ ...base, id: `r${j}`, weight }));
  const ev: Evaluation = {
    rules,
    ruleIds: rules.map((r) => r.id),
    flags,
    excluded: w.excluded,
    value: new Float64Array(n).fill(100),
    bins,
  };
  return { pack, ev, points };
}
