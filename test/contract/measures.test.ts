/**
 * A measure over a new numeric column is one declaration: the same ColumnMeasure
 * that a rule pack's `measures:` makes. Here `recharge(Mk)` over
 * billing_monthly.recharge_amount (money, summed exactly in fen) and `roaming_mb(dk)`
 * over usage_daily.roaming_mb: folded by both readers alike, checked against the
 * header, usable in rules, reason texts and explain, and listed by `rules check`.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ColumnMeasure } from '../../src/contract/contract.js';
import { main } from '../../src/cli/main.js';
import { parseRulePack } from '../../src/config/rulepack.js';
import { readBilling, readUsage } from '../../src/ingest/facts.js';
import { IdTable } from '../../src/ingest/id-table.js';
import { defaultInputOptions, packColumnNeeds } from '../../src/ingest/layout.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { parseDay } from '../../src/util/dates.js';
import { World, cleanup } from '../helpers/world.js';
import { ROOT, ensureBuilt } from '../hardening/helpers.js';
import { plainColumn } from '../../src/rules/compile.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-measures-'));
const dirs: string[] = [dir];
afterAll(() => dirs.forEach(cleanup));

const RECHARGE: ColumnMeasure = {
  name: 'recharge',
  extract: 'billing_monthly',
  column: 'recharge_amount',
  unit: 'money',
  scale: 2,
  describe: 'recharges in month Mk',
};
const ROAMING: ColumnMeasure = {
  name: 'roaming_mb',
  extract: 'usage_daily',
  column: 'roaming_mb',
  unit: 'number',
  scale: 2,
  describe: 'roaming data on day dk',
};

const IDS = ['S1', 'S2', 'S3'];
const table = new IdTable(4);
for (const id of IDS) table.insert(Buffer.from(id), 0, Buffer.byteLength(id));
const subs = { n: IDS.length, idTable: table };
const D = parseDay('2026-11-23');
const OCT = 2026 * 12 + 9;

function write(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('a measure declared over a new column', () => {
  for (const plain of [true, false]) {
    it(`when billing has the column then its month sums are exact in fen, credits kept, bad cells rejected (fast path ${plain})`, async () => {
      const path = write(`billing-${plain}.csv`, [
        'subscriber_id,bill_month,amount,mou,hotline_calls,recharge_amount',
        ...Array.from({ length: 10 }, () => 'S1,2026-10,1.00,0,0,0.10'),
        'S2,2026-10,1.00,0,0,-0.30',
        'S2,2026-10,1.00,0,0,',
        'S3,2026-10,1.00,0,0,1.234',
        'S3,2026-09,1.00,0,0,7.00',
      ]);
      const rejects = new RejectLog();
      const input = { ...defaultInputOptions(dir), measures: [RECHARGE] };
      const r = await readBilling(path, 'billing_monthly.csv', input, subs, rejects, OCT + 1, { amount: 1, recharge: 1 }, { plain });
      // Ten rows of 0.10 are 1 exactly (a float sum would give 0.9999999999999999).
      expect(Array.from(plainColumn(r.fold.months.get(OCT)!.recharge!))).toEqual([1, -0.3, 0]);
      expect(rejects.rows.map((x) => [x.line, x.column, x.code, x.reason])).toEqual([
        [14, 'recharge_amount', 'CW_ROW_BAD_NUMBER', 'recharge_amount is not an amount in yuan with at most 2 decimals'],
      ]);
      // The window of recharge is M0 only: September is not kept.
      expect(r.fold.months.has(OCT - 1)).toBe(false);
      // Rows that differ only in the new column are not repeats; S1's identical rows are.
      expect(r.stats.duplicates).toBe(9);
    });

    it(`when usage has the column then its day sums are read, and a negative volume is rejected (fast path ${plain})`, async () => {
      const path = write(`usage-${plain}.csv`, [
        'subscriber_id,usage_date,calls,sms,data_mb,forwarded_calls,roaming_mb',
        'S1,2026-11-22,1,0,0,0,2.50',
        'S1,2026-11-22,1,0,0,0,0.25',
        'S2,2026-11-22,1,0,0,0,-1',
        'S3,2026-11-21,1,0,0,0,9',
      ]);
      const rejects = new RejectLog();
      const input = { ...defaultInputOptions(dir), measures: [ROAMING] };
      const r = await readUsage(path, 'usage_daily.csv', input, subs, rejects, D, new Map([[1, new Set(['roaming_mb', 'activity'])]]), {
        plain,
      });
      expect(Array.from(plainColumn(r.fold.days.get(1)!.roaming_mb!))).toEqual([2.75, 0, 0]);
      expect(Array.from(plainColumn(r.fold.days.get(1)!.activity!))).toEqual([2, 0, 0]);
      expect(rejects.rows.map((x) => [x.line, x.column, x.code])).toEqual([[4, 'roaming_mb', 'CW_ROW_NEGATIVE']]);
    });
  }

  it('when the column is absent and nothing needs it then it reads as 0', async () => {
    const path = write('billing-without.csv', ['subscriber_id,bill_month,amount', 'S1,2026-10,1.00']);
    const r = await readBilling(
      path,
      'billing_monthly.csv',
      { ...defaultInputOptions(dir), measures: [RECHARGE] },
      subs,
      new RejectLog(),
      OCT + 1,
      { recharge: 1 },
    );
    expect(Array.from(plainColumn(r.fold.months.get(OCT)!.recharge!))).toEqual([0, 0, 0]);
  });
});

const PACK = readFileSync('rules/default.yaml', 'utf8');

/** The default pack with `measures:` and a rule over recharge added. */
function packWith(measures: string, rule = true): string {
  const extra = rule
    ? `  - id: recharge_drop
    title: Recharges fell
    when: recharge(M1) >= 50 and recharge(M0) < 0.5 * recharge(M1)
    weight: 0.3
    reason: "recharges fell from {recharge(M1)} to {recharge(M0)} yuan"
    action: Call about the plan.
    texts:
      zh-CN: { title: 充值下降, reason: "充值从 {recharge(M1)} 元降到 {recharge(M0)} 元", action: 致电了解套餐。 }
`
    : '';
  return `measures:\n${measures}\n${PACK.trimEnd()}\n${extra}`;
}

const RECHARGE_YAML = '  recharge: { extract: billing_monthly, column: recharge_amount, unit: money }';

describe('measures declared by a rule pack', () => {
  it('when a pack declares a measure then its rules, reason texts and column needs read it', () => {
    const pack = parseRulePack(packWith(RECHARGE_YAML), 'p.yaml');
    expect(pack.measures).toEqual([{ ...RECHARGE, describe: 'recharge_amount in month Mk' }]);
    const rule = pack.rules.find((r) => r.id === 'recharge_drop')!;
    expect(rule.features.get('recharge(M0)')).toEqual({ source: 'billing', measure: 'recharge', month: 0, declared: pack.measures[0] });
    expect(rule.reason.filter((p) => typeof p !== 'string').map((p) => typeof p !== 'string' && p.unit)).toEqual(['money', 'money']);
    expect(packColumnNeeds(pack).billing_monthly!.recharge_amount).toEqual(['rule recharge_drop']);
  });

  it.each([
    ['amount', '{ extract: billing_monthly, column: x, unit: money }', 'measures.amount', 'already a measure'],
    ['tickets', '{ extract: billing_monthly, column: x, unit: money }', 'measures.tickets', 'already a measure'],
    ['min', '{ extract: billing_monthly, column: x, unit: money }', 'measures.min', 'already a measure'],
    ['status', '{ extract: billing_monthly, column: x, unit: money }', 'measures.status', 'already a measure'],
    ['d3', '{ extract: usage_daily, column: x, unit: count }', 'measures.d3', 'already a measure'],
    ['Recharge', '{ extract: billing_monthly, column: x, unit: money }', 'measures.Recharge', 'lower case'],
    ['r', '{ extract: tickets, column: x, unit: count }', 'measures.r.extract', 'must be billing_monthly or usage_daily'],
    ['r', '{ extract: billing_monthly, column: " MOU ", unit: number }', 'measures.r.column', "column of the contract's billing_monthly"],
    ['r', '{ extract: billing_monthly, column: x, unit: yuan }', 'measures.r.unit', 'must be money, count, number'],
    ['r', '{ extract: billing_monthly, column: x, unit: money, scale: 3 }', 'measures.r.scale', 'unknown key'],
    ['r', '{ extract: billing_monthly, unit: money }', 'measures.r.column', 'non-empty text'],
  ])('when a pack declares %s: %s then it is refused at %s', (name, spec, path, msg) => {
    expect(() => parseRulePack(packWith(`  ${name}: ${spec}`, false), 'p.yaml')).toThrow(
      expect.objectContaining({
        code: 'CW_RULEPACK_INVALID',
        message: expect.stringMatching(new RegExp(`${path.replace(/\./g, '\\.')}: .*${msg}`)),
      }),
    );
  });

  it('when two measures sum one column then the second is refused', () => {
    const yaml = `${RECHARGE_YAML}\n  recharge2: { extract: billing_monthly, column: Recharge_Amount, unit: money }`;
    expect(() => parseRulePack(packWith(yaml, false), 'p.yaml')).toThrow(/measures\.recharge2\.column: .*summed by another measure/);
  });

  it('when a rule calls a measure the pack does not declare then it is an unknown function', () => {
    expect(() => parseRulePack(packWith('  {}', true).replace('measures:\n  {}\n', ''), 'p.yaml')).toThrow(/unknown function "recharge"/);
  });
});

describe('a pack measure in a nightly run', () => {
  /** A world with recharges: R1's fell from 80 to 10.30, R2's held; the header has recharge_amount unless `without`. */
  function world(without = false): { w: World; dir: string; pack: string } {
    const w = new World('2026-11-23');
    for (const id of ['R1', 'R2']) w.sub(id, {}).bills(id, ['50.00', '50.00', '50.00', '50.00']);
    for (let k = 1; k <= 14; k++) w.usage('R1', w.day(k), { calls: '1' }).usage('R2', w.day(k), { calls: '1' });
    const d = w.write();
    dirs.push(d);
    const recharge: Record<string, string[]> = { R1: ['10.10', '80.00'], R2: ['60.00', '60.00'] };
    const lines = readFileSync(join(d, 'billing_monthly.csv'), 'utf8').trimEnd().split('\n');
    const out = lines.map((l, i) => {
      if (i === 0) return without ? l : `${l},recharge_amount`;
      if (without) return l;
      const [id, month] = l.split(',');
      const k = [0, 1].find((j) => w.month(j) === month);
      return `${l},${k !== undefined && recharge[id!] ? recharge[id!]![k] : ''}`;
    });
    // A second R1 row in M0 adds 0.20: the sum is 10.30.
    if (!without) out.push(`R1,${w.month(0)},0.00,,,0.20`);
    writeFileSync(join(d, 'billing_monthly.csv'), out.join('\n') + '\n');
    const pack = join(d, 'pack.yaml');
    writeFileSync(pack, packWith(RECHARGE_YAML));
    return { w, dir: d, pack };
  }

  it('when the export has the column then the rule flags, the reason text shows the sums and explain reads them', async () => {
    const { w, dir: d, pack } = world();
    const r = await w.run(['--rules', pack], d);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.scores.get('R1')!.recharge_drop).toBe('1');
    expect(r.scores.get('R2')!.recharge_drop).toBe('0');
    const task = Object.values(r.tasks)
      .flat()
      .find((t) => t.subscriber_id === 'R1')!;
    expect(task.reason_text).toContain('recharges fell from 80.00 to 10.30 yuan');
    let out = '';
    const code = await main(['explain', '--input', d, '--as-of', '2026-11-23', '--rules', pack, '--subscriber', 'R1'], {
      out: (s) => {
        out += s;
      },
      err: () => {},
    });
    expect(code).toBe(0);
    expect(out).toContain('recharge(M0) = 10.30');
    expect(out).toContain('recharge(M1) = 80.00');
  });

  it('when billing is folded in the worker thread then the pack measure arrives as in one thread (built dist)', async () => {
    ensureBuilt();
    const dist = (m: string) => import(pathToFileURL(join(ROOT, 'dist', m)).href);
    const { ingest } = (await dist('ingest/ingest.js')) as typeof import('../../src/ingest/ingest.js');
    const { loadRulePack, neededFiles, requiredFeatures } = (await dist(
      'config/rulepack.js',
    )) as typeof import('../../src/config/rulepack.js');
    const { dir: d, pack: file } = world();
    const pack = loadRulePack(file);
    const plan = {
      asOf: parseDay('2026-11-23'),
      input: defaultInputOptions(d),
      features: requiredFeatures(pack),
      needed: neededFiles(pack),
    };
    const sums = async (parallel: boolean) => {
      const x = await ingest({ ...plan, parallel, workerExtracts: parallel ? ['billing_monthly'] : undefined });
      return [...x.billing.months].map(([m, s]) => [m, Array.from(s.recharge ? plainColumn(s.recharge) : [])]);
    };
    const one = await sums(false);
    expect(one.flat(2)).toContain(10.3);
    expect(await sums(true)).toEqual(one);
  });

  it('when an enabled rule reads the column and the header lacks it then the run exits 65 at the required-columns gate', async () => {
    const { w, dir: d, pack } = world(true);
    const r = await w.run(['--rules', pack], d);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(
      'gate required-columns failed: billing_monthly.csv line 1 lacks the column recharge_amount, read by rule recharge_drop',
    );
  });

  it('when the pack is checked then rules check lists the declared measure', async () => {
    const { pack } = world();
    let out = '';
    expect(
      await main(['rules', 'check', pack], {
        out: (s) => {
          out += s;
        },
        err: () => {},
      }),
    ).toBe(0);
    expect(out).toContain('recharge(Mk) money: recharge_amount in month Mk (sum of billing_monthly.recharge_amount, declared by the pack)');
    expect(out).toContain('reads: recharge(M1), recharge(M0) (from billing_monthly)');
  });
});
