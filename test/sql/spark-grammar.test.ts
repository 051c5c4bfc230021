/**
 * Every Spark SQL text the project writes parses with a real Spark SQL grammar
 * (dt-sql-parser's): the scripts of the default, a hand-made and a calibrated pack, and
 * the job of the nightly script of docs/scale-out.md. They are parsed in this one file
 * because the grammar's first parse in a process builds its prediction tables, which
 * takes about ten seconds of CPU; the later ones reuse them.
 *
 * The recipe is run as the documentation prints it, with stand-ins for the cluster's
 * commands: `hdfs dfs -get` copies from a local folder that plays HDFS, and
 * `spark-sql -f JOB` keeps the job (which must parse) and writes the scores folder the
 * job names, with the DuckDB dialect of the same script, as a Parquet part file and a
 * _SUCCESS marker. The night it publishes must have a local run's task files and ledger.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, loadDuckDb } from './helpers.js';
import { calibrateSamplePack, sparkScript } from './spark-twins.js';

// dt-sql-parser's ES build imports its own files without extensions; only this file needs the hook.
register('./extensionless-hook.mjs', import.meta.url);
/**
 * The package is loaded by Node itself, through a data: module that re-exports it (Vitest
 * leaves data: imports to Node). Imported by name, Vitest would transform its thousands of
 * generated parser lines first, since its ES build is not valid for Node without the hook:
 * about fifteen seconds of CPU, against two.
 */
const parser = await Promise.resolve()
  .then(() => pathToFileURL(createRequire(import.meta.url).resolve('dt-sql-parser')).href)
  .then(
    (url): Promise<typeof import('dt-sql-parser')> =>
      import(/* @vite-ignore */ `data:text/javascript,export * from ${encodeURIComponent(JSON.stringify(url))};`),
  )
  .then(
    (m) => new m.SparkSQL(),
    () => null,
  );

const sparkParserLoaded = parser !== null;

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

const duckdb = await loadDuckDb();
const REPO = resolve('.');
const D = '2026-03-15';
const tmp = mkdtempSync(join(tmpdir(), 'cw-spark-grammar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The first ```sh block of docs/scale-out.md. */
function documentedScript(): string {
  const doc = readFileSync(join(REPO, 'docs/scale-out.md'), 'utf8');
  const m = /```sh\n(#!\/bin\/sh\n[\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/scale-out.md has no nightly script');
  return m[1]!;
}

const DEFAULT_PACK = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));
const HAND_PACK = fileURLToPath(new URL('./hand-pack.yaml', import.meta.url));
const SAMPLE_AS_OF = '2026-11-23';

describe.skipIf(!sparkParserLoaded)('Spark SQL grammar', { timeout: 300_000 }, () => {
  it('finds the error in a script that is not Spark SQL (the check is not vacuous)', () => {
    expect(grammarErrors('SELECT (y - CASE WHEN m <= 2 THEN 1 ELSE 0 END) FROM t')).not.toEqual([]);
    expect(grammarErrors('SELECT CASE WHEN m <= 2 THEN 1 ELSE 0 END AS x FROM t')).toEqual([]);
  });

  it.each([
    ['default', DEFAULT_PACK],
    ['hand-made', HAND_PACK],
  ])('parses the script of the %s pack', async (_, pack) => {
    expect(grammarErrors(await sparkScript(pack, SAMPLE_AS_OF))).toEqual([]);
  });

  it('parses the script of a pack calibrate wrote (a logistic scorecard of steps)', async () => {
    const pack = join(tmp, 'scorecard.yaml');
    await calibrateSamplePack(pack, SAMPLE_AS_OF);
    expect(grammarErrors(await sparkScript(pack, SAMPLE_AS_OF))).toEqual([]);
  });
});

const STUB_HDFS = `#!/bin/sh
# hdfs dfs -get [-f] SRC DST, with hdfs:/// mapped onto $FAKE_HDFS
[ "$1" = dfs ] && [ "$2" = -get ] || { echo "hdfs stand-in: unexpected $*" >&2; exit 2; }
shift 2
[ "$1" = -f ] && shift
src="$FAKE_HDFS/\${1#hdfs:///}"
cp -r "$src" "$2"
`;

/** spark-sql -f JOB: keeps the job; writes its INSERT OVERWRITE DIRECTORY target from the DuckDB dialect. */
const STUB_SPARK = `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -f ] && job="$2"; shift; done
cp "$job" "$FAKE_HDFS/last-job.sql"
exec node "$FAKE_HDFS/spark-standin.mjs" "$job"
`;

const SPARK_STANDIN = `
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { basename, dirname } from 'node:path';
const job = readFileSync(process.argv[2], 'utf8');
const target = /INSERT OVERWRITE DIRECTORY '([^']+)' USING parquet/.exec(job)[1];
const extracts = dirname(/path '([^']+)\\/subscribers\\.csv'/.exec(job)[1] + '/x');
const local = (p) => process.env.FAKE_HDFS + '/' + p.replace('hdfs:///', '');
const D = basename(target);
const script = execFileSync('node', [process.env.CW_BIN, 'sql', '--dialect', 'duckdb', '--as-of', D, '--rules', process.env.RULES, '--input', local(extracts)], { encoding: 'utf8' });
const { DuckDBInstance } = await import(process.env.CW_DUCKDB);
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
mkdirSync(local(target), { recursive: true });
await connection.run(\`COPY (\${script.trimEnd().replace(/;$/, '')}) TO '\${local(target)}/part-00000-x.snappy.parquet' (FORMAT parquet)\`);
writeFileSync(local(target) + '/_SUCCESS', '');
`;

describe.skipIf(duckdb === null || !sparkParserLoaded)('the Spark recipe of docs/scale-out.md', { timeout: 240_000 }, () => {
  it('runs as printed and publishes a local run’s task files and ledger', async () => {
    const hdfs = join(tmp, 'hdfs');
    const extracts = join(hdfs, 'extracts', D);
    await cli(['generate', '--subscribers', '800', '--seed', '9', '--dirty', '0.004', '--out', extracts, '--as-of', D]);
    const bin = join(tmp, 'bin');
    mkdirSync(bin);
    for (const [name, text] of [
      ['hdfs', STUB_HDFS],
      ['spark-sql', STUB_SPARK],
      ['churnwatch', `#!/bin/sh\nexec node "${join(REPO, 'bin/churnwatch.js')}" "$@"\n`],
    ] as const) {
      writeFileSync(join(bin, name), text);
      chmodSync(join(bin, name), 0o755);
    }
    writeFileSync(join(hdfs, 'spark-standin.mjs'), SPARK_STANDIN);
    const script = join(tmp, 'nightly-spark.sh');
    writeFileSync(script, documentedScript());
    const rules = join(REPO, 'rules/default.yaml');
    const work = join(tmp, 'cwd');
    mkdirSync(work);
    // Not execFileSync: a worker whose event loop is blocked for over a minute (a loaded machine) loses Vitest's RPC.
    await promisify(execFile)('sh', [script, D], {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_HDFS: hdfs,
        LOCAL: join(tmp, 'srv'),
        RULES: rules,
        CW_BIN: join(REPO, 'bin/churnwatch.js'),
        CW_DUCKDB: pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('@duckdb/node-api')).href,
      },
    });
    const job = readFileSync(join(hdfs, 'last-job.sql'), 'utf8');
    // spark-sql -f runs a file statement by statement, each parsed alone. Parsed whole, the
    // grammar's SET rule (any tokens up to the end) looks ahead through the next statement,
    // which takes it seconds per statement.
    const statements = job.split(/;\n/).filter((s) => s.trim() !== '');
    expect(statements.length).toBe(8); // five views, SET, the scores view, the INSERT
    for (const [k, statement] of statements.entries()) expect(grammarErrors(`${statement};`), `statement ${k + 1}`).toEqual([]);
    const local = join(tmp, 'local');
    cpSync(extracts, join(tmp, 'local-in'), { recursive: true });
    await cli(['run', '--input', join(tmp, 'local-in'), '--out', local, '--as-of', D, '--log-level', 'silent']);
    const published = join(tmp, 'srv', 'out', D);
    const names = readdirSync(join(local, D)).filter((n) => /^(tasks-.*|ledger|suppressed|holdout|overflow|scores)\.(csv|arrow)$/.test(n));
    expect(names).toContain('tasks-high-call.csv');
    for (const name of names) expect(readFileSync(join(published, name)), name).toEqual(readFileSync(join(local, D, name)));
  });
});
