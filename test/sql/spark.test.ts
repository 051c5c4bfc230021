/**
 * The Spark SQL dialect. No Spark runs here, so three things stand in for it:
 *  - every generated script parses with a real Spark SQL grammar (dt-sql-parser's;
 *    spark-grammar.test.ts parses them all in one process);
 *  - a golden file pins the default pack's script;
 *  - the script uses only functions that Spark 3.x and DuckDB both document, plus a
 *    few Spark constructs, each with a DuckDB twin: with those swapped for their
 *    twins (and nothing else changed), DuckDB runs the Spark script and gives the
 *    in-process scores.csv, so the shared logic (date parsing, windows, sums,
 *    rules, formatting) is checked on data.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, loadDuckDb } from './helpers.js';
import { engineScores, expectSharedOnly, sparkScript, viaTwins } from './spark-twins.js';

const DEFAULT_PACK = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));
const HAND_PACK = fileURLToPath(new URL('./hand-pack.yaml', import.meta.url));
const LOGISTIC_PACK = fileURLToPath(new URL('./logistic-pack.yaml', import.meta.url));
const GOLDEN = 'fixtures/golden/sql/default.spark.sql';
const GOLDEN_INPUT = 'fixtures/golden/input';
const GOLDEN_AS_OF = '2026-11-23';

const duckdb = await loadDuckDb();

const tmp = mkdtempSync(join(tmpdir(), 'cw-spark-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the default pack's Spark script", () => {
  it(`is ${GOLDEN} (regenerate: node bin/churnwatch.js sql --dialect spark --as-of ${GOLDEN_AS_OF} > ${GOLDEN})`, async () => {
    expect(await sparkScript(DEFAULT_PACK, GOLDEN_AS_OF)).toBe(readFileSync(GOLDEN, 'utf8'));
  });
});

describe('only constructs with a DuckDB twin', () => {
  it.each([
    ['default', DEFAULT_PACK],
    ['hand-made', HAND_PACK],
    ['logistic (scorecard)', LOGISTIC_PACK],
  ])('uses no function outside the shared list once the Spark constructs of the %s pack are swapped for their twins', async (_, pack) => {
    expectSharedOnly(await sparkScript(pack, GOLDEN_AS_OF));
  });

  it.skipIf(duckdb === null)('gives the in-process scores.csv on the golden extracts (hand-made bad rows included)', async () => {
    const engine = await engineScores(GOLDEN_INPUT, DEFAULT_PACK, GOLDEN_AS_OF, join(tmp, 'golden'));
    expect(await viaTwins(await sparkScript(DEFAULT_PACK, GOLDEN_AS_OF), GOLDEN_INPUT, engine, DEFAULT_PACK, GOLDEN_AS_OF)).toBe(engine);
  });

  it.skipIf(duckdb === null)(
    'gives the in-process scores.csv on generated extracts with invalid rows, for the hand-made pack',
    async () => {
      const input = join(tmp, 'dirty');
      await cli(['generate', '--subscribers', '3000', '--seed', '5', '--dirty', '0.005', '--out', input, '--as-of', GOLDEN_AS_OF]);
      const engine = await engineScores(input, HAND_PACK, GOLDEN_AS_OF, join(tmp, 'hand'));
      expect(await viaTwins(await sparkScript(HAND_PACK, GOLDEN_AS_OF), input, engine, HAND_PACK, GOLDEN_AS_OF)).toBe(engine);
    },
  );
});
