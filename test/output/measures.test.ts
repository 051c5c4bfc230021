/**
 * `run --with-measures` and `backtest --measures-out`: every measure the pack reads
 * goes into scores.csv and scores.arrow after the rule flags, under the SQL engine's
 * column name without `f_`, money exact in yuan, counts whole, not given as empty
 * (null). Without the flag the scores files are today's (the golden test holds those).
 */
import { tableFromIPC } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRulePack, requiredFeatures } from '../../src/config/rulepack.js';
import { parseRunConfig } from '../../src/config/run-config.js';
import type { ChunkedFile } from '../../src/output/publish.js';
import { fromWorkerInput, toWorkerInput, type MeasureColumn } from '../../src/output/scores-protocol.js';
import { scoresArrow, writeScoresCsv } from '../../src/output/scores.js';
import { measureColumnName } from '../../src/rules/catalogue.js';
import { rulePackSql } from '../../src/rules/sql.js';
import { ENUM_MISSING } from '../../src/rules/compile.js';
import { parseDay } from '../../src/util/dates.js';
import { TextColumn } from '../../src/util/text-column.js';
import { cli } from '../helpers/cli.js';
import { runCli } from '../helpers/world.js';

const AS_OF = '2026-11-23';
const BACKTEST = ['--input', 'fixtures/backtest', '--as-of', AS_OF, '--rules', 'fixtures/backtest/rules.yaml'];

function csvOf(ids: string[], measures: MeasureColumn[]): string {
  const parts: string[] = [];
  const file = { write: (t: string) => parts.push(t), writeBytes: (b: Uint8Array) => parts.push(Buffer.from(b).toString('utf8')) };
  const n = ids.length;
  writeScoresCsv(
    file as unknown as ChunkedFile,
    TextColumn.from(ids),
    { ruleIds: ['r'], flags: [new Uint8Array(n)], value: new Float64Array(n) },
    { risk: new Float64Array(n), expectedLoss: new Float64Array(n), tier: new Uint8Array(n) },
    measures,
  );
  return parts.join('');
}

const ids = ['a', 'b', 'c', 'd'];
const measures: MeasureColumn[] = [
  // Sums of fen seen in yuan: 0.1 + 0.2 is not 0.3 in binary, and a bill may be negative.
  { name: 'amount_m0', kind: 'money', scale: 2, data: Float64Array.of(0.1 + 0.2, -12.05, Number.NaN, 1e6 + 0.07) },
  { name: 'mou_m0', kind: 'number', scale: 2, data: Float64Array.of(572, 12.5, 0.07, Number.NaN) },
  { name: 'calls_d1', kind: 'count', scale: 2, data: Float64Array.of(3, 2.5, 0, 1) },
  { name: 'tickets_complaint_m90_m1', kind: 'count', scale: 0, data: Int32Array.of(0, 3, 12, 1) },
  { name: 'activation_date', kind: 'day', scale: 0, data: Float64Array.of(parseDay('2019-09-07'), Number.NaN, 0, parseDay('2026-11-22')) },
  { name: 'status', kind: 'enum', scale: 0, values: ['active', 'closed'], data: Uint8Array.of(0, 1, ENUM_MISSING, 0) },
];

describe('measure columns in the score files', () => {
  it('when measures are given then each goes after the flags, money exact in yuan, counts whole, not given empty', () => {
    expect(csvOf(ids, measures).split('\n')).toEqual([
      'subscriber_id,value,tier,risk_score,expected_loss,r,amount_m0,mou_m0,calls_d1,tickets_complaint_m90_m1,activation_date,status',
      'a,0.00,high,0.0000,0.00,0,0.30,572,3,0,2019-09-07,active',
      'b,0.00,high,0.0000,0.00,0,-12.05,12.5,2.5,3,,closed',
      'c,0.00,high,0.0000,0.00,0,,0.07,0,12,1970-01-01,',
      'd,0.00,high,0.0000,0.00,0,1000000.07,,1,1,2026-11-22,active',
      '',
    ]);
  });

  it('when measures are given then scores.arrow has them typed, with nulls where not given, also from the worker copy', () => {
    const n = ids.length;
    const ev = { ruleIds: ['r'], flags: [new Uint8Array(n)], value: new Float64Array(n) };
    const s = { risk: new Float64Array(n), expectedLoss: new Float64Array(n), tier: new Uint8Array(n) };
    const bytes = scoresArrow(TextColumn.from(ids), ev, s, measures);
    const t = tableFromIPC(bytes);
    expect(t.schema.fields.slice(6).map((f) => `${f.name}:${f.type}`)).toEqual([
      'amount_m0:Float64',
      'mou_m0:Float64',
      'calls_d1:Float64',
      'tickets_complaint_m90_m1:Int32',
      'activation_date:Date32<DAY>',
      'status:Dictionary<Uint8, Utf8>',
    ]);
    expect(t.getChild('amount_m0')!.toArray()).toEqual(Float64Array.of(0.1 + 0.2, -12.05, 0, 1e6 + 0.07));
    expect([...t.getChild('amount_m0')!].map((v) => v === null)).toEqual([false, false, true, false]);
    expect([...t.getChild('status')!]).toEqual(['active', 'closed', null, 'active']);
    expect([...t.getChild('activation_date')!].map((v) => (v === null ? null : new Date(v as number).toISOString().slice(0, 10)))).toEqual([
      '2019-09-07',
      null,
      '1970-01-01',
      '2026-11-22',
    ]);
    const back = fromWorkerInput(
      toWorkerInput({ dir: '/nowhere', fileMode: 0o600, directWrites: false }, TextColumn.from(ids), ev, s, measures),
    );
    expect(Buffer.from(scoresArrow(back.ids, back.ev, back.s, back.measures)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('when the SQL engine names a feature then it is the scores column name prefixed with f_', () => {
    const pack = loadRulePack('rules/default.yaml');
    const sql = rulePackSql(pack, { dialect: 'duckdb', asOf: parseDay(AS_OF) });
    const names = [...requiredFeatures(pack).values()].map(measureColumnName);
    expect(names).toContain('amount_m0');
    expect(names).toContain('tickets_complaint_m90_m1');
    for (const name of names) expect(sql).toContain(`f_${name}`);
  });
});

describe('run --with-measures', () => {
  it('when asked then scores.csv adds the measures the pack reads, with the sums of the billing extract', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-measures-'));
    const plain = await runCli('fixtures/backtest', AS_OF, ['--rules', 'fixtures/backtest/rules.yaml'], join(dir, 'plain'));
    const r = await runCli('fixtures/backtest', AS_OF, ['--rules', 'fixtures/backtest/rules.yaml', '--with-measures'], join(dir, 'with'));
    expect([plain.code, r.code]).toEqual([0, 0]);
    const header = readFileSync(join(r.published, 'scores.csv'), 'utf8').split('\n')[0];
    // amount(M0) and amount(M1) by the value and the rules, status by the exclusion; M0 is 2026-10.
    expect(header).toBe('subscriber_id,value,tier,risk_score,expected_loss,bill_drop,low_bill,amount_m0,status,amount_m1');
    const billing = parse(readFileSync('fixtures/backtest/billing_monthly.csv'), { columns: true }) as Record<string, string>[];
    const bill = (id: string, month: string) => billing.find((b) => b.subscriber_id === id && b.bill_month === month)?.amount ?? '0.00';
    for (const [id, row] of r.scores) {
      expect([id, row.amount_m0, row.amount_m1]).toEqual([id, bill(id, '2026-10'), bill(id, '2026-09')]);
      const before = plain.scores.get(id)!;
      expect(Object.fromEntries(Object.keys(before).map((k) => [k, row[k]]))).toEqual(before);
    }
    const t = tableFromIPC(readFileSync(join(r.published, 'scores.arrow')));
    expect(t.schema.fields.map((f) => f.name).join(',')).toBe(header);
  });

  it('when the run configuration sets output.with_measures then the scores files have the measures too', async () => {
    expect(parseRunConfig('{}', 'x').output.withMeasures).toBe(false);
    expect(() => parseRunConfig('output: { with_measures: "yes" }', 'run.yaml')).toThrow(/output\.with_measures: must be true or false/);
    const dir = mkdtempSync(join(tmpdir(), 'cw-measures-'));
    writeFileSync(join(dir, 'run.yaml'), 'output:\n  with_measures: true\n');
    const r = await runCli(
      'fixtures/backtest',
      AS_OF,
      ['--rules', 'fixtures/backtest/rules.yaml', '--config', join(dir, 'run.yaml')],
      join(dir, 'o'),
    );
    expect(r.code).toBe(0);
    expect([...r.scores.values()][0]).toHaveProperty('amount_m1');
  });

  it('when a rule id is a measure column name then the run is refused before reading, naming the rule to rename', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-measures-'));
    const pack = join(dir, 'pack.yaml');
    writeFileSync(pack, readFileSync('fixtures/backtest/rules.yaml', 'utf8').replace('id: low_bill', 'id: amount_m1'));
    const r = await runCli('fixtures/backtest', AS_OF, ['--rules', pack, '--with-measures'], join(dir, 'o'));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('the column amount_m1, which the scores files already have');
    expect(existsSync(join(dir, 'o'))).toBe(false);
    const plain = await runCli('fixtures/backtest', AS_OF, ['--rules', pack], join(dir, 'p'));
    expect(plain.code).toBe(0);
  });
});

describe('backtest --measures-out', () => {
  it('when asked then it writes the scores with measures of every subscriber and the label, empty without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-measures-'));
    const file = join(dir, 'measures.csv');
    const r = await cli(['backtest', ...BACKTEST, '--labels', 'fixtures/backtest/labels.csv', '--measures-out', file]);
    expect([r.code, r.err]).toEqual([0, '']);
    const run = await runCli('fixtures/backtest', AS_OF, ['--rules', 'fixtures/backtest/rules.yaml', '--with-measures'], join(dir, 'o'));
    const scores = readFileSync(join(run.published, 'scores.csv'), 'utf8').trimEnd().split('\n');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => l.slice(0, l.lastIndexOf(',')))).toEqual(scores);
    const labels = parse(readFileSync('fixtures/backtest/labels.csv'), { columns: true }) as Record<string, string>[];
    const rows = parse(readFileSync(file), { columns: true }) as Record<string, string>[];
    for (const row of rows)
      expect([row.subscriber_id, row.churned]).toEqual([
        row.subscriber_id,
        labels.find((l) => l.subscriber_id === row.subscriber_id)?.churned ?? '',
      ]);
    expect(rows.some((row) => row.churned === '')).toBe(true);
  });

  it('when the file cannot be written then the command fails with 73 and leaves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-measures-'));
    const r = await cli(['backtest', ...BACKTEST, '--labels', 'fixtures/backtest/labels.csv', '--measures-out', join(dir, 'no', 'm.csv')]);
    expect(r.code).toBe(73);
    expect(r.err).toContain('CW_OUTPUT_UNWRITABLE');
  });
});
