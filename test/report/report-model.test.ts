/**
 * The numbers of the run report, against hand-made summaries: what it takes from a
 * summary.json, the risk bins, the trend over earlier runs, the backtest shape it
 * accepts, and the errors for what it does not.
 */
import { describe, expect, it } from 'vitest';
import { ChurnwatchError } from '../../src/errors.js';
import { parseJsonFile } from '../../src/report/report-files.js';
import { parseBacktest, reportModel, riskHistogram, runCounts, type RunCounts } from '../../src/report/report-model.js';

function summary(asOf: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    as_of: asOf,
    rule_pack: { name: 'default', sha256: 'ab'.repeat(32) },
    files: {
      subscribers: { file: 'subscribers.csv', bytes: 10, rows_read: 5, rows_accepted: 5, rows_rejected: 0, ms: 3 },
      billing_monthly: {
        file: 'bills.csv',
        bytes: 10,
        rows_read: 9,
        rows_accepted: 7,
        rows_rejected: 2,
        rejected_by_code: { 'bills.csv': 2 },
        ms: 4,
      },
    },
    subscribers: 5,
    subscribers_per_tier: { high: 1, mid: 1, mass: 3 },
    hits_per_rule: { a: 2, b: 1 },
    flagged: 2,
    tasks_per_tier: { high: 1, mid: 0, mass: 0 },
    suppressed_do_not_call: 1,
    timings_ms: { ingest: 12 },
    ...over,
  };
}

function thrown(f: () => unknown): ChurnwatchError {
  try {
    f();
  } catch (e) {
    if (e instanceof ChurnwatchError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('runCounts', () => {
  it('when a summary is read then the report keeps its counts and no timing', () => {
    const c = runCounts(summary('2026-11-23'), 'x/summary.json');
    expect(c).toEqual({
      asOf: '2026-11-23',
      rulePack: { name: 'default', sha256: 'ab'.repeat(32) },
      subscribers: 5,
      flagged: 2,
      tiers: { high: 1, mid: 1, mass: 3 },
      tasks: { high: 1, mid: 0, mass: 0 },
      hits: { a: 2, b: 1 },
      withheld: { suppressed_do_not_call: 1 },
      files: [
        { extract: 'subscribers', file: 'subscribers.csv', read: 5, rejected: 0, byCode: {} },
        { extract: 'billing_monthly', file: 'bills.csv', read: 9, rejected: 2, byCode: { 'bills.csv': 2 } },
      ],
    });
    expect(JSON.stringify(c)).not.toMatch(/"ms"|timings/);
  });

  it('when a summary counts held-out and over-capacity subscribers then they are drawn beside the suppressed ones, whatever their shape', () => {
    const c = runCounts(summary('2026-11-23', { held_out: 4, over_capacity: { high: 2, mid: 1 }, suppressed: { opt_out: 3 } }), 's');
    expect(c.withheld).toEqual({
      suppressed_do_not_call: 1,
      held_out: 4,
      'over_capacity.high': 2,
      'over_capacity.mid': 1,
      'suppressed.opt_out': 3,
    });
  });

  it('when a field the report draws is missing or not a count then it says which, in which file (65)', () => {
    const e = thrown(() => runCounts(summary('2026-11-23', { hits_per_rule: { a: -1 } }), '2026-11-23/summary.json'));
    expect(e.code).toBe('CW_REPORT_INPUT');
    expect(e.exitCode).toBe(65);
    expect(e.message).toContain('2026-11-23/summary.json: hits_per_rule.a must be a count');
    expect(thrown(() => runCounts(summary('23.11.2026'), 's')).message).toContain('as_of is missing or not a date');
    expect(thrown(() => runCounts([], 's')).message).toContain('not a JSON object');
    expect(thrown(() => runCounts(summary('2026-11-23', { tasks_per_tier: undefined }), 's')).message).toContain(
      'tasks_per_tier is missing',
    );
  });
});

describe('riskHistogram', () => {
  it('when risks are binned then each lands in the 0.05 bin it starts in, with zeros counted apart', () => {
    const oneRule = 1 - (1 - 0.35); // 0.34999999999999998: still a 0.35 risk
    const h = riskHistogram([0, 0, oneRule, 0.05, 0.0499, 0.999, 1, 0.5, Number.NaN]);
    expect(h.total).toBe(8);
    expect(h.zero).toBe(2);
    const expected = new Array(20).fill(0);
    expected[0] = 1; // 0.0499
    expected[1] = 1; // 0.05
    expected[7] = 1; // 0.35
    expected[10] = 1; // 0.5
    expected[19] = 2; // 0.999 and 1
    expect(h.counts).toEqual(expected);
  });
});

describe('reportModel', () => {
  const at = (d: string, hits: Record<string, number>, over: Record<string, unknown> = {}): RunCounts =>
    runCounts(summary(d, { hits_per_rule: hits, ...over }), d);

  it('when earlier runs are given then the trend holds those before the date, oldest first, with gaps where a rule was not yet there', () => {
    const m = reportModel({
      current: at('2026-11-23', { a: 5, c: 1 }),
      risk: [0, 0.4],
      earlier: [
        { date: '2026-11-21', counts: at('2026-11-21', { a: 3, b: 1 }) },
        { date: '2026-11-24', counts: at('2026-11-24', { a: 9 }) }, // later: not part of this run's past
        { date: '2026-11-20', counts: at('2026-11-20', { a: 2 }, { suppressed_do_not_call: 0 }) },
        { date: '2026-11-23', counts: at('2026-11-23', { a: 7 }) }, // the date itself (a folder being replaced)
      ],
      skipped: ['2026-11-22', '2026-11-19'],
    });
    expect(m.trend.dates).toEqual(['2026-11-20', '2026-11-21', '2026-11-23']);
    expect(m.trend.days[2]! - m.trend.days[0]!).toBe(3);
    expect(m.trend.hits).toEqual([
      { name: 'a', values: [2, 3, 5] },
      { name: 'b', values: [null, 1, null] },
      { name: 'c', values: [null, null, 1] },
    ]);
    expect(m.trend.tasks[0]).toEqual({ name: 'high', values: [1, 1, 1] });
    expect(m.trend.withheld).toEqual([{ name: 'suppressed_do_not_call', values: [0, 1, 1] }]);
    expect(m.skipped).toEqual(['2026-11-19', '2026-11-22']);
    expect(m.tiers).toEqual([
      { tier: 'high', subscribers: 1, tasks: 1 },
      { tier: 'mid', subscribers: 1, tasks: 0 },
      { tier: 'mass', subscribers: 3, tasks: 0 },
    ]);
    expect(m.hits).toEqual([
      { rule: 'a', hits: 5 },
      { rule: 'c', hits: 1 },
    ]);
    expect(m.withheld).toEqual([{ key: 'suppressed_do_not_call', count: 1 }]);
    expect(m.backtest).toBeUndefined();
  });
});

describe('parseBacktest', () => {
  const deciles = [
    { decile: 1, churn_rate: 0.3, lift: 3, cumulative_share: 0.3, churners: 30 },
    { decile: 2, churn_rate: 0.1, lift: 1, cumulative_share: 0.4 },
  ];

  it('when a backtest result has the documented deciles then those four numbers are read and the rest ignored', () => {
    expect(parseBacktest({ auc: 0.7, deciles }, 'bt.json')).toEqual([
      { decile: 1, churn_rate: 0.3, lift: 3, cumulative_share: 0.3 },
      { decile: 2, churn_rate: 0.1, lift: 1, cumulative_share: 0.4 },
    ]);
  });

  it('when the result is the JSON of churnwatch backtest then its ranking deciles are read (rate as the churn rate)', () => {
    const ranking = {
      auc: 0.7,
      deciles: {
        base_rate: 0.1,
        rows: [{ decile: 1, subscribers: 10, churners: 3, rate: 0.3, lift: 3, cumulative_share: 0.3, min_score: 0.5 }],
      },
    };
    expect(parseBacktest({ population: {}, ranking, expected_loss: {} }, 'bt.json')).toEqual([
      { decile: 1, churn_rate: 0.3, lift: 3, cumulative_share: 0.3 },
    ]);
    const noLift = { ranking: { deciles: { rows: [{ decile: 1, rate: 0, lift: null, cumulative_share: 0 }] } } }; // no churner: lift not computable
    expect(thrown(() => parseBacktest(noLift, 'bt.json')).message).toContain(
      'bt.json: ranking.deciles.rows[0].lift is missing or not a number',
    );
  });

  it('when a decile lacks a number then the message names the entry and the field', () => {
    const e = thrown(() =>
      parseBacktest({ deciles: [deciles[0], { decile: 2, churn_rate: 0.1, lift: 'high', cumulative_share: 0.4 }] }, 'bt.json'),
    );
    expect([e.code, e.message]).toEqual([
      'CW_REPORT_INPUT',
      expect.stringContaining('bt.json: deciles[1].lift is missing or not a number'),
    ]);
    expect(thrown(() => parseBacktest({ rules: [] }, 'bt.json')).message).toContain('bt.json: no deciles array');
    expect(thrown(() => parseBacktest({ deciles: [] }, 'bt.json')).message).toContain('deciles has 0 entries');
  });
});

describe('parseJsonFile', () => {
  it('when the JSON is cut then the message gives line and column and quotes nothing of the file', () => {
    const e = thrown(() => parseJsonFile('{\n  "as_of": "2026-11-23",\n  "secret": 13812345678,\n  x', 's.json'));
    expect(e.code).toBe('CW_REPORT_INPUT');
    expect(e.message).toBe('s.json: not valid JSON at line 4, column 3; check that the file is complete');
    expect(e.context).toMatchObject({ file: 's.json', line: 4, column: 3 });
  });
});
