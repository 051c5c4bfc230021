/**
 * backtest on fixtures/backtest, whose figures are worked out by hand here. The pack
 * has two rules: bill_drop (weight 0.5) and low_bill (weight 0.2). Bills M1→M0 by
 * subscriber: 1 100→50, 2 100→60, 3 100→65, 4 100→100, 5 30→20, 6 15→15, 7 18→18,
 * 8 100→90, 9 100→95, 10 100→100, 11 100→100, 12 100→10 (closed: never flagged).
 *   bill_drop flags 1, 2, 3, 5; low_bill flags 6, 7. Risk: 0.5 for 1, 2, 3, 5; 0.2 for 6, 7; 0 else.
 * labels.csv: churned 1, 3, 5, 7, 11, 12; not churned 2, 4, 6, 8, 9; 10 has no label;
 *   0000000099 is unknown; line 14 has churned "yes"; line 15 repeats subscriber 1.
 *   Labelled 11, churners 6: base rate 6/11.
 */
import { describe, expect, it } from 'vitest';
import { cli, cliJson, tempFile } from '../helpers/cli.js';

const BASE = ['backtest', '--input', 'fixtures/backtest', '--as-of', '2026-11-23', '--rules', 'fixtures/backtest/rules.yaml'];

const labelsFile = (text: string): string => tempFile('labels.csv', text);

describe('churnwatch backtest', () => {
  it('when run on the fixture then every figure and interval is the hand-computed one', async () => {
    const b = await cliJson([...BASE, '--labels', 'fixtures/backtest/labels.csv']);
    expect(b.labels).toMatchObject({
      records: 14,
      malformed: 2,
      unknown_subscribers: 1,
      unlabelled_subscribers: 1,
      churned_before_as_of: 1,
    });
    expect(b.labels.problems).toEqual([
      { line: 14, column: 'churned', reason: 'churned must be 0 or 1' },
      { line: 15, column: 'subscriber_id', reason: 'the subscriber_id has a label on an earlier line already' },
    ]);
    expect(b.population).toMatchObject({ subscribers: 12, labelled: 11, churners: 6 });

    const drop = b.rules.find((x: { id: string }) => x.id === 'bill_drop');
    // 4 flagged, 3 churned (1, 3, 5): precision 3/4, recall 3/6, lift 0.75 / (6/11) = 1.375
    // Wilson(3, 4): z² = 3.841459, denom = 1.960365, centre = 1.230182/1.960365 = 0.627527,
    //   half = 0.999795 · sqrt(0.046875 + 0.060023) = 0.326886 → [0.300641, 0.954413]
    expect(drop).toMatchObject({ flagged: 4, churners: 3 });
    expect(drop.precision.estimate).toBe(0.75);
    expect(drop.precision.low).toBeCloseTo(0.300641, 5);
    expect(drop.precision.high).toBeCloseTo(0.954413, 5);
    expect(drop.recall.estimate).toBe(0.5);
    expect(drop.lift.estimate).toBeCloseTo(1.375, 6);
    expect(drop.lift.low).toBeCloseTo((0.300641 * 11) / 6, 4);
    expect(drop.lift.high).toBeCloseTo((0.954413 * 11) / 6, 4);

    const low = b.rules.find((x: { id: string }) => x.id === 'low_bill');
    // 2 flagged (6, 7), 1 churned: Wilson(1, 2) is symmetric about 0.5: half = 0.671053 · sqrt(0.125 + 0.240091) = 0.405469
    expect(low).toMatchObject({ flagged: 2, churners: 1 });
    expect(low.precision.low).toBeCloseTo(0.094531, 5);
    expect(low.precision.high).toBeCloseTo(0.905469, 5);
    expect(low.lift.estimate).toBeCloseTo((0.5 * 11) / 6, 6);

    // combined: 6 flagged, 4 churned (1, 3, 5, 7); Wilson(4, 6): denom = 1.640243, centre = 0.601611,
    //   half = 1.194923 · sqrt(0.037037 + 0.026677) = 0.301618 → [0.299993, 0.903229]
    expect(b.combined).toMatchObject({ flagged: 6, churners: 4 });
    expect(b.combined.precision.low).toBeCloseTo(0.299993, 5);
    expect(b.combined.precision.high).toBeCloseTo(0.903229, 5);
    expect(b.combined.recall.estimate).toBeCloseTo(4 / 6, 6);

    // AUC over 6 churners × 5 others: the three churners at 0.5 each beat 4 and tie 1 (4.5),
    // 7 at 0.2 beats 3 zeros and ties 6 (3.5), 11 and 12 at 0 tie 3 zeros (1.5 each): 20 / 30
    expect(b.ranking.auc).toBeCloseTo(2 / 3, 6);
    // order: 1, 2, 3, 5 (0.5, by id), 6, 7 (0.2), 4, 8, 9, 11, 12 (0); cuts floor(k·11/10) → sizes 1 × 9, then 2
    const d = b.ranking.deciles;
    expect(d.rows.map((x: { subscribers: number }) => x.subscribers)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
    expect(d.rows.map((x: { churners: number }) => x.churners)).toEqual([1, 0, 1, 1, 0, 1, 0, 0, 0, 2]);
    expect(d.rows[0].lift).toBeCloseTo(11 / 6, 6);
    expect(d.rows.map((x: { cumulative_share: number }) => Math.round(x.cumulative_share * 6))).toEqual([1, 1, 2, 3, 3, 4, 4, 4, 4, 6]);
    expect(d.distinct_scores).toBe(3);
    // the cut after rank 1 falls inside the four subscribers at 0.5; one of them (1, the lowest id) is inside
    expect(d.top_cut).toEqual({ score: 0.5, tied: 4, inside: 1 });
  });

  it('when run as text then it prints an aligned table, the counts and the lines of bad label rows', async () => {
    const r = await cli([...BASE, '--labels', 'fixtures/backtest/labels.csv']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('1 labels for subscribers not in subscribers.csv, 1 subscribers without a label, 2 rows not read');
    expect(r.out).toContain('fixtures/backtest/labels.csv:14 (column churned): churned must be 0 or 1');
    expect(r.out).toMatch(/^bill_drop +4 +3 +75\.0% \[30\.1%, 95\.4%\] +50\.0% \[18\.8%, 81\.2%\] +1\.38x \[0\.55x, 1\.75x\]$/m);
    expect(r.out).toContain('4 subscribers share score 0.5000, 1 of them inside decile 1');
    expect(r.out).not.toContain('13800000001'); // no phone number
  });

  it('when every labelled subscriber churned then AUC and lift print as n/a, not NaN, and JSON has null', async () => {
    const p = labelsFile('subscriber_id,churned\n0000000001,1\n0000000004,1\n');
    const r = await cli([...BASE, '--labels', p]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('AUC n/a');
    expect(r.out).not.toContain('NaN');
    const b = await cliJson([...BASE, '--labels', p]);
    expect(b.ranking.auc).toBeNull();
    expect(b.rules.find((x: { id: string }) => x.id === 'low_bill').precision.estimate).toBeNull(); // no one flagged
  });

  it('when more label rows are bad than the pack allows then it exits 65 naming the first one', async () => {
    const p = labelsFile('subscriber_id,churned\n0000000001,1\n0000000002,2\n0000000003,x\n');
    const r = await cli([...BASE, '--labels', p]);
    expect(r.code).toBe(65);
    expect(r.err).toContain('2 of 3 label rows cannot be read');
    expect(r.err).toContain('line 3, column churned');
  });

  it('when the labels file lacks the churned column, is empty or is missing then it says so with the right exit code', async () => {
    const noColumn = await cli([...BASE, '--labels', labelsFile('subscriber_id,label\n0000000001,1\n')]);
    expect(noColumn.code).toBe(65);
    expect(noColumn.err).toContain('line 1 lacks column churned');
    const empty = await cli([...BASE, '--labels', labelsFile('subscriber_id,churned\n')]);
    expect(empty.code).toBe(65);
    expect(empty.err).toContain('has no label rows');
    const missing = await cli([...BASE, '--labels', 'fixtures/backtest/nothing.csv']);
    expect(missing.code).toBe(66);
  });

  it('when a date is not a date or a non-churner has a churn date then the row is counted as not read', async () => {
    const p = labelsFile(
      [
        'subscriber_id,churned,churn_date',
        ...Array.from({ length: 10 }, (_, i) => `${String(i + 1).padStart(10, '0')},${i % 2},`),
        '0000000011,1,2026-13-01',
        '0000000012,0,2026-12-01',
      ].join('\n') + '\n',
    );
    const b = await cliJson([...BASE, '--labels', p]);
    expect(b.labels.problems).toEqual([
      { line: 12, column: 'churn_date', reason: 'the churn date is not a date YYYY-MM-DD' },
      { line: 13, column: 'churn_date', reason: 'a churn date is given for a subscriber that did not churn' },
    ]);
    expect(b.labels.unlabelled_subscribers).toBe(2);
  });
});
