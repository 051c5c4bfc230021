/**
 * The logistic risk of a SQL script, 1 / (1 + e^−logit), must print as the
 * in-process risk does to the 4th decimal, and its expected loss to the cent: so
 * e^x must be Math.exp(x) to the last bit. The scripts compute it with fdlibm's
 * steps (V8's Math.exp) in basic arithmetic; DuckDB's own exp() differs from
 * Math.exp in the last bit on about one argument in ten, which the second test
 * shows, so the first is not vacuous.
 */
import { describe, expect, it } from 'vitest';
import { expQuery } from '../../src/rules/sql.js';
import { loadDuckDb, runSql } from './helpers.js';

const duckdb = await loadDuckDb();

function args(): number[] {
  // The edges of fdlibm's branches (|x| = ln2/2, 1.5 ln2, 2^-28 as their high words cut them) and the limit.
  const out = [0, -0, 0.3465735912322998, -0.3465735912322998, 0.34657359123229975, 1.0397205352783203, 1.0397205352783201];
  out.push(-1.0397205352783203, 2 ** -28, -(2 ** -28), 2 ** -29, 1e-300, 707.9, -707.9, 20, -20, 0.5, -0.5, 1, -1);
  let s = 987654321;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  for (let k = 0; k < 4000; k++) out.push((rand() * 2 - 1) * [0.4, 1.2, 8, 40, 700][k % 5]!);
  return out;
}

describe.skipIf(duckdb === null)('e^x in the SQL scripts', () => {
  it("is Math.exp's double, bit for bit, across fdlibm's branches", async () => {
    const xs = args();
    const rows = await runSql(duckdb!, expQuery(xs));
    const wrong = xs.flatMap((x, k) => (rows[k]![1] === String(Math.exp(x)) ? [] : [`e^${x}: ${rows[k]![1]} instead of ${Math.exp(x)}`]));
    expect(wrong).toEqual([]);
  });

  it("differs from DuckDB's own exp(), which is why the scripts do not call it", async () => {
    const xs = args();
    const rows = await runSql(duckdb!, `SELECT exp(x) FROM (VALUES ${xs.map((x) => `(CAST('${x}' AS DOUBLE))`).join(', ')}) v(x)`);
    const differ = xs.filter((x, k) => rows[k]![0] !== String(Math.exp(x)));
    expect(differ.length).toBeGreaterThan(0);
  });
});
