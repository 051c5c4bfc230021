/**
 * Test helper: runs a SQL script in an in-memory DuckDB and gives its rows as
 * scores.csv lines. Null when @duckdb/node-api cannot load on this machine (the
 * tests that need it skip).
 */
import { csvLine } from '../../src/output/csv.js';

type DuckDb = typeof import('@duckdb/node-api');

let loaded: Promise<DuckDb | null> | undefined;

export function loadDuckDb(): Promise<DuckDb | null> {
  loaded ??= import('@duckdb/node-api').then((m) => m, () => null);
  return loaded;
}

/** The rows of the script's last statement, each cell as text (NULL as ''). */
export async function runSql(duckdb: DuckDb, sql: string): Promise<string[][]> {
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
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
