/**
 * The SQL scripts format value, risk and expected loss as Number#toFixed does:
 * exactly, from the binary value, the larger neighbour on a tie. Expected losses
 * are products of weights and amounts in fen, so their exact decimal is often a
 * tie at the cent (0.35 × 30.10 = 10.535), and which side the double falls on
 * decides the text.
 */
import { describe, expect, it } from 'vitest';
import { toFixedQuery } from '../../src/rules/sql.js';
import { loadDuckDb, runSql } from './helpers.js';

const duckdb = await loadDuckDb();

function numbers(): (number | null)[] {
  const out: (number | null)[] = [
    null,
    0,
    -0,
    0.125,
    0.375,
    -0.125,
    1.005,
    1.255,
    4.35,
    0.145,
    10.535,
    2.5,
    123456789.125,
    1e-9,
    -1e-9,
    0.5e-2,
    0.00005,
  ];
  let s = 12345;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const weights = [0.35, 0.3, 0.4, 0.25, 0.45, 0.5, 0.2, 0.1, 0.15, 0.05];
  for (let k = 0; k < 1500; k++) {
    const fen = Math.floor(rand() * 2_000_000) - 100_000;
    const w = weights[k % weights.length]!;
    const risk = 1 - (1 - w) * (1 - weights[(k * 7) % weights.length]!);
    out.push(fen / 100, w * (fen / 100), risk * (fen / 100), (fen / 100 + fen / 300) / 3, risk, fen / 8000);
  }
  return out;
}

describe.skipIf(duckdb === null)('toFixed in SQL', () => {
  it.each([2, 4])('gives the text of Number#toFixed(%i) for ties, near-ties and products of weights and amounts', async (digits) => {
    const values = numbers();
    const rows = await runSql(duckdb!, toFixedQuery('duckdb', values, digits));
    const got = rows.map((r) => r[1]);
    const want = values.map((v) => (v === null ? '' : v.toFixed(digits)));
    const wrong = want.flatMap((w, k) => (got[k] === w ? [] : [`${values[k]}: ${got[k]} instead of ${w}`]));
    expect(wrong).toEqual([]);
  });
});
