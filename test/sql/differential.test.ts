/**
 * The DuckDB dialect of `churnwatch sql`, run straight on the CSV files, gives the
 * scores.csv of the in-process engine byte for byte: every flag, tier, value, risk
 * and expected loss, in the same order. On generated extracts with the generator's
 * boundary cases, with invalid rows (--dirty), and with a pack that uses every
 * construct of the rule language and tiers by rank.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, csvBody, distinctRisks, loadDuckDb, runSql } from './helpers.js';
import { analyse } from '../../src/analyse.js';
import { loadRulePack, requiredFeatures } from '../../src/config/rulepack.js';
import { featureKey, measureColumnName, measureDigits, scoreMeasures } from '../../src/rules/catalogue.js';
import { parseDay } from '../../src/util/dates.js';
import { defaultInputOptions } from '../../src/contract/contract.js';
import { plainColumn } from '../../src/rules/compile.js';

const AS_OF = '2026-03-15';
const HAND_PACK = fileURLToPath(new URL('./hand-pack.yaml', import.meta.url));
const LOGISTIC_PACK = fileURLToPath(new URL('./logistic-pack.yaml', import.meta.url));
const DEFAULT_PACK = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));

const duckdb = await loadDuckDb();
const tmp = mkdtempSync(join(tmpdir(), 'cw-sql-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function generate(name: string, extra: string[]): Promise<string> {
  const dir = join(tmp, name);
  await cli(['generate', '--subscribers', '3000', '--out', dir, '--as-of', AS_OF, ...extra]);
  return dir;
}

/**
 * scores.csv of an in-process run, and the same columns of the SQL script's rows;
 * the measure columns the script adds after them must hold the in-process engine's
 * feature values exactly (parsed back to the same doubles).
 */
async function bothWays(input: string, pack: string, name: string): Promise<{ engine: string; sql: string }> {
  const out = join(tmp, `out-${name}`);
  await cli(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--rules', pack, '--log-level', 'silent']);
  const engine = readFileSync(join(out, AS_OF, 'scores.csv'), 'utf8');
  const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', AS_OF, '--rules', pack, '--input', input]);
  const header = engine.slice(0, engine.indexOf('\n') + 1);
  const width = header.split(',').length;
  const rows = await runSql(duckdb!, script);
  await expectMeasures(input, pack, rows, width);
  return { engine, sql: header + csvBody(rows.map((r) => r.slice(0, width))) };
}

/** The SQL rows' measure columns (after the first `width`) against the in-process feature columns, subscriber by subscriber. */
async function expectMeasures(input: string, packPath: string, rows: string[][], width: number): Promise<void> {
  const pack = loadRulePack(packPath);
  const a = await analyse(defaultInputOptions(input), parseDay(AS_OF), pack);
  const measures = scoreMeasures(requiredFeatures(pack).values());
  expect(measures.length).toBeGreaterThan(0);
  expect(rows[0]!.length).toBe(width + measures.length);
  measures.forEach((f, k) => {
    const column = plainColumn(a.table.columns.get(featureKey(f))!);
    const digits = measureDigits(f);
    const shape = digits === 0 ? /^-?[0-9]+$/ : /^-?[0-9]+[.][0-9]{2}$/;
    rows.forEach((r, i) => {
      const cell = r[width + k]!;
      if (!shape.test(cell) || Number(cell) !== column[i]) expect(`${measureColumnName(f)} row ${i}: ${cell}`).toBe(String(column[i]));
    });
  });
}

describe.skipIf(duckdb === null)('churnwatch sql --dialect duckdb against the in-process engine', () => {
  let clean = '';
  let dirty = '';
  beforeAll(async () => {
    clean = await generate('clean', ['--seed', '7']);
    dirty = await generate('dirty', ['--seed', '11', '--dirty', '0.008', '--gzip']);
  });

  it('gives the same scores.csv on generated extracts with the default pack', async () => {
    const { engine, sql } = await bothWays(clean, DEFAULT_PACK, 'clean');
    expect(engine.split('\n').length).toBe(3002);
    expect(sql).toBe(engine);
  });

  it('gives the same scores.csv on gzipped extracts with invalid rows', async () => {
    const { engine, sql } = await bothWays(dirty, DEFAULT_PACK, 'dirty');
    expect(sql).toBe(engine);
  });

  it('gives the same scores.csv for a pack with division, min/max/abs, any ticket, not/and/or and rank tiers', async () => {
    const { engine, sql } = await bothWays(dirty, HAND_PACK, 'hand');
    // Every rule of the pack flags someone, and some values are not given: the comparison is not vacuous.
    const rows = engine
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    for (let j = 5; j < rows[0]!.length; j++) expect(rows.some((r) => r[j] === '1')).toBe(true);
    expect(rows.some((r) => r[1] === '')).toBe(true);
    expect(sql).toBe(engine);
  });

  it('gives the same scores.csv for a logistic pack with scorecard steps (risk through e^x as Math.exp computes it)', async () => {
    const { engine, sql } = await bothWays(dirty, LOGISTIC_PACK, 'logistic');
    expect(distinctRisks(engine).size).toBeGreaterThan(10);
    expect(sql).toBe(engine);
  });
});
