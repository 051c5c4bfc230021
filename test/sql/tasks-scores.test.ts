/**
 * `churnwatch tasks --scores`: scores computed elsewhere → the same task files, ledger,
 * suppressed/holdout/overflow and score files as a local run, night after night (the
 * second night continues the first night's ledger). The scores come from the DuckDB
 * dialect of `churnwatch sql` on generated extracts with invalid rows, and from a
 * local run's scores.csv with the measure columns added; a file that does not match
 * the pack or the extracts is refused with exit 65, file, line and column, and
 * nothing is published.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/analyse.js';
import { loadRulePack, requiredFeatures } from '../../src/config/rulepack.js';
import { defaultInputOptions } from '../../src/contract/contract.js';
import { csvLine } from '../../src/output/csv.js';
import { featureKey, measureColumnName, measureDigits, scoreMeasures } from '../../src/rules/catalogue.js';
import { parseDay } from '../../src/util/dates.js';
import { cli as cliRaw } from '../helpers/cli.js';
import { expectSameBytes } from '../helpers/bytes.js';
import { cli, csvBody, loadDuckDb } from './helpers.js';
import { valueAt } from '../../src/rules/compile.js';

const NIGHTS = ['2026-03-14', '2026-03-15'];
const DEFAULT_PACK = 'rules/default.yaml';
/** Everything the task step publishes that must be byte for byte the local run's. */
const SAME = /^(tasks-.*\.csv|ledger\.csv|suppressed\.csv|holdout\.csv|overflow\.csv|scores\.csv|scores\.arrow)$/;

const duckdb = await loadDuckDb();
const tmp = mkdtempSync(join(tmpdir(), 'cw-tasks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let input = '';
let local = '';
beforeAll(async () => {
  input = join(tmp, 'in');
  await cli(['generate', '--subscribers', '1000', '--seed', '21', '--dirty', '0.006', '--out', input, '--as-of', NIGHTS[1]!]);
  local = join(tmp, 'local');
  for (const night of NIGHTS) await cli(['run', '--input', input, '--out', local, '--as-of', night, '--log-level', 'silent']);
});

/**
 * The SQL script's rows for night D as a CSV file with its header (or, with `parquet`, DuckDB's own Parquet file of them).
 * Each file is made once: several tests start from the same CSV file, and none writes to it.
 */
const made = new Map<string, Promise<string>>();
function sqlScores(night: string, parquet = false): Promise<string> {
  const key = `${night} ${parquet}`;
  if (!made.has(key)) made.set(key, makeSqlScores(night, parquet));
  return made.get(key)!;
}

async function makeSqlScores(night: string, parquet: boolean): Promise<string> {
  const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', night, '--input', input]);
  const instance = await duckdb!.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    if (parquet) {
      const file = join(tmp, `sql-${night}.parquet`);
      await connection.run(`COPY (${script.trimEnd().replace(/;$/, '')}) TO '${file}' (FORMAT parquet)`);
      return file;
    }
    const reader = await connection.runAndReadAll(script);
    const rows = reader.getRows().map((row) => row.map((c) => (c === null ? '' : String(c))));
    const file = join(tmp, `sql-${night}.csv`);
    writeFileSync(file, csvLine(reader.columnNames()) + csvBody(rows));
    return file;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A local run's scores.csv with the measure columns of the in-process features, as `run --with-measures` writes them. */
async function localScoresWithMeasures(night: string): Promise<string> {
  const pack = loadRulePack(DEFAULT_PACK);
  const a = await analyse(defaultInputOptions(input), parseDay(night), pack);
  const measures = scoreMeasures(requiredFeatures(pack).values());
  const lines = readFileSync(join(local, night, 'scores.csv'), 'utf8')
    .trimEnd()
    .split('\n');
  const out = lines.map((line, i) => {
    const cells =
      i === 0
        ? measures.map(measureColumnName)
        : measures.map((f) => {
            const v = valueAt(a.table.columns.get(featureKey(f))!, i - 1);
            return Number.isFinite(v) ? v.toFixed(measureDigits(f)) : '';
          });
    return `${line},${cells.join(',')}\n`;
  });
  const file = join(tmp, `local-${night}.csv`);
  writeFileSync(file, out.join(''));
  return file;
}

async function tasksFrom(files: Record<string, string>, out: string): Promise<void> {
  for (const night of NIGHTS)
    await cli(['tasks', '--scores', files[night]!, '--input', input, '--out', out, '--as-of', night, '--log-level', 'silent']);
}

function expectSameAsLocal(out: string): void {
  for (const night of NIGHTS) {
    const names = readdirSync(join(local, night)).filter((n) => SAME.test(n));
    expect(names).toContain('ledger.csv');
    expect(names).toContain('tasks-high-call.csv');
    for (const name of names)
      expectSameBytes(readFileSync(join(out, night, name)), readFileSync(join(local, night, name)), `${night}/${name}`);
  }
}

describe.skipIf(duckdb === null)('churnwatch tasks --scores', () => {
  it('publishes the local run’s task files and ledger from the DuckDB script’s scores, two nights running', async () => {
    const files = Object.fromEntries(await Promise.all(NIGHTS.map(async (n) => [n, await sqlScores(n)] as const)));
    const out = join(tmp, 'from-sql');
    await tasksFrom(files, out);
    expectSameAsLocal(out);
    // The tasks are real: the ledger continues the first night's episodes.
    expect(readFileSync(join(out, NIGHTS[1]!, 'ledger.csv'), 'utf8')).toMatch(/,open,/);
    const manifest = JSON.parse(readFileSync(join(out, NIGHTS[1]!, 'manifest.json'), 'utf8'));
    expect(manifest.inputs.map((i: { extract: string }) => i.extract)).toEqual(['subscribers', 'do_not_call', 'contact_history', 'scores']);
  });

  it('publishes the same from the script’s rows as Parquet, and as a folder of CSV part files with a _SUCCESS marker', async () => {
    const parquet = Object.fromEntries(await Promise.all(NIGHTS.map(async (n) => [n, await sqlScores(n, true)] as const)));
    await tasksFrom(parquet, join(tmp, 'from-parquet'));
    expectSameAsLocal(join(tmp, 'from-parquet'));
    const folders: Record<string, string> = {};
    for (const night of NIGHTS) {
      const [header, ...rows] = readFileSync(await sqlScores(night), 'utf8')
        .trimEnd()
        .split('\n');
      const dir = mkdtempSync(join(tmp, 'parts-'));
      const half = Math.floor(rows.length / 2);
      writeFileSync(join(dir, 'part-00000.csv'), [header, ...rows.slice(0, half)].join('\n') + '\n');
      writeFileSync(join(dir, 'part-00001.csv'), [header, ...rows.slice(half)].join('\n') + '\n');
      writeFileSync(join(dir, '_SUCCESS'), '');
      writeFileSync(join(dir, '.part-00000.csv.crc'), 'x');
      folders[night] = dir;
    }
    await tasksFrom(folders, join(tmp, 'from-parts'));
    expectSameAsLocal(join(tmp, 'from-parts'));
  });

  it('publishes the same from a local run’s scores file with the measure columns', async () => {
    const files = Object.fromEntries(await Promise.all(NIGHTS.map(async (n) => [n, await localScoresWithMeasures(n)] as const)));
    const out = join(tmp, 'from-local');
    await tasksFrom(files, out);
    expectSameAsLocal(out);
  });
});

describe.skipIf(duckdb === null)('churnwatch tasks --scores refuses a file that does not fit', () => {
  let good = '';
  beforeAll(async () => {
    good = readFileSync(await sqlScores(NIGHTS[1]!), 'utf8');
  });

  /** Runs the task step on `text`; it must fail with 65 and the message, and publish nothing. */
  async function refused(text: string, message: RegExp): Promise<void> {
    const file = join(mkdtempSync(join(tmp, 'bad-')), 'scores.csv');
    writeFileSync(file, text);
    const out = join(tmp, `out-bad-${Math.random().toString(36).slice(2)}`);
    const r = await cliRaw(['tasks', '--scores', file, '--input', input, '--out', out, '--as-of', NIGHTS[1]!, '--log-level', 'silent']);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(65);
    expect(existsSync(join(out, NIGHTS[1]!))).toBe(false);
  }
  const lines = () => good.split('\n');
  const edit = (line: number, column: number, value: string) =>
    lines()
      .map((l, k) =>
        k === line - 1
          ? l
              .split(',')
              .map((c, j) => (j === column ? value : c))
              .join(',')
          : l,
      )
      .join('\n');

  it('a subscriber that is not in subscribers.csv', async () => {
    await refused(
      edit(7, 0, 'nobody-here'),
      /scores\.csv: line 7, column subscriber_id: the subscriber is not in subscribers\.csv.*\[CW_SCORES_INVALID\]/,
    );
  });

  it('a flag that is not 0 or 1, a number that is not one, a tier that is none', async () => {
    await refused(edit(4, 6, '2'), /line 4, column arpu_decline_3m: a rule flag must be 0 or 1/);
    await refused(edit(5, 17, '12,5'), /line 5, column amount_m0: not a decimal number|line 5: 35 fields/);
    await refused(edit(5, 17, 'x'), /line 5, column amount_m0: not a decimal number/);
    await refused(edit(3, 2, 'top'), /line 3, column tier: the tier must be one of high, mid, mass/);
  });

  it('a header without a rule or measure of the pack, or with a column the pack does not have', async () => {
    await refused(good.replace('mou_m0', 'mou_m9'), /line 1: no column mou_m0 \(the measure mou\(M0\) that the pack reads\)/);
    await refused(good.replace(',low_balance,', ',low_balances,'), /no column low_balance \(the flag of enabled rule low_balance\)/);
  });

  it('a row that does not follow from its measures under this pack (another pack, another date)', async () => {
    const header = lines()[0]!.split(',');
    const row = lines().findIndex((l, k) => k > 0 && l.split(',')[header.indexOf('amount_m0')] !== '0.00') + 1;
    await refused(edit(row, header.indexOf('amount_m0'), '99999.99'), new RegExp(`line ${row}, column value: .* but the pack gives`));
  });

  it('a subscriber twice, or one missing', async () => {
    const l = lines();
    await refused([...l.slice(0, 3), l[2]!, ...l.slice(4)].join('\n'), /line 4, column subscriber_id: the subscriber has a row already/);
    await refused([...l.slice(0, 3), ...l.slice(4)].join('\n'), /rows for 999 of the 1000 subscribers/);
  });
});
