/**
 * The Spark SQL dialect. No Spark runs here, so three things stand in for it:
 *  - every generated script parses with a real Spark SQL grammar (dt-sql-parser's);
 *  - a golden file pins the default pack's script;
 *  - the script uses only functions that Spark 3.x and DuckDB both document, plus a
 *    few Spark constructs, each with a DuckDB twin: with those swapped for their
 *    twins (and nothing else changed), DuckDB runs the Spark script and gives the
 *    in-process scores.csv, so the shared logic (date parsing, windows, sums,
 *    rules, formatting) is checked on data.
 */
import { register } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, csvBody, loadDuckDb, runSql } from './helpers.js';

const DEFAULT_PACK = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));
const HAND_PACK = fileURLToPath(new URL('./hand-pack.yaml', import.meta.url));
const LOGISTIC_PACK = fileURLToPath(new URL('./logistic-pack.yaml', import.meta.url));
const GOLDEN = 'fixtures/golden/sql/default.spark.sql';
const GOLDEN_INPUT = 'fixtures/golden/input';
const GOLDEN_AS_OF = '2026-11-23';

// dt-sql-parser's ES build imports its own files without extensions; only this test needs the hook.
register('./extensionless-hook.mjs', import.meta.url);
const parser = await import('dt-sql-parser').then(
  (m) => new m.SparkSQL(),
  () => null,
);
const duckdb = await loadDuckDb();

const tmp = mkdtempSync(join(tmpdir(), 'cw-spark-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sparkScript = (pack: string, asOf: string) => cli(['sql', '--dialect', 'spark', '--as-of', asOf, '--rules', pack]);

/** Grammar errors, quietly (the parser's error listener also writes to the console). */
function grammarErrors(sql: string): string[] {
  const error = console.error;
  console.error = () => {};
  try {
    return parser!.validate(sql).map((e) => `${e.startLine}:${e.startColumn} ${e.message}`);
  } finally {
    console.error = error;
  }
}

describe.skipIf(parser === null)('Spark SQL grammar', () => {
  it('finds the error in a script that is not Spark SQL (the check is not vacuous)', () => {
    expect(grammarErrors('SELECT (y - CASE WHEN m <= 2 THEN 1 ELSE 0 END) FROM t')).not.toEqual([]);
    expect(grammarErrors('SELECT CASE WHEN m <= 2 THEN 1 ELSE 0 END AS x FROM t')).toEqual([]);
  });

  it.each([
    ['default', DEFAULT_PACK],
    ['hand-made', HAND_PACK],
    ['logistic (scorecard)', LOGISTIC_PACK],
  ])(
    'parses the script of the %s pack',
    async (_, pack) => {
      expect(grammarErrors(await sparkScript(pack, GOLDEN_AS_OF))).toEqual([]);
    },
    300_000,
  );
});

describe("the default pack's Spark script", () => {
  it(`is ${GOLDEN} (regenerate: node bin/churnwatch.js sql --dialect spark --as-of ${GOLDEN_AS_OF} > ${GOLDEN})`, async () => {
    expect(await sparkScript(DEFAULT_PACK, GOLDEN_AS_OF)).toBe(readFileSync(GOLDEN, 'utf8'));
  });
});

/** Spark constructs the scripts use, each with its DuckDB twin. */
const TWINS: [RegExp, string][] = [
  [/\((\w+) RLIKE ('[^']*')\)/g, 'regexp_matches($1, $2)'],
  [/monotonically_increasing_id\(\)/g, 'row_number() OVER ()'],
  [/`(\w+)`/g, '"$1"'],
  [/ AS STRING\)/g, ' AS VARCHAR)'],
];

/** Functions both engines document with the same meaning on the types used here. */
const SHARED_FUNCTIONS = new Set([
  'abs',
  'coalesce',
  'concat',
  'floor',
  'length',
  'lower',
  'lpad',
  'max',
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

function twin(spark: string): string {
  return TWINS.reduce((sql, [re, to]) => sql.replace(re, to), spark);
}

async function engineScores(input: string, pack: string, asOf: string, name: string): Promise<string> {
  const out = join(tmp, name);
  await cli(['run', '--input', input, '--out', out, '--as-of', asOf, '--rules', pack, '--log-level', 'silent']);
  return readFileSync(join(out, asOf, 'scores.csv'), 'utf8');
}

/**
 * The Spark script run by DuckDB over views named after the extracts: the columns of
 * scores.csv. Its measure columns (after them) must be those of the DuckDB dialect's
 * script, which the differential tests hold to the in-process feature values.
 */
async function viaTwins(spark: string, input: string, engine: string, pack: string, asOf: string): Promise<string> {
  const views = ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts'].map(
    (name) =>
      `CREATE VIEW ${name} AS SELECT * FROM read_csv('${resolve(input, `${name}.csv*`).replaceAll('\\', '/')}', header = true, all_varchar = true);`,
  );
  const rows = await runSql(duckdb!, twin(spark), views);
  const direct = await runSql(duckdb!, await cli(['sql', '--dialect', 'duckdb', '--as-of', asOf, '--rules', pack, '--input', input]));
  expect(rows).toEqual(direct);
  const header = engine.slice(0, engine.indexOf('\n') + 1);
  return header + csvBody(rows.map((r) => r.slice(0, header.split(',').length)));
}

describe('only constructs with a DuckDB twin', () => {
  it('uses no function outside the shared list once the Spark constructs are swapped for their twins', async () => {
    for (const pack of [DEFAULT_PACK, HAND_PACK]) {
      const spark = await sparkScript(pack, GOLDEN_AS_OF);
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
  });

  it.skipIf(duckdb === null)('gives the in-process scores.csv on the golden extracts (hand-made bad rows included)', async () => {
    const engine = await engineScores(GOLDEN_INPUT, DEFAULT_PACK, GOLDEN_AS_OF, 'golden');
    expect(await viaTwins(await sparkScript(DEFAULT_PACK, GOLDEN_AS_OF), GOLDEN_INPUT, engine, DEFAULT_PACK, GOLDEN_AS_OF)).toBe(engine);
  });

  it.skipIf(duckdb === null)(
    'gives the in-process scores.csv on generated extracts with invalid rows, for the hand-made pack',
    async () => {
      const input = join(tmp, 'dirty');
      await cli(['generate', '--subscribers', '3000', '--seed', '5', '--dirty', '0.005', '--out', input, '--as-of', GOLDEN_AS_OF]);
      const engine = await engineScores(input, HAND_PACK, GOLDEN_AS_OF, 'hand');
      expect(await viaTwins(await sparkScript(HAND_PACK, GOLDEN_AS_OF), input, engine, HAND_PACK, GOLDEN_AS_OF)).toBe(engine);
    },
  );
});
