/**
 * Helpers of the SQL tests: the CLI in-process, and a SQL script run in an
 * in-memory DuckDB with its rows as scores.csv lines. loadDuckDb gives null when
 * @duckdb/node-api cannot load on this machine (the tests that need it skip).
 */
import { expect } from 'vitest';
import { csvLine } from '../../src/output/csv.js';
import { cli as runCli } from '../helpers/cli.js';

/** Runs a command of the CLI in-process; it must succeed without a word on stderr. Returns its stdout. */
export async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r.out;
}

type DuckDb = typeof import('@duckdb/node-api');

let loaded: Promise<DuckDb | null> | undefined;

export function loadDuckDb(): Promise<DuckDb | null> {
  loaded ??= import('@duckdb/node-api').then(
    (m) => m,
    () => null,
  );
  return loaded;
}

/** The rows of a query, each cell as text (NULL as ''), after the set-up statements (views) have run. */
export async function runSql(duckdb: DuckDb, sql: string, setup: string[] = []): Promise<string[][]> {
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (const s of setup) await connection.run(s);
    const reader = await connection.runAndReadAll(sql);
    return reader.getRows().map((row) => row.map((c) => (c === null ? '' : String(c))));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Rows as the body of scores.csv. */
export function csvBody(rows: string[][]): string {
  return rows.map((r) => csvLine(r)).join('');
}

/** The distinct risk_score cells of a scores.csv text. */
export function distinctRisks(scoresCsv: string): Set<string> {
  return new Set(
    scoresCsv
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[3]),
  );
}
