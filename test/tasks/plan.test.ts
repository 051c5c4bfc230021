/**
 * The planning stage (plan.ts) and the column table: task ids unique within a run
 * (a tier's first letter was not: mid and mass both gave M), at most 32 characters
 * of [A-Za-z0-9_-]; what a set of hit rules decides; the file's columns as the
 * table lists them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import type { Evaluation } from '../../src/evaluate/evaluate.js';
import { DEFAULT_TASK_PROFILE, planTasks, taskId, taskIdTags, TASK_ID_MAX_LENGTH } from '../../src/tasks/plan.js';
import { TASK_COLUMN_SPEC, TASK_COLUMNS, TASK_FREE_TEXT, taskColumns } from '../../src/tasks/tasks.js';
import { parseDay } from '../../src/util/dates.js';
import { TextColumn } from '../../src/util/text-column.js';
import { cleanup, runCli } from '../helpers/world.js';

const pack = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'rules/default.yaml');
const ID = /^[A-Za-z0-9_-]{1,32}$/;

describe('task ids', () => {
  const out = mkdtempSync(join(tmpdir(), 'cw-task-ids-'));
  afterAll(() => cleanup(out));

  it('are unique across all task files of a run, and fit 32 characters of [A-Za-z0-9_-]', async () => {
    const r = await runCli('fixtures/golden/input', '2026-11-23', [], out);
    expect(r.code).toBe(0);
    const ids = ['high', 'mid', 'mass'].flatMap((t) => r.tasks[t]!.map((row) => row.task_id!));
    expect(r.tasks.mid!.length).toBeGreaterThan(0);
    expect(r.tasks.mass!.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(ID);
  });

  it('name each tier apart whatever the tier names, sharing initials, case or not fitting', () => {
    for (const tiers of [
      ['high', 'mid', 'mass'],
      ['mid', 'mass', 'm'],
      ['Mid', 'mid'],
      ['top tier', 'rest'],
      ['averylongtiername', 'b'],
      ['T2', 'x y', 'T1'],
    ]) {
      const tags = taskIdTags(tiers);
      expect(new Set(tags.map((t) => t.toUpperCase())).size).toBe(tiers.length);
      for (const tag of tags) expect(tag).toMatch(/^[A-Za-z0-9]{1,8}$/);
    }
  });

  it('stay within 32 characters past ten million tasks in a tier', () => {
    const rows = 12_000_000;
    const plan = { taskIdPrefix: `CW-20261123-${taskIdTags(['abcdefgh'])[0]}-`, rankWidth: String(rows).length, rank: null } as Parameters<
      typeof taskId
    >[0];
    expect(taskId(plan, rows - 1).length).toBeLessThanOrEqual(TASK_ID_MAX_LENGTH);
    expect(taskId(plan, rows - 1)).toMatch(ID);
  });
});

describe('planTasks', () => {
  const rules = pack.rules.filter((r) => r.enabled);
  // Two rules of different weight and deadline; subscriber 2 hits both, 0 only the lighter, 1 none.
  const [light, heavy] = [...rules].sort((a, b) => a.weight - b.weight).filter((_r, k, all) => k === 0 || k === all.length - 1);
  const ev: Evaluation = {
    rules: [light!, heavy!],
    ruleIds: [light!.id, heavy!.id],
    flags: [Uint8Array.of(1, 0, 1), Uint8Array.of(0, 0, 1)],
    excluded: new Uint8Array(3),
    value: new Float64Array(3),
  };
  const input = { pack, D: parseDay('2026-11-23'), evaluation: ev, msisdn: TextColumn.from(['13800000001', '13800000002', '13800000003']) };

  it('decides per set of hit rules: the heaviest rule acts, the most urgent deadline holds, codes in pack order', () => {
    const plan = planTasks(input, ['high', 'mid', 'mass'], 1, [2, 0], DEFAULT_TASK_PROFILE);
    expect(Array.from(plan.subscriber)).toEqual([2, 0]);
    const both = plan.hitSets[plan.hitSet[0]!]!,
      one = plan.hitSets[plan.hitSet[1]!]!;
    expect(both.codes).toBe(`${light!.id};${heavy!.id}`);
    expect(both.action).toBe(heavy!.action);
    expect(both.dueHours).toBe(Math.min(light!.dueHours, heavy!.dueHours));
    expect(one.codes).toBe(light!.id);
    expect(plan.assignee).toBe(pack.assignees.mid);
    expect(taskId(plan, 0)).toBe('CW-20261123-MID-000001');
    expect(plan.masking).toEqual({ phone: 'full', maskedPhoneColumn: false, name: 'full' });
  });

  it('stops on a subscriber without a rule hit, naming the rank', () => {
    expect(() => planTasks(input, ['high', 'mid', 'mass'], 2, [0, 1], DEFAULT_TASK_PROFILE)).toThrow(
      /without a rule hit reached the mass task file \(rank 2\)/,
    );
  });

  it('decides the masking from the profile', () => {
    const plan = planTasks(input, ['high'], 0, [2], { mask: true, dialerFullNumber: false });
    expect(plan.masking).toEqual({ phone: 'empty', maskedPhoneColumn: true, name: 'initial' });
  });
});

describe('the column table', () => {
  it('gives the header, with msisdn_masked after msisdn when masking', () => {
    expect(TASK_COLUMNS).toEqual(TASK_COLUMN_SPEC.map((c) => c.name).filter((c) => c !== 'msisdn_masked'));
    expect(taskColumns(DEFAULT_TASK_PROFILE)).toEqual(TASK_COLUMNS);
    const masked = taskColumns({ mask: true, dialerFullNumber: true });
    expect(masked[masked.indexOf('msisdn') + 1]).toBe('msisdn_masked');
    expect(TASK_FREE_TEXT.has('reason_text') && !TASK_FREE_TEXT.has('msisdn') && !TASK_FREE_TEXT.has('task_id')).toBe(true);
  });
});
