/**
 * The rules stage shared between two threads (evaluate/rules-thread.ts) computes what
 * one thread computes, bit for bit: the logit sums and named terms of any cut of the
 * subscribers into ranges (ragged, empty, across blocks, n not a multiple of 4) are
 * those of one range over all of them; and an evaluation whose steps jobs and logit
 * another thread ran, all, some or none of them, in any order, is the evaluation made
 * in one thread (flags, bins, hits, named terms, logit). The other thread is played
 * here in this one, by a helper that runs takeJob on the jobs it is handed, late or never.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRulePack, requiredFeatures } from '../../src/config/rulepack.js';
import { evaluate, type Evaluation } from '../../src/evaluate/evaluate.js';
import { HitBits } from '../../src/evaluate/hit-bits.js';
import { logitRows, type Naming, type TermTables } from '../../src/evaluate/passes.js';
import { takeJob, type RulesHelper, type RulesJob } from '../../src/evaluate/rules-thread.js';
import type { FeatureColumn } from '../../src/rules/compile.js';

function xorshift(seed: number): () => number {
  let s = seed | 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

const POINTS = [0, -0, 0.1, -0.1, 1.5, -2.25, 0.7, 1e-9, 3.3];

/** Terms of 1..7 steps (cell 0 adds nothing), padded to fours, with places for the named terms in two words. */
function randomTables(next: () => number, n: number): { terms: TermTables; order: Int32Array; words: number } {
  const count = 1 + (next() % 9);
  const cells: Uint8Array[] = [],
    offsets: number[] = [];
  const points: number[] = new Array(256).fill(0),
    low: number[] = new Array(256).fill(0),
    high: number[] = new Array(256).fill(0);
  for (let t = 0; t < count; t++) {
    const steps = 1 + (next() % 7);
    cells.push(Uint8Array.from({ length: n }, () => next() % (steps + 1)));
    offsets.push(points.length);
    points.push(0);
    low.push(0);
    high.push(0);
    for (let k = 0; k < steps; k++) {
      points.push(next() % 5 === 0 ? POINTS[next() % POINTS.length]! : ((next() % 2001) - 1000) / 997);
      const place = next() % 80;
      low.push(place < 32 ? 1 << place : 0);
      high.push(place >= 32 && place < 64 ? 1 << (place - 32) : 0);
    }
  }
  while (cells.length % 4 !== 0) {
    cells.push(cells[0]!);
    offsets.push(0);
  }
  const terms: TermTables = {
    cells,
    offsets: Int32Array.from(offsets),
    low: Int32Array.from(low),
    high: Int32Array.from(high),
    points: Float64Array.from(points),
    up: Uint8Array.from(points, (p) => +(p > 0)),
  };
  const words = 3;
  return { terms, order: Int32Array.from({ length: 64 }, () => next() % (32 * words)), words };
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

describe('logit sums over ranges of subscribers', () => {
  it('gives the bits of one range over all, for any cut', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * 4096 + 11 }),
        fc.integer(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        fc.double({ min: -4, max: 2, noNaN: true }),
        (n, seed, fractions, intercept) => {
          const { terms, order, words } = randomTables(xorshift(seed), n);
          const whole = { logit: new Float64Array(n), raised: new Uint8Array(n), bits: new Int32Array(n * words) };
          logitRows(terms, intercept, 0, n, whole.logit, whole.raised, { order, bits: whole.bits, words });
          const cuts = [0, ...fractions.map((f) => Math.floor(f * n)).sort((a, b) => a - b), n];
          const parts = { logit: new Float64Array(n).fill(Number.NaN), raised: new Uint8Array(n).fill(9), bits: new Int32Array(n * words) };
          const naming: Naming = { order, bits: parts.bits, words };
          // The ranges in reverse, as the other thread takes them.
          for (let k = cuts.length - 1; k > 0; k--) logitRows(terms, intercept, cuts[k - 1]!, cuts[k]!, parts.logit, parts.raised, naming);
          expect(Buffer.compare(bytes(parts.logit), bytes(whole.logit))).toBe(0);
          expect(Buffer.compare(parts.raised, whole.raised)).toBe(0);
          expect(Buffer.compare(bytes(parts.bits), bytes(whole.bits))).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

/** A logistic pack of plain rules and scorecard measures: few steps and many (past the unrolled bounds), gaps, a ratio that is NaN. */
const pack = parseRulePack(
  [
    'pack: split',
    'value: amount(M0)',
    'tiers: { high: 60, mid: 30 }',
    'score: logistic',
    'intercept: -1.25',
    'flag_risk: 0.2',
    'rules:',
    '  - { id: high_bill, when: "amount(M0) > 60", points: 0.5, action: call }',
    '  - { id: low_last, when: "amount(M1) < 15", points: -0.3, action: call }',
    '  - { id: grew, when: "amount(M0) > amount(M2) * 1.5", points: 0.9, action: call }',
    'scorecard:',
    '  - id: bill',
    '    measure: amount(M0)',
    '    action: call',
    '    steps:',
    '      - { below: 10, points: -0.5 }',
    '      - { from: 10, below: 50, points: 0.4 }',
    '      - { from: 50, points: 0.7 }',
    '  - id: change',
    '    measure: amount(M0) - amount(M1)',
    '    action: call',
    '    steps:',
    ...[-80, -60, -40, -20, -5, 0, 5, 20, 40].map((b, k, all) =>
      k + 1 < all.length
        ? `      - { from: ${b}, below: ${all[k + 1]}, points: ${((k % 5) - 2) * 0.35} }`
        : `      - { from: ${b}, points: 1.1 }`,
    ),
    '  - id: ratio',
    '    measure: amount(M1) / amount(M2)',
    '    action: call',
    '    steps:',
    '      - { below: 0.5, points: 1.5 }',
    '      - { from: 0.5, below: 0.9, points: 0.2 }',
    '      - { from: 1.3, points: -0.6 }',
    '  - id: last',
    '    measure: amount(M2)',
    '    action: call',
    '    steps:',
    '      - { from: 30, below: 70, points: 0.3 }',
    '',
  ].join('\n'),
  'split.yaml',
);

function table(n: number, seed: number): { n: number; columns: Map<string, FeatureColumn> } {
  const next = xorshift(seed);
  const columns = new Map(
    [...requiredFeatures(pack).keys()].map((k): [string, FeatureColumn] => [
      k,
      k.startsWith('amount')
        ? { values: Int32Array.from({ length: n }, () => (next() % 13 === 0 ? 0 : next() % 10_000)), unit: 100 }
        : Uint8Array.from({ length: n }, () => next() % 4),
    ]),
  );
  return { n, columns };
}

/** Everything the evaluation computed, as text of its bytes (compared whole, not cell by cell). */
function contents(ev: Evaluation) {
  const n = ev.value.length;
  const text = (a: ArrayBufferView) => Buffer.from(bytes(a)).toString('base64');
  return {
    flags: ev.flags.map(text),
    bins: (ev.bins ?? []).map((b) => ({ first: b.first, steps: b.steps, bin: text(b.bin), hits: [...b.hits] })),
    named: text(HitBits.of(ev.named!, n).bits),
    namedColumns: ev.named!.map(text),
    logit: ev.logit && { logit: text(ev.logit.logit), raised: text(ev.logit.raised), intercept: ev.logit.intercept },
  };
}

/** Plays the other thread: each job run at once, after the next job is handed over, or never, as `plan` says. */
function playedHelper(plan: readonly number[]): RulesHelper & { late(): void } {
  let posted = 0;
  let held: RulesJob | null = null;
  return {
    post(job) {
      if (held !== null) takeJob(held);
      held = null;
      const how = plan[posted++ % plan.length]!;
      if (how === 0) takeJob(job);
      else if (how === 1) held = job;
    },
    late() {
      if (held !== null) takeJob(held);
      held = null;
    },
  };
}

describe('evaluate with the passes shared', () => {
  it('makes the one-thread evaluation, whichever thread ran each job', () => {
    const n = 40_003;
    const one = table(n, 7);
    const alone = contents(evaluate(pack, one, 20_000));
    expect(alone.bins.length).toBe(4);
    expect(alone.logit).toBeDefined();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 6 }), (plan) => {
        const helper = playedHelper(plan);
        const ev = evaluate(pack, one, 20_000, helper);
        helper.late();
        expect(contents(ev)).toEqual(alone);
      }),
      { numRuns: 12 },
    );
  });

  it('makes it over other data and sizes too', () => {
    for (const [n, seed] of [
      [1, 3],
      [5, 11],
      [4097, 13],
      [16_385, 17],
    ] as const) {
      const t = table(n, seed);
      expect(contents(evaluate(pack, t, 20_000, playedHelper([0, 2, 1])))).toEqual(contents(evaluate(pack, t, 20_000)));
    }
  });
});
