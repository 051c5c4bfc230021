/**
 * `run --format parquet` (or output.format: parquet in the run configuration) writes
 * scores.parquet beside scores.csv and scores.arrow; read back by DuckDB's own Parquet
 * reader, it is scores.csv: the same subscribers in the same order, and every number
 * formatted as scores.csv formats it gives the same text (a value that is not given is
 * a null). Without the option there is no scores.parquet.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvLine } from '../../src/output/csv.js';
import { cli, loadDuckDb } from './helpers.js';

const AS_OF = '2026-03-15';
const HAND_PACK = fileURLToPath(new URL('./hand-pack.yaml', import.meta.url));
const duckdb = await loadDuckDb();
const tmp = mkdtempSync(join(tmpdir(), 'cw-parquet-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let input = '';
beforeAll(async () => {
  input = join(tmp, 'in');
  await cli(['generate', '--subscribers', '1200', '--seed', '3', '--dirty', '0.004', '--out', input, '--as-of', AS_OF]);
});

/** scores.parquet through DuckDB, each row formatted as scores.csv writes it. */
async function parquetAsCsv(file: string): Promise<string> {
  const instance = await duckdb!.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
    const fixed = (v: unknown, digits: number, zero: string) => (v === null ? '' : v === 0 ? zero : (v as number).toFixed(digits));
    const rows = reader
      .getRows()
      .map((r) => [
        String(r[0]),
        fixed(r[1], 2, '0.00'),
        String(r[2]),
        fixed(r[3], 4, '0.0000'),
        fixed(r[4], 2, '0.00'),
        ...r.slice(5).map((f) => String(f)),
      ]);
    return csvLine(reader.columnNames()) + rows.map((r) => csvLine(r)).join('');
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe.skipIf(duckdb === null)('scores.parquet', () => {
  it('is scores.csv, read back by DuckDB, for a pack with values that are not given', async () => {
    const out = join(tmp, 'flag');
    await cli([
      'run',
      '--input',
      input,
      '--out',
      out,
      '--as-of',
      AS_OF,
      '--rules',
      HAND_PACK,
      '--format',
      'parquet',
      '--log-level',
      'silent',
    ]);
    const csv = readFileSync(join(out, AS_OF, 'scores.csv'), 'utf8');
    expect(csv).toMatch(/^[^,\n]+,,/m); // some values are not given
    expect(await parquetAsCsv(join(out, AS_OF, 'scores.parquet'))).toBe(csv);
    const manifest = JSON.parse(readFileSync(join(out, AS_OF, 'manifest.json'), 'utf8'));
    expect(JSON.stringify(manifest.outputs)).toContain('scores.parquet');
    expect(existsSync(join(out, AS_OF, 'scores.arrow'))).toBe(true);
  });

  it('comes from output.format: parquet in the run configuration, and not without it', async () => {
    const config = join(tmp, 'run.yaml');
    writeFileSync(config, 'output:\n  format: parquet\n');
    const out = join(tmp, 'config');
    await cli(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--config', config, '--log-level', 'silent']);
    expect(await parquetAsCsv(join(out, AS_OF, 'scores.parquet'))).toBe(readFileSync(join(out, AS_OF, 'scores.csv'), 'utf8'));
    const plain = join(tmp, 'plain');
    await cli(['run', '--input', input, '--out', plain, '--as-of', AS_OF, '--log-level', 'silent']);
    expect(existsSync(join(plain, AS_OF, 'scores.parquet'))).toBe(false);
  });
  it('with --with-measures carries the measure columns of scores.csv: numbers equal, dates and enums as their text, empty as null', async () => {
    const out = join(tmp, 'measures');
    await cli(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--format', 'parquet', '--with-measures', '--log-level', 'silent']);
    const [header, ...lines] = readFileSync(join(out, AS_OF, 'scores.csv'), 'utf8')
      .trimEnd()
      .split('\n');
    const names = header!.split(',');
    const instance = await duckdb!.DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet('${join(out, AS_OF, 'scores.parquet')}')`);
      expect(reader.columnNames()).toEqual(names);
      const first = names.indexOf('low_balance') + 1; // the measures follow the last rule flag of the default pack
      expect(names.length).toBeGreaterThan(first + 10);
      const rows = reader.getRows();
      expect(rows).toHaveLength(lines.length);
      let empty = 0;
      lines.forEach((line, i) => {
        const cells = line.split(',');
        for (let k = first; k < names.length; k++) {
          const cell = cells[k]!;
          const v = rows[i]![k];
          if (cell === '') empty++;
          const got = v === null ? '' : typeof v === 'number' ? v : String(v);
          const want = cell === '' ? '' : typeof v === 'number' ? Number(cell) : cell;
          if (got !== want) expect(`${names[k]} row ${i}: ${String(got)}`).toBe(`${names[k]} row ${i}: ${String(want)}`);
        }
      });
      expect(empty).toBeGreaterThan(0); // some measures are not given (nulls are checked, not only numbers)
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
