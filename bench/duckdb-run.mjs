#!/usr/bin/env node
// The DuckDB side of the benchmark: runs bench/rules.sql (the twelve default rules,
// value and tier, by hand in SQL) over a folder of extracts and writes one CSV row
// per subscriber.
//
//   node bench/duckdb-run.mjs --input DIR --out FILE --as-of YYYY-MM-DD [--threads 2] [--dialect clean]
//                             [--sql bench/rules.sql] [--explain]
//
// --dialect names the export dialect of the extracts (bench/dialects.mjs): it sets the
// files' suffix and the read options (delimiter, encoding) the SQL reads them with.
//
// Exit 0 when the CSV is written; 64 on bad arguments; 70 when DuckDB fails.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DIALECTS, duckdbDialect } from './dialects.mjs';

const { values: opt } = parseArgs({
  options: {
    input: { type: 'string' },
    out: { type: 'string' },
    'as-of': { type: 'string' },
    threads: { type: 'string', default: '2' },
    dialect: { type: 'string', default: 'clean' },
    sql: { type: 'string', default: fileURLToPath(new URL('./rules.sql', import.meta.url)) },
    explain: { type: 'boolean', default: false },
  },
});
if (
  !opt.input ||
  !opt.out ||
  !/^\d{4}-\d{2}-\d{2}$/.test(opt['as-of'] ?? '') ||
  !/^\d+$/.test(opt.threads) ||
  !DIALECTS.includes(opt.dialect)
) {
  console.error(
    `usage: node bench/duckdb-run.mjs --input DIR --out FILE --as-of YYYY-MM-DD [--threads N] [--dialect ${DIALECTS.join('|')}] [--sql FILE] [--explain]`,
  );
  process.exit(64);
}

/** A path inside a SQL string literal: forward slashes, quotes doubled. */
const literal = (p) => resolve(p).replaceAll('\\', '/').replaceAll("'", "''");
const dialect = duckdbDialect(opt.dialect);
const csv = `delim = '${dialect.delim}', quote = '"', escape = '"', encoding = '${dialect.encoding}'`;
const vars = { dir: literal(opt.input), out: literal(opt.out), D: opt['as-of'], threads: opt.threads, ext: dialect.ext, csv };
// Whole-line comments go first, so the placeholders they mention are not filled in.
const sql = readFileSync(opt.sql, 'utf8')
  .replace(/^\s*--.*$/gm, '')
  .replace(/\{\{(\w+)\}\}/g, (m, k) => {
    if (!(k in vars)) throw new Error(`unknown placeholder ${m} in ${opt.sql}`);
    return vars[k];
  });

mkdirSync(dirname(resolve(opt.out)), { recursive: true });

let duckdb;
try {
  duckdb = await import('@duckdb/node-api');
} catch (e) {
  console.error(`duckdb-run: cannot load @duckdb/node-api (${e.message}); run npm ci`);
  process.exit(70);
}

const instance = await duckdb.DuckDBInstance.create(':memory:');
const connection = await instance.connect();
try {
  // Where DuckDB spills when a size does not fit in its memory limit: beside the output, not the working folder.
  await connection.run(`SET temp_directory = '${literal(join(dirname(resolve(opt.out)), 'duckdb-tmp'))}'`);
  if (opt.explain) {
    // The statements before the COPY set things up; explain the last one.
    const statements = sql.split(/;\s*\n/).filter((s) => s.replace(/--.*$/gm, '').trim());
    for (const s of statements.slice(0, -1)) await connection.run(s);
    const reader = await connection.runAndReadAll(`EXPLAIN ANALYZE ${statements.at(-1)}`);
    for (const row of reader.getRows()) console.log(row.at(-1));
  } else {
    await connection.run(sql);
  }
} catch (e) {
  console.error(`duckdb-run: ${e.message}`);
  process.exitCode = 70;
} finally {
  connection.closeSync();
  instance.closeSync();
}
