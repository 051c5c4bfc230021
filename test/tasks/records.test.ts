/**
 * Task records (tasks/records.ts): channels by tier and by rule, one file per channel,
 * task types from the pack, one task per subscriber with the most urgent deadline,
 * all reasons and the primary action first; the callable span, priority, E.164.
 * Issue 10: calls and SMS shared one file, so a dialer would have dialled SMS rows.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callableSpan, priorityOf, withSeconds } from '../../src/tasks/records.js';
import { parseDay } from '../../src/util/dates.js';
import { toE164, toNational } from '../../src/util/phone.js';
import { cleanup, World, type RunOutcome } from '../helpers/world.js';

type Rec = Record<string, string | number | null>;

function readJsonl(dir: string, file: string): Rec[] {
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Rec);
}

describe('channels and task types (jsonl profile)', () => {
  const w = new World();
  let r: RunOutcome;
  let dir: string;
  const files: Record<string, Rec[]> = {};

  beforeAll(async () => {
    // HD: high value, diamond, suspended for arrears → the manager's visit, no call.
    w.sub('HD', { member_level: 'diamond', status: 'suspended_arrears' }).bills('HD', ['100', '100', '100', '100']);
    // HM: high value with a lapsed contract (24 h, weight 0.45), two complaints (48 h) and a low balance (6 h).
    w.sub('HM', { prepaid_balance: '5' }).bills('HM', ['100', '100', '100', '100']).contract('HM', w.rel(-5), '0');
    w.ticket('HM', w.day(10), 'complaint').ticket('HM', w.day(20), 'complaint');
    // MS: mid value, only a low balance → an SMS, then a call.
    w.sub('MS', { prepaid_balance: '5' }).bills('MS', ['40', '40', '40', '40']);
    // MA: mass, suspended for arrears → an SMS and an outbound call.
    w.sub('MA', { status: 'suspended_arrears' }).bills('MA', ['10', '10', '10', '10']);
    // Calls on d1..d14, so that neither is silent.
    for (const id of ['HM', 'MS']) for (let k = 1; k <= 14; k++) w.usage(id, w.day(k), { calls: '3' });
    dir = w.write();
    const config = join(dir, 'run.yaml');
    writeFileSync(config, 'output:\n  profile: jsonl\n');
    r = await w.run(['--config', config], dir);
    for (const f of readdirSync(r.published).filter((f) => f.endsWith('.jsonl'))) files[f] = readJsonl(r.published, f);
  });
  afterAll(() => cleanup(dir));

  const ids = (f: string) => (files[f] ?? []).map((x) => x.subscriber_id);

  it('when the run publishes then every tier has a call, an SMS and a visit file, full and delta', () => {
    expect(r.code).toBe(0);
    expect(Object.keys(files).sort()).toEqual(
      ['high', 'mass', 'mid']
        .flatMap((t) => ['call', 'sms', 'visit'].flatMap((c) => ['', '-delta'].map((d) => `tasks-${t}-${c}${d}.jsonl`)))
        .sort(),
    );
  });

  it('when a call file is read then it holds no SMS row, and an SMS file no call row', () => {
    for (const [f, rows] of Object.entries(files)) {
      const channel = /-(call|sms|visit)(-delta)?\.jsonl$/.exec(f)![1];
      for (const row of rows) expect(row.channel).toBe(channel);
    }
  });

  it('when a high-value diamond member is flagged then the customer manager visits instead of calling', () => {
    expect(ids('tasks-high-visit.jsonl')).toEqual(['HD']);
    expect(ids('tasks-high-call.jsonl')).toEqual(['HM']);
    const visit = files['tasks-high-visit.jsonl']![0]!;
    expect(visit.queue).toBe('M1');
    expect(visit.manager_id).toBe('M1');
  });

  it('when a mid subscriber has only a low balance then an SMS goes out and a call follows', () => {
    expect(ids('tasks-mid-sms.jsonl')).toEqual(['MS']);
    expect(ids('tasks-mid-call.jsonl')).toEqual(['MS']);
    const [sms, call] = [files['tasks-mid-sms.jsonl']![0]!, files['tasks-mid-call.jsonl']![0]!];
    expect(sms.task_type).toBe('sms_then_call');
    expect(sms.task_id).toBe(call.task_id);
    expect(sms.attempt_limit).toBe(1);
    expect(call.attempt_limit).toBe(3);
    expect(call.due_at).toBe('2026-11-23T14:00:00+08:00');
  });

  it('when a mass subscriber is flagged then both an SMS and an outbound call go out', () => {
    expect(ids('tasks-mass-sms.jsonl')).toEqual(['MA']);
    expect(ids('tasks-mass-call.jsonl')).toEqual(['MA']);
    expect(files['tasks-mass-call.jsonl']![0]!.queue).toBe('call_centre');
  });

  it('when a subscriber has several reasons then one task has the most urgent deadline, every reason and the primary action first', () => {
    const hm = files['tasks-high-call.jsonl']![0]!;
    expect(hm.reason_codes).toBe('complaints_repeat;contract_lapsed;low_balance');
    expect(hm.task_type).toBe('renewal_offer');
    expect(hm.due_at).toBe('2026-11-23T14:00:00+08:00');
    expect(hm.priority).toBe(1);
    expect(String(hm.reason_text).split('; ')).toHaveLength(3);
    const actions = String(hm.actions);
    expect(actions.startsWith('Follow up daily; renew the promotion')).toBe(true);
    expect(actions.indexOf('Apology call')).toBeGreaterThan(0);
    expect(actions.indexOf('SMS a top-up reminder')).toBeGreaterThan(actions.indexOf('Apology call'));
    expect(hm.msisdn_e164).toBe(`+86${hm.msisdn}`);
    expect(hm.campaign).toBe('churnwatch-renewal_offer');
  });

  it('when the plain task files are compared then the tasks are the same subscribers, once each', () => {
    const jsonlTasks = new Set(
      Object.values(files)
        .flat()
        .map((x) => x.task_id),
    );
    expect(jsonlTasks.size).toBe(Object.values(r.summary.tasks_per_tier as Record<string, number>).reduce((a, b) => a + b, 0));
  });
});

describe('callable span, priority, seconds and phone forms', () => {
  const D = parseDay('2026-11-23');
  const window = { from: '09:00', to: '21:00' };

  it('when the issue time is before the window then the span starts when the window opens', () => {
    expect(callableSpan(D, '08:00', 48, window, 'Asia/Shanghai')).toEqual(['2026-11-23T09:00:00+08:00', '2026-11-24T21:00:00+08:00']);
  });

  it('when the deadline falls inside the window then the span ends at the deadline', () => {
    expect(callableSpan(D, '08:00', 6, window, 'Asia/Shanghai')).toEqual(['2026-11-23T09:00:00+08:00', '2026-11-23T14:00:00+08:00']);
  });

  it('when the issue time is after the window then the span starts the next morning and never ends before it starts', () => {
    expect(callableSpan(D, '22:00', 1, window, 'Asia/Shanghai')).toEqual(['2026-11-24T09:00:00+08:00', '2026-11-24T21:00:00+08:00']);
  });

  it("when a zone has daylight saving then each end carries its own day's offset", () => {
    const march = parseDay('2026-03-07');
    expect(callableSpan(march, '08:00', 48, window, 'America/New_York')).toEqual([
      '2026-03-07T09:00:00-05:00',
      '2026-03-08T21:00:00-04:00',
    ]);
  });

  it('when deadlines are ranked then a sooner one has a lower priority number', () => {
    expect([6, 24, 48, 72, 10000].map(priorityOf)).toEqual([1, 2, 3, 4, 9]);
  });

  it('when a due time has minutes only then seconds are added before the offset', () => {
    expect(withSeconds('2026-11-25T08:00+08:00')).toBe('2026-11-25T08:00:00+08:00');
  });

  it.each([
    ['13812345678', '+8613812345678'],
    ['+8613812345678', '+8613812345678'],
    ['008613812345678', '+8613812345678'],
    ['8613812345678', '+8613812345678'],
    ['01062345678', '+861062345678'],
    ['12345', null],
    ['+1234567890123456', null],
  ])('when the phone is %s then its E.164 form is %s', (phone, e164) => {
    expect(toE164(phone, '86')).toBe(e164);
  });

  it("when an E.164 number is this country's then its national form drops the country code, else it stays", () => {
    expect(toNational('+8613812345678', '86')).toBe('13812345678');
    expect(toNational('+4915112345678', '86')).toBe('+4915112345678');
  });
});
