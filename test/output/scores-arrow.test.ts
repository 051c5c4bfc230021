/**
 * scores.arrow holds the same table as scores.csv; its string columns are built
 * straight into Arrow buffers, so they are checked against arbitrary Unicode.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { utf8Vector } from '../../src/output/scores.js';
import { cleanup, runCli } from '../helpers/world.js';

const out = mkdtempSync(join(tmpdir(), 'cw-arrow-'));
afterAll(() => cleanup(out));

describe('scores.arrow', () => {
  it('when the golden fixture is run then the Arrow table equals scores.csv row by row', async () => {
    const r = await runCli('fixtures/golden/input', '2026-11-23', [], out);
    expect(r.code).toBe(0);
    const csv = parse(readFileSync(join(r.published, 'scores.csv')), { columns: true }) as Record<string, string>[];
    const table = tableFromIPC(readFileSync(join(r.published, 'scores.arrow')));
    expect(table.numRows).toBe(csv.length);
    expect(table.schema.fields.map((f) => f.name)).toEqual(Object.keys(csv[0]!));
    csv.forEach((row, k) => {
      const a = table.get(k)!.toJSON() as Record<string, unknown>;
      for (const [col, v] of Object.entries(row)) {
        const got = a[col];
        if (typeof got === 'number' && col !== 'risk_score')
          expect(`${col}=${Number.isInteger(got) && v.length <= 1 ? got : got.toFixed(2)}`).toBe(`${col}=${v}`);
        else if (col === 'risk_score') expect((got as number).toFixed(4)).toBe(v);
        else expect(got).toBe(v);
      }
    });
  });

  it('when any strings are packed into a Utf8 vector then they read back unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 60 }), (strings) => {
        const back = utf8Vector(strings).toArray();
        expect([...back]).toEqual(strings);
      }),
      { numRuns: 200 },
    );
  });
});
