/**
 * diff of two hand-made packs (fixtures/diff/a.yaml, b.yaml) on fixtures/sample,
 * checked against flags recomputed here from the CSV files with integer fen:
 *   A: bill_drop = M1 >= 10 yuan and M0 <= 70% of M1 (0.4); low_bill = M0 < 20 yuan (0.2); high tier from 60
 *   B: bill_drop at 50% (0.4); low_minutes = mou(M0) < 30 (0.3); high tier from 80
 * with M0 = 2026-10 (the last bill month before D's month), a missing month as 0 and
 * closed lines never flagged; value = bill of M0.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRulePack } from '../../src/config/rulepack.js';
import { cli, cliJson } from '../helpers/cli.js';

const subs = parse(readFileSync('fixtures/sample/subscribers.csv'), { columns: true }) as Record<string, string>[];
const bills = parse(readFileSync('fixtures/sample/billing_monthly.csv'), { columns: true }) as Record<string, string>[];
const fen = (s: string): number => Math.round(Number(s) * 100);

function reference() {
  const sum = new Map<string, { m0: number; m1: number; mou0: number }>();
  for (const b of bills) {
    const s = sum.get(b.subscriber_id!) ?? { m0: 0, m1: 0, mou0: 0 };
    if (b.bill_month === '2026-10') {
      s.m0 += fen(b.amount!);
      s.mou0 += Number(b.mou);
    }
    if (b.bill_month === '2026-09') s.m1 += fen(b.amount!);
    sum.set(b.subscriber_id!, s);
  }
  return subs.map((x) => {
    const s = sum.get(x.subscriber_id!) ?? { m0: 0, m1: 0, mou0: 0 };
    const open = x.status !== 'closed';
    const dropA = open && s.m1 >= 1000 && 100 * s.m0 <= 70 * s.m1;
    const low = open && s.m0 < 2000;
    const dropB = open && s.m1 >= 1000 && 100 * s.m0 <= 50 * s.m1;
    const minutes = open && s.mou0 < 30;
    const tier = (high: number) => (s.m0 >= high * 100 ? 0 : s.m0 >= 3000 ? 1 : 2);
    return { id: x.subscriber_id!, dropA, low, dropB, minutes, a: dropA || low ? tier(60) : 3, b: dropB || minutes ? tier(80) : 3 };
  });
}

const BASE = [
  'diff',
  '--input',
  'fixtures/sample',
  '--as-of',
  '2026-11-23',
  '--rules',
  'fixtures/diff/a.yaml',
  '--rules-b',
  'fixtures/diff/b.yaml',
];

describe('churnwatch diff', () => {
  it('when two hand-made packs are compared then who enters and leaves, hits per rule and tier moves match a recount from the CSV files', async () => {
    const d = await cliJson([...BASE, '--list', '5']);
    const ref = reference();
    const count = (f: (x: (typeof ref)[number]) => boolean) => ref.filter(f).length;
    const enter = ref.filter((x) => x.a === 3 && x.b !== 3),
      leave = ref.filter((x) => x.a !== 3 && x.b === 3);
    expect(d.flagged).toEqual({
      a: count((x) => x.a !== 3),
      b: count((x) => x.b !== 3),
      both: count((x) => x.a !== 3 && x.b !== 3),
      enter: enter.length,
      leave: leave.length,
    });
    expect(d.listed.enter).toEqual(
      enter
        .map((x) => x.id)
        .sort()
        .slice(0, 5),
    );
    expect(d.listed.leave).toEqual(
      leave
        .map((x) => x.id)
        .sort()
        .slice(0, 5),
    );
    expect(d.rules).toEqual([
      {
        id: 'bill_drop',
        hits_a: count((x) => x.dropA),
        hits_b: count((x) => x.dropB),
        only_a: count((x) => x.dropA && !x.dropB),
        only_b: count((x) => x.dropB && !x.dropA),
      },
      { id: 'low_bill', hits_a: count((x) => x.low), hits_b: null, only_a: count((x) => x.low), only_b: 0 },
      { id: 'low_minutes', hits_a: null, hits_b: count((x) => x.minutes), only_a: 0, only_b: count((x) => x.minutes) },
    ]);
    const moves = [0, 1, 2, 3].map((a) => [0, 1, 2, 3].map((b) => count((x) => x.a === a && x.b === b)));
    expect(d.tier_moves).toEqual(moves);
    expect(moves[0]![1]).toBeGreaterThan(0); // the raised high tier moves someone from high to mid
    expect(d.labels).toBeUndefined();
  });

  it('when labels are given then each side has the figures backtest gives for its pack', async () => {
    const d = await cliJson([...BASE, '--labels', 'fixtures/sample/labels.csv']);
    for (const [side, pack] of [
      ['a', 'fixtures/diff/a.yaml'],
      ['b', 'fixtures/diff/b.yaml'],
    ] as const) {
      const bt = await cliJson([
        'backtest',
        '--input',
        'fixtures/sample',
        '--as-of',
        '2026-11-23',
        '--rules',
        pack,
        '--labels',
        'fixtures/sample/labels.csv',
      ]);
      expect(d.labels[side]).toEqual({ combined: bt.combined, auc: bt.ranking.auc, top_decile_lift: bt.ranking.deciles.rows[0].lift });
    }
    expect(d.labels.labelled).toBe(3000 - subs.filter((s) => s.status === 'closed').length);
  });

  it('when printed as text then the tier matrix and rule table are aligned and no phone number or name appears', async () => {
    const r = await cli([...BASE, '--list', '3']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {2}A \\ B {2}high {2}mid {2}mass {2}none$/m);
    expect(r.out).toMatch(/^ {2}low_minutes +- +\d+ +\+\d+ +0 +\d+$/m);
    for (const s of subs.slice(0, 50)) {
      expect(r.out).not.toContain(s.msisdn);
      expect(r.out).not.toContain(s.name);
    }
  });

  it('when --rules-b is missing then it exits 64', async () => {
    const r = await cli(['diff', '--input', 'fixtures/sample', '--as-of', '2026-11-23']);
    expect(r.code).toBe(64);
  });
});

/**
 * Two scorecards calibrated on the sample with different seeds (so their steps cut at
 * different bounds), checked against each pack's per-subscriber step columns and labels
 * from backtest --measures-out: one row per measure, its steps summed.
 */
describe('churnwatch diff of two calibrated scorecards', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cw-diff-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const SAMPLE = ['--input', 'fixtures/sample', '--as-of', '2026-11-23'];
  const LABELS = ['--labels', 'fixtures/sample/labels.csv'];
  const packs = [join(tmp, 'a.yaml'), join(tmp, 'b.yaml')] as const;
  const rows: Record<string, string>[][] = [];
  let args: string[] = [];

  beforeAll(async () => {
    for (const [k, out] of packs.entries()) {
      const extra = k === 0 ? ['--measures', 'D - activation_date'] : ['--seed', '2'];
      expect((await cli(['calibrate', ...SAMPLE, ...LABELS, '--out', out, '--force', ...extra])).code).toBe(0);
      const csv = join(tmp, `m${k}.csv`);
      expect((await cli(['backtest', ...SAMPLE, ...LABELS, '--rules', out, '--measures-out', csv])).code).toBe(0);
      rows.push(parse(readFileSync(csv), { columns: true }) as Record<string, string>[]);
    }
    args = ['diff', ...SAMPLE, '--rules', packs[0], '--rules-b', packs[1]];
  }, 120_000);

  it('when labels are given then each measure row sums its steps: hits, one-sided hits, moved and churners match a recount', async () => {
    const d = await cliJson([...args, ...LABELS]);
    const [pa, pb] = packs.map((p) => loadRulePack(p));
    const ids = [...new Set([...pa!.scorecard.map((m) => m.id), ...pb!.scorecard.map((m) => m.id)])];
    expect(d.measures.map((m: { id: string }) => m.id)).toEqual(ids);
    const steps = new Set([...pa!.scorecard, ...pb!.scorecard].flatMap((m) => m.steps.map((st) => st.rule)));
    expect(d.rules.some((r: { id: string }) => steps.has(r.id))).toBe(false);
    let moved = 0;
    for (const id of ids) {
      // Per subscriber, the bounds of the step hit on each side ('' for none).
      const bounds = (pack: typeof pa, side: Record<string, string>[]) => {
        const m = pack!.scorecard.find((x) => x.id === id);
        return side.map((row) => {
          const st = m?.steps.find((s) => row[s.rule] === '1');
          return st ? `${st.from}..${st.below}` : '';
        });
      };
      const ba = bounds(pa, rows[0]!),
        bb = bounds(pb, rows[1]!);
      const churned = rows[0]!.map((r) => r.churned === '1');
      const count = (f: (i: number) => boolean) => ba.filter((_, i) => f(i)).length;
      const inA = pa!.scorecard.some((m) => m.id === id),
        inB = pb!.scorecard.some((m) => m.id === id);
      const m = d.measures.find((x: { id: string }) => x.id === id);
      const expected = {
        hits_a: inA ? count((i) => ba[i] !== '') : null,
        hits_b: inB ? count((i) => bb[i] !== '') : null,
        only_a: count((i) => ba[i] !== '' && bb[i] === ''),
        only_b: count((i) => bb[i] !== '' && ba[i] === ''),
        moved: count((i) => ba[i] !== '' && bb[i] !== '' && ba[i] !== bb[i]),
        churners_a: inA ? count((i) => churned[i]! && ba[i] !== '') : null,
        churners_b: inB ? count((i) => churned[i]! && bb[i] !== '') : null,
      };
      expect({ id, ...expected }).toEqual({ id, ...Object.fromEntries(Object.keys(expected).map((k) => [k, m[k]])) });
      // Every step of both packs appears once, under its bounds, with its own hits.
      const listed = m.steps.flatMap((st: { rule_a: string | null; rule_b: string | null }) => [st.rule_a, st.rule_b]);
      for (const [pack, side, key] of [
        [pa, rows[0]!, 'a'],
        [pb, rows[1]!, 'b'],
      ] as const)
        for (const st of pack!.scorecard.find((x) => x.id === id)?.steps ?? []) {
          expect(listed).toContain(st.rule);
          const row = m.steps.find((x: Record<string, unknown>) => x[`rule_${key}`] === st.rule);
          expect(row[`hits_${key}`]).toBe(side.filter((r) => r[st.rule] === '1').length);
        }
      moved += expected.moved;
    }
    expect(moved).toBeGreaterThan(0); // the seeds cut the steps differently
  });

  it('when printed as text then the scorecard is one row per measure, and --steps lists each step under its bounds', async () => {
    const short = await cli(args);
    expect(short.code).toBe(0);
    const d = await cliJson(args);
    const table = short.out.split('scorecard measures')[1]!.split('\n\n')[0]!.trim().split('\n');
    expect(table.length).toBe(2 + d.measures.length); // title, header, one row per measure
    expect(short.out).not.toMatch(/_\d+ /); // no step rule (amount_m1_2, ...) as a row of its own
    const long = await cli([...args, '--steps']);
    for (const m of d.measures) {
      expect(long.out).toContain(`steps of ${m.id}: ${m.measure}`);
      for (const st of m.steps)
        expect(long.out).toMatch(new RegExp(`^  ${st.id.replace(/\./g, '\\.')} +${st.rule_a ?? '-'} +${st.rule_b ?? '-'} `, 'm'));
    }
  });
});
