/**
 * Stand-ins for Spark, which does not run here: DuckDB twins of the few Spark
 * constructs the scripts use (spark-grammar.test.ts has the other stand-in, a Spark
 * SQL grammar). With the constructs swapped for their twins (nothing else changed),
 * DuckDB runs a Spark script, so the shared logic is checked on data; the rest of the
 * script may use only functions both engines document with the same meaning on the
 * types used.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { cli, csvBody, loadDuckDb, runSql } from './helpers.js';

export const sparkScript = (pack: string, asOf: string) => cli(['sql', '--dialect', 'spark', '--as-of', asOf, '--rules', pack]);

/**
 * A logistic scorecard pack as calibrate writes it, into `out`: fitted on the bundled
 * sample and its labels from the small hand-made logistic pack (about twenty steps over a
 * ratio, a level and the line's age, points of both signs).
 */
export async function calibrateSamplePack(out: string, asOf: string): Promise<void> {
  const sample = 'fixtures/sample';
  const args = ['--labels', `${sample}/labels.csv`, '--rules', 'test/sql/logistic-pack.yaml', '--measures', 'amount(M0)'];
  await cli(['calibrate', '--input', sample, '--as-of', asOf, ...args, '--out', out]);
  expect(readFileSync(out, 'utf8')).toMatch(/^score: logistic$/m);
}

/** Spark constructs the scripts use, each with its DuckDB twin. */
const TWINS: [RegExp, string][] = [
  [/\((\w+) RLIKE ('[^']*')\)/g, 'regexp_matches($1, $2)'],
  [/monotonically_increasing_id\(\)/g, 'row_number() OVER ()'],
  [/`(\w+)`/g, '"$1"'],
  [/ AS STRING\)/g, ' AS VARCHAR)'],
];

/**
 * Functions both engines document with the same meaning on the types used here
 * (ceil and floor are cast to DOUBLE or BIGINT where used: Spark gives BIGINT, DuckDB DOUBLE).
 */
const SHARED_FUNCTIONS = new Set([
  'abs',
  'ceil',
  'coalesce',
  'concat',
  'floor',
  'length',
  'lower',
  'lpad',
  'max',
  'power',
  'regexp_extract',
  'row_number',
  'substr',
  'sum',
  'trim',
  'least',
  'greatest',
  'count',
  'NULLIF',
  'CAST',
]);
const KEYWORDS_BEFORE_PARENS = new Set([
  'AS',
  'IN',
  'OVER',
  'FROM',
  'JOIN',
  'AND',
  'OR',
  'NOT',
  'THEN',
  'ELSE',
  'WHEN',
  'DECIMAL',
  'BETWEEN',
]);

export function twin(spark: string): string {
  return TWINS.reduce((sql, [re, to]) => sql.replace(re, to), spark);
}

/** Functions of a Spark script, once twinned, outside the shared list (none expected); and that no Spark construct is left. */
export function expectSharedOnly(spark: string): void {
  const used = new Set(
    [
      ...twin(spark)
        .replace(/--.*$/gm, '')
        .replace(/'[^']*'/g, "''")
        .matchAll(/(\w+)\s*\(/g),
    ].map((m) => m[1]!),
  );
  const unknown = [...used].filter(
    (f) => !SHARED_FUNCTIONS.has(f) && !KEYWORDS_BEFORE_PARENS.has(f) && !/^(row_number|regexp_matches)$/.test(f),
  );
  expect(unknown).toEqual([]);
  for (const [re] of TWINS) expect(twin(spark)).not.toMatch(re);
}

/** scores.csv of an in-process run into `out`. */
export async function engineScores(input: string, pack: string, asOf: string, out: string): Promise<string> {
  await cli(['run', '--input', input, '--out', out, '--as-of', asOf, '--rules', pack, '--log-level', 'silent']);
  return readFileSync(join(out, asOf, 'scores.csv'), 'utf8');
}

/**
 * The Spark script run by DuckDB over views named after the extracts: the columns of
 * scores.csv (with `engine`'s header). Its measure columns (after them) must be those
 * of the DuckDB dialect's script, which the differential tests hold to the in-process
 * feature values.
 */
export async function viaTwins(spark: string, input: string, engine: string, pack: string, asOf: string): Promise<string> {
  const duckdb = (await loadDuckDb())!;
  const views = ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts'].map(
    (name) =>
      `CREATE VIEW ${name} AS SELECT * FROM read_csv('${resolve(input, `${name}.csv*`).replaceAll('\\', '/')}', header = true, all_varchar = true);`,
  );
  const rows = await runSql(duckdb, twin(spark), views);
  const direct = await runSql(duckdb, await cli(['sql', '--dialect', 'duckdb', '--as-of', asOf, '--rules', pack, '--input', input]));
  expect(rows).toEqual(direct);
  const header = engine.slice(0, engine.indexOf('\n') + 1);
  return header + csvBody(rows.map((r) => r.slice(0, header.split(',').length)));
}
