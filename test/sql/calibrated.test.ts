/**
 * A pack written by `calibrate` (a logistic scorecard of steps over a ratio, a level
 * and the line's age, with points of both signs, fitted on the bundled sample and its
 * generated labels) as SQL: the DuckDB dialect run on the CSV files, and the Spark
 * script run by DuckDB through its twins, give the in-process scores.csv byte for
 * byte, risk to the 4th decimal and expected loss to the cent included; the Spark
 * script uses only the shared functions (spark-grammar.test.ts parses such a script).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, csvBody, distinctRisks, loadDuckDb, runSql } from './helpers.js';
import { calibrateSamplePack, engineScores, expectSharedOnly, sparkScript, viaTwins } from './spark-twins.js';

const SAMPLE = 'fixtures/sample';
const AS_OF = '2026-11-23';

const duckdb = await loadDuckDb();
const tmp = mkdtempSync(join(tmpdir(), 'cw-sql-calibrated-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a calibrated scorecard pack as SQL', () => {
  const pack = join(tmp, 'scorecard.yaml');
  let engine = '';
  let spark = '';
  beforeAll(async () => {
    await calibrateSamplePack(pack, AS_OF);
    engine = await engineScores(SAMPLE, pack, AS_OF, join(tmp, 'out'));
    spark = await sparkScript(pack, AS_OF);
  }, 120_000);

  it.skipIf(duckdb === null)('DuckDB dialect on the CSV files: the in-process scores.csv', async () => {
    const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', AS_OF, '--rules', pack, '--input', SAMPLE]);
    const header = engine.slice(0, engine.indexOf('\n') + 1);
    const rows = await runSql(duckdb!, script);
    const sql = header + csvBody(rows.map((r) => r.slice(0, header.split(',').length)));
    // Fitted points give many distinct risks: the comparison covers the exp() of many logits.
    expect(distinctRisks(engine).size).toBeGreaterThan(100);
    expect(sql).toBe(engine);
  });

  it('Spark script: only shared functions once its Spark constructs are swapped for their DuckDB twins', () => {
    expectSharedOnly(spark);
  });

  it.skipIf(duckdb === null)('Spark script run through its twins: the in-process scores.csv', async () => {
    expect(await viaTwins(spark, SAMPLE, engine, pack, AS_OF)).toBe(engine);
  });
});
