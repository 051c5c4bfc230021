/**
 * What a large night holds less of at the task stage (pipeline.ts, task-files.ts): the
 * flagged subscribers' feature rows are gathered column by column, and each whole column
 * may go as soon as its rows are copied (the caller is told each column once, after its
 * copy, so letting it go then changes nothing that is gathered); and from 2^22
 * subscribers the task-files worker renders no tier's cells ahead (the property tests of
 * test/tasks/task-writer.property.test.ts hold the bytes the same with and without).
 */
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/analyse.js';
import { loadRulePack } from '../../src/config/rulepack.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { flaggedFeatureTable, renderInputOf, toWorkerStart } from '../../src/output/task-files.js';
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

  it('when the night has 2^22 subscribers or more then the worker renders no cells ahead, and below that it does', async () => {
    const a = await analyse(defaultInputOptions('fixtures/sample'), parseDay('2026-11-23'), loadRulePack('rules/default.yaml'));
    const features = flaggedFeatureTable({ features: a.table, evaluation: a.evaluation, scores: a.scores });
    const input = {
      pack: loadRulePack('rules/default.yaml'),
      D: parseDay('2026-11-23'),
      subscribers: a.extracts.subscribers,
      features,
      evaluation: a.evaluation,
      scores: a.scores,
      contacts: a.extracts.contacts,
    };
    const start = toWorkerStart({ dir: '', fileMode: 0o600, directWrites: false }, input);
    expect(renderInputOf(start).cells).toBeDefined();
    expect(renderInputOf({ ...start, n: (1 << 22) - 1 }).cells).toBeDefined();
    expect(renderInputOf({ ...start, n: 1 << 22 }).cells).toBeUndefined();
  });
});
