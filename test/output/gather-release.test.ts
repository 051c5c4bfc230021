/**
 * The flagged subscribers' feature rows gathered column by column (task-files.ts
 * flaggedFeatureTable): a large night lets each whole column go as soon as its rows are
 * copied (pipeline.ts). The caller is told each column once, after its copy, so letting
 * it go then changes nothing that is gathered.
 */
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/analyse.js';
import { loadRulePack } from '../../src/config/rulepack.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { flaggedFeatureTable } from '../../src/output/task-files.js';
import { reasonFeatures } from '../../src/tasks/tasks.js';
import { parseDay } from '../../src/util/dates.js';

describe('flaggedFeatureTable, each column let go of once gathered', () => {
  it('when every whole column is dropped as it is gathered then the gathered rows are the same', async () => {
    const a = await analyse(defaultInputOptions('fixtures/sample'), parseDay('2026-11-23'), loadRulePack('rules/default.yaml'));
    const of = { features: a.table, evaluation: a.evaluation, scores: a.scores };
    const kept = flaggedFeatureTable(of);
    const told: string[] = [];
    const released = flaggedFeatureTable(of, (key) => {
      // Every earlier column is still in the table when told: nothing was dropped before its copy.
      expect(a.table.columns.has(key)).toBe(true);
      told.push(key);
      a.table.columns.delete(key);
    });
    const keys = reasonFeatures(a.evaluation.rules);
    expect(keys.length).toBeGreaterThan(3);
    expect(told).toEqual(keys);
    expect(keys.every((k) => !a.table.columns.has(k))).toBe(true);
    expect(released.rows).toEqual(kept.rows);
    expect([...released.columns.keys()]).toEqual([...kept.columns.keys()]);
    for (const [key, column] of kept.columns) expect(released.columns.get(key)).toEqual(column);
    // Some flagged subscriber's values are not all zero: the comparison is not of empty columns.
    expect([...kept.columns.values()].some((c) => ('unit' in c ? c.values : c).some((x) => x !== 0))).toBe(true);
  });
});
