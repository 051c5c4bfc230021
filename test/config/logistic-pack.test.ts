/**
 * The logistic keys of a rule pack: score, ranking, intercept, flag_risk, points and
 * the scorecard's steps, which become ordinary rules; and the mistakes refused (78).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import { ChurnwatchError } from '../../src/errors.js';
import { cli } from '../helpers/cli.js';

const HAND = readFileSync('test/sql/logistic-pack.yaml', 'utf8');
const DEFAULT = readFileSync('rules/default.yaml', 'utf8');

function refusal(text: string): ChurnwatchError {
  try {
    parseRulePack(text, 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ChurnwatchError);
    expect((e as ChurnwatchError).exitCode).toBe(78);
    return e as ChurnwatchError;
  }
  throw new Error('the pack was accepted');
}

describe('rule pack score keys', () => {
  it('a pack without them scores by noisy-OR and ranks by expected loss', () => {
    const p = parseRulePack(DEFAULT, 'default.yaml');
    expect([p.score, p.ranking, p.scorecard, p.fitted]).toEqual(['noisy_or', 'expected_loss', [], null]);
  });

  it('a logistic pack: points as the rules’ strength, and each scorecard step a rule from <= x < below', () => {
    const p = parseRulePack(HAND, 'hand.yaml');
    expect([p.score, p.ranking, p.intercept, p.flagRisk]).toEqual(['logistic', 'risk', -2.5, 0.1]);
    expect(p.rules.map((r) => [r.id, r.weight, r.when])).toEqual([
      ['suspended', 1.2, "status == 'suspended_arrears' or status == 'suspended_hold'"],
      ['loyal_member', -0.4, "member_level == 'gold' or member_level == 'diamond'"],
      ['bill_ratio_1', 1.5, '(amount(M0) / amount(M1)) < 0.7'],
      ['bill_ratio_2', 0.4, '0.7 <= (amount(M0) / amount(M1)) < 0.95'],
      ['bill_ratio_3', -0.3, '1.2 <= (amount(M0) / amount(M1))'],
      ['line_age_1', 0.8, '(D - activation_date) < 365'],
    ]);
    expect(p.rules[3]!.title).toBe('Bill this month over last month: 0.7 to below 0.95');
    expect(p.scorecard[0]!.steps.map((s) => [s.from, s.below])).toEqual([
      [null, 0.7],
      [0.7, 0.95],
      [1.2, null],
    ]);
  });

  it('the steps of a scorecard measure show one reason expression, checked and compiled once; another pack gets its own', () => {
    const p = parseRulePack(HAND, 'hand.yaml');
    const parts = p.rules.filter((r) => r.id.startsWith('bill_ratio_')).map((r) => r.reason.find((x) => typeof x !== 'string'));
    expect(parts).toHaveLength(3);
    expect(parts[0]).toMatchObject({ expr: 'amount(M0) / amount(M1)', unit: 'number' });
    expect(parts[1]).toBe(parts[0]);
    expect(parts[2]).toBe(parts[0]);
    const again = parseRulePack(HAND, 'hand.yaml')
      .rules.find((r) => r.id === 'bill_ratio_1')!
      .reason.find((x) => typeof x !== 'string');
    expect(again).not.toBe(parts[0]);
    expect(again).toMatchObject({ expr: 'amount(M0) / amount(M1)' });
  });

  it.each([
    [
      'a weight in a logistic pack',
      HAND.replace('points: 1.2', 'weight: 0.3'),
      /rule suspended\.weight: a logistic pack gives each rule points, not weight/,
    ],
    [
      'points in a noisy-OR pack',
      DEFAULT.replace('weight: 0.35', 'points: 0.35'),
      /rule arpu_drop_mom\.points: a noisy-OR pack gives each rule weight/,
    ],
    [
      'an intercept in a noisy-OR pack',
      DEFAULT.replace('pack: default', 'pack: default\nintercept: -2'),
      /intercept: belongs to a logistic pack/,
    ],
    ['an unknown score', HAND.replace('score: logistic', 'score: boosted'), /score: must be noisy_or or logistic/],
    ['an unknown ranking', HAND.replace('ranking: risk', 'ranking: value'), /ranking: must be expected_loss or risk/],
    [
      'overlapping steps',
      HAND.replace('{ from: 1.2, points', '{ from: 0.9, points'),
      /scorecard bill_ratio\.steps\[2\]\.from: steps must be in order/,
    ],
    [
      'a middle step open below',
      HAND.replace('{ from: 0.7, below: 0.95', '{ below: 0.95'),
      /steps\[1\]\.from: only the first step may be open below/,
    ],
    [
      'a measure that is a condition',
      HAND.replace('measure: D - activation_date', 'measure: amount(M0) > 1'),
      /scorecard line_age\.measure: must be a number/,
    ],
  ])('refuses %s (78), naming where', (_, text, message) => {
    expect(refusal(text).message).toMatch(message);
  });

  it('rules check shows the score, and each rule and step with its points', async () => {
    const r = await cli(['rules', 'check', 'test/sql/logistic-pack.yaml']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('score: logistic, risk = 1 / (1 + exp(-(-2.5 + points hit))); flagged from risk 0.1; tasks ranked by risk');
    expect(r.out).toContain('bill_ratio_2: Bill this month over last month: 0.7 to below 0.95');
    expect(r.out).toContain('  points -0.4, call within 48h: Thank the member.');
  });
});
