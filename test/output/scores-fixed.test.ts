/** scores.csv's numbers without a string per cell (scores.ts fixed) hold toFixed's text, ties and edges included. */
import { describe, expect, it } from 'vitest';
import { fixed } from '../../src/output/scores.js';
import { NUMBER_ROOM } from '../../src/util/bytes.js';

const buf = new Uint8Array(3 + NUMBER_ROOM);

function text(x: number, digits: 2 | 4): string {
  const end = fixed(buf, 3, x, digits);
  expect(end - 3).toBeLessThanOrEqual(NUMBER_ROOM);
  return Buffer.from(buf.subarray(3, end)).toString('latin1');
}

describe('fixed(): toFixed text for the scores columns', () => {
  it('when values are random, on ties, near ties, zero, negative, large or tiny then the text is toFixed(digits)', () => {
    let seed = 3;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const xs = [
      0,
      -0,
      1,
      0.5,
      1.005,
      2.675,
      1.0005,
      0.00005,
      0.00015,
      1e-7,
      4.35,
      1234.565,
      9999999.995,
      1e12 + 0.125,
      -3.25007,
      -0.001,
      0.99995,
    ];
    for (let k = 0; k < 20000; k++)
      xs.push(rand(), rand() * 100, rand() * 1e6, Math.round(rand() * 1e6) / 1e4 + 0.00005, (Math.floor(rand() * 1e5) + 0.5) / 100);
    const wrong: [number, string, string][] = [];
    for (const digits of [2, 4] as const)
      for (const x of xs) if (text(x, digits) !== x.toFixed(digits)) wrong.push([x, text(x, digits), x.toFixed(digits)]);
    expect(wrong).toEqual([]);
  });
});
