/**
 * Each default rule of the contract, flagged and not flagged just either side of
 * every boundary, through the real CLI on small extracts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, cleanup, type RunOutcome } from '../helpers/world.js';

let result: RunOutcome;
const w = new World('2026-11-23');

// arpu_drop_mom: amount(M1) >= 10 and amount(M0) <= 0.70 * amount(M1)   (bills are [M0, M1, ...])
w.sub('A_70_100', {}).bills('A_70_100', ['70.00', '100.00']);
w.sub('A_7001_100', {}).bills('A_7001_100', ['70.01', '100.00']);
w.sub('A_707_1010', {}).bills('A_707_1010', ['7.07', '10.10']);
w.sub('A_708_1010', {}).bills('A_708_1010', ['7.08', '10.10']);
w.sub('A_7_10', {}).bills('A_7_10', ['7.00', '10.00']);
w.sub('A_0_999', {}).bills('A_0_999', ['0.00', '9.99']);
w.sub('A_split', {}).bill('A_split', w.month(1), '60.00').bill('A_split', w.month(1), '40.00').bill('A_split', w.month(0), '70.00');
w.sub('A_noM0', {}).bill('A_noM0', w.month(1), '50.00');
w.sub('A_credit', {}).bills('A_credit', ['-5.00', '20.00']);
w.sub('A_closed', { status: 'closed' }).bills('A_closed', ['0.00', '100.00']);

// arpu_decline_3m: M3 >= 10 and M3 > M2 > M1 > M0 and M0 <= 0.80 * M3
w.sub('B_80_100', {}).bills('B_80_100', ['80.00', '90.00', '95.00', '100.00']);
w.sub('B_8001_100', {}).bills('B_8001_100', ['80.01', '90.00', '95.00', '100.00']);
w.sub('B_808_1010', {}).bills('B_808_1010', ['8.08', '9.00', '10.00', '10.10']);
w.sub('B_flat', {}).bills('B_flat', ['70.00', '90.00', '90.00', '100.00']);
w.sub('B_M3_999', {}).bills('B_M3_999', ['1.00', '2.00', '3.00', '9.99']);
w.sub('B_M3_10', {}).bills('B_M3_10', ['8.00', '9.00', '9.50', '10.00']);

// silence_3d: active, activity(d1..d3) = 0, activation_date (when given) <= d3
w.sub('C_none', {});
w.sub('C_d3_sms', {}).usage('C_d3_sms', w.day(3), { sms: '1' });
w.sub('C_d4_only', {}).usage('C_d4_only', w.day(4), { calls: '5' });
w.sub('C_act_d3', { activation_date: w.day(3) });
w.sub('C_act_d2', { activation_date: w.day(2) });
w.sub('C_hold', { status: 'suspended_hold' });
w.sub('C_zero_rows', {}).usage('C_zero_rows', w.day(1), {}).usage('C_zero_rows', w.day(2), {}).usage('C_zero_rows', w.day(3), {});
w.sub('C_data', {}).usage('C_data', w.day(2), { data_mb: '0.01' });
w.sub('C_on_D', {}).usage('C_on_D', w.day(0), { calls: '9' });
w.sub('C_closed', { status: 'closed' });

// complaints_repeat: in [D-90, D-1], >= 2 complaints or >= 3 faults
w.sub('E_2c_edges', {}).ticket('E_2c_edges', w.day(90), 'complaint').ticket('E_2c_edges', w.day(1), 'complaint');
w.sub('E_d91', {}).ticket('E_d91', w.day(91), 'complaint').ticket('E_d91', w.day(1), 'complaint');
w.sub('E_3f', {}).ticket('E_3f', w.day(10), 'fault').ticket('E_3f', w.day(20), 'fault').ticket('E_3f', w.day(30), 'fault');
w.sub('E_2f1i', {}).ticket('E_2f1i', w.day(10), 'fault').ticket('E_2f1i', w.day(20), 'fault').ticket('E_2f1i', w.day(30), 'inquiry');
w.sub('E_on_D', {}).ticket('E_on_D', w.day(0), 'complaint').ticket('E_on_D', w.day(1), 'complaint');
w.sub('E_datetime', {})
  .ticket('E_datetime', `${w.day(90)} 23:59:59`, 'complaint')
  .ticket('E_datetime', `${w.day(5).replaceAll('-', '')}`, 'complaint');

// contract_expiring: renewed false, end in [D, D+30]
w.sub('F_end_D', {}).contract('F_end_D', w.rel(0), '0');
w.sub('F_end_30', {}).contract('F_end_30', w.rel(30), 'false');
w.sub('F_end_31', {}).contract('F_end_31', w.rel(31), '0');
w.sub('F_renewed', {}).contract('F_renewed', w.rel(10), 'true');

// contract_lapsed: renewed false, end in [D-30, D-1], no same-kind contract ending on or after D
w.sub('G_end_m30', {}).contract('G_end_m30', w.rel(-30), '0');
w.sub('G_end_m31', {}).contract('G_end_m31', w.rel(-31), '0');
w.sub('G_replaced', {}).contract('G_replaced', w.rel(-1), '0').contract('G_replaced', w.rel(365), '1');
w.sub('G_other_kind', {}).contract('G_other_kind', w.rel(-5), '0').contract('G_other_kind', w.rel(100), '1', 'handset_lease');
w.sub('G_renewed', {}).contract('G_renewed', w.rel(-5), '1');

// status rules
w.sub('S_arrears', { status: 'suspended_arrears' });
w.sub('S_hold', { status: 'suspended_hold' });

// forwarding_3d
w.sub('H_fwd3', {});
for (const k of [1, 2, 3]) w.usage('H_fwd3', w.day(k), { calls: '1', forwarded_calls: '1' });
w.sub('H_gap', {})
  .usage('H_gap', w.day(1), { calls: '1', forwarded_calls: '2' })
  .usage('H_gap', w.day(3), { calls: '1', forwarded_calls: '2' });
w.sub('H_shifted', {});
for (const k of [2, 3, 4]) w.usage('H_shifted', w.day(k), { calls: '1', forwarded_calls: '1' });

// hotline_calls: hotline_calls(M0) >= 5
w.sub('I_5', {}).bill('I_5', w.month(0), '30.00', { hotline_calls: '5' });
w.sub('I_4', {}).bill('I_4', w.month(0), '30.00', { hotline_calls: '4' });
w.sub('I_split', {})
  .bill('I_split', w.month(0), '30.00', { hotline_calls: '3' })
  .bill('I_split', w.month(0), '0.00', { hotline_calls: '2' });
w.sub('I_M1', {}).bill('I_M1', w.month(1), '30.00', { hotline_calls: '9' });

// mou_drop: mou(M1) >= 60 and mou(M0) <= 0.50 * mou(M1)
w.sub('J_30_60', {}).bills('J_30_60', ['20.00', '20.00'], [{ mou: '30' }, { mou: '60' }]);
w.sub('J_3001_60', {}).bills('J_3001_60', ['20.00', '20.00'], [{ mou: '30.01' }, { mou: '60' }]);
w.sub('J_5999', {}).bills('J_5999', ['20.00', '20.00'], [{ mou: '0' }, { mou: '59.99' }]);
w.sub('J_half', {}).bills('J_half', ['20.00', '20.00'], [{ mou: '50.25' }, { mou: '100.5' }]);

// low_balance: active, given and < 10
w.sub('K_999', { prepaid_balance: '9.99' });
w.sub('K_10', { prepaid_balance: '10.00' });
w.sub('K_empty', { prepaid_balance: '' });
w.sub('K_arrears', { prepaid_balance: '0', status: 'suspended_arrears' });
w.sub('K_negative', { prepaid_balance: '-1.00' });

// Give everyone not about silence some usage, so silence_3d does not muddy the other checks.
const quiet = new Set(w.rows.subscribers.map((s) => s.subscriber_id).filter((id) => id.startsWith('C_') || id.startsWith('H_')));
for (const s of w.rows.subscribers) {
  if (!quiet.has(s.subscriber_id!) && s.subscriber_id !== 'FILLER')
    for (const k of [1, 2, 3]) w.usage(s.subscriber_id!, w.day(k), { calls: '1' });
}

beforeAll(async () => {
  result = await w.run();
});
afterAll(() => cleanup(result.dir));

function flag(id: string, rule: string): string {
  const row = result.scores.get(id);
  if (!row) throw new Error(`no scores row for ${id}`);
  return row[rule]!;
}

describe('the default rule pack on boundary cases', () => {
  it('when the run succeeds then it publishes scores for every subscriber', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.scores.size).toBe(w.rows.subscribers.length);
  });

  it.each([
    ['A_70_100', '1'],
    ['A_7001_100', '0'],
    ['A_707_1010', '1'],
    ['A_708_1010', '0'],
    ['A_7_10', '1'],
    ['A_0_999', '0'],
    ['A_split', '1'],
    ['A_noM0', '1'],
    ['A_credit', '1'],
    ['A_closed', '0'],
  ])('arpu_drop_mom: %s → %s', (id, want) => expect(flag(id, 'arpu_drop_mom')).toBe(want));

  it.each([
    ['B_80_100', '1'],
    ['B_8001_100', '0'],
    ['B_808_1010', '1'],
    ['B_flat', '0'],
    ['B_M3_999', '0'],
    ['B_M3_10', '1'],
  ])('arpu_decline_3m: %s → %s', (id, want) => expect(flag(id, 'arpu_decline_3m')).toBe(want));

  it.each([
    ['C_none', '1'],
    ['C_d3_sms', '0'],
    ['C_d4_only', '1'],
    ['C_act_d3', '1'],
    ['C_act_d2', '0'],
    ['C_hold', '0'],
    ['C_zero_rows', '1'],
    ['C_data', '0'],
    ['C_on_D', '1'],
    ['C_closed', '0'],
    ['A_70_100', '0'],
  ])('silence_3d: %s → %s', (id, want) => expect(flag(id, 'silence_3d')).toBe(want));

  it.each([
    ['E_2c_edges', '1'],
    ['E_d91', '0'],
    ['E_3f', '1'],
    ['E_2f1i', '0'],
    ['E_on_D', '0'],
    ['E_datetime', '1'],
  ])('complaints_repeat: %s → %s', (id, want) => expect(flag(id, 'complaints_repeat')).toBe(want));

  it.each([
    ['F_end_D', '1'],
    ['F_end_30', '1'],
    ['F_end_31', '0'],
    ['F_renewed', '0'],
    ['G_end_m30', '0'],
  ])('contract_expiring: %s → %s', (id, want) => expect(flag(id, 'contract_expiring')).toBe(want));

  it.each([
    ['G_end_m30', '1'],
    ['G_end_m31', '0'],
    ['G_replaced', '0'],
    ['G_other_kind', '1'],
    ['G_renewed', '0'],
    ['F_end_D', '0'],
  ])('contract_lapsed: %s → %s', (id, want) => expect(flag(id, 'contract_lapsed')).toBe(want));

  it('status rules flag exactly their status, and closed subscribers never', () => {
    expect(flag('S_arrears', 'arrears_suspended')).toBe('1');
    expect(flag('S_arrears', 'number_hold')).toBe('0');
    expect(flag('S_hold', 'number_hold')).toBe('1');
    expect(flag('S_hold', 'arrears_suspended')).toBe('0');
    for (const id of ['A_closed', 'C_closed']) {
      const row = result.scores.get(id)!;
      for (const rule of Object.keys(result.summary.hits_per_rule)) expect(row[rule], `${id} ${rule}`).toBe('0');
    }
  });

  it.each([
    ['H_fwd3', '1'],
    ['H_gap', '0'],
    ['H_shifted', '0'],
  ])('forwarding_3d: %s → %s', (id, want) => expect(flag(id, 'forwarding_3d')).toBe(want));
  it.each([
    ['I_5', '1'],
    ['I_4', '0'],
    ['I_split', '1'],
    ['I_M1', '0'],
  ])('hotline_calls: %s → %s', (id, want) => expect(flag(id, 'hotline_calls')).toBe(want));
  it.each([
    ['J_30_60', '1'],
    ['J_3001_60', '0'],
    ['J_5999', '0'],
    ['J_half', '1'],
  ])('mou_drop: %s → %s', (id, want) => expect(flag(id, 'mou_drop')).toBe(want));
  it.each([
    ['K_999', '1'],
    ['K_10', '0'],
    ['K_empty', '0'],
    ['K_arrears', '0'],
    ['K_negative', '1'],
  ])('low_balance: %s → %s', (id, want) => expect(flag(id, 'low_balance')).toBe(want));

  it('when rules hit then the task row carries the evidence in the reason text', () => {
    const all = [...result.tasks.high!, ...result.tasks.mid!, ...result.tasks.mass!];
    const a = all.find((t) => t.subscriber_id === 'A_707_1010')!;
    expect(a.reason_codes).toBe('arpu_drop_mom');
    expect(a.reason_text).toBe('bill 7.07 after 10.10 (−30%)');
    expect(a.channel).toBe('call');
    expect(a.due_at).toBe('2026-11-25T09:00+08:00'); // 48 h after the 08:00 issue time, moved into the 09:00-21:00 callable window
    const k = all.find((t) => t.subscriber_id === 'K_999')!;
    // Low balance goes out as an SMS first: a row in the tier's SMS file (and one in its call file).
    expect(readFileSync(join(result.published, `tasks-${k.tier}-sms.csv`), 'utf8')).toContain(k.task_id!);
    expect(k.due_at).toBe('2026-11-23T14:00+08:00');
  });

  it('when the summary is written then it names the months and days used', () => {
    expect(result.summary.months).toMatchObject({ run_month: '2026-11', M0: '2026-10', M1: '2026-09', M2: '2026-08', M3: '2026-07' });
    expect(result.summary.days).toMatchObject({ D: '2026-11-23', d1: '2026-11-22', d3: '2026-11-20' });
  });
});
