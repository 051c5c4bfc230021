/**
 * The SQL scripts (and the duckdb engine, which parses with them) read a number
 * cell as the readers do (csv-scan.ts parseScaled): the same units, and NULL exactly
 * where the reader rejects the row. A 17-digit number once failed the whole query
 * (a cast past DECIMAL(18, 2)) instead of rejecting its row.
 */
import { describe, expect, it } from 'vitest';
import { parseScaled } from '../../src/ingest/csv-scan.js';
import { scaledQuery } from '../../src/rules/sql.js';
import { field } from '../ingest/scan-helpers.js';
import { loadDuckDb, runSql } from './helpers.js';

const duckdb = await loadDuckDb();

const EDGES = [
  ...['0', '-0', '+0', '7', '5.', '.5', '-.5', '+1.5', '.', '-', '+', '', '1e5', '0x10', '1,000', '1..2', '--1', '1-'],
  ...['1.2300', '1.2301', '1.230000000000000000000', '-0.000', '.000', '7.0', '7.00', '7.001'],
  ...['12345678901234567', '-12345678901234567', '1234567890123456', '123456789012345', '12345678901234', '1234567890123'],
  ...['90071992547409.92', '90071992547409.93', '-90071992547409.92', '-90071992547409.93', '9007199254740992', '9007199254740993'],
  ...['900719925474099.2', '99999999999999999999999999', '00000000000000000000000012.5', '-0000000000000000000000012.50'],
  ...[
    '0000000000000000000000000000',
    '0000000000000000000000012.000',
    '000000000000009007199254740992',
    '12345678901234.5',
    '123456789012345.0',
  ],
];

/** Numbers of every length up to 20 digits, with and without a point, from a fixed seed. */
function generated(): string[] {
  let s = 99;
  const rand = (n: number) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
  const out: string[] = [];
  for (let k = 0; k < 400; k++) {
    const digits = Array.from({ length: 1 + rand(20) }, () => String(rand(10))).join('');
    const at = rand(digits.length + 3);
    const text = at < digits.length ? `${digits.slice(0, at)}.${digits.slice(at)}` : digits;
    out.push(`${['', '-', '+'][rand(3)]}${text}`);
  }
  return out;
}

describe.skipIf(duckdb === null)('numbers in SQL as the readers read them', () => {
  for (const scale of [0, 2])
    it(`scale ${scale}: the same units, and NULL where the reader rejects`, async () => {
      const texts = [...EDGES, ...generated()];
      const rows = await runSql(duckdb!, scaledQuery('duckdb', texts, scale));
      const want = texts.map((t) => {
        const v = parseScaled(field(t), 0, scale);
        return Number.isNaN(v) ? '' : String(v);
      });
      // The cases are not vacuous: some beyond 2^53, some with leading zeros or zero decimals, accepted.
      expect(want.filter((w) => w === '').length).toBeGreaterThan(20);
      expect(want[texts.indexOf('0000000000000000000000012.000')]).toBe(String(12 * 10 ** scale));
      expect(texts.map((t, k) => `${t} → ${rows[k]![1]}`)).toEqual(texts.map((t, k) => `${t} → ${want[k]}`));
    });
});
