/**
 * Each earlier outcome leads to the right next task on the right date, as the
 * published task files show it (the unit tests of afterContact decide the type; this
 * checks what reaches the files): retained → follow-ups from 2 to 4 months with the
 * follow-up action; unreachable → a retry at another time of day, up to the attempt
 * limit; callback → a task due on the day asked for; churned → a win-back only, with
 * its action and deadline; declined → 30 days of cooldown.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRulePack } from '../../src/config/rulepack.js';
import { cleanup, runCli, tierTasks, World, type Row, type RunOutcome } from '../helpers/world.js';
import { packWithPolicy } from './pack-text.js';

const D = '2026-11-23';
const work = mkdtempSync(join(tmpdir(), 'cw-follow-ups-'));
afterAll(() => cleanup(work));
const rules = join(work, 'pack.yaml');
writeFileSync(rules, packWithPolicy('policy:\n  holdout: { share: 0 }\n'));
const policy = loadRulePack(rules).policy;

/** Subscriber → its contacts (day, outcome), every one flagged by a falling bill. */
const HISTORY: Record<string, [string, string][]> = {
  RET_EARLY: [['2026-10-01', 'retained']],
  RET_DUE: [['2026-09-20', 'retained']],
  RET_OVER: [['2026-07-01', 'retained']],
  UNR: [['2026-11-22', 'unreachable']],
  UNR_TODAY: [['2026-11-23', 'unreachable']],
  UNR_MAX: [
    ['2026-11-10', 'unreachable'],
    ['2026-11-15', 'unreachable'],
    ['2026-11-22', 'unreachable'],
  ],
  CB: [['2026-11-22', 'callback']],
  CB_TODAY: [['2026-11-23', 'callback']],
  CH_RECENT: [['2026-11-15', 'churned']],
  CH_OLD: [['2026-11-01', 'churned']],
  DEC_RECENT: [['2026-11-01', 'declined']],
  DEC_OLD: [['2026-10-20', 'declined']],
};

let r: RunOutcome;
let tasks: Map<string, Row>;
let suppressed: Map<string, string>;
/** The same night in the jsonl profile (the dialer records): subscriber → its call record. */
let records: Map<string, Record<string, unknown>>;

beforeAll(async () => {
  const w = new World(D);
  for (const id of Object.keys(HISTORY)) w.sub(id, {}).bills(id, ['10.00', '50.00', '50.00', '50.00']);
  const dir = w.write(mkdtempSync(join(work, 'in-')));
  const lines = Object.entries(HISTORY).flatMap(([id, cs]) => cs.map(([day, outcome]) => `${id},${day} 10:00,call,${outcome},`));
  writeFileSync(join(dir, 'contact_history.csv'), ['subscriber_id,contacted_at,channel,outcome,task_id', ...lines].join('\n') + '\n');
  r = await runCli(dir, D, ['--rules', rules], join(work, 'out'));
  tasks = new Map(['high', 'mid', 'mass'].flatMap((t) => tierTasks(r.published, t)).map((t) => [t.subscriber_id!, t]));
  const rows = parse(readFileSync(join(r.published, 'suppressed.csv')), { columns: true }) as Row[];
  suppressed = new Map(rows.map((s) => [s.subscriber_id!, s.code!]));
  const config = join(work, 'jsonl.yaml');
  writeFileSync(config, 'output:\n  profile: jsonl\n');
  const j = await runCli(dir, D, ['--rules', rules, '--config', config], join(work, 'out-jsonl'));
  expect([j.code, j.stderr]).toEqual([0, '']);
  records = new Map(
    ['high', 'mid', 'mass'].flatMap((t) =>
      readFileSync(join(j.published, `tasks-${t}-call.jsonl`), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .map((o) => [o.subscriber_id as string, o] as const),
    ),
  );
});

const task = (id: string) => {
  const t = tasks.get(id);
  expect(t, `${id} has a task`).toBeDefined();
  return t!;
};

describe('the next task after each outcome, as published', () => {
  it('runs, and every subscriber is either a task or suppressed', () => {
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(tasks.size + suppressed.size).toBe(Object.keys(HISTORY).length);
  });

  it('retained: nothing before two months, then a follow-up with the follow-up action, and after four months an ordinary retention task', () => {
    expect(suppressed.get('RET_EARLY')).toBe('retained_follow_up_later');
    expect([task('RET_DUE').step, task('RET_DUE').action]).toEqual(['follow_up', policy.retained.action]);
    expect(task('RET_OVER').step).toBe('retention');
    expect(task('RET_OVER').action).not.toBe(policy.retained.action);
  });

  it('unreachable: a retry the next day at the retry time (another time of day than the 08:00 issue), none past the attempt limit', () => {
    expect([task('UNR').step, task('UNR').due_at]).toEqual(['retry', `${D}T${policy.unreachable.retryTime}+08:00`]);
    expect(policy.unreachable.retryTime).not.toBe('08:00');
    expect(suppressed.get('UNR_MAX')).toBe('attempts_exhausted');
  });

  it('callback: a task due on the day asked for (by the end of its callable window), not days later', () => {
    expect([task('CB').step, task('CB').due_at]).toEqual(['callback', `${D}T21:00+08:00`]);
  });

  it('a contact dated D itself is not yet known to the run of D (the extracts end the day before): the next night acts on it', () => {
    expect([task('UNR_TODAY').step, task('CB_TODAY').step]).toEqual(['retention', 'retention']);
  });

  it('churned: cooldown first, then a win-back only, with its action, due win_back.due_hours later inside the callable window', () => {
    expect(suppressed.get('CH_RECENT')).toBe('cooldown');
    const t = task('CH_OLD');
    expect([t.step, t.action]).toEqual(['win_back', policy.winBack.action]);
    expect(policy.winBack.dueHours).toBe(72);
    expect(t.due_at).toBe('2026-11-26T09:00+08:00'); // 08:00 + 72 h, moved to the window's 09:00
  });

  it('in the dialer records too: a win-back or a follow-up has its own task type and only its own action, on the same task id and due time', () => {
    for (const [id, step, action] of [
      ['CH_OLD', 'win_back', policy.winBack.action],
      ['RET_DUE', 'follow_up', policy.retained.action],
    ] as const) {
      const o = records.get(id)!;
      expect([o.step, o.task_type, o.actions, o.task_id]).toEqual([step, step, action, task(id).task_id]);
      expect(String(o.due_at).slice(0, 16)).toBe(task(id).due_at!.slice(0, 16));
    }
    expect([records.get('CB')!.step, records.get('CB')!.due_at]).toEqual(['callback', `${D}T21:00:00+08:00`]);
  });

  it('declined: 30 days of cooldown, then an ordinary task again', () => {
    expect(suppressed.get('DEC_RECENT')).toBe('cooldown');
    expect(task('DEC_OLD').step).toBe('retention');
  });
});
