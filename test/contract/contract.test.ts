/**
 * The input contract is the one place the extracts and measures are written out:
 * the README shows its table, and its measures are consistent among themselves.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES,
  COLUMN_MEASURES,
  DERIVED_MEASURES,
  EVENT_MEASURES,
  EXTRACT_SPECS,
  TIERS,
  builtinMeasure,
  columnSpec,
  extractSpec,
  extractTable,
  measureScale,
} from '../../src/contract/contract.js';

describe('the input contract', () => {
  it("when the README shows the extracts then its table is the contract's extractTable()", () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf('| file | needed | one row is |');
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf('\n\n', start);
    expect(readme.slice(start, end)).toBe(extractTable());
  });

  it('when a measure reads a column then the column is a numeric column of its extract, and derived parts share a scale', () => {
    for (const m of COLUMN_MEASURES) {
      expect(['money', 'number', 'count']).toContain(columnSpec(m.extract, m.column)?.type);
      expect(m.scale).toBe(columnSpec(m.extract, m.column)!.type === 'count' && m.extract === 'billing_monthly' ? 0 : 2);
    }
    for (const d of DERIVED_MEASURES) {
      const parts = d.sumOf.map((p) => builtinMeasure(p));
      for (const p of parts) expect(p).toMatchObject({ extract: d.extract, column: expect.any(String) });
      expect(new Set(parts.map((p) => measureScale(p!))).size).toBe(1);
    }
    for (const e of EVENT_MEASURES) for (const c of [e.date, ...e.reads]) expect(columnSpec(e.extract, c)).toBeDefined();
    for (const name of Object.keys(ATTRIBUTES)) expect(columnSpec('subscribers', name)).toBeDefined();
  });

  it('when names are listed then none is used twice and every key, date and unique key is a column', () => {
    const names = [...COLUMN_MEASURES, ...DERIVED_MEASURES, ...EVENT_MEASURES].map((m) => m.name).concat(Object.keys(ATTRIBUTES));
    expect(new Set(names).size).toBe(names.length);
    for (const e of EXTRACT_SPECS) {
      const spec = extractSpec(e.name);
      for (const c of [spec.key, spec.date, spec.uniqueKey]) if (c !== undefined) expect(columnSpec(e.name, c)?.required).toBe(true);
    }
    expect(TIERS).toEqual(['high', 'mid', 'mass']);
  });
});
